//! Signed key distribution (ADR 0006). Every service learns signing keys, API keys and
//! access changes from identity's events; NATS permissions keep other services from
//! publishing them, and, as a second line, identity signs each such event with a P-256 key
//! whose public half every service pins (`MIRAI_BUS_VERIFY_KEYS`). A key store applies an
//! event only if its signature verifies under a pinned key, so neither a forged message
//! nor a stream reconfigured to republish one can mint a credential.
//!
//! The signature is a JWS with detached content (RFC 7515 appendix F) in the envelope's
//! `signature` extension attribute: `<base64url header>..<base64url signature>`, header
//! `{"alg":"ES256","kid":<key id>}`, over the canonical JSON (sorted keys, no spaces) of
//! the envelope's `id`, `source`, `type`, `subject`, `time`, `tenantid` and `data`. The
//! outbox stores payloads as `jsonb`, which reorders keys, so only a canonical form
//! survives the trip. `kid` is the first 16 hex digits of the SHA-256 of the public key's
//! DER, so several pinned keys allow rotation.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use mirai_events::{Envelope, outbox::EnvelopeSigner};
use p256::{
    PublicKey, SecretKey,
    pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The dev-only signing key `mirai dev` and tests use when none is configured. It is in
/// the source, so it proves nothing: production sets `MIRAI_IDENTITY__BUS_SIGNING_KEY`
/// and `MIRAI_BUS_VERIFY_KEYS` (the chart refuses to render without them).
pub const DEV_SIGNING_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpX2a3a+nYP6hIlrw
a67F0D597eF5C5w2UpmmjopozCmhRANCAAQG1m5ybG1oIJQEjtTLadzIduZxs0Sc
rWwDnCnYFhao6ts/gBFWmXjZQhMR7/PUNPzYXwLKDmqQybfPw36FEQtY
-----END PRIVATE KEY-----
";

/// The public half of [`DEV_SIGNING_KEY_PEM`].
pub const DEV_VERIFY_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBtZucmxtaCCUBI7Uy2ncyHbmcbNE
nK1sA5wp2BYWqOrbP4ARVpl42UITEe/z1DT82F8Cyg5qkMm3z8N+hRELWA==
-----END PUBLIC KEY-----
";

/// Why an event's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the event is not signed")]
    Missing,
    #[error("the signature is not a detached ES256 JWS")]
    Malformed,
    #[error("the event is signed with key `{0}`, which is not pinned")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    Invalid,
}

fn kid_of(public: &PublicKey) -> String {
    let der = public.to_public_key_der().expect("a P-256 public key encodes as SPKI");
    hex::encode(&Sha256::digest(der.as_bytes())[..8])
}

/// The bytes a signature covers.
fn signing_input(header_b64: &str, env: &Envelope) -> Vec<u8> {
    let covered = json!({
        "id": env.id,
        "source": env.source,
        "type": env.kind,
        "subject": env.subject,
        "time": env.time,
        "tenantid": env.tenantid,
        "data": env.data,
    });
    let mut canonical = String::new();
    write_canonical(&covered, &mut canonical);
    format!("{header_b64}.{}", B64.encode(canonical.as_bytes())).into_bytes()
}

/// JSON with object keys sorted by their UTF-16... here by byte order (every key Mirai
/// signs is ASCII), no insignificant whitespace.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Signs a service's events (identity's).
pub struct BusSigner {
    kid: String,
    key: EncodingKey,
}

impl std::fmt::Debug for BusSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusSigner").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl BusSigner {
    /// From a PKCS#8 PEM P-256 private key.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let secret = SecretKey::from_pkcs8_pem(pem.trim()).map_err(|e| format!("not a PKCS#8 PEM P-256 key: {e}"))?;
        let der = secret.to_pkcs8_der().map_err(|e| e.to_string())?;
        Ok(Self { kid: kid_of(&secret.public_key()), key: EncodingKey::from_ec_der(der.as_bytes()) })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The detached JWS over `env`.
    pub fn signature(&self, env: &Envelope) -> String {
        let header = B64.encode(json!({ "alg": "ES256", "kid": self.kid }).to_string());
        let sig =
            jsonwebtoken::crypto::sign(&signing_input(&header, env), &self.key, Algorithm::ES256).expect("ES256 signs");
        format!("{header}..{sig}")
    }
}

impl EnvelopeSigner for BusSigner {
    fn sign(&self, env: &mut Envelope) {
        env.signature = None;
        env.signature = Some(self.signature(env));
    }
}

/// The pinned public keys events are checked against.
#[derive(Clone)]
pub struct BusVerifier {
    keys: Vec<(String, DecodingKey)>,
}

impl std::fmt::Debug for BusVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.iter().map(|(k, _)| k)).finish()
    }
}

impl BusVerifier {
    /// From one or more concatenated SPKI PEM public keys.
    pub fn from_pem_bundle(bundle: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for block in bundle.split("-----END PUBLIC KEY-----").filter(|b| b.contains("-----BEGIN PUBLIC KEY-----")) {
            let pem = format!("{}-----END PUBLIC KEY-----\n", block.trim_start());
            let public =
                PublicKey::from_public_key_pem(&pem).map_err(|e| format!("not an SPKI PEM P-256 public key: {e}"))?;
            let point = p256::ecdsa::VerifyingKey::from(public).to_sec1_point(false);
            keys.push((kid_of(&public), DecodingKey::from_ec_der(point.as_bytes())));
        }
        if keys.is_empty() {
            return Err("no `-----BEGIN PUBLIC KEY-----` block".into());
        }
        Ok(Self { keys })
    }

    /// The key ids pinned.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Checks `env`'s signature.
    pub fn verify(&self, env: &Envelope) -> Result<(), SignatureError> {
        let sig = env.signature.as_deref().ok_or(SignatureError::Missing)?;
        let (header_b64, rest) = sig.split_once("..").ok_or(SignatureError::Malformed)?;
        if rest.contains('.') {
            return Err(SignatureError::Malformed);
        }
        #[derive(serde::Deserialize)]
        struct Header {
            alg: String,
            kid: String,
        }
        let header: Header = B64
            .decode(header_b64)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or(SignatureError::Malformed)?;
        if header.alg != "ES256" {
            return Err(SignatureError::Malformed);
        }
        let (_, key) =
            self.keys.iter().find(|(k, _)| *k == header.kid).ok_or(SignatureError::UnknownKey(header.kid.clone()))?;
        match jsonwebtoken::crypto::verify(rest, &signing_input(header_b64, env), key, Algorithm::ES256) {
            Ok(true) => Ok(()),
            _ => Err(SignatureError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mirai_events::NewEvent;

    fn event() -> Envelope {
        NewEvent::new("identity.apikey.created.v1", "mk_1", json!({ "key_id": "mk_1", "roles": ["learner"], "n": 1 }))
            .into_envelope("identity", &Default::default())
    }

    #[test]
    fn signatures_survive_reordering_and_catch_every_change() {
        let signer = BusSigner::from_pem(DEV_SIGNING_KEY_PEM).unwrap();
        let verifier = BusVerifier::from_pem_bundle(DEV_VERIFY_KEY_PEM).unwrap();
        assert_eq!(verifier.kids(), vec![signer.kid()]);
        let mut env = event();
        signer.sign(&mut env);
        assert_eq!(verifier.verify(&env), Ok(()));
        // Through jsonb and back (keys reordered): still valid.
        let wire: Value = serde_json::from_str(&serde_json::to_string(&env).unwrap()).unwrap();
        let back: Envelope = serde_json::from_value(wire).unwrap();
        assert_eq!(verifier.verify(&back), Ok(()));
        // Any change to what is covered breaks it.
        let mut forged = env.clone();
        forged.data["roles"] = json!(["org_admin"]);
        assert_eq!(verifier.verify(&forged), Err(SignatureError::Invalid));
        let mut moved = env.clone();
        moved.tenantid = Some(uuid::Uuid::now_v7());
        assert_eq!(verifier.verify(&moved), Err(SignatureError::Invalid));
        let mut renamed = env.clone();
        renamed.kind = "identity.apikey.revoked.v1".into();
        assert_eq!(verifier.verify(&renamed), Err(SignatureError::Invalid));
        // Unsigned, garbled, or signed by a key nobody pinned: refused.
        let mut unsigned = env.clone();
        unsigned.signature = None;
        assert_eq!(verifier.verify(&unsigned), Err(SignatureError::Missing));
        let mut garbled = env.clone();
        garbled.signature = Some("x.y.z".into());
        assert_eq!(verifier.verify(&garbled), Err(SignatureError::Malformed));
        use p256::elliptic_curve::Generate;
        let other = p256::ecdsa::SigningKey::generate();
        let other_key = other.to_pkcs8_pem(Default::default()).unwrap();
        let stranger = BusSigner::from_pem(&other_key).unwrap();
        let mut foreign = event();
        stranger.sign(&mut foreign);
        assert!(matches!(verifier.verify(&foreign), Err(SignatureError::UnknownKey(_))));
        // A bundle of two keys accepts both (rotation).
        let other_pub = other.verifying_key().to_public_key_pem(Default::default()).unwrap();
        let both = BusVerifier::from_pem_bundle(&format!("{DEV_VERIFY_KEY_PEM}{other_pub}")).unwrap();
        assert_eq!(both.verify(&foreign), Ok(()));
        assert_eq!(both.verify(&env), Ok(()));
    }
}
