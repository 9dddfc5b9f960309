//! Attachments: multipart/mixed requests and responses, matched by SHA-2; fileUrl-only
//! attachments need no part.

use mirai_lrs::app::multipart::{self, Part};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{COMPLETED, spawn, statement};

fn with_attachment(content: &[u8], file_url: Option<&str>) -> Value {
    let mut s = statement("a@example.com", COMPLETED, "http://example.com/a");
    let mut att = json!({ "usageType": "http://example.com/usage/certificate", "display": { "en-US": "certificate" },
        "contentType": "text/plain", "length": content.len(), "sha2": hex::encode(Sha256::digest(content)) });
    if let Some(u) = file_url {
        att["fileUrl"] = json!(u);
    }
    s["attachments"] = json!([att]);
    s
}

#[tokio::test]
async fn multipart_round_trip_and_sha2_matching() {
    let lrs = spawn().await;
    let part = |c: &[u8]| Part {
        content_type: "text/plain".into(),
        sha2: hex::encode(Sha256::digest(c)),
        content: c.to_vec(),
    };
    let send = |body: Value, parts: Vec<Part>| {
        let (ct, bytes) = multipart::build(&serde_json::to_vec(&body).unwrap(), &parts);
        lrs.req(Method::POST, "statements", Some("1.0.3"), &lrs.basic).header("content-type", ct).body(bytes).send()
    };
    let res = send(with_attachment(b"hello", None), vec![part(b"hello")]).await.unwrap();
    assert_eq!(res.status(), 200);
    let ids: Value = res.json().await.unwrap();
    let id = ids[0].as_str().unwrap();

    let res = lrs
        .req(Method::GET, &format!("statements?statementId={id}&attachments=true"), Some("1.0.3"), &lrs.basic)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("multipart/mixed"), "{ct}");
    let body = res.bytes().await.unwrap();
    let (json_part, parts) = multipart::parse(&body, &multipart::boundary(&ct).unwrap()).unwrap();
    let stmt: Value = serde_json::from_slice(&json_part).unwrap();
    assert_eq!(stmt["id"], id);
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].content, b"hello");

    assert_eq!(
        send(with_attachment(b"hello", None), vec![]).await.unwrap().status(),
        400,
        "a declared attachment needs its part"
    );
    assert_eq!(
        send(with_attachment(b"hello", None), vec![part(b"other")]).await.unwrap().status(),
        400,
        "a part must match an attachment"
    );
    let mut tampered = part(b"hello");
    tampered.content = b"HELLO".to_vec();
    assert_eq!(
        send(with_attachment(b"hello", None), vec![tampered]).await.unwrap().status(),
        400,
        "hash must match content"
    );
    let by_url = lrs.post(with_attachment(b"remote", Some("https://files.example.com/cert.txt"))).await;
    assert_eq!(by_url.0, 200, "fileUrl attachments need no part");
    lrs.app.stop().await;
}
