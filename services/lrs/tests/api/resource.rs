//! The Statements resource: PUT/POST/GET, conflicts, voiding, filters, paging, formats.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{ATTEMPTED, COMPLETED, enc, spawn, statement};

#[tokio::test]
async fn put_post_get_and_conflicts() {
    let lrs = spawn().await;
    let id = Uuid::now_v7();
    let s = statement("a@example.com", COMPLETED, "http://example.com/a");
    let put = |body: Value| {
        lrs.req(Method::PUT, &format!("statements?statementId={id}"), Some("1.0.3"), &lrs.basic).json(&body).send()
    };
    assert_eq!(put(s.clone()).await.unwrap().status(), 204);
    assert_eq!(put(s.clone()).await.unwrap().status(), 204, "an identical resend changes nothing");
    // Statement comparison (Data 2.3.1): what the immutability exceptions allow is no difference.
    let mut same = s.clone();
    same["actor"] = json!({ "mbox": "mailto:a@EXAMPLE.com" });
    same["verb"]["display"] = json!({ "fr-FR": "a fait" });
    same["object"]["definition"] = json!({ "name": { "en-US": "A" } });
    same["id"] = json!(id.to_string().to_uppercase());
    same["version"] = json!("1.0.3");
    assert_eq!(put(same).await.unwrap().status(), 204, "equivalent under the comparison rules");
    let mut renamed = s.clone();
    renamed["actor"]["name"] = json!("Someone else");
    assert_eq!(put(renamed).await.unwrap().status(), 409, "a property that is not an exception differs");
    let other = statement("a@example.com", ATTEMPTED, "http://example.com/a");
    assert_eq!(put(other.clone()).await.unwrap().status(), 409, "same id, different statement");
    let mut with_id = other.clone();
    with_id["id"] = json!(id.to_string());
    assert_eq!(lrs.post(with_id).await.0, 409);

    let (status, got, headers) = lrs.get(&format!("?statementId={id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["id"], id.to_string());
    assert_eq!(got["verb"]["id"], COMPLETED);
    assert!(got["object"].get("definition").is_none(), "a matching resend changed nothing");
    assert!(got["stored"].is_string() && got["timestamp"].is_string());
    assert_eq!(got["version"], "1.0.0", "1.0.3: a statement without a version is stored as 1.0.0");
    assert!(headers.contains_key("last-modified"));

    let (status, ids) = lrs
        .post(json!([
            statement("b@example.com", COMPLETED, "http://example.com/b"),
            statement("c@example.com", COMPLETED, "http://example.com/c")
        ]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids.as_array().unwrap().len(), 2);
    for i in ids.as_array().unwrap() {
        assert_eq!(
            lrs.get(&format!("?statementId={}", i.as_str().unwrap())).await.0,
            200,
            "readable as soon as POST returned"
        );
    }
    assert_eq!(lrs.get(&format!("?statementId={}", Uuid::now_v7())).await.0, 404);
    assert_eq!(lrs.get(&format!("?statementId={id}&verb={COMPLETED}")).await.0, 400);
    lrs.app.stop().await;
}

#[tokio::test]
async fn voiding_rules() {
    let lrs = spawn().await;
    let (_, ids) = lrs.post(statement("a@example.com", COMPLETED, "http://example.com/a")).await;
    let target = ids[0].as_str().unwrap().to_owned();
    let mut referencing = statement("a@example.com", ATTEMPTED, "http://example.com/a");
    referencing["object"] = json!({ "objectType": "StatementRef", "id": target });
    let void = json!({ "actor": { "mbox": "mailto:admin@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/voided" },
        "object": { "objectType": "StatementRef", "id": target } });
    let (status, void_ids) = lrs.post(void).await;
    assert_eq!(status, 200);
    assert_eq!(lrs.post(referencing).await.0, 200);

    assert_eq!(lrs.get(&format!("?statementId={target}")).await.0, 404, "a voided statement is gone from statementId");
    let (status, got, _) = lrs.get(&format!("?voidedStatementId={target}")).await;
    assert_eq!((status, got["id"].as_str()), (200, Some(target.as_str())));
    let (_, page, _) = lrs.get("").await;
    let listed: Vec<&str> = page["statements"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(!listed.contains(&target.as_str()), "voided statements leave queries");
    assert_eq!(listed.len(), 2, "the voiding statement and the one referencing the voided one remain");

    let void_void = json!({ "actor": { "mbox": "mailto:admin@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/voided" },
        "object": { "objectType": "StatementRef", "id": void_ids[0] } });
    assert_eq!(lrs.post(void_void).await.0, 400, "a voiding statement cannot be voided");
    assert_eq!(lrs.get(&format!("?voidedStatementId={}", void_ids[0].as_str().unwrap())).await.0, 404);
    lrs.app.stop().await;
}

#[tokio::test]
async fn query_filters_formats_and_stable_paging() {
    let lrs = spawn().await;
    let reg = Uuid::now_v7();
    let mut batch = vec![];
    for i in 0..12 {
        let mut s = statement(
            &format!("learner{}@example.com", i % 3),
            if i % 2 == 0 { COMPLETED } else { ATTEMPTED },
            &format!("http://example.com/course/{}", i % 4),
        );
        if i % 3 == 0 {
            s["context"] = json!({ "registration": reg, "contextActivities": { "parent": [{ "id": "http://example.com/program" }] },
                "instructor": { "mbox": "mailto:teacher@example.com" } });
        }
        batch.push(s);
    }
    assert_eq!(lrs.post(Value::Array(batch)).await.0, 200);
    let count = |v: &Value| v["statements"].as_array().unwrap().len();
    let agent = enc(r#"{"mbox":"mailto:learner0@example.com"}"#);
    assert_eq!(count(&lrs.get(&format!("?agent={agent}")).await.1), 4);
    assert_eq!(count(&lrs.get(&format!("?verb={}", enc(COMPLETED))).await.1), 6);
    assert_eq!(count(&lrs.get(&format!("?activity={}", enc("http://example.com/course/1"))).await.1), 3);
    assert_eq!(count(&lrs.get(&format!("?activity={}", enc("http://example.com/program"))).await.1), 0);
    assert_eq!(
        count(&lrs.get(&format!("?activity={}&related_activities=true", enc("http://example.com/program"))).await.1),
        4
    );
    let teacher = enc(r#"{"mbox":"mailto:teacher@example.com"}"#);
    assert_eq!(count(&lrs.get(&format!("?agent={teacher}")).await.1), 0);
    assert_eq!(count(&lrs.get(&format!("?agent={teacher}&related_agents=true")).await.1), 4);
    assert_eq!(count(&lrs.get(&format!("?registration={reg}")).await.1), 4);
    assert_eq!(lrs.get("?agent=notjson").await.0, 400);
    assert_eq!(lrs.get("?bogus=1").await.0, 400, "unknown parameters are refused");

    // Time windows on `stored`.
    let (_, all, headers) = lrs.get("?ascending=true").await;
    assert!(headers.contains_key("last-modified"), "a result set carries Last-Modified");
    let stored: Vec<String> =
        all["statements"].as_array().unwrap().iter().map(|s| s["stored"].as_str().unwrap().to_owned()).collect();
    let mut sorted = stored.clone();
    sorted.sort();
    assert_eq!(stored, sorted, "ascending is oldest first");
    let later = stored.iter().filter(|s| **s > stored[5]).count();
    let (_, after, _) = lrs.get(&format!("?since={}", enc(&stored[5]))).await;
    assert_eq!(count(&after), later, "since is exclusive");
    let (_, upto, _) = lrs.get(&format!("?until={}", enc(&stored[5]))).await;
    assert_eq!(count(&upto), 12 - later, "until is inclusive");

    // Paging with `more` while new statements keep arriving: no duplicates, no gaps.
    let mut seen = HashSet::new();
    let mut next = "?limit=5".to_owned();
    let mut pages = 0;
    loop {
        let (status, page, _) = lrs.get(&next).await;
        assert_eq!(status, 200);
        for s in page["statements"].as_array().unwrap() {
            assert!(seen.insert(s["id"].as_str().unwrap().to_owned()), "no statement twice");
        }
        lrs.post(statement("late@example.com", COMPLETED, "http://example.com/late")).await;
        pages += 1;
        let more = page["more"].as_str().unwrap();
        if more.is_empty() {
            break;
        }
        next = format!("?{}", more.split_once('?').unwrap().1);
    }
    assert_eq!(seen.len(), 12, "every statement that existed when paging began, exactly once");
    assert_eq!(pages, 3);

    // format=ids reduces agents and activities to identifiers; canonical picks a language.
    let (_, ids_fmt, _) = lrs.get("?limit=1&format=ids").await;
    let s = &ids_fmt["statements"][0];
    assert_eq!(s["verb"], json!({ "id": s["verb"]["id"] }));
    assert_eq!(s["object"], json!({ "id": s["object"]["id"] }), "an Activity is its id alone, no objectType");
    assert_eq!(
        s["actor"],
        json!({ "objectType": "Agent", "mbox": s["actor"]["mbox"] }),
        "an Agent keeps IFI and objectType"
    );
    let res = lrs
        .req(Method::GET, "statements?limit=1&format=canonical", Some("1.0.3"), &lrs.basic)
        .header("accept-language", "en-US")
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["statements"][0]["verb"]["display"], json!({ "en-US": "did" }));
    lrs.app.stop().await;
}

#[tokio::test]
async fn platform_admins_purge_statements_with_an_audit_event() {
    let lrs = spawn().await;
    let (_, ids) = lrs.post(statement("leak@example.com", COMPLETED, "http://example.com/a")).await;
    let id = ids[0].as_str().unwrap().to_owned();
    let path = format!("/api/v1/lrs/admin/tenants/{}/statements/{id}/purge", lrs.tenant);
    let org_admin = lrs.app.token(Some(lrs.tenant), &[mirai_kit::Role::OrgAdmin]);
    let res = lrs.app.post(&path, Some(&org_admin), json!({ "reason": "pii" })).await;
    mirai_testkit::assert_problem(&res, 403, "forbidden");
    let admin = lrs.app.platform_admin();
    mirai_testkit::assert_problem(&lrs.app.post(&path, Some(&admin), json!({ "reason": "" })).await, 422, "validation");
    assert_eq!(
        lrs.app.post(&path, Some(&admin), json!({ "reason": "personal data in a result extension" })).await.0,
        204
    );
    assert_eq!(lrs.get(&format!("?statementId={id}")).await.0, 404);
    assert_eq!(lrs.get(&format!("?voidedStatementId={id}")).await.0, 404);
    mirai_testkit::assert_problem(
        &lrs.app.post(&path, Some(&admin), json!({ "reason": "again" })).await,
        404,
        "not-found",
    );
    let event = lrs
        .app
        .wait_for_event("lrs.statement.purged.v1", std::time::Duration::from_secs(5), |e| {
            e.data["statement_id"] == id.as_str()
        })
        .await;
    assert_eq!(event.data["reason"], "personal data in a result extension");
    assert!(event.data["purged_by"].as_str().unwrap().starts_with("user:"));
    lrs.app.stop().await;
}

/// Communication 2.1.3: `X-Experience-API-Consistent-Through` is never before the
/// `stored` of a returned statement, and every statement stored through it is returned —
/// checked while three writers keep storing.
#[tokio::test]
async fn consistent_through_holds_under_concurrent_writes() {
    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
        time::Duration,
    };
    let lrs = Arc::new(spawn().await);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = vec![];
    for w in 0..3 {
        let (lrs, acked, stop) = (lrs.clone(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 120 {
                let (status, ids) =
                    lrs.post(statement(&format!("w{w}@example.com"), COMPLETED, "http://example.com/c")).await;
                assert_eq!(status, 200);
                acked.lock().unwrap().push(ids[0].as_str().unwrap().to_owned());
                n += 1;
            }
        }));
    }
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc);
    let mut reads = vec![];
    for _ in 0..25 {
        let before: Vec<String> = acked.lock().unwrap().clone();
        let (status, page, headers) = lrs.get("?limit=0&ascending=true").await;
        assert_eq!(status, 200);
        let through = parse(headers["x-experience-api-consistent-through"].to_str().unwrap());
        let mut listed = HashSet::new();
        for s in page["statements"].as_array().unwrap() {
            assert!(parse(s["stored"].as_str().unwrap()) <= through, "a listed statement is stored after the header");
            listed.insert(s["id"].as_str().unwrap().to_owned());
        }
        reads.push((before, through, listed));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let mut stored: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let (_, all, _) = lrs.get("?limit=0").await;
    assert!(all["more"] == "", "the test stays within one page");
    for s in all["statements"].as_array().unwrap() {
        stored.insert(s["id"].as_str().unwrap().to_owned(), parse(s["stored"].as_str().unwrap()));
    }
    let mut checked = 0;
    for (before, through, listed) in &reads {
        for id in before.iter().filter(|id| stored[*id] <= *through) {
            assert!(listed.contains(id), "{id} was stored through the header's instant but not listed");
            checked += 1;
        }
    }
    assert!(checked > 0, "the reads overlapped acknowledged writes");
    let lrs = Arc::into_inner(lrs).expect("writers are done");
    lrs.app.stop().await;
}

/// Communication 2.1.3, filter conditions for StatementRefs: a statement targeting
/// another matches the content filters when its target does (voided or not, through
/// chains), while time, limit and order apply to the statement itself.
#[tokio::test]
async fn statement_refs_match_through_their_targets() {
    let lrs = spawn().await;
    let verb = format!("http://example.com/verbs/{}", Uuid::now_v7());
    let mut voided = statement("a@example.com", &verb, "http://example.com/target");
    voided["id"] = json!(Uuid::now_v7().to_string());
    let voided_id = voided["id"].as_str().unwrap().to_owned();
    assert_eq!(lrs.post(voided).await.0, 200);
    let (_, d) = lrs
        .post(json!({ "actor": { "mbox": "mailto:admin@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/voided" },
            "object": { "objectType": "StatementRef", "id": voided_id } }))
        .await;
    let mut referring = statement("b@example.com", &verb, "http://example.com/x");
    referring["object"] = json!({ "objectType": "StatementRef", "id": voided_id });
    let (_, r) = lrs.post(referring).await;
    let mut second_hop = statement("c@example.com", ATTEMPTED, "http://example.com/x");
    second_hop["object"] = json!({ "objectType": "StatementRef", "id": r[0] });
    let (_, r2) = lrs.post(second_hop).await;
    let ids = |page: &Value| -> Vec<String> {
        page["statements"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
    };

    let (_, page, _) = lrs.get(&format!("?verb={}", enc(&verb))).await;
    assert_eq!(ids(&page), vec![r2[0].as_str().unwrap(), r[0].as_str().unwrap(), d[0].as_str().unwrap()]);
    let (_, page, _) = lrs.get(&format!("?verb={}&limit=1", enc(&verb))).await;
    assert_eq!(ids(&page), vec![r2[0].as_str().unwrap()], "limit counts the listed statements");
    let (_, page, _) = lrs.get(&format!("?verb={}&ascending=true", enc(&verb))).await;
    assert_eq!(ids(&page).first().map(String::as_str), d[0].as_str());
    let (_, page, _) = lrs.get(&format!("?agent={}", enc(r#"{"mbox":"mailto:a@example.com"}"#))).await;
    assert_eq!(ids(&page).len(), 3, "the voided statement's actor reaches the three statements that target it");
    let (_, page, _) = lrs.get(&format!("?verb={}&until=2000-01-01T00:00:00Z", enc(&verb))).await;
    assert!(ids(&page).is_empty(), "time filters apply to the listed statement, not its target");
    let (_, page, _) = lrs.get(&format!("?verb={}&activity={}", enc(&verb), enc("http://example.com/other"))).await;
    assert!(ids(&page).is_empty(), "all content filters must hold on the same target");
    lrs.app.stop().await;
}

#[tokio::test]
async fn the_agent_filter_reaches_group_members_and_related_agents_the_authority() {
    let lrs = spawn().await;
    let ann = r#"{"mbox":"mailto:ann@example.com"}"#;
    // Communication 2.1.3: "Groups that have members which match the specified Agent …
    // are considered a match" — as actor (identified or anonymous) and as object.
    let mut identified = statement("x@example.com", COMPLETED, "http://example.com/g1");
    identified["actor"] = json!({ "objectType": "Group", "mbox": "mailto:team@example.com",
        "member": [{ "mbox": "mailto:ann@EXAMPLE.com" }] });
    let mut anonymous = statement("x@example.com", COMPLETED, "http://example.com/g2");
    anonymous["actor"] = json!({ "objectType": "Group", "member": [{ "mbox": "mailto:ann@Example.com" }, { "mbox": "mailto:bob@example.com" }] });
    let mut object = statement("x@example.com", COMPLETED, "http://example.com/g3");
    object["object"] = json!({ "objectType": "Group", "member": [{ "mbox": "mailto:ann@example.com" }] });
    let unrelated = statement("bob@example.com", COMPLETED, "http://example.com/g4");
    let (status, ids) = lrs.post(json!([identified, anonymous, object, unrelated])).await;
    assert_eq!(status, 200, "{ids}");
    let (_, found, _) = lrs.get(&format!("?agent={}&ascending=true", enc(ann))).await;
    let got: Vec<&Value> = found["statements"].as_array().unwrap().iter().map(|s| &s["id"]).collect();
    assert_eq!(got, [&ids[0], &ids[1], &ids[2]], "every statement with Ann in its actor or object Group");
    // A member through a StatementRef too.
    let mut referring = statement("carl@example.com", COMPLETED, "http://example.com/r");
    referring["object"] = json!({ "objectType": "StatementRef", "id": ids[1] });
    let (_, r) = lrs.post(referring).await;
    let (_, found, _) = lrs.get(&format!("?agent={}", enc(ann))).await;
    assert_eq!(found["statements"][0]["id"], r[0]);

    // related_agents covers the authority (the credential that stored them).
    let (_, stored, _) = lrs.get(&format!("?statementId={}", ids[3].as_str().unwrap())).await;
    let authority = stored["authority"].to_string();
    let (_, by_authority, _) = lrs.get(&format!("?agent={}&related_agents=true", enc(&authority))).await;
    assert_eq!(by_authority["statements"].as_array().unwrap().len(), 5, "all five were stored with this key");
    let (_, not_direct, _) = lrs.get(&format!("?agent={}", enc(&authority))).await;
    assert_eq!(not_direct["statements"], json!([]), "the authority is related, not the actor");
    lrs.app.stop().await;
}

#[tokio::test]
async fn a_statement_without_a_timestamp_is_timestamped_when_stored() {
    // Data 2.4.7 (2.0: shall, 1.0.3: SHOULD*): the timestamp is set to `stored`.
    let lrs = spawn().await;
    for version in ["2.0.0", "1.0.3"] {
        let (status, ids) = lrs
            .post_as(statement("t@example.com", COMPLETED, "http://example.com/t"), version, &lrs.basic.clone())
            .await;
        assert_eq!(status, 200);
        let (_, s, _) = lrs.get(&format!("?statementId={}", ids[0].as_str().unwrap())).await;
        assert_eq!(s["timestamp"], s["stored"], "{version}");
    }
    let mut given = statement("t@example.com", COMPLETED, "http://example.com/t");
    given["timestamp"] = json!("2020-01-01T00:00:00.000Z");
    let (_, ids) = lrs.post(given).await;
    let (_, s, _) = lrs.get(&format!("?statementId={}", ids[0].as_str().unwrap())).await;
    assert_eq!(s["timestamp"], "2020-01-01T00:00:00.000Z", "a given timestamp is kept");
    lrs.app.stop().await;
}

/// Statements sent together are stored together and read back in the order sent, not in
/// the order of their ids (cmi5's conformance reads an AU's `completed` before the LMS's
/// `satisfied` from one batch).
#[tokio::test]
async fn a_batch_reads_back_in_the_order_it_was_sent() {
    let lrs = spawn().await;
    let ids = [
        "ffffffff-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000002",
        "88888888-0000-4000-8000-000000000003",
    ];
    let batch: Vec<Value> = ids
        .iter()
        .map(|id| {
            let mut s = statement("order@example.com", COMPLETED, "http://example.com/order");
            s["id"] = json!(id);
            s
        })
        .collect();
    let (status, got) = lrs.post(json!(batch)).await;
    assert_eq!((status, got), (200, json!(ids)));
    let (_, page, _) = lrs.get(&format!("?activity={}&ascending=true", enc("http://example.com/order"))).await;
    let read: Vec<&str> = page["statements"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(read, ids);
}
