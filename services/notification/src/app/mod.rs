//! notification's use-cases: a tenant's webhook endpoints (`endpoints`: create, read,
//! change, enable, rotate the secret, delete) and the deliveries (`deliver`: the fan-out
//! of each event, the signed attempts with their retries, the log, a manual redelivery,
//! a replay), and its step of a data-subject erasure (`erasure`).

pub mod deliver;
pub mod email;
pub mod endpoints;
pub mod erasure;
pub mod notify;

use mirai_kit::Role;

/// Who manages a tenant's webhooks: its administrators.
pub const ADMINS: &[Role] = &[Role::OrgAdmin, Role::ProviderAdmin];
