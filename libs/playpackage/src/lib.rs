//! PlayPackage: a course version packed for one device to play offline.
//!
//! The server [`build`]s it; the device [`open`]s it with its X25519 secret key, the
//! platform's Ed25519 public keys, the clock and what its last check-in told it. Every byte
//! of a bundle is authenticated, so changing any one is refused:
//!
//! ```text
//! "MIRAIPP1"                      magic, 8 bytes
//! manifest length                 u32, big-endian
//! manifest                        JSON (`Manifest`)
//! signature                       Ed25519 over everything above, 64 bytes
//! payload                         the entries' ciphertexts, back to back, exactly
//!                                 `payload_length` bytes (no trailing byte is accepted)
//! ```
//!
//! - Each entry is AES-256-GCM under a fresh content key, with a nonce of its index and
//!   the bundle id and the entry's path as associated data; the manifest also records the
//!   SHA-256 of each ciphertext.
//! - The content key is wrapped to the device: X25519 between a fresh ephemeral key and
//!   the device's public key, HKDF-SHA256 (salt: the bundle id; info: a label and both
//!   public keys) into a key-encryption key, AES-256-GCM with the license id as associated
//!   data. Only the device's secret key unwraps it.
//! - The license (learner, device, course version, expiry, check-in interval) is in the
//!   signed manifest: a bundle opens only on its device, before its expiry, and only while
//!   the device checked in (learning the revoked licenses) within the interval.
//!
//! The library takes its randomness from the caller (the content key and the ephemeral
//! secret) and does no I/O, so that the PWA can run it compiled to WASM (not built for
//! `wasm32` yet: this machine has no such target).

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey, ed25519::signature::Signer};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"MIRAIPP1";
/// The manifest's `format`.
pub const FORMAT: &str = "mirai.playpackage.v1";
/// How the content key is wrapped to the device.
pub const KEY_WRAP: &str = "X25519-HKDF-SHA256-A256GCM";
/// The most manifest a bundle may carry (a course with thousands of files fits).
pub const MAX_MANIFEST: usize = 8 * 1024 * 1024;
const SIGNATURE_LEN: usize = 64;
const WRAP_INFO: &[u8] = b"mirai playpackage v1 key wrap";

/// The course version a bundle holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Course {
    pub course_id: Uuid,
    pub version: i32,
    pub title: String,
    /// The version's `sha256:<hex>` as published.
    pub content_hash: String,
}

/// The license envelope: who may play the bundle, where, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    pub license_id: Uuid,
    pub tenant_id: Uuid,
    pub learner_id: Uuid,
    pub device_id: Uuid,
    /// The device's X25519 public key, base64url (32 bytes).
    pub device_public_key: String,
    pub course_id: Uuid,
    pub version: i32,
    /// When this bundle was built: its download counts as a check-in.
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The device must check in (and learn the revoked licenses) at least this often; past
    /// it, the bundle does not open until it has.
    pub check_in_every_secs: i64,
}

/// The content key, wrapped to the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyWrap {
    /// [`KEY_WRAP`].
    pub alg: String,
    /// The ephemeral X25519 public key, base64url.
    pub ephemeral_public_key: String,
    /// AES-256-GCM of the content key (nonce zero: the key-encryption key is used once),
    /// base64url.
    pub wrapped_key: String,
}

/// One file of the bundle, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub path: String,
    /// Offset of its ciphertext in the payload.
    pub offset: u64,
    /// Length of its ciphertext (the plaintext's plus the 16-byte tag).
    pub length: u64,
    /// SHA-256 of its ciphertext, hex.
    pub sha256: String,
}

/// What a bundle says of itself, signed by the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    pub bundle_id: Uuid,
    /// Which of the platform's signing keys signed it.
    pub key_id: String,
    pub course: Course,
    pub license: License,
    pub key_wrap: KeyWrap,
    pub entries: Vec<Entry>,
    pub payload_length: u64,
}

/// What [`build`] needs. The two secrets are the caller's fresh random bytes: a content key
/// and an ephemeral X25519 secret, each used for this bundle only.
pub struct Build<'a> {
    pub bundle_id: Uuid,
    pub key_id: &'a str,
    pub signing_key: &'a [u8; 32],
    pub course: Course,
    pub license: License,
    pub files: &'a [(&'a str, &'a [u8])],
    pub content_key: [u8; 32],
    pub ephemeral_secret: [u8; 32],
}

/// Why a bundle could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("the device public key is not 32 bytes of base64url")]
    DeviceKey,
    #[error("the device public key is a low-order point: no key can be agreed with it")]
    WeakDeviceKey,
    #[error("file path {0:?} is empty, repeated, or over 1024 bytes")]
    Path(String),
    #[error("the manifest is over {MAX_MANIFEST} bytes")]
    TooManyFiles,
}

/// What the device learned at its last check-in with the platform, signed by the platform
/// for that device: a device cannot move its deadline or forget a revocation by editing
/// what it stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    pub device_id: Uuid,
    /// The platform's time at the check-in.
    pub at: DateTime<Utc>,
    /// The device's licenses revoked so far.
    pub revoked: Vec<Uuid>,
    pub key_id: String,
    /// Ed25519 over [`check_in_message`], base64url.
    pub signature: String,
}

/// How far ahead of the device's clock a check-in's time may be (clock skew).
pub const MAX_SKEW_SECS: i64 = 300;

/// The bytes a check-in's signature covers.
pub fn check_in_message(device_id: Uuid, at: DateTime<Utc>, revoked: &[Uuid]) -> Vec<u8> {
    let mut m = b"mirai.playpackage.checkin.v1".to_vec();
    m.extend_from_slice(device_id.as_bytes());
    m.extend_from_slice(&at.timestamp_millis().to_be_bytes());
    m.extend_from_slice(&(revoked.len() as u64).to_be_bytes());
    for r in revoked {
        m.extend_from_slice(r.as_bytes());
    }
    m
}

/// The platform signs a device's check-in.
pub fn sign_check_in(
    signing_key: &[u8; 32],
    key_id: &str,
    device_id: Uuid,
    at: DateTime<Utc>,
    revoked: Vec<Uuid>,
) -> CheckIn {
    let sig = SigningKey::from_bytes(signing_key).sign(&check_in_message(device_id, at, &revoked));
    CheckIn { device_id, at, revoked, key_id: key_id.to_owned(), signature: B64.encode(sig.to_bytes()) }
}

fn verify_check_in(c: &CheckIn, trusted: &[(&str, [u8; 32])]) -> Result<(), OpenError> {
    let (_, key) =
        trusted.iter().find(|(k, _)| *k == c.key_id).ok_or_else(|| OpenError::UnknownKey(c.key_id.clone()))?;
    let key = VerifyingKey::from_bytes(key).map_err(|_| OpenError::UnknownKey(c.key_id.clone()))?;
    let sig: [u8; SIGNATURE_LEN] =
        B64.decode(&c.signature).ok().and_then(|s| s.try_into().ok()).ok_or(OpenError::BadCheckIn)?;
    key.verify_strict(&check_in_message(c.device_id, c.at, &c.revoked), &Signature::from_bytes(&sig))
        .map_err(|_| OpenError::BadCheckIn)
}

/// Why a bundle does not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("not a PlayPackage: {0}")]
    Malformed(&'static str),
    #[error("signed with key {0:?}, which the device does not trust")]
    UnknownKey(String),
    #[error("the platform's signature does not verify: the bundle was changed")]
    BadSignature,
    #[error("the bundle is licensed to another device")]
    OtherDevice,
    #[error("the license expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("the license was revoked")]
    Revoked,
    #[error("the device had to check in by {0}; it has not since")]
    CheckInOverdue(DateTime<Utc>),
    #[error("the check-in is not the platform's, or not for this device")]
    BadCheckIn,
    #[error("the device's clock is behind the bundle's issue or its last check-in")]
    ClockBehind,
    #[error("entry {0:?} does not decrypt: the bundle was changed")]
    Tampered(String),
}

/// An opened bundle: its manifest and its files, decrypted.
#[derive(Debug)]
pub struct Opened {
    pub manifest: Manifest,
    pub files: Vec<(String, Vec<u8>)>,
}

impl Opened {
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.iter().find(|(p, _)| p == path).map(|(_, b)| b.as_slice())
    }
}

/// The X25519 public key of a secret key (what a device registers).
pub fn device_public_key(secret: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::x25519(*secret, x25519_dalek::X25519_BASEPOINT_BYTES)
}

/// Whether an X25519 public key is a low-order point, with which every agreed key is
/// zero: a device must not register one.
pub fn weak_device_key(key: &[u8; 32]) -> bool {
    x25519_dalek::x25519([1; 32], *key) == [0u8; 32]
}

/// The Ed25519 public key of a platform signing key (what devices trust).
pub fn verifying_key(signing_key: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(signing_key).verifying_key().to_bytes()
}

fn kek(bundle: Uuid, shared: &[u8; 32], ephemeral: &[u8; 32], device: &[u8; 32]) -> Aes256Gcm {
    let info = [WRAP_INFO, ephemeral, device].concat();
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(bundle.as_bytes()), shared)
        .expand(&info, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    Aes256Gcm::new_from_slice(&key).expect("32-byte key")
}

fn entry_nonce(index: usize) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&(index as u64).to_be_bytes());
    Nonce::from(n)
}

fn entry_aad(bundle: Uuid, path: &str) -> Vec<u8> {
    [bundle.as_bytes().as_slice(), path.as_bytes()].concat()
}

fn key32(b64: &str) -> Option<[u8; 32]> {
    B64.decode(b64).ok()?.try_into().ok()
}

/// Builds a bundle: the files encrypted, the content key wrapped to the license's device,
/// the manifest signed.
pub fn build(b: Build<'_>) -> Result<Vec<u8>, BuildError> {
    let device = key32(&b.license.device_public_key).ok_or(BuildError::DeviceKey)?;
    let ephemeral = device_public_key(&b.ephemeral_secret);
    let shared = x25519_dalek::x25519(b.ephemeral_secret, device);
    if shared == [0u8; 32] {
        return Err(BuildError::WeakDeviceKey);
    }
    let wrapped = kek(b.bundle_id, &shared, &ephemeral, &device)
        .encrypt(&Nonce::from([0u8; 12]), Payload { msg: &b.content_key, aad: b.license.license_id.as_bytes() })
        .expect("AES-GCM encrypts 32 bytes");
    let cipher = Aes256Gcm::new_from_slice(&b.content_key).expect("32-byte key");
    let mut payload = Vec::with_capacity(b.files.iter().map(|(_, f)| f.len() + 16).sum());
    let mut entries = Vec::with_capacity(b.files.len());
    for (i, (path, data)) in b.files.iter().enumerate() {
        if path.is_empty() || path.len() > 1024 || entries.iter().any(|e: &Entry| e.path == *path) {
            return Err(BuildError::Path((*path).to_owned()));
        }
        let ct = cipher
            .encrypt(&entry_nonce(i), Payload { msg: data, aad: &entry_aad(b.bundle_id, path) })
            .expect("AES-GCM encrypts any file under 64 GiB");
        entries.push(Entry {
            path: (*path).to_owned(),
            offset: payload.len() as u64,
            length: ct.len() as u64,
            sha256: hex::encode(Sha256::digest(&ct)),
        });
        payload.extend_from_slice(&ct);
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        bundle_id: b.bundle_id,
        key_id: b.key_id.to_owned(),
        course: b.course,
        license: b.license,
        key_wrap: KeyWrap {
            alg: KEY_WRAP.to_owned(),
            ephemeral_public_key: B64.encode(ephemeral),
            wrapped_key: B64.encode(wrapped),
        },
        entries,
        payload_length: payload.len() as u64,
    };
    let json = serde_json::to_vec(&manifest).expect("a manifest serializes");
    if json.len() > MAX_MANIFEST {
        return Err(BuildError::TooManyFiles);
    }
    let mut out = Vec::with_capacity(12 + json.len() + SIGNATURE_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
    let signature = SigningKey::from_bytes(b.signing_key).sign(&out);
    out.extend_from_slice(&signature.to_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Reads a bundle's manifest after checking the platform's signature, without opening it
/// (a device lists what it holds with this).
pub fn manifest<'b>(bytes: &'b [u8], trusted: &[(&str, [u8; 32])]) -> Result<(Manifest, &'b [u8]), OpenError> {
    let header = bytes.get(..12).ok_or(OpenError::Malformed("shorter than its header"))?;
    if &header[..8] != MAGIC {
        return Err(OpenError::Malformed("wrong magic"));
    }
    let len = u32::from_be_bytes(header[8..12].try_into().expect("4 bytes")) as usize;
    if len > MAX_MANIFEST {
        return Err(OpenError::Malformed("manifest too large"));
    }
    let signed_end = 12 + len;
    let signed = bytes.get(..signed_end).ok_or(OpenError::Malformed("truncated manifest"))?;
    let sig: [u8; SIGNATURE_LEN] = bytes
        .get(signed_end..signed_end + SIGNATURE_LEN)
        .ok_or(OpenError::Malformed("truncated signature"))?
        .try_into()
        .expect("64 bytes");
    // The key id is read from the manifest before the signature is checked: it only picks
    // which trusted key to check with.
    #[derive(Deserialize)]
    struct KeyOnly {
        key_id: String,
    }
    let kid = serde_json::from_slice::<KeyOnly>(&signed[12..]).map_err(|_| OpenError::BadSignature)?.key_id;
    let (_, key) = trusted.iter().find(|(k, _)| *k == kid).ok_or_else(|| OpenError::UnknownKey(kid.clone()))?;
    let key = VerifyingKey::from_bytes(key).map_err(|_| OpenError::UnknownKey(kid))?;
    key.verify_strict(signed, &Signature::from_bytes(&sig)).map_err(|_| OpenError::BadSignature)?;
    let m: Manifest = serde_json::from_slice(&signed[12..]).map_err(|_| OpenError::Malformed("manifest"))?;
    if m.format != FORMAT || m.key_wrap.alg != KEY_WRAP {
        return Err(OpenError::Malformed("unknown format"));
    }
    let payload = &bytes[signed_end + SIGNATURE_LEN..];
    if payload.len() as u64 != m.payload_length {
        return Err(OpenError::Malformed("payload length differs from the manifest's"));
    }
    Ok((m, payload))
}

/// Opens a bundle on a device: the platform's signature, the license (this device, not
/// expired, checked in on time, not revoked), then every file, decrypted and checked.
/// `last_check_in` is the platform's signed answer to the device's last check-in; without
/// one, the bundle's download (its `issued_at`) counts as the check-in.
pub fn open(
    bytes: &[u8],
    device_secret: &[u8; 32],
    trusted: &[(&str, [u8; 32])],
    now: DateTime<Utc>,
    last_check_in: Option<&CheckIn>,
) -> Result<Opened, OpenError> {
    let (m, payload) = manifest(bytes, trusted)?;
    let l = &m.license;
    let device = device_public_key(device_secret);
    if key32(&l.device_public_key) != Some(device) {
        return Err(OpenError::OtherDevice);
    }
    if now >= l.expires_at {
        return Err(OpenError::Expired(l.expires_at));
    }
    if let Some(c) = last_check_in {
        verify_check_in(c, trusted)?;
        if c.device_id != l.device_id {
            return Err(OpenError::BadCheckIn);
        }
    }
    let checked = last_check_in.map_or(l.issued_at, |c| c.at.max(l.issued_at));
    // The platform's own times are ahead of the device's clock: the clock was set back, and
    // would reopen a closed window.
    if now + Duration::seconds(MAX_SKEW_SECS) < checked {
        return Err(OpenError::ClockBehind);
    }
    let due = Duration::try_seconds(l.check_in_every_secs)
        .filter(|d| *d > Duration::zero())
        .and_then(|d| checked.checked_add_signed(d))
        .ok_or(OpenError::Malformed("check-in interval"))?;
    if now > due {
        return Err(OpenError::CheckInOverdue(due));
    }
    if last_check_in.is_some_and(|c| c.revoked.contains(&l.license_id)) {
        return Err(OpenError::Revoked);
    }
    let ephemeral = key32(&m.key_wrap.ephemeral_public_key).ok_or(OpenError::Malformed("ephemeral key"))?;
    let shared = x25519_dalek::x25519(*device_secret, ephemeral);
    let wrapped = B64.decode(&m.key_wrap.wrapped_key).map_err(|_| OpenError::Malformed("wrapped key"))?;
    let content_key = kek(m.bundle_id, &shared, &ephemeral, &device)
        .decrypt(&Nonce::from([0u8; 12]), Payload { msg: &wrapped, aad: l.license_id.as_bytes() })
        .map_err(|_| OpenError::OtherDevice)?;
    let cipher = Aes256Gcm::new_from_slice(&content_key).map_err(|_| OpenError::Malformed("content key"))?;
    // The entries must tile the payload exactly, in order: no byte outside an entry.
    let mut at = 0u64;
    let mut files = Vec::with_capacity(m.entries.len());
    for (i, e) in m.entries.iter().enumerate() {
        if e.offset != at || e.length < 16 {
            return Err(OpenError::Malformed("entries do not tile the payload"));
        }
        let end = at.checked_add(e.length).filter(|end| *end <= m.payload_length);
        let end = end.ok_or(OpenError::Malformed("entries do not tile the payload"))?;
        let ct = &payload[at as usize..end as usize];
        if hex::encode(Sha256::digest(ct)) != e.sha256 {
            return Err(OpenError::Tampered(e.path.clone()));
        }
        let plain = cipher
            .decrypt(&entry_nonce(i), Payload { msg: ct, aad: &entry_aad(m.bundle_id, &e.path) })
            .map_err(|_| OpenError::Tampered(e.path.clone()))?;
        files.push((e.path.clone(), plain));
        at = end;
    }
    if at != m.payload_length {
        return Err(OpenError::Malformed("entries do not tile the payload"));
    }
    Ok(Opened { manifest: m, files })
}

#[cfg(test)]
mod tests;
