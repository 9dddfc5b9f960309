//! Document resources: State, Activity Profile, Agent Profile, with ETag concurrency and
//! JSON merge; the Activities and Agents resources.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{COMPLETED, enc, spawn, statement};

#[tokio::test]
async fn state_documents_with_concurrency_and_merge() {
    let lrs = spawn().await;
    let agent = enc(r#"{"mbox":"mailto:a@example.com"}"#);
    let base = format!("activities/state?activityId={}&agent={agent}", enc("http://example.com/a"));
    let one = format!("{base}&stateId=bookmark");
    let send = |method: Method, path: &str, version: &str, body: Option<Value>, extra: &[(&str, &str)]| {
        let mut r = lrs.req(method, path, Some(version), &lrs.basic);
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let res = send(Method::PUT, &one, "1.0.3", Some(json!({ "page": 1 })), &[]).await.unwrap();
    assert_eq!(res.status(), 204);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "ETags are quoted: {etag}");
    assert!(
        etag.len() == 42 && etag[1..41].chars().all(|c| c.is_ascii_hexdigit()),
        "an ETag is the SHA-1 of the document, hex (Communication 3.1): {etag}"
    );

    let res = send(Method::GET, &one, "1.0.3", None, &[]).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    assert!(res.headers().contains_key("last-modified"));
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "page": 1 }));

    // 1.0.3 lets State be overwritten without a precondition; 2.0 does not.
    assert_eq!(send(Method::PUT, &one, "1.0.3", Some(json!({ "page": 2 })), &[]).await.unwrap().status(), 204);
    assert_eq!(send(Method::PUT, &one, "2.0.0", Some(json!({ "page": 3 })), &[]).await.unwrap().status(), 409);
    assert_eq!(
        send(Method::PUT, &one, "2.0.0", Some(json!({ "page": 3 })), &[("if-match", "\"nope\"")])
            .await
            .unwrap()
            .status(),
        412
    );
    assert_eq!(
        send(Method::PUT, &one, "2.0.0", Some(json!({ "page": 3 })), &[("if-none-match", "*")]).await.unwrap().status(),
        412
    );
    let current =
        send(Method::GET, &one, "2.0.0", None, &[]).await.unwrap().headers()["etag"].to_str().unwrap().to_owned();
    let res = send(Method::PUT, &one, "2.0.0", Some(json!({ "page": 3 })), &[("if-match", &current)]).await.unwrap();
    assert_eq!(res.status(), 204);

    // POST merges JSON objects.
    assert_eq!(send(Method::POST, &one, "2.0.0", Some(json!({ "score": 9 })), &[]).await.unwrap().status(), 204);
    let merged: Value = send(Method::GET, &one, "2.0.0", None, &[]).await.unwrap().json().await.unwrap();
    assert_eq!(merged, json!({ "page": 3, "score": 9 }));
    assert_eq!(send(Method::POST, &one, "2.0.0", Some(json!([1, 2])), &[]).await.unwrap().status(), 400);

    // Lists, scoped by registration; delete one and delete all.
    let reg = uuid::Uuid::now_v7();
    send(Method::PUT, &format!("{base}&registration={reg}&stateId=other"), "1.0.3", Some(json!({})), &[])
        .await
        .unwrap();
    let ids: Value = send(Method::GET, &base, "1.0.3", None, &[]).await.unwrap().json().await.unwrap();
    assert_eq!(ids, json!(["bookmark"]));
    let ids: Value = send(Method::GET, &format!("{base}&registration={reg}"), "1.0.3", None, &[])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids, json!(["other"]));
    assert_eq!(send(Method::DELETE, &one, "1.0.3", None, &[("if-match", "\"nope\"")]).await.unwrap().status(), 412);
    assert_eq!(send(Method::DELETE, &base, "1.0.3", None, &[]).await.unwrap().status(), 204);
    assert_eq!(send(Method::GET, &one, "1.0.3", None, &[]).await.unwrap().status(), 404);
    assert_eq!(send(Method::GET, &format!("{base}&bogus=1"), "1.0.3", None, &[]).await.unwrap().status(), 400);
    assert_eq!(send(Method::GET, "activities/state?activityId=nope", "1.0.3", None, &[]).await.unwrap().status(), 400);
    lrs.app.stop().await;
}

#[tokio::test]
async fn profiles_need_preconditions_to_overwrite() {
    let lrs = spawn().await;
    let path = format!("activities/profile?activityId={}&profileId=p1", enc("http://example.com/a"));
    let put = |v: &str, extra: Option<(&str, String)>| {
        let mut r = lrs.req(Method::PUT, &path, Some(v), &lrs.basic).header("content-type", "text/plain").body("hello");
        if let Some((k, val)) = extra {
            r = r.header(k, val);
        }
        r.send()
    };
    // Communication 3.1: a client PUTting a profile sends If-Match or If-None-Match; an
    // LRS refuses one without either — 400 while there is nothing to overwrite, 409 once
    // there is — under both versions.
    for v in ["1.0.3", "2.0.0"] {
        let res = put(v, None).await.unwrap();
        assert_eq!(res.status(), 400, "{v}: a new profile PUT without a precondition");
        assert!(res.text().await.unwrap().contains("If-None-Match"), "the refusal says what to send");
    }
    assert_eq!(
        lrs.req(Method::GET, &path, Some("1.0.3"), &lrs.basic).send().await.unwrap().status(),
        404,
        "not stored"
    );
    assert_eq!(put("1.0.3", Some(("if-none-match", "*".into()))).await.unwrap().status(), 204);
    for v in ["1.0.3", "2.0.0"] {
        assert_eq!(put(v, None).await.unwrap().status(), 409, "{v}: profiles need If-Match to overwrite");
    }
    let res = lrs.req(Method::GET, &path, Some("1.0.3"), &lrs.basic).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/plain");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(res.text().await.unwrap(), "hello");
    assert_eq!(put("1.0.3", Some(("if-match", etag))).await.unwrap().status(), 204);

    let agent_path = format!("agents/profile?agent={}&profileId=prefs", enc(r#"{"mbox":"mailto:a@example.com"}"#));
    let agent_put = |extra: Option<(&str, &str)>| {
        let mut r = lrs.req(Method::PUT, &agent_path, Some("1.0.3"), &lrs.basic).json(&json!({ "lang": "de" }));
        if let Some((k, v)) = extra {
            r = r.header(k, v);
        }
        r.send()
    };
    assert_eq!(agent_put(None).await.unwrap().status(), 400, "the Agent Profile resource follows the same rule");
    assert_eq!(agent_put(Some(("if-none-match", "*"))).await.unwrap().status(), 204);
    assert_eq!(agent_put(None).await.unwrap().status(), 409);
    // POST (a merge) and State PUTs carry no such requirement.
    let state = format!(
        "activities/state?activityId={}&agent={}&stateId=s",
        enc("http://example.com/a"),
        enc(r#"{"mbox":"mailto:a@example.com"}"#)
    );
    for v in ["1.0.3", "2.0.0"] {
        let res = lrs.req(Method::PUT, &format!("{state}{v}"), Some(v), &lrs.basic).json(&json!({})).send().await;
        assert_eq!(res.unwrap().status(), 204, "{v}: a new State document needs no precondition");
    }
    let list: Value =
        lrs.get_json(&format!("agents/profile?agent={}", enc(r#"{"mbox":"mailto:a@example.com"}"#))).await;
    assert_eq!(list, json!(["prefs"]));
    lrs.app.stop().await;
}

#[tokio::test]
async fn activities_and_agents_resources() {
    let lrs = spawn().await;
    let mut s = statement("a@example.com", COMPLETED, "http://example.com/course");
    s["object"]["definition"] =
        json!({ "name": { "en-US": "Course" }, "type": "http://adlnet.gov/expapi/activities/course" });
    assert_eq!(lrs.post(s).await.0, 200);
    let mut named = statement("a@example.com", COMPLETED, "http://example.com/course");
    named["actor"]["name"] = json!("Ada Lovelace");
    assert_eq!(lrs.post(json!([named.clone(), named])).await.0, 200);
    let a: Value = lrs.get_json(&format!("activities?activityId={}", enc("http://example.com/course"))).await;
    assert_eq!(a["definition"]["name"]["en-US"], "Course");
    let p: Value =
        lrs.get_json(&format!("agents?agent={}", enc(r#"{"mbox":"mailto:a@example.com","name":"Ada"}"#))).await;
    assert_eq!(
        p,
        json!({ "objectType": "Person", "mbox": ["mailto:a@example.com"], "name": ["Ada", "Ada Lovelace"] }),
        "the requested name and every name statements gave the agent"
    );
    lrs.app.stop().await;
}

#[tokio::test]
async fn the_activities_resource_merges_what_every_statement_said() {
    // Communication 2.5: the Activity object holds everything the LRS knows of it.
    let lrs = spawn().await;
    let course = "http://example.com/merged";
    let with = |def: Value| {
        let mut s = statement("a@example.com", COMPLETED, course);
        s["object"]["definition"] = def;
        s
    };
    let english = with(json!({ "name": { "en-US": "Safety" }, "description": { "en-US": "Basics" } }));
    assert_eq!(lrs.post(english).await.0, 200);
    let french = with(json!({ "name": { "fr-FR": "Sécurité" }, "type": "http://adlnet.gov/expapi/activities/course" }));
    assert_eq!(lrs.post(french).await.0, 200);
    // Within one batch as well, and through a context activity.
    let mut parent = statement("a@example.com", COMPLETED, "http://example.com/lesson");
    parent["context"] = json!({ "contextActivities": { "parent": [{ "id": course, "definition": { "name": { "de-DE": "Sicherheit" } } }] } });
    let spanish = with(json!({ "name": { "es-ES": "Seguridad", "en-US": "Safety 101" } }));
    assert_eq!(lrs.post(json!([parent, spanish])).await.0, 200);
    let a = lrs.get_json(&format!("activities?activityId={}", enc(course))).await;
    assert_eq!(
        a["definition"],
        json!({
            "name": { "en-US": "Safety 101", "fr-FR": "Sécurité", "de-DE": "Sicherheit", "es-ES": "Seguridad" },
            "description": { "en-US": "Basics" },
            "type": "http://adlnet.gov/expapi/activities/course",
        }),
        "every language kept, the latest text per language"
    );
    assert_eq!(a["objectType"], "Activity");
    lrs.app.stop().await;
}

#[tokio::test]
async fn substatement_definitions_count_and_the_agents_resource_takes_only_agents() {
    let lrs = spawn().await;
    let inner = "http://example.com/inner";
    let mut s = statement("a@example.com", COMPLETED, "http://example.com/outer");
    s["object"] = json!({ "objectType": "SubStatement", "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": COMPLETED },
        "object": { "id": inner, "definition": { "name": { "en-US": "Inner" } } },
        "context": { "contextActivities": { "parent": [{ "id": "http://example.com/inner-parent", "definition": { "name": { "en-US": "IP" } } }] } } });
    assert_eq!(lrs.post(s).await.0, 200);
    let a = lrs.get_json(&format!("activities?activityId={}", enc(inner))).await;
    assert_eq!(a["definition"]["name"]["en-US"], "Inner", "a SubStatement's activity is known too");
    let p = lrs.get_json(&format!("activities?activityId={}", enc("http://example.com/inner-parent"))).await;
    assert_eq!(p["definition"]["name"]["en-US"], "IP");
    let unknown = lrs.get_json(&format!("activities?activityId={}", enc("http://example.com/never"))).await;
    assert_eq!(unknown, json!({ "objectType": "Activity", "id": "http://example.com/never" }));
    // Communication 2.4: the Agents resource's parameter is an Agent, "nor is it a Group".
    let group = enc(r#"{"objectType":"Group","mbox":"mailto:team@example.com"}"#);
    let res = lrs.req(Method::GET, &format!("agents?agent={group}"), Some("1.0.3"), &lrs.basic).send().await.unwrap();
    assert_eq!(res.status(), 400);
    lrs.app.stop().await;
}
