//! Password hashing (argon2id), random secrets, and signing-key generation.

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::settings::Settings;

fn argon2(s: &Settings) -> Argon2<'static> {
    let params = Params::new(s.argon2_m_kib, s.argon2_t, s.argon2_p, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (PHC string). CPU-heavy: call from `spawn_blocking`.
pub fn hash_password(s: &Settings, password: &str) -> String {
    argon2(s).hash_password(password.as_bytes()).expect("argon2 hashes").to_string()
}

/// Verifies a password against its PHC hash. CPU-heavy: call from `spawn_blocking`.
pub fn verify_password(s: &Settings, password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2(s).verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash to verify against when the account does not exist, so timing does not tell.
pub fn dummy_hash(s: &Settings) -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(s, "not-a-real-password-at-all"))
}

/// `n` random bytes, base64url.
pub fn random_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    B64.encode(b)
}

pub fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(sha256(s))
}

#[cfg(test)]
mod compat_tests {
    use super::*;

    /// Hashes already in the database keep verifying across library upgrades: this PHC
    /// string was made by another implementation (argon2-cffi, the reference C library)
    /// with our parameters, so it pins the standard format, not our own code's output.
    #[test]
    fn stored_argon2id_hashes_from_other_implementations_verify() {
        let settings = Settings::from_env().unwrap();
        let phc = "$argon2id$v=19$m=19456,t=2,p=1$vIby4KsLPxxhmHh14vTIyA$GKhuTaJDrjDK8rHZ0bIbCWxtMOlCHOh2D3CDhPhbfCs";
        assert!(verify_password(&settings, "correct horse battery", phc));
        assert!(!verify_password(&settings, "correct horse battery!", phc));
        let ours = hash_password(&settings, "correct horse battery");
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        assert!(verify_password(&settings, "correct horse battery", &ours));
    }
}
