//! Turning each documented operation into calls aimed at A's ids.

use super::*;

/// What a call's path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Aim {
    /// Every path parameter is tenant A or one of A's resources.
    Theirs,
    /// `{tenant_id}` is B's own tenant; the other path parameters are still A's ids.
    OwnTenant,
    /// No path parameters: A's ids travel in the query and the body.
    Unaddressed,
}

impl fmt::Display for Aim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Aim::Theirs => "A's ids in the path",
            Aim::OwnTenant => "B's own tenant with A's ids in the rest of the path",
            Aim::Unaddressed => "A's ids in the query and body",
        })
    }
}

/// One request of the walk (sent once per credential).
pub(super) struct Call {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Option<Value>,
    pub(super) aim: Aim,
    /// Why B must be refused, when it must.
    pub(super) must_refuse: Option<&'static str>,
    /// Why B must succeed, when it must.
    pub(super) must_succeed: Option<&'static str>,
}

impl Call {
    pub(super) fn target(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}?{}", self.path, query.join("&"))
    }

    /// What B tells the server: anything of A's in it is not news to B.
    pub(super) fn sent(&self) -> String {
        format!("{}\n{}\n", self.target(), self.body.as_ref().map(|b| b.to_string()).unwrap_or_default())
    }
}

/// Turns documented operations into calls aimed at A's ids.
pub(super) struct Plan<'a> {
    pub(super) alpha: &'a Alpha,
    pub(super) beta: &'a Tenant,
}

impl Plan<'_> {
    pub(super) fn calls(&self, op: &Operation) -> Result<Vec<Call>, String> {
        let params = placeholders(&op.template);
        let aims: &[Aim] = if params.contains(&"tenant_id") {
            &[Aim::Theirs, Aim::OwnTenant]
        } else if params.is_empty() {
            &[Aim::Unaddressed]
        } else {
            &[Aim::Theirs]
        };
        let queries = self.queries(op)?;
        let body = self.body(op);
        let listed = MUST_REFUSE.iter().find(|(m, p, _)| op.is(m, p)).map(|(_, _, why)| *why);
        let must_succeed = MUST_SUCCEED.iter().find(|(m, p, _)| op.is(m, p)).map(|(_, _, why)| *why);
        let mut calls = vec![];
        for &aim in aims {
            let mut path = op.template.clone();
            for param in &params {
                let value = self.path_value(&op.template, param, aim).ok_or_else(|| {
                    format!("no value for the path parameter `{param}`: add it to `Plan::path_value`")
                })?;
                path = path.replace(&format!("{{{param}}}"), &value);
            }
            let own_names = OWN_NAMES.iter().any(|(m, p)| op.is(m, p));
            let must_refuse = if own_names {
                None
            } else if aim == Aim::Theirs {
                Some("its path names A's resource")
            } else {
                listed
            };
            for query in &queries {
                calls.push(Call {
                    method: op.method.clone(),
                    path: path.clone(),
                    query: query.clone(),
                    body: body.clone(),
                    aim,
                    must_refuse,
                    must_succeed,
                });
            }
        }
        Ok(calls)
    }

    /// A path parameter's value: A's id of that kind (or B's own tenant).
    fn path_value(&self, template: &str, param: &str, aim: Aim) -> Option<String> {
        let a = self.alpha;
        let value = match param {
            "tenant_id" if aim == Aim::OwnTenant => self.beta.id.to_string(),
            "tenant_id" => a.tenant.id.to_string(),
            "id" if template.contains("/api-keys/") => a.reporting_key_id.clone(),
            "id" if template.contains("/users/") => a.member_id.to_string(),
            "user_id" => a.member_id.to_string(),
            "group_id" => a.group_id.to_string(),
            "request_id" => a.request_id.clone(),
            "statement_id" => a.statement_id.clone(),
            "course_id" => a.course_id.clone(),
            "block_id" => a.block_id.clone(),
            "asset_id" => a.asset_id.clone(),
            "package_id" => a.package_id.clone(),
            "generation_id" => a.generation_id.clone(),
            "endpoint_id" => a.endpoint_id.clone(),
            "delivery_id" => a.delivery_id.clone(),
            "item_id" if template.contains("/assessment/") => a.assessment_item_id.clone(),
            "item_id" => a.inbox_item_id.clone(),
            "quiz_id" => a.quiz_id.clone(),
            "attempt_id" => a.attempt_id.clone(),
            "listing_id" => a.listing_id.clone(),
            "order_id" => a.order_id.clone(),
            "license_id" => a.license_id.clone(),
            "payment_id" => a.payment_id.clone(),
            "document_id" => a.document_id.clone(),
            "enrollment_id" => a.enrollment_id.clone(),
            "assignment_id" => a.assignment_id.clone(),
            "session_id" => a.session_id.clone(),
            "lesson_id" => a.lesson_id.clone(),
            "device_id" => a.device_id.clone(),
            "bundle_id" => a.bundle_id.clone(),
            // Runs are the platform's, refused to any tenant before they are looked up; so
            // is releasing a held refund (A has none).
            "run_id" | "refund_id" => uuid::Uuid::now_v7().to_string(),
            // A's object, without the signature only A's URLs carry.
            "key" if template.contains("/blobs/") => a.asset_key.clone(),
            "version" => "1".to_owned(),
            "name" if template.contains("/secrets/") => ALPHA_SECRET_NAME.to_owned(),
            "key" if template.contains("/feature-flags/") => FLAG.to_owned(),
            "name" if template.contains("/providers/") => ALPHA_AI_PROVIDER.to_owned(),
            "feature" | "scope" => ALPHA_AI_FEATURE.to_owned(),
            "period" => "day".to_owned(),
            _ => return None,
        };
        Some(value)
    }

    /// The query strings to call an operation with, naming A's xAPI data.
    fn queries(&self, op: &Operation) -> Result<Vec<Vec<(String, String)>>, String> {
        let a = self.alpha;
        let agent = learner_agent();
        let get = op.method == Method::GET;
        let by_activity_and_agent = pairs(&[("activityId", ALPHA_ACTIVITY), ("agent", agent.as_str())]);
        match op.template.split_once("/xapi/").map(|(_, resource)| resource) {
            Some("statements") if get => {
                return Ok(vec![
                    pairs(&[("statementId", a.statement_id.as_str())]),
                    pairs(&[("voidedStatementId", a.voided_statement_id.as_str())]),
                    pairs(&[("agent", agent.as_str())]),
                    pairs(&[("activity", ALPHA_ACTIVITY), ("related_activities", "true")]),
                    vec![],
                ]);
            }
            Some("activities/state") => {
                return Ok(if get { vec![state_params(), by_activity_and_agent] } else { vec![state_params()] });
            }
            Some("activities/profile") => {
                let ids = pairs(&[("activityId", ALPHA_ACTIVITY)]);
                return Ok(if get { vec![activity_profile_params(), ids] } else { vec![activity_profile_params()] });
            }
            Some("agents/profile") => {
                let ids = pairs(&[("agent", agent.as_str())]);
                return Ok(if get { vec![agent_profile_params(), ids] } else { vec![agent_profile_params()] });
            }
            _ => {}
        }
        // Assignment's lists and its compliance report, filtered by A's ids (the report as
        // CSV too): their query is the only place A's assignment, member and unit can go.
        match op.template.as_str() {
            "/api/v1/assignment/reports/compliance" => {
                let (assignment, course) = (a.assignment_id.as_str(), a.licensed_course_id.as_str());
                let (member, unit) = (a.member_id.to_string(), a.org_unit_id.to_string());
                return Ok(vec![
                    pairs(&[("assignment_id", assignment)]),
                    pairs(&[("assignment_id", assignment), ("format", "csv")]),
                    pairs(&[("user_id", member.as_str())]),
                    pairs(&[("org_unit_id", unit.as_str())]),
                    pairs(&[("course_id", course)]),
                    vec![],
                ]);
            }
            "/api/v1/assignment/assignments" if get => {
                return Ok(vec![pairs(&[("course_id", a.licensed_course_id.as_str())]), vec![]]);
            }
            _ => {}
        }
        let mut query = vec![];
        for name in &op.required_query {
            let value = match name.as_str() {
                "statementId" => a.statement_id.clone(),
                "activityId" => ALPHA_ACTIVITY.to_owned(),
                "agent" => agent.clone(),
                // Searching for A's course by its own words: a hit would name A's course.
                "q" => ALPHA_COURSE_TEXT.to_owned(),
                other => {
                    return Err(format!(
                        "no value for the required query parameter `{other}`: add it to `Plan::queries`"
                    ));
                }
            };
            query.push((name.clone(), value));
        }
        Ok(vec![query])
    }

    /// A body that would succeed if B were allowed, referring to A's resources where it can.
    fn body(&self, op: &Operation) -> Option<Value> {
        let a = self.alpha;
        let beta_learner = json!({ "objectType": "Agent", "mbox": format!("mailto:{BETA_LEARNER}") });
        let body = match op.operation_id.as_str() {
            "login" => json!({ "email": BETA_ADMIN, "password": PASSWORD, "tenant_id": a.tenant.id }),
            "create_user" => {
                json!({ "email": "made-by-beta@beta.example", "password": PASSWORD, "display_name": "Made by Beta" })
            }
            "create_api_key" => json!({ "name": "beta walk key", "scopes": ["all"] }),
            "create_tenant" => json!({ "kind": "org", "name": "Made by Beta", "slug": "made-by-beta" }),
            "accept_invitation" => json!({ "token": a.invitation_token }),
            "grant_membership" => {
                json!({ "user_id": a.member_id, "roles": ["org_admin"], "org_unit_id": a.org_unit_id })
            }
            "create_org_unit" => json!({ "name": "Beta unit", "parent_id": a.org_unit_id }),
            "create_group" => json!({ "name": "Beta group" }),
            "create_invitation" => json!({ "email": "invitee@beta.example", "roles": ["org_admin"] }),
            "put_settings" => json!({ "settings": { "written_by": "beta" } }),
            "put_flag" => json!({ "enabled": false }),
            "put_secret" => json!({ "value": "written-by-beta" }),
            "create_request" => {
                json!({ "kind": "erasure", "subject": { "emails": [ALPHA_LEARNER] }, "reason": "cross-tenant walk" })
            }
            "purge_statement" => json!({ "reason": "cross-tenant walk" }),
            // Over A's course (put) or a course of B's own (create).
            "put_course" | "create_course" => json!({ "title": "Written by Beta", "locale": "en-US", "modules": [] }),
            // B's own provider, route and budget under A's names.
            "put_provider" => json!({ "kind": "openai", "base_url": "https://beta-llm.example/v1" }),
            "put_route" => json!({ "targets": [{ "provider": ALPHA_AI_PROVIDER, "model": "beta-model" }] }),
            "put_budget" => json!({ "max_tokens": 1000 }),
            // A rewrite of A's block, in A's course.
            "request_generation" => {
                json!({ "kind": "rewrite", "block_id": a.block_id, "instruction": "Written by Beta." })
            }
            "declare_upload" => json!({ "filename": "beta.png", "content_type": "image/png", "size": 10 }),
            // A webhook endpoint of B's own; changes, rotations and replays aimed at A's.
            "create_endpoint" => json!({ "url": "https://beta-hooks.example/in", "event_types": [] }),
            "update_endpoint" => json!({ "url": "https://beta-hooks.example/taken", "enabled": false }),
            "rotate_secret" => json!({ "grace_secs": 0 }),
            "replay" => json!({ "after": 0 }),
            // A listing of A's course as B's own; A's listing opened to every tenant; seats
            // of A's listing (offered to C only) bought by B; seats of A's order refunded.
            "create_listing" => json!({ "course_id": a.course_id, "version": 1, "pricing": "free" }),
            "update_listing" => json!({ "pricing": "free", "visibility": "public" }),
            "place_order" => json!({ "listing_id": a.listing_id, "seats": 1 }),
            "refund_order" => json!({ "seats": 1, "force": true }),
            "set_share" => json!({ "revenue_share_bps": 0 }),
            // A Stripe event that would settle A's payment, unsigned.
            "stripe_webhook" => json!({ "id": "evt_beta_walk", "object": "event", "type": "payment_intent.succeeded",
                "data": { "object": { "id": "pi_beta_walk", "object": "payment_intent", "status": "succeeded",
                    "metadata": { "mirai_tenant_id": a.tenant.id, "mirai_payment_id": a.payment_id } } } }),
            // A's member enrolled by B in the course of A's license (A's seats).
            "enroll" => json!({ "user_id": a.member_id, "course_id": a.licensed_course_id }),
            // The course of A's license assigned by B to A's member and A's org unit. B holds
            // no license for it: a 409 `no-license` (not one of REFUSALS, so not in
            // MUST_REFUSE) before anyone named is looked at.
            "create_assignment" => json!({ "course_id": a.licensed_course_id, "title": "Assigned by Beta",
                "users": [a.member_id], "org_units": [a.org_unit_id], "groups": [a.group_id], "due_days": 30 }),
            // A quiz of B's of A's item; A's attempt answered and reviewed by B.
            "create_quiz" => json!({ "course_id": a.course_id, "title": "Beta quiz",
                "pools": [{ "items": [a.assessment_item_id] }], "pass_mark": 0.5 }),
            "save_answers" => json!({ "answers": { a.assessment_item_id.clone(): true } }),
            "review_attempt" => json!({ "scores": {} }),
            // Under A's statement id.
            "put_statement" => json!({ "actor": beta_learner, "verb": verb("completed"),
                "object": { "objectType": "Activity", "id": ALPHA_ACTIVITY } }),
            // Voiding A's statement.
            "post_statements" => json!({ "actor": beta_learner, "verb": verb("voided"),
                "object": { "objectType": "StatementRef", "id": a.statement_id } }),
            "put_state"
            | "post_state"
            | "put_activity_profile"
            | "post_activity_profile"
            | "put_agent_profile"
            | "post_agent_profile" => json!({ "written_by": "beta" }),
            _ => return op.schema_body.clone(),
        };
        Some(body)
    }
}
