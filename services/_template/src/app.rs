//! template's use-cases: authorize against the resource's tenant, validate, call the
//! store, emit events in the same transaction, commit (which also records the request's
//! idempotency key, so a retry replays the answer instead of writing twice).

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::template::NoteCreated,
    ids::{NoteId, TenantId},
};
use mirai_kit::{AppError, Principal, Role};
use serde::Serialize;

use crate::{AppState, store};

/// A note as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Note {
    // Typed in Rust, a plain uuid in the document (a `$ref` to an id type would name a
    // component nothing registers).
    #[schema(value_type = uuid::Uuid)]
    pub id: NoteId,
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    pub title: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<store::NoteRow> for Note {
    fn from(r: store::NoteRow) -> Self {
        Self { id: r.id, tenant_id: r.tenant_id, title: r.title, created_by: r.created_by, created_at: r.created_at }
    }
}

/// A note title: 1 to 200 characters once trimmed. Built once by `parse`, right after the
/// caller is authorized (so a caller who may not write gets 403 whatever they sent);
/// nothing downstream checks it again.
#[derive(Debug, Clone)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let t = raw.trim();
        if t.is_empty() || t.chars().count() > 200 {
            return Err(AppError::invalid("title", "must be 1 to 200 characters"));
        }
        Ok(Self(t.to_owned()))
    }
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create(state: &AppState, principal: &Principal, tenant: TenantId, title: &str) -> Result<Note, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::OrgManager])?;
    let title = Title::parse(title)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    if !store::known_tenant_exists(&mut tx, tenant).await? {
        return Err(AppError::not_found("tenant", tenant));
    }
    let row = store::note_insert(&mut tx, tenant, &title.0, &principal.subject).await?;
    let event = NoteCreated { note_id: row.id, tenant_id: tenant, title: row.title.clone() };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(row.into())
}

#[tracing::instrument(skip_all, fields(tenant = %tenant, note = %id))]
pub async fn get(state: &AppState, principal: &Principal, tenant: TenantId, id: NoteId) -> Result<Note, AppError> {
    principal.require_in_tenant(tenant.into(), &Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    // RLS hides other tenants' notes: a note of another tenant is simply not found.
    let row = store::note_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("note", id))?;
    Ok(row.into())
}
