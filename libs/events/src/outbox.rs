//! The transactional outbox: an event is a row written in the same transaction as the
//! domain change it describes; the relay publishes it after commit.

use sqlx::PgConnection;

use crate::{Envelope, EventMeta, NewEvent};

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Contract(#[from] mirai_contracts::ContractError),
    /// Larger than the bus carries: stored, it would sit at the head of the outbox and
    /// stop the relay for every event behind it, so it is refused here.
    #[error("event {subject} is {bytes} bytes; an event carries at most {MAX_EVENT_BYTES}")]
    TooLarge { subject: &'static str, bytes: usize },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The largest event payload (`data`) the outbox accepts: well under NATS's max_payload
/// (1 MiB by default, 8 MiB in the dev server), with room for the envelope.
pub const MAX_EVENT_BYTES: usize = 768 * 1024;

fn check_size(event: &NewEvent) -> Result<(), OutboxError> {
    let bytes = serde_json::to_vec(&event.data).map_or(usize::MAX, |v| v.len());
    if bytes > MAX_EVENT_BYTES { Err(OutboxError::TooLarge { subject: event.subject, bytes }) } else { Ok(()) }
}

/// Signs envelopes before they are stored (identity's bus-signing key).
pub trait EnvelopeSigner: Send + Sync {
    fn sign(&self, envelope: &mut Envelope);
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
    check_size(&event)?;
    let envelope = event.into_envelope(source, meta);
    insert(conn, &envelope).await?;
    Ok(envelope)
}

/// The NATS subject the relay publishes `envelope` to (keyed in compacted contexts).
fn wire_subject(envelope: &Envelope) -> String {
    crate::bus::event_subject(&envelope.kind, envelope.subject.as_deref(), envelope.tenantid)
}

async fn insert(conn: &mut PgConnection, envelope: &Envelope) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (id, tenant_id, subject, payload, traceparent, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(envelope.id)
    .bind(envelope.tenantid)
    .bind(wire_subject(envelope))
    .bind(sqlx::types::Json(envelope))
    .bind(&envelope.traceparent)
    .bind(envelope.time)
    .execute(conn)
    .await?;
    Ok(())
}

/// Enqueues several events in order, in one multi-row insert.
pub async fn enqueue_all(
    conn: &mut PgConnection,
    source: &str,
    meta: &EventMeta,
    events: impl IntoIterator<Item = NewEvent>,
) -> Result<Vec<Envelope>, OutboxError> {
    enqueue_all_signed(conn, source, meta, events, None).await
}

/// `enqueue_all`, each envelope signed by `signer` when given.
pub async fn enqueue_all_signed(
    conn: &mut PgConnection,
    source: &str,
    meta: &EventMeta,
    events: impl IntoIterator<Item = NewEvent>,
    signer: Option<&dyn EnvelopeSigner>,
) -> Result<Vec<Envelope>, OutboxError> {
    let mut envelopes = Vec::new();
    for event in events {
        mirai_contracts::validate(event.subject, &event.data)?;
        check_size(&event)?;
        let mut envelope = event.into_envelope(source, meta);
        if let Some(s) = signer {
            s.sign(&mut envelope);
        }
        envelopes.push(envelope);
    }
    match envelopes.len() {
        0 => return Ok(envelopes),
        1 => {
            insert(conn, &envelopes[0]).await?;
            return Ok(envelopes);
        }
        _ => {}
    }
    let ids: Vec<_> = envelopes.iter().map(|e| e.id).collect();
    let tenants: Vec<_> = envelopes.iter().map(|e| e.tenantid).collect();
    let subjects: Vec<_> = envelopes.iter().map(wire_subject).collect();
    let payloads: Vec<_> = envelopes.iter().map(sqlx::types::Json).collect();
    let traceparents: Vec<_> = envelopes.iter().map(|e| e.traceparent.as_deref()).collect();
    let times: Vec<_> = envelopes.iter().map(|e| e.time).collect();
    // WITH ORDINALITY keeps the sequence in the caller's order.
    sqlx::query(
        "INSERT INTO outbox (id, tenant_id, subject, payload, traceparent, created_at) \
         SELECT id, tenant_id, subject, payload, traceparent, created_at \
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::text[], $6::timestamptz[]) \
              WITH ORDINALITY AS e(id, tenant_id, subject, payload, traceparent, created_at, n) \
         ORDER BY n",
    )
    .bind(&ids)
    .bind(&tenants)
    .bind(&subjects)
    .bind(&payloads)
    .bind(&traceparents)
    .bind(&times)
    .execute(conn)
    .await?;
    Ok(envelopes)
}
