//! The payment provider's webhooks: verified by signature before anything is read
//! (an invalid one is a 400 and writes nothing), deduplicated by the provider's event
//! id, and applied through `payments::apply`, which only moves a payment forward — so
//! events arriving twice, late or out of order have one effect.

use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::Value;

use mirai_kit::AppError;

use crate::{
    AppState,
    app::{
        payments::{self, handle_to_app},
        subscriptions,
    },
    gateway::{State, state_of},
    signature, store,
};

fn bad(slug: &'static str, title: &'static str, detail: impl Into<String>) -> AppError {
    AppError::client(StatusCode::BAD_REQUEST, slug, title, detail)
}

/// What a Stripe event says of a payment.
fn state_for(kind: &str, object: &Value) -> Option<State> {
    match kind {
        "payment_intent.succeeded" => Some(State::Succeeded),
        "payment_intent.canceled" => Some(State::Canceled),
        "payment_intent.payment_failed" => Some(match state_of(object) {
            State::Declined(m) => State::Declined(m),
            _ => State::Declined(object["last_payment_error"]["message"].as_str().unwrap_or("declined").to_owned()),
        }),
        _ => None,
    }
}

/// The PaymentIntent whose charge a refund event is about.
fn refunded_payment(kind: &str, object: &Value) -> Option<String> {
    if !matches!(kind, "charge.refunded" | "charge.refund.updated" | "refund.created" | "refund.updated") {
        return None;
    }
    let pi = object["payment_intent"].as_str().or_else(|| object["payment_intent"]["id"].as_str())?;
    (!pi.is_empty() && pi.len() <= 255 && pi.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| pi.to_owned())
}

/// The subscription (and invoice) a Stripe event is about, if it is about one.
fn subscription_of(kind: &str, object: &Value) -> Option<(String, Option<String>)> {
    let id = |v: &Value| v.as_str().or_else(|| v["id"].as_str()).map(str::to_owned);
    let safe =
        |s: &String| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let (sub, invoice) = match kind {
        "invoice.paid" | "invoice.payment_succeeded" | "invoice.payment_failed" => {
            let sub =
                id(&object["subscription"]).or_else(|| id(&object["parent"]["subscription_details"]["subscription"]));
            (sub?, Some(id(&object["id"])?))
        }
        "customer.subscription.updated" | "customer.subscription.deleted" => (id(&object["id"])?, None),
        _ => return None,
    };
    (safe(&sub) && invoice.as_ref().is_none_or(safe)).then_some((sub, invoice))
}

/// Applies one Stripe event (the body as received). Returns whether it was new.
pub async fn stripe(state: &AppState, signature_header: Option<&str>, body: &[u8]) -> Result<bool, AppError> {
    let secrets: Vec<&str> = state.settings.webhook_secrets.iter().map(|s| s.expose_secret()).collect();
    let now = chrono::Utc::now().timestamp();
    let tolerance = state.settings.webhook_tolerance.as_secs() as i64;
    signature::verify(signature_header, body, &secrets, now, tolerance)
        .map_err(|e| bad("invalid-signature", "Invalid webhook signature", e.detail()))?;
    let event: Value =
        serde_json::from_slice(body).map_err(|e| bad("invalid-event", "Invalid webhook event", e.to_string()))?;
    let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
        return Err(bad("invalid-event", "Invalid webhook event", "an event has a string `id` and `type`"));
    };
    if id.len() > 255 || kind.len() > 255 {
        return Err(bad("invalid-event", "Invalid webhook event", "`id` and `type` are at most 255 characters"));
    }
    let object = &event["data"]["object"];
    if let Some((sub, invoice)) = subscription_of(kind, object) {
        // A subscription's invoice or the subscription itself: a job reads both back from
        // Stripe and applies them (`subscriptions::sync`).
        let mut tx = state.ctx.db.platform_tx().await?;
        let new = store::provider_event_insert(&mut tx, "stripe", id, kind).await?;
        if new {
            subscriptions::queue_sync(&mut tx, id, &sub, invoice.as_deref()).await?;
        }
        tx.commit().await?;
        return Ok(new);
    }
    if let Some(pi) = refunded_payment(kind, object) {
        // Refunds made at Stripe: a job reads the payment's refunds back and books those
        // billing did not make (`payments::SyncRefunds`).
        let mut tx = state.ctx.db.platform_tx().await?;
        let new = store::provider_event_insert(&mut tx, "stripe", id, kind).await?;
        if new {
            let job = mirai_events::jobs::NewJob {
                dedupe_key: Some(format!("sync-refunds:{id}")),
                max_attempts: 12,
                ..mirai_events::jobs::NewJob::new(
                    payments::SYNC_REFUNDS_JOB,
                    serde_json::json!({ "payment_intent": pi }),
                )
            };
            mirai_events::jobs::enqueue(&mut tx, job).await?;
        }
        tx.commit().await?;
        return Ok(new);
    }
    let meta = |k: &str| object["metadata"][k].as_str().and_then(|s| s.parse::<uuid::Uuid>().ok());
    let (Some(state_now), Some(tenant), Some(payment)) =
        (state_for(kind, object), meta("mirai_tenant_id"), meta("mirai_payment_id"))
    else {
        // Not about one of our payments: logged as seen, nothing else.
        let mut tx = state.ctx.db.platform_tx().await?;
        let new = store::provider_event_insert(&mut tx, "stripe", id, kind).await?;
        tx.commit().await?;
        return Ok(new);
    };
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    if !store::provider_event_insert(&mut tx, "stripe", id, kind).await? {
        tx.commit().await?;
        return Ok(false);
    }
    let row = store::payment_get(&mut tx, payment.into(), true).await?;
    match row {
        // The event must be about the PaymentIntent billing made for this payment.
        Some(p) if p.provider == "stripe" && p.provider_ref.as_deref() == object["id"].as_str() => {
            payments::apply(&mut tx, &p, &state_now, "webhook", &payments::system("stripe"))
                .await
                .map_err(handle_to_app)?;
        }
        _ => tracing::warn!(event = id, kind, "a signed provider event names a payment billing does not have"),
    }
    tx.commit().await?;
    Ok(true)
}
