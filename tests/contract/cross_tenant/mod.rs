//! No operation of any service reaches another tenant: every operation of every committed
//! OpenAPI document is called with tenant B's credentials (its org admin's session JWT and
//! an org-admin API key, as Bearer and, on xAPI, as HTTP Basic) aimed at tenant A's ids.
//! None may fail with a 5xx, act on what its path names of A, tell B anything of A that B
//! did not send itself, or change what A sees of its own data.

mod client;
mod fixtures;
mod operations;
mod plan;
mod view;
mod walk;

use std::{fmt, fs, path::Path, time::Duration};

use mirai_testkit::{TestApp, poll, wait_until};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use uuid::Uuid;

use client::{Credential, Tenant, send};
use fixtures::{
    Alpha, activity_profile_params, agent_profile_params, assert_credentials_work, create_tenant, learner_agent,
    needles, pairs, seed_alpha, state_params, verb,
};
use operations::{Operation, operations, placeholders};
use plan::{Call, Plan};
use view::{View, alpha_view, changes, invitation_still_open, read, snippet};
use walk::Walk;

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
const ALPHA_GROUP: &str = "Alpha Forklift Drivers";
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
const ALPHA_COURSE_TITLE: &str = "Alpha Confidential Course";
const ALPHA_COURSE_TEXT: &str = "alpha-course-body-text-do-not-leak";
const ALPHA_AGENT_PROFILE: &str = "alpha-agent-profile-content";
const ALPHA_AI_PROVIDER: &str = "alpha-vendor";
const ALPHA_AI_URL: &str = "https://alpha-llm.example/v1";
const ALPHA_AI_KEY: &str = "alpha-ai-key-do-not-leak";
const ALPHA_AI_FEATURE: &str = "authoring.alpha_outline";
const ALPHA_AI_MODEL: &str = "alpha-model-7b";
const ALPHA_AI_TERM: &str = "alpha-blocked-term";
const ALPHA_HOOK_DESCRIPTION: &str = "alpha-webhook-description-do-not-leak";
const ALPHA_ASSIGNMENT_TITLE: &str = "Alpha Mandatory Compliance Training";

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
    (
        "GET",
        "/api/v1/notification/unsubscribe/{token}",
        "the path is a capability (the HMAC-signed link in a member's email), not an id: B cannot make one for A's members (a forged token is a 404, shown in notification's tests)",
    ),
    ("POST", "/api/v1/notification/unsubscribe/{token}", "as its GET: a signed capability, not an id"),
    (
        "GET",
        "/api/v1/delivery/runtime/{token}/player",
        "the path is a capability (32 random bytes only the learner's own launch returns; the server keeps its hash), not an id: B cannot make one for A's learners (a token carrying another tenant's id is a 404, shown in delivery's runtime test)",
    ),
    (
        "GET",
        "/api/v1/delivery/runtime/adapter.js",
        "the SCORM adapter script, the same for every runtime: no tenant data",
    ),
    ("GET", "/api/v1/delivery/runtime/{token}/content/{path}", "as the player page: a random capability, not an id"),
    ("POST", "/api/v1/delivery/runtime/{token}/commit", "as the player page: a random capability, not an id"),
    (
        "POST",
        "/api/v1/delivery/cmi5/fetch/{token}",
        "cmi5's fetch URL: the path is a capability (32 random bytes only the learner's own launch returns; the server keeps its hash), not an id",
    ),
];

/// Operations B must be refused whatever it sends: any 2xx fails the test.
const MUST_REFUSE: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/identity/login", "B's admin asks for a session in A's tenant"),
    ("POST", "/api/v1/identity/signing-keys/rotate", "it is for platform admins only"),
    ("POST", "/api/v1/tenant/tenants", "it is for platform admins only"),
    ("POST", "/api/v1/tenant/invitations/accept", "the invitation is A's, sent to someone else"),
    ("POST", "/api/v1/lrs/admin/tenants/{tenant_id}/statements/{statement_id}/purge", "it is for platform admins only"),
    ("PUT", "/api/v1/marketplace/providers/{tenant_id}/revenue-share", "it is for platform admins only"),
    ("POST", "/api/v1/billing/tenants/{tenant_id}/payments/{payment_id}/mark-paid", "it is for platform admins only"),
    ("GET", "/api/v1/billing/ledger/balances", "it is for platform admins only"),
    ("POST", "/api/v1/billing/reconciliations", "it is for platform admins only"),
    ("POST", "/api/v1/billing/tenants/{tenant_id}/refunds/{refund_id}/release", "it is for platform admins only"),
    ("POST", "/api/v1/billing/payout-runs", "it is for platform admins only"),
    ("GET", "/api/v1/billing/payout-runs/{run_id}", "it is for platform admins only"),
    ("GET", "/api/v1/billing/payout-runs/{run_id}/csv", "it is for platform admins only"),
    (
        "POST",
        "/api/v1/billing/providers/stripe/webhook",
        "it is public and carries no Stripe signature: an unsigned event is a 400 and writes nothing",
    ),
    (
        "POST",
        "/api/v1/enrollment/enrollments",
        "the learner is A's member, no member of B: a 422 before any pool (B holds no license) is looked at",
    ),
];

/// Operations B must be able to perform although their request names A's ids: B has no
/// such resource, so a refusal would tell B that A's exists.
const MUST_SUCCEED: &[(&str, &str, &str)] = &[
    ("PUT", "/api/v1/lrs/xapi/statements", "a statement under A's statement id is new in B's LRS"),
    ("POST", "/api/v1/lrs/xapi/statements", "voiding A's statement id voids nothing in B's LRS"),
];

/// Operations whose path names a per-tenant name rather than an id (ai-gateway's provider,
/// route and budget names): B's call acts on B's own namespace, so B may succeed or be
/// refused; what must hold is the rest (no 5xx, nothing of A's revealed, A's view
/// unchanged).
const OWN_NAMES: &[(&str, &str)] = &[
    ("PUT", "/api/v1/ai-gateway/providers/{name}"),
    ("DELETE", "/api/v1/ai-gateway/providers/{name}"),
    ("PUT", "/api/v1/ai-gateway/routes/{feature}"),
    ("DELETE", "/api/v1/ai-gateway/routes/{feature}"),
    ("PUT", "/api/v1/ai-gateway/budgets/{scope}/{period}"),
    ("DELETE", "/api/v1/ai-gateway/budgets/{scope}/{period}"),
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
        ("marketplace listing", ALPHA_COURSE_TITLE),
        ("marketplace order", "completed"),
        ("billing payment", "succeeded"),
        ("enrollment", "active"),
        ("enrollment pools", "\"in_use\":1"),
        ("assignment", ALPHA_ASSIGNMENT_TITLE),
        ("compliance report of A's unit", "not_started"),
        ("member's play session", "in_progress"),
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
