//! Statement data rules: every failure is a 400 naming the rule, and nothing is stored.

use serde_json::json;

use crate::{COMPLETED, spawn, statement};

#[tokio::test]
async fn invalid_statements_are_rejected_whole() {
    let lrs = spawn().await;
    let good = statement("a@example.com", COMPLETED, "http://example.com/a");
    let cases = [
        (
            json!({ "actor": { "mbox": "a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" } }),
            "mailto:",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com", "openid": "http://o.example/a" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" } }),
            "exactly one inverse functional identifier",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": "completed" }, "object": { "id": "http://example.com/a" } }),
            "IRI",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED, "display": { "not a tag!": "x" } }, "object": { "id": "http://example.com/a" } }),
            "language tag",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" }, "result": { "score": { "raw": 5, "min": 6 } } }),
            "between min and max",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" }, "timestamp": "yesterday" }),
            "timestamp",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" }, "extra": 1 }),
            "not an allowed property",
        ),
        (
            json!({ "actor": { "objectType": "Group" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" } }),
            "anonymous Group",
        ),
        (
            json!({ "id": "not-a-uuid", "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" } }),
            "UUID",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" },
                "authority": { "objectType": "Group", "member": [{ "mbox": "mailto:a@x.org" }, { "mbox": "mailto:b@x.org" }, { "mbox": "mailto:c@x.org" }] } }),
            "exactly two member Agents",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" },
                "authority": { "objectType": "Group", "mbox": "mailto:g@x.org", "member": [{ "mbox": "mailto:a@x.org" }, { "mbox": "mailto:b@x.org" }] } }),
            "anonymous Group",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" }, "version": "2.0.0" }),
            "must start with 1.0.",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED, "display": { "de-419-DE": "x" } }, "object": { "id": "http://example.com/a" } }),
            "RFC 5646",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" }, "context": { "contextActivities": {} } }),
            "at least one of parent",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED },
                "object": { "id": "http://example.com/a", "definition": { "correctResponsesPattern": ["a"] } } }),
            "needs an interactionType",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" },
                "attachments": [{ "usageType": "http://example.com/u", "display": { "en-US": "a" }, "contentType": "not a type", "length": 1,
                    "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a", "fileUrl": "http://example.com/f" }] }),
            "Internet media type",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" },
                "attachments": [{ "usageType": "http://example.com/u", "display": { "en-US": "a" }, "contentType": "text/plain", "length": 1,
                    "sha2": "not a digest", "fileUrl": "http://example.com/f" }] }),
            "hex SHA-2 digest",
        ),
        (
            json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED }, "object": { "id": "http://example.com/a" },
                "attachments": [{ "usageType": "http://example.com/u", "display": { "en-US": "a" }, "contentType": "text/plain", "length": 1,
                    "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a", "fileUrl": "not a url" }] }),
            "fileUrl must be an absolute IRI",
        ),
    ];
    for (bad, rule) in cases {
        let (status, body) = lrs.post(json!([good.clone(), bad.clone()])).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["detail"].as_str().unwrap().contains(rule), "`{rule}` in {}", body["detail"]);
    }
    let (_, page, _) = lrs.get("").await;
    assert_eq!(page["statements"], json!([]), "a rejected batch stores nothing");

    // Data 2.4.6.2: a single context activity comes back as a one-element array.
    let mut single = good.clone();
    single["context"] = json!({ "contextActivities": { "category": { "id": "http://example.com/cat" } } });
    let (status, ids) = lrs.post(single).await;
    assert_eq!(status, 200);
    let (_, got, _) = lrs.get(&format!("?statementId={}", ids[0].as_str().unwrap())).await;
    assert_eq!(got["context"]["contextActivities"]["category"], json!([{ "id": "http://example.com/cat" }]));
    lrs.app.stop().await;
}

#[tokio::test]
async fn version_specific_rules() {
    let lrs = spawn().await;
    let mut s = statement("a@example.com", COMPLETED, "http://example.com/a");
    s["context"] =
        json!({ "contextAgents": [{ "objectType": "contextAgent", "agent": { "mbox": "mailto:t@example.com" } }] });
    let (status, body) = lrs.post_as(s.clone(), "1.0.3", &lrs.basic.clone()).await;
    assert_eq!(status, 400, "1.0.3 rejects 2.0-only properties: {body}");
    assert_eq!(lrs.post_as(s, "2.0.0", &lrs.basic.clone()).await.0, 200, "2.0 accepts them");

    let mut ts = statement("a@example.com", COMPLETED, "http://example.com/a");
    ts["timestamp"] = json!("2026-11-23T12:00:00+02:00");
    let (status, ids) = lrs.post_as(ts.clone(), "2.0.0", &lrs.basic.clone()).await;
    assert_eq!(status, 200);
    let (_, got, _) = lrs.get(&format!("?statementId={}", ids[0].as_str().unwrap())).await;
    assert_eq!(got["timestamp"], "2026-11-23T10:00:00.000Z", "2.0 normalizes offsets to UTC");
    for unknown in ["2026-11-23T12:00:00-00:00", "2026-11-23T12:00:00.601-0000", "2026-11-23T12:00:00.601-00"] {
        ts["timestamp"] = json!(unknown);
        for version in ["2.0.0", "1.0.3"] {
            assert_eq!(
                lrs.post_as(ts.clone(), version, &lrs.basic.clone()).await.0,
                400,
                "{version} rejects {unknown}"
            );
        }
    }
    lrs.app.stop().await;
}

/// Data 2.4 (XAPI-00021): a property used twice is refused, at any depth.
#[tokio::test]
async fn duplicate_properties_are_refused() {
    let lrs = spawn().await;
    for body in [
        r#"{"actor":{"mbox":"mailto:a@example.com"},"actor":{"mbox":"mailto:b@example.com"},"verb":{"id":"http://example.com/v"},"object":{"id":"http://example.com/a"}}"#,
        r#"{"actor":{"mbox":"mailto:a@example.com","mbox":"mailto:b@example.com"},"verb":{"id":"http://example.com/v"},"object":{"id":"http://example.com/a"}}"#,
    ] {
        let res = lrs
            .req(reqwest::Method::POST, "statements", Some("1.0.3"), &lrs.basic)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let problem: serde_json::Value = res.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("duplicate key"), "{problem}");
    }
    let (_, page, _) = lrs.get("").await;
    assert_eq!(page["statements"], json!([]));
    lrs.app.stop().await;
}
