//! Purging a statement by id (a platform admin removing data that must not be kept, such
//! as personal data sent by mistake). The purge is audited: `lrs.statement.purged.v1`
//! carries who, when and why. A purged voiding statement leaves its target voided.

use mirai_contracts::{
    events::lrs::StatementPurged,
    ids::{StatementId, TenantId},
};
use mirai_kit::{AppError, Principal};

use crate::{AppState, store::statements as store};

#[tracing::instrument(skip_all, fields(tenant = %tenant, statement = %id))]
pub async fn purge(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    id: StatementId,
    reason: &str,
) -> Result<(), AppError> {
    principal.require_platform_admin()?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::invalid("reason", "must be 1 to 500 characters"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    if !store::statement_purge(&mut tx, id).await? {
        return Err(AppError::not_found("statement", id));
    }
    let event = StatementPurged {
        tenant_id: tenant,
        statement_id: id,
        purged_by: principal.subject.clone(),
        reason: reason.to_owned(),
    };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(())
}
