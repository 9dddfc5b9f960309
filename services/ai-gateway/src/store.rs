//! ai-gateway's tables. Every function takes the caller's transaction, already scoped to
//! a tenant, so RLS holds.

use chrono::{DateTime, NaiveDate, Utc};
use mirai_contracts::ids::TenantId;
use sqlx::{FromRow, PgConnection, types::Json};
use uuid::Uuid;

use crate::app::config::{Target, TargetList};

pub async fn data_key_get(tx: &mut PgConnection) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as("SELECT kek_id, wrapped FROM data_keys").fetch_optional(tx).await
}

/// Inserts the tenant's wrapped data key unless a concurrent call did first; returns the
/// one that is stored.
pub async fn data_key_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    kek_id: &str,
    wrapped: &[u8],
) -> Result<(String, Vec<u8>), sqlx::Error> {
    sqlx::query("INSERT INTO data_keys (tenant_id, kek_id, wrapped) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(tenant)
        .bind(kek_id)
        .bind(wrapped)
        .execute(&mut *tx)
        .await?;
    sqlx::query_as("SELECT kek_id, wrapped FROM data_keys").fetch_one(tx).await
}

#[derive(Debug, Clone, FromRow)]
pub struct ProviderRow {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub key_nonce: Option<Vec<u8>>,
    pub key_ciphertext: Option<Vec<u8>>,
    pub timeout_ms: i32,
    pub cloud: bool,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

const PROVIDER_COLS: &str =
    "name, kind, base_url, key_nonce, key_ciphertext, timeout_ms, cloud, version, updated_by, updated_at";

pub struct ProviderPut<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub base_url: &'a str,
    /// `None` keeps the stored key.
    pub key: Option<(Vec<u8>, Vec<u8>)>,
    pub timeout_ms: i32,
    pub cloud: bool,
    pub by: &'a str,
}

pub async fn provider_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    p: ProviderPut<'_>,
) -> Result<ProviderRow, sqlx::Error> {
    let (nonce, ct) = p.key.map_or((None, None), |(n, c)| (Some(n), Some(c)));
    sqlx::query_as(&format!(
        "INSERT INTO providers (tenant_id, name, kind, base_url, key_nonce, key_ciphertext, timeout_ms, cloud, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (tenant_id, name) DO UPDATE SET kind = EXCLUDED.kind, base_url = EXCLUDED.base_url, \
           key_nonce = COALESCE(EXCLUDED.key_nonce, providers.key_nonce), \
           key_ciphertext = COALESCE(EXCLUDED.key_ciphertext, providers.key_ciphertext), \
           timeout_ms = EXCLUDED.timeout_ms, cloud = EXCLUDED.cloud, updated_by = EXCLUDED.updated_by, \
           updated_at = now(), version = providers.version + 1 \
         RETURNING {PROVIDER_COLS}"
    ))
    .bind(tenant)
    .bind(p.name)
    .bind(p.kind)
    .bind(p.base_url)
    .bind(nonce)
    .bind(ct)
    .bind(p.timeout_ms)
    .bind(p.cloud)
    .bind(p.by)
    .fetch_one(tx)
    .await
}

pub async fn provider_list(tx: &mut PgConnection) -> Result<Vec<ProviderRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {PROVIDER_COLS} FROM providers ORDER BY name")).fetch_all(tx).await
}

pub async fn provider_delete(tx: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM providers WHERE name = $1").bind(name).execute(tx).await?.rows_affected() > 0)
}

/// Routes that send to `provider`.
pub async fn routes_using(tx: &mut PgConnection, provider: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT feature FROM routes WHERE targets @> jsonb_build_array(jsonb_build_object('provider', $1::text)) \
         OR degrade @> jsonb_build_object('provider', $1::text) ORDER BY feature",
    )
    .bind(provider)
    .fetch_all(tx)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct RouteRow {
    pub feature: String,
    pub targets: Json<TargetList>,
    pub degrade: Option<Json<Target>>,
    pub prompt: Option<String>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

const ROUTE_COLS: &str = "feature, targets, degrade, prompt, updated_by, updated_at";

pub async fn route_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    feature: &str,
    targets: &TargetList,
    degrade: Option<&Target>,
    prompt: Option<&str>,
    by: &str,
) -> Result<RouteRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO routes (tenant_id, feature, targets, degrade, prompt, updated_by) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, feature) DO UPDATE SET targets = EXCLUDED.targets, degrade = EXCLUDED.degrade, \
           prompt = EXCLUDED.prompt, updated_by = EXCLUDED.updated_by, updated_at = now() \
         RETURNING {ROUTE_COLS}"
    ))
    .bind(tenant)
    .bind(feature)
    .bind(Json(targets))
    .bind(degrade.map(Json))
    .bind(prompt)
    .bind(by)
    .fetch_one(tx)
    .await
}

pub async fn route_list(tx: &mut PgConnection) -> Result<Vec<RouteRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ROUTE_COLS} FROM routes ORDER BY feature")).fetch_all(tx).await
}

pub async fn route_get(tx: &mut PgConnection, feature: &str) -> Result<Option<RouteRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ROUTE_COLS} FROM routes WHERE feature = $1"))
        .bind(feature)
        .fetch_optional(tx)
        .await
}

pub async fn route_delete(tx: &mut PgConnection, feature: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM routes WHERE feature = $1").bind(feature).execute(tx).await?.rows_affected() > 0)
}

#[derive(Debug, Clone, FromRow)]
pub struct BudgetRow {
    pub scope: String,
    pub period: String,
    pub max_tokens: Option<i64>,
    pub max_cost_micros: Option<i64>,
    pub degrade_at_percent: i32,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

const BUDGET_COLS: &str = "scope, period, max_tokens, max_cost_micros, degrade_at_percent, updated_by, updated_at";

pub async fn budget_put(tx: &mut PgConnection, tenant: TenantId, b: &BudgetRow) -> Result<BudgetRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO budgets (tenant_id, scope, period, max_tokens, max_cost_micros, degrade_at_percent, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (tenant_id, scope, period) DO UPDATE SET max_tokens = EXCLUDED.max_tokens, \
           max_cost_micros = EXCLUDED.max_cost_micros, degrade_at_percent = EXCLUDED.degrade_at_percent, \
           updated_by = EXCLUDED.updated_by, updated_at = now() \
         RETURNING {BUDGET_COLS}"
    ))
    .bind(tenant)
    .bind(&b.scope)
    .bind(&b.period)
    .bind(b.max_tokens)
    .bind(b.max_cost_micros)
    .bind(b.degrade_at_percent)
    .bind(&b.updated_by)
    .fetch_one(tx)
    .await
}

pub async fn budget_list(tx: &mut PgConnection) -> Result<Vec<BudgetRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {BUDGET_COLS} FROM budgets ORDER BY scope, period")).fetch_all(tx).await
}

pub async fn budget_delete(tx: &mut PgConnection, scope: &str, period: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM budgets WHERE scope = $1 AND period = $2")
        .bind(scope)
        .bind(period)
        .execute(tx)
        .await?
        .rows_affected()
        > 0)
}

/// The budgets that apply to `feature` (its own and the tenant's), locked until the
/// transaction ends so concurrent calls check them one at a time.
pub async fn budgets_locked(tx: &mut PgConnection, feature: &str) -> Result<Vec<BudgetRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BUDGET_COLS} FROM budgets WHERE scope IN ('*', $1) ORDER BY scope, period FOR UPDATE"
    ))
    .bind(feature)
    .fetch_all(tx)
    .await
}

/// Settled tokens and cost of a scope in the period starting `start`.
pub async fn usage_of(
    tx: &mut PgConnection,
    scope: &str,
    period: &str,
    start: NaiveDate,
) -> Result<(i64, i64), sqlx::Error> {
    Ok(sqlx::query_as("SELECT tokens, cost_micros FROM usage WHERE scope = $1 AND period = $2 AND period_start = $3")
        .bind(scope)
        .bind(period)
        .bind(start)
        .fetch_optional(tx)
        .await?
        .unwrap_or((0, 0)))
}

pub async fn usage_add(
    tx: &mut PgConnection,
    tenant: TenantId,
    scope: &str,
    period: &str,
    start: NaiveDate,
    tokens: i64,
    cost: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO usage (tenant_id, scope, period, period_start, tokens, cost_micros, calls) \
         VALUES ($1, $2, $3, $4, $5, $6, 1) \
         ON CONFLICT (tenant_id, scope, period, period_start) DO UPDATE SET \
           tokens = usage.tokens + EXCLUDED.tokens, cost_micros = usage.cost_micros + EXCLUDED.cost_micros, \
           calls = usage.calls + 1",
    )
    .bind(tenant)
    .bind(scope)
    .bind(period)
    .bind(start)
    .bind(tokens)
    .bind(cost)
    .execute(tx)
    .await?;
    Ok(())
}

/// Reserved (unsettled, unexpired) tokens and cost: the tenant's, or one feature's.
pub async fn reserved(tx: &mut PgConnection, feature: Option<&str>) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COALESCE(sum(tokens), 0)::bigint, COALESCE(sum(cost_micros), 0)::bigint FROM reservations \
         WHERE expires_at > now() AND ($1::text IS NULL OR feature = $1)",
    )
    .bind(feature)
    .fetch_one(tx)
    .await
}

pub async fn reservation_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    feature: &str,
    tokens: i64,
    cost: i64,
    ttl_secs: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reservations (id, tenant_id, feature, tokens, cost_micros, expires_at) \
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(id)
    .bind(tenant)
    .bind(feature)
    .bind(tokens)
    .bind(cost)
    .bind(ttl_secs as f64)
    .execute(&mut *tx)
    .await?;
    // Expired reservations of crashed calls are cleared as new ones are made.
    sqlx::query("DELETE FROM reservations WHERE expires_at < now() - interval '1 hour'").execute(tx).await?;
    Ok(())
}

pub async fn reservation_delete(tx: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reservations WHERE id = $1").bind(id).execute(tx).await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct PolicyRow {
    pub blocked_categories: Vec<String>,
    pub blocked_terms: Vec<String>,
    pub redact_pii: bool,
    pub moderate_output: bool,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn policy_get(tx: &mut PgConnection) -> Result<Option<PolicyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT blocked_categories, blocked_terms, redact_pii, moderate_output, updated_by, updated_at FROM policies",
    )
    .fetch_optional(tx)
    .await
}

pub async fn policy_put(tx: &mut PgConnection, tenant: TenantId, p: &PolicyRow) -> Result<PolicyRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO policies (tenant_id, blocked_categories, blocked_terms, redact_pii, moderate_output, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id) DO UPDATE SET blocked_categories = EXCLUDED.blocked_categories, \
           blocked_terms = EXCLUDED.blocked_terms, redact_pii = EXCLUDED.redact_pii, \
           moderate_output = EXCLUDED.moderate_output, updated_by = EXCLUDED.updated_by, updated_at = now() \
         RETURNING blocked_categories, blocked_terms, redact_pii, moderate_output, updated_by, updated_at",
    )
    .bind(tenant)
    .bind(&p.blocked_categories)
    .bind(&p.blocked_terms)
    .bind(p.redact_pii)
    .bind(p.moderate_output)
    .bind(&p.updated_by)
    .fetch_one(tx)
    .await
}

// ---- vector store ------------------------------------------------------------------

pub async fn chunks_delete_course(tx: &mut PgConnection, course: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM chunks WHERE course_id = $1").bind(course).execute(tx).await?;
    Ok(())
}

pub async fn chunk_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    source_type: &str,
    c: &crate::app::vectors::NewChunk,
    course: Option<Uuid>,
    model: &str,
    vector: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO chunks (tenant_id, source_type, source_id, chunk, course_id, title, text, model, embedding) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::public.vector) \
         ON CONFLICT (tenant_id, source_type, source_id, chunk) DO UPDATE SET course_id = EXCLUDED.course_id, \
           title = EXCLUDED.title, text = EXCLUDED.text, model = EXCLUDED.model, embedding = EXCLUDED.embedding, \
           updated_at = now()",
    )
    .bind(tenant)
    .bind(source_type)
    .bind(c.source_id)
    .bind(c.chunk)
    .bind(course)
    .bind(&c.title)
    .bind(&c.text)
    .bind(model)
    .bind(vector)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn chunks_stale_exist(tx: &mut PgConnection, model: &str) -> Result<bool, sqlx::Error> {
    // Two ranges rather than `<>`: each is a probe of the (tenant, model) index, not a scan
    // of every chunk the tenant has (this runs on every similarity query).
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM chunks WHERE model < $1) OR EXISTS (SELECT 1 FROM chunks WHERE model > $1)",
    )
    .bind(model)
    .fetch_one(tx)
    .await
}

#[derive(Debug, FromRow)]
pub struct StaleChunk {
    pub source_type: String,
    pub source_id: Uuid,
    pub chunk: i32,
    pub title: String,
    pub text: String,
}

pub async fn chunks_stale(tx: &mut PgConnection, model: &str, limit: i64) -> Result<Vec<StaleChunk>, sqlx::Error> {
    sqlx::query_as(
        "SELECT source_type, source_id, chunk, title, text FROM chunks WHERE (model < $1 OR model > $1) \
         ORDER BY source_type, source_id, chunk LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(model)
    .bind(limit)
    .fetch_all(tx)
    .await
}

pub async fn chunk_reembed(
    tx: &mut PgConnection,
    c: &StaleChunk,
    model: &str,
    vector: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE chunks SET model = $4, embedding = $5::public.vector, updated_at = now() \
         WHERE source_type = $1 AND source_id = $2 AND chunk = $3",
    )
    .bind(&c.source_type)
    .bind(c.source_id)
    .bind(c.chunk)
    .bind(model)
    .bind(vector)
    .execute(tx)
    .await?;
    Ok(())
}

/// The `limit` chunks nearest to `vector` (cosine) among the tenant's, made by `model`.
/// The iterative scan keeps HNSW finding neighbours until enough pass the tenant filter.
pub async fn chunks_nearest(
    tx: &mut PgConnection,
    vector: &str,
    model: &str,
    limit: i64,
) -> Result<Vec<crate::app::vectors::SimilarChunk>, sqlx::Error> {
    sqlx::query("SET LOCAL hnsw.iterative_scan = relaxed_order").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL hnsw.ef_search = 100").execute(&mut *tx).await?;
    sqlx::query_as(
        "SELECT source_type, source_id, chunk, course_id, title, text, score FROM ( \
           SELECT source_type, source_id, chunk, course_id, title, text, \
                  1 - (embedding OPERATOR(public.<=>) $1::public.vector) AS score, \
                  embedding OPERATOR(public.<=>) $1::public.vector AS distance \
           FROM chunks WHERE model = $2 AND source_type = 'lesson' \
           ORDER BY embedding OPERATOR(public.<=>) $1::public.vector LIMIT $3) nearest ORDER BY distance",
    )
    .bind(vector)
    .bind(model)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Removes one source's chunks (a document being read again).
pub async fn chunks_delete_source(tx: &mut PgConnection, source_type: &str, source: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM chunks WHERE source_type = $1 AND source_id = $2")
        .bind(source_type)
        .bind(source)
        .execute(tx)
        .await?;
    Ok(())
}

// ---- documents ---------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct DocumentRow {
    pub asset_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub object_key: String,
    pub deleted: bool,
    pub indexed_sha256: Option<String>,
    pub indexed_model: Option<String>,
}

const DOCUMENT: &str =
    "asset_id, filename, content_type, size, sha256, object_key, deleted, indexed_sha256, indexed_model";

/// A ready asset; a tombstone (deleted first) keeps it away.
pub async fn document_ready(
    tx: &mut PgConnection,
    e: &mirai_contracts::events::media::AssetReady,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO documents (asset_id, tenant_id, filename, content_type, size, sha256, object_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (asset_id) DO NOTHING",
    )
    .bind(e.asset_id)
    .bind(e.tenant_id)
    .bind(&e.filename)
    .bind(&e.content_type)
    .bind(e.size)
    .bind(&e.sha256)
    .bind(&e.object_key)
    .execute(tx)
    .await?;
    Ok(())
}

/// A deleted asset: a tombstone, and its chunks gone.
pub async fn document_deleted(tx: &mut PgConnection, tenant: TenantId, asset: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO documents (asset_id, tenant_id, filename, content_type, size, sha256, object_key, deleted) \
         VALUES ($1, $2, '', '', 0, '', '', true) \
         ON CONFLICT (asset_id) DO UPDATE SET deleted = true, indexed_sha256 = NULL, updated_at = now()",
    )
    .bind(asset)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    chunks_delete_source(tx, "document", asset).await
}

pub async fn document_get(tx: &mut PgConnection, asset: Uuid) -> Result<Option<DocumentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {DOCUMENT} FROM documents WHERE asset_id = $1 FOR UPDATE"))
        .bind(asset)
        .fetch_optional(tx)
        .await
}

pub async fn documents_get(tx: &mut PgConnection, assets: &[Uuid]) -> Result<Vec<DocumentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {DOCUMENT} FROM documents WHERE asset_id = ANY($1)"))
        .bind(assets)
        .fetch_all(tx)
        .await
}

pub async fn document_indexed(
    tx: &mut PgConnection,
    asset: Uuid,
    sha256: &str,
    model: &str,
    pages: Option<i32>,
    chunks: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE documents SET indexed_sha256 = $2, indexed_model = $3, pages = $4, chunks = $5, updated_at = now() \
         WHERE asset_id = $1",
    )
    .bind(asset)
    .bind(sha256)
    .bind(model)
    .bind(pages)
    .bind(chunks)
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, FromRow)]
pub struct Excerpt {
    pub source_id: Uuid,
    pub chunk: i32,
    pub title: String,
    pub text: String,
}

/// The chunks of `documents` nearest to `vector`, exactly (a sequential look at those
/// documents' chunks, not the approximate index, which a filter this narrow would
/// starve): each document's best first, then the rest by distance, up to `per_document`
/// from one document and `limit` in all.
pub async fn document_excerpts(
    tx: &mut PgConnection,
    vector: &str,
    model: &str,
    documents: &[Uuid],
    per_document: i64,
    limit: i64,
) -> Result<Vec<Excerpt>, sqlx::Error> {
    sqlx::query_as(
        "SELECT source_id, chunk, title, text FROM ( \
           SELECT source_id, chunk, title, text, distance, \
                  row_number() OVER (PARTITION BY source_id ORDER BY distance) AS rank \
           FROM (SELECT source_id, chunk, title, text, embedding OPERATOR(public.<=>) $1::public.vector AS distance \
                 FROM chunks WHERE source_type = 'document' AND source_id = ANY($3) AND model = $2 OFFSET 0) d \
         ) ranked WHERE rank <= $4 ORDER BY rank = 1 DESC, distance LIMIT $5",
    )
    .bind(vector)
    .bind(model)
    .bind(documents)
    .bind(per_document)
    .bind(limit)
    .fetch_all(tx)
    .await
}

// ---- generations -------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct GenerationRow {
    pub tenant_id: TenantId,
    pub feature: String,
    pub prompt: Option<String>,
    pub input: serde_json::Value,
    pub actor: String,
    pub status: String,
    pub documents: Vec<Uuid>,
}

/// Records a requested generation; false when one with that id is already known (a
/// redelivered command, or a cancel that came first).
pub async fn generation_insert(
    tx: &mut PgConnection,
    c: &mirai_contracts::events::ai_gateway::Generate,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO generations (request_id, tenant_id, feature, prompt, input, actor, status, documents) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7) ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(c.request_id)
    .bind(c.tenant_id)
    .bind(&c.feature)
    .bind(&c.prompt)
    .bind(&c.input)
    .bind(&c.actor)
    .bind(c.documents.iter().map(|d| Uuid::from(*d)).collect::<Vec<_>>())
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

pub async fn generation_get(tx: &mut PgConnection, id: Uuid) -> Result<Option<GenerationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tenant_id, feature, prompt, input, actor, status, documents FROM generations WHERE request_id = $1",
    )
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Marks a generation cancelled unless it already ended; a cancel for an unknown id
/// leaves a cancelled row so the generation never starts. Returns the status before.
pub async fn generation_cancel(
    tx: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    actor: &str,
) -> Result<Option<String>, sqlx::Error> {
    let before: Option<String> = sqlx::query_scalar("SELECT status FROM generations WHERE request_id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO generations (request_id, tenant_id, feature, input, actor, status) \
         VALUES ($1, $2, '', '{}', $3, 'cancelled') \
         ON CONFLICT (request_id) DO UPDATE SET status = 'cancelled', updated_at = now() \
         WHERE generations.status IN ('queued', 'running')",
    )
    .bind(id)
    .bind(tenant)
    .bind(actor)
    .execute(tx)
    .await?;
    Ok(before)
}

/// Moves a generation on, unless it was cancelled (or already ended) meanwhile: true when
/// it moved.
pub async fn generation_set(tx: &mut PgConnection, id: Uuid, from: &str, to: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("UPDATE generations SET status = $3, updated_at = now() WHERE request_id = $1 AND status = $2")
        .bind(id)
        .bind(from)
        .bind(to)
        .execute(tx)
        .await?
        .rows_affected()
        == 1)
}
