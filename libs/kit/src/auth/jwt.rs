//! ES256 JWTs: compact serialization, signing (identity, tests) and verification (every
//! service). Only `alg: ES256` with a known `kid` is ever accepted.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use p256::ecdsa::{
    Signature, SigningKey, VerifyingKey,
    signature::{Signer, Verifier},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Access-token claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `user` or `client`.
    #[serde(default = "default_kind")]
    pub kind: String,
}

fn default_kind() -> String {
    "user".into()
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("algorithm `{0}` is not accepted (ES256 only)")]
    Algorithm(String),
    #[error("the token has no `kid`")]
    MissingKid,
    #[error("signing key `{0}` is unknown")]
    UnknownKid(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by `{0}`, not this platform")]
    Issuer(String),
    #[error("the token is for audience `{0}`, not this platform")]
    Audience(String),
}

/// Clock skew tolerated on `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 30;

/// Signs `claims` with `key` under `kid`.
pub fn sign(key: &SigningKey, kid: &str, claims: &Claims) -> String {
    let header = Header { alg: "ES256".into(), kid: Some(kid.into()), typ: Some("JWT".into()) };
    let input = format!(
        "{}.{}",
        B64.encode(serde_json::to_vec(&header).expect("header serializes")),
        B64.encode(serde_json::to_vec(claims).expect("claims serialize"))
    );
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.to_bytes()))
}

/// Reads the header's `kid` after checking the algorithm (first step of verification).
pub fn header_kid(token: &str) -> Result<String, JwtError> {
    let head = token.split('.').next().ok_or(JwtError::Malformed)?;
    let header: Header =
        serde_json::from_slice(&B64.decode(head).map_err(|_| JwtError::Malformed)?).map_err(|_| JwtError::Malformed)?;
    if header.alg != "ES256" {
        return Err(JwtError::Algorithm(header.alg));
    }
    header.kid.ok_or(JwtError::MissingKid)
}

/// Verifies the signature with `key` and the registered claims; returns the claims.
pub fn verify(token: &str, key: &VerifyingKey, issuer: &str, audience: &str, now: i64) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let sig_bytes = B64.decode(s).map_err(|_| JwtError::Malformed)?;
    let sig = Signature::from_slice(&sig_bytes).map_err(|_| JwtError::BadSignature)?;
    key.verify(format!("{h}.{p}").as_bytes(), &sig).map_err(|_| JwtError::BadSignature)?;
    let claims: Claims =
        serde_json::from_slice(&B64.decode(p).map_err(|_| JwtError::Malformed)?).map_err(|_| JwtError::Malformed)?;
    if claims.exp + LEEWAY_SECS < now {
        return Err(JwtError::Expired);
    }
    if claims.iat - LEEWAY_SECS > now {
        return Err(JwtError::NotYetValid);
    }
    if claims.iss != issuer {
        return Err(JwtError::Issuer(claims.iss));
    }
    if claims.aud != audience {
        return Err(JwtError::Audience(claims.aud));
    }
    Ok(claims)
}

/// A public key as a JWK (`kty: EC`, `crv: P-256`): the type identity's key events carry.
pub use mirai_contracts::events::identity::Jwk;

/// The JWK of a P-256 verifying key.
pub fn jwk_from_key(kid: &str, key: &VerifyingKey) -> Jwk {
    let point = key.to_encoded_point(false);
    Jwk {
        kty: "EC".into(),
        crv: "P-256".into(),
        x: B64.encode(point.x().expect("uncompressed point")),
        y: B64.encode(point.y().expect("uncompressed point")),
        kid: kid.into(),
        use_: "sig".into(),
        alg: "ES256".into(),
    }
}

/// The verifying key a JWK describes, if it is a P-256 key.
pub fn jwk_to_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if jwk.kty != "EC" || jwk.crv != "P-256" {
        return None;
    }
    let x = B64.decode(&jwk.x).ok()?;
    let y = B64.decode(&jwk.y).ok()?;
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    VerifyingKey::from_sec1_bytes(&sec1).ok()
}
