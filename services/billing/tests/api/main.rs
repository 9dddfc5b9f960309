//! billing with marketplace and authoring, paying through `localstripe` (a stateful
//! Stripe fake speaking Stripe's wire format, one per test): a card order licensed once
//! whatever the webhooks do, a payment nobody heard of healed by reconciliation,
//! declines, cancellations, refunds, and a ledger that balances.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{Localstripe, TestApp, assert_problem, poll, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const SECRET: &str = "whsec_mirai_test_current";

async fn spawn(stripe: &Localstripe, reconcile_every: u64) -> TestApp {
    spawn_services(stripe, reconcile_every, vec![]).await
}

async fn spawn_services(stripe: &Localstripe, reconcile_every: u64, more: Vec<mirai_kit::ServiceDef>) -> TestApp {
    spawn_at(stripe.base.clone(), reconcile_every, more).await
}

/// billing (with authoring, marketplace and `more`) speaking to Stripe at `base`.
async fn spawn_at(base: String, reconcile_every: u64, more: Vec<mirai_kit::ServiceDef>) -> TestApp {
    let mut services = vec![mirai_authoring::service(), mirai_marketplace::service(), mirai_billing::service()];
    services.extend(more);
    TestApp::spawn_with(&services, move |c| {
        let s = &mut c.service_settings;
        s.insert("MIRAI_BILLING__STRIPE_API_BASE".into(), base);
        s.insert("MIRAI_BILLING__STRIPE_SECRET_KEY".into(), "sk_test_mirai".into());
        s.insert("MIRAI_BILLING__STRIPE_WEBHOOK_SECRETS".into(), format!("whsec_mirai_test_old,{SECRET}"));
        s.insert("MIRAI_BILLING__RECONCILE_EVERY_SECS".into(), reconcile_every.to_string());
    })
    .await
    .unwrap()
}

/// A provider with a published course listed at 49 € a seat; returns (provider, listing).
async fn listed(app: &TestApp) -> (Uuid, String) {
    listed_as(app, json!({ "pricing": "one_time", "prices": { "EUR": 4900, "USD": 5400 }, "seat_packs": [1, 5, 10] }))
        .await
}

/// A provider with a published course listed on `terms`; returns (provider, listing).
async fn listed_as(app: &TestApp, terms: Value) -> (Uuid, String) {
    let provider = Uuid::now_v7();
    let admin = app.token(Some(provider), &[Role::ProviderAdmin]);
    let body = json!({ "title": "Workplace safety", "summary": "Basics", "locale": "en", "tags": [], "visibility": "public",
        "modules": [{ "title": "M", "lessons": [{ "title": "L", "blocks": [{ "kind": "text", "content": { "markdown": "Stay safe." } }] }] }] });
    let (s, c) = app.post("/api/v1/authoring/courses", Some(&admin), body).await;
    assert_eq!(s, 201, "{c}");
    let course = c["id"].as_str().unwrap().to_owned();
    let res = app
        .http
        .post(app.url(&format!("/api/v1/authoring/courses/{course}/publish")))
        .bearer_auth(&admin)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let mut listing = json!({ "course_id": course, "version": 1 });
    listing.as_object_mut().unwrap().extend(terms.as_object().unwrap().clone());
    let id = poll("marketplace knows the published version", Duration::from_secs(20), || async {
        let (s, l) = app.post("/api/v1/marketplace/listings", Some(&admin), listing.clone()).await;
        (s == 201).then(|| l["id"].as_str().unwrap().to_owned())
    })
    .await;
    (provider, id)
}

async fn order(app: &TestApp, buyer: &str, listing: &str, seats: i32, pm: Option<&str>) -> String {
    let mut body = json!({ "listing_id": listing, "seats": seats, "currency": "EUR" });
    if let Some(pm) = pm {
        body["payment_method"] = json!(pm);
    }
    let (s, o) = app.post("/api/v1/marketplace/orders", Some(buyer), body).await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["status"], "pending_payment");
    o["id"].as_str().unwrap().to_owned()
}

async fn order_in(app: &TestApp, buyer: &str, id: &str, status: &str) -> Value {
    poll(&format!("order {id} is {status}"), Duration::from_secs(20), || async {
        let (_, o) = app.get(&format!("/api/v1/marketplace/orders/{id}"), buyer).await;
        (o["status"] == status).then_some(o)
    })
    .await
}

async fn payment_of(app: &TestApp, buyer: &str, order: &str) -> Value {
    poll("billing has the order's payment at Stripe", Duration::from_secs(20), || async {
        let (_, p) = app.get(&format!("/api/v1/billing/payments?order_id={order}"), buyer).await;
        p["data"].get(0).filter(|p| p["provider_ref"].is_string()).cloned()
    })
    .await
}

async fn licenses(app: &TestApp, buyer: &str) -> Vec<Value> {
    let (s, l) = app.get("/api/v1/marketplace/licenses", buyer).await;
    assert_eq!(s, 200, "{l}");
    l["data"].as_array().unwrap().clone()
}

async fn balances(app: &TestApp) -> Value {
    let (s, b) = app.get("/api/v1/billing/ledger/balances", &app.platform_admin()).await;
    assert_eq!(s, 200, "{b}");
    b
}

fn account(b: &Value, name: &str) -> i64 {
    b["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == name && a["currency"] == "EUR")
        .map_or(0, |a| a["balance"].as_i64().unwrap())
}

/// Posts a Stripe event to billing's webhook endpoint, signed with `secret` at `t`.
async fn webhook(app: &TestApp, event: &Value, secret: &str, t: i64) -> (reqwest::StatusCode, Value) {
    let body = serde_json::to_vec(event).unwrap();
    let sig = mirai_billing::signature::sign(secret, t, &body);
    let res = app
        .http
        .post(app.url("/api/v1/billing/providers/stripe/webhook"))
        .header("stripe-signature", format!("t={t},v1={sig}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

fn succeeded_event(id: &str, pi: &Value) -> Value {
    json!({ "id": id, "object": "event", "type": "payment_intent.succeeded", "created": chrono::Utc::now().timestamp(),
            "data": { "object": pi } })
}

#[tokio::test]
async fn a_card_order_is_licensed_once_booked_and_its_webhooks_verified_and_deduplicated() {
    let stripe = Localstripe::start().await;
    let app = spawn(&stripe, 3600).await;
    stripe.send_webhooks_to(&app.url("/api/v1/billing/providers/stripe/webhook"), SECRET).await;
    let (provider, listing) = listed(&app).await;
    let buyer_tenant = Uuid::now_v7();
    let buyer = app.token(Some(buyer_tenant), &[Role::OrgAdmin]);

    // Seat packs and currencies are the listing's.
    let (s, p) = app
        .post(
            "/api/v1/marketplace/orders",
            Some(&buyer),
            json!({ "listing_id": listing, "seats": 3, "currency": "EUR" }),
        )
        .await;
    assert_problem(&(s, p), 422, "validation");
    let (s, p) = app
        .post(
            "/api/v1/marketplace/orders",
            Some(&buyer),
            json!({ "listing_id": listing, "seats": 5, "currency": "GBP" }),
        )
        .await;
    assert_problem(&(s, p), 422, "validation");

    // Five seats, paid at once with the card Stripe.js collected.
    let id = order(&app, &buyer, &listing, 5, Some("pm_card_visa")).await;
    let done = order_in(&app, &buyer, &id, "completed").await;
    assert_eq!(done["amount"], 24500);
    let owned = licenses(&app, &buyer).await;
    assert_eq!(owned.len(), 1);
    assert_eq!(owned[0]["seats"], 5);
    assert_eq!(owned[0]["license_id"].as_str().or(owned[0]["id"].as_str()), done["license_id"].as_str());
    let payment = payment_of(&app, &buyer, &id).await;
    assert_eq!(payment["status"], "succeeded");
    let pi_id = payment["provider_ref"].as_str().unwrap().to_owned();
    assert!(pi_id.starts_with("pi_"), "{payment}");

    // localstripe's own webhook for it arrives a second later: no second effect.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let pi = stripe.call(Method::GET, &format!("/v1/payment_intents/{pi_id}"), &[]).await;
    assert_eq!(pi["status"], "succeeded");
    // The same event twice: applied once, then recognised.
    let ev = succeeded_event("evt_mirai_dup_1", &pi);
    let now = chrono::Utc::now().timestamp();
    assert_eq!(webhook(&app, &ev, SECRET, now).await.1, json!({ "new": true }));
    assert_eq!(webhook(&app, &ev, SECRET, now).await.1, json!({ "new": false }));
    // The old secret of a rotation still verifies.
    let ev2 = succeeded_event("evt_mirai_dup_2", &pi);
    assert_eq!(webhook(&app, &ev2, "whsec_mirai_test_old", now).await.0, 200);
    assert_eq!(licenses(&app, &buyer).await.len(), 1, "one license whatever the webhooks say");

    // The books: 245 € in Stripe's cash, 196 € owed to the provider, 49 € (20 %) the platform's.
    let b = balances(&app).await;
    assert_eq!(account(&b, "cash:stripe"), 24500);
    assert_eq!(account(&b, &format!("payable:{provider}")), -19600);
    assert_eq!(account(&b, "revenue:platform"), -4900);
    assert_eq!(b["totals"]["EUR"], 0, "{b}");
    let provider_admin = app.token(Some(provider), &[Role::ProviderAdmin]);
    let (_, owed) = app.get("/api/v1/billing/ledger/owed", &provider_admin).await;
    assert_eq!(owed["owed"]["EUR"], 19600);

    // A bad signature is a 400 and writes nothing: a pending payment stays pending, and
    // the same event id is new when it comes signed.
    let pending = order(&app, &buyer, &listing, 1, None).await;
    let p2 = payment_of(&app, &buyer, &pending).await;
    assert_eq!(p2["status"], "requires_action");
    assert!(p2["client_secret"].as_str().unwrap().contains("_secret_"));
    let pi2 = p2["provider_ref"].as_str().unwrap();
    stripe.confirm(pi2, "pm_card_visa").await;
    let paid = stripe.call(Method::GET, &format!("/v1/payment_intents/{pi2}"), &[]).await;
    let forged = succeeded_event("evt_mirai_forged", &paid);
    assert_problem(&webhook(&app, &forged, "whsec_attacker", now).await, 400, "invalid-signature");
    assert_problem(&webhook(&app, &forged, SECRET, now - 3600).await, 400, "invalid-signature");
    let res = app.http.post(app.url("/api/v1/billing/providers/stripe/webhook")).body("{}").send().await.unwrap();
    assert_eq!(res.status(), 400);
    let (_, o) = app.get(&format!("/api/v1/marketplace/orders/{pending}"), &buyer).await;
    assert_eq!(o["status"], "pending_payment", "nothing applied from a bad signature");
    assert_eq!(webhook(&app, &forged, SECRET, now).await.1, json!({ "new": true }));
    order_in(&app, &buyer, &pending, "completed").await;
    assert_eq!(licenses(&app, &buyer).await.len(), 2);
    assert_eq!(balances(&app).await["totals"]["EUR"], 0);
}

fn at(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap_or_else(|| panic!("a time: {v}")).parse().unwrap()
}

/// What the buyer's admins see of its one subscription, once `ok` holds.
async fn subscription(app: &TestApp, buyer: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    poll(what, Duration::from_secs(20), || async {
        let (_, page) = app.get("/api/v1/billing/subscriptions", buyer).await;
        page["data"].get(0).filter(|s| ok(s)).cloned()
    })
    .await
}

async fn license(app: &TestApp, buyer: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    poll(what, Duration::from_secs(20), || async { licenses(app, buyer).await.into_iter().find(|l| ok(l)) }).await
}

/// Stripe's clock turns: the subscription's next period is invoiced and charged to the
/// saved card (localstripe has no clock, so the test raises the invoice as Stripe would).
async fn next_period(stripe: &Localstripe, sub: &str) -> Value {
    let at_stripe = stripe.call(Method::GET, &format!("/v1/subscriptions/{sub}"), &[]).await;
    let customer = at_stripe["customer"].as_str().unwrap();
    let inv = stripe.call(Method::POST, "/v1/invoices", &[("customer", customer), ("subscription", sub)]).await;
    let id = inv["id"].as_str().unwrap();
    let paid = stripe.call(Method::POST, &format!("/v1/invoices/{id}/pay"), &[]).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    paid
}

#[tokio::test]
async fn a_subscription_renews_its_license_each_paid_period_until_its_buyer_stops_it() {
    let stripe = Localstripe::start().await;
    let app = spawn_services(&stripe, 3600, vec![mirai_enrollment::service()]).await;
    let hook = app.url("/api/v1/billing/providers/stripe/webhook");
    stripe.send_webhooks_to(&hook, SECRET).await;
    let (provider, listing) = listed_as(
        &app,
        json!({ "pricing": "subscription", "interval": "month", "prices": { "EUR": 1000 }, "seat_packs": [1, 3] }),
    )
    .await;
    let buyer_tenant = Uuid::now_v7();
    let buyer = app.token(Some(buyer_tenant), &[Role::OrgAdmin]);

    // Three seats a month, on the buyer's card: Stripe subscribes it and takes period 1.
    let id = order(&app, &buyer, &listing, 3, Some("pm_card_visa")).await;
    let done = order_in(&app, &buyer, &id, "completed").await;
    assert_eq!(done["amount"], 3000);
    let sub = subscription(&app, &buyer, "period 1 paid", |s| s["periods_paid"] == 1 && s["status"] == "active").await;
    assert_eq!(sub["order_id"], id);
    let sub_ref = sub["provider_ref"].as_str().unwrap().to_owned();
    assert!(sub_ref.starts_with("sub_"), "{sub}");
    let at_stripe = stripe.call(Method::GET, &format!("/v1/subscriptions/{sub_ref}"), &[]).await;
    assert_eq!(at_stripe["status"], "active");
    assert_eq!(at_stripe["quantity"], 3);
    assert_eq!(at_stripe["plan"]["amount"], 1000);
    let first = license(&app, &buyer, "the license renews", |l| l["renewal_status"] == "active").await;
    assert_eq!((first["auto_renew"].clone(), first["periods"].clone()), (json!(true), json!(1)));
    let license_id = first["id"].as_str().unwrap().to_owned();
    let end1 = at(&first["ends_at"]);
    let days = (end1 - chrono::Utc::now()).num_days();
    assert!((34..=38).contains(&days), "a month's term and a week's grace: {first}");
    let pool = |end: chrono::DateTime<chrono::Utc>| {
        let (app, buyer) = (&app, &buyer);
        async move {
            poll("the pool runs to the term's end", Duration::from_secs(20), || async {
                let (_, pools) = app.get("/api/v1/enrollment/pools", buyer).await;
                pools["data"].get(0).filter(|p| p["ends_at"].is_string() && at(&p["ends_at"]) == end).cloned()
            })
            .await
        }
    };
    pool(end1).await;

    // Period 2: Stripe's invoice webhook records it as a payment of its own, the license
    // and its pool run a month longer.
    let inv2 = next_period(&stripe, &sub_ref).await;
    let second = license(&app, &buyer, "period 2 renews the license", |l| l["periods"] == 2).await;
    let end2 = at(&second["ends_at"]);
    assert!((28..=31).contains(&(end2 - end1).num_days()), "{first} then {second}");
    assert_eq!(second["auto_renew"], true);
    pool(end2).await;
    let (_, payments) = app.get(&format!("/api/v1/billing/payments?order_id={id}"), &buyer).await;
    let payments = payments["data"].as_array().unwrap().clone();
    assert_eq!(payments.len(), 2, "{payments:?}");
    assert!(payments.iter().all(|p| p["status"] == "succeeded" && p["amount"] == 3000), "{payments:?}");
    assert_eq!(payments[0]["provider_ref"], inv2["payment_intent"], "period 2 is the invoice's charge");
    let b = balances(&app).await;
    assert_eq!(account(&b, "cash:stripe"), 6000);
    assert_eq!(account(&b, &format!("payable:{provider}")), -4800);
    assert_eq!(b["totals"]["EUR"], 0, "{b}");
    let receipts = poll("a receipt per period", Duration::from_secs(20), || async {
        let (_, d) = app.get("/api/v1/billing/documents", &buyer).await;
        let n = d["data"].as_array().unwrap().iter().filter(|d| d["kind"] == "receipt").count();
        (n == 2).then_some(n)
    })
    .await;
    assert_eq!(receipts, 2);

    // The invoice's webhook again (Stripe retries): one period, one payment, one charge.
    let inv = stripe.call(Method::GET, &format!("/v1/invoices/{}", inv2["id"].as_str().unwrap()), &[]).await;
    let again = json!({ "id": "evt_mirai_invoice_again", "object": "event", "type": "invoice.payment_succeeded",
        "created": chrono::Utc::now().timestamp(), "data": { "object": inv } });
    assert_eq!(webhook(&app, &again, SECRET, chrono::Utc::now().timestamp()).await.1, json!({ "new": true }));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sub = subscription(&app, &buyer, "two periods", |s| s["periods_paid"] == 2).await;
    assert_eq!(account(&balances(&app).await, "cash:stripe"), 6000, "{sub}");

    // Period 3's webhook is lost (the endpoint is down): reconciliation records it, once.
    stripe.send_webhooks_to("http://127.0.0.1:9/unreachable", SECRET).await;
    next_period(&stripe, &sub_ref).await;
    let admin = app.platform_admin();
    let (s, r) = app.post("/api/v1/billing/reconciliations", Some(&admin), json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["paid_not_provisioned"], 1, "{r}");
    let (_, r) = app.post("/api/v1/billing/reconciliations", Some(&admin), json!({})).await;
    assert_eq!(r["paid_not_provisioned"], 0, "healed once: {r}");
    let third = license(&app, &buyer, "period 3 renews the license", |l| l["periods"] == 3).await;
    assert!(at(&third["ends_at"]) > end2);
    assert_eq!(account(&balances(&app).await, "cash:stripe"), 9000);

    // The buyer stops renewal: Stripe ends the subscription with the period paid.
    let other = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let path = format!("/api/v1/marketplace/licenses/{license_id}/renewal");
    let (s, p) = app.call(Method::PUT, &path, Some(&other), Some(json!({ "auto_renew": false }))).await;
    assert_problem(&(s, p), 404, "not-found");
    let learner = app.token(Some(buyer_tenant), &[Role::Learner]);
    let (s, p) = app.call(Method::PUT, &path, Some(&learner), Some(json!({ "auto_renew": false }))).await;
    assert_problem(&(s, p), 403, "forbidden");
    let (s, l) = app.call(Method::PUT, &path, Some(&buyer), Some(json!({ "auto_renew": false }))).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["auto_renew"], false);
    poll("Stripe stops renewing", Duration::from_secs(20), || async {
        let s = stripe.call(Method::GET, &format!("/v1/subscriptions/{sub_ref}"), &[]).await;
        (s["cancel_at_period_end"] == true).then_some(())
    })
    .await;
    let sub = subscription(&app, &buyer, "renewal stopped", |s| s["cancel_at_period_end"] == true).await;
    assert_eq!(sub["status"], "active", "the paid period runs on");
    let kept = license(&app, &buyer, "the license keeps its term", |l| l["auto_renew"] == false).await;
    assert_eq!(kept["ends_at"], third["ends_at"]);

    // A card declined for the first period: the order fails and nothing is subscribed.
    let other_buyer = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let declined = order(&app, &other_buyer, &listing, 1, Some("pm_card_chargeCustomerFail")).await;
    let failed = order_in(&app, &other_buyer, &declined, "failed").await;
    assert_eq!(failed["failure_reason"], "payment_failed");
    let sub = subscription(&app, &other_buyer, "never started", |s| s["status"] == "canceled").await;
    assert_eq!(sub["periods_paid"], 0);
    assert!(licenses(&app, &other_buyer).await.is_empty());
}

/// A manual payment's invoice, once billing raised it.
async fn open_period(app: &TestApp, buyer: &str, order: &str, period: usize) -> Value {
    poll(&format!("period {period} is invoiced"), Duration::from_secs(20), || async {
        let (_, p) = app.get(&format!("/api/v1/billing/payments?order_id={order}"), buyer).await;
        let list = p["data"].as_array().unwrap().clone();
        (list.len() == period && list[0]["status"] == "requires_action").then(|| list[0].clone())
    })
    .await
}

#[tokio::test]
async fn without_stripe_each_period_is_invoiced_ahead_and_a_revoked_license_ends_its_subscription() {
    // No Stripe key: `manual` payments, invoices a platform admin marks paid. A lead of 70
    // days makes the invoices of periods 2 and 3 due at once (not period 4's).
    let app = TestApp::spawn_with(
        &[
            mirai_authoring::service(),
            mirai_marketplace::service(),
            mirai_billing::service(),
            mirai_enrollment::service(),
        ],
        |c| {
            c.service_settings.insert("MIRAI_BILLING__RENEWAL_LEAD_SECS".into(), (70 * 86_400).to_string());
        },
    )
    .await
    .unwrap();
    let (provider, listing) = listed_as(
        &app,
        json!({ "pricing": "subscription", "interval": "month", "prices": { "EUR": 1000 }, "seat_packs": [2] }),
    )
    .await;
    let buyer_tenant = Uuid::now_v7();
    let buyer = app.token(Some(buyer_tenant), &[Role::OrgAdmin]);
    let admin = app.platform_admin();
    let id = order(&app, &buyer, &listing, 2, None).await;
    let mark_paid = |payment: Value| {
        let (app, admin) = (&app, &admin);
        async move {
            let path = format!(
                "/api/v1/billing/tenants/{buyer_tenant}/payments/{}/mark-paid",
                payment["id"].as_str().unwrap()
            );
            let (s, p) = app.post(&path, Some(admin), json!({})).await;
            assert_eq!((s.as_u16(), p["status"].clone()), (200, json!("succeeded")), "{p}");
        }
    };
    mark_paid(open_period(&app, &buyer, &id, 1).await).await;
    order_in(&app, &buyer, &id, "completed").await;
    let first = license(&app, &buyer, "period 1", |l| l["renewal_status"] == "active").await;
    let license_id = first["id"].as_str().unwrap().to_owned();

    // Period 2 is invoiced ahead of the term's end. The provider takes one seat back
    // before it is paid: that seat is refunded from period 1, and period 2's invoice is
    // for the seat left. Paid, the license runs a month longer.
    let second_invoice = open_period(&app, &buyer, &id, 2).await;
    assert_eq!(second_invoice["amount"], 2000);
    let provider_admin = app.token(Some(provider), &[Role::ProviderAdmin]);
    let refunds = format!("/api/v1/marketplace/orders/{id}/refunds");
    let (s, o) = app.post(&refunds, Some(&provider_admin), json!({ "seats": 1 })).await;
    assert_eq!(s, 200, "{o}");
    let repriced = poll("period 2 is for one seat", Duration::from_secs(20), || async {
        let path = format!("/api/v1/billing/payments/{}", second_invoice["id"].as_str().unwrap());
        let (_, p) = app.get(&path, &buyer).await;
        (p["amount"] == 1000).then_some(p)
    })
    .await;
    mark_paid(repriced).await;
    let second = license(&app, &buyer, "period 2", |l| l["periods"] == 2).await;
    assert!((28..=31).contains(&(at(&second["ends_at"]) - at(&first["ends_at"])).num_days()), "{second}");
    let sub = subscription(&app, &buyer, "two periods", |s| s["periods_paid"] == 2).await;
    assert_eq!((sub["provider"].clone(), sub["provider_ref"].clone()), (json!("manual"), Value::Null));

    // Period 3 is invoiced for the one seat; the provider takes it back too (forced)
    // before it is paid: the license is revoked, the subscription ends, its open invoice
    // is canceled and the seat is refunded from the last period paid.
    let third = open_period(&app, &buyer, &id, 3).await;
    assert_eq!(third["amount"], 1000);
    let (s, o) = app.post(&refunds, Some(&provider_admin), json!({ "seats": 1, "force": true })).await;
    assert_eq!(s, 200, "{o}");
    license(&app, &buyer, "revoked", |l| l["id"] == license_id.as_str() && l["status"] == "revoked").await;
    let ended = subscription(&app, &buyer, "the subscription ends", |s| s["status"] == "canceled").await;
    assert!(ended["canceled_at"].is_string());
    poll("the open period is canceled", Duration::from_secs(20), || async {
        let (_, p) = app.get(&format!("/api/v1/billing/payments/{}", third["id"].as_str().unwrap()), &buyer).await;
        (p["status"] == "canceled").then_some(())
    })
    .await;
    let b = poll("period 2 refunded", Duration::from_secs(20), || async {
        let b = balances(&app).await;
        (account(&b, "cash:manual") == 1000).then_some(b)
    })
    .await;
    assert_eq!(b["totals"]["EUR"], 0, "{b}");
    let (_, payments) = app.get(&format!("/api/v1/billing/payments?order_id={id}"), &buyer).await;
    let refunded: Vec<i64> =
        payments["data"].as_array().unwrap().iter().map(|p| p["refunded"].as_i64().unwrap()).collect();
    assert_eq!(refunded, vec![0, 1000, 1000], "each refund from the latest period paid");
    // Renewing a revoked license is refused.
    let path = format!("/api/v1/marketplace/licenses/{license_id}/renewal");
    let (s, p) = app.call(Method::PUT, &path, Some(&buyer), Some(json!({ "auto_renew": true }))).await;
    assert_problem(&(s, p), 409, "conflict");
}

#[tokio::test]
async fn a_refund_made_at_stripe_is_booked_once_and_mirais_own_refunds_are_not_booked_twice() {
    let stripe = Localstripe::start().await;
    let app = spawn(&stripe, 3600).await;
    let (provider, listing) = listed(&app).await;
    let buyer_tenant = Uuid::now_v7();
    let buyer = app.token(Some(buyer_tenant), &[Role::OrgAdmin]);
    let id = order(&app, &buyer, &listing, 5, Some("pm_card_visa")).await;
    order_in(&app, &buyer, &id, "completed").await;
    let payment = payment_of(&app, &buyer, &id).await;
    let pi = payment["provider_ref"].as_str().unwrap().to_owned();
    let refunded = |amount: i64| {
        let (app, buyer, path) =
            (&app, &buyer, format!("/api/v1/billing/payments/{}", payment["id"].as_str().unwrap()));
        async move {
            poll(&format!("{amount} refunded"), Duration::from_secs(20), || async {
                let (_, p) = app.get(&path, buyer).await;
                (p["refunded"] == amount).then_some(p)
            })
            .await
        }
    };
    let charge_refunded = |event: &str| {
        json!({ "id": event, "object": "event", "type": "charge.refunded", "created": chrono::Utc::now().timestamp(),
                "data": { "object": { "id": "ch_from_dashboard", "object": "charge", "payment_intent": pi } } })
    };

    // Someone refunds one seat in Stripe's dashboard; Stripe says `charge.refunded`.
    stripe.call(Method::POST, "/v1/refunds", &[("payment_intent", &pi), ("amount", "4900")]).await;
    let now = chrono::Utc::now().timestamp();
    assert_eq!(webhook(&app, &charge_refunded("evt_mirai_dashboard_1"), SECRET, now).await.1, json!({ "new": true }));
    refunded(4900).await;
    let (_, r) = app.get(&format!("/api/v1/billing/tenants/{buyer_tenant}/refunds"), &buyer).await;
    assert_eq!(r["data"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(
        (r["data"][0]["reason"].clone(), r["data"][0]["status"].clone()),
        (json!("at_provider"), json!("succeeded"))
    );
    // Told again (another event about the same charge): booked once.
    assert_eq!(webhook(&app, &charge_refunded("evt_mirai_dashboard_2"), SECRET, now).await.1, json!({ "new": true }));
    tokio::time::sleep(Duration::from_secs(2)).await;
    refunded(4900).await;

    // Mirai's own refund (the provider takes a seat back): its webhook books nothing more.
    let provider_admin = app.token(Some(provider), &[Role::ProviderAdmin]);
    let (s, o) = app
        .post(&format!("/api/v1/marketplace/orders/{id}/refunds"), Some(&provider_admin), json!({ "seats": 1 }))
        .await;
    assert_eq!(s, 200, "{o}");
    refunded(9800).await;
    assert_eq!(webhook(&app, &charge_refunded("evt_mirai_own_refund"), SECRET, now).await.1, json!({ "new": true }));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p = refunded(9800).await;
    assert_eq!(p["status"], "succeeded");

    // The books follow Stripe: 245 € taken, 98 € given back; each refund has a credit note.
    let b = balances(&app).await;
    assert_eq!(account(&b, "cash:stripe"), 24500 - 9800);
    assert_eq!(b["totals"]["EUR"], 0, "{b}");
    let notes = poll("a credit note per refund", Duration::from_secs(20), || async {
        let (_, d) = app.get("/api/v1/billing/documents", &buyer).await;
        let n = d["data"].as_array().unwrap().iter().filter(|d| d["kind"] == "credit_note").count();
        (n == 2).then_some(n)
    })
    .await;
    assert_eq!(notes, 2);
}

/// Stripe at the wire as billing sees it in production, through a local proxy: every
/// request goes on to localstripe, except balance transactions, which localstripe books
/// without a fee; the proxy answers them with Stripe's European card fee (1.5 % + 25).
async fn stripe_with_fees(stripe: &Localstripe) -> String {
    use axum::{
        body::Bytes,
        extract::State,
        http::{HeaderMap, Method as M, StatusCode, Uri, header},
        response::IntoResponse,
    };
    async fn forward(
        State(upstream): State<String>,
        method: M,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let http = reqwest::Client::new();
        if method == M::GET
            && let Some(id) = uri.path().strip_prefix("/v1/balance_transactions/")
        {
            let res = http
                .get(format!("{upstream}/v1/balance/history/{id}"))
                .bearer_auth(mirai_testkit::localstripe::SECRET_KEY)
                .send()
                .await
                .unwrap();
            let mut txn: Value = res.json().await.unwrap();
            let amount = txn["amount"].as_i64().unwrap_or(0);
            let fee = amount * 15 / 1000 + 25;
            txn["fee"] = json!(fee);
            txn["net"] = json!(amount - fee);
            return axum::Json(txn).into_response();
        }
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut req = http.request(method, format!("{upstream}{path}")).body(body);
        for (k, v) in &headers {
            if k != header::HOST && k != header::CONTENT_LENGTH {
                req = req.header(k, v);
            }
        }
        let res = req.send().await.unwrap();
        let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
        let kind = res.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = res.bytes().await.unwrap();
        let mut out = (status, bytes).into_response();
        if let Some(k) = kind {
            out.headers_mut().insert(header::CONTENT_TYPE, k);
        }
        out
    }
    let app = axum::Router::new().fallback(forward).with_state(stripe.base.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn what_stripe_keeps_of_a_payment_is_booked_once_as_the_platforms_expense() {
    let stripe = Localstripe::start().await;
    let app = spawn_at(stripe_with_fees(&stripe).await, 3600, vec![]).await;
    let (provider, listing) = listed(&app).await;
    let buyer = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let id = order(&app, &buyer, &listing, 5, Some("pm_card_visa")).await;
    order_in(&app, &buyer, &id, "completed").await;
    // 245 €: Stripe keeps 1.5 % + 0.25 € = 3.92 €, out of the platform's share.
    let fee = 24500 * 15 / 1000 + 25;
    let p = poll("the fee is booked", Duration::from_secs(20), || async {
        let p = payment_of(&app, &buyer, &id).await;
        p["processor_fee"].is_i64().then_some(p)
    })
    .await;
    assert_eq!(p["processor_fee"], fee);
    let b = balances(&app).await;
    assert_eq!(account(&b, "expense:processor_fees"), fee);
    assert_eq!(account(&b, "cash:stripe"), 24500 - fee);
    assert_eq!(account(&b, &format!("payable:{provider}")), -19600, "the provider's share is on the price");
    assert_eq!(b["totals"]["EUR"], 0, "{b}");
}

#[tokio::test]
async fn a_payment_nobody_heard_of_is_provisioned_exactly_once_by_reconciliation() {
    let stripe = Localstripe::start().await;
    // No webhook reaches billing (as if it crashed when Stripe called); reconciliation
    // runs every second.
    let app = spawn(&stripe, 1).await;
    let (_, listing) = listed(&app).await;
    let buyer = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let id = order(&app, &buyer, &listing, 10, None).await;
    let payment = payment_of(&app, &buyer, &id).await;
    stripe.confirm(payment["provider_ref"].as_str().unwrap(), "pm_card_visa").await;

    let o = order_in(&app, &buyer, &id, "completed").await;
    assert_eq!(o["seats"], 10);
    // Later runs (scheduled, and one by hand) find nothing more to heal.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (s, r) = app.call(Method::POST, "/api/v1/billing/reconciliations", Some(&app.platform_admin()), None).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r, json!({ "paid_not_provisioned": 0 }));
    assert_eq!(licenses(&app, &buyer).await.len(), 1);
    let (_, p) = app.get(&format!("/api/v1/billing/payments?order_id={id}"), &buyer).await;
    assert_eq!(p["data"][0]["status"], "succeeded");
    assert_eq!(balances(&app).await["totals"]["EUR"], 0);
    let (s, _) = app.call(Method::POST, "/api/v1/billing/reconciliations", Some(&buyer), None).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn declines_cancellations_and_refunds_move_orders_licenses_and_the_ledger_to_zero() {
    let stripe = Localstripe::start().await;
    let app = spawn(&stripe, 3600).await;
    stripe.send_webhooks_to(&app.url("/api/v1/billing/providers/stripe/webhook"), SECRET).await;
    let (provider, listing) = listed(&app).await;
    let buyer = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let provider_admin = app.token(Some(provider), &[Role::ProviderAdmin]);

    // A declined card fails the order; nothing is booked.
    let declined = order(&app, &buyer, &listing, 1, Some("pm_card_chargeCustomerFail")).await;
    let o = order_in(&app, &buyer, &declined, "failed").await;
    assert_eq!(o["failure_reason"], "payment_failed");

    // Canceled before paying: billing cancels the PaymentIntent at Stripe.
    let canceled = order(&app, &buyer, &listing, 1, None).await;
    let p = payment_of(&app, &buyer, &canceled).await;
    let (s, o) =
        app.call(Method::POST, &format!("/api/v1/marketplace/orders/{canceled}/cancel"), Some(&buyer), None).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["status"], "canceled");
    let pi = p["provider_ref"].as_str().unwrap().to_owned();
    poll("Stripe's PaymentIntent is canceled", Duration::from_secs(20), || async {
        let v = stripe.call(Method::GET, &format!("/v1/payment_intents/{pi}"), &[]).await;
        (v["status"] == "canceled").then_some(())
    })
    .await;

    // Ten seats paid; the provider takes back 4, then the other 6.
    let id = order(&app, &buyer, &listing, 10, Some("pm_card_visa")).await;
    order_in(&app, &buyer, &id, "completed").await;
    let (s, p) =
        app.post(&format!("/api/v1/marketplace/orders/{id}/refunds"), Some(&buyer), json!({ "seats": 4 })).await;
    assert!(s == 403 || s == 404, "the buyer does not refund itself: {s} {p}");
    let (s, p) = app
        .post(&format!("/api/v1/marketplace/orders/{id}/refunds"), Some(&provider_admin), json!({ "seats": 11 }))
        .await;
    assert_problem(&(s, p), 422, "validation");
    let (s, o) = app
        .post(&format!("/api/v1/marketplace/orders/{id}/refunds"), Some(&provider_admin), json!({ "seats": 4 }))
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["refunded_seats"], 4);
    assert_eq!(licenses(&app, &buyer).await[0]["seats"], 6);
    let refunded = |n: i64| {
        let app = &app;
        let buyer = &buyer;
        let id = &id;
        async move {
            wait_until("billing refunded at Stripe", Duration::from_secs(20), || async {
                let (_, p) = app.get(&format!("/api/v1/billing/payments?order_id={id}"), buyer).await;
                p["data"][0]["refunded"] == n
            })
            .await
        }
    };
    refunded(19600).await;
    let b = balances(&app).await;
    // 490 € paid, 196 € back: 294 € left, 235.20 € of it the provider's.
    assert_eq!(account(&b, "cash:stripe"), 49000 - 19600);
    assert_eq!(account(&b, &format!("payable:{provider}")), -(29400 - 5880));
    assert_eq!(b["totals"]["EUR"], 0);
    let (s, o) = app
        .post(&format!("/api/v1/marketplace/orders/{id}/refunds"), Some(&provider_admin), json!({ "seats": 6 }))
        .await;
    assert_eq!(s, 200, "{o}");
    let l = &licenses(&app, &buyer).await[0];
    assert_eq!((l["seats"].clone(), l["status"].clone()), (json!(0), json!("revoked")));
    refunded(49000).await;
    let refunds = stripe
        .call(
            Method::GET,
            "/v1/refunds",
            &[("payment_intent", payment_of(&app, &buyer, &id).await["provider_ref"].as_str().unwrap())],
        )
        .await;
    assert_eq!(refunds["data"].as_array().unwrap().iter().map(|r| r["amount"].as_i64().unwrap()).sum::<i64>(), 49000);
    let b = balances(&app).await;
    for name in ["cash:stripe", "revenue:platform", &format!("payable:{provider}")] {
        assert_eq!(account(&b, name), 0, "{name}: {b}");
    }
    assert_eq!(b["totals"]["EUR"], 0);

    // The buyer has a receipt for the payment and a credit note for each refund, numbered
    // on from one issuer's sequence without gaps.
    let docs = poll("a receipt and two credit notes", Duration::from_secs(20), || async {
        let (_, d) = app.get("/api/v1/billing/documents", &buyer).await;
        d["data"].as_array().filter(|d| d.len() == 3).cloned()
    })
    .await;
    let mut numbered: Vec<(String, String, i64)> = docs
        .iter()
        .map(|d| {
            (
                d["number"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                d["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    numbered.sort();
    assert_eq!(
        numbered,
        vec![
            ("MIR-00000001".to_owned(), "receipt".to_owned(), 49000),
            ("MIR-00000002".to_owned(), "credit_note".to_owned(), 19600),
            ("MIR-00000003".to_owned(), "credit_note".to_owned(), 29400),
        ]
    );
    let receipt = docs.iter().find(|d| d["kind"] == "receipt").unwrap();
    assert_eq!(receipt["lines"][0]["quantity"], 10);
    assert_eq!(receipt["lines"][0]["unit_amount"], 4900);
    let rid = receipt["id"].as_str().unwrap();
    let res = app
        .http
        .get(app.url(&format!("/api/v1/billing/documents/{rid}/html")))
        .bearer_auth(&buyer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Receipt MIR-00000001") && html.contains("490.00 EUR") && html.contains("49.00 EUR"),
        "{html}"
    );
    let credit = docs.iter().find(|d| d["number"] == "MIR-00000002").unwrap();
    assert!(credit["lines"][0]["description"].as_str().unwrap().contains("MIR-00000001"), "{credit}");
    // Nobody else reads them.
    let stranger = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let (s, _) = app.get(&format!("/api/v1/billing/documents/{rid}"), &stranger).await;
    assert_eq!(s, 404);
    let (s, _) = app.get(&format!("/api/v1/billing/documents/{rid}/html"), &provider_admin).await;
    assert_eq!(s, 403);
}

/// Stripe Connect's transfers at the wire: answers `POST /v1/transfers` as Stripe does
/// (form-encoded, bearer key, `Idempotency-Key` honoured) and keeps what it was sent.
mod connect {
    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
    };

    use axum::{Form, Json, Router, extract::State, http::HeaderMap, routing::post};
    use serde_json::{Value, json};

    #[derive(Clone, Default)]
    pub struct Seen(pub Arc<Mutex<HashMap<String, HashMap<String, String>>>>);

    async fn transfer(
        State(seen): State<Seen>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> (axum::http::StatusCode, Json<Value>) {
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sk_test_mirai") {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                Json(json!({ "error": { "type": "invalid_request_error", "message": "bad key" } })),
            );
        }
        let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if form.get("destination").is_some_and(|d| d == "acct_closed") {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                Json(
                    json!({ "error": { "type": "invalid_request_error", "message": "No such destination: 'acct_closed'" } }),
                ),
            );
        }
        let mut seen = seen.0.lock().unwrap();
        seen.entry(key.clone()).or_insert(form);
        (axum::http::StatusCode::OK, Json(json!({ "id": format!("tr_{}", &key[7..20]), "object": "transfer" })))
    }

    pub async fn start() -> (Seen, String) {
        let seen = Seen::default();
        let app = Router::new().route("/v1/transfers", post(transfer)).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (seen, base)
    }
}

#[tokio::test]
async fn a_payout_run_pays_every_provider_what_it_is_owed_and_the_books_balance() {
    let (transfers, base) = connect::start().await;
    // Invoices paid outside (manual), providers paid by Stripe Connect or the bank's CSV.
    let app = TestApp::spawn_with(
        &[mirai_authoring::service(), mirai_marketplace::service(), mirai_billing::service()],
        move |c| {
            let s = &mut c.service_settings;
            s.insert("MIRAI_BILLING__PROVIDER".into(), "manual".into());
            s.insert("MIRAI_BILLING__STRIPE_API_BASE".into(), base);
            s.insert("MIRAI_BILLING__STRIPE_SECRET_KEY".into(), "sk_test_mirai".into());
            s.insert("MIRAI_BILLING__RECONCILE_EVERY_SECS".into(), "3600".into());
        },
    )
    .await
    .unwrap();
    let root = app.platform_admin();
    let buyer_tenant = Uuid::now_v7();
    let buyer = app.token(Some(buyer_tenant), &[Role::OrgAdmin]);
    let mut providers = vec![];
    for account in [Some("acct_1Mirai"), None, Some("acct_closed")] {
        let (provider, listing) = listed(&app).await;
        let admin = app.token(Some(provider), &[Role::ProviderAdmin]);
        let body = match account {
            Some(a) => json!({ "method": "stripe_connect", "stripe_account": a }),
            None => json!({ "method": "csv" }),
        };
        let (s, a) = app.call(Method::PUT, "/api/v1/billing/payout-account", Some(&admin), Some(body)).await;
        assert_eq!(s, 200, "{a}");
        // 5 seats, invoiced, paid outside, marked paid.
        let id = order(&app, &buyer, &listing, 5, None).await;
        let payment = poll("billing invoiced the order", Duration::from_secs(20), || async {
            let (_, p) = app.get(&format!("/api/v1/billing/payments?order_id={id}"), &buyer).await;
            p["data"].get(0).filter(|p| p["status"] == "requires_action").cloned()
        })
        .await;
        let (s, p) = app
            .call(
                Method::POST,
                &format!(
                    "/api/v1/billing/tenants/{buyer_tenant}/payments/{}/mark-paid",
                    payment["id"].as_str().unwrap()
                ),
                Some(&root),
                None,
            )
            .await;
        assert_eq!((s.as_u16(), p["status"].as_str()), (200, Some("succeeded")), "{p}");
        order_in(&app, &buyer, &id, "completed").await;
        providers.push((provider, admin, id));
    }
    let (s, a) = app
        .call(
            Method::PUT,
            "/api/v1/billing/payout-account",
            Some(&providers[0].1),
            Some(json!({ "method": "stripe_connect" })),
        )
        .await;
    assert_problem(&(s, a), 422, "validation");
    let (s, _) = app.call(Method::POST, "/api/v1/billing/payout-runs", Some(&providers[0].1), None).await;
    assert_eq!(s, 403, "providers do not pay themselves");

    // Each is owed 196 € (245 € less the platform's 20 %).
    let (s, run) = app.call(Method::POST, "/api/v1/billing/payout-runs", Some(&root), None).await;
    assert_eq!(s, 201, "{run}");
    let lines = run["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{run}");
    assert!(lines.iter().all(|l| l["amount"] == 19600 && l["currency"] == "EUR"), "{run}");
    let csv_line = lines.iter().find(|l| l["method"] == "csv").unwrap();
    let run_id = run["id"].as_str().unwrap();
    let res = app
        .http
        .get(app.url(&format!("/api/v1/billing/payout-runs/{run_id}/csv")))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    assert_eq!(
        csv,
        format!(
            "payout_id,provider_tenant_id,currency,amount_minor\r\n{},{},EUR,19600\r\n",
            csv_line["payout_id"].as_str().unwrap(),
            providers[1].0
        )
    );

    // The transfer arrives once; the refused one is owed again.
    let payouts = |i: usize| {
        let (app, admin) = (&app, providers[i].1.clone());
        async move { app.get("/api/v1/billing/payouts", &admin).await.1["data"][0].clone() }
    };
    wait_until("the transfer is paid", Duration::from_secs(20), || async { payouts(0).await["status"] == "paid" })
        .await;
    wait_until("the refused transfer failed", Duration::from_secs(20), || async {
        payouts(2).await["status"] == "failed"
    })
    .await;
    assert_eq!(payouts(1).await["status"], "exported");
    {
        let seen = transfers.0.lock().unwrap();
        assert_eq!(seen.len(), 1, "one transfer");
        let t = seen.values().next().unwrap();
        assert_eq!(
            (t["destination"].as_str(), t["amount"].as_str(), t["currency"].as_str()),
            ("acct_1Mirai", "19600", "eur")
        );
        assert_eq!(t["transfer_group"], run_id);
    }
    let b = balances(&app).await;
    assert_eq!(account(&b, &format!("payable:{}", providers[0].0)), 0);
    assert_eq!(account(&b, &format!("payable:{}", providers[1].0)), 0);
    assert_eq!(account(&b, &format!("payable:{}", providers[2].0)), -19600, "owed again after the refusal");
    assert_eq!(account(&b, "cash:manual"), 3 * 24500 - 2 * 19600);
    assert_eq!(account(&b, "revenue:platform"), -3 * 4900);
    assert_eq!(b["totals"]["EUR"], 0, "{b}");

    // A second run pays only what is still owed.
    app.call(Method::PUT, "/api/v1/billing/payout-account", Some(&providers[2].1), Some(json!({ "method": "csv" })))
        .await;
    let (_, again) = app.call(Method::POST, "/api/v1/billing/payout-runs", Some(&root), None).await;
    let lines = again["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{again}");
    assert_eq!(lines[0]["provider_tenant_id"], providers[2].0.to_string());
    let b = balances(&app).await;
    for (p, _, _) in &providers {
        assert_eq!(account(&b, &format!("payable:{p}")), 0);
    }
    assert_eq!(b["totals"]["EUR"], 0);

    // Paid out, a provider's refund would come out of the platform's pocket: it is held.
    let (_, admin, order) = &providers[1];
    let (s, o) =
        app.post(&format!("/api/v1/marketplace/orders/{order}/refunds"), Some(admin), json!({ "seats": 1 })).await;
    assert_eq!(s, 200, "{o}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, p) = app.get(&format!("/api/v1/billing/payments?order_id={order}"), &buyer).await;
    assert_eq!(p["data"][0]["refunded"], 0, "no money back that the provider no longer holds");
    let after = balances(&app).await;
    assert_eq!(after["accounts"], b["accounts"], "the books did not move");

    // A platform admin decides to refund anyway: the buyer gets the money back and the
    // provider owes its share (a positive payable balance), the books still balanced.
    let (provider, _, _) = &providers[1];
    let (_, held) = app.get(&format!("/api/v1/billing/tenants/{buyer_tenant}/refunds?status=held"), &root).await;
    let refund = held["data"][0]["id"].as_str().expect("a held refund").to_owned();
    let release = format!("/api/v1/billing/tenants/{buyer_tenant}/refunds/{refund}/release");
    let (s, _) = app.call(Method::POST, &release, Some(admin), None).await;
    assert_eq!(s, 403, "a provider does not release refunds");
    let (s, _) = app.call(Method::POST, &release, Some(&root), None).await;
    assert_eq!(s, 202);
    let (s, p) = app.call(Method::POST, &release, Some(&root), None).await;
    assert_problem(&(s, p), 409, "conflict");
    wait_until("the released refund is paid back", Duration::from_secs(20), || async {
        let (_, p) = app.get(&format!("/api/v1/billing/payments?order_id={order}"), &buyer).await;
        p["data"][0]["refunded"] == 4900
    })
    .await;
    let b = balances(&app).await;
    // One seat of five back (4,900), 80 % of it the provider's: it owes 3,920.
    assert_eq!(account(&b, &format!("payable:{provider}")), 3920, "the provider owes its share");
    assert_eq!(b["totals"]["EUR"], 0, "{b}");
}
