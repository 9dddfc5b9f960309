//! The key-encryption port: data keys (a tenant's secrets key, identity's signing keys)
//! are stored only wrapped by a KEK that lives behind a `Kms`. Production plugs in a real
//! KMS or Vault transit adapter; development uses a local key file. Either way the KEK is
//! never a plain environment variable.

use std::{path::PathBuf, sync::Arc};

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use anyhow::{Context, bail};
use rand::Rng;
use sha2::{Digest, Sha256};

/// Wraps and unwraps data-encryption keys.
pub trait Kms: Send + Sync {
    /// Wraps `dek`; returns the id of the KEK used and the wrapped bytes.
    fn wrap(&self, dek: &[u8; 32], context: &[u8]) -> anyhow::Result<(String, Vec<u8>)>;
    /// Unwraps a key wrapped by `wrap` with the same `context`.
    fn unwrap(&self, kek_id: &str, wrapped: &[u8], context: &[u8]) -> anyhow::Result<[u8; 32]>;
    /// Encrypts a small secret (a private key) directly under the KEK, bound to `context`.
    fn seal(&self, plaintext: &[u8], context: &[u8]) -> anyhow::Result<(String, Vec<u8>)>;
    /// Decrypts what `seal` produced.
    fn open(&self, kek_id: &str, sealed: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>>;
}

/// A KEK read from a local file (32 random bytes), created on first use in development.
pub struct LocalKeyFile {
    id: String,
    cipher: Aes256Gcm,
}

impl LocalKeyFile {
    pub fn open(path: PathBuf) -> anyhow::Result<Self> {
        let key = match std::fs::read(&path) {
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut k = [0u8; 32];
                rand::rng().fill_bytes(&mut k);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                write_private(&path, &k)?;
                k.to_vec()
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if key.len() != 32 {
            bail!("{} must hold exactly 32 bytes", path.display());
        }
        // The id names the key without revealing it, so a rotated KEK is recognisable.
        let id = format!("local:{}", hex::encode(&Sha256::digest(&key)[..8]));
        Ok(Self { id, cipher: Aes256Gcm::new_from_slice(&key).expect("32-byte key") })
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

impl Kms for LocalKeyFile {
    fn wrap(&self, dek: &[u8; 32], context: &[u8]) -> anyhow::Result<(String, Vec<u8>)> {
        self.seal(dek, context)
    }

    fn unwrap(&self, kek_id: &str, wrapped: &[u8], context: &[u8]) -> anyhow::Result<[u8; 32]> {
        self.open(kek_id, wrapped, context)?.try_into().map_err(|_| anyhow::anyhow!("data key has the wrong length"))
    }

    fn seal(&self, plaintext: &[u8], context: &[u8]) -> anyhow::Result<(String, Vec<u8>)> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: context })
            .map_err(|_| anyhow::anyhow!("sealing under the KEK failed"))?;
        Ok((self.id.clone(), [nonce.as_slice(), &ct].concat()))
    }

    fn open(&self, kek_id: &str, sealed: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>> {
        if kek_id != self.id {
            bail!("sealed by {kek_id}, but the configured KEK is {}", self.id);
        }
        if sealed.len() < 12 {
            bail!("sealed data is truncated");
        }
        let (nonce, ct) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().expect("split at 12");
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: context })
            .map_err(|_| anyhow::anyhow!("opening under the KEK failed (wrong KEK or tampered)"))
    }
}

/// Where a service's KEK file is: `MIRAI_<SERVICE>__KEK_FILE`, or in development
/// `<state dir>/keys/<service>-kek.key`, next to the database it seals data in (the
/// state dir is `MIRAI_STATE_DIR`, `/var/tmp/mirai` by default, where `make setup` keeps
/// Postgres). Keys never live in the clone, so a second clone, or a wiped `.dev/`, opens
/// what the first one sealed.
pub fn kek_path(service: &str) -> PathBuf {
    match crate::Config::service_var(service, "KEK_FILE").filter(|p| !p.trim().is_empty()) {
        Some(p) => PathBuf::from(p),
        None => {
            let state = std::env::var("MIRAI_STATE_DIR").ok().filter(|d| !d.trim().is_empty());
            PathBuf::from(state.as_deref().unwrap_or("/var/tmp/mirai")).join("keys").join(format!("{service}-kek.key"))
        }
    }
}

/// The variable that names a service's KEK file.
pub fn kek_var(service: &str) -> String {
    format!("MIRAI_{}__KEK_FILE", service.to_uppercase().replace('-', "_"))
}

/// A service's KMS: the local key file at `kek_path`.
pub fn for_service(service: &str) -> anyhow::Result<Arc<dyn Kms>> {
    let path = kek_path(service);
    Ok(Arc::new(
        LocalKeyFile::open(path.clone()).with_context(|| format!("{} ({})", kek_var(service), path.display()))?,
    ))
}

/// The start-up error for data sealed under another KEK: which key, and how to recover.
pub fn kek_mismatch(service: &str, what: &str, sealed_by: &str, e: &anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "{var}: {what} in the database cannot be opened with the key at {path} ({e:#}). \
         Point {var} at the key file that sealed them (KEK id {sealed_by}); in development, \
         where nothing else depends on that data, start from an empty database instead \
         (drop the database DATABASE_URL names, or `rm -rf $MIRAI_STATE_DIR/pgdata` and `make setup`).",
        var = kek_var(service),
        path = kek_path(service).display(),
    )
}

/// Encrypts `plaintext` under `dek`, bound to `aad`; returns (nonce, ciphertext).
pub fn seal(dek: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let cipher = Aes256Gcm::new_from_slice(dek).expect("32-byte key");
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad })
        .map_err(|_| anyhow::anyhow!("encryption failed"))?;
    Ok((nonce.to_vec(), ct))
}

pub fn open(dek: &[u8; 32], nonce: &[u8], ciphertext: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(dek).expect("32-byte key");
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| anyhow::anyhow!("bad nonce"))?;
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad })
        .map_err(|_| anyhow::anyhow!("decryption failed (tampered or moved ciphertext)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_and_tamper_detection() {
        let dir = std::env::temp_dir().join(format!("mirai-kek-{}", uuid::Uuid::new_v4()));
        let kms = LocalKeyFile::open(dir.join("kek")).unwrap();
        let dek = [7u8; 32];
        let (id, wrapped) = kms.wrap(&dek, b"tenant-a").unwrap();
        assert_eq!(kms.unwrap(&id, &wrapped, b"tenant-a").unwrap(), dek);
        assert!(kms.unwrap(&id, &wrapped, b"tenant-b").is_err(), "bound to its tenant");
        let mut bad = wrapped.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(kms.unwrap(&id, &bad, b"tenant-a").is_err());
        let again = LocalKeyFile::open(dir.join("kek")).unwrap();
        assert_eq!(again.unwrap(&id, &wrapped, b"tenant-a").unwrap(), dek, "the key file persists");
        let (n, ct) = seal(&dek, b"smtp-password", b"t/a").unwrap();
        assert_eq!(open(&dek, &n, &ct, b"t/a").unwrap(), b"smtp-password");
        assert!(open(&dek, &n, &ct, b"t/b").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
