//! tenant's use-cases: authorize, validate, call the store, emit events.

pub mod data_subjects;
pub mod groups;
pub mod invitations;
pub mod memberships;
pub mod org_units;
pub mod tenants;

use mirai_kit::{AppError, Role};

/// Parses tenant roles; `platform_admin` is never granted through a tenant.
pub fn parse_roles(field: &str, roles: &[String]) -> Result<Vec<String>, AppError> {
    if roles.is_empty() {
        return Err(AppError::invalid(field, "must name at least one role"));
    }
    let mut out = Vec::new();
    for r in roles {
        match Role::parse(r) {
            Some(Role::PlatformAdmin) => {
                return Err(AppError::invalid(field, "platform_admin cannot be granted in a tenant"));
            }
            Some(role) => out.push(role.as_str().to_owned()),
            None => return Err(AppError::invalid(field, format!("unknown role `{r}`"))),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
pub mod secrets;
pub mod settings;
