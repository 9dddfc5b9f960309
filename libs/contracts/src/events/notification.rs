//! Payloads notification publishes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{DataSubjectRequestId, EndpointId, TenantId},
};

/// A tenant's webhook endpoint changed: `created`, `updated`, `enabled`, `disabled` (by
/// its tenant, or by notification after sustained failure: `reason` says which),
/// `secret_rotated` or `deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointChanged {
    pub tenant_id: TenantId,
    pub endpoint_id: EndpointId,
    pub change: String,
    /// Whether it receives messages now.
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who changed it (`user:<id>`, `apikey:<id>`, or `notification` itself).
    pub actor: String,
    pub at: DateTime<Utc>,
}

event!(EndpointChanged, "notification.endpoint.changed.v1", aggregate = endpoint_id, tenant = tenant_id);

/// notification erased a person's data in the tenant for a data-subject request: every
/// webhook message that named them deleted, with its deliveries and their logged answers,
/// and their inbox, emails and preferences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSubjectErased {
    pub tenant_id: TenantId,
    pub request_id: DataSubjectRequestId,
    pub outcome: ErasureOutcome,
}

event!(DataSubjectErased, "notification.data_subject.erased.v1", aggregate = request_id, tenant = tenant_id);

/// What notification erased for one data-subject request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureOutcome {
    /// Webhook messages (and their deliveries and attempts) deleted.
    pub messages_deleted: u64,
    /// The person's inbox items, emails and preferences deleted.
    pub notifications_deleted: u64,
}
