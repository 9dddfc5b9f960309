//! What A sees of its own data, and whether B changed it.

use super::*;

/// What A sees of its own data: label, status, body (less what moves by itself).
pub(super) type View = Vec<(&'static str, u16, Value)>;

/// A read of A's data: label, path, query.
type Read = (&'static str, String, Vec<(String, String)>);

/// Reads A's data with A's credentials (its JWT; on xAPI, its key).
pub(super) async fn alpha_view(app: &TestApp, a: &Alpha) -> View {
    let base = format!("/api/v1/tenant/tenants/{}", a.tenant.id);
    let statements = format!("{XAPI}/statements");
    let agent = learner_agent();
    let member = a.member_id.to_string();
    let unit = a.org_unit_id.to_string();
    let reads: Vec<Read> = vec![
        ("tenant", base.clone(), vec![]),
        ("memberships", format!("{base}/memberships"), vec![]),
        ("org units", format!("{base}/org-units"), vec![]),
        ("groups", format!("{base}/groups"), vec![]),
        ("group members", format!("{base}/groups/{}/members", a.group_id), vec![]),
        ("settings", format!("{base}/settings"), vec![]),
        ("feature flags", format!("{base}/feature-flags"), vec![]),
        ("secrets", format!("{base}/secrets"), vec![]),
        ("secret value", format!("{base}/secrets/{ALPHA_SECRET_NAME}"), vec![]),
        ("data-subject requests", format!("{base}/data-subject-requests"), vec![]),
        ("API keys", "/api/v1/identity/api-keys".to_owned(), vec![]),
        ("reporting API key", format!("/api/v1/identity/api-keys/{}", a.reporting_key_id), vec![]),
        ("member", format!("/api/v1/identity/users/{}", a.member_id), vec![]),
        ("statement", statements.clone(), pairs(&[("statementId", a.statement_id.as_str())])),
        ("voided statement", statements.clone(), pairs(&[("voidedStatementId", a.voided_statement_id.as_str())])),
        ("learner's statements", statements.clone(), pairs(&[("agent", agent.as_str())])),
        ("state document", format!("{XAPI}/activities/state"), state_params()),
        (
            "state ids",
            format!("{XAPI}/activities/state"),
            pairs(&[("activityId", ALPHA_ACTIVITY), ("agent", agent.as_str())]),
        ),
        ("activity profile", format!("{XAPI}/activities/profile"), activity_profile_params()),
        ("agent profile", format!("{XAPI}/agents/profile"), agent_profile_params()),
        ("activity", format!("{XAPI}/activities"), pairs(&[("activityId", ALPHA_ACTIVITY)])),
        ("person", format!("{XAPI}/agents"), pairs(&[("agent", agent.as_str())])),
        ("course", format!("/api/v1/authoring/courses/{}", a.course_id), vec![]),
        ("course version", format!("/api/v1/authoring/courses/{}/versions/1", a.course_id), vec![]),
        ("course history", format!("/api/v1/authoring/courses/{}/history", a.course_id), vec![]),
        ("courses", "/api/v1/authoring/courses".to_owned(), vec![]),
        ("generation", format!("/api/v1/authoring/courses/{}/generations/{}", a.course_id, a.generation_id), vec![]),
        ("asset", format!("/api/v1/media/assets/{}", a.asset_id), vec![]),
        ("assets", "/api/v1/media/assets".to_owned(), vec![]),
        ("package", format!("/api/v1/content/packages/{}", a.package_id), vec![]),
        ("packages", "/api/v1/content/packages".to_owned(), vec![]),
        ("AI providers", "/api/v1/ai-gateway/providers".to_owned(), vec![]),
        ("AI routes", "/api/v1/ai-gateway/routes".to_owned(), vec![]),
        ("AI budgets", "/api/v1/ai-gateway/budgets".to_owned(), vec![]),
        ("AI policy", "/api/v1/ai-gateway/policy".to_owned(), vec![]),
        ("webhook endpoints", "/api/v1/notification/endpoints".to_owned(), vec![]),
        ("webhook endpoint", format!("/api/v1/notification/endpoints/{}", a.endpoint_id), vec![]),
        ("webhook secret", format!("/api/v1/notification/endpoints/{}/secret", a.endpoint_id), vec![]),
        (
            "webhook delivery",
            format!("/api/v1/notification/endpoints/{}/deliveries/{}", a.endpoint_id, a.delivery_id),
            vec![],
        ),
        ("webhook messages", "/api/v1/notification/messages".to_owned(), vec![]),
        ("inbox", "/api/v1/notification/inbox".to_owned(), vec![]),
        ("notification preferences", "/api/v1/notification/preferences".to_owned(), vec![]),
        ("marketplace listing", format!("/api/v1/marketplace/listings/{}", a.listing_id), vec![]),
        ("marketplace listings", "/api/v1/marketplace/listings".to_owned(), pairs(&[("mine", "true")])),
        ("marketplace orders", "/api/v1/marketplace/orders".to_owned(), vec![]),
        ("marketplace sales", "/api/v1/marketplace/orders".to_owned(), pairs(&[("sold", "true")])),
        ("marketplace order", format!("/api/v1/marketplace/orders/{}", a.order_id), vec![]),
        ("marketplace licenses", "/api/v1/marketplace/licenses".to_owned(), vec![]),
        ("marketplace license", format!("/api/v1/marketplace/licenses/{}", a.license_id), vec![]),
        ("billing payments", "/api/v1/billing/payments".to_owned(), vec![]),
        ("billing subscriptions", "/api/v1/billing/subscriptions".to_owned(), vec![]),
        ("billing payment", format!("/api/v1/billing/payments/{}", a.payment_id), vec![]),
        ("billing documents", "/api/v1/billing/documents".to_owned(), vec![]),
        ("billing receipt", format!("/api/v1/billing/documents/{}", a.document_id), vec![]),
        ("billing refunds", format!("/api/v1/billing/tenants/{}/refunds", a.tenant.id), vec![]),
        ("billing owed to A", "/api/v1/billing/ledger/owed".to_owned(), vec![]),
        ("enrollments", "/api/v1/enrollment/enrollments".to_owned(), vec![]),
        (
            "member's active enrollments",
            "/api/v1/enrollment/enrollments".to_owned(),
            pairs(&[("user_id", member.as_str()), ("active", "true")]),
        ),
        ("enrollment", format!("/api/v1/enrollment/enrollments/{}", a.enrollment_id), vec![]),
        ("admin's own enrollments", "/api/v1/enrollment/me/enrollments".to_owned(), vec![]),
        ("enrollment pools", "/api/v1/enrollment/pools".to_owned(), vec![]),
        ("assignments", "/api/v1/assignment/assignments".to_owned(), vec![]),
        ("assignment", format!("/api/v1/assignment/assignments/{}", a.assignment_id), vec![]),
        ("compliance report", "/api/v1/assignment/reports/compliance".to_owned(), vec![]),
        (
            "compliance report of A's unit",
            "/api/v1/assignment/reports/compliance".to_owned(),
            pairs(&[("org_unit_id", unit.as_str())]),
        ),
        ("admin's own assignments", "/api/v1/assignment/me/assignments".to_owned(), vec![]),
    ];
    let mut view = Vec::with_capacity(reads.len());
    for (label, path, query) in reads {
        let how = if path.contains("/xapi/") { Credential::ApiKeyBasic } else { Credential::Jwt };
        let res = send(app, &a.tenant, how, Method::GET, &path, &query, None).await;
        view.push((label, res.status, without_volatile(res.json())));
    }
    // The player shows a session to its learner only: read with A's member's token.
    let (status, body) = app.get(&format!("/api/v1/delivery/sessions/{}", a.session_id), &a.member_jwt).await;
    view.push(("member's play session", status.as_u16(), without_volatile(body)));
    view
}

pub(super) fn read<'v>(view: &'v View, label: &str) -> &'v Value {
    &view.iter().find(|(l, ..)| *l == label).unwrap_or_else(|| panic!("no {label} in A's view")).2
}

/// Drops what changes by itself: a key's `last_used_at` moves whenever A uses it, and a
/// problem's `trace_id` differs on every response.
fn without_volatile(mut v: Value) -> Value {
    match &mut v {
        Value::Object(fields) => {
            fields.remove("last_used_at");
            fields.remove("trace_id");
            for field in fields.values_mut() {
                *field = without_volatile(field.take());
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = without_volatile(item.take());
            }
        }
        _ => {}
    }
    v
}

/// What differs between two views of A's data.
pub(super) fn changes(before: &View, after: &View) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .filter(|(b, a)| b.1 != a.1 || b.2 != a.2)
        .map(|(b, a)| {
            format!(
                "{} changed: was {} {}, is {} {}",
                b.0,
                b.1,
                snippet(&b.2.to_string()),
                a.1,
                snippet(&a.2.to_string())
            )
        })
        .collect()
}

pub(super) fn snippet(s: &str) -> String {
    const MAX: usize = 300;
    if s.chars().count() <= MAX { s.to_owned() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

/// A's invitation is still its invitee's to accept: B's attempts did not use it up.
pub(super) async fn invitation_still_open(app: &TestApp, a: &Alpha) -> Option<String> {
    let root = app.platform_admin();
    let (s, user) =
        app.post("/api/v1/identity/users", Some(&root), json!({ "email": ALPHA_INVITEE, "password": PASSWORD })).await;
    assert_eq!(s, 201, "{user}");
    let (s, session) =
        app.post("/api/v1/identity/login", None, json!({ "email": ALPHA_INVITEE, "password": PASSWORD })).await;
    assert_eq!(s, 200, "{session}");
    let token = session["access_token"].as_str().unwrap();
    let (s, membership) =
        app.post("/api/v1/tenant/invitations/accept", Some(token), json!({ "token": a.invitation_token })).await;
    let joined = s == 200 && membership["tenant_id"] == a.tenant.id.to_string().as_str();
    (!joined).then(|| format!("A's invitee can no longer accept A's invitation: {s} {membership}"))
}
