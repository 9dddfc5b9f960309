//! Payloads the media service publishes: an uploaded asset was verified and is ready to be
//! used, or it was deleted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{AssetId, TenantId},
};

/// An upload was completed and checked: the object exists with the declared size and
/// type, and its SHA-256 is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetReady {
    pub tenant_id: TenantId,
    pub asset_id: AssetId,
    pub filename: String,
    /// The verified media type, e.g. `image/png`.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// `sha256:<hex>` of the bytes.
    pub sha256: String,
    /// Where it is stored: `tenants/<tenant_id>/media/<asset_id>`.
    pub object_key: String,
    pub ready_at: DateTime<Utc>,
}

event!(AssetReady, "media.asset.ready.v1", aggregate = asset_id, tenant = tenant_id);

/// An asset was deleted (no published version used it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetDeleted {
    pub tenant_id: TenantId,
    pub asset_id: AssetId,
    pub deleted_at: DateTime<Utc>,
}

event!(AssetDeleted, "media.asset.deleted.v1", aggregate = asset_id, tenant = tenant_id);
