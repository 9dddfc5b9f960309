//! Statement data rules: every failure is a 400 naming the rule, and nothing is stored.

use serde_json::json;

use crate::{COMPLETED, spawn, statement};

#[tokio::test]
async fn a_statement_must_be_a_json_object() {
    let lrs = spawn().await;
    for body in [json!("x"), json!(1), json!(null), json!([1]), json!([{}, "x"])] {
        let res = lrs
            .req(
                reqwest::Method::PUT,
                &format!("statements?statementId={}", uuid::Uuid::now_v7()),
                Some("1.0.3"),
                &lrs.basic,
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status() == 400, "PUT {body}: {}", res.status());
        assert_eq!(lrs.post(body.clone()).await.0, 400, "POST {body}");
    }
    lrs.app.stop().await;
}

#[tokio::test]
async fn a_batch_of_thousands_is_one_request() {
    // More rows than one INSERT can bind (17 parameters each, 65,535 at most).
    let lrs = spawn().await;
    let batch: Vec<_> =
        (0..5_000).map(|i| statement(&format!("l{i}@example.com"), COMPLETED, "http://example.com/big")).collect();
    let (status, ids) = lrs.post(json!(batch)).await;
    assert_eq!(status, 200, "{ids}");
    assert_eq!(ids.as_array().unwrap().len(), 5_000);
    // Announced in events the bus carries (the outbox refuses one over 768 KB): the last
    // statement's summary is in an event of its own chunk.
    let last = ids[4_999].clone();
    let env = lrs
        .app
        .wait_for_event("lrs.statement.stored.v1", std::time::Duration::from_secs(10), |e| {
            e.data["statements"].as_array().is_some_and(|s| s.iter().any(|s| s["id"] == last))
        })
        .await;
    let n = env.data["statements"].as_array().unwrap().len();
    assert!(n < 5_000, "{n} statements in one event");
    let (_, page, _) = lrs.get(&format!("?activity={}&limit=0", crate::enc("http://example.com/big"))).await;
    assert_eq!(page["statements"].as_array().unwrap().len(), 500, "a full page");
    assert!(!page["more"].as_str().unwrap().is_empty());
    lrs.app.stop().await;
}

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

#[tokio::test]
async fn an_anonymous_group_is_a_valid_actor() {
    // Data 2.4.2.2: an anonymous Group (members, no IFI) may be the actor.
    let lrs = spawn().await;
    let mut s = statement("a@example.com", COMPLETED, "http://example.com/group-work");
    s["actor"] = json!({ "objectType": "Group", "name": "Pair", "member": [
        { "mbox": "mailto:ann@example.com" }, { "account": { "homePage": "https://example.com", "name": "bob" } }] });
    let (status, ids) = lrs.post(s.clone()).await;
    assert_eq!(status, 200, "{ids}");
    let id = ids[0].as_str().unwrap();
    let (status, got, _) = lrs.get(&format!("?statementId={id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["actor"], s["actor"], "stored as sent");
    // A member finds it: as a related agent, and directly ("Groups that have members
    // which match the specified Agent … are considered a match", Communication 2.1.3).
    let ann = crate::enc(r#"{"mbox":"mailto:ann@example.com"}"#);
    let (_, related, _) = lrs.get(&format!("?agent={ann}&related_agents=true")).await;
    assert_eq!(related["statements"][0]["id"], id);
    let (_, direct, _) = lrs.get(&format!("?agent={ann}")).await;
    assert_eq!(direct["statements"][0]["id"], id);
    // Sending it again is the same statement, whatever the member order.
    let mut again = s.clone();
    again["id"] = json!(id);
    again["actor"]["member"] = json!([s["actor"]["member"][1], s["actor"]["member"][0]]);
    assert_eq!(lrs.post(again).await.0, 200);
    // In 2.0 too, and in a SubStatement.
    let mut sub = statement("c@example.com", COMPLETED, "http://example.com/x");
    sub["object"] = json!({ "objectType": "SubStatement", "actor": s["actor"], "verb": { "id": COMPLETED },
        "object": { "id": "http://example.com/inner" } });
    let (status, body) = lrs.post_as(json!([s, sub]), "2.0.0", &lrs.basic.clone()).await;
    assert_eq!(status, 200, "{body}");
    lrs.app.stop().await;
}

/// A deterministic stream of incompressible text (no RNG crate needed).
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"[(x % 66) as usize])
        })
        .collect()
}

#[tokio::test]
async fn long_incompressible_values_are_stored_and_found_never_a_500() {
    let lrs = spawn().await;
    // Every indexed value, long and random: activity, verb, actor account, mbox, object
    // agent, context activities, authority-free. Each is stored and found again by it.
    // (A query string stays under 64 kB: the verb is capped so verb + activity fits.)
    for (i, len) in [300usize, 3_000, 24_072].into_iter().enumerate() {
        let activity = format!("http://example.com/{}", noise(i as u64 + 1, len));
        let verb = format!("http://example.com/verbs/{}", noise(i as u64 + 7, len.min(8_000)));
        let name = noise(i as u64 + 13, len);
        let s = json!({
            "actor": { "account": { "homePage": "https://example.com", "name": name } },
            "verb": { "id": verb },
            "object": { "id": activity, "definition": { "name": { "en-US": "long" } } },
            "context": { "contextActivities": { "parent": [{ "id": format!("{activity}/parent") }] },
                "instructor": { "mbox": format!("mailto:{}@example.com", noise(i as u64 + 21, len)) } },
        });
        let (status, ids) = lrs.post(s).await;
        assert_eq!(status, 200, "{len} bytes: {ids}");
        let id = ids[0].as_str().unwrap();
        let agent = crate::enc(&json!({ "account": { "homePage": "https://example.com", "name": name } }).to_string());
        for query in [
            format!("?activity={}", crate::enc(&activity)),
            format!("?verb={}&activity={}", crate::enc(&verb), crate::enc(&activity)),
            format!("?agent={agent}"),
            format!("?activity={}&related_activities=true", crate::enc(&format!("{activity}/parent"))),
        ] {
            let (status, found, _) = lrs.get(&query).await;
            assert_eq!(status, 200, "{len}: {found}");
            assert_eq!(found["statements"][0]["id"], id, "{len} bytes: found again by its own value");
        }
        let def: serde_json::Value = lrs.get_json(&format!("activities?activityId={}", crate::enc(&activity))).await;
        assert_eq!(def["definition"]["name"]["en-US"], "long");
    }
    // A value shaped like another's key is not that key: two activities, two definitions
    // (and one batch holding both is no conflict with itself).
    let long = format!("http://example.com/{}", noise(61, 1_000));
    let lookalike = {
        use sha2::Digest;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(long.as_bytes())))
    };
    let mut twins = statement("a@example.com", COMPLETED, &long);
    twins["object"]["definition"] = json!({ "name": { "en-US": "long one" } });
    twins["context"] = json!({ "contextActivities": { "parent": [{ "id": lookalike, "definition": { "name": { "en-US": "lookalike" } } }] } });
    assert_eq!(lrs.post(twins).await.0, 200);
    for (id, name) in [(&long, "long one"), (&lookalike, "lookalike")] {
        let def: serde_json::Value = lrs.get_json(&format!("activities?activityId={}", crate::enc(id))).await;
        assert_eq!(def["definition"]["name"]["en-US"], name);
    }
    let (_, found, _) = lrs.get(&format!("?activity={}", crate::enc(&lookalike))).await;
    assert_eq!(found["statements"], json!([]), "the lookalike is not the long IRI's object");
    // The SQL the migration rewrites old rows with computes the same keys.
    let mut db =
        <sqlx::PgConnection as sqlx::Connection>::connect(&mirai_testkit::url_for_db(&lrs.app.database)).await.unwrap();
    for v in ["http://example.com/a".to_owned(), long.clone(), lookalike.clone(), "é".repeat(200)] {
        let sql: String = sqlx::query_scalar("SELECT lrs.index_key($1)").bind(&v).fetch_one(&mut db).await.unwrap();
        assert_eq!(sql, mirai_lrs::index_key(&v), "{v}");
    }
    // Far beyond any index row: stored whole.
    let huge = statement("a@example.com", COMPLETED, &format!("http://example.com/{}", noise(5, 200_000)));
    assert_eq!(lrs.post(huge).await.0, 200);
    // A long document key: the agent and activity are hashed into the key; the id (which
    // is returned as it is) has a limit the 400 names.
    let agent =
        crate::enc(&json!({ "account": { "homePage": "https://example.com", "name": noise(99, 10_000) } }).to_string());
    let activity = crate::enc(&format!("http://example.com/{}", noise(98, 10_000)));
    let path = format!("activities/state?activityId={activity}&agent={agent}&stateId=s");
    let put = lrs.req(reqwest::Method::PUT, &path, Some("1.0.3"), &lrs.basic).json(&json!({ "a": 1 })).send().await;
    assert_eq!(put.unwrap().status(), 204);
    assert_eq!(lrs.get_json(&path).await, json!({ "a": 1 }));
    let long_id = format!("activities/state?activityId={activity}&agent={agent}&stateId={}", noise(97, 5_000));
    let res = lrs.req(reqwest::Method::PUT, &long_id, Some("1.0.3"), &lrs.basic).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("at most 1024"), "the refusal names the limit");
    lrs.app.stop().await;
}

#[tokio::test]
async fn fuzzed_long_values_in_every_indexed_field_are_stored_and_found() {
    // 60 statements, each indexed field (actor, verb, object activity or agent, context
    // activities, instructor, registration-free) a random length from 1 byte to 30 kB.
    let lrs = spawn().await;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let lengths = [1usize, 40, 255, 256, 257, 1_000, 2_700, 8_000, 30_000];
    let mut sent = vec![];
    for i in 0..60u64 {
        let mut len = || lengths[(next() % lengths.len() as u64) as usize];
        let (actor_len, verb_len, object_len, parent_len) = (len(), len().min(8_000), len(), len());
        let actor = json!({ "account": { "homePage": "https://example.com", "name": format!("{i}-{}", noise(i * 4 + 1, actor_len)) } });
        // Each value starts with the statement's number: short ones cannot collide.
        let verb = format!("http://v.example/{i}/{}", noise(i * 4 + 2, verb_len));
        let object = if i % 3 == 0 {
            json!({ "objectType": "Agent", "mbox": format!("mailto:{i}-{}@example.com", noise(i * 4 + 3, object_len)) })
        } else {
            json!({ "id": format!("http://a.example/{i}/{}", noise(i * 4 + 3, object_len)) })
        };
        let s = json!({ "actor": actor, "verb": { "id": verb }, "object": object,
            "context": { "contextActivities": { "grouping": [{ "id": format!("http://g.example/{i}/{}", noise(i * 4 + 4, parent_len)) }] } } });
        sent.push(s);
    }
    let (status, ids) = lrs.post(json!(sent)).await;
    assert_eq!(status, 200, "{ids}");
    for (s, id) in sent.iter().zip(ids.as_array().unwrap()) {
        let agent = crate::enc(&s["actor"].to_string());
        let (status, found, _) =
            lrs.get(&format!("?agent={agent}&verb={}", crate::enc(s["verb"]["id"].as_str().unwrap()))).await;
        assert_eq!(status, 200);
        assert_eq!(found["statements"][0]["id"], *id);
        let grouping = s["context"]["contextActivities"]["grouping"][0]["id"].as_str().unwrap();
        let (_, related, _) = lrs.get(&format!("?activity={}&related_activities=true", crate::enc(grouping))).await;
        assert_eq!(related["statements"][0]["id"], *id);
    }
    lrs.app.stop().await;
}
