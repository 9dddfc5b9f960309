//! delivery with tenant, authoring, marketplace, enrollment and the LRS: an enrolled learner
//! launches, reads a lesson, resumes, completes every lesson; the LRS ends up holding the
//! player's statements (through the outbox and the bus, never an HTTP call); nobody else
//! reaches the session; an ended enrollment stops the player.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, poll};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

async fn spawn() -> TestApp {
    TestApp::spawn(&[
        mirai_tenant::service(),
        mirai_authoring::service(),
        mirai_marketplace::service(),
        mirai_enrollment::service(),
        mirai_lrs::service(),
        mirai_delivery::service(),
    ])
    .await
}

fn two_lessons() -> Value {
    json!([{ "title": "Before you climb", "lessons": [
        { "title": "Inspect the ladder", "blocks": [
            { "kind": "text", "content": { "markdown": "Check the **feet** and the rungs." } },
            { "kind": "callout", "content": { "tone": "warning", "markdown": "Never stand on the top rung." } }] },
        { "title": "Three points of contact", "blocks": [
            { "kind": "code", "content": { "language": "text", "source": "hand, hand, foot" } }] }] }])
}

/// The statements the LRS holds for a registration, as the learner reads them (their own).
async fn statements(app: &TestApp, token: &str, registration: &str) -> Vec<Value> {
    let res = app
        .http
        .get(app.url(&format!("/api/v1/lrs/xapi/statements?registration={registration}&ascending=true&limit=100")))
        .bearer_auth(token)
        .header("x-experience-api-version", "1.0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["statements"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_enrolled_learner_plays_a_course_to_completion_and_the_lrs_holds_every_step() {
    let app = spawn().await;
    let org = app.create_tenant("org", "Acme").await;
    let other = app.create_tenant("org", "Globex").await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    app.add_member(org, alice, &["learner"], None).await;
    app.add_member(org, bob, &["learner"], None).await;
    let course = app.licensed_course_of(org, 5, two_lessons()).await;
    let admin = app.token(Some(org), &[Role::OrgAdmin]);
    let alice_t = app.user_token(org, alice, &[Role::Learner]);
    let bob_t = app.user_token(org, bob, &[Role::Learner]);
    let launch = format!("/api/v1/delivery/courses/{course}/launch");

    // Not enrolled: 403 with its own problem type.
    assert_problem(&app.post(&launch, Some(&alice_t), json!({})).await, 403, "not-enrolled");
    let enrollment = poll("alice is enrolled", Duration::from_secs(30), || async {
        let (s, e) = app
            .post("/api/v1/enrollment/enrollments", Some(&admin), json!({ "user_id": alice, "course_id": course }))
            .await;
        (s == 201).then(|| e["id"].as_str().unwrap().to_owned())
    })
    .await;

    // The first launch opens the session (once the player has the enrollment), at the
    // first lesson; the next resumes the same one.
    let session = poll("the player knows the enrollment", Duration::from_secs(20), || async {
        let (s, b) = app.post(&launch, Some(&alice_t), json!({})).await;
        (s == 201).then_some(b)
    })
    .await;
    let id = session["id"].as_str().unwrap().to_owned();
    let lessons: Vec<String> = session["outline"][0]["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lesson_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lessons.len(), 2);
    assert_eq!(session["position"], lessons[0].as_str());
    assert_eq!((session["progress"]["total"].as_i64(), session["progress"]["percent"].as_i64()), (Some(2), Some(0)));
    let (s, again) = app.post(&launch, Some(&alice_t), json!({})).await;
    assert_eq!((s.as_u16(), again["id"].as_str(), again["launches"].as_i64()), (200, Some(id.as_str()), Some(2)));

    // A lesson's content as authored, markdown and all.
    let lesson = format!("/api/v1/delivery/sessions/{id}/lessons/{}", lessons[0]);
    let (s, l) = app.get(&lesson, &alice_t).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["blocks"][0]["content"]["markdown"], "Check the **feet** and the rungs.");
    assert_eq!(
        (l["blocks"][1]["kind"].as_str(), l["blocks"][1]["content"]["tone"].as_str()),
        (Some("callout"), Some("warning"))
    );
    assert_problem(
        &app.get(&format!("/api/v1/delivery/sessions/{id}/lessons/{}", Uuid::now_v7()), &alice_t).await,
        404,
        "not-found",
    );

    // Nobody else reaches the session: another learner, the admin, another tenant.
    for t in [&bob_t, &admin, &app.token(Some(other), &[Role::OrgAdmin])] {
        assert_problem(&app.get(&format!("/api/v1/delivery/sessions/{id}"), t).await, 404, "not-found");
        assert_problem(&app.get(&lesson, t).await, 404, "not-found");
        assert_problem(&app.post(&format!("{lesson}/complete"), Some(t), json!({})).await, 404, "not-found");
    }
    // An API key plays nothing, even with a learner's role.
    let (key, secret) = app.api_key(org, &[Role::Learner], &[]);
    let res = app.http.post(app.url(&launch)).basic_auth(&key, Some(&secret)).send().await.unwrap();
    assert_eq!(res.status(), 403);

    // Resume elsewhere; complete lesson 1 (twice: the second changes nothing), then 2.
    let position = format!("/api/v1/delivery/sessions/{id}/position");
    let (s, p) = app.call(Method::PUT, &position, Some(&alice_t), Some(json!({ "lesson_id": lessons[1] }))).await;
    assert_eq!((s.as_u16(), p["position"].as_str()), (200, Some(lessons[1].as_str())));
    let (s, p) = app.call(Method::PUT, &position, Some(&alice_t), Some(json!({ "lesson_id": Uuid::now_v7() }))).await;
    assert_problem(&(s, p), 422, "validation");
    let (s, one) = app.post(&format!("{lesson}/complete"), Some(&alice_t), json!({})).await;
    assert_eq!(s, 200, "{one}");
    assert_eq!((one["progress"]["percent"].as_i64(), one["status"].as_str()), (Some(50), Some("in_progress")));
    assert_eq!(one["position"], lessons[1].as_str());
    let (_, same) = app.post(&format!("{lesson}/complete"), Some(&alice_t), json!({})).await;
    assert_eq!(same["revision"], one["revision"], "completing a completed lesson changes nothing");
    let (s, done) = app
        .post(&format!("/api/v1/delivery/sessions/{id}/lessons/{}/complete", lessons[1]), Some(&alice_t), json!({}))
        .await;
    assert_eq!(s, 200, "{done}");
    assert_eq!((done["status"].as_str(), done["progress"]["percent"].as_i64()), (Some("completed"), Some(100)));
    assert!(done["position"].is_null() && done["completed_at"].is_string(), "{done}");

    // The LRS holds every step, asserted by the player: 2 launches, 2 lessons completed, 2
    // progressions, the course completed.
    let held = poll("the LRS holds the player's statements", Duration::from_secs(20), || async {
        let s = statements(&app, &alice_t, &id).await;
        (s.len() >= 7).then_some(s)
    })
    .await;
    assert_eq!(held.len(), 7, "{held:#?}");
    let verbs: Vec<&str> = held.iter().map(|s| s["verb"]["id"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(verbs, ["launched", "launched", "completed", "progressed", "completed", "progressed", "completed"]);
    let course_iri = held[0]["object"]["id"].as_str().unwrap().to_owned();
    assert!(course_iri.ends_with(&format!("/courses/{course}")), "{course_iri}");
    assert_eq!(held[2]["object"]["id"], format!("{course_iri}/lessons/{}", lessons[0]).as_str());
    assert_eq!(held[2]["context"]["contextActivities"]["parent"][0]["id"], course_iri.as_str());
    assert_eq!(held[3]["result"]["extensions"]["https://w3id.org/xapi/cmi5/result/extensions/progress"], 50);
    assert_eq!(
        (held[6]["object"]["id"].as_str(), held[6]["result"]["completion"].as_bool()),
        (Some(course_iri.as_str()), Some(true))
    );
    for s in &held {
        assert_eq!(s["actor"]["account"]["name"], alice.to_string().as_str());
        assert_eq!(s["authority"]["account"]["name"], "mirai-player", "the player asserts, not the learner");
        assert_eq!(s["context"]["registration"], id.as_str());
    }

    // Her sessions list it; an ended enrollment stops the player (the session stays hers).
    let (_, mine) = app.get("/api/v1/delivery/me/sessions", &alice_t).await;
    assert_eq!(mine["data"][0]["id"], id.as_str());
    let (s, _) =
        app.post(&format!("/api/v1/enrollment/enrollments/{enrollment}/withdraw"), Some(&admin), json!({})).await;
    assert_eq!(s, 200);
    poll("the player knows the enrollment ended", Duration::from_secs(20), || async {
        let (s, p) = app.post(&launch, Some(&alice_t), json!({})).await;
        (s == 403).then_some(p)
    })
    .await;
    assert_problem(&app.get(&lesson, &alice_t).await, 403, "not-enrolled");
    assert_eq!(app.get(&format!("/api/v1/delivery/sessions/{id}"), &alice_t).await.0, 200);

    // Its OpenAPI document has full paths and every `$ref` names a component it carries.
    let (s, doc) = app.call(Method::GET, "/api/v1/delivery/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/delivery/courses/{course_id}/launch"]["post"].is_object(), "{doc}");
    let text = doc.to_string();
    for r in text.split("\"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref to {name}");
    }
    app.stop().await;
}
