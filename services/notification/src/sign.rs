//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the signed content
//! is `{webhook-id}.{webhook-timestamp}.{body}`, the key the base64 part of a `whsec_`
//! secret, the signature `v1,` and the base64 HMAC-SHA256; several (a rotation) are
//! separated by spaces.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

pub const PREFIX: &str = "whsec_";

/// A new secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The key bytes of a `whsec_` secret a tenant brings (24 to 64 bytes, as the
/// specification recommends), or why not.
pub fn key_of(secret: &str) -> Result<Vec<u8>, &'static str> {
    let b64 = secret.strip_prefix(PREFIX).ok_or("must start with `whsec_`")?;
    let key = STANDARD.decode(b64).map_err(|_| "must be `whsec_` and base64")?;
    if (24..=64).contains(&key.len()) { Ok(key) } else { Err("must hold 24 to 64 bytes") }
}

/// `v1,<signature>` of one message with one key.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per valid key, newest first.
pub fn header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter().map(|k| signature(k, id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example (standard-webhooks/libraries test vectors).
    #[test]
    fn matches_the_reference_vector() {
        let key = key_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_whsec_and_bounded() {
        let s = new_secret();
        assert_eq!(key_of(&s).unwrap().len(), 32);
        assert!(key_of("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(key_of("whsec_c2hvcnQ=").is_err(), "too short");
        let keys = vec![vec![1u8; 32], vec![2u8; 32]];
        assert_eq!(header(&keys, "m", 1, b"{}").split(' ').count(), 2);
    }
}
