//! authoring's black-box tests: the service on port 0 with a database and NATS prefix of
//! its own. Drafts under If-Match, AI provenance and review, publishing and its event,
//! roles and tenants.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

struct Authoring {
    app: TestApp,
    tenant: Uuid,
    author: String,
    publisher: String,
}

async fn spawn() -> Authoring {
    let app = TestApp::spawn(&[mirai_authoring::service()]).await;
    let tenant = Uuid::now_v7();
    let author = app.token(Some(tenant), &[Role::Author]);
    let publisher = app.token(Some(tenant), &[Role::ProviderAdmin]);
    Authoring { app, tenant, author, publisher }
}

impl Authoring {
    /// Sends a request; returns status, body and the ETag.
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value, Option<String>) {
        let mut r = self.app.http.request(method, self.app.url(&format!("/api/v1/authoring{path}"))).bearer_auth(token);
        if let Some(e) = etag {
            r = r.header("if-match", e);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        let etag = res.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
        (status, res.json().await.unwrap_or(Value::Null), etag)
    }
}

/// Announces an asset as media's relay would (the test stands in for media, so it
/// publishes to JetStream directly).
#[allow(clippy::disallowed_methods)]
async fn asset_ready(app: &TestApp, tenant: Uuid, asset: Uuid) {
    let event: mirai_events::NewEvent = mirai_contracts::events::media::AssetReady {
        tenant_id: tenant.into(),
        asset_id: asset.into(),
        filename: "plan.png".into(),
        content_type: "image/png".into(),
        size: 10,
        sha256: format!("sha256:{}", "0".repeat(64)),
        object_key: format!("tenants/{tenant}/media/{asset}"),
        ready_at: chrono::Utc::now(),
    }
    .into();
    let bus = mirai_testkit::bus(&app.prefix).await;
    bus.ensure_stream("media").await.unwrap();
    let envelope = event.into_envelope("media", &mirai_events::EventMeta::default());
    let subject = bus.subject(&envelope.kind);
    bus.js.publish(subject, serde_json::to_vec(&envelope).unwrap().into()).await.unwrap().await.unwrap();
}

fn provenance() -> Value {
    json!({ "model": "claude-sonnet-4", "prompt_id": "lesson-draft", "prompt_version": "3",
        "prompt_hash": format!("sha256:{}", "ab".repeat(32)), "sources": ["media:42"],
        "generated_at": "2026-11-30T10:00:00Z", "request_id": "req-1" })
}

fn course(modules: Value) -> Value {
    json!({ "title": "Fire safety", "summary": "What to do when the alarm sounds.", "locale": "en-US",
        "tags": ["Safety", "onboarding"], "visibility": "public", "modules": modules })
}

#[tokio::test]
async fn drafts_are_written_under_if_match_and_published_as_immutable_versions() {
    let a = spawn().await;
    let image = Uuid::now_v7();
    let (status, c, etag) = a
        .send(Method::POST, "/courses", &a.author, None, Some(course(json!([{ "title": "Before a fire", "lessons": [
            { "title": "Escape routes", "blocks": [
                { "kind": "text", "content": { "markdown": "Know **two ways** out of every room." } },
                { "kind": "image", "content": { "media_id": image, "alt": "Floor plan with exits" } }] },
            { "title": "Alarms", "blocks": [{ "kind": "callout", "content": { "tone": "warning", "markdown": "Never ignore an alarm." } }] }] }]))))
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(etag.as_deref(), Some("\"1\""));
    assert_eq!(c["tags"], json!(["onboarding", "safety"]), "tags are normalized");
    let id = c["id"].as_str().unwrap().to_owned();
    let path = format!("/courses/{id}");

    // A write names the revision it read: none is a 428, a stale one a 412 with the
    // current revision, never a silent overwrite.
    let mut edit = course(c["modules"].clone());
    edit["title"] = json!("Fire safety basics");
    let (status, p, _) = a.send(Method::PUT, &path, &a.author, None, Some(edit.clone())).await;
    assert_eq!(status, 428, "{p}");
    let (status, moved, etag2) = a.send(Method::PUT, &path, &a.author, Some("\"1\""), Some(edit.clone())).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(etag2.as_deref(), Some("\"2\""));
    let (status, stale, etag) = a.send(Method::PUT, &path, &a.author, Some("\"1\""), Some(edit.clone())).await;
    assert_eq!(status, 412, "{stale}");
    assert_eq!(stale["current_version"], 2, "the problem says where the course is now");
    assert_eq!(etag.as_deref(), Some("\"2\""));
    assert_eq!(a.send(Method::GET, &path, &a.author, None, None).await.1["title"], "Fire safety basics");

    // Reorder lessons, move a block between lessons, duplicate one (a copy without id):
    // ids survive moves, the copy gets its own.
    let m = &moved["modules"][0];
    let (escape, alarms) = (&m["lessons"][0], &m["lessons"][1]);
    let text_block = escape["blocks"][0].clone();
    let mut copy = text_block.clone();
    copy.as_object_mut().unwrap().remove("id");
    copy.as_object_mut().unwrap().remove("review");
    let strip = |b: &Value| {
        let mut b = b.clone();
        b.as_object_mut().unwrap().remove("review");
        b
    };
    let outline = json!([{ "id": m["id"], "title": m["title"], "lessons": [
        { "id": alarms["id"], "title": "Alarms", "blocks": [strip(&alarms["blocks"][0]), strip(&text_block)] },
        { "id": escape["id"], "title": "Escape routes", "blocks": [strip(&escape["blocks"][1]), copy] }] }]);
    let mut body = course(outline);
    body["title"] = json!("Fire safety basics");
    let (status, reordered, _) = a.send(Method::PUT, &path, &a.author, Some("\"2\""), Some(body)).await;
    assert_eq!(status, 200, "{reordered}");
    let lessons = &reordered["modules"][0]["lessons"];
    assert_eq!(lessons[0]["id"], alarms["id"]);
    assert_eq!(lessons[0]["blocks"][1]["id"], text_block["id"], "a moved block keeps its id");
    assert_ne!(lessons[1]["blocks"][1]["id"], text_block["id"], "a duplicate gets its own");
    // An id the course does not have is refused, not invented.
    let bogus = json!([{ "id": Uuid::now_v7(), "title": "x" }]);
    let (status, p, _) = a.send(Method::PUT, &path, &a.author, Some("\"3\""), Some(course(bogus))).await;
    assert_eq!(status, 422, "{p}");

    // Publish: a numbered, immutable version with its hash, announced with the outline.
    let (status, v1, _) = a.send(Method::POST, &format!("{path}/publish"), &a.author, Some("\"3\""), None).await;
    assert_eq!(status, 403, "authors draft; admins publish: {v1}");
    // The image is no asset of this tenant yet: publishing names the block.
    let (status, p, _) = a.send(Method::POST, &format!("{path}/publish"), &a.publisher, Some("\"3\""), None).await;
    assert_eq!(status, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains(&format!("asset {image}")), "{p}");
    // Media announces it ready (the test stands in for media); then it publishes.
    asset_ready(&a.app, a.tenant, image).await;
    let v1 = mirai_testkit::poll("authoring to learn the asset", Duration::from_secs(10), || async {
        let (status, v1, _) = a.send(Method::POST, &format!("{path}/publish"), &a.publisher, Some("\"3\""), None).await;
        (status == 201).then_some(v1)
    })
    .await;
    // Another tenant's course cannot show this tenant's asset.
    let other = a.app.token(Some(Uuid::now_v7()), &[Role::ProviderAdmin]);
    let theirs = course(json!([{ "title": "M", "lessons": [{ "title": "L", "blocks": [
        { "kind": "image", "content": { "media_id": image, "alt": "Borrowed" } }] }] }]));
    let (status, t, _) = a.send(Method::POST, "/courses", &other, None, Some(theirs)).await;
    assert_eq!(status, 201, "{t}");
    let tpath = format!("/courses/{}/publish", t["id"].as_str().unwrap());
    let (status, p, _) = a.send(Method::POST, &tpath, &other, Some("\"1\""), None).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(v1["version"], 1);
    assert!(v1["content_hash"].as_str().unwrap().starts_with("sha256:"));
    let event = a
        .app
        .wait_for_event("authoring.course.published.v1", Duration::from_secs(10), |e| {
            e.subject.as_deref() == Some(id.as_str())
        })
        .await;
    assert_eq!(event.tenantid, Some(a.tenant));
    assert_eq!(event.data["content_hash"], v1["content_hash"]);
    assert_eq!(event.data["outline"][0]["lessons"][1]["blocks"][0]["text"], "Floor plan with exits");
    assert_eq!(event.data["outline"][0]["lessons"][0]["blocks"][1]["text"], "Know two ways out of every room.");
    // Later edits go to the draft; version 1 stays as it was.
    let mut later = course(reordered["modules"].clone());
    later["title"] = json!("Fire safety, revised");
    for module in later["modules"].as_array_mut().unwrap() {
        for lesson in module["lessons"].as_array_mut().unwrap() {
            for block in lesson["blocks"].as_array_mut().unwrap() {
                block.as_object_mut().unwrap().remove("review");
            }
        }
    }
    let (status, _, _) = a.send(Method::PUT, &path, &a.author, Some("\"4\""), Some(later)).await;
    assert_eq!(status, 200);
    let (_, frozen, _) = a.send(Method::GET, &format!("{path}/versions/1"), &a.author, None, None).await;
    assert_eq!(frozen["snapshot"]["title"], "Fire safety basics");
    let (status, v2, _) = a.send(Method::POST, &format!("{path}/publish"), &a.publisher, Some("\"5\""), None).await;
    assert_eq!(status, 201);
    assert_eq!(v2["version"], 2);
    assert_ne!(v2["content_hash"], v1["content_hash"]);

    // Who changed what, when.
    let (_, history, _) = a.send(Method::GET, &format!("{path}/history"), &a.author, None, None).await;
    let actions: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "edited", "edited", "published", "edited", "published"]);
    assert!(history[0]["actor"].as_str().unwrap().starts_with("user:"));

    // Retire: announced; the course takes no more edits, and is duplicated to go on.
    let (status, retired, _) = a.send(Method::POST, &format!("{path}/retire"), &a.publisher, Some("\"6\""), None).await;
    assert_eq!(status, 200, "{retired}");
    assert_eq!(retired["status"], "retired");
    a.app
        .wait_for_event("authoring.course.retired.v1", Duration::from_secs(10), |e| {
            e.subject.as_deref() == Some(id.as_str())
        })
        .await;
    let (status, copy, _) = a.send(Method::POST, &format!("{path}/duplicate"), &a.author, None, None).await;
    assert_eq!(status, 201);
    assert_eq!(copy["status"], "draft");
    assert_eq!(copy["title"], "Fire safety, revised (copy)");
    a.app.stop().await;
}

#[tokio::test]
async fn ai_blocks_carry_provenance_and_are_reviewed_before_publishing() {
    let a = spawn().await;
    // Claiming AI origin without provenance is refused; provenance makes a block AI.
    let claim = course(json!([{ "title": "M", "lessons": [{ "title": "L", "blocks": [
        { "kind": "text", "content": { "markdown": "x" }, "origin": "ai" }] }] }]));
    let (status, p, _) = a.send(Method::POST, "/courses", &a.author, None, Some(claim)).await;
    assert_eq!(status, 422);
    assert!(p["detail"].as_str().unwrap().contains("provenance"), "{p}");
    let generated = course(json!([{ "title": "M", "lessons": [{ "title": "L", "blocks": [
        { "kind": "text", "content": { "markdown": "Written by a person." } },
        { "kind": "text", "content": { "markdown": "Generated." }, "ai_provenance": provenance() }] }] }]));
    let (status, c, _) = a.send(Method::POST, "/courses", &a.author, None, Some(generated)).await;
    assert_eq!(status, 201, "{c}");
    let blocks = &c["modules"][0]["lessons"][0]["blocks"];
    assert_eq!(blocks[0]["review"], "human");
    assert_eq!(blocks[1]["review"], "draft_ai");
    assert_eq!(blocks[1]["origin"], "ai");
    let ai_block = blocks[1]["id"].as_str().unwrap().to_owned();
    let path = format!("/courses/{}", c["id"].as_str().unwrap());

    // Publishing with an unreviewed AI block is refused, naming it.
    let (status, p, _) = a.send(Method::POST, &format!("{path}/publish"), &a.publisher, Some("\"1\""), None).await;
    assert_eq!(status, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains(&ai_block), "{p}");
    assert_eq!(p["errors"][0]["field"], "modules[0].lessons[0].blocks[1]");
    // An AI block cannot be passed off as a person's.
    let mut disguised = c["modules"].clone();
    let b = &mut disguised[0]["lessons"][0]["blocks"][1];
    b.as_object_mut().unwrap().remove("ai_provenance");
    b.as_object_mut().unwrap().remove("review");
    b["origin"] = json!("human");
    disguised[0]["lessons"][0]["blocks"][0].as_object_mut().unwrap().remove("review");
    let (status, _, _) = a.send(Method::PUT, &path, &a.author, Some("\"1\""), Some(course(disguised))).await;
    assert_eq!(status, 422);
    // A learner cannot review (or see the draft); an author can.
    let learner = a.app.token(Some(a.tenant), &[Role::Learner]);
    let review = format!("{path}/blocks/{ai_block}/review");
    assert_eq!(a.send(Method::POST, &review, &learner, Some("\"1\""), None).await.0, 403);
    assert_eq!(a.send(Method::GET, &path, &learner, None, None).await.0, 403, "learners never see drafts");
    let (status, reviewed, _) = a.send(Method::POST, &review, &a.author, Some("\"1\""), None).await;
    assert_eq!(status, 200, "{reviewed}");
    assert_eq!(reviewed["modules"][0]["lessons"][0]["blocks"][1]["review"], "reviewed");
    let (status, _, _) = a.send(Method::POST, &format!("{path}/publish"), &a.publisher, Some("\"2\""), None).await;
    assert_eq!(status, 201);
    // Editing a reviewed AI block sends it back to review.
    let mut edited = reviewed["modules"].clone();
    for b in edited[0]["lessons"][0]["blocks"].as_array_mut().unwrap() {
        b.as_object_mut().unwrap().remove("review");
    }
    edited[0]["lessons"][0]["blocks"][1]["content"]["markdown"] = json!("Generated, then changed.");
    let (_, again, _) = a.send(Method::PUT, &path, &a.author, Some("\"3\""), Some(course(edited))).await;
    assert_eq!(again["modules"][0]["lessons"][0]["blocks"][1]["review"], "draft_ai");
    a.app.stop().await;
}

#[tokio::test]
async fn courses_stay_in_their_tenant_and_input_is_checked() {
    let a = spawn().await;
    let (_, c, _) = a.send(Method::POST, "/courses", &a.author, None, Some(course(json!([])))).await;
    let path = format!("/courses/{}", c["id"].as_str().unwrap());
    let other = a.app.token(Some(Uuid::now_v7()), &[Role::ProviderAdmin]);
    for (method, p) in [
        (Method::GET, path.clone()),
        (Method::PUT, path.clone()),
        (Method::POST, format!("{path}/publish")),
        (Method::POST, format!("{path}/duplicate")),
        (Method::GET, format!("{path}/history")),
    ] {
        let body = (method == Method::PUT).then(|| course(json!([])));
        let (status, _, _) = a.send(method.clone(), &p, &other, Some("\"1\""), body).await;
        assert_eq!(status, 404, "{method} {p} from another tenant");
    }
    let (_, list, _) = a.send(Method::GET, "/courses", &other, None, None).await;
    assert_eq!(list["data"], json!([]));
    let (_, mine, _) = a.send(Method::GET, "/courses", &a.author, None, None).await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    // Publishing an empty course is refused; bad blocks name their place.
    let (status, p, _) = a.send(Method::POST, &format!("{path}/publish"), &a.publisher, Some("\"1\""), None).await;
    assert_eq!(status, 422, "{p}");
    for (bad, field) in [
        (
            json!({ "kind": "image", "content": { "media_id": "nope", "alt": "x" } }),
            "modules[0].lessons[0].blocks[0].content",
        ),
        (
            json!({ "kind": "image", "content": { "media_id": Uuid::now_v7(), "alt": " " } }),
            "modules[0].lessons[0].blocks[0].content.alt",
        ),
        (json!({ "kind": "hologram", "content": {} }), "modules[0].lessons[0].blocks[0].content"),
        (
            json!({ "kind": "text", "content": { "markdown": "x", "colour": "red" } }),
            "modules[0].lessons[0].blocks[0].content",
        ),
    ] {
        let body = course(json!([{ "title": "M", "lessons": [{ "title": "L", "blocks": [bad] }] }]));
        let (status, p, _) = a.send(Method::PUT, &path, &a.author, Some("\"1\""), Some(body)).await;
        assert_eq!(status, 422, "{p}");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let mut bad = course(json!([]));
    bad["locale"] = json!("not a tag!");
    assert_problem(&a.app.post("/api/v1/authoring/courses", Some(&a.author), bad).await, 422, "validation");
    a.app.stop().await;
}

#[tokio::test]
async fn what_a_review_found_stays_fixed() {
    let a = spawn().await;
    let generated = course(json!([{ "title": "M", "lessons": [{ "title": "L", "blocks": [
        { "kind": "text", "content": { "markdown": "Generated." }, "ai_provenance": provenance() }] }] }]));
    let (_, c, _) = a.send(Method::POST, "/courses", &a.author, None, Some(generated)).await;
    let path = format!("/courses/{}", c["id"].as_str().unwrap());
    // `If-Match: *` and weak tags name no revision: refused.
    for tag in ["*", "W/\"1\""] {
        let (status, _, _) = a.send(Method::PUT, &path, &a.author, Some(tag), Some(course(c["modules"].clone()))).await;
        assert_eq!(status, 412, "{tag}");
    }
    // Generated text re-sent as a new "human" block (no id, no provenance) is refused.
    let laundered = json!([{ "id": c["modules"][0]["id"], "title": "M", "lessons": [{ "id": c["modules"][0]["lessons"][0]["id"], "title": "L", "blocks": [
        { "kind": "text", "content": { "markdown": "Generated." } }] }] }]);
    let (status, p, _) = a.send(Method::PUT, &path, &a.author, Some("\"1\""), Some(course(laundered))).await;
    assert_eq!(status, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("AI-generated"), "{p}");
    // A write without `modules` changes the metadata only.
    let mut meta_only = course(json!([]));
    meta_only.as_object_mut().unwrap().remove("modules");
    meta_only["title"] = json!("Renamed");
    let (status, renamed, _) = a.send(Method::PUT, &path, &a.author, Some("\"1\""), Some(meta_only)).await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["title"], "Renamed");
    assert_eq!(renamed["modules"], c["modules"], "the outline is kept");
    // An organization's admin does not publish to every tenant.
    let org_admin = a.app.token(Some(a.tenant), &[Role::OrgAdmin]);
    let (status, _, _) = a.send(Method::POST, "/courses", &org_admin, None, Some(course(json!([])))).await;
    assert_eq!(status, 403, "course() is public");
    let mut internal = course(json!([]));
    internal["visibility"] = json!("tenant");
    assert_eq!(a.send(Method::POST, "/courses", &org_admin, None, Some(internal)).await.0, 201);
    // A retired course takes no review either.
    let block = c["modules"][0]["lessons"][0]["blocks"][0]["id"].as_str().unwrap().to_owned();
    let (status, _, _) = a.send(Method::POST, &format!("{path}/retire"), &a.publisher, Some("\"2\""), None).await;
    assert_eq!(status, 200);
    let (status, _, _) =
        a.send(Method::POST, &format!("{path}/blocks/{block}/review"), &a.author, Some("\"3\""), None).await;
    assert_eq!(status, 409);
    a.app.stop().await;
}
