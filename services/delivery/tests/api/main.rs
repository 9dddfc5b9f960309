//! delivery with tenant, authoring, marketplace, enrollment and the LRS: an enrolled learner
//! launches, reads a lesson, resumes, completes every lesson; the LRS ends up holding the
//! player's statements (through the outbox and the bus, never an HTTP call); nobody else
//! reaches the session; an ended enrollment stops the player.

mod cmi5;
mod runtime;

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

/// The session a learner's first launch opens, once the player has their enrollment.
async fn first_launch(app: &TestApp, token: &str, course: &str) -> Value {
    let launch = format!("/api/v1/delivery/courses/{course}/launch");
    poll("the player knows the enrollment", Duration::from_secs(20), || async {
        let (s, b) = app.post(&launch, Some(token), json!({})).await;
        (s == 201).then_some(b)
    })
    .await
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
    let enrollment = app.enrolled(org, alice, &course).await["id"].as_str().unwrap().to_owned();

    // The first launch opens the session (once the player has the enrollment), at the
    // first lesson; the next resumes the same one.
    let session = first_launch(&app, &alice_t, &course).await;
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

    // A lesson never opened does not complete: the learner goes through it first.
    let second = format!("/api/v1/delivery/sessions/{id}/lessons/{}/complete", lessons[1]);
    assert_problem(&app.post(&second, Some(&alice_t), json!({})).await, 409, "lesson-not-opened");

    // Resume elsewhere (which opens it); complete lesson 1 (twice: the second changes
    // nothing), then 2.
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
    let (s, done) = app.post(&second, Some(&alice_t), json!({})).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!((done["status"].as_str(), done["progress"]["percent"].as_i64()), (Some("completed"), Some(100)));
    assert!(done["position"].is_null() && done["completed_at"].is_string(), "{done}");

    // The LRS holds every step, asserted by the player: 2 launches, 2 lessons completed, 2
    // progressions, the course completed.
    let held = poll("the LRS holds the player's statements", Duration::from_secs(20), || async {
        let s = app.statements_of(&alice_t, &id).await;
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

    // Her erasure (GDPR): the player deletes her sessions and reports its step to tenant.
    let requests = format!("/api/v1/tenant/tenants/{org}/data-subject-requests");
    let (s, r) = app.post(&requests, Some(&admin), json!({ "kind": "erasure", "subject": { "user_id": alice } })).await;
    assert_eq!(s, 202, "{r}");
    let request = format!("{requests}/{}", r["id"].as_str().unwrap());
    let step = poll("delivery reports its erasure step", Duration::from_secs(20), || async {
        let (_, r) = app.get(&request, &admin).await;
        r["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["service"] == "delivery" && s["status"] == "done"))
            .cloned()
    })
    .await;
    assert_eq!(step["outcome"]["sessions_deleted"], 1, "{step}");
    assert_problem(&app.get(&format!("/api/v1/delivery/sessions/{id}"), &alice_t).await, 404, "not-found");

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

#[tokio::test]
async fn a_course_taken_offline_opens_on_its_device_only_until_it_is_revoked() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    use mirai_playpackage as pp;

    let app = spawn().await;
    let org = app.create_tenant("org", "Initech").await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    app.add_member(org, alice, &["learner"], None).await;
    app.add_member(org, bob, &["learner"], None).await;
    let course = app.licensed_course_of(org, 5, two_lessons()).await;
    let admin = app.token(Some(org), &[Role::OrgAdmin]);
    let alice_t = app.user_token(org, alice, &[Role::Learner]);
    let bob_t = app.user_token(org, bob, &[Role::Learner]);
    app.enrolled(org, alice, &course).await;
    let launch = format!("/api/v1/delivery/courses/{course}/launch");
    let session = first_launch(&app, &alice_t, &course).await;
    let sid = session["id"].as_str().unwrap().to_owned();

    // Alice registers her tablet by its X25519 public key (again: the same device).
    let secret: [u8; 32] = rand_bytes();
    let public = B64.encode(pp::device_public_key(&secret));
    let (s, device) = app
        .post("/api/v1/delivery/devices", Some(&alice_t), json!({ "name": "Alice's tablet", "public_key": public }))
        .await;
    assert_eq!(s, 201, "{device}");
    let (s, again) =
        app.post("/api/v1/delivery/devices", Some(&alice_t), json!({ "name": "Tablet", "public_key": public })).await;
    assert_eq!((s.as_u16(), &again["id"]), (200, &device["id"]));
    for bad in [B64.encode([0u8; 32]), "not-a-key".to_owned()] {
        let res = app.post("/api/v1/delivery/devices", Some(&alice_t), json!({ "name": "x", "public_key": bad })).await;
        assert_problem(&res, 422, "validation");
    }
    let device_id = device["id"].as_str().unwrap().to_owned();

    // A bundle of her session for it; nobody else issues or downloads one.
    let issue = format!("/api/v1/delivery/sessions/{sid}/bundles");
    assert_problem(&app.post(&issue, Some(&bob_t), json!({ "device_id": device_id })).await, 404, "not-found");
    let (s, bundle) = app.post(&issue, Some(&alice_t), json!({ "device_id": device_id })).await;
    assert_eq!(s, 201, "{bundle}");
    let download = bundle["download"].as_str().unwrap().to_owned();
    assert_problem(&app.get(&download, &bob_t).await, 404, "not-found");
    let res = app.http.get(app.url(&download)).bearer_auth(&alice_t).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/vnd.mirai.playpackage");
    let bytes = res.bytes().await.unwrap().to_vec();

    // The device trusts the platform's published key (no credential needed to read it).
    let (s, keys) = app.call(Method::GET, "/api/v1/delivery/bundles/keys", None, None).await;
    assert_eq!(s, 200);
    let kid = keys["keys"][0]["kid"].as_str().unwrap().to_owned();
    let x: [u8; 32] = B64.decode(keys["keys"][0]["x"].as_str().unwrap()).unwrap().try_into().unwrap();
    let trusted = [(kid.as_str(), x)];

    // Opened offline with the device's key: the course as authored, and what the device
    // needs to record statements.
    let now = chrono::Utc::now();
    let opened = pp::open(&bytes, &secret, &trusted, now, None).unwrap();
    let course_json: Value = serde_json::from_slice(opened.file("course.json").unwrap()).unwrap();
    assert_eq!(
        course_json["outline"][0]["lessons"][0]["blocks"][0]["content"]["markdown"],
        "Check the **feet** and the rungs."
    );
    let session_json: Value = serde_json::from_slice(opened.file("session.json").unwrap()).unwrap();
    assert_eq!(session_json["registration"], sid.as_str());
    assert_eq!(opened.manifest.license.learner_id, alice);
    // Refused: one byte changed, another device, after expiry.
    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 0x80;
    assert!(matches!(pp::open(&changed, &secret, &trusted, now, None), Err(pp::OpenError::Tampered(_))));
    let other: [u8; 32] = rand_bytes();
    assert_eq!(pp::open(&bytes, &other, &trusted, now, None).unwrap_err(), pp::OpenError::OtherDevice);
    let expiry = opened.manifest.license.expires_at;
    assert_eq!(pp::open(&bytes, &secret, &trusted, expiry, None).unwrap_err(), pp::OpenError::Expired(expiry));

    // Statements recorded offline replay with their own ids and times, once.
    let offline_at = (now - chrono::Duration::hours(5)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let statement = json!({ "id": Uuid::new_v4(), "actor": session_json["actor"],
        "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced", "display": { "en-US": "experienced" } },
        "object": { "id": session_json["course_activity"] }, "context": { "registration": sid },
        "timestamp": offline_at });
    for _ in 0..2 {
        let res = app
            .http
            .post(app.url("/api/v1/lrs/xapi/statements"))
            .bearer_auth(&alice_t)
            .header("x-experience-api-version", "1.0.3")
            .json(&statement)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
    }
    let held = poll("the replayed statement is stored", Duration::from_secs(10), || async {
        let s = app.statements_of(&alice_t, &sid).await;
        s.iter().any(|s| s["verb"]["id"].as_str().is_some_and(|v| v.ends_with("experienced"))).then_some(s)
    })
    .await;
    let replayed: Vec<&Value> = held.iter().filter(|s| s["id"] == statement["id"]).collect();
    assert_eq!(replayed.len(), 1, "stored once");
    assert_eq!(replayed[0]["timestamp"], offline_at.as_str(), "with the time it happened offline");

    // Revoked by the org admin: the device learns it at its next check-in and the bundle
    // stops opening; it is no longer downloadable.
    let check_in = format!("/api/v1/delivery/devices/{device_id}/check-in");
    let (s, c) = app.post(&check_in, Some(&alice_t), json!({})).await;
    assert_eq!((s.as_u16(), c["revoked"].as_array().map(Vec::len)), (200, Some(0)));
    assert_problem(&app.post(&check_in, Some(&bob_t), json!({})).await, 404, "not-found");
    let id = bundle["id"].as_str().unwrap();
    let (s, r) = app.post(&format!("/api/v1/delivery/bundles/{id}/revoke"), Some(&admin), json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert!(r["revoked_at"].is_string());
    let (_, c) = app.post(&check_in, Some(&alice_t), json!({})).await;
    assert_eq!(c["revoked"], json!([id]));
    // The device keeps the signed answer as it came and hands it to the library.
    let learned: pp::CheckIn = serde_json::from_value(c).unwrap();
    assert_eq!(pp::open(&bytes, &secret, &trusted, now, Some(&learned)).unwrap_err(), pp::OpenError::Revoked);
    assert_problem(&app.get(&download, &alice_t).await, 410, "revoked");

    // Nobody else issues to her device, revokes her bundles or checks her device in: not
    // Bob (his own session on her device), not another tenant's admin.
    let other = app.create_tenant("org", "Umbrella").await;
    let (s, bob_session) = poll("bob is enrolled and launches", Duration::from_secs(30), || async {
        app.post("/api/v1/enrollment/enrollments", Some(&admin), json!({ "user_id": bob, "course_id": course })).await;
        let (s, b) = app.post(&launch, Some(&bob_t), json!({})).await;
        (s == 201).then_some((s, b))
    })
    .await;
    assert_eq!(s, 201);
    let bob_issue = format!("/api/v1/delivery/sessions/{}/bundles", bob_session["id"].as_str().unwrap());
    assert_problem(&app.post(&bob_issue, Some(&bob_t), json!({ "device_id": device_id })).await, 404, "not-found");
    let (s, fresh) = app.post(&issue, Some(&alice_t), json!({ "device_id": device_id })).await;
    assert_eq!(s, 201, "{fresh}");
    let revoke = format!("/api/v1/delivery/bundles/{}/revoke", fresh["id"].as_str().unwrap());
    assert_problem(&app.post(&revoke, Some(&bob_t), json!({})).await, 404, "not-found");
    let outsider = app.token(Some(other), &[Role::OrgAdmin]);
    assert_problem(&app.post(&revoke, Some(&outsider), json!({})).await, 404, "not-found");
    // A person in two tenants registers the same device in each.
    app.add_member(other, alice, &["learner"], None).await;
    let alice_other = app.user_token(other, alice, &[Role::Learner]);
    let (s, d2) = app
        .post("/api/v1/delivery/devices", Some(&alice_other), json!({ "name": "Tablet", "public_key": public }))
        .await;
    assert_eq!(s, 201, "{d2}");
    assert_ne!(d2["id"], device["id"]);

    // Her enrollment ends: her device learns that every license of it is gone.
    let (_, mine) = app.get("/api/v1/enrollment/me/enrollments?active=true", &alice_t).await;
    let enrollment = mine["data"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) =
        app.post(&format!("/api/v1/enrollment/enrollments/{enrollment}/withdraw"), Some(&admin), json!({})).await;
    assert_eq!(s, 200);
    let fresh_id = fresh["id"].as_str().unwrap().to_owned();
    poll("the ended enrollment revokes the device's licenses", Duration::from_secs(20), || async {
        let (_, c) = app.post(&check_in, Some(&alice_t), json!({})).await;
        c["revoked"].as_array().is_some_and(|r| r.iter().any(|x| x == fresh_id.as_str())).then_some(())
    })
    .await;
    assert_problem(&app.get(fresh["download"].as_str().unwrap(), &alice_t).await, 403, "not-enrolled");
    app.stop().await;
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    b[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    b
}

#[tokio::test]
async fn a_lesson_with_a_quiz_completes_by_its_result_not_on_the_learners_word() {
    let app = spawn().await;
    let org = app.create_tenant("org", "Hooli").await;
    let carol = Uuid::now_v7();
    app.add_member(org, carol, &["learner"], None).await;
    let modules = json!([{ "title": "Check", "lessons": [{ "title": "Quiz", "blocks": [
        { "kind": "text", "content": { "markdown": "Answer three questions." } },
        { "kind": "quiz", "content": { "quiz_id": Uuid::now_v7() } }] }] }]);
    let course = app.licensed_course_of(org, 1, modules).await;
    let carol_t = app.user_token(org, carol, &[Role::Learner]);
    app.enrolled(org, carol, &course).await;
    let session = first_launch(&app, &carol_t, &course).await;
    let (sid, lesson) = (session["id"].as_str().unwrap(), session["position"].as_str().unwrap());
    let complete = format!("/api/v1/delivery/sessions/{sid}/lessons/{lesson}/complete");
    assert_problem(&app.post(&complete, Some(&carol_t), json!({})).await, 409, "completes-by-activity");
    let (_, s) = app.get(&format!("/api/v1/delivery/sessions/{sid}"), &carol_t).await;
    assert_eq!((s["status"].as_str(), s["progress"]["completed"].as_i64()), (Some("in_progress"), Some(0)));
    app.stop().await;
}

/// A 1×1 PNG.
const PIXEL_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

#[tokio::test]
async fn a_bought_courses_images_reach_its_enrolled_learners_through_signed_links() {
    use base64::Engine as _;
    let app = TestApp::spawn(&[
        mirai_tenant::service(),
        mirai_media::service(),
        mirai_authoring::service(),
        mirai_marketplace::service(),
        mirai_enrollment::service(),
        mirai_delivery::service(),
    ])
    .await;
    let org = app.create_tenant("org", "Acme").await;
    let alice = Uuid::now_v7();
    app.add_member(org, alice, &["learner"], None).await;
    // The provider's image, in the provider's tenant; the org bought the course showing it.
    let provider = Uuid::now_v7();
    let png = base64::engine::general_purpose::STANDARD.decode(PIXEL_PNG).unwrap();
    let asset = app.ready_asset(provider, "ladder.png", "image/png", png.clone()).await;
    let modules = json!([{ "title": "M", "lessons": [{ "title": "The ladder", "blocks": [
        { "kind": "image", "content": { "media_id": asset["id"], "alt": "A ladder" } }] }] }]);
    let course = app.licensed_course_by(provider, org, 5, modules).await;
    app.enrolled(org, alice, &course).await;
    let alice_t = app.user_token(org, alice, &[Role::Learner]);
    let session = first_launch(&app, &alice_t, &course).await;
    let (id, lesson) =
        (session["id"].as_str().unwrap(), session["outline"][0]["lessons"][0]["lesson_id"].as_str().unwrap());

    // The lesson links the image with a signed URL the learner's browser fetches as is.
    let media = poll("the player knows the asset", Duration::from_secs(20), || async {
        let (_, l) = app.get(&format!("/api/v1/delivery/sessions/{id}/lessons/{lesson}"), &alice_t).await;
        (!l["blocks"][0]["media"].is_null()).then(|| l["blocks"][0]["media"].clone())
    })
    .await;
    assert_eq!((media["content_type"].as_str(), media["size"].as_i64()), (Some("image/png"), Some(png.len() as i64)));
    let res = app.http.get(media["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), png.as_slice());
    // Tampered with, the link opens nothing.
    let forged = media["url"].as_str().unwrap().replace("X-Mirai-Signature=", "X-Mirai-Signature=0");
    assert_eq!(app.http.get(forged).send().await.unwrap().status(), 403);

    // Taken offline, the bundle carries the image itself, indexed in course.json.
    let opened = offline_bundle(&app, &alice_t, id).await;
    let course: Value = serde_json::from_slice(opened.file("course.json").unwrap()).unwrap();
    let entry = &course["media"][asset["id"].as_str().unwrap()];
    assert_eq!(entry["content_type"], "image/png", "{course}");
    assert_eq!(opened.file(entry["path"].as_str().unwrap()), Some(png.as_slice()));
}

/// A bundle of the session for a new device of the learner's, downloaded and opened
/// with the device's key.
pub async fn offline_bundle(app: &TestApp, token: &str, session: &str) -> mirai_playpackage::Opened {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    use mirai_playpackage as pp;
    let secret: [u8; 32] = rand_bytes();
    let body = json!({ "name": "Laptop", "public_key": B64.encode(pp::device_public_key(&secret)) });
    let (s, device) = app.post("/api/v1/delivery/devices", Some(token), body).await;
    assert_eq!(s, 201, "{device}");
    let issue = format!("/api/v1/delivery/sessions/{session}/bundles");
    let (s, bundle) = app.post(&issue, Some(token), json!({ "device_id": device["id"] })).await;
    assert_eq!(s, 201, "{bundle}");
    let res = app.http.get(app.url(bundle["download"].as_str().unwrap())).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap().to_vec();
    let (_, keys) = app.call(Method::GET, "/api/v1/delivery/bundles/keys", None, None).await;
    let kid = keys["keys"][0]["kid"].as_str().unwrap().to_owned();
    let x: [u8; 32] = B64.decode(keys["keys"][0]["x"].as_str().unwrap()).unwrap().try_into().unwrap();
    pp::open(&bytes, &secret, &[(kid.as_str(), x)], chrono::Utc::now(), None).unwrap()
}
