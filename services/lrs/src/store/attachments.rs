//! `attachments` (tenant rows, RLS): attachment contents by SHA-2.

use mirai_contracts::ids::TenantId;
use sqlx::PgConnection;

use crate::app::multipart::Part;

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, attachment = %p.sha2))]
pub async fn attachment_put(tx: &mut PgConnection, tenant: TenantId, p: &Part) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO attachments (tenant_id, sha2, content_type, content) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(tenant)
        .bind(&p.sha2)
        .bind(&p.content_type)
        .bind(&p.content)
        .execute(tx)
        .await
        .map(|_| ())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn attachment_get_many(tx: &mut PgConnection, sha2s: &[String]) -> Result<Vec<Part>, sqlx::Error> {
    let rows: Vec<(String, String, Vec<u8>)> =
        sqlx::query_as("SELECT sha2, content_type, content FROM attachments WHERE sha2 = ANY($1) ORDER BY sha2")
            .bind(sha2s)
            .fetch_all(tx)
            .await?;
    Ok(rows.into_iter().map(|(sha2, content_type, content)| Part { content_type, sha2, content }).collect())
}

/// Deletes the contents among `sha2s` that no statement references any more.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn attachments_delete_unreferenced(tx: &mut PgConnection, sha2s: &[String]) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "DELETE FROM attachments a WHERE a.sha2 = ANY($1) AND NOT EXISTS ( \
           SELECT 1 FROM statements s, jsonb_path_query(s.body, 'strict $.**.sha2') h \
           WHERE (s.body ? 'attachments' OR (s.body -> 'object') ? 'attachments') \
             AND jsonb_typeof(h) = 'string' AND lower(h #>> '{}') = a.sha2)",
    )
    .bind(sha2s)
    .execute(tx)
    .await
    .map(|r| r.rows_affected())
}
