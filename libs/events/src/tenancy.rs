//! The one place that sets a transaction's tenant: requests, consumers and jobs all call
//! `set_tenant`, so the RLS policy's `app.tenant_id` is written by exactly one statement.

use sqlx::PgConnection;
use uuid::Uuid;

/// Sets (or, with `None`, clears) the tenant RLS sees for the rest of the transaction.
/// Transaction-local (`set_config(.., true)`), so a pooled connection never carries it on.
pub async fn set_tenant(conn: &mut PgConnection, tenant: Option<Uuid>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant.map(|t| t.to_string()).unwrap_or_default())
        .execute(conn)
        .await?;
    Ok(())
}
