//! Tenants A and B: creating them, seeding A with one of everything, and what of A's
//! B must never learn.

use super::*;
use mirai_kit::Role;

/// Tenant A and one of everything it owns that an operation can name.
pub(super) struct Alpha {
    pub(super) tenant: Tenant,
    pub(super) org_unit_id: Uuid,
    /// A's group, with A's member in it.
    pub(super) group_id: Uuid,
    pub(super) member_id: Uuid,
    pub(super) member_membership_id: String,
    pub(super) invitation_id: String,
    pub(super) invitation_token: String,
    pub(super) reporting_key_id: String,
    pub(super) reporting_key_password: String,
    pub(super) request_id: String,
    pub(super) statement_id: String,
    pub(super) voided_statement_id: String,
    pub(super) voiding_statement_id: String,
    pub(super) course_id: String,
    pub(super) block_id: String,
    pub(super) asset_id: String,
    pub(super) asset_key: String,
    pub(super) package_id: String,
    pub(super) generation_id: String,
    pub(super) endpoint_id: String,
    pub(super) endpoint_secret: String,
    pub(super) delivery_id: String,
    pub(super) inbox_item_id: String,
    /// A's listing of its course (private, offered to tenant C only).
    pub(super) listing_id: String,
    /// A's order of C's listing: paid (a manual invoice), completed.
    pub(super) order_id: String,
    pub(super) license_id: String,
    pub(super) payment_id: String,
    /// The receipt billing issued A for that payment.
    pub(super) document_id: String,
    /// The course of A's license (C's), which A's member is enrolled in.
    pub(super) licensed_course_id: String,
    /// A's member's enrollment in it, holding a seat of A's license (its pool).
    pub(super) enrollment_id: String,
    /// A's assignment of that course to A's member, due in 30 days.
    pub(super) assignment_id: String,
    /// A's member's play session of that course (the player shows it to them only), the
    /// first lesson of it, and the member's token.
    pub(super) session_id: String,
    pub(super) lesson_id: String,
    pub(super) assessment_item_id: String,
    pub(super) quiz_id: String,
    pub(super) attempt_id: String,
    pub(super) member_jwt: String,
    /// The member's device for offline play, and a bundle of that session for it.
    pub(super) device_id: String,
    pub(super) bundle_id: String,
}

/// Everything of A's that B must not learn, by what it is.
pub(super) fn needles(a: &Alpha) -> Vec<(&'static str, String)> {
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
        ("course title", ALPHA_COURSE_TITLE),
        ("course text", ALPHA_COURSE_TEXT),
        ("AI provider URL", ALPHA_AI_URL),
        ("AI provider key", ALPHA_AI_KEY),
        ("AI model", ALPHA_AI_MODEL),
        ("AI blocked term", ALPHA_AI_TERM),
        ("webhook endpoint description", ALPHA_HOOK_DESCRIPTION),
        ("assignment title", ALPHA_ASSIGNMENT_TITLE),
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
        ("group name", ALPHA_GROUP.to_owned()),
        ("group id", a.group_id.to_string()),
        ("course id", a.course_id.clone()),
        ("block id", a.block_id.clone()),
        ("asset id", a.asset_id.clone()),
        ("package id", a.package_id.clone()),
        ("invitation id", a.invitation_id.clone()),
        ("invitation token", a.invitation_token.clone()),
        ("reporting API key id", a.reporting_key_id.clone()),
        ("reporting API key secret", a.reporting_key_password.clone()),
        ("data-subject request id", a.request_id.clone()),
        ("statement id", a.statement_id.clone()),
        ("voided statement id", a.voided_statement_id.clone()),
        ("voiding statement id", a.voiding_statement_id.clone()),
        ("webhook endpoint id", a.endpoint_id.clone()),
        ("webhook signing secret", a.endpoint_secret.clone()),
        ("webhook delivery id", a.delivery_id.clone()),
        ("inbox item id", a.inbox_item_id.clone()),
        ("marketplace listing id", a.listing_id.clone()),
        ("marketplace order id", a.order_id.clone()),
        ("license id", a.license_id.clone()),
        ("payment id", a.payment_id.clone()),
        ("receipt id", a.document_id.clone()),
        ("enrollment id", a.enrollment_id.clone()),
        ("assignment id", a.assignment_id.clone()),
        ("play session id", a.session_id.clone()),
        ("assessment item id", a.assessment_item_id.clone()),
        ("quiz id", a.quiz_id.clone()),
        ("quiz attempt id", a.attempt_id.clone()),
        ("offline device id", a.device_id.clone()),
        ("offline bundle id", a.bundle_id.clone()),
    ]);
    out
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

/// Creates a tenant (as platform admin) with an org admin who logs in and makes an API key.
pub(super) async fn create_tenant(app: &TestApp, name: &str, slug: &str, admin_email: &str) -> Tenant {
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
pub(super) async fn seed_alpha(app: &TestApp) -> Alpha {
    let tenant = create_tenant(app, ALPHA_NAME, ALPHA_SLUG, ALPHA_ADMIN).await;
    let base = format!("/api/v1/tenant/tenants/{}", tenant.id);

    let (s, unit) = app.post(&format!("{base}/org-units"), Some(&tenant.jwt), json!({ "name": ALPHA_UNIT })).await;
    assert_eq!(s, 201, "{unit}");
    let org_unit_id: Uuid = id_of(&unit).parse().unwrap();

    // Accounts are the platform admin's to create; org admins invite (see `signup`).
    let root = app.platform_admin();
    let (s, member) = app
        .post(
            "/api/v1/identity/users",
            Some(&root),
            json!({ "email": ALPHA_MEMBER, "password": PASSWORD, "display_name": ALPHA_MEMBER_NAME }),
        )
        .await;
    assert_eq!(s, 201, "{member}");
    let member_id: Uuid = id_of(&member).parse().unwrap();
    let (s, membership) = app
        .post(
            &format!("{base}/memberships"),
            Some(&root),
            json!({ "user_id": member_id, "roles": ["learner"], "org_unit_id": org_unit_id }),
        )
        .await;
    assert_eq!(s, 201, "{membership}");
    let (s, group) = app.post(&format!("{base}/groups"), Some(&tenant.jwt), json!({ "name": ALPHA_GROUP })).await;
    assert_eq!(s, 201, "{group}");
    let group_id: Uuid = id_of(&group).parse().unwrap();
    let (s, g) = app
        .call(reqwest::Method::PUT, &format!("{base}/groups/{group_id}/members/{member_id}"), Some(&tenant.jwt), None)
        .await;
    assert_eq!(s, 200, "{g}");

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

    // Authoring: a course with an AI block, reviewed, and published as version 1.
    let course = json!({ "title": ALPHA_COURSE_TITLE, "locale": "en-US", "visibility": "tenant", "modules": [
        { "title": "Alpha module", "lessons": [{ "title": "Alpha lesson", "blocks": [
            { "kind": "text", "content": { "markdown": ALPHA_COURSE_TEXT },
              "ai_provenance": { "model": "m", "prompt_id": "p", "prompt_version": "1", "prompt_hash": format!("sha256:{}", "0".repeat(64)),
                "generated_at": "2026-11-30T10:00:00Z", "request_id": "r" } }] }] }] });
    let (s, created) = app.post("/api/v1/authoring/courses", Some(&tenant.jwt), course).await;
    assert_eq!(s, 201, "{created}");
    let course_id = id_of(&created);
    let block_id = created["modules"][0]["lessons"][0]["blocks"][0]["id"].as_str().unwrap().to_owned();
    for (path, revision) in [(format!("blocks/{block_id}/review"), "\"1\""), ("publish".to_owned(), "\"2\"")] {
        let res = app
            .http
            .post(app.url(&format!("/api/v1/authoring/courses/{course_id}/{path}")))
            .bearer_auth(&tenant.jwt)
            .header("if-match", revision)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "A's course: {path}: {}", res.text().await.unwrap_or_default());
    }

    // Media: an image uploaded through its signed URL and completed.
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[7u8; 600]].concat();
    let (s, upload) = app
        .post(
            "/api/v1/media/uploads",
            Some(&tenant.jwt),
            json!({ "filename": "alpha-plan.png", "content_type": "image/png", "size": png.len() }),
        )
        .await;
    assert_eq!(s, 201, "{upload}");
    let asset_id = upload["asset"]["id"].as_str().unwrap().to_owned();
    let put = app.http.put(upload["upload"]["url"].as_str().unwrap()).header("content-type", "image/png").body(png);
    assert!(put.send().await.unwrap().status().is_success());
    let (s, ready) = app.post(&format!("/api/v1/media/assets/{asset_id}/complete"), Some(&tenant.jwt), json!({})).await;
    assert_eq!(s, 200, "{ready}");
    let asset_key = format!("tenants/{}/media/{asset_id}", tenant.id);

    // Content: a SCORM 1.2 package, imported as a new draft course.
    let manifest = r#"<manifest identifier="alpha"><metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
        <organizations default="o"><organization identifier="o"><title>Alpha package</title>
        <item identifier="i" identifierref="r"><title>Alpha SCO</title></item></organization></organizations>
        <resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="index.html" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"/></resources></manifest>"#;
    let zip = {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("imsmanifest.xml", o).unwrap();
        z.write_all(manifest.as_bytes()).unwrap();
        z.start_file("index.html", o).unwrap();
        z.write_all(b"<html>alpha</html>").unwrap();
        z.finish().unwrap().into_inner()
    };
    let res = app
        .http
        .post(app.url("/api/v1/content/packages"))
        .bearer_auth(&tenant.jwt)
        .header("content-type", "application/zip")
        .body(zip)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let package_id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    // AI-assisted authoring: A turns it on and asks for a rewrite of its block; with no
    // route for the feature the gateway refuses it, and the generation ends failed.
    let admin_flags = format!("{base}/feature-flags/ai.authoring");
    let (s, b) = app.call(Method::PUT, &admin_flags, Some(&tenant.jwt), Some(json!({ "enabled": true }))).await;
    assert_eq!(s, 200, "{b}");
    let generations = format!("/api/v1/authoring/courses/{course_id}/generations");
    let ask = json!({ "kind": "rewrite", "block_id": block_id, "instruction": "Simpler." });
    let generation = poll("authoring learns A's AI flag", Duration::from_secs(15), || async {
        let (s, g) = app.post(&generations, Some(&tenant.jwt), ask.clone()).await;
        (s == 202).then_some(g)
    })
    .await;
    let generation_id = id_of(&generation);

    // AI: a provider (its key sealed), a route, a budget and a policy of A's.
    for (path, body) in [
        (
            format!("/api/v1/ai-gateway/providers/{ALPHA_AI_PROVIDER}"),
            json!({ "kind": "openai", "base_url": ALPHA_AI_URL, "api_key": ALPHA_AI_KEY }),
        ),
        (
            format!("/api/v1/ai-gateway/routes/{ALPHA_AI_FEATURE}"),
            json!({ "targets": [{ "provider": ALPHA_AI_PROVIDER, "model": ALPHA_AI_MODEL }], "prompt": "course-outline@1.0.0" }),
        ),
        (format!("/api/v1/ai-gateway/budgets/{ALPHA_AI_FEATURE}/day"), json!({ "max_tokens": 50000 })),
        (
            "/api/v1/ai-gateway/policy".to_owned(),
            json!({ "blocked_categories": ["violence/graphic"], "blocked_terms": [ALPHA_AI_TERM], "redact_pii": true, "moderate_output": true }),
        ),
    ] {
        let (s, b) = app.call(Method::PUT, &path, Some(&tenant.jwt), Some(body)).await;
        assert_eq!(s, 200, "A's {path}: {b}");
    }

    // A webhook endpoint (a local receiver that takes everything) for org-unit events,
    // and the org unit's message replayed to it: one delivery, settled.
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/alpha-hook", receiver.local_addr().unwrap());
    let router =
        axum::Router::new().route("/alpha-hook", axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }));
    tokio::spawn(async move { axum::serve(receiver, router).await.unwrap() });
    let (s, endpoint) = app
        .post(
            "/api/v1/notification/endpoints",
            Some(&tenant.jwt),
            json!({ "url": hook_url, "description": ALPHA_HOOK_DESCRIPTION, "event_types": ["tenant.org_unit.created.v1"] }),
        )
        .await;
    assert_eq!(s, 201, "A's webhook endpoint: {endpoint}");
    let endpoint_id = id_of(&endpoint);
    let deliveries = format!("/api/v1/notification/endpoints/{endpoint_id}/deliveries");
    let delivery_id = poll("A's org unit reaches its webhook", Duration::from_secs(20), || async {
        let (s, _) = app
            .post(
                &format!("/api/v1/notification/endpoints/{endpoint_id}/replay"),
                Some(&tenant.jwt),
                json!({ "after": 0 }),
            )
            .await;
        assert_eq!(s, 202);
        let (_, page) = app.get(&deliveries, &tenant.jwt).await;
        page["data"].as_array().and_then(|d| d.first()).filter(|d| d["status"] == "succeeded").map(id_of)
    })
    .await;

    // A's admin's inbox: the notice of their own membership.
    let inbox_item_id = poll("A's admin has an inbox item", Duration::from_secs(20), || async {
        let (_, page) = app.get("/api/v1/notification/inbox", &tenant.jwt).await;
        page["data"].as_array().and_then(|d| d.first()).map(id_of)
    })
    .await;
    let (_, secret) = app.get(&format!("/api/v1/notification/endpoints/{endpoint_id}/secret"), &tenant.jwt).await;
    let endpoint_secret = secret["secret"].as_str().unwrap().to_owned();

    // Marketplace and billing. A third tenant, C, a provider: A lists its published course
    // privately to C (never to B), and buys seats of C's course, listed privately to A. The
    // fleet runs billing without Stripe (`manual`): A's invoice is marked paid by a platform
    // admin, and the order completes with a license.
    let gamma = Uuid::now_v7();
    let gamma_admin = app.token(Some(gamma), &[Role::ProviderAdmin]);
    let listing = json!({ "course_id": course_id, "version": 1, "pricing": "free", "visibility": "private", "visible_to": [gamma] });
    let listing_id = poll("marketplace learns A's published course", Duration::from_secs(20), || async {
        let (s, l) = app.post("/api/v1/marketplace/listings", Some(&tenant.jwt), listing.clone()).await;
        assert!(s == 201 || s == 404, "A's listing: {s} {l}");
        (s == 201).then(|| id_of(&l))
    })
    .await;
    let gamma_course = json!({ "title": "Gamma Safety Course", "locale": "en-US", "visibility": "tenant", "modules": [
        { "title": "Gamma module", "lessons": [{ "title": "Gamma lesson", "blocks": [
            { "kind": "text", "content": { "markdown": "Gamma's course." } }] }] }] });
    let (s, created) = app.post("/api/v1/authoring/courses", Some(&gamma_admin), gamma_course).await;
    assert_eq!(s, 201, "C's course: {created}");
    let gamma_course_id = id_of(&created);
    let res = app
        .http
        .post(app.url(&format!("/api/v1/authoring/courses/{gamma_course_id}/publish")))
        .bearer_auth(&gamma_admin)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "C's course: publish: {}", res.text().await.unwrap_or_default());
    let gamma_listing = json!({ "course_id": gamma_course_id, "version": 1, "pricing": "one_time",
        "prices": { "EUR": 4900 }, "visibility": "private", "visible_to": [tenant.id] });
    let gamma_listing_id = poll("marketplace learns C's published course", Duration::from_secs(20), || async {
        let (s, l) = app.post("/api/v1/marketplace/listings", Some(&gamma_admin), gamma_listing.clone()).await;
        assert!(s == 201 || s == 404, "C's listing: {s} {l}");
        (s == 201).then(|| id_of(&l))
    })
    .await;
    let (s, order) = app
        .post(
            "/api/v1/marketplace/orders",
            Some(&tenant.jwt),
            json!({ "listing_id": gamma_listing_id, "seats": 2, "currency": "EUR" }),
        )
        .await;
    assert_eq!(s, 201, "A's order: {order}");
    let order_id = id_of(&order);
    let payments = format!("/api/v1/billing/payments?order_id={order_id}");
    let payment_id = poll("billing invoices A's order", Duration::from_secs(20), || async {
        let (_, page) = app.get(&payments, &tenant.jwt).await;
        page["data"].as_array().and_then(|d| d.first()).filter(|p| p["status"] == "requires_action").map(id_of)
    })
    .await;
    let (s, paid) = app
        .call(
            Method::POST,
            &format!("/api/v1/billing/tenants/{}/payments/{payment_id}/mark-paid", tenant.id),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(s, 200, "A's invoice marked paid: {paid}");
    let order_path = format!("/api/v1/marketplace/orders/{order_id}");
    let license_id = poll("A's paid order completes with a license", Duration::from_secs(20), || async {
        let (_, o) = app.get(&order_path, &tenant.jwt).await;
        o["license_id"].as_str().filter(|_| o["status"] == "completed").map(str::to_owned)
    })
    .await;

    // Enrollment: A's org admin enrolls A's member (granted through tenant above) in the
    // course of A's license, taking one of its 2 seats. Enrollment learns the member from
    // tenant's events (422 until then) and the license, its pool, from marketplace's (409
    // `no-license` until then).
    let enroll = json!({ "user_id": member_id, "course_id": gamma_course_id });
    let enrollment_id = poll("enrollment learns A's member and license", Duration::from_secs(20), || async {
        let (s, e) = app.post("/api/v1/enrollment/enrollments", Some(&tenant.jwt), enroll.clone()).await;
        assert!(s == 201 || s == 409 || s == 422, "A's enrollment: {s} {e}");
        (s == 201).then(|| id_of(&e))
    })
    .await;

    // Delivery: A's member logs in and launches the course of A's license, once the player
    // has the enrollment (403 `not-enrolled` until then) and the version (409 until then).
    let login = json!({ "email": ALPHA_MEMBER, "password": PASSWORD, "tenant_id": tenant.id });
    let member_jwt = poll("identity learns A's member's membership", Duration::from_secs(10), || async {
        let (s, b) = app.post("/api/v1/identity/login", None, login.clone()).await;
        (s == 200 && b["roles"] == json!(["learner"])).then(|| b["access_token"].as_str().unwrap().to_owned())
    })
    .await;
    let launch = format!("/api/v1/delivery/courses/{gamma_course_id}/launch");
    let session = poll("the player learns A's member's enrollment", Duration::from_secs(20), || async {
        let (s, b) = app.post(&launch, Some(&member_jwt), json!({})).await;
        assert!(s == 201 || s == 403 || s == 409, "A's launch: {s} {b}");
        (s == 201).then_some(b)
    })
    .await;
    let session_id = id_of(&session);
    let lesson_id = session["outline"][0]["lessons"][0]["lesson_id"].as_str().expect("a lesson").to_owned();
    // ... and takes it offline on a device (X25519's base point is a valid public key).
    let device = json!({ "name": "Alpha tablet", "public_key": "CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
    let (s, device) = app.post("/api/v1/delivery/devices", Some(&member_jwt), device).await;
    assert_eq!(s, 201, "{device}");
    let device_id = id_of(&device);
    let (s, bundle) = app
        .post(
            &format!("/api/v1/delivery/sessions/{session_id}/bundles"),
            Some(&member_jwt),
            json!({ "device_id": device_id }),
        )
        .await;
    assert_eq!(s, 201, "{bundle}");
    let bundle_id = id_of(&bundle);

    // Assessment: an item and a quiz of A's own course (A's admin authors them), and an
    // attempt of A's member at a quiz of the course of A's license (C's quiz).
    let true_false = |stem: &str| json!({ "stem": stem, "body": { "kind": "true_false", "correct": true } });
    let (s, item) = app.post("/api/v1/assessment/items", Some(&tenant.jwt), true_false("Alpha's own question")).await;
    assert_eq!(s, 201, "A's item: {item}");
    let assessment_item_id = id_of(&item);
    let quiz = json!({ "course_id": course_id, "title": "Alpha quiz", "pools": [{ "items": [assessment_item_id] }],
        "pass_mark": 0.5 });
    let (s, quiz) = app.post("/api/v1/assessment/quizzes", Some(&tenant.jwt), quiz).await;
    assert_eq!(s, 201, "A's quiz: {quiz}");
    let quiz_id = id_of(&quiz);
    let (s, gamma_item) =
        app.post("/api/v1/assessment/items", Some(&gamma_admin), true_false("Gamma's question")).await;
    assert_eq!(s, 201, "C's item: {gamma_item}");
    let gamma_quiz = json!({ "course_id": gamma_course_id, "title": "Gamma quiz",
        "pools": [{ "items": [id_of(&gamma_item)] }], "pass_mark": 0.5 });
    let (s, gamma_quiz) = app.post("/api/v1/assessment/quizzes", Some(&gamma_admin), gamma_quiz).await;
    assert_eq!(s, 201, "C's quiz: {gamma_quiz}");
    let start = format!("/api/v1/assessment/quizzes/{}/attempts", id_of(&gamma_quiz));
    let attempt = poll("assessment learns A's member's enrollment", Duration::from_secs(20), || async {
        let (s, b) = app.post(&start, Some(&member_jwt), json!({})).await;
        assert!(s == 201 || s == 403 || s == 404, "A's attempt: {s} {b}");
        (s == 201).then_some(b)
    })
    .await;
    let attempt_id = id_of(&attempt);

    // Settle what moves by itself, so that A's view of its data only changes if B changes it.
    let generation_path = format!("{generations}/{generation_id}");
    wait_until("A's generation ends", Duration::from_secs(30), || async {
        app.get(&generation_path, &tenant.jwt).await.1["status"] == "failed"
    })
    .await;
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
    // Billing hears of A's license (it marks the payment provisioned: `updated_at` moves).
    let payment_path = format!("/api/v1/billing/payments/{payment_id}");
    wait_until("billing learns A's license", Duration::from_secs(20), || async {
        let (s, p) = app.get(&payment_path, &tenant.jwt).await;
        s == 200 && p["updated_at"] != paid["updated_at"]
    })
    .await;
    // Billing issued A's receipt for the payment.
    let document_id = poll("billing issues A's receipt", Duration::from_secs(20), || async {
        let (_, page) = app.get("/api/v1/billing/documents", &tenant.jwt).await;
        page["data"].get(0).map(id_of)
    })
    .await;
    // Marketplace hears of the seat A's enrollment took (the license's `seats_in_use`).
    let license_path = format!("/api/v1/marketplace/licenses/{license_id}");
    wait_until("marketplace learns A's seat in use", Duration::from_secs(20), || async {
        let (s, l) = app.get(&license_path, &tenant.jwt).await;
        s == 200 && l["seats_in_use"] == 1
    })
    .await;
    // Assignment: A's org admin assigns the course of A's license to A's member, due in 30
    // days (reminders and the due date are weeks away: no job moves it during the walk).
    // Assignment learns the license from marketplace's events (409 `no-license` until
    // then) and the member from tenant's (422 until then). The member holds a seat already:
    // the line shows it (at once, or when assignment reads the enrollment) before the walk.
    let assign = json!({ "course_id": gamma_course_id, "title": ALPHA_ASSIGNMENT_TITLE, "users": [member_id],
        "due_days": 30 });
    let assignment_id = poll("assignment learns A's license and member", Duration::from_secs(20), || async {
        let (s, e) = app.post("/api/v1/assignment/assignments", Some(&tenant.jwt), assign.clone()).await;
        assert!(s == 201 || s == 409 || s == 422, "A's assignment: {s} {e}");
        (s == 201).then(|| id_of(&e))
    })
    .await;
    let line = format!("/api/v1/assignment/reports/compliance?assignment_id={assignment_id}");
    wait_until("A's assignee holds their seat", Duration::from_secs(20), || async {
        app.get(&line, &tenant.jwt).await.1["data"][0]["enrollment"] == "enrolled"
    })
    .await;
    // notification records A's marketplace, billing, enrollment and assignment events as
    // webhook messages when it delivers those types: wait for the last of each stream.
    let (s, types) = app.get("/api/v1/notification/event-types", &tenant.jwt).await;
    assert_eq!(s, 200, "{types}");
    for last in [
        "marketplace.order.completed.v1",
        "billing.payment.succeeded.v1",
        "billing.document.issued.v1",
        "enrollment.enrollment.created.v1",
        "assignment.assignee.added.v1",
    ] {
        if !types["data"].as_array().is_some_and(|d| d.iter().any(|t| t.as_str() == Some(last))) {
            continue;
        }
        let path = format!("/api/v1/notification/messages?event_type={last}");
        wait_until(&format!("notification records A's {last}"), Duration::from_secs(20), || async {
            app.get(&path, &tenant.jwt).await.1["data"].as_array().is_some_and(|d| !d.is_empty())
        })
        .await;
    }

    Alpha {
        org_unit_id,
        group_id,
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
        course_id,
        block_id,
        asset_id,
        asset_key,
        package_id,
        generation_id,
        endpoint_id,
        endpoint_secret,
        delivery_id,
        inbox_item_id,
        listing_id,
        order_id,
        license_id,
        payment_id,
        document_id,
        licensed_course_id: gamma_course_id,
        enrollment_id,
        assignment_id,
        session_id,
        lesson_id,
        assessment_item_id,
        quiz_id,
        attempt_id,
        member_jwt,
        device_id,
        bundle_id,
        tenant,
    }
}

pub(super) fn verb(name: &str) -> Value {
    json!({ "id": format!("http://adlnet.gov/expapi/verbs/{name}"), "display": { "en-US": name } })
}

pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A's learner as the xAPI `agent` parameter.
pub(super) fn learner_agent() -> String {
    json!({ "mbox": format!("mailto:{ALPHA_LEARNER}") }).to_string()
}

pub(super) fn state_params() -> Vec<(String, String)> {
    pairs(&[("activityId", ALPHA_ACTIVITY), ("agent", learner_agent().as_str()), ("stateId", ALPHA_STATE_ID)])
}

pub(super) fn activity_profile_params() -> Vec<(String, String)> {
    pairs(&[("activityId", ALPHA_ACTIVITY), ("profileId", ALPHA_ACTIVITY_PROFILE_ID)])
}

pub(super) fn agent_profile_params() -> Vec<(String, String)> {
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
        // A profile PUT names its precondition (xAPI Communication 3.1); State takes it too.
        .header("if-none-match", "*")
        .body(content.to_owned());
    let res = t.authorize(req, Credential::ApiKeyBasic).send().await.expect("request sent");
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    assert_eq!(status, 204, "A stores its {resource} document: {text}");
}

/// Each of the tenant's credentials works on each service (else the walk proves nothing).
pub(super) async fn assert_credentials_work(app: &TestApp, t: &Tenant, whose: &str) {
    let tenant_path = format!("/api/v1/tenant/tenants/{}", t.id);
    let statements = format!("{XAPI}/statements");
    let probes = [
        ("/api/v1/authoring/courses", Credential::Jwt),
        ("/api/v1/authoring/courses", Credential::ApiKeyBearer),
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
