//! Users: created by a platform admin or a tenant's org admin (who then grants the
//! membership in tenant). Passwords are argon2id hashes.

use mirai_events::NewEvent;
use mirai_kit::{AppError, Principal, Role};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{AppState, crypto, store::users as store};

pub const USER_CREATED: &str = "identity.user.created.v1";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<store::UserRow> for User {
    fn from(r: store::UserRow) -> Self {
        Self { id: r.id, email: r.email, display_name: r.display_name, created_at: r.created_at }
    }
}

pub struct NewUser {
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
}

pub async fn create(state: &AppState, principal: &Principal, input: NewUser) -> Result<User, AppError> {
    principal.require_any(&[Role::OrgAdmin])?;
    super::validate_email(&input.email)?;
    super::validate_password(&input.password)?;
    if let Some(n) = &input.display_name
        && (n.trim().is_empty() || n.chars().count() > 200)
    {
        return Err(AppError::invalid("display_name", "must be 1 to 200 characters"));
    }
    let row = insert(state, &principal.event_meta(), &principal.subject, &input, false).await?;
    Ok(row.into())
}

/// Hashes the password off the async threads and inserts the user with its event.
pub(crate) async fn insert(
    state: &AppState,
    meta: &mirai_events::EventMeta,
    created_by: &str,
    input: &NewUser,
    platform_admin: bool,
) -> Result<store::UserRow, AppError> {
    let settings = state.settings.clone();
    let password = input.password.clone();
    let hash = tokio::task::spawn_blocking(move || crypto::hash_password(&settings, &password))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut tx = state.ctx.db.platform_tx().await?;
    let row =
        store::user_insert(&mut tx, Uuid::now_v7(), &input.email, input.display_name.as_deref(), &hash, platform_admin)
            .await
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict(_) => AppError::Conflict("a user with this email already exists".into()),
                other => other,
            })?;
    state
        .ctx
        .emit(
            &mut tx,
            meta,
            [NewEvent::new(
                USER_CREATED,
                row.id,
                json!({ "user_id": row.id, "email": row.email, "display_name": row.display_name, "created_by": created_by }),
            )],
        )
        .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn get(state: &AppState, principal: &Principal, id: Uuid) -> Result<User, AppError> {
    if principal.user_id != Some(id) {
        principal.require_any(&[Role::OrgAdmin, Role::OrgManager])?;
    }
    let mut tx = state.ctx.db.platform_tx().await?;
    let row = store::user_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("user", id))?;
    Ok(row.into())
}
