//! ES256 JWTs on `jsonwebtoken`: signing (identity, tests) and verification (every
//! service). Only `alg: ES256` with a known `kid` is ever accepted; the header is read
//! first only to pick the key and to say precisely why a token is refused.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation, errors::ErrorKind};
use p256::{
    ecdsa::{SigningKey, VerifyingKey},
    pkcs8::EncodePrivateKey,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Access-token claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: Audience,
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
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
    /// The revision of the user's access in `tid` the token was issued under; a key
    /// store that has seen a newer one (`identity.access.changed.v1`) refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i64>,
}

/// `aud`: one audience as a string, or several as an array (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl From<&str> for Audience {
    fn from(s: &str) -> Self {
        Self::One(s.into())
    }
}

impl From<String> for Audience {
    fn from(s: String) -> Self {
        Self::One(s)
    }
}

fn default_kind() -> String {
    "user".into()
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
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
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(String),
    #[error("the token was issued by another issuer, not this platform")]
    Issuer,
    #[error("the token is for another audience, not this platform")]
    Audience,
}

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 30;

/// Signs `claims` with `key` under `kid`.
pub fn sign(key: &SigningKey, kid: &str, claims: &Claims) -> String {
    let der = key.to_pkcs8_der().expect("a P-256 key encodes as PKCS#8");
    let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(der.as_bytes())).expect("ES256 signs")
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

/// Verifies the signature with `key` and the registered claims (`exp`, `nbf`, `iss`,
/// `aud` as a string or an array); refuses a token issued in the future. Returns the claims.
pub fn verify(token: &str, key: &VerifyingKey, issuer: &str, audience: &str, now: i64) -> Result<Claims, JwtError> {
    if token.split('.').count() != 3 {
        return Err(JwtError::Malformed);
    }
    let mut validation = Validation::new(Algorithm::ES256);
    validation.leeway = LEEWAY_SECS as u64;
    validation.validate_nbf = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let key = DecodingKey::from_ec_der(key.to_sec1_point(false).as_bytes());
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| match e.into_kind() {
            ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey => JwtError::BadSignature,
            ErrorKind::ExpiredSignature => JwtError::Expired,
            ErrorKind::ImmatureSignature => JwtError::NotYetValid,
            ErrorKind::InvalidIssuer => JwtError::Issuer,
            ErrorKind::InvalidAudience => JwtError::Audience,
            ErrorKind::MissingRequiredClaim(c) => JwtError::MissingClaim(c),
            ErrorKind::InvalidAlgorithm => JwtError::Algorithm("?".into()),
            _ => JwtError::Malformed,
        })?
        .claims;
    if claims.iat.saturating_sub(LEEWAY_SECS) > now {
        return Err(JwtError::NotYetValid);
    }
    Ok(claims)
}

/// A public key as a JWK (`kty: EC`, `crv: P-256`): the type identity's key events carry.
pub use mirai_contracts::events::identity::Jwk;

/// The JWK of a P-256 verifying key.
pub fn jwk_from_key(kid: &str, key: &VerifyingKey) -> Jwk {
    let point = key.to_sec1_point(false);
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
