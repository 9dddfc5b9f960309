//! Signed statements (xAPI Data 2.6): a statement may carry a JWS (compact serialization)
//! as an attachment with usageType `…/attachments/signature` and contentType
//! `application/octet-stream`. The LRS refuses a malformed signature with 400: not a
//! JWS, an algorithm other than RS256/RS384/RS512, a payload that is not a JSON
//! statement, or a payload that is not the same statement (Data 2.3.1 comparison). When
//! the JWS header carries an `x5c` certificate chain, the signature must verify against
//! the first certificate's RSA key. Without `x5c` there is no key to check against, so
//! only the form and the payload are checked (the spec makes `x5c` a SHOULD). The chain
//! itself is not validated against trust anchors: no one has told the LRS whose
//! certificates to trust, and a consumer that cares verifies with its own anchors.
//! The signature itself is checked by `jsonwebtoken`, as every JWS on the platform is.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use x509_cert::{Certificate, der::Decode};

use super::{multipart::Part, statement::equivalent};

/// rsaEncryption (RFC 8017 A.1), the key algorithm RS256/384/512 verify with.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

pub const SIGNATURE_USAGE: &str = "http://adlnet.gov/expapi/attachments/signature";

/// Checks the signature of `statement` (as submitted), if it carries one.
pub fn verify(statement: &Value, parts: &[Part]) -> Result<(), String> {
    let signatures: Vec<&Value> = statement["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["usageType"].as_str() == Some(SIGNATURE_USAGE))
        .collect();
    let attachment = match signatures.as_slice() {
        [] => return Ok(()),
        [one] => *one,
        _ => return Err("a statement carries at most one signature attachment".into()),
    };
    let content_type = attachment["contentType"].as_str().unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/octet-stream") {
        return Err(format!(
            "a signature attachment's contentType must be application/octet-stream, not `{content_type}`"
        ));
    }
    let sha2 = attachment["sha2"].as_str().unwrap_or_default().to_lowercase();
    let part = parts
        .iter()
        .find(|p| p.sha2 == sha2)
        .ok_or("the signature attachment must be sent as a part of the request, not by fileUrl")?;
    let jws = std::str::from_utf8(&part.content).map_err(|_| "the signature is not a JWS (not text)")?.trim();
    verify_jws(jws, statement)
}

fn verify_jws(jws: &str, statement: &Value) -> Result<(), String> {
    let mut pieces = jws.split('.');
    let (Some(h), Some(p), Some(s), None) = (pieces.next(), pieces.next(), pieces.next(), pieces.next()) else {
        return Err("the signature is not a JWS in compact serialization (header.payload.signature)".into());
    };
    let b64 = |what: &str, x: &str| {
        URL_SAFE_NO_PAD.decode(x.trim_end_matches('=')).map_err(|_| format!("the JWS {what} is not base64url"))
    };
    let header: Value = serde_json::from_slice(&b64("header", h)?).map_err(|_| "the JWS header is not JSON")?;
    let alg = header["alg"].as_str().unwrap_or_default();
    let algorithm = match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        _ => return Err(format!("the JWS algorithm must be RS256, RS384 or RS512, not `{alg}`")),
    };
    let payload: Value = serde_json::from_slice(&b64("payload", p)?)
        .map_err(|_| "the JWS payload is not a JSON serialization of a statement")?;
    if !payload.is_object() {
        return Err("the JWS payload is not a JSON serialization of a statement".into());
    }
    if !equivalent(&payload, statement) {
        return Err("the JWS payload is not the statement it signs (xAPI Data 2.3.1 comparison)".into());
    }
    b64("signature", s)?;
    if let Some(chain) = header.get("x5c") {
        let first = chain
            .as_array()
            .and_then(|c| c.first())
            .and_then(Value::as_str)
            .ok_or("the JWS x5c header must be an array of base64 certificates")?;
        let der = STANDARD.decode(first).map_err(|_| "the first x5c certificate is not base64")?;
        let cert = Certificate::from_der(&der).map_err(|e| format!("the first x5c certificate is not X.509: {e}"))?;
        let spki = cert.tbs_certificate().subject_public_key_info();
        if spki.algorithm.oid.to_string() != RSA_ENCRYPTION {
            return Err("the x5c certificate's key is not an RSA key, as RS256/384/512 need".into());
        }
        // An RSA SubjectPublicKeyInfo's key bits are the PKCS#1 RSAPublicKey.
        let key = DecodingKey::from_rsa_der(spki.subject_public_key.raw_bytes());
        let signed = format!("{h}.{p}");
        let verified = jsonwebtoken::crypto::verify(s.trim_end_matches('='), signed.as_bytes(), &key, algorithm)
            .map_err(|_| "the x5c certificate's key is not a usable RSA key")?;
        if !verified {
            return Err("the JWS signature does not verify against the x5c certificate".into());
        }
    }
    Ok(())
}
