//! Payloads identity publishes: API keys, token-signing keys and user accounts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{TenantId, UserId},
};

/// A tenant API key was created. Carries the SHA-256 of the secret, never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreated {
    /// The key id, `mk_<32 hex>`.
    pub key_id: String,
    /// The tenant the key acts in.
    pub tenant_id: TenantId,
    /// A label for the key.
    pub name: String,
    /// Lower-case hex SHA-256 of the secret.
    pub secret_sha256: String,
    /// The roles the key holds (role names, sorted and unique).
    pub roles: Vec<String>,
    /// The scopes the key is limited to.
    pub scopes: Vec<String>,
    /// When the key stops working; `null` for never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who created it (`user:<id>`, ...).
    pub created_by: String,
    /// The record's revision; a newer one wins.
    pub revision: i64,
}

event!(ApiKeyCreated, "identity.apikey.created.v1", aggregate = key_id, tenant = tenant_id);

/// A tenant API key was revoked; every instance refuses it from now on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRevoked {
    /// The key id, `mk_<32 hex>`.
    pub key_id: String,
    /// The tenant the key acted in.
    pub tenant_id: TenantId,
    /// When it was revoked.
    pub revoked_at: DateTime<Utc>,
    /// Who revoked it.
    pub revoked_by: String,
    /// The record's revision; a newer one wins.
    pub revision: i64,
}

event!(ApiKeyRevoked, "identity.apikey.revoked.v1", aggregate = key_id, tenant = tenant_id);

/// A token-signing public key was published; it signs only after not_before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyPublished {
    /// The key id, `k-<hex>`.
    pub kid: String,
    /// The public key.
    pub jwk: Jwk,
    /// When the key starts signing.
    pub not_before: DateTime<Utc>,
    /// The record's revision; a newer one wins.
    pub revision: i64,
}

event!(SigningKeyPublished, "identity.signing_key.published.v1", aggregate = kid, tenant = none);

/// A P-256 public key as a JWK (RFC 7517).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Jwk {
    /// Always `EC`.
    pub kty: String,
    /// Always `P-256`.
    pub crv: String,
    /// The point's x coordinate, base64url.
    pub x: String,
    /// The point's y coordinate, base64url.
    pub y: String,
    /// The key id (the same as the event's `kid`).
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Always `ES256`.
    pub alg: String,
}

/// A signing key stopped signing; tokens it signed verify until verify_until.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyRetired {
    /// The key id, `k-<hex>`.
    pub kid: String,
    /// When it stopped signing.
    pub retired_at: DateTime<Utc>,
    /// Until when tokens it signed still verify.
    pub verify_until: DateTime<Utc>,
    /// The record's revision; a newer one wins.
    pub revision: i64,
}

event!(SigningKeyRetired, "identity.signing_key.retired.v1", aggregate = kid, tenant = none);

/// A user's access in a tenant changed (a membership granted, changed or removed, as
/// identity projected it): every key store refuses that user's access tokens for the
/// tenant issued under an older revision (their `ver` claim), so a removed member or a
/// demoted admin loses the old access at once, not when the token expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessChanged {
    /// The user.
    pub user_id: UserId,
    /// The tenant the access is in.
    pub tenant_id: TenantId,
    /// The membership revision now in force; tokens carrying an older one are refused.
    pub revision: i64,
    /// Whether the user is still a member.
    pub active: bool,
    /// The roles they now hold there (empty when not a member).
    pub roles: Vec<String>,
}

event!(AccessChanged, "identity.access.changed.v1", aggregate = user_id, tenant = tenant_id);

/// A user account was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCreated {
    /// The new user.
    pub user_id: UserId,
    /// Their email address.
    pub email: String,
    /// Their display name, when they gave one (sent as `null` otherwise).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Who created the account.
    pub created_by: String,
}

event!(UserCreated, "identity.user.created.v1", aggregate = user_id, tenant = none);
