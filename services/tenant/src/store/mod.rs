//! tenant's SQL, one module per table.

pub mod data_subjects;
pub mod groups;
pub mod invitations;
pub mod memberships;
pub mod org_units;
pub mod secrets;
pub mod settings;
pub mod tenants;
