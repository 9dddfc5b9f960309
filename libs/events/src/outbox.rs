//! The transactional outbox: an event is a row written in the same transaction as the
//! domain change it describes; the relay publishes it after commit.

use sqlx::PgConnection;

use crate::{Envelope, EventMeta, NewEvent};

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Contract(#[from] mirai_contracts::ContractError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Validates `event` against its contract and writes it to the outbox inside the
/// caller's transaction. Returns the envelope as it will be published.
pub async fn enqueue(
    conn: &mut PgConnection,
    source: &str,
    meta: &EventMeta,
    event: NewEvent,
) -> Result<Envelope, OutboxError> {
    mirai_contracts::validate(event.subject, &event.data)?;
    let envelope = event.into_envelope(source, meta);
    sqlx::query(
        "INSERT INTO outbox (id, tenant_id, subject, payload, traceparent, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(envelope.id)
    .bind(envelope.tenantid)
    .bind(&envelope.kind)
    .bind(sqlx::types::Json(&envelope))
    .bind(&envelope.traceparent)
    .bind(envelope.time)
    .execute(conn)
    .await?;
    Ok(envelope)
}

/// Enqueues several events in order.
pub async fn enqueue_all(
    conn: &mut PgConnection,
    source: &str,
    meta: &EventMeta,
    events: impl IntoIterator<Item = NewEvent>,
) -> Result<Vec<Envelope>, OutboxError> {
    let mut out = Vec::new();
    for e in events {
        out.push(enqueue(&mut *conn, source, meta, e).await?);
    }
    Ok(out)
}
