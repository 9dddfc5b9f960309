//! GDPR erasure, tenant ↔ LRS choreography: an org admin requests the erasure of a person;
//! the LRS anonymizes every statement naming them, drops their documents and attachment
//! contents, and reports back; tenant completes the request and redacts the identifiers.
//! Other people, and the same person in another tenant, are untouched.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, percent_encode, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use uuid::Uuid;

const XAPI: &str = "/api/v1/lrs/xapi";

struct Lrs<'a> {
    app: &'a TestApp,
    key: (String, String),
}

impl Lrs<'_> {
    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .http
            .request(method, self.app.url(&format!("{XAPI}/{path}")))
            .basic_auth(&self.key.0, Some(&self.key.1))
            .header("x-experience-api-version", "1.0.3")
    }

    async fn post(&self, statements: Value) -> Vec<String> {
        let res = self.req(Method::POST, "statements").json(&statements).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json::<Vec<String>>().await.unwrap()
    }

    async fn post_multipart(&self, statement: Value, content: &[u8]) -> String {
        let part = mirai_lrs::app::multipart::Part {
            content_type: "text/plain".into(),
            sha2: statement["attachments"][0]["sha2"].as_str().unwrap().to_owned(),
            content: content.to_vec(),
        };
        let (ct, body) = mirai_lrs::app::multipart::build(&serde_json::to_vec(&statement).unwrap(), &[part]);
        let res = self.req(Method::POST, "statements").header("content-type", ct).body(body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json::<Vec<String>>().await.unwrap().remove(0)
    }

    async fn statement(&self, id: &str) -> Value {
        let res = self.req(Method::GET, &format!("statements?statementId={id}")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn count_for(&self, agent: &Value) -> usize {
        let q = format!("statements?agent={}&related_agents=true", percent_encode(&agent.to_string()));
        let res = self.req(Method::GET, &q).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["statements"].as_array().unwrap().len()
    }

    async fn put_state(&self, agent: &Value, body: &str) {
        let q = format!(
            "activities/state?activityId=http%3A%2F%2Fexample.com%2Fa&stateId=s&agent={}",
            percent_encode(&agent.to_string())
        );
        let res =
            self.req(Method::PUT, &q).header("content-type", "text/plain").body(body.to_owned()).send().await.unwrap();
        assert_eq!(res.status(), 204);
    }

    async fn state_status(&self, agent: &Value) -> u16 {
        let q = format!(
            "activities/state?activityId=http%3A%2F%2Fexample.com%2Fa&stateId=s&agent={}",
            percent_encode(&agent.to_string())
        );
        self.req(Method::GET, &q).send().await.unwrap().status().as_u16()
    }
}

fn stmt(actor: Value, activity: &str) -> Value {
    json!({ "actor": actor, "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" },
            "object": { "id": activity }, "result": { "completion": true } })
}

async fn create_tenant(app: &TestApp, slug: &str) -> Uuid {
    let (status, t) = app
        .post(
            "/api/v1/tenant/tenants",
            Some(&app.platform_admin()),
            json!({ "kind": "org", "name": slug, "slug": slug }),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    t["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_erasure_request_anonymizes_the_person_in_the_lrs_and_completes() {
    let app = TestApp::spawn(&[
        mirai_tenant::service(),
        mirai_lrs::service(),
        mirai_notification::service(),
        mirai_delivery::service(),
    ])
    .await;
    let tenant = create_tenant(&app, "erasure-a").await;
    let other_tenant = create_tenant(&app, "erasure-b").await;
    let lrs = Lrs { app: &app, key: app.api_key(tenant, &[Role::Learner], &["all"]) };
    let lrs_b = Lrs { app: &app, key: app.api_key(other_tenant, &[Role::Learner], &["all"]) };

    let ann = json!({ "mbox": "mailto:ann@Example.com", "name": "Ann Kowalski" });
    let ann_sha1 = json!({ "mbox_sha1sum": hex::encode(Sha1::digest(b"mailto:ann@example.com")) });
    let bob = json!({ "mbox": "mailto:bob@example.com", "name": "Bob" });
    let mut taught = stmt(bob.clone(), "http://example.com/b");
    taught["context"] = json!({ "instructor": ann.clone() });
    let ids = lrs
        .post(json!([
            stmt(ann.clone(), "http://example.com/a"),
            taught,
            stmt(ann_sha1.clone(), "http://example.com/c"),
            stmt(bob.clone(), "http://example.com/d")
        ]))
        .await;
    let essay = b"Ann's essay about her life";
    let mut with_attachment = stmt(ann.clone(), "http://example.com/e");
    with_attachment["attachments"] = json!([{ "usageType": "http://example.com/essay", "display": { "en-US": "essay" },
        "contentType": "text/plain", "length": essay.len(), "sha2": hex::encode(sha2_256(essay)) }]);
    let essay_id = lrs.post_multipart(with_attachment, essay).await;
    lrs.put_state(&ann, "ann's progress").await;
    lrs.put_state(&bob, "bob's progress").await;
    let in_b = lrs_b.post(json!(stmt(ann.clone(), "http://example.com/a"))).await;
    assert_eq!(lrs.count_for(&ann).await, 3, "ann as actor twice and as instructor once (mbox)");

    // notification logged the two stored batches that name Ann (webhook messages).
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    let stored = "/api/v1/notification/messages?event_type=lrs.statement.stored.v1";
    wait_until("notification logs the statements", Duration::from_secs(20), || async {
        app.get(stored, &admin).await.1["data"].as_array().is_some_and(|d| d.len() == 2)
    })
    .await;

    // Authorization and validation.
    let learner = app.token(Some(tenant), &[Role::Learner]);
    let path = format!("/api/v1/tenant/tenants/{tenant}/data-subject-requests");
    let body = json!({ "kind": "erasure", "subject": { "emails": ["ann@EXAMPLE.com"] }, "reason": "learner asked (ticket 4711)" });
    assert_eq!(app.post(&path, Some(&learner), body.clone()).await.0, 403);
    let admin_b = app.token(Some(other_tenant), &[Role::OrgAdmin]);
    assert_eq!(app.post(&path, Some(&admin_b), body.clone()).await.0, 404, "another tenant's admin");
    assert_problem(
        &app.post(&path, Some(&admin), json!({ "kind": "erasure", "subject": {} })).await,
        422,
        "validation",
    );
    assert_problem(
        &app.post(&path, Some(&admin), json!({ "kind": "erasure", "subject": { "emails": ["not-an-email"] } })).await,
        422,
        "validation",
    );
    assert_problem(
        &app.post(&path, Some(&admin), json!({ "kind": "export", "subject": { "emails": ["a@b.c"] } })).await,
        422,
        "validation",
    );

    // The request.
    let (status, request) = app.post(&path, Some(&admin), body).await;
    assert_eq!(status, 202, "{request}");
    assert_eq!(request["status"], "pending");
    assert_eq!(request["subject"]["emails"], json!(["ann@example.com"]));
    assert_eq!(
        request["steps"],
        json!([
            { "service": "delivery", "status": "pending", "outcome": null, "completed_at": null },
            { "service": "lrs", "status": "pending", "outcome": null, "completed_at": null },
            { "service": "notification", "status": "pending", "outcome": null, "completed_at": null }
        ])
    );
    let request_id = request["id"].as_str().unwrap().to_owned();
    let get = format!("{path}/{request_id}");
    wait_until("the erasure completes", Duration::from_secs(20), || async {
        app.get(&get, &admin).await.1["status"] == "completed"
    })
    .await;
    let (_, done) = app.get(&get, &admin).await;
    assert!(done["subject"].is_null(), "identifiers are redacted once done: {done}");
    assert_eq!(done["subject_digest"], request["subject_digest"]);
    let outcome = &done["steps"][1]["outcome"];
    assert_eq!(outcome["statements_anonymized"], 4, "{done}");
    assert_eq!(outcome["documents_deleted"], 1);
    assert_eq!(outcome["attachments_deleted"], 1);
    assert_eq!(done["steps"][2]["outcome"]["messages_deleted"], 2, "{done}");
    let (_, left) = app.get("/api/v1/notification/messages", &admin).await;
    let left = left.to_string().to_lowercase();
    assert!(!left.contains("ann@") && !left.contains(ann_sha1["mbox_sha1sum"].as_str().unwrap()), "{left}");
    let (_, listed) = app.get(&path, &admin).await;
    assert_eq!(listed["data"][0]["id"], request_id.as_str());

    // The LRS: nothing leads back to Ann; Bob is untouched; the statements remain, under a pseudonym.
    for id in [&ids[0], &ids[1], &ids[2], &essay_id] {
        let s = lrs.statement(id).await.to_string().to_lowercase();
        assert!(!s.contains("ann@") && !s.contains("kowalski"), "{s}");
        assert!(!s.contains(ann_sha1["mbox_sha1sum"].as_str().unwrap()), "{s}");
        assert!(s.contains(&format!("erased-{request_id}")), "{s}");
    }
    assert_eq!(lrs.statement(&ids[1]).await["actor"], bob, "bob stays");
    assert!(lrs.statement(&essay_id).await.get("attachments").is_none(), "ann's attachments are gone");
    assert_eq!(lrs.count_for(&ann).await, 0);
    assert_eq!(lrs.count_for(&ann_sha1).await, 0);
    let pseudonym = json!({ "account": { "homePage": mirai_lrs::app::erasure::ERASED_HOME, "name": format!("erased-{request_id}") } });
    assert_eq!(lrs.count_for(&pseudonym).await, 4, "reports still count her statements, anonymously");
    assert_eq!(lrs.count_for(&bob).await, 2);
    assert_eq!(lrs.state_status(&ann).await, 404, "her documents are deleted");
    assert_eq!(lrs.state_status(&bob).await, 200);
    let raw =
        lrs.req(Method::GET, &format!("statements?statementId={essay_id}&attachments=true")).send().await.unwrap();
    assert!(!raw.bytes().await.unwrap().windows(essay.len()).any(|w| w == essay));

    // Another tenant's data about the same address is that tenant's to erase.
    assert_eq!(lrs_b.statement(&in_b[0]).await["actor"]["mbox"], "mailto:ann@Example.com");

    // The audit trail: the LRS's report and tenant's completion, one correlation.
    let erased = app
        .wait_for_event("lrs.data_subject.erased.v1", Duration::from_secs(5), |e| {
            e.subject.as_deref() == Some(request_id.as_str())
        })
        .await;
    let completed = app
        .wait_for_event("tenant.data_subject.erasure_completed.v1", Duration::from_secs(5), |e| {
            e.subject.as_deref() == Some(request_id.as_str())
        })
        .await;
    assert_eq!(erased.correlationid, completed.correlationid);
    assert_eq!(completed.data["steps"][1]["outcome"]["statements_anonymized"], 4);
    assert!(!completed.data.to_string().contains("ann@"), "the audit record names no identifier");
    app.stop().await;
}

fn sha2_256(b: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(b).to_vec()
}
