//! Signed statements (Data 2.6): a JWS signature attachment is validated against the
//! statement it signs, and against its x5c certificate when it has one.
//! The keys in `fixtures/` are test-only keys generated for this suite.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mirai_lrs::app::multipart::{self, Part};
use reqwest::Method;
use rsa::{Pkcs1v15Sign, PrivateKey, pkcs1::DecodeRsaPrivateKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha384};
use uuid::Uuid;

use crate::{COMPLETED, Lrs, spawn, statement};

const SIGNER_KEY: &str = include_str!("fixtures/signer.key.pem");
const SIGNER_CERT: &str = include_str!("fixtures/signer.cert.b64");
const OTHER_KEY: &str = include_str!("fixtures/other.key.pem");
const SIGNATURE: &str = "http://adlnet.gov/expapi/attachments/signature";

struct Jws<'a> {
    alg: &'a str,
    key: &'a str,
    x5c: bool,
}

impl Jws<'_> {
    /// Signs `payload` (raw bytes, so tests can sign things that are not JSON).
    fn sign(&self, payload: &[u8]) -> String {
        let mut header = json!({ "alg": self.alg });
        if self.x5c {
            header["x5c"] = json!([SIGNER_CERT.trim()]);
        }
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let key = PrivateKey::from_pkcs1_pem(self.key).unwrap();
        let sig = match self.alg {
            "RS384" => key.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(signed.as_bytes())).unwrap(),
            // Any other alg label is signed with RS256 underneath: the LRS must refuse the label.
            _ => key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(signed.as_bytes())).unwrap(),
        };
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// `statement` with a signature attachment over `payload`, sent as multipart/mixed.
async fn send(lrs: &Lrs, statement: Value, jws: &str, content_type: &str) -> (u16, Value) {
    send_as(lrs, "1.0.3", statement, jws, content_type).await
}

async fn send_as(lrs: &Lrs, version: &str, mut statement: Value, jws: &str, content_type: &str) -> (u16, Value) {
    let bytes = jws.as_bytes().to_vec();
    statement["attachments"] = json!([{
        "usageType": SIGNATURE, "display": { "en-US": "signature" }, "contentType": content_type,
        "length": bytes.len(), "sha2": hex::encode(Sha256::digest(&bytes)),
    }]);
    let part = Part { content_type: content_type.into(), sha2: hex::encode(Sha256::digest(&bytes)), content: bytes };
    let (ct, body) = multipart::build(&serde_json::to_vec(&statement).unwrap(), &[part]);
    let res = lrs
        .req(Method::POST, "statements", Some(version), &lrs.basic)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn fresh() -> Value {
    let mut s = statement("signer@example.com", COMPLETED, "http://example.com/signed");
    s["id"] = json!(Uuid::now_v7().to_string());
    s
}

#[tokio::test]
async fn signatures_are_checked_against_the_statement_and_certificate() {
    let lrs = spawn().await;
    let rs256 = Jws { alg: "RS256", key: SIGNER_KEY, x5c: true };

    // Good: RS256 with the signer's certificate; the signature comes back with the statement.
    let s = fresh();
    let jws = rs256.sign(&serde_json::to_vec(&s).unwrap());
    let (status, ids) = send(&lrs, s.clone(), &jws, "application/octet-stream").await;
    assert_eq!(status, 200, "{ids}");
    let res = lrs
        .req(
            Method::GET,
            &format!("statements?statementId={}&attachments=true", s["id"].as_str().unwrap()),
            Some("1.0.3"),
            &lrs.basic,
        )
        .send()
        .await
        .unwrap();
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    let (_, parts) = multipart::parse(&res.bytes().await.unwrap(), &multipart::boundary(&ct).unwrap()).unwrap();
    assert_eq!(parts[0].content, jws.as_bytes(), "the signature is returned as sent");

    // Good: RS384 without x5c (only the form and payload can be checked), and a payload
    // that differs only in what the comparison rules ignore (no id, other verb display,
    // upper-case email domain, no objectType).
    let s = fresh();
    let mut payload = s.clone();
    payload.as_object_mut().unwrap().remove("id");
    payload["verb"]["display"] = json!({ "de-DE": "abgeschlossen" });
    payload["actor"] = json!({ "mbox": "mailto:signer@EXAMPLE.com" });
    payload["object"].as_object_mut().unwrap().remove("objectType");
    let jws = Jws { alg: "RS384", key: SIGNER_KEY, x5c: false }.sign(&serde_json::to_vec(&payload).unwrap());
    assert_eq!(send(&lrs, s, &jws, "application/octet-stream").await.0, 200);

    // Durations compare at 0.01 s (2.0 Data 4.2.7): a payload's `PT1.2345S` signs a
    // statement's `PT1.23S`, in both versions; a different hundredth does not.
    for version in ["2.0.0", "1.0.3"] {
        let mut s = fresh();
        s["result"] = json!({ "duration": "PT1.23S" });
        let mut payload = s.clone();
        payload["result"]["duration"] = json!("PT1.2345S");
        let jws = rs256.sign(&serde_json::to_vec(&payload).unwrap());
        let (status, body) = send_as(&lrs, version, s, &jws, "application/octet-stream").await;
        assert_eq!(status, 200, "{version}: {body}");
    }
    let mut s = fresh();
    s["result"] = json!({ "duration": "PT1.23S" });
    let mut payload = s.clone();
    payload["result"]["duration"] = json!("PT1.2445S");
    let jws = rs256.sign(&serde_json::to_vec(&payload).unwrap());
    assert_eq!(send_as(&lrs, "2.0.0", s, &jws, "application/octet-stream").await.0, 400);

    // Malformed signatures: each a 400, and nothing is stored.
    let mut refused = vec![];
    let s = fresh();
    let jws = rs256.sign(&serde_json::to_vec(&s).unwrap());
    refused.push((send(&lrs, s.clone(), &jws, "text/plain; charset=ascii").await, s, "contentType"));

    let s = fresh();
    let jws = Jws { alg: "HS256", key: SIGNER_KEY, x5c: false }.sign(&serde_json::to_vec(&s).unwrap());
    refused.push((send(&lrs, s.clone(), &jws, "application/octet-stream").await, s, "algorithm"));

    let s = fresh();
    let broken = serde_json::to_string(&s).unwrap().replacen('"', "'", 1);
    let jws = rs256.sign(broken.as_bytes());
    refused.push((send(&lrs, s.clone(), &jws, "application/octet-stream").await, s, "JSON serialization"));

    let s = fresh();
    let mut other = s.clone();
    other["object"]["id"] = json!("http://example.com/something-else");
    let jws = rs256.sign(&serde_json::to_vec(&other).unwrap());
    refused.push((send(&lrs, s.clone(), &jws, "application/octet-stream").await, s, "payload"));

    let s = fresh();
    let jws = Jws { alg: "RS256", key: OTHER_KEY, x5c: true }.sign(&serde_json::to_vec(&s).unwrap());
    refused.push((send(&lrs, s.clone(), &jws, "application/octet-stream").await, s, "certificate"));

    let s = fresh();
    refused.push((send(&lrs, s.clone(), "not-a-jws", "application/octet-stream").await, s, "compact serialization"));

    for ((status, problem), s, rule) in refused {
        assert_eq!(status, 400, "{rule}: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains(rule), "{rule}: {problem}");
        let (status, _, _) = lrs.get(&format!("?statementId={}", s["id"].as_str().unwrap())).await;
        assert_eq!(status, 404, "a refused signed statement is not stored");
    }

    lrs.app.stop().await;
}
