//! The local copy of identity's public signing keys and API-key records. It is projected
//! from identity's events (`identity.signing_key.*`, `identity.apikey.*`) replayed from
//! the IDENTITY stream at start-up and followed live, so every instance verifies
//! credentials itself, identity can be down, and a revocation arrives in milliseconds.
//! Records carry a `revision`; an older revision never overwrites a newer one.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use chrono::{DateTime, Utc};
use p256::ecdsa::VerifyingKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{
    CredentialKind, Principal, Role,
    bus_signing::{BusVerifier, SignatureError},
    jwt::{self, Jwk, JwtError},
};
use mirai_events::Envelope;

mod feed;

pub const SIGNING_KEY_PUBLISHED: &str = "identity.signing_key.published.v1";
pub const SIGNING_KEY_RETIRED: &str = "identity.signing_key.retired.v1";
pub const APIKEY_CREATED: &str = "identity.apikey.created.v1";
pub const APIKEY_REVOKED: &str = "identity.apikey.revoked.v1";
pub const ACCESS_CHANGED: &str = "identity.access.changed.v1";

#[derive(Debug, Deserialize)]
struct AccessChanged {
    user_id: Uuid,
    tenant_id: Uuid,
    revision: i64,
}

#[derive(Debug, Deserialize)]
struct SigningKeyPublished {
    kid: String,
    jwk: Jwk,
    revision: i64,
}

#[derive(Debug, Deserialize)]
struct SigningKeyRetired {
    kid: String,
    verify_until: DateTime<Utc>,
    revision: i64,
}

#[derive(Debug, Deserialize)]
struct ApiKeyCreated {
    key_id: String,
    tenant_id: Uuid,
    secret_sha256: String,
    roles: Vec<String>,
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    revision: i64,
}

#[derive(Debug, Deserialize)]
struct ApiKeyRevoked {
    key_id: String,
    revision: i64,
}

#[derive(Debug, Clone)]
struct SigningKey {
    key: VerifyingKey,
    verify_until: Option<DateTime<Utc>>,
    revision: i64,
}

#[derive(Debug, Clone)]
struct ApiKey {
    tenant_id: Uuid,
    secret_sha256: [u8; 32],
    roles: Vec<Role>,
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
    revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Jwt(#[from] JwtError),
    #[error("the API key is not recognized")]
    UnknownApiKey,
    #[error("the API key has been revoked")]
    RevokedApiKey,
    #[error("the API key has expired")]
    ExpiredApiKey,
    #[error("the Authorization header is not a Bearer token or Basic credential")]
    BadScheme,
    #[error("the token was issued before a change to your access in this tenant; get a new one")]
    StaleAccess,
}

#[derive(Default)]
struct Inner {
    signing: HashMap<String, SigningKey>,
    apikeys: HashMap<String, ApiKey>,
    /// (user, tenant) → the newest access revision seen; older tokens are refused.
    access: HashMap<(Uuid, Uuid), i64>,
}

/// A verified token, remembered so repeat requests skip the signature check.
struct CachedJwt {
    principal: Principal,
    exp: i64,
    kid: String,
    ver: Option<i64>,
}

/// Verified tokens held at most (cleared when full; a token costs one verify to re-add).
const JWT_CACHE_MAX: usize = 50_000;

/// Key id → (tenant, last use) since the last report.
type UsageMap = HashMap<String, (Uuid, DateTime<Utc>)>;

/// Core-NATS subject (outside every stream) where instances report API-key use.
pub const APIKEY_USAGE_SUBJECT: &str = "telemetry.apikey.used";

/// One instance's report: when each key was last used here.
#[derive(Debug, serde::Serialize, Deserialize)]
pub struct ApiKeyUsage {
    pub key_id: String,
    pub tenant_id: Uuid,
    pub at: DateTime<Utc>,
}

/// Verifies credentials locally. Cheap to clone (shared).
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<RwLock<Inner>>,
    usage: Arc<std::sync::Mutex<UsageMap>>,
    /// SHA-256 of the token → its principal; entries honour `exp` and key retirement.
    jwt_cache: Arc<std::sync::Mutex<HashMap<[u8; 32], CachedJwt>>>,
    caught_up: Arc<AtomicBool>,
    issuer: Arc<str>,
    audience: Arc<str>,
    /// The pinned keys identity's events must be signed with.
    verifier: BusVerifier,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl KeyStore {
    pub fn new(issuer: &str, audience: &str, verifier: BusVerifier) -> Self {
        Self {
            verifier,
            inner: Arc::default(),
            usage: Arc::default(),
            jwt_cache: Arc::default(),
            caught_up: Arc::default(),
            issuer: issuer.into(),
            audience: audience.into(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// True once the start-up replay has reached the head of the stream.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// How many signing keys are known (readiness, tests).
    pub fn signing_key_count(&self) -> usize {
        self.inner.read().unwrap().signing.len()
    }

    /// The current access version of `user` in `tenant`, as identity announced it: what a
    /// token must carry (`ver`) to be accepted (`None`: never changed, any token will do).
    pub fn access_version(&self, user: Uuid, tenant: Uuid) -> Option<i64> {
        self.inner.read().unwrap().access.get(&(user, tenant)).copied()
    }

    /// Applies one of identity's events if its signature verifies under a pinned key
    /// (ADR 0006); a forged or unsigned one is refused, counted and logged.
    pub fn receive(&self, event: &Envelope) -> Result<(), SignatureError> {
        if let Err(e) = self.verifier.verify(event) {
            metrics::counter!("mirai_key_events_refused_total").increment(1);
            tracing::error!(event = %event.id, kind = %event.kind, error = %e, "key store: refused an unauthenticated key event");
            return Err(e);
        }
        self.apply(event);
        Ok(())
    }

    /// Applies one identity event, already authenticated; others are ignored.
    fn apply(&self, event: &Envelope) {
        let mut inner = self.inner.write().unwrap();
        match event.kind.as_str() {
            SIGNING_KEY_PUBLISHED => {
                let Ok(e) = event.data_as::<SigningKeyPublished>() else {
                    return;
                };
                let Some(key) = jwt::jwk_to_key(&e.jwk) else { return };
                if inner.signing.get(&e.kid).is_none_or(|k| k.revision < e.revision) {
                    inner.signing.insert(e.kid, SigningKey { key, verify_until: None, revision: e.revision });
                }
            }
            SIGNING_KEY_RETIRED => {
                let Ok(e) = event.data_as::<SigningKeyRetired>() else {
                    return;
                };
                if let Some(k) = inner.signing.get_mut(&e.kid).filter(|k| k.revision < e.revision) {
                    k.verify_until = Some(e.verify_until);
                    k.revision = e.revision;
                }
            }
            APIKEY_CREATED => {
                let Ok(e) = event.data_as::<ApiKeyCreated>() else {
                    return;
                };
                let mut hash = [0u8; 32];
                if hex::decode_to_slice(&e.secret_sha256, &mut hash).is_err() {
                    return;
                }
                if inner.apikeys.get(&e.key_id).is_none_or(|k| k.revision < e.revision) {
                    inner.apikeys.insert(
                        e.key_id,
                        ApiKey {
                            tenant_id: e.tenant_id,
                            secret_sha256: hash,
                            // Platform roles are never an API key's, whatever an event says.
                            roles: e
                                .roles
                                .iter()
                                .filter_map(|r| Role::parse(r))
                                .filter(|r| *r != Role::PlatformAdmin)
                                .collect(),
                            scopes: e.scopes,
                            expires_at: e.expires_at,
                            revoked: false,
                            revision: e.revision,
                        },
                    );
                }
            }
            ACCESS_CHANGED => {
                let Ok(e) = event.data_as::<AccessChanged>() else {
                    return;
                };
                let current = inner.access.entry((e.user_id, e.tenant_id)).or_insert(e.revision);
                *current = (*current).max(e.revision);
            }
            APIKEY_REVOKED => {
                let Ok(e) = event.data_as::<ApiKeyRevoked>() else {
                    return;
                };
                match inner.apikeys.get_mut(&e.key_id) {
                    Some(k) if k.revision < e.revision => {
                        k.revoked = true;
                        k.revision = e.revision;
                    }
                    Some(_) => {}
                    // Revoked before we saw it created (out of order): remember the tombstone.
                    None => {
                        inner.apikeys.insert(
                            e.key_id,
                            ApiKey {
                                tenant_id: Uuid::nil(),
                                secret_sha256: [0; 32],
                                roles: vec![],
                                scopes: vec![],
                                expires_at: None,
                                revoked: true,
                                revision: e.revision,
                            },
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// Verifies an access JWT. A token verified before is answered from the cache while
    /// it is unexpired and its signing key still verifies.
    pub fn verify_jwt(&self, token: &str) -> Result<Principal, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Utc::now();
        let cached = self.jwt_cache.lock().unwrap().get(&digest).and_then(|c| {
            (c.exp + jwt::LEEWAY_SECS >= now.timestamp() && self.key_verifies(&c.kid, now))
                .then(|| (c.principal.clone(), c.ver))
        });
        if let Some((principal, ver)) = cached {
            self.still_valid(&principal, ver, now)?;
            return Ok(principal);
        }
        let kid = jwt::header_kid(token)?;
        let key = {
            let inner = self.inner.read().unwrap();
            let k = inner.signing.get(&kid).ok_or_else(|| JwtError::UnknownKid(kid.clone()))?;
            if k.verify_until.is_some_and(|t| t < now) {
                return Err(JwtError::UnknownKid(kid).into());
            }
            k.key
        };
        let claims = jwt::verify(token, &key, &self.issuer, &self.audience, now.timestamp())?;
        let (kind, user_id) = match claims.kind.as_str() {
            "client" => (CredentialKind::Client, None),
            _ => (CredentialKind::User, claims.sub.strip_prefix("user:").and_then(|s| s.parse().ok())),
        };
        let exp = claims.exp;
        let ver = claims.ver;
        let principal = Principal {
            kind,
            subject: claims.sub,
            user_id,
            tenant_id: claims.tid,
            roles: claims.roles.iter().filter_map(|r| Role::parse(r)).collect(),
            scopes: claims.scopes,
            email: claims.email,
        };
        let mut cache = self.jwt_cache.lock().unwrap();
        if cache.len() >= JWT_CACHE_MAX {
            cache.clear();
        }
        cache.insert(digest, CachedJwt { principal: principal.clone(), exp, kid, ver });
        drop(cache);
        self.still_valid(&principal, ver, now)?;
        Ok(principal)
    }

    /// What is checked on every request, cached or not, so revocation is total: a client
    /// token dies with its API key, and a user's token dies with the access it was issued
    /// under (a removed member, a changed role).
    fn still_valid(&self, p: &Principal, ver: Option<i64>, now: DateTime<Utc>) -> Result<(), AuthError> {
        let inner = self.inner.read().unwrap();
        match p.kind {
            CredentialKind::Client => {
                let key_id = p.subject.strip_prefix("client:").unwrap_or_default();
                match inner.apikeys.get(key_id) {
                    None => Err(AuthError::UnknownApiKey),
                    Some(k) if k.revoked => Err(AuthError::RevokedApiKey),
                    Some(k) if k.expires_at.is_some_and(|t| t < now) => Err(AuthError::ExpiredApiKey),
                    Some(_) => Ok(()),
                }
            }
            _ => match (p.user_id, p.tenant_id) {
                (Some(user), Some(tenant)) => match inner.access.get(&(user, tenant)) {
                    Some(current) if ver.is_none_or(|v| v < *current) => Err(AuthError::StaleAccess),
                    _ => Ok(()),
                },
                _ => Ok(()),
            },
        }
    }

    fn key_verifies(&self, kid: &str, now: DateTime<Utc>) -> bool {
        self.inner.read().unwrap().signing.get(kid).is_some_and(|k| k.verify_until.is_none_or(|t| t >= now))
    }

    /// Verifies an API key given as its id (`mk_<hex>`) and secret.
    pub fn verify_api_key(&self, key_id: &str, secret: &str) -> Result<Principal, AuthError> {
        let inner = self.inner.read().unwrap();
        let k = inner.apikeys.get(key_id).ok_or(AuthError::UnknownApiKey)?;
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if !bool::from(presented.ct_eq(&k.secret_sha256)) {
            // Whoever lacks the secret learns nothing about the key, revoked or not.
            return Err(AuthError::UnknownApiKey);
        }
        if k.revoked {
            return Err(AuthError::RevokedApiKey);
        }
        if k.expires_at.is_some_and(|t| t < Utc::now()) {
            return Err(AuthError::ExpiredApiKey);
        }
        self.usage.lock().unwrap().insert(key_id.to_owned(), (k.tenant_id, Utc::now()));
        Ok(Principal {
            kind: CredentialKind::ApiKey,
            subject: format!("apikey:{key_id}"),
            user_id: None,
            tenant_id: Some(k.tenant_id),
            roles: k.roles.clone(),
            scopes: k.scopes.clone(),
            email: None,
        })
    }

    /// Verifies an `Authorization` header value: `Bearer <jwt|api key>` or `Basic`.
    pub fn verify_header(&self, value: &str) -> Result<Principal, AuthError> {
        let (scheme, rest) = value.trim().split_once(' ').ok_or(AuthError::BadScheme)?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            if let Some((id, secret)) = super::split_api_key(rest) {
                return self.verify_api_key(id, secret);
            }
            if rest.starts_with(super::API_KEY_PREFIX) {
                return Err(AuthError::UnknownApiKey);
            }
            self.verify_jwt(rest)
        } else if scheme.eq_ignore_ascii_case("basic") {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| AuthError::BadScheme)?;
            let text = String::from_utf8(decoded).map_err(|_| AuthError::BadScheme)?;
            let (user, pass) = text.split_once(':').ok_or(AuthError::BadScheme)?;
            self.verify_api_key(user, pass)
        } else {
            Err(AuthError::BadScheme)
        }
    }
}
