//! Stripe's webhook signatures (`Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`): HMAC-SHA256
//! of `<t>.<raw body>` under the endpoint's signing secret, compared in constant time,
//! with a tolerance on `t` against replays. Several secrets may be valid at once (a
//! rotation); any `v1` matching any secret passes. Other schemes (`v0`) are ignored.

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// No header, or one that does not parse.
    Malformed,
    /// The timestamp is outside the tolerance.
    Stale,
    /// No signature matches.
    Mismatch,
}

impl Invalid {
    pub fn detail(&self) -> &'static str {
        match self {
            Invalid::Malformed => "Stripe-Signature is missing or malformed (t=<unix time>,v1=<hex>)",
            Invalid::Stale => "Stripe-Signature's timestamp is outside the tolerance",
            Invalid::Mismatch => "no signature in Stripe-Signature matches this endpoint's secrets",
        }
    }
}

pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `header` against `body` at `now` (unix seconds).
pub fn verify(header: Option<&str>, body: &[u8], secrets: &[&str], now: i64, tolerance: i64) -> Result<i64, Invalid> {
    let header = header.ok_or(Invalid::Malformed)?;
    if header.len() > 4096 {
        return Err(Invalid::Malformed);
    }
    let mut timestamp: Option<i64> = None;
    let mut v1: Vec<Vec<u8>> = vec![];
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(Invalid::Malformed)?;
        match k {
            "t" => timestamp = Some(v.parse().map_err(|_| Invalid::Malformed)?),
            "v1" => v1.push(hex::decode(v).map_err(|_| Invalid::Malformed)?),
            _ => {}
        }
    }
    let t = timestamp.ok_or(Invalid::Malformed)?;
    if v1.is_empty() {
        return Err(Invalid::Malformed);
    }
    if now.abs_diff(t) > tolerance.unsigned_abs() {
        return Err(Invalid::Stale);
    }
    for secret in secrets {
        let expected = hex::decode(sign(secret, t, body)).expect("hex we made");
        if v1.iter().any(|got| got.len() == expected.len() && bool::from(got.as_slice().ct_eq(&expected))) {
            return Ok(t);
        }
    }
    Err(Invalid::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    #[test]
    fn a_signature_made_with_any_current_secret_verifies_within_the_tolerance() {
        let h = format!("t=1000,v1={}", sign("whsec_new", 1000, BODY));
        assert_eq!(verify(Some(&h), BODY, &["whsec_old", "whsec_new"], 1100, 300), Ok(1000));
        // Several v1 (Stripe sends one per active secret during its own rotation) and a v0.
        let h = format!("t=1000,v1={},v0=abc,v1={}", "00".repeat(32), sign("whsec_old", 1000, BODY));
        assert_eq!(verify(Some(&h), BODY, &["whsec_old"], 1000, 300), Ok(1000));
    }

    #[test]
    fn anything_else_is_refused() {
        let good = sign("whsec_a", 1000, BODY);
        assert_eq!(verify(None, BODY, &["whsec_a"], 1000, 300), Err(Invalid::Malformed));
        assert_eq!(verify(Some("v1=zz"), BODY, &["whsec_a"], 1000, 300), Err(Invalid::Malformed));
        assert_eq!(verify(Some(&format!("v1={good}")), BODY, &["whsec_a"], 1000, 300), Err(Invalid::Malformed));
        assert_eq!(verify(Some(&format!("t=1000,v1={good}")), BODY, &["whsec_a"], 1301, 300), Err(Invalid::Stale));
        assert_eq!(verify(Some(&format!("t=1000,v1={good}")), BODY, &["whsec_b"], 1000, 300), Err(Invalid::Mismatch));
        assert_eq!(verify(Some(&format!("t=1000,v1={good}")), b"{}", &["whsec_a"], 1000, 300), Err(Invalid::Mismatch));
        assert_eq!(verify(Some(&format!("t=1001,v1={good}")), BODY, &["whsec_a"], 1000, 300), Err(Invalid::Mismatch));
        assert_eq!(verify(Some(&format!("t=1000,v1={good}")), BODY, &[], 1000, 300), Err(Invalid::Mismatch));
        // A timestamp at the edge of i64 is stale, not an overflow.
        assert_eq!(
            verify(Some(&format!("t={},v1={good}", i64::MIN)), BODY, &["whsec_a"], 1000, 300),
            Err(Invalid::Stale)
        );
    }
}
