//! Authentication that never calls identity at request time: ES256 JWTs and API keys are
//! verified against a local `KeyStore` fed by identity's events; the result is a
//! `Principal` that handlers authorize with role and scope guards.

pub mod bus_signing;
pub mod jwt;
pub mod keystore;
mod principal;

pub use keystore::{APIKEY_USAGE_SUBJECT, KeyStore};
pub use principal::{AuthFailure, CredentialKind, Principal, Role};

/// API keys look like `mk_<32 hex key id>_<secret>`; the prefix tells them from JWTs.
pub const API_KEY_PREFIX: &str = "mk_";

/// Splits `mk_<id>_<secret>` into its id (`mk_<id>`) and secret.
pub fn split_api_key(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(API_KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || secret.len() < 20 {
        return None;
    }
    Some((&token[..API_KEY_PREFIX.len() + 32], secret))
}
