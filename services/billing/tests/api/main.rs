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
    let base = stripe.base.clone();
    TestApp::spawn_with(
        &[mirai_authoring::service(), mirai_marketplace::service(), mirai_billing::service()],
        move |c| {
            let s = &mut c.service_settings;
            s.insert("MIRAI_BILLING__STRIPE_API_BASE".into(), base);
            s.insert("MIRAI_BILLING__STRIPE_SECRET_KEY".into(), "sk_test_mirai".into());
            s.insert("MIRAI_BILLING__STRIPE_WEBHOOK_SECRETS".into(), format!("whsec_mirai_test_old,{SECRET}"));
            s.insert("MIRAI_BILLING__RECONCILE_EVERY_SECS".into(), reconcile_every.to_string());
        },
    )
    .await
    .unwrap()
}

/// A provider with a published course listed at 49 € a seat; returns (provider, listing).
async fn listed(app: &TestApp) -> (Uuid, String) {
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
    let listing = json!({ "course_id": course, "version": 1, "pricing": "one_time", "prices": { "EUR": 4900, "USD": 5400 }, "seat_packs": [1, 5, 10] });
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
