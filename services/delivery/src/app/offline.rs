//! Offline play: a learner registers a device (its X25519 public key), asks for a bundle
//! of a session's course version for it, downloads it (built on each download: content
//! encrypted to the device, manifest and license signed with the platform's Ed25519 key,
//! `mirai_playpackage`), and the device checks in now and then to learn which of its
//! licenses were revoked. A bundle's id is its license's. It carries the course's media
//! and its SCORM packages' files too, read from the object store, so the course plays
//! with no network.

use axum::http::StatusCode;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, Duration, Utc};
use mirai_contracts::{
    ids::{CourseId, PlaySessionId, TenantId, UserId},
    xapi,
};
use mirai_kit::{AppError, Principal, Role};
use mirai_playpackage as pp;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{learner, not_enrolled};
use crate::{
    AppState,
    store::{self, BundleRow, DeviceRow},
};

/// The key the fleet falls back to without `MIRAI_DELIVERY__BUNDLE_SIGNING_KEY` (dev only:
/// anyone can derive it).
const DEV_SEED: &[u8] = b"mirai-dev-only-bundle-signing-key";

/// The platform's bundle signing key and the licenses' terms.
#[derive(Clone)]
pub struct BundleKeys {
    pub key_id: String,
    signing: [u8; 32],
    pub public: [u8; 32],
    pub ttl: Duration,
    pub check_in: Duration,
    /// What one bundle may carry in all (`BUNDLE_MAX_BYTES`, default 512 MiB): a bundle
    /// is built in memory on each download.
    pub max_bytes: u64,
}

impl BundleKeys {
    /// `MIRAI_DELIVERY__BUNDLE_SIGNING_KEY` (32 bytes, base64url: an Ed25519 seed),
    /// `BUNDLE_TTL_DAYS` (30), `BUNDLE_CHECK_IN_HOURS` (168) and `BUNDLE_MAX_BYTES`
    /// (512 MiB).
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str| mirai_kit::Config::service_var(crate::NAME, k);
        let signing: [u8; 32] =
            match var("BUNDLE_SIGNING_KEY") {
                Some(v) => B64.decode(v.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
                    anyhow::anyhow!("MIRAI_DELIVERY__BUNDLE_SIGNING_KEY is not 32 bytes of base64url")
                })?,
                None => Sha256::digest(DEV_SEED).into(),
            };
        let ttl = mirai_kit::Config::service_num(crate::NAME, "BUNDLE_TTL_DAYS", 30)?;
        let check_in = mirai_kit::Config::service_num(crate::NAME, "BUNDLE_CHECK_IN_HOURS", 168)?;
        if !(1..=3650).contains(&ttl) {
            anyhow::bail!("MIRAI_DELIVERY__BUNDLE_TTL_DAYS: {ttl} is not between 1 and 3650");
        }
        if !(1..=8760).contains(&check_in) {
            anyhow::bail!("MIRAI_DELIVERY__BUNDLE_CHECK_IN_HOURS: {check_in} is not between 1 and 8760");
        }
        let mut keys = Self::new(signing, Duration::days(ttl as i64), Duration::hours(check_in as i64));
        keys.max_bytes = mirai_kit::Config::service_num(crate::NAME, "BUNDLE_MAX_BYTES", keys.max_bytes)?;
        Ok(keys)
    }

    pub fn new(signing: [u8; 32], ttl: Duration, check_in: Duration) -> Self {
        let public = pp::verifying_key(&signing);
        let key_id = format!("ed25519-{}", &hex::encode(Sha256::digest(public))[..16]);
        Self { key_id, signing, public, ttl, check_in, max_bytes: 512 << 20 }
    }
}

/// A device registered for offline play.
#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    pub id: Uuid,
    pub name: String,
    /// Its X25519 public key, base64url.
    pub public_key: String,
    pub created_at: DateTime<Utc>,
    pub last_check_in_at: Option<DateTime<Utc>>,
}

impl From<DeviceRow> for Device {
    fn from(d: DeviceRow) -> Self {
        Self {
            id: d.id,
            name: d.name,
            public_key: B64.encode(&d.public_key),
            created_at: d.created_at,
            last_check_in_at: d.last_check_in_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// 1 to 100 characters, e.g. "Anna's tablet".
    pub name: String,
    /// The device's X25519 public key: 32 bytes, base64url without padding.
    pub public_key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBundle {
    /// One of the caller's devices.
    pub device_id: Uuid,
}

/// A bundle: the license of one course version on one device.
#[derive(Debug, Serialize, ToSchema)]
pub struct Bundle {
    /// Also the license's id.
    pub id: Uuid,
    #[schema(value_type = uuid::Uuid)]
    pub session_id: PlaySessionId,
    pub device_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The device must check in at least this often for the bundle to keep opening.
    pub check_in_every_secs: i64,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who revoked it (`user:<id>`, `apikey:<id>`).
    pub revoked_by: Option<String>,
    /// Where to download it (`application/vnd.mirai.playpackage`).
    pub download: String,
}

/// What a device learns when it checks in, signed by the platform for that device: the
/// device keeps it and hands it to the bundle library (`mirai_playpackage::CheckIn`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckIn {
    pub device_id: Uuid,
    /// The platform's time (the device's next deadline counts from it).
    pub at: DateTime<Utc>,
    /// The device's licenses that no longer hold (revoked, or their enrollment ended).
    pub revoked: Vec<Uuid>,
    /// Which of `GET /bundles/keys` signed it.
    pub key_id: String,
    /// Ed25519 over the device, the time and the revoked licenses, base64url.
    pub signature: String,
}

/// The platform's bundle signing keys, as a JWK set (OKP, Ed25519).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeySet {
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

fn bundle_view(b: BundleRow) -> Bundle {
    Bundle {
        id: b.id,
        session_id: b.session_id,
        device_id: b.device_id,
        issued_at: b.issued_at,
        expires_at: b.expires_at,
        check_in_every_secs: b.check_in_every_secs,
        revoked_at: b.revoked_at,
        revoked_by: b.revoked_by,
        download: format!("/api/v1/delivery/bundles/{}/content", b.id),
    }
}

/// The database's clock to the second: licenses and check-ins are signed at that precision.
async fn now_secs(tx: &mut sqlx::PgConnection) -> Result<DateTime<Utc>, AppError> {
    Ok(sqlx::query_scalar("SELECT date_trunc('seconds', now())").fetch_one(tx).await?)
}

async fn own_device(tx: &mut sqlx::PgConnection, user: UserId, id: Uuid) -> Result<DeviceRow, AppError> {
    store::device_get(tx, id).await?.filter(|d| d.user_id == user).ok_or_else(|| AppError::not_found("device", id))
}

pub fn key_set(state: &AppState) -> KeySet {
    let k = &state.bundles;
    KeySet {
        keys: vec![json!({ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
            "kid": k.key_id, "x": B64.encode(k.public) })],
    }
}

/// Registers one of the caller's devices (the same key again answers the same device).
#[tracing::instrument(skip_all)]
pub async fn register_device(state: &AppState, p: &Principal, input: NewDevice) -> Result<(Device, bool), AppError> {
    let (tenant, user) = learner(p)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name", "must be 1 to 100 characters"));
    }
    let key: [u8; 32] = B64
        .decode(input.public_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AppError::invalid("public_key", "must be 32 bytes of base64url (an X25519 public key)"))?;
    if pp::weak_device_key(&key) {
        return Err(AppError::invalid("public_key", "is a low-order point: no key can be agreed with it"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let (d, new) = store::device_put(&mut tx, tenant, user, name, &key).await?;
    tx.commit().await?;
    Ok((d.into(), new))
}

/// Issues a bundle of the session's course version to one of the caller's devices.
#[tracing::instrument(skip_all, fields(session = %session))]
pub async fn issue(
    state: &AppState,
    p: &Principal,
    session: PlaySessionId,
    input: NewBundle,
) -> Result<Bundle, AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let (s, _) = super::own_session(&mut tx, learner(p)?.1, session, true).await?;
    let device = own_device(&mut tx, user, input.device_id).await?;
    let now = now_secs(&mut tx).await?;
    let row = BundleRow {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        session_id: s.id,
        device_id: device.id,
        user_id: user,
        issued_at: now,
        expires_at: now + state.bundles.ttl,
        check_in_every_secs: state.bundles.check_in.num_seconds(),
        revoked_at: None,
        revoked_by: None,
    };
    store::bundle_insert(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(bundle_view(row))
}

/// Builds the bundle's bytes for its device: while it is the caller's, not revoked, not
/// expired, and its enrollment active.
#[tracing::instrument(skip_all, fields(bundle = %id))]
pub async fn content(state: &AppState, p: &Principal, id: Uuid) -> Result<Vec<u8>, AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let b = store::bundle_get(&mut tx, id)
        .await?
        .filter(|b| b.user_id == user)
        .ok_or_else(|| AppError::not_found("bundle", id))?;
    if b.revoked_at.is_some() {
        return Err(AppError::client(StatusCode::GONE, "revoked", "Revoked", format!("bundle {id} was revoked")));
    }
    if b.expires_at <= Utc::now() {
        return Err(AppError::client(StatusCode::GONE, "expired", "Expired", format!("bundle {id} expired")));
    }
    let (s, v) = super::own_session(&mut tx, learner(p)?.1, b.session_id, false).await?;
    if !store::enrollment_is_active(&mut tx, s.enrollment_id, false).await? {
        return Err(not_enrolled(s.course_id));
    }
    let device = own_device(&mut tx, user, b.device_id).await?;
    // The download is a check-in: the license's clock starts now.
    let built = now_secs(&mut tx).await?;
    let wanted = payload_of(&mut tx, &v).await?;
    drop(tx);
    let (payload, index) = fetch_payload(state, wanted).await?;
    let course = json!({
        "course_id": s.course_id, "version": s.version, "title": v.title, "locale": v.locale,
        "content_hash": v.content_hash, "outline": v.outline.0, "media": index["media"], "packages": index["packages"],
    });
    // What the device needs to record statements offline: their actor and registration
    // (statement ids are minted on the device; the LRS stores a resend once).
    let session = json!({
        "session_id": s.id, "registration": s.id,
        "actor": { "objectType": "Agent", "account": {
            "homePage": state.ctx.public_url.trim_end_matches('/'), "name": user.to_string() } },
        "course_activity": xapi::course_activity(&state.ctx.public_url, s.course_id),
    });
    let mut files = vec![
        ("course.json".to_owned(), course.to_string().into_bytes()),
        ("session.json".to_owned(), session.to_string().into_bytes()),
    ];
    files.extend(payload);
    let keys = state.bundles.clone();
    let license = pp::License {
        license_id: b.id,
        tenant_id: TenantId::into_uuid(tenant),
        learner_id: user.into_uuid(),
        device_id: device.id,
        device_public_key: B64.encode(&device.public_key),
        course_id: CourseId::into_uuid(s.course_id),
        version: s.version,
        issued_at: built,
        expires_at: b.expires_at,
        check_in_every_secs: b.check_in_every_secs,
    };
    let course = pp::Course {
        course_id: s.course_id.into_uuid(),
        version: s.version,
        title: v.title.clone(),
        content_hash: v.content_hash.clone(),
    };
    // Encryption is CPU work: off the async workers.
    tokio::task::spawn_blocking(move || {
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, f)| (p.as_str(), f.as_slice())).collect();
        let mut rng = rand::rng();
        pp::build(pp::Build {
            bundle_id: b.id,
            key_id: &keys.key_id,
            signing_key: &keys.signing,
            course,
            license,
            files: &refs,
            content_key: rng.random(),
            ephemeral_secret: rng.random(),
        })
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("building the bundle: {e}")))?
    .map_err(|e| AppError::invalid("device_id", e.to_string()))
}

/// The objects a bundle carries besides the course: the media its blocks show and the
/// files of the packages its lessons launch (those the tenant may read).
struct Wanted {
    assets: Vec<store::AssetRow>,
    packages: Vec<store::runtime::PackageRow>,
}

async fn payload_of(tx: &mut sqlx::PgConnection, v: &store::VersionRow) -> Result<Wanted, AppError> {
    let blocks = || v.outline.0.iter().flat_map(|m| &m.lessons).flat_map(|l| &l.blocks);
    let media: Vec<Uuid> = blocks().filter_map(|b| b.media_id.map(|m| m.into_uuid())).collect();
    let assets = if media.is_empty() { vec![] } else { store::assets_get(tx, &media).await? };
    let mut ids: Vec<_> = blocks().filter_map(|b| b.package_id).collect();
    ids.sort_unstable_by_key(|p| p.into_uuid());
    ids.dedup();
    let mut packages = vec![];
    for id in ids {
        packages.extend(store::runtime::package_get(tx, id).await?);
    }
    Ok(Wanted { assets, packages })
}

fn too_large(max: u64) -> AppError {
    AppError::client(
        StatusCode::PAYLOAD_TOO_LARGE,
        "bundle-too-large",
        "Bundle too large",
        format!("the course's media and packages exceed the {max} bytes a bundle may carry"),
    )
}

/// Reads the objects from the store: files `media/<asset id>` and
/// `packages/<package id>/<path>`, and the index `course.json` carries of them.
async fn fetch_payload(state: &AppState, w: Wanted) -> Result<(Vec<(String, Vec<u8>)>, serde_json::Value), AppError> {
    use futures::TryStreamExt;
    use mirai_blobs::object_store::{ObjectStoreExt, path::Path};
    let store = state.blobs.store();
    let max = state.bundles.max_bytes;
    let (mut files, mut total) = (vec![], 0u64);
    let mut media = serde_json::Map::new();
    for a in &w.assets {
        total += a.size.max(0) as u64;
        if total > max {
            return Err(too_large(max));
        }
        let bytes = store.get(&Path::from(a.object_key.as_str())).await.map_err(mirai_blobs::unavailable)?;
        let bytes = bytes.bytes().await.map_err(mirai_blobs::unavailable)?;
        let path = format!("media/{}", a.id);
        media.insert(a.id.to_string(), json!({ "path": path, "content_type": a.content_type, "filename": a.filename }));
        files.push((path, bytes.to_vec()));
    }
    let mut packages = serde_json::Map::new();
    for p in &w.packages {
        let root = format!("tenants/{}/packages/{}", p.tenant_id, p.id);
        let objects: Vec<_> =
            store.list(Some(&Path::from(root.as_str()))).try_collect().await.map_err(mirai_blobs::unavailable)?;
        for o in objects {
            total += o.size;
            if total > max {
                return Err(too_large(max));
            }
            let key = o.location.to_string();
            let Some(rel) = key.strip_prefix(&format!("{root}/")) else { continue };
            let bytes = store.get(&o.location).await.map_err(mirai_blobs::unavailable)?;
            let bytes = bytes.bytes().await.map_err(mirai_blobs::unavailable)?;
            files.push((format!("packages/{}/{rel}", p.id), bytes.to_vec()));
        }
        packages.insert(
            p.id.to_string(),
            json!({ "standard": p.standard, "root": format!("packages/{}/", p.id), "items": p.items.0 }),
        );
    }
    Ok((files, json!({ "media": media, "packages": packages })))
}

/// Revokes a bundle: its learner, or an org admin or manager of the tenant.
#[tracing::instrument(skip_all, fields(bundle = %id))]
pub async fn revoke(state: &AppState, p: &Principal, id: Uuid) -> Result<Bundle, AppError> {
    let tenant = p.tenant()?;
    p.require_in_tenant(tenant, &Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let b = store::bundle_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("bundle", id))?;
    let own = p.user_id.is_some_and(|u| u == b.user_id.into_uuid());
    if !(own || p.has_role(Role::OrgAdmin) || p.has_role(Role::OrgManager)) {
        return Err(AppError::not_found("bundle", id));
    }
    let b = store::bundle_revoke(&mut tx, id, &p.subject).await?.ok_or_else(|| AppError::not_found("bundle", id))?;
    tx.commit().await?;
    Ok(bundle_view(b))
}

/// A device checks in: it learns the platform's time and its licenses that no longer hold.
#[tracing::instrument(skip_all, fields(device = %id))]
pub async fn check_in(state: &AppState, p: &Principal, id: Uuid) -> Result<CheckIn, AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let device = own_device(&mut tx, user, id).await?;
    let at = now_secs(&mut tx).await?;
    let revoked = store::revoked_for_device(&mut tx, device.id).await?;
    store::device_checked_in(&mut tx, device.id, at).await?;
    tx.commit().await?;
    let k = &state.bundles;
    let c = pp::sign_check_in(&k.signing, &k.key_id, device.id, at, revoked);
    Ok(CheckIn { device_id: c.device_id, at: c.at, revoked: c.revoked, key_id: c.key_id, signature: c.signature })
}
