//! `documents` (State, Activity Profile, Agent Profile) and `activities` (tenant rows, RLS).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::TenantId;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, types::Json};

use super::{key, keys};

/// Where a document lives: its resource and the parameters that name it.
#[derive(Debug, Clone)]
pub struct DocKey {
    pub kind: &'static str,
    pub activity_id: String,
    pub agent: String,
    pub registration: String,
    pub doc_id: String,
}

#[derive(Debug, FromRow)]
pub struct DocRow {
    pub content_type: String,
    pub content: Vec<u8>,
    pub etag: String,
    pub updated: DateTime<Utc>,
}

const WHERE_KEY: &str = "kind = $1 AND activity_id = $2 AND agent = $3 AND registration = $4";

#[tracing::instrument(level = "debug", skip_all)]
pub async fn document_get(tx: &mut PgConnection, k: &DocKey) -> Result<Option<DocRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT content_type, content, etag, updated FROM documents WHERE {WHERE_KEY} AND doc_id = $5 FOR UPDATE"
    ))
    .bind(k.kind)
    .bind(key(&k.activity_id))
    .bind(key(&k.agent))
    .bind(&k.registration)
    .bind(&k.doc_id)
    .fetch_optional(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn document_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    k: &DocKey,
    content_type: &str,
    content: &[u8],
    etag: &str,
    updated: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO documents (tenant_id, kind, activity_id, agent, registration, doc_id, content_type, content, etag, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (tenant_id, kind, activity_id, agent, registration, doc_id) DO UPDATE SET \
           content_type = EXCLUDED.content_type, content = EXCLUDED.content, etag = EXCLUDED.etag, updated = EXCLUDED.updated",
    )
    .bind(tenant)
    .bind(k.kind)
    .bind(key(&k.activity_id))
    .bind(key(&k.agent))
    .bind(&k.registration)
    .bind(&k.doc_id)
    .bind(content_type)
    .bind(content)
    .bind(etag)
    .bind(updated)
    .execute(tx)
    .await
    .map(|_| ())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn document_delete(tx: &mut PgConnection, k: &DocKey) -> Result<u64, sqlx::Error> {
    sqlx::query(&format!("DELETE FROM documents WHERE {WHERE_KEY} AND doc_id = $5"))
        .bind(k.kind)
        .bind(key(&k.activity_id))
        .bind(key(&k.agent))
        .bind(&k.registration)
        .bind(&k.doc_id)
        .execute(tx)
        .await
        .map(|r| r.rows_affected())
}

/// Deletes every document under the key's resource parameters (State's "delete all").
#[tracing::instrument(level = "debug", skip_all)]
pub async fn document_delete_all(tx: &mut PgConnection, k: &DocKey) -> Result<u64, sqlx::Error> {
    sqlx::query(&format!("DELETE FROM documents WHERE {WHERE_KEY}"))
        .bind(k.kind)
        .bind(key(&k.activity_id))
        .bind(key(&k.agent))
        .bind(&k.registration)
        .execute(tx)
        .await
        .map(|r| r.rows_affected())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn document_ids(
    tx: &mut PgConnection,
    k: &DocKey,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT doc_id FROM documents WHERE {WHERE_KEY} AND ($5::timestamptz IS NULL OR updated > $5) ORDER BY doc_id"
    ))
    .bind(k.kind)
    .bind(key(&k.activity_id))
    .bind(key(&k.agent))
    .bind(&k.registration)
    .bind(since)
    .fetch_all(tx)
    .await
}

/// Merges each activity's newly seen definition into the stored one, as
/// `app::statements::merge_definition` does: later properties win, except the `name`
/// and `description` language maps, which are merged language by language. One row per
/// activity (the caller merges a batch first).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, n = definitions.len()))]
pub async fn activities_merge(
    tx: &mut PgConnection,
    tenant: TenantId,
    definitions: &[(String, Value)],
) -> Result<(), sqlx::Error> {
    let ids: Vec<String> = definitions.iter().map(|(id, _)| key(id)).collect();
    let defs: Vec<Json<&Value>> = definitions.iter().map(|(_, d)| Json(d)).collect();
    sqlx::query(
        "INSERT INTO activities (tenant_id, id, definition) SELECT $1, * FROM unnest($2::text[], $3::jsonb[]) \
         ON CONFLICT (tenant_id, id) DO UPDATE SET definition = activities.definition || EXCLUDED.definition \
           || jsonb_strip_nulls(jsonb_build_object( \
                'name', (activities.definition -> 'name') || (EXCLUDED.definition -> 'name'), \
                'description', (activities.definition -> 'description') || (EXCLUDED.definition -> 'description'))), \
           updated = now()",
    )
    .bind(tenant)
    .bind(ids)
    .bind(defs)
    .execute(tx)
    .await
    .map(|_| ())
}

#[tracing::instrument(level = "debug", skip_all, fields(activity = id))]
pub async fn activity_get(tx: &mut PgConnection, id: &str) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar::<_, Json<Value>>("SELECT definition FROM activities WHERE id = $1")
        .bind(key(id))
        .fetch_optional(tx)
        .await
        .map(|v| v.map(|j| j.0))
}

/// Deletes every State and Agent Profile document of the agents `ifis`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn documents_delete_for_agents(tx: &mut PgConnection, ifis: &[String]) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM documents WHERE kind IN ('state', 'agent_profile') AND agent = ANY($1)")
        .bind(keys(ifis))
        .execute(tx)
        .await
        .map(|r| r.rows_affected())
}
