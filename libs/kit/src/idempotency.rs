//! `Idempotency-Key` on writes: the same key and body get the first response again; the
//! same key with a different body is a 422; a request still in flight under the key is a
//! 409. Keys are scoped to the principal (and RLS-scoped to its tenant) and kept at least
//! 24 hours. A 5xx is not stored, so the client's retry runs again.
//!
//! The response is recorded in the same transaction as the effect it guards: inside an
//! idempotent request the handler's last `Tx::commit` parks its transaction here, the
//! layer writes the response into it and commits once. A crash before that commit loses
//! both (the retry runs again); after it, the retry gets the recorded response.

use std::sync::{Arc, Mutex};

use axum::{
    body::{Body, to_bytes},
    extract::{OriginalUri, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Row, Transaction};

use crate::{Principal, db::Db, error::AppError};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long an in-flight claim blocks retries before a crashed request's key is taken over.
const IN_FLIGHT_TIMEOUT_SECS: i64 = 60;
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

type Parked = Arc<Mutex<Option<Transaction<'static, Postgres>>>>;

tokio::task_local! {
    /// The idempotent request's committed-but-not-yet-durable transaction.
    static PARKED: Parked;
}

/// `Tx::commit`: parks the transaction when the task serves an idempotent request (the
/// one parked before it commits now), commits it otherwise.
pub(crate) async fn commit_or_park(tx: Transaction<'static, Postgres>) -> Result<(), sqlx::Error> {
    match PARKED.try_with(Arc::clone) {
        Ok(slot) => {
            let earlier = slot.lock().expect("parking lot").replace(tx);
            match earlier {
                Some(t) => t.commit().await,
                None => Ok(()),
            }
        }
        Err(_) => tx.commit().await,
    }
}

/// Commits a parked transaction before the request opens another, so what it committed
/// is visible to it.
pub(crate) async fn flush_parked() -> Result<(), sqlx::Error> {
    let earlier = PARKED.try_with(|slot| slot.lock().expect("parking lot").take()).ok().flatten();
    match earlier {
        Some(t) => t.commit().await,
        None => Ok(()),
    }
}

#[derive(Clone)]
pub struct IdempotencyState {
    pub db: Db,
    pub body_limit: usize,
}

fn problem(status: StatusCode, slug: &'static str, title: &'static str, detail: &str) -> Response {
    AppError::client(status, slug, title, detail).into_response()
}

pub async fn layer(State(state): State<IdempotencyState>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        return next.run(req).await;
    }
    let Some(raw_key) = req.headers().get(&IDEMPOTENCY_KEY) else {
        return next.run(req).await;
    };
    let key = match raw_key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => k.to_owned(),
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            );
        }
    };
    // Unauthenticated writes (login) are not replayable across callers: pass through.
    let Some(principal) = req.extensions().get::<Principal>().cloned() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, state.body_limit).await {
        Ok(b) => b,
        Err(e) => return crate::extract::body_read_error(&e).into_response(),
    };
    let fingerprint = {
        let mut h = Sha256::new();
        h.update(parts.method.as_str().as_bytes());
        h.update(b" ");
        // The full path: inside a nested router `parts.uri` has lost the service prefix.
        let uri = parts.extensions.get::<OriginalUri>().map(|o| &o.0).unwrap_or(&parts.uri);
        h.update(uri.path_and_query().map(|p| p.as_str()).unwrap_or("").as_bytes());
        h.update(b"\n");
        h.update(&bytes);
        hex::encode(h.finalize())
    };
    match claim(&state.db, &principal, &key, &fingerprint).await {
        Ok(Claim::Fresh) => {}
        Ok(Claim::Replay(res)) => return res,
        Ok(Claim::Mismatch) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used with a different request",
            );
        }
        Ok(Claim::InFlight) => {
            return problem(
                StatusCode::CONFLICT,
                "idempotency-key-in-flight",
                "Request in flight",
                "a request with this Idempotency-Key is still being processed; retry later",
            );
        }
        Err(e) => return AppError::Internal(e.into()).into_response(),
    }
    let slot: Parked = Arc::default();
    let res = PARKED.scope(slot.clone(), next.run(Request::from_parts(parts, Body::from(bytes)))).await;
    let parked = slot.lock().expect("parking lot").take();
    // A stream (server-sent events) is not replayable: what the handler committed stands,
    // the key is released, and the response streams through unbuffered.
    let streamed =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if streamed {
        if let Some(tx) = parked
            && let Err(e) = tx.commit().await
        {
            let _ = release(&state.db, &principal, &key).await;
            return AppError::Unavailable(format!("the change could not be committed: {e}")).into_response();
        }
        let _ = release(&state.db, &principal, &key).await;
        return res;
    }
    let (res_parts, res_body) = res.into_parts();
    let res_bytes = match to_bytes(res_body, MAX_RESPONSE_BYTES).await {
        Ok(b) if !res_parts.status.is_server_error() => b,
        outcome => {
            // Not answered: whatever the handler did is rolled back with its transaction.
            drop(parked);
            let _ = release(&state.db, &principal, &key).await;
            return match outcome {
                Ok(b) => Response::from_parts(res_parts, Body::from(b)),
                Err(e) => AppError::Internal(anyhow::anyhow!("buffering response: {e}")).into_response(),
            };
        }
    };
    let recorded = match parked {
        Some(tx) => store_in(tx, &principal, &key, res_parts.status, &res_parts.headers, &res_bytes).await,
        None => match tx(&state.db, &principal).await {
            Ok(t) => store_in(t.0, &principal, &key, res_parts.status, &res_parts.headers, &res_bytes).await,
            Err(e) => Err(e),
        },
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "idempotency: the change and its response could not be committed");
        let _ = release(&state.db, &principal, &key).await;
        return AppError::Unavailable("the change could not be committed; retry with the same Idempotency-Key".into())
            .into_response();
    }
    Response::from_parts(res_parts, Body::from(res_bytes))
}

enum Claim {
    Fresh,
    Replay(Response),
    Mismatch,
    InFlight,
}

async fn tx(db: &Db, p: &Principal) -> Result<crate::db::Tx, sqlx::Error> {
    match p.tenant_id {
        Some(t) => db.tenant_tx(t).await,
        None => db.platform_tx().await,
    }
}

async fn claim(db: &Db, p: &Principal, key: &str, fingerprint: &str) -> Result<Claim, sqlx::Error> {
    let mut t = tx(db, p).await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, principal, key, fingerprint, state) \
         VALUES ($1, $2, $3, $4, 'in_flight') ON CONFLICT DO NOTHING",
    )
    .bind(p.tenant_id)
    .bind(&p.subject)
    .bind(key)
    .bind(fingerprint)
    .execute(&mut *t)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        t.commit().await?;
        return Ok(Claim::Fresh);
    }
    let row = sqlx::query(
        "SELECT fingerprint, state, status, headers, body, \
                created_at < now() - make_interval(secs => $3) AS stale \
         FROM idempotency_keys WHERE principal = $1 AND key = $2 FOR UPDATE",
    )
    .bind(&p.subject)
    .bind(key)
    .bind(IN_FLIGHT_TIMEOUT_SECS as f64)
    .fetch_optional(&mut *t)
    .await?;
    let Some(row) = row else {
        return Ok(Claim::InFlight);
    };
    if row.get::<String, _>("fingerprint") != fingerprint {
        return Ok(Claim::Mismatch);
    }
    if row.get::<String, _>("state") == "in_flight" {
        if row.get::<bool, _>("stale") {
            // The first attempt died without an answer: this retry takes the key over.
            sqlx::query("UPDATE idempotency_keys SET created_at = now() WHERE principal = $1 AND key = $2")
                .bind(&p.subject)
                .bind(key)
                .execute(&mut *t)
                .await?;
            t.commit().await?;
            return Ok(Claim::Fresh);
        }
        return Ok(Claim::InFlight);
    }
    let status = StatusCode::from_u16(row.get::<i32, _>("status") as u16).unwrap_or(StatusCode::OK);
    let headers: sqlx::types::Json<Vec<(String, String)>> = row.get("headers");
    let body: Vec<u8> = row.get("body");
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    for (k, v) in headers.0 {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            res.headers_mut().insert(k, v);
        }
    }
    res.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
    Ok(Claim::Replay(res))
}

/// Records the response in `t` (the effect's own transaction when there is one) and
/// commits: the key's row belongs to the principal's tenant, which `t` is switched to.
async fn store_in(
    mut t: Transaction<'static, Postgres>,
    p: &Principal,
    key: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    let kept: Vec<(String, String)> = [header::CONTENT_TYPE, header::LOCATION, header::ETAG]
        .iter()
        .filter_map(|h| headers.get(h).and_then(|v| v.to_str().ok()).map(|v| (h.to_string(), v.to_owned())))
        .collect();
    mirai_events::tenancy::set_tenant(&mut t, p.tenant_id).await?;
    sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', status = $3, headers = $4, body = $5 \
         WHERE principal = $1 AND key = $2",
    )
    .bind(&p.subject)
    .bind(key)
    .bind(status.as_u16() as i32)
    .bind(sqlx::types::Json(kept))
    .bind(body)
    .execute(&mut *t)
    .await?;
    t.commit().await
}

async fn release(db: &Db, p: &Principal, key: &str) -> Result<(), sqlx::Error> {
    let mut t = tx(db, p).await?;
    sqlx::query("DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2")
        .bind(&p.subject)
        .bind(key)
        .execute(&mut *t)
        .await?;
    t.commit().await
}
