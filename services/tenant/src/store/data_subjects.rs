//! `data_subject_requests` and their per-service steps (tenant rows, RLS).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{DataSubjectRequestId, TenantId};
use mirai_kit::pagination::Cursor;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, types::Json};

#[derive(Debug, Clone, FromRow)]
pub struct RequestRow {
    pub id: DataSubjectRequestId,
    pub kind: String,
    pub subject: Json<Value>,
    pub subject_digest: String,
    pub reason: Option<String>,
    pub status: String,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromRow)]
pub struct StepRow {
    pub request_id: DataSubjectRequestId,
    pub service: String,
    pub status: String,
    pub outcome: Option<Json<Value>>,
    pub completed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, subject, subject_digest, reason, status, requested_by, created_at, completed_at";

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, request = %r.id))]
pub async fn request_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    r: &RequestRow,
    steps: &[&str],
) -> Result<RequestRow, sqlx::Error> {
    let row: RequestRow = sqlx::query_as(&format!(
        "INSERT INTO data_subject_requests (tenant_id, id, kind, subject, subject_digest, reason, status, requested_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(tenant)
    .bind(r.id)
    .bind(&r.kind)
    .bind(&r.subject)
    .bind(&r.subject_digest)
    .bind(&r.reason)
    .bind(&r.status)
    .bind(&r.requested_by)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO data_subject_request_steps (tenant_id, request_id, service, status) \
         SELECT $1, $2, s, 'pending' FROM unnest($3::text[]) AS s",
    )
    .bind(tenant)
    .bind(r.id)
    .bind(steps)
    .execute(tx)
    .await?;
    Ok(row)
}

/// The request, locked for the rest of the transaction when `lock`.
#[tracing::instrument(level = "debug", skip_all, fields(request = %id))]
pub async fn request_get(
    tx: &mut PgConnection,
    id: DataSubjectRequestId,
    lock: bool,
) -> Result<Option<RequestRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM data_subject_requests WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn request_list(
    tx: &mut PgConnection,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM data_subject_requests \
         WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn steps_of(tx: &mut PgConnection, ids: &[DataSubjectRequestId]) -> Result<Vec<StepRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_id, service, status, outcome, completed_at FROM data_subject_request_steps \
         WHERE request_id = ANY($1) ORDER BY service",
    )
    .bind(ids)
    .fetch_all(tx)
    .await
}

/// Marks a service's step done (once); returns whether every step is now done.
#[tracing::instrument(level = "debug", skip_all, fields(request = %request, service = service))]
pub async fn step_done(
    tx: &mut PgConnection,
    request: DataSubjectRequestId,
    service: &str,
    outcome: &Value,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE data_subject_request_steps SET status = 'done', outcome = $3, completed_at = now() \
         WHERE request_id = $1 AND service = $2 AND status = 'pending'",
    )
    .bind(request)
    .bind(service)
    .bind(Json(outcome))
    .execute(&mut *tx)
    .await?;
    sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM data_subject_request_steps WHERE request_id = $1 AND status <> 'done')",
    )
    .bind(request)
    .fetch_one(tx)
    .await
}

/// Completes the request and redacts the subject's identifiers (the digest remains).
#[tracing::instrument(level = "debug", skip_all, fields(request = %request))]
pub async fn request_complete(
    tx: &mut PgConnection,
    request: DataSubjectRequestId,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE data_subject_requests SET status = 'completed', completed_at = now(), subject = '{}'::jsonb \
         WHERE id = $1 RETURNING completed_at",
    )
    .bind(request)
    .fetch_one(tx)
    .await
}
