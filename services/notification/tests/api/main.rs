//! notification's black-box tests: tenant (whose org-unit and membership events are the
//! messages) and notification on port 0 with a database and NATS prefix of their own,
//! delivering to a local receiver that checks every signature the way the Standard
//! Webhooks reference libraries do (its own HMAC code, not the service's).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::State, http::HeaderMap, routing::post};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{KeyInit, Mac};
use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, poll, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

mod people;

const N: &str = "/api/v1/notification";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    timestamp: i64,
    signatures: Vec<String>,
    body: String,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A local receiver: answers with `status` (204 unless told otherwise) and records
/// everything.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    status: Arc<AtomicU16>,
    /// How long it takes to answer, in ms.
    delay: Arc<AtomicU64>,
    url: String,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> axum::http::StatusCode {
    tokio::time::sleep(Duration::from_millis(r.delay.load(Ordering::SeqCst))).await;
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    r.got.lock().unwrap().push(Got {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp").parse().unwrap_or(0),
        signatures: h("webhook-signature").split(' ').map(str::to_owned).collect(),
        body,
    });
    axum::http::StatusCode::from_u16(r.status.load(Ordering::SeqCst)).unwrap()
}

async fn receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let r = Receiver {
        got: Arc::default(),
        status: Arc::new(AtomicU16::new(204)),
        delay: Arc::default(),
        url: format!("http://{}/hooks?source=mirai", listener.local_addr().unwrap()),
    };
    let app = Router::new().route("/hooks", post(receive)).with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    r
}

/// Standard Webhooks verification: some `v1,` signature of `id.timestamp.body` under the
/// secret's key, and a timestamp within five minutes.
fn verifies(secret: &str, got: &Got) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", got.id, got.timestamp, got.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let fresh = (chrono::Utc::now().timestamp() - got.timestamp).abs() < 300;
    fresh && got.signatures.contains(&expected)
}

async fn tenant(app: &TestApp, slug: &str) -> Uuid {
    let slug = format!("{slug}-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let body = json!({ "kind": "org", "name": slug, "slug": slug });
    let (s, t) = app.post("/api/v1/tenant/tenants", Some(&app.platform_admin()), body).await;
    assert_eq!(s, 201, "{t}");
    t["id"].as_str().unwrap().parse().unwrap()
}

async fn org_unit(app: &TestApp, tenant: Uuid, name: &str) -> String {
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    let (s, u) =
        app.post(&format!("/api/v1/tenant/tenants/{tenant}/org-units"), Some(&admin), json!({ "name": name })).await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_owned()
}

async fn endpoint(app: &TestApp, admin: &str, url: &str, types: &[&str]) -> (String, String) {
    let (s, e) = app.post(&format!("{N}/endpoints"), Some(admin), json!({ "url": url, "event_types": types })).await;
    assert_eq!(s, 201, "{e}");
    assert!(e.get("secret").is_none(), "a write's answer (kept for idempotent retries) holds no secret: {e}");
    let id = e["id"].as_str().unwrap().to_owned();
    (id.clone(), secret(app, admin, &id).await)
}

async fn secret(app: &TestApp, admin: &str, endpoint: &str) -> String {
    let (s, k) = app.get(&format!("{N}/endpoints/{endpoint}/secret"), admin).await;
    assert_eq!(s, 200, "{k}");
    let k = k["secret"].as_str().unwrap().to_owned();
    assert!(k.starts_with("whsec_"));
    k
}

fn got(r: &Receiver) -> Vec<Got> {
    r.got.lock().unwrap().clone()
}

async fn spawn(settings: &[(&str, &str)]) -> TestApp {
    let settings: Vec<(String, String)> = settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    TestApp::spawn_with(&[mirai_tenant::service(), mirai_notification::service()], move |c| {
        c.service_settings.extend(settings);
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn deliveries_are_signed_per_standard_webhooks_filtered_by_type_and_logged() {
    let app = spawn(&[]).await;
    let t = tenant(&app, "hooks").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let (units, other) = (receiver().await, receiver().await);
    let (ep, secret) = endpoint(&app, &admin, &units.url, &["tenant.org_unit.created.v1"]).await;
    endpoint(&app, &admin, &other.url, &["tenant.membership.revoked.v1"]).await;

    let unit = org_unit(&app, t, "Warehouse North").await;
    let first = poll("the org unit's message arrives", Duration::from_secs(20), || async { got(&units).pop() }).await;
    assert!(verifies(&secret, &first), "signature and timestamp verify: {first:?}");
    let body = first.json();
    assert_eq!(body["type"], "tenant.org_unit.created.v1");
    assert_eq!(body["data"]["org_unit_id"], unit.as_str(), "{body}");
    assert!(body["timestamp"].is_string());
    assert!(!verifies("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &first), "another secret does not verify");
    // The endpoint that wants only revocations got nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(got(&other).is_empty(), "filtered out: {:?}", got(&other));

    // The message log and the delivery log.
    let (s, messages) = app.get(&format!("{N}/messages"), &admin).await;
    assert_eq!(s, 200, "{messages}");
    let m = messages["data"].as_array().unwrap().iter().find(|m| m["id"] == first.id.as_str()).cloned();
    let m = m.expect("the webhook-id is the message id");
    assert_eq!(m["body"], body);
    let deliveries = format!("{N}/endpoints/{ep}/deliveries");
    let d = poll("the delivery is logged as succeeded", Duration::from_secs(10), || async {
        let (_, page) = app.get(&deliveries, &admin).await;
        page["data"].as_array()?.first().filter(|d| d["status"] == "succeeded").cloned()
    })
    .await;
    assert_eq!((d["attempts"].as_i64(), d["last_status"].as_i64()), (Some(1), Some(204)), "{d}");
    let (_, one) = app.get(&format!("{deliveries}/{}", d["id"].as_str().unwrap()), &admin).await;
    assert_eq!(one["log"][0]["response_status"], 204, "{one}");
    assert_eq!(one["log"][0]["trigger"], "scheduled");

    // A manual redelivery: the same webhook-id again, one more attempt in the log.
    let (s, _) = app
        .call(Method::POST, &format!("{deliveries}/{}/redeliver", d["id"].as_str().unwrap()), Some(&admin), None)
        .await;
    assert_eq!(s, 202);
    poll("the redelivery arrives", Duration::from_secs(10), || async { (got(&units).len() == 2).then_some(()) }).await;
    assert_eq!(got(&units)[1].id, first.id, "a receiver dedupes on webhook-id");
    assert!(verifies(&secret, &got(&units)[1]));
    wait_until("the manual attempt is logged", Duration::from_secs(10), || async {
        let (_, one) = app.get(&format!("{deliveries}/{}", d["id"].as_str().unwrap()), &admin).await;
        one["log"].as_array().is_some_and(|l| l.len() == 2 && l[1]["trigger"] == "manual")
    })
    .await;

    // Rotation: both secrets sign until the grace ends; the new one is shown.
    let (s, rotated) =
        app.post(&format!("{N}/endpoints/{ep}/secret/rotate"), Some(&admin), json!({ "grace_secs": 3600 })).await;
    assert_eq!(s, 200, "{rotated}");
    let new_secret = self::secret(&app, &admin, &ep).await;
    assert_ne!(new_secret, secret);
    org_unit(&app, t, "Warehouse South").await;
    let after = poll("the next message arrives", Duration::from_secs(20), || async {
        got(&units).into_iter().find(|g| g.id != first.id)
    })
    .await;
    assert_eq!(after.signatures.len(), 2, "{after:?}");
    assert!(verifies(&new_secret, &after) && verifies(&secret, &after), "old and new both verify");
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_message_after_retries() {
    let app = spawn(&[("MIRAI_NOTIFICATION__RETRY_SCHEDULE_SECS", "1,1,1,2,2,2,2")]).await;
    let t = tenant(&app, "down").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let r = receiver().await;
    r.status.store(503, Ordering::SeqCst);
    let (ep, secret) = endpoint(&app, &admin, &r.url, &[]).await;
    let mut units = vec![];
    for name in ["Dock 1", "Dock 2", "Dock 3"] {
        units.push(org_unit(&app, t, name).await);
    }
    // Down: every message is tried, and tried again.
    poll("retries while the receiver is down", Duration::from_secs(20), || async {
        (got(&r).len() >= 6).then_some(())
    })
    .await;
    r.status.store(200, Ordering::SeqCst);
    let delivered = poll("every message arrives once it is back", Duration::from_secs(30), || async {
        let ok: Vec<String> = {
            let all = got(&r);
            let mut ids: Vec<String> =
                all.iter().map(|g| g.json()["data"]["org_unit_id"].as_str().unwrap_or("").to_owned()).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        units.iter().all(|u| ok.contains(u)).then_some(ok)
    })
    .await;
    assert!(delivered.len() >= 3);
    assert!(got(&r).iter().all(|g| verifies(&secret, g)));
    // The log: each delivery succeeded after failed attempts, with their 503s.
    let deliveries = format!("{N}/endpoints/{ep}/deliveries");
    let page = poll("all logged as succeeded", Duration::from_secs(15), || async {
        let (_, page) = app.get(&format!("{deliveries}?status=succeeded"), &admin).await;
        (page["data"].as_array()?.len() == 3).then_some(page)
    })
    .await;
    let d = &page["data"][0];
    assert!(d["attempts"].as_i64().unwrap() >= 2, "{d}");
    let (_, one) = app.get(&format!("{deliveries}/{}", d["id"].as_str().unwrap()), &admin).await;
    let log = one["log"].as_array().unwrap();
    assert_eq!(log[0]["response_status"], 503, "{one}");
    assert_eq!(log.last().unwrap()["response_status"], 200, "{one}");
    // The endpoint is healthy again.
    let (_, e) = app.get(&format!("{N}/endpoints/{ep}"), &admin).await;
    assert_eq!((e["enabled"].as_bool(), e["consecutive_failures"].as_i64()), (Some(true), Some(0)), "{e}");
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_then_enabled_and_replayed() {
    let app = spawn(&[
        ("MIRAI_NOTIFICATION__RETRY_SCHEDULE_SECS", "1,1,1,1,1,1"),
        ("MIRAI_NOTIFICATION__DISABLE_AFTER_SECS", "0"),
        ("MIRAI_NOTIFICATION__DISABLE_MIN_FAILURES", "3"),
    ])
    .await;
    let t = tenant(&app, "failing").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let r = receiver().await;
    r.status.store(500, Ordering::SeqCst);
    let (ep, _) = endpoint(&app, &admin, &r.url, &["tenant.org_unit.created.v1"]).await;
    let unit = org_unit(&app, t, "Night shift").await;
    let e = poll("the endpoint is disabled", Duration::from_secs(30), || async {
        let (_, e) = app.get(&format!("{N}/endpoints/{ep}"), &admin).await;
        (e["enabled"] == false).then_some(e)
    })
    .await;
    assert!(e["disabled_reason"].as_str().unwrap().contains("HTTP 500"), "{e}");
    let ev = app
        .wait_for_event("notification.endpoint.changed.v1", Duration::from_secs(10), |e| e.data["change"] == "disabled")
        .await;
    assert_eq!(ev.data["actor"], "notification");
    // Disabled: a later message is not sent to it; a redelivery or replay is refused.
    let tried = got(&r).len();
    let later = org_unit(&app, t, "Day shift").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(got(&r).len(), tried, "nothing is sent to a disabled endpoint");
    let res = app.post(&format!("{N}/endpoints/{ep}/replay"), Some(&admin), json!({ "after": 0 })).await;
    assert_problem(&res, 409, "conflict");

    // The tenant fixes its receiver, enables the endpoint and replays from the start.
    r.status.store(200, Ordering::SeqCst);
    let (s, e) =
        app.call(Method::PATCH, &format!("{N}/endpoints/{ep}"), Some(&admin), Some(json!({ "enabled": true }))).await;
    assert_eq!((s.as_u16(), e["enabled"].as_bool(), e["consecutive_failures"].as_i64()), (200, Some(true), Some(0)));
    let (s, replayed) = app.post(&format!("{N}/endpoints/{ep}/replay"), Some(&admin), json!({ "after": 0 })).await;
    assert_eq!(s, 202, "{replayed}");
    assert_eq!(replayed["queued"], 2, "the failed one and the one it never got: {replayed}");
    poll("both org units arrive", Duration::from_secs(20), || async {
        let ok = got(&r).iter().filter(|g| g.json()["data"]["org_unit_id"] == unit.as_str()).count() > 0
            && got(&r).iter().any(|g| g.json()["data"]["org_unit_id"] == later.as_str());
        ok.then_some(())
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_a_problem_and_only_the_tenants_admins_reach_its_endpoints() {
    let app = spawn(&[]).await;
    let (a, b) = (tenant(&app, "a").await, tenant(&app, "b").await);
    let admin = app.token(Some(a), &[Role::OrgAdmin]);
    for (body, field) in [
        (json!({ "url": "http://169.254.169.254/latest/meta-data" }), "url"),
        (json!({ "url": "ftp://example.com/x" }), "url"),
        (json!({ "url": "https://example.com/x", "event_types": ["identity.apikey.created.v1"] }), "event_types/0"),
        (json!({ "url": "https://example.com/x", "secret": "not-a-whsec" }), "secret"),
    ] {
        let res = app.post(&format!("{N}/endpoints"), Some(&admin), body).await;
        assert_problem(&res, 422, "validation");
        assert!(res.1.to_string().contains(field), "{}", res.1);
    }
    let res =
        app.post(&format!("{N}/endpoints"), Some(&admin), json!({ "url": "https://example.com/x", "extra": 1 })).await;
    assert_eq!(res.0, 422, "{}", res.1);
    let (ep, _) = endpoint(&app, &admin, "https://hooks.example.com/in", &[]).await;
    // A learner of the tenant, and tenant B's admin: refused; B does not learn A's exists.
    let learner = app.token(Some(a), &[Role::Learner]);
    let (s, _) = app.get(&format!("{N}/endpoints"), &learner).await;
    assert_eq!(s, 403);
    let other = app.token(Some(b), &[Role::OrgAdmin]);
    for path in
        [format!("{N}/endpoints/{ep}"), format!("{N}/endpoints/{ep}/secret"), format!("{N}/endpoints/{ep}/deliveries")]
    {
        let res = app.get(&path, &other).await;
        assert_problem(&res, 404, "not-found");
    }
    let (_, list) = app.get(&format!("{N}/endpoints"), &other).await;
    assert_eq!(list["data"], json!([]));
    let (s, _) = app.call(Method::DELETE, &format!("{N}/endpoints/{ep}"), Some(&other), None).await;
    assert_eq!(s, 404);
    for (method, path, body) in [
        (Method::PATCH, format!("{N}/endpoints/{ep}"), Some(json!({ "enabled": false }))),
        (Method::POST, format!("{N}/endpoints/{ep}/secret/rotate"), Some(json!({}))),
        (Method::POST, format!("{N}/endpoints/{ep}/replay"), Some(json!({ "after": 0 }))),
    ] {
        let (s, b) = app.call(method, &path, Some(&other), body).await;
        assert_eq!(s, 404, "{path}: {b}");
    }
    // B's own endpoint hears nothing of A's events; B's message log holds none of them.
    let r = receiver().await;
    endpoint(&app, &other, &r.url, &[]).await;
    org_unit(&app, a, "Alpha only").await;
    let admin_a = app.token(Some(a), &[Role::OrgAdmin]);
    wait_until("A's message is logged", Duration::from_secs(10), || async {
        let (_, m) = app.get(&format!("{N}/messages"), &admin_a).await;
        m["data"].as_array().is_some_and(|d| d.iter().any(|m| m["body"]["data"]["name"] == "Alpha only"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(got(&r).is_empty(), "B's receiver got A's event: {:?}", got(&r));
    let (_, m) = app.get(&format!("{N}/messages"), &other).await;
    assert!(!m.to_string().contains("Alpha only"), "{m}");
    let (s, _) = app.call(Method::DELETE, &format!("{N}/endpoints/{ep}"), Some(&admin), None).await;
    assert_eq!(s, 204);
    let (s, types) = app.get(&format!("{N}/event-types"), &admin).await;
    assert_eq!(s, 200);
    assert!(types["data"].as_array().unwrap().iter().any(|t| t == "lrs.statement.stored.v1"));
}

#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_another_endpoints_deliveries() {
    let app = spawn(&[]).await;
    let t = tenant(&app, "slow").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let (slow, fast) = (receiver().await, receiver().await);
    slow.delay.store(4000, Ordering::SeqCst);
    endpoint(&app, &admin, &slow.url, &[]).await;
    endpoint(&app, &admin, &fast.url, &[]).await;
    for name in ["A", "B"] {
        org_unit(&app, t, name).await;
    }
    // Both messages reach the fast receiver while the slow one is still answering the
    // first: attempts run side by side, not one after another.
    let started = std::time::Instant::now();
    poll("the fast receiver gets both", Duration::from_secs(20), || async { (got(&fast).len() >= 2).then_some(()) })
        .await;
    assert!(got(&slow).len() < 2, "the slow receiver has not answered both yet");
    assert!(started.elapsed() < Duration::from_secs(4), "not held up behind the slow one: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_410_disables_at_once_and_a_replayed_failure_runs_a_new_round_to_success() {
    let app = spawn(&[("MIRAI_NOTIFICATION__RETRY_SCHEDULE_SECS", "1")]).await;
    let t = tenant(&app, "gone").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let r = receiver().await;
    // First a failure that spends the (one-retry) schedule: the delivery fails.
    r.status.store(500, Ordering::SeqCst);
    let (ep, _) = endpoint(&app, &admin, &r.url, &[]).await;
    org_unit(&app, t, "Spent").await;
    let deliveries = format!("{N}/endpoints/{ep}/deliveries");
    let d = poll("the delivery fails", Duration::from_secs(20), || async {
        let (_, page) = app.get(&format!("{deliveries}?status=failed"), &admin).await;
        page["data"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(d["attempts"], 2, "{d}");
    // Replayed: a new round; the receiver now answers again, but 410: disabled at once.
    r.status.store(410, Ordering::SeqCst);
    let (s, replayed) = app.post(&format!("{N}/endpoints/{ep}/replay"), Some(&admin), json!({ "after": 0 })).await;
    assert_eq!((s.as_u16(), replayed["queued"].as_i64()), (202, Some(1)), "{replayed}");
    let e = poll("410 disables the endpoint", Duration::from_secs(20), || async {
        let (_, e) = app.get(&format!("{N}/endpoints/{ep}"), &admin).await;
        (e["enabled"] == false).then_some(e)
    })
    .await;
    assert!(e["disabled_reason"].as_str().unwrap().contains("410"), "{e}");
    // Enabled and replayed once more: a third round, delivered.
    r.status.store(200, Ordering::SeqCst);
    let (s, _) =
        app.call(Method::PATCH, &format!("{N}/endpoints/{ep}"), Some(&admin), Some(json!({ "enabled": true }))).await;
    assert_eq!(s, 200);
    let (s, _) = app.post(&format!("{N}/endpoints/{ep}/replay"), Some(&admin), json!({ "after": 0 })).await;
    assert_eq!(s, 202);
    let d = poll("the replayed delivery succeeds", Duration::from_secs(20), || async {
        let (_, one) = app.get(&format!("{deliveries}/{}", d["id"].as_str().unwrap()), &admin).await;
        (one["status"] == "succeeded").then_some(one)
    })
    .await;
    assert_eq!(d["round"], 2, "{d}");
    let statuses: Vec<i64> =
        d["log"].as_array().unwrap().iter().filter_map(|a| a["response_status"].as_i64()).collect();
    assert_eq!(statuses, vec![500, 500, 410, 200], "every attempt, in order: {d}");
}
