//! No operation of any service reaches another tenant: every operation of every committed
//! OpenAPI document is called with tenant B's credentials (its org admin's session JWT and
//! an org-admin API key, as Bearer and, on xAPI, as HTTP Basic) aimed at tenant A's ids.
//! None may fail with a 5xx, act on what its path names of A, tell B anything of A that B
//! did not send itself, or change what A sees of its own data.

use std::{fmt, fs, path::Path, time::Duration};

use mirai_testkit::{TestApp, wait_until};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";
const XAPI: &str = "/api/v1/lrs/xapi";
/// A feature flag every tenant has; A turns it on, B tries to turn it off.
const FLAG: &str = "ai.tutor";
/// A refusal: bad request, no or bad credential, forbidden, not found, invalid.
const REFUSALS: [u16; 5] = [400, 401, 403, 404, 422];

// Tenant A's data, distinctive enough that finding one in a response to B is a leak.
const ALPHA_NAME: &str = "Alpha Corp";
const ALPHA_SLUG: &str = "alpha-corp";
const ALPHA_ADMIN: &str = "admin@alpha.example";
const ALPHA_MEMBER: &str = "member@alpha.example";
const ALPHA_MEMBER_NAME: &str = "Alpha Member";
const ALPHA_INVITEE: &str = "invitee@alpha.example";
const ALPHA_UNIT: &str = "Alpha Research Unit";
const ALPHA_REPORTING_KEY: &str = "alpha reporting key";
const ALPHA_SETTINGS: &str = "alpha-settings-marker";
const ALPHA_SECRET_NAME: &str = "alpha-vendor-token";
const ALPHA_SECRET_VALUE: &str = "alpha-secret-value-do-not-leak";
const ALPHA_FORMER: &str = "former@alpha.example";
const ALPHA_ERASURE_REASON: &str = "alpha-erasure-reason-ticket-4711";
const ALPHA_LEARNER: &str = "learner@alpha.example";
const ALPHA_LEARNER_NAME: &str = "Alpha Learner";
const ALPHA_ACTIVITY: &str = "https://alpha.example/courses/onboarding";
const ALPHA_ACTIVITY_NAME: &str = "Alpha Onboarding Course";
const ALPHA_STATE_ID: &str = "alpha-bookmark";
const ALPHA_STATE: &str = "alpha-state-content-page-7";
const ALPHA_ACTIVITY_PROFILE_ID: &str = "alpha-course-profile";
const ALPHA_ACTIVITY_PROFILE: &str = "alpha-activity-profile-content";
const ALPHA_AGENT_PROFILE_ID: &str = "alpha-learner-profile";
const ALPHA_AGENT_PROFILE: &str = "alpha-agent-profile-content";

const BETA_NAME: &str = "Beta Corp";
const BETA_SLUG: &str = "beta-corp";
const BETA_ADMIN: &str = "admin@beta.example";
const BETA_LEARNER: &str = "learner@beta.example";

/// Documented operations the walk does not call, each with why no tenant's data is
/// reachable through it. An entry that matches no documented operation fails the test.
const NOT_WALKED: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/api/v1/identity/.well-known/openid-configuration",
        "public provider metadata: no credential, no tenant, no input",
    ),
    ("GET", "/api/v1/identity/jwks.json", "public signing keys: no credential, no tenant, no input"),
    (
        "POST",
        "/api/v1/identity/token",
        "an OAuth grant: the refresh token or key secret it presents carries its tenant; the request names none",
    ),
    (
        "POST",
        "/api/v1/identity/logout",
        "takes only a refresh token, a secret of the caller's own session: no tenant or id to swap",
    ),
    ("GET", "/api/v1/lrs/xapi/about", "public: the xAPI versions spoken; no credential, no tenant"),
];

/// Operations B must be refused whatever it sends: any 2xx fails the test.
const MUST_REFUSE: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/identity/login", "B's admin asks for a session in A's tenant"),
    ("POST", "/api/v1/identity/signing-keys/rotate", "it is for platform admins only"),
    ("POST", "/api/v1/tenant/tenants", "it is for platform admins only"),
    ("POST", "/api/v1/tenant/invitations/accept", "the invitation is A's, sent to someone else"),
    ("POST", "/api/v1/lrs/admin/tenants/{tenant_id}/statements/{statement_id}/purge", "it is for platform admins only"),
];

/// Operations B must be able to perform although their request names A's ids: B has no
/// such resource, so a refusal would tell B that A's exists.
const MUST_SUCCEED: &[(&str, &str, &str)] = &[
    ("PUT", "/api/v1/lrs/xapi/statements", "a statement under A's statement id is new in B's LRS"),
    ("POST", "/api/v1/lrs/xapi/statements", "voiding A's statement id voids nothing in B's LRS"),
];

#[tokio::test]
async fn no_operation_of_any_service_reaches_another_tenant() {
    let app = crate::spawn_fleet().await;
    let alpha = seed_alpha(&app).await;
    let beta = create_tenant(&app, BETA_NAME, BETA_SLUG, BETA_ADMIN).await;
    assert_credentials_work(&app, &alpha.tenant, "A").await;
    assert_credentials_work(&app, &beta, "B").await;

    // What A sees of its own data; A's reads really show it (else comparing proves nothing).
    let before = alpha_view(&app, &alpha).await;
    for (label, status, body) in &before {
        assert_eq!(*status, 200, "A reads its own {label}: {body}");
    }
    for (label, marker) in [
        ("member", ALPHA_MEMBER),
        ("settings", ALPHA_SETTINGS),
        ("secret value", ALPHA_SECRET_VALUE),
        ("data-subject requests", ALPHA_ERASURE_REASON),
        ("voided statement", ALPHA_LEARNER_NAME),
        ("state document", ALPHA_STATE),
        ("activity profile", ALPHA_ACTIVITY_PROFILE),
        ("agent profile", ALPHA_AGENT_PROFILE),
        ("activity", ALPHA_ACTIVITY_NAME),
        ("person", ALPHA_LEARNER_NAME),
    ] {
        let seen = read(&before, label).to_string();
        assert!(seen.contains(marker), "A's {label} shows {marker}: {seen}");
    }

    let operations = operations();
    assert!(operations.len() >= 40, "read every service's OpenAPI document: only {} operations", operations.len());
    let plan = Plan { alpha: &alpha, beta: &beta };
    let mut walk = Walk {
        app: &app,
        alpha: &alpha,
        beta: &beta,
        needles: needles(&alpha),
        known: String::new(),
        baseline: before,
        violations: vec![],
    };
    for (method, path, _) in NOT_WALKED {
        if !operations.iter().any(|op| op.is(method, path)) {
            walk.violations
                .push(format!("{method} {path} is allow-listed but documented nowhere: drop it from NOT_WALKED"));
        }
    }
    for op in &operations {
        if NOT_WALKED.iter().any(|(m, p, _)| op.is(m, p)) {
            continue;
        }
        match plan.calls(op) {
            Ok(calls) => walk.operation(op, &calls).await,
            Err(why) => {
                walk.violations.push(format!("{} {} is neither walked nor allow-listed: {why}", op.method, op.template))
            }
        }
    }

    // B's credentials still work: the walk was not refused wholesale.
    assert_credentials_work(&app, &beta, "B after the walk").await;
    // B's own erasure requests (naming A's learner) ran, in B only.
    let b_requests = format!("/api/v1/tenant/tenants/{}/data-subject-requests", beta.id);
    wait_until("B's erasure requests complete", Duration::from_secs(30), || async {
        let (s, page) = app.get(&b_requests, &beta.jwt).await;
        s == 200 && page["data"].as_array().is_some_and(|d| d.iter().all(|r| r["status"] == "completed"))
    })
    .await;
    let after = alpha_view(&app, &alpha).await;
    for change in changes(&walk.baseline, &after) {
        walk.violations.push(format!("once B's erasure requests completed, A's {change}"));
    }
    if let Some(problem) = invitation_still_open(&app, &alpha).await {
        walk.violations.push(problem);
    }

    let violations = std::mem::take(&mut walk.violations);
    drop(walk);
    app.stop().await;
    assert!(
        violations.is_empty(),
        "tenant B reached tenant A ({} findings):\n- {}",
        violations.len(),
        violations.join("\n- ")
    );
}

/// The credentials B (or A) calls with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    /// The org admin's session, from a password login.
    Jwt,
    /// The org admin's API key, `Authorization: Bearer mk_<id>_<secret>`.
    ApiKeyBearer,
    /// The same key as HTTP Basic (key id, secret), as xAPI clients send it.
    ApiKeyBasic,
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credential::Jwt => "session JWT",
            Credential::ApiKeyBearer => "API key as Bearer",
            Credential::ApiKeyBasic => "API key as HTTP Basic",
        })
    }
}

/// Which credentials an operation is called with.
fn credentials_for(template: &str) -> &'static [Credential] {
    if template.contains("/xapi/") {
        &[Credential::Jwt, Credential::ApiKeyBearer, Credential::ApiKeyBasic]
    } else {
        &[Credential::Jwt, Credential::ApiKeyBearer]
    }
}

/// What a call's path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aim {
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

/// A tenant with its org admin, logged in, and an org-admin API key holding every xAPI scope.
struct Tenant {
    id: Uuid,
    admin_id: Uuid,
    admin_membership_id: String,
    jwt: String,
    key_id: String,
    /// `mk_<id>_<secret>`, for `Authorization: Bearer`.
    key_bearer: String,
    /// The secret alone: the HTTP Basic password.
    key_password: String,
}

impl Tenant {
    fn authorize(&self, req: RequestBuilder, how: Credential) -> RequestBuilder {
        match how {
            Credential::Jwt => req.bearer_auth(&self.jwt),
            Credential::ApiKeyBearer => req.bearer_auth(&self.key_bearer),
            Credential::ApiKeyBasic => req.basic_auth(&self.key_id, Some(&self.key_password)),
        }
    }
}

/// Tenant A and one of everything it owns that an operation can name.
struct Alpha {
    tenant: Tenant,
    org_unit_id: Uuid,
    member_id: Uuid,
    member_membership_id: String,
    invitation_id: String,
    invitation_token: String,
    reporting_key_id: String,
    reporting_key_password: String,
    request_id: String,
    statement_id: String,
    voided_statement_id: String,
    voiding_statement_id: String,
}

/// Everything of A's that B must not learn, by what it is.
fn needles(a: &Alpha) -> Vec<(&'static str, String)> {
    let fixed = [
        ("tenant name", ALPHA_NAME),
        ("tenant slug", ALPHA_SLUG),
        ("admin's email", ALPHA_ADMIN),
        ("member's email", ALPHA_MEMBER),
        ("member's name", ALPHA_MEMBER_NAME),
        ("invitee's email", ALPHA_INVITEE),
        ("org unit name", ALPHA_UNIT),
        ("reporting API key name", ALPHA_REPORTING_KEY),
        ("settings", ALPHA_SETTINGS),
        ("secret name", ALPHA_SECRET_NAME),
        ("secret value", ALPHA_SECRET_VALUE),
        ("erased person's email", ALPHA_FORMER),
        ("erasure reason", ALPHA_ERASURE_REASON),
        ("learner's email", ALPHA_LEARNER),
        ("learner's name", ALPHA_LEARNER_NAME),
        ("activity id", ALPHA_ACTIVITY),
        ("activity name", ALPHA_ACTIVITY_NAME),
        ("state id", ALPHA_STATE_ID),
        ("state document", ALPHA_STATE),
        ("activity profile id", ALPHA_ACTIVITY_PROFILE_ID),
        ("activity profile", ALPHA_ACTIVITY_PROFILE),
        ("agent profile id", ALPHA_AGENT_PROFILE_ID),
        ("agent profile", ALPHA_AGENT_PROFILE),
    ];
    let t = &a.tenant;
    let mut out: Vec<(&'static str, String)> = fixed.iter().map(|(what, v)| (*what, (*v).to_owned())).collect();
    out.extend([
        ("tenant id", t.id.to_string()),
        ("admin's user id", t.admin_id.to_string()),
        ("admin's membership id", t.admin_membership_id.clone()),
        ("admin's API key id", t.key_id.clone()),
        ("admin's API key secret", t.key_password.clone()),
        ("member's user id", a.member_id.to_string()),
        ("member's membership id", a.member_membership_id.clone()),
        ("org unit id", a.org_unit_id.to_string()),
        ("invitation id", a.invitation_id.clone()),
        ("invitation token", a.invitation_token.clone()),
        ("reporting API key id", a.reporting_key_id.clone()),
        ("reporting API key secret", a.reporting_key_password.clone()),
        ("data-subject request id", a.request_id.clone()),
        ("statement id", a.statement_id.clone()),
        ("voided statement id", a.voided_statement_id.clone()),
        ("voiding statement id", a.voiding_statement_id.clone()),
    ]);
    out
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

/// Creates a tenant (as platform admin) with an org admin who logs in and makes an API key.
async fn create_tenant(app: &TestApp, name: &str, slug: &str, admin_email: &str) -> Tenant {
    let root = app.platform_admin();
    let (s, tenant) =
        app.post("/api/v1/tenant/tenants", Some(&root), json!({ "kind": "org", "name": name, "slug": slug })).await;
    assert_eq!(s, 201, "{tenant}");
    let id: Uuid = id_of(&tenant).parse().unwrap();
    let (s, admin) = app
        .post(
            "/api/v1/identity/users",
            Some(&root),
            json!({ "email": admin_email, "password": PASSWORD, "display_name": format!("{name} Admin") }),
        )
        .await;
    assert_eq!(s, 201, "{admin}");
    let admin_id: Uuid = id_of(&admin).parse().unwrap();
    let (s, membership) = app
        .post(
            &format!("/api/v1/tenant/tenants/{id}/memberships"),
            Some(&root),
            json!({ "user_id": admin_id, "roles": ["org_admin"] }),
        )
        .await;
    assert_eq!(s, 201, "{membership}");

    let login = json!({ "email": admin_email, "password": PASSWORD, "tenant_id": id });
    wait_until("identity learns the org admin's membership", Duration::from_secs(10), || async {
        let (s, b) = app.post("/api/v1/identity/login", None, login.clone()).await;
        s == 200 && b["roles"] == json!(["org_admin"])
    })
    .await;
    let (s, session) = app.post("/api/v1/identity/login", None, login).await;
    assert_eq!(s, 200, "{session}");
    let jwt = session["access_token"].as_str().unwrap().to_owned();

    let (s, key) = app
        .post(
            "/api/v1/identity/api-keys",
            Some(&jwt),
            json!({ "name": format!("{name} admin key"), "scopes": ["all"] }),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    let key_bearer = key["secret"].as_str().unwrap().to_owned();
    let probe = format!("/api/v1/tenant/tenants/{id}");
    wait_until("the fleet learns the org admin's API key", Duration::from_secs(10), || async {
        app.get(&probe, &key_bearer).await.0 == 200
    })
    .await;
    Tenant {
        id,
        admin_id,
        admin_membership_id: id_of(&membership),
        jwt,
        key_id: id_of(&key),
        key_password: key["basic_password"].as_str().unwrap().to_owned(),
        key_bearer,
    }
}

/// Tenant A with an org unit, a second member, an open invitation, a second API key,
/// settings, a flag, a secret, a completed erasure request, statements (one voided) and
/// one document of each xAPI kind.
async fn seed_alpha(app: &TestApp) -> Alpha {
    let tenant = create_tenant(app, ALPHA_NAME, ALPHA_SLUG, ALPHA_ADMIN).await;
    let base = format!("/api/v1/tenant/tenants/{}", tenant.id);

    let (s, unit) = app.post(&format!("{base}/org-units"), Some(&tenant.jwt), json!({ "name": ALPHA_UNIT })).await;
    assert_eq!(s, 201, "{unit}");
    let org_unit_id: Uuid = id_of(&unit).parse().unwrap();

    let (s, member) = app
        .post(
            "/api/v1/identity/users",
            Some(&tenant.jwt),
            json!({ "email": ALPHA_MEMBER, "password": PASSWORD, "display_name": ALPHA_MEMBER_NAME }),
        )
        .await;
    assert_eq!(s, 201, "{member}");
    let member_id: Uuid = id_of(&member).parse().unwrap();
    let (s, membership) = app
        .post(
            &format!("{base}/memberships"),
            Some(&tenant.jwt),
            json!({ "user_id": member_id, "roles": ["learner"], "org_unit_id": org_unit_id }),
        )
        .await;
    assert_eq!(s, 201, "{membership}");

    let (s, invitation) = app
        .post(
            &format!("{base}/invitations"),
            Some(&tenant.jwt),
            json!({ "email": ALPHA_INVITEE, "roles": ["learner"] }),
        )
        .await;
    assert_eq!(s, 201, "{invitation}");

    let (s, reporting_key) = app
        .post(
            "/api/v1/identity/api-keys",
            Some(&tenant.jwt),
            json!({ "name": ALPHA_REPORTING_KEY, "scopes": ["statements/read"] }),
        )
        .await;
    assert_eq!(s, 201, "{reporting_key}");

    for (path, body) in [
        (format!("{base}/settings"), json!({ "settings": { "branding": ALPHA_SETTINGS } })),
        (format!("{base}/feature-flags/{FLAG}"), json!({ "enabled": true })),
        (format!("{base}/secrets/{ALPHA_SECRET_NAME}"), json!({ "value": ALPHA_SECRET_VALUE })),
    ] {
        let (s, stored) = app.call(Method::PUT, &path, Some(&tenant.jwt), Some(body)).await;
        assert_eq!(s, 200, "PUT {path}: {stored}");
    }

    let (s, request) = app
        .post(
            &format!("{base}/data-subject-requests"),
            Some(&tenant.jwt),
            json!({ "kind": "erasure", "subject": { "emails": [ALPHA_FORMER] }, "reason": ALPHA_ERASURE_REASON }),
        )
        .await;
    assert_eq!(s, 202, "{request}");
    let request_id = id_of(&request);

    // The LRS: a completed and an attempted statement, the attempt voided, and documents.
    let learner =
        json!({ "objectType": "Agent", "mbox": format!("mailto:{ALPHA_LEARNER}"), "name": ALPHA_LEARNER_NAME });
    let course = json!({ "objectType": "Activity", "id": ALPHA_ACTIVITY,
        "definition": { "name": { "en-US": ALPHA_ACTIVITY_NAME } } });
    let completed = json!({ "actor": learner, "verb": verb("completed"), "object": course });
    let attempted = json!({ "actor": learner, "verb": verb("attempted"),
        "object": { "objectType": "Activity", "id": ALPHA_ACTIVITY } });
    let statements = format!("{XAPI}/statements");
    let stored = send(
        app,
        &tenant,
        Credential::ApiKeyBasic,
        Method::POST,
        &statements,
        &[],
        Some(&json!([completed, attempted])),
    )
    .await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    let ids: Vec<String> = serde_json::from_str(&stored.body).unwrap();
    let voiding =
        json!({ "actor": learner, "verb": verb("voided"), "object": { "objectType": "StatementRef", "id": ids[1] } });
    let stored = send(app, &tenant, Credential::ApiKeyBasic, Method::POST, &statements, &[], Some(&voiding)).await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    let voiding_ids: Vec<String> = serde_json::from_str(&stored.body).unwrap();
    put_document(app, &tenant, "activities/state", &state_params(), "text/plain", ALPHA_STATE).await;
    let activity_profile = json!({ "marker": ALPHA_ACTIVITY_PROFILE }).to_string();
    put_document(app, &tenant, "activities/profile", &activity_profile_params(), "application/json", &activity_profile)
        .await;
    let agent_profile = json!({ "marker": ALPHA_AGENT_PROFILE }).to_string();
    put_document(app, &tenant, "agents/profile", &agent_profile_params(), "application/json", &agent_profile).await;

    // Settle what moves by itself, so that A's view of its data only changes if B changes it.
    let request_path = format!("{base}/data-subject-requests/{request_id}");
    wait_until("A's erasure request completes", Duration::from_secs(20), || async {
        app.get(&request_path, &tenant.jwt).await.1["status"] == "completed"
    })
    .await;
    let member_path = format!("/api/v1/identity/users/{member_id}");
    wait_until("identity learns A's member's membership", Duration::from_secs(10), || async {
        app.get(&member_path, &tenant.jwt).await.0 == 200
    })
    .await;

    Alpha {
        org_unit_id,
        member_id,
        member_membership_id: id_of(&membership),
        invitation_id: id_of(&invitation),
        invitation_token: invitation["token"].as_str().unwrap().to_owned(),
        reporting_key_id: id_of(&reporting_key),
        reporting_key_password: reporting_key["basic_password"].as_str().unwrap().to_owned(),
        request_id,
        statement_id: ids[0].clone(),
        voided_statement_id: ids[1].clone(),
        voiding_statement_id: voiding_ids[0].clone(),
        tenant,
    }
}

fn verb(name: &str) -> Value {
    json!({ "id": format!("http://adlnet.gov/expapi/verbs/{name}"), "display": { "en-US": name } })
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A's learner as the xAPI `agent` parameter.
fn learner_agent() -> String {
    json!({ "mbox": format!("mailto:{ALPHA_LEARNER}") }).to_string()
}

fn state_params() -> Vec<(String, String)> {
    pairs(&[("activityId", ALPHA_ACTIVITY), ("agent", learner_agent().as_str()), ("stateId", ALPHA_STATE_ID)])
}

fn activity_profile_params() -> Vec<(String, String)> {
    pairs(&[("activityId", ALPHA_ACTIVITY), ("profileId", ALPHA_ACTIVITY_PROFILE_ID)])
}

fn agent_profile_params() -> Vec<(String, String)> {
    pairs(&[("agent", learner_agent().as_str()), ("profileId", ALPHA_AGENT_PROFILE_ID)])
}

async fn put_document(
    app: &TestApp,
    t: &Tenant,
    resource: &str,
    params: &[(String, String)],
    content_type: &str,
    content: &str,
) {
    let req = app
        .http
        .request(Method::PUT, app.url(&format!("{XAPI}/{resource}")))
        .query(params)
        .header("x-experience-api-version", "1.0.3")
        .header("content-type", content_type)
        .body(content.to_owned());
    let res = t.authorize(req, Credential::ApiKeyBasic).send().await.expect("request sent");
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    assert_eq!(status, 204, "A stores its {resource} document: {text}");
}

/// A response, kept as text: a leak is found by searching it.
struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| Value::String(self.body.clone()))
    }
}

async fn send(
    app: &TestApp,
    who: &Tenant,
    how: Credential,
    method: Method,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Reply {
    let mut req = app.http.request(method, app.url(path));
    if !query.is_empty() {
        req = req.query(query);
    }
    if path.contains("/xapi/") {
        req = req.header("x-experience-api-version", "1.0.3");
    }
    req = who.authorize(req, how);
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let headers: String =
        res.headers().iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or_default())).collect();
    let body = res.text().await.unwrap_or_default();
    Reply { status, headers, body }
}

/// Each of the tenant's credentials works on each service (else the walk proves nothing).
async fn assert_credentials_work(app: &TestApp, t: &Tenant, whose: &str) {
    let tenant_path = format!("/api/v1/tenant/tenants/{}", t.id);
    let statements = format!("{XAPI}/statements");
    let probes = [
        ("/api/v1/identity/api-keys", Credential::Jwt),
        ("/api/v1/identity/api-keys", Credential::ApiKeyBearer),
        (tenant_path.as_str(), Credential::Jwt),
        (tenant_path.as_str(), Credential::ApiKeyBearer),
        (statements.as_str(), Credential::Jwt),
        (statements.as_str(), Credential::ApiKeyBearer),
        (statements.as_str(), Credential::ApiKeyBasic),
    ];
    for (path, how) in probes {
        let res = send(app, t, how, Method::GET, path, &[], None).await;
        assert_eq!(res.status, 200, "{whose}: the {how} works on {path}: {}", res.body);
    }
}

/// What A sees of its own data: label, status, body (less what moves by itself).
type View = Vec<(&'static str, u16, Value)>;

/// A read of A's data: label, path, query.
type Read = (&'static str, String, Vec<(String, String)>);

/// Reads A's data with A's credentials (its JWT; on xAPI, its key).
async fn alpha_view(app: &TestApp, a: &Alpha) -> View {
    let base = format!("/api/v1/tenant/tenants/{}", a.tenant.id);
    let statements = format!("{XAPI}/statements");
    let agent = learner_agent();
    let reads: Vec<Read> = vec![
        ("tenant", base.clone(), vec![]),
        ("memberships", format!("{base}/memberships"), vec![]),
        ("org units", format!("{base}/org-units"), vec![]),
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
    ];
    let mut view = Vec::with_capacity(reads.len());
    for (label, path, query) in reads {
        let how = if path.contains("/xapi/") { Credential::ApiKeyBasic } else { Credential::Jwt };
        let res = send(app, &a.tenant, how, Method::GET, &path, &query, None).await;
        view.push((label, res.status, without_volatile(res.json())));
    }
    view
}

fn read<'v>(view: &'v View, label: &str) -> &'v Value {
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
fn changes(before: &View, after: &View) -> Vec<String> {
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

fn snippet(s: &str) -> String {
    const MAX: usize = 300;
    if s.chars().count() <= MAX { s.to_owned() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

/// A's invitation is still its invitee's to accept: B's attempts did not use it up.
async fn invitation_still_open(app: &TestApp, a: &Alpha) -> Option<String> {
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

/// One documented operation.
struct Operation {
    method: Method,
    template: String,
    operation_id: String,
    /// The query parameters it requires.
    required_query: Vec<String>,
    /// A minimal body built from its request schema, for operations `Plan::body` does not know.
    schema_body: Option<Value>,
}

impl Operation {
    fn is(&self, method: &str, template: &str) -> bool {
        self.method.as_str() == method && self.template == template
    }
}

/// Every operation of every service's committed OpenAPI document.
fn operations() -> Vec<Operation> {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
    let mut out = vec![];
    for service in mirai::services() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi").join(format!("{}.json", service.name));
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let paths = doc["paths"].as_object().unwrap_or_else(|| panic!("{} has no paths", file.display()));
        for (template, item) in paths {
            for (method, spec) in item.as_object().into_iter().flatten() {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let required_query = spec["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query" && p["required"] == true)
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect();
                let schema_body = spec["requestBody"]["content"]
                    .as_object()
                    .and_then(|c| c.get("application/json").or_else(|| c.values().next()))
                    .map(|media| minimal(&doc, &media["schema"]));
                out.push(Operation {
                    method: Method::from_bytes(method.to_uppercase().as_bytes()).expect("an HTTP method"),
                    template: template.clone(),
                    operation_id: spec["operationId"].as_str().unwrap_or_default().to_owned(),
                    required_query,
                    schema_body,
                });
            }
        }
    }
    out
}

/// A minimal instance of `schema`: its required properties, plausibly filled.
fn minimal(doc: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return minimal(doc, &doc["components"]["schemas"][name]);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = serde_json::Map::new();
        for part in parts {
            if let Value::Object(fields) = minimal(doc, part) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    if let Some(first) = schema["oneOf"].get(0).or_else(|| schema["anyOf"].get(0)) {
        return minimal(doc, first);
    }
    if let Some(first) = schema["enum"].get(0) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match kind {
        "object" => Value::Object(
            schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|name| (name.to_owned(), minimal(doc, &schema["properties"][name])))
                .collect(),
        ),
        "array" => json!([]),
        "string" => match schema["format"].as_str() {
            Some("uuid") => json!(Uuid::now_v7()),
            Some("date-time") => json!("2099-01-01T00:00:00Z"),
            _ => json!("cross-tenant-walk"),
        },
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        _ => Value::Null,
    }
}

/// The `{name}`s of a path template.
fn placeholders(template: &str) -> Vec<&str> {
    template.split('{').skip(1).filter_map(|s| s.split_once('}')).map(|(name, _)| name).collect()
}

/// One request of the walk (sent once per credential).
struct Call {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    aim: Aim,
    /// Why B must be refused, when it must.
    must_refuse: Option<&'static str>,
    /// Why B must succeed, when it must.
    must_succeed: Option<&'static str>,
}

impl Call {
    fn target(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}?{}", self.path, query.join("&"))
    }

    /// What B tells the server: anything of A's in it is not news to B.
    fn sent(&self) -> String {
        format!("{}\n{}\n", self.target(), self.body.as_ref().map(|b| b.to_string()).unwrap_or_default())
    }
}

/// Turns documented operations into calls aimed at A's ids.
struct Plan<'a> {
    alpha: &'a Alpha,
    beta: &'a Tenant,
}

impl Plan<'_> {
    fn calls(&self, op: &Operation) -> Result<Vec<Call>, String> {
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
            let must_refuse = if aim == Aim::Theirs { Some("its path names A's resource") } else { listed };
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
            "request_id" => a.request_id.clone(),
            "statement_id" => a.statement_id.clone(),
            "name" if template.contains("/secrets/") => ALPHA_SECRET_NAME.to_owned(),
            "key" if template.contains("/feature-flags/") => FLAG.to_owned(),
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
        let mut query = vec![];
        for name in &op.required_query {
            let value = match name.as_str() {
                "statementId" => a.statement_id.clone(),
                "activityId" => ALPHA_ACTIVITY.to_owned(),
                "agent" => agent.clone(),
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
            "create_invitation" => json!({ "email": "invitee@beta.example", "roles": ["org_admin"] }),
            "put_settings" => json!({ "settings": { "written_by": "beta" } }),
            "put_flag" => json!({ "enabled": false }),
            "put_secret" => json!({ "value": "written-by-beta" }),
            "create_request" => {
                json!({ "kind": "erasure", "subject": { "emails": [ALPHA_LEARNER] }, "reason": "cross-tenant walk" })
            }
            "purge_statement" => json!({ "reason": "cross-tenant walk" }),
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

/// The walk: B's calls, what B has sent so far, and what went wrong.
struct Walk<'a> {
    app: &'a TestApp,
    alpha: &'a Alpha,
    beta: &'a Tenant,
    needles: Vec<(&'static str, String)>,
    /// Everything B has sent: A's identifiers B named itself are no news to it.
    known: String,
    /// A's view of its data after the last write.
    baseline: View,
    violations: Vec<String>,
}

impl Walk<'_> {
    /// Makes every call with every credential; after a write, re-reads A's data.
    async fn operation(&mut self, op: &Operation, calls: &[Call]) {
        for call in calls {
            for &how in credentials_for(&op.template) {
                self.call(op, call, how).await;
            }
        }
        if op.method != Method::GET {
            let now = alpha_view(self.app, self.alpha).await;
            for change in changes(&self.baseline, &now) {
                self.violations.push(format!("{} {} (B's calls): A's {change}", op.method, op.template));
            }
            self.baseline = now;
        }
    }

    async fn call(&mut self, op: &Operation, call: &Call, how: Credential) {
        let res =
            send(self.app, self.beta, how, call.method.clone(), &call.path, &call.query, call.body.as_ref()).await;
        self.known.push_str(&call.sent());
        let mut wrong = vec![];
        if res.status >= 500 {
            wrong.push("a server error".to_owned());
        }
        if let Some(why) = call.must_refuse
            && !REFUSALS.contains(&res.status)
        {
            wrong.push(format!("not refused, although {why}"));
        }
        if let Some(why) = call.must_succeed
            && !(200u16..300).contains(&res.status)
        {
            wrong.push(format!("refused, although {why}"));
        }
        let revealed: Vec<&str> = self
            .needles
            .iter()
            .filter(|(_, value)| {
                (res.body.contains(value.as_str()) || res.headers.contains(value.as_str()))
                    && !self.known.contains(value.as_str())
            })
            .map(|(what, _)| *what)
            .collect();
        if !revealed.is_empty() {
            wrong.push(format!("reveals A's {}", revealed.join(", ")));
        }
        if !wrong.is_empty() {
            self.violations.push(format!(
                "{} {} with B's {how} ({}): {} {} → {}: {}; body: {}",
                op.method,
                op.template,
                call.aim,
                call.method,
                call.target(),
                res.status,
                wrong.join("; "),
                snippet(&res.body)
            ));
        }
    }
}
