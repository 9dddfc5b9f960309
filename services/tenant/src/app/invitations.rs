//! Invitations: an org admin invites an email with roles; the invitee, logged in with
//! that email, accepts with the token and becomes a member. The token is shown once
//! (notification mails it later) and embeds the tenant id, so acceptance runs under
//! that tenant's RLS context.

use chrono::{DateTime, Duration, Utc};
use mirai_contracts::{
    events::tenant::InvitationCreated,
    ids::{InvitationId, TenantId, UserId},
};
use mirai_kit::{AppError, Email, Principal, Role, auth::CredentialKind};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{AppState, store::invitations as store};

const TOKEN_PREFIX: &str = "mi_";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    #[schema(value_type = uuid::Uuid)]
    pub id: InvitationId,
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    pub email: String,
    pub roles: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

impl From<store::InvitationRow> for Invitation {
    fn from(r: store::InvitationRow) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            email: r.email_norm,
            roles: r.roles,
            expires_at: r.expires_at,
            accepted_at: r.accepted_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    /// The acceptance token; shown once.
    pub token: String,
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    email: &str,
    roles: &[String],
) -> Result<CreatedInvitation, AppError> {
    // Authorize, then validate roles, then the email: the order of the problems callers see.
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin])?;
    let roles = super::parse_roles("roles", roles)?;
    let email = Email::parse("email", email)?;
    super::tenants::ensure_exists(state, tenant).await?;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}_{}", tenant.as_uuid().simple(), hex::encode(secret));
    let row = store::InvitationRow {
        id: InvitationId::new(),
        tenant_id: tenant,
        email_norm: email.into_string(),
        roles,
        expires_at: Utc::now() + Duration::days(7),
        accepted_at: None,
        created_at: Utc::now(),
    };
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::invitation_insert(&mut tx, &row, &hash(&token), &principal.subject).await?;
    let event = InvitationCreated {
        invitation_id: row.id,
        tenant_id: tenant,
        email: row.email_norm.clone(),
        roles: row.roles.clone(),
        expires_at: row.expires_at,
    };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(CreatedInvitation { invitation: row.into(), token })
}

/// Accepts an invitation for the logged-in user whose email it was sent to.
#[tracing::instrument(skip_all)]
pub async fn accept(
    state: &AppState,
    principal: &Principal,
    token: &str,
) -> Result<super::memberships::Membership, AppError> {
    let (Some(user_id), CredentialKind::User) = (principal.user_id, principal.kind) else {
        return Err(AppError::Forbidden("invitations are accepted by a logged-in user".into()));
    };
    let user_id = UserId::from(user_id);
    let invalid = || AppError::invalid("token", "is not a valid invitation token");
    let rest = token.strip_prefix(TOKEN_PREFIX).ok_or_else(invalid)?;
    let (tenant_hex, _) = rest.split_once('_').ok_or_else(invalid)?;
    let tenant: TenantId = tenant_hex.parse().map_err(|_| invalid())?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let inv = store::invitation_get_by_token_for_update(&mut tx, &hash(token)).await?.ok_or_else(invalid)?;
    // The addressee first: to anyone else the invitation says nothing about its state.
    if principal.email.as_deref().map(|e| e.trim().to_lowercase()) != Some(inv.email_norm.clone()) {
        return Err(AppError::Forbidden("this invitation was sent to a different email address".into()));
    }
    if inv.accepted_at.is_some() {
        return Err(AppError::Conflict("this invitation was already accepted".into()));
    }
    if inv.expires_at < Utc::now() {
        return Err(AppError::client(
            axum::http::StatusCode::GONE,
            "invitation-expired",
            "Invitation expired",
            "this invitation has expired",
        ));
    }
    store::invitation_mark_accepted(&mut tx, inv.id, user_id).await?;
    let row = super::memberships::grant_in_txn(state, &mut tx, principal, tenant, user_id, inv.roles, None).await?;
    tx.commit().await?;
    Ok(row.into())
}
