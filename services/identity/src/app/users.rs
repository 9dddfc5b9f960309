//! Users: created by a platform admin or a tenant's org admin (who then grants the
//! membership in tenant). Passwords are argon2id hashes.

use mirai_contracts::{events::identity::UserCreated, ids::UserId};
use mirai_kit::{AppError, Principal, Role};
use serde::Serialize;

use crate::{AppState, crypto, store::users as store};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
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

#[tracing::instrument(skip_all, fields(user = tracing::field::Empty))]
pub async fn create(state: &AppState, principal: &Principal, input: NewUser) -> Result<User, AppError> {
    // Accounts are platform-wide: only a platform admin creates one, and only they learn
    // from the 409 that an address is registered. Org admins invite; self sign-up waits for
    // a mailed one-time code (the notification service), since the inviter sees the token.
    principal.require_platform_admin()?;
    super::validate_email(&input.email)?;
    super::validate_password(&input.password)?;
    if let Some(n) = &input.display_name
        && (n.trim().is_empty() || n.chars().count() > 200)
    {
        return Err(AppError::invalid("display_name", "must be 1 to 200 characters"));
    }
    let row = insert(state, &principal.event_meta(), &principal.subject, &input, false).await?;
    tracing::Span::current().record("user", tracing::field::display(row.id));
    Ok(row.into())
}

/// Hashes the password off the async threads and inserts the user with its event, in a
/// transaction of its own.
pub(crate) async fn insert(
    state: &AppState,
    meta: &mirai_events::EventMeta,
    created_by: &str,
    input: &NewUser,
    platform_admin: bool,
) -> Result<store::UserRow, AppError> {
    let hash = hash(state, &input.password).await?;
    let mut tx = state.ctx.db.platform_tx().await?;
    let row = insert_in_txn(state, &mut tx, meta, created_by, input, &hash, platform_admin).await?;
    tx.commit().await?;
    Ok(row)
}

/// The password's argon2id hash, computed off the async threads.
pub(crate) async fn hash(state: &AppState, password: &str) -> Result<String, AppError> {
    let settings = state.settings.clone();
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || crypto::hash_password(&settings, &password))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// Inserts the user and its event inside the caller's transaction.
pub(crate) async fn insert_in_txn(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    meta: &mirai_events::EventMeta,
    created_by: &str,
    input: &NewUser,
    hash: &str,
    platform_admin: bool,
) -> Result<store::UserRow, AppError> {
    let row =
        store::user_insert(&mut *tx, UserId::new(), &input.email, input.display_name.as_deref(), hash, platform_admin)
            .await
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict(_) => AppError::Conflict("a user with this email already exists".into()),
                other => other,
            })?;
    let event = UserCreated {
        user_id: row.id,
        email: row.email.clone(),
        display_name: row.display_name.clone(),
        created_by: created_by.to_owned(),
    };
    state.ctx.emit(tx, meta, [event.into()]).await?;
    Ok(row)
}

/// Yourself; or, as an org admin or manager, a user who is an active member of your
/// tenant: the user's record (email included) is the tenant's to see only while they
/// belong to it. Anyone else's id is not found, whether or not it exists.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn get(state: &AppState, principal: &Principal, id: UserId) -> Result<User, AppError> {
    if principal.user_id != Some(id.into_uuid()) && !principal.is_platform_admin() {
        principal.require_any(&[Role::OrgAdmin, Role::OrgManager])?;
        let tenant = principal.tenant()?;
        let mut tx = state.ctx.db.tenant_tx(tenant).await?;
        if crate::store::memberships::membership_roles(&mut tx, tenant.into(), id).await?.is_none() {
            return Err(AppError::not_found("user", id));
        }
    }
    let mut tx = state.ctx.db.platform_tx().await?;
    let row = store::user_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("user", id))?;
    Ok(row.into())
}
