//! What a read model has heard of each aggregate, whatever order the events arrive in (a
//! consumer has many messages in flight, several pods share it, a failed one is
//! redelivered later): the newest version seen and whether the aggregate ended (retired,
//! deleted). Only news should change the read model. Each service keeps the table in its
//! own schema, created by its migration as
//!
//! ```sql
//! CREATE TABLE <name> (aggregate_id uuid PRIMARY KEY, tenant_id uuid NOT NULL,
//!                      version integer NOT NULL, ended boolean NOT NULL DEFAULT false);
//! SELECT enable_tenant_rls('<name>');
//! ```
//!
//! and lists it in `Service::PROJECTIONS`, so a rebuild forgets it too.

use sqlx::PgConnection;
use uuid::Uuid;

/// Records version `version` of `aggregate`; returns whether it is news (newer than every
/// version seen, and the aggregate not ended).
pub async fn seen(
    tx: &mut PgConnection,
    table: &'static str,
    tenant: Uuid,
    aggregate: Uuid,
    version: i32,
) -> Result<bool, sqlx::Error> {
    let news: Option<bool> = sqlx::query_scalar(&format!(
        "INSERT INTO {table} (aggregate_id, tenant_id, version) VALUES ($1, $2, $3) \
         ON CONFLICT (aggregate_id) DO UPDATE SET version = EXCLUDED.version \
         WHERE {table}.version < EXCLUDED.version AND NOT {table}.ended RETURNING true"
    ))
    .bind(aggregate)
    .bind(tenant)
    .bind(version)
    .fetch_optional(tx)
    .await?;
    Ok(news.is_some())
}

/// Records that `aggregate` ended (after `last_version`, if any), for good: a version
/// that arrives later is not news.
pub async fn ended(
    tx: &mut PgConnection,
    table: &'static str,
    tenant: Uuid,
    aggregate: Uuid,
    last_version: Option<i32>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO {table} (aggregate_id, tenant_id, version, ended) VALUES ($1, $2, $3, true) \
         ON CONFLICT (aggregate_id) DO UPDATE SET ended = true, version = GREATEST({table}.version, EXCLUDED.version)"
    ))
    .bind(aggregate)
    .bind(tenant)
    .bind(last_version.unwrap_or(0))
    .execute(tx)
    .await
    .map(|_| ())
}
