//! A tenant's feature flags as a service sees them: projected from tenant's
//! `tenant.feature_flag.changed.v1` into the service's own table, created by its migration
//! as
//!
//! ```sql
//! CREATE TABLE features (tenant_id uuid NOT NULL, key text NOT NULL, enabled boolean NOT NULL,
//!                        PRIMARY KEY (tenant_id, key));
//! SELECT enable_tenant_rls('features');
//! ```
//!
//! and listed in `Service::PROJECTIONS`. A flag the service never heard of is off.

use std::sync::Arc;

use mirai_contracts::events::tenant::FeatureFlagChanged;
use mirai_events::{ConsumerSpec, Cx, HandleError};
use sqlx::PgConnection;

use crate::AppError;

/// Which flags a service keeps.
pub type Wanted = fn(&str) -> bool;

async fn on_changed(cx: Cx<'_, Wanted>, f: FeatureFlagChanged) -> Result<(), HandleError> {
    if (cx.state)(&f.key) {
        sqlx::query(
            "INSERT INTO features (tenant_id, key, enabled) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET enabled = EXCLUDED.enabled",
        )
        .bind(f.tenant_id)
        .bind(&f.key)
        .bind(f.enabled)
        .execute(&mut *cx.tx)
        .await?;
    }
    Ok(())
}

/// The consumer `name` (on tenant's stream) projecting the flags `wanted` keeps.
pub fn consumer(name: &'static str, wanted: Wanted) -> ConsumerSpec {
    ConsumerSpec::new(name).on_with(&Arc::new(wanted), on_changed)
}

/// Whether the tenant of `tx` has `key` on.
pub async fn enabled(tx: &mut PgConnection, key: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, bool>("SELECT enabled FROM features WHERE key = $1")
        .bind(key)
        .fetch_optional(tx)
        .await?
        .unwrap_or(false))
}

/// The 403 for a feature the tenant has off.
pub fn off(key: &str) -> AppError {
    AppError::client(
        axum::http::StatusCode::FORBIDDEN,
        "ai-disabled",
        "AI is turned off",
        format!("AI feature `{key}` is off for this tenant; an admin can turn it on in the tenant's feature flags"),
    )
}
