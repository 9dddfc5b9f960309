//! Who is calling, and the guards handlers use to authorize them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

/// The platform's roles. Tenant roles hold within the principal's tenant only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    PlatformAdmin,
    OrgAdmin,
    OrgManager,
    ProviderAdmin,
    Author,
    Learner,
    ComplianceOfficer,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::PlatformAdmin,
        Role::OrgAdmin,
        Role::OrgManager,
        Role::ProviderAdmin,
        Role::Author,
        Role::Learner,
        Role::ComplianceOfficer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::OrgAdmin => "org_admin",
            Role::OrgManager => "org_manager",
            Role::ProviderAdmin => "provider_admin",
            Role::Author => "author",
            Role::Learner => "learner",
            Role::ComplianceOfficer => "compliance_officer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// An access JWT from a user login.
    User,
    /// An access JWT from the client-credentials grant.
    Client,
    /// An API key presented directly.
    ApiKey,
}

/// Why a presented credential was refused (set by the authentication layer).
#[derive(Debug, Clone)]
pub struct AuthFailure(pub String);

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: CredentialKind,
    /// `user:<id>`, `client:<key id>` or `apikey:<key id>`; used as the event `actor`.
    pub subject: String,
    pub user_id: Option<Uuid>,
    pub tenant_id: Option<Uuid>,
    pub roles: Vec<Role>,
    pub scopes: Vec<String>,
    pub email: Option<String>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_platform_admin(&self) -> bool {
        self.has_role(Role::PlatformAdmin)
    }

    /// The caller's tenant; tenant-scoped endpoints deny a principal without one.
    pub fn tenant(&self) -> Result<Uuid, AppError> {
        self.tenant_id.ok_or_else(|| AppError::Forbidden("this endpoint needs a tenant-scoped credential".into()))
    }

    /// Allows platform admins and holders of any of `roles` in the caller's tenant.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), AppError> {
        if self.is_platform_admin() || roles.iter().any(|r| self.has_role(*r)) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "requires one of the roles: {}",
                roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            )))
        }
    }

    /// Acting on `tenant`: a platform admin may act on any tenant; anyone else only on
    /// their own, with one of `roles`.
    pub fn require_in_tenant(&self, tenant: Uuid, roles: &[Role]) -> Result<(), AppError> {
        if self.is_platform_admin() {
            return Ok(());
        }
        if self.tenant_id != Some(tenant) {
            // Not revealing whether the other tenant exists.
            return Err(AppError::not_found("tenant", tenant));
        }
        self.require_any(roles)
    }

    /// The caller's own tenant, acting in it with one of `roles` (or as a platform admin
    /// holding a tenant-scoped credential): what most tenant-scoped writes and reads need.
    pub fn own_tenant(&self, roles: &[Role]) -> Result<mirai_contracts::ids::TenantId, AppError> {
        let tenant = self.tenant()?;
        self.require_in_tenant(tenant, roles)?;
        Ok(tenant.into())
    }

    pub fn require_platform_admin(&self) -> Result<(), AppError> {
        if self.is_platform_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden("requires the platform_admin role".into()))
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Requires one of `scopes` on a scoped credential (API keys, client tokens); user
    /// sessions are authorized by role instead and pass.
    pub fn require_any_scope(&self, scopes: &[&str]) -> Result<(), AppError> {
        if self.kind == CredentialKind::User || scopes.iter().any(|s| self.has_scope(s)) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("this credential lacks the scope: one of {}", scopes.join(", "))))
        }
    }

    /// The event metadata for what this principal causes within a request.
    pub fn event_meta(&self) -> mirai_events::EventMeta {
        crate::telemetry::RequestContext::event_meta(self.subject.clone())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        Err(match parts.extensions.get::<AuthFailure>() {
            Some(AuthFailure(reason)) => AppError::Unauthenticated(reason.clone()),
            None => AppError::Unauthenticated("send `Authorization: Bearer <token or API key>`".into()),
        })
    }
}
