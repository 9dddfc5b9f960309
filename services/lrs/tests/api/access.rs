//! Who may read and write what: a person's session acts with the xAPI reach its roles
//! imply (learners their own records; instructors and compliance roles the tenant's);
//! integrators' keys keep their explicit scopes (`communication::credentials_and_scopes`).

use mirai_kit::Role;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{COMPLETED, Lrs, enc, spawn, statement};

/// A person's session: token, and the account agent Mirai's apps write for them.
struct Person {
    bearer: String,
    agent: Value,
}

fn person(lrs: &Lrs, roles: &[Role], email: Option<&str>) -> Person {
    let mut claims = lrs.app.claims(Some(lrs.tenant), roles);
    claims.email = email.map(str::to_owned);
    let id = claims.sub.trim_start_matches("user:").to_owned();
    Person {
        bearer: format!("Bearer {}", lrs.app.sign(&claims)),
        agent: json!({ "objectType": "Agent", "account": { "homePage": lrs.app.url.as_str(), "name": id } }),
    }
}

fn by(agent: &Value, activity: &str) -> Value {
    let mut s = statement("x@example.com", COMPLETED, activity);
    s["actor"] = agent.clone();
    s
}

async fn ids_seen(lrs: &Lrs, auth: &str) -> Vec<String> {
    let res = lrs.req(Method::GET, "statements", Some("1.0.3"), auth).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let mut ids: Vec<String> =
        body["statements"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

async fn get_one(lrs: &Lrs, auth: &str, id: &str) -> u16 {
    lrs.req(Method::GET, &format!("statements?statementId={id}"), Some("1.0.3"), auth)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn each_role_reads_and_writes_what_it_reaches() {
    let lrs = spawn().await;
    let ann = person(&lrs, &[Role::Learner], Some("ann@example.com"));
    let bob = person(&lrs, &[Role::Learner], None);
    let teacher = person(&lrs, &[Role::OrgManager], None);
    let officer = person(&lrs, &[Role::ComplianceOfficer, Role::Learner], None);
    let admin = person(&lrs, &[Role::OrgAdmin], None);

    // A learner writes their own statements, by account or by their email…
    let (status, a1) = lrs.post_as(by(&ann.agent, "http://example.com/a1"), "1.0.3", &ann.bearer).await;
    assert_eq!(status, 200, "{a1}");
    let (status, a2) =
        lrs.post_as(statement("ann@EXAMPLE.com", COMPLETED, "http://example.com/a2"), "1.0.3", &ann.bearer).await;
    assert_eq!(status, 200, "{a2}");
    // …but never somebody else's, alone or inside a batch.
    let (status, problem) = lrs.post_as(by(&bob.agent, "http://example.com/forged"), "1.0.3", &ann.bearer).await;
    assert_eq!(status, 403, "{problem}");
    let batch = json!([by(&ann.agent, "http://example.com/ok"), by(&bob.agent, "http://example.com/forged")]);
    assert_eq!(lrs.post_as(batch, "1.0.3", &ann.bearer).await.0, 403);
    let put = lrs
        .req(Method::PUT, &format!("statements?statementId={}", Uuid::now_v7()), Some("1.0.3"), &bob.bearer)
        .json(&by(&ann.agent, "http://example.com/forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    let (_, b1) = lrs.post_as(by(&bob.agent, "http://example.com/b1"), "1.0.3", &bob.bearer).await;
    // Content sending on Ann's behalf with the tenant's key: still Ann's (she is the actor).
    let (_, a3) = lrs.post(by(&ann.agent, "http://example.com/a3")).await;
    // An instructor records an observation about Bob.
    let (status, t1) = lrs.post_as(by(&bob.agent, "http://example.com/observed"), "1.0.3", &teacher.bearer).await;
    assert_eq!(status, 200, "{t1}");
    // A compliance officer writes only their own.
    assert_eq!(lrs.post_as(by(&bob.agent, "http://example.com/x"), "1.0.3", &officer.bearer).await.0, 403);

    let id = |v: &Value| v[0].as_str().unwrap().to_owned();
    let mut anns = vec![id(&a1), id(&a2), id(&a3)];
    anns.sort();
    assert_eq!(ids_seen(&lrs, &ann.bearer).await, anns, "a learner reads their own statements only");
    let mut bobs = vec![id(&b1), id(&t1)];
    bobs.sort();
    assert_eq!(ids_seen(&lrs, &bob.bearer).await, bobs, "including what others recorded about them");
    assert_eq!(get_one(&lrs, &ann.bearer, &id(&b1)).await, 404, "another learner's statement does not exist for Ann");
    assert_eq!(get_one(&lrs, &ann.bearer, &id(&a3)).await, 200);
    // A filter cannot widen the reach.
    let agent = enc(&bob.agent.to_string());
    let res: Value = lrs
        .req(Method::GET, &format!("statements?agent={agent}"), Some("1.0.3"), &ann.bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["statements"], json!([]));
    for reader in [&teacher, &officer, &admin] {
        let seen = ids_seen(&lrs, &reader.bearer).await;
        assert_eq!(seen.len(), 5, "tenant readers see every statement");
        assert_eq!(get_one(&lrs, &reader.bearer, &id(&b1)).await, 200);
    }
    lrs.app.stop().await;
}

#[tokio::test]
async fn documents_follow_the_same_reach() {
    let lrs = spawn().await;
    let ann = person(&lrs, &[Role::Learner], None);
    let bob = person(&lrs, &[Role::Learner], None);
    let teacher = person(&lrs, &[Role::OrgManager], None);
    let state = |agent: &Value| {
        format!(
            "activities/state?activityId={}&agent={}&stateId=bookmark",
            enc("http://example.com/c"),
            enc(&agent.to_string())
        )
    };
    let send = |m: Method, path: String, auth: &str| {
        let r = lrs.req(m.clone(), &path, Some("1.0.3"), auth);
        let r = if m == Method::GET || m == Method::DELETE { r } else { r.json(&json!({ "page": 3 })) };
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(send(Method::PUT, state(&ann.agent), &ann.bearer).await, 204, "a learner keeps their own state");
    assert_eq!(send(Method::GET, state(&ann.agent), &ann.bearer).await, 200);
    assert_eq!(send(Method::GET, state(&ann.agent), &bob.bearer).await, 403, "not another learner's");
    assert_eq!(send(Method::PUT, state(&ann.agent), &bob.bearer).await, 403);
    assert_eq!(send(Method::DELETE, state(&ann.agent), &bob.bearer).await, 403);
    assert_eq!(send(Method::GET, state(&ann.agent), &teacher.bearer).await, 200, "an instructor reads it");

    let agent_profile = |agent: &Value| format!("agents/profile?agent={}&profileId=prefs", enc(&agent.to_string()));
    assert_eq!(send(Method::POST, agent_profile(&ann.agent), &ann.bearer).await, 204);
    assert_eq!(send(Method::GET, agent_profile(&ann.agent), &bob.bearer).await, 403);
    let person_of = |agent: &Value| format!("agents?agent={}", enc(&agent.to_string()));
    assert_eq!(send(Method::GET, person_of(&ann.agent), &ann.bearer).await, 200);
    assert_eq!(send(Method::GET, person_of(&ann.agent), &bob.bearer).await, 403, "who Ann is, is Ann's record");

    let profile = format!("activities/profile?activityId={}&profileId=p", enc("http://example.com/c"));
    assert_eq!(send(Method::POST, profile.clone(), &ann.bearer).await, 403, "learners do not define activities");
    assert_eq!(send(Method::POST, profile.clone(), &teacher.bearer).await, 204);
    assert_eq!(send(Method::GET, profile, &ann.bearer).await, 200, "but read their profiles");
    let activity = format!("activities?activityId={}", enc("http://example.com/c"));
    assert_eq!(send(Method::GET, activity.clone(), &ann.bearer).await, 200);

    // Scoped keys keep their scopes: a statements-only key reads no documents or people.
    let statements_only = crate::basic(&lrs.app, lrs.tenant, &["statements/write"]);
    assert_eq!(send(Method::GET, state(&ann.agent), &statements_only).await, 403);
    assert_eq!(send(Method::GET, person_of(&ann.agent), &statements_only).await, 403);
    assert_eq!(send(Method::GET, activity, &statements_only).await, 403);
    lrs.app.stop().await;
}

#[tokio::test]
async fn a_learner_voids_only_what_they_stored_and_references_reveal_nothing() {
    let lrs = spawn().await;
    let ann = person(&lrs, &[Role::Learner], None);
    // The content provider's key records Ann's failure; Ann can read it…
    let (_, failed) = lrs.post(by(&ann.agent, "http://example.com/exam")).await;
    let failed = failed[0].as_str().unwrap().to_owned();
    assert_eq!(get_one(&lrs, &ann.bearer, &failed).await, 200);
    let void = |target: &str| {
        json!({ "actor": ann.agent, "verb": { "id": "http://adlnet.gov/expapi/verbs/voided" },
            "object": { "objectType": "StatementRef", "id": target } })
    };
    // …but cannot make it disappear from everyone's queries.
    let (status, problem) = lrs.post_as(void(&failed), "1.0.3", &ann.bearer).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(get_one(&lrs, &lrs.basic, &failed).await, 200, "still there");
    // What she stored herself she may void.
    let (_, mine) = lrs.post_as(by(&ann.agent, "http://example.com/oops"), "1.0.3", &ann.bearer).await;
    let mine = mine[0].as_str().unwrap().to_owned();
    assert_eq!(lrs.post_as(void(&mine), "1.0.3", &ann.bearer).await.0, 200);
    assert_eq!(get_one(&lrs, &lrs.basic, &mine).await, 404, "voided");

    // A reference to a statement Ann may not read does not match a filter by its content.
    let bob = person(&lrs, &[Role::Learner], None);
    let secret_verb = "http://example.com/verbs/secret";
    let mut secret = by(&bob.agent, "http://example.com/secret");
    secret["verb"]["id"] = json!(secret_verb);
    let (_, hidden) = lrs.post_as(secret, "1.0.3", &bob.bearer).await;
    let mut probe = by(&ann.agent, "http://example.com/x");
    probe["object"] = json!({ "objectType": "StatementRef", "id": hidden[0] });
    let (status, _) = lrs.post_as(probe, "1.0.3", &ann.bearer).await;
    assert_eq!(status, 200);
    let res: Value = lrs
        .req(Method::GET, &format!("statements?verb={}", enc(secret_verb)), Some("1.0.3"), &ann.bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["statements"], json!([]), "no oracle on Bob's statement");
    let (_, all, _) = lrs.get(&format!("?verb={}", enc(secret_verb))).await;
    assert_eq!(all["statements"].as_array().unwrap().len(), 2, "a tenant reader sees both (the ref matches through)");
    lrs.app.stop().await;
}
