//! The organization's value stream end to end, across the fleet: a provider lists a
//! course; an org buys 5 seats, its browser confirms the payment at Stripe (localstripe)
//! and Stripe's signed webhook tells billing; marketplace grants the license; the org admin
//! assigns the course to 3 learners with a due date, and enrollment gives each a seat (3
//! seats in use) and each learner gets an email at a local SMTP sink; a learner plays the
//! course to its end in the player, whose statements land in the LRS, and the assignment
//! shows them completed on time; and the org's webhook receiver gets a Standard Webhooks message for
//! every step, each signature verified here with the endpoint's secret.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use base64::Engine as _;
use mirai_kit::Role;
use mirai_testkit::{Localstripe, TestApp, poll, wait_until};
use serde_json::{Value, json};
use uuid::Uuid;

type Inbox = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> axum::http::StatusCode {
    inbox.lock().unwrap().push((headers, body));
    axum::http::StatusCode::NO_CONTENT
}

/// Verifies a message per Standard Webhooks: `v1,` base64 HMAC-SHA256 of
/// `id.timestamp.body` under the `whsec_` secret's key, fresh within 5 minutes.
fn verified(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    use hmac::{KeyInit, Mac};
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (id, ts, sigs) = (h("webhook-id"), h("webhook-timestamp"), h("webhook-signature"));
    let fresh = ts.parse::<i64>().is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let key = base64::engine::general_purpose::STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    fresh && sigs.split(' ').any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

const STRIPE_SECRET: &str = "whsec_value_stream";

#[tokio::test]
async fn list_buy_pay_license_enroll_complete_and_every_step_is_a_signed_webhook() {
    let fake = Localstripe::start().await;
    let base = fake.base.clone();
    let smtp = mirai_testkit::SmtpSink::start().await;
    let smtp_url = smtp.url();
    let app = TestApp::spawn_with(&mirai::services(), move |c| {
        let s = &mut c.service_settings;
        s.insert("MIRAI_NOTIFICATION__SMTP_URL".into(), smtp_url);
        s.insert("MIRAI_BILLING__STRIPE_API_BASE".into(), base);
        s.insert("MIRAI_BILLING__STRIPE_SECRET_KEY".into(), mirai_testkit::localstripe::SECRET_KEY.into());
        s.insert("MIRAI_BILLING__STRIPE_WEBHOOK_SECRETS".into(), STRIPE_SECRET.into());
    })
    .await
    .unwrap();
    fake.send_webhooks_to(&app.url("/api/v1/billing/providers/stripe/webhook"), STRIPE_SECRET).await;

    // The org, three learners, and its webhook receiver.
    let root = app.platform_admin();
    let slug = format!("acme-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let (_, t) =
        app.post("/api/v1/tenant/tenants", Some(&root), json!({ "kind": "org", "name": "Acme", "slug": slug })).await;
    let org: Uuid = t["id"].as_str().unwrap().parse().unwrap();
    let learners: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for l in &learners {
        let (s, _) = app
            .post(
                &format!("/api/v1/tenant/tenants/{org}/memberships"),
                Some(&root),
                json!({ "user_id": l, "roles": ["learner"] }),
            )
            .await;
        assert_eq!(s, 201);
        // The learner has used the app: notification knows the address identity signed
        // into their session.
        let mut claims = app.claims(Some(org), &[Role::Learner]);
        claims.sub = format!("user:{l}");
        claims.email = Some(format!("learner-{}@example.com", l.simple()));
        let (s, _) = app.get("/api/v1/notification/preferences", &app.sign(&claims)).await;
        assert_eq!(s, 200);
    }
    let admin = app.token(Some(org), &[Role::OrgAdmin]);
    let inbox: Inbox = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Router::new().route("/hook", post(receive)).with_state(inbox.clone());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let (s, ep) = app.post("/api/v1/notification/endpoints", Some(&admin), json!({ "url": hook })).await;
    assert_eq!(s, 201, "{ep}");
    let (_, secret) =
        app.get(&format!("/api/v1/notification/endpoints/{}/secret", ep["id"].as_str().unwrap()), &admin).await;
    let secret = secret["secret"].as_str().unwrap().to_owned();

    // A provider lists its published course.
    let provider = Uuid::now_v7();
    let seller = app.token(Some(provider), &[Role::ProviderAdmin]);
    let body = json!({ "title": "Forklift safety", "summary": "", "locale": "en", "tags": [], "visibility": "public",
        "modules": [{ "title": "M", "lessons": [{ "title": "L", "blocks": [{ "kind": "text", "content": { "markdown": "Look both ways." } }] }] }] });
    let (_, c) = app.post("/api/v1/authoring/courses", Some(&seller), body).await;
    let course = c["id"].as_str().unwrap().to_owned();
    let res = app
        .http
        .post(app.url(&format!("/api/v1/authoring/courses/{course}/publish")))
        .bearer_auth(&seller)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let listing = json!({ "course_id": course, "version": 1, "pricing": "one_time", "prices": { "EUR": 4900 }, "seat_packs": [5, 10] });
    let listing = poll("the course is listed", Duration::from_secs(20), || async {
        let (s, l) = app.post("/api/v1/marketplace/listings", Some(&seller), listing.clone()).await;
        (s == 201).then(|| l["id"].as_str().unwrap().to_owned())
    })
    .await;

    // 5 seats; the buyer's browser confirms at Stripe; Stripe's webhook tells billing.
    let (s, o) = app
        .post(
            "/api/v1/marketplace/orders",
            Some(&admin),
            json!({ "listing_id": listing, "seats": 5, "currency": "EUR" }),
        )
        .await;
    assert_eq!(s, 201, "{o}");
    let order = o["id"].as_str().unwrap().to_owned();
    let payment = poll("billing made the PaymentIntent", Duration::from_secs(20), || async {
        let (_, p) = app.get(&format!("/api/v1/billing/payments?order_id={order}"), &admin).await;
        p["data"].get(0).filter(|p| p["provider_ref"].is_string()).cloned()
    })
    .await;
    let pi = payment["provider_ref"].as_str().unwrap();
    fake.confirm(pi, "pm_card_visa").await;
    let license = poll("the order is licensed", Duration::from_secs(30), || async {
        let (_, o) = app.get(&format!("/api/v1/marketplace/orders/{order}"), &admin).await;
        (o["status"] == "completed").then(|| o["license_id"].as_str().unwrap().to_owned())
    })
    .await;

    // The org admin assigns the course to three learners, due in two weeks: each gets a
    // seat (of the pool enrollment opened for the license).
    wait_until("enrollment has the license's pool", Duration::from_secs(20), || async {
        let (_, p) = app.get("/api/v1/enrollment/pools", &admin).await;
        p["data"].as_array().is_some_and(|d| d.iter().any(|p| p["license_id"] == license.as_str()))
    })
    .await;
    let assign = json!({ "course_id": course, "title": "Ladder safety", "users": learners,
        "due_at": chrono::Utc::now() + chrono::Duration::days(14) });
    let assignment = poll("the course is assigned", Duration::from_secs(20), || async {
        let (s, a) = app.post("/api/v1/assignment/assignments", Some(&admin), assign.clone()).await;
        assert!(matches!(s.as_u16(), 201 | 409 | 422), "{s} {a}");
        (s == 201).then(|| a["id"].as_str().unwrap().to_owned())
    })
    .await;
    wait_until("marketplace shows 3 of 5 seats in use", Duration::from_secs(20), || async {
        let (_, l) = app.get(&format!("/api/v1/marketplace/licenses/{license}"), &admin).await;
        l["seats_in_use"] == 3 && l["seats"] == 5
    })
    .await;
    // Each learner is told by email (through the SMTP sink), once.
    let assigned =
        |m: &String| mirai_testkit::smtp::unfolded(m).contains("Subject: New course assigned: Ladder safety");
    let mails = poll("an assignment email to each learner", Duration::from_secs(30), || async {
        let mails: Vec<String> = smtp.mails().into_iter().filter(assigned).collect();
        (mails.len() >= 3).then_some(mails)
    })
    .await;
    for l in &learners {
        let to = format!("To: learner-{}@example.com", l.simple());
        assert_eq!(mails.iter().filter(|m| m.contains(&to)).count(), 1, "one for {l}: {mails:?}");
    }

    // A learner plays the course in the player to its end: the player's statements reach
    // the LRS through its outbox and the bus (no call to the LRS), and assignment reads the
    // completion from the LRS's events.
    let launch = format!("/api/v1/delivery/courses/{course}/launch");
    let (session, player) = poll("the player knows the enrollment", Duration::from_secs(20), || async {
        let player = app.user_token(org, learners[0], &[Role::Learner]);
        let (s, b) = app.post(&launch, Some(&player), json!({})).await;
        (s == 201).then_some((b, player))
    })
    .await;
    let sid = session["id"].as_str().unwrap();
    for lesson in session["outline"].as_array().unwrap().iter().flat_map(|m| m["lessons"].as_array().unwrap()) {
        let done =
            format!("/api/v1/delivery/sessions/{sid}/lessons/{}/complete", lesson["lesson_id"].as_str().unwrap());
        let (s, b) = app.post(&done, Some(&player), json!({})).await;
        assert_eq!(s, 200, "{b}");
    }
    let (_, ended) = app.get(&format!("/api/v1/delivery/sessions/{sid}"), &player).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    // The assignment shows them completed on time, the two others not started.
    wait_until("the learner completed on time", Duration::from_secs(20), || async {
        let (_, a) = app.get(&format!("/api/v1/assignment/assignments/{assignment}"), &admin).await;
        a["summary"]["completed_on_time"] == 1 && a["summary"]["not_started"] == 2
    })
    .await;

    // Every step arrived at the receiver, signed.
    let wanted = [
        ("marketplace.order.placed.v1", 1),
        ("billing.payment.succeeded.v1", 1),
        ("marketplace.license.granted.v1", 1),
        ("marketplace.order.completed.v1", 1),
        ("assignment.assignment.created.v1", 1),
        ("assignment.assignee.added.v1", 3),
        ("enrollment.enrollment.created.v1", 3),
        ("lrs.statement.stored.v1", 1),
        ("assignment.assignee.completed.v1", 1),
    ];
    let count = |t: &str| {
        inbox
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b)| serde_json::from_slice::<Value>(b).is_ok_and(|v| v["type"] == t))
            .count()
    };
    wait_until("every step's webhook arrived", Duration::from_secs(60), || async {
        wanted.iter().all(|(t, n)| count(t) >= *n)
    })
    .await;
    let messages = inbox.lock().unwrap().clone();
    assert!(!messages.is_empty());
    for (headers, body) in &messages {
        assert!(verified(&secret, headers, body), "signature of {}", String::from_utf8_lossy(body));
    }
    let paid: Value = messages
        .iter()
        .map(|(_, b)| serde_json::from_slice::<Value>(b).unwrap())
        .find(|v| v["type"] == "billing.payment.succeeded.v1")
        .unwrap();
    assert_eq!(paid["data"]["via"], "webhook", "billing learned it from Stripe's signed webhook: {paid}");
    assert_eq!(paid["data"]["amount"], 24500);
    let (_, b) = app.get("/api/v1/billing/ledger/balances", &root).await;
    assert_eq!(b["totals"]["EUR"], 0);
    // Every message is the org's own.
    for (_, b) in &messages {
        let v: Value = serde_json::from_slice(b).unwrap();
        assert!(v["data"]["tenant_id"].is_null() || v["data"]["tenant_id"] == org.to_string(), "{v}");
    }
    app.stop().await;
}
