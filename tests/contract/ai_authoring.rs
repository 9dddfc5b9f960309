//! AI-assisted authoring end to end, through the bus: a tenant with AI on asks for an
//! outline (grounded in a source it must cite) and then a lesson's blocks; authoring sends
//! the ai-gateway commands, the gateway calls a local OpenAI-compatible server (the only
//! thing mocked, at its wire format), and the results land in the draft as `draft_ai`
//! blocks with their provenance; the course cannot publish until they are reviewed; every
//! call is audited with its tokens and cost. With AI off the same request is a 403
//! problem; a cancelled generation changes nothing.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::State, routing::post};
use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, poll};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// A local OpenAI-compatible chat server answering each request with the next scripted
/// answer (as the assistant message's content), counting 50 tokens in and 100 out.
#[derive(Clone, Default)]
struct Vendor {
    answers: Arc<Mutex<VecDeque<String>>>,
    prompts: Arc<Mutex<Vec<Value>>>,
    delay: Arc<Mutex<Duration>>,
}

async fn chat(State(v): State<Vendor>, axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    v.prompts.lock().unwrap().push(body.clone());
    let delay = *v.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let answer = v.answers.lock().unwrap().pop_front().unwrap_or_else(|| "{}".into());
    axum::Json(json!({
        "id": "chatcmpl-e2e", "object": "chat.completion", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": answer }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 50, "completion_tokens": 100, "total_tokens": 150 }
    }))
}

async fn vendor() -> (Vendor, String) {
    let v = Vendor::default();
    let app = Router::new().route("/v1/chat/completions", post(chat)).with_state(v.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (v, url)
}

async fn tenant(app: &TestApp, slug: &str) -> Uuid {
    let slug = format!("{slug}-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let (s, t) = app
        .post(
            "/api/v1/tenant/tenants",
            Some(&app.platform_admin()),
            json!({ "kind": "provider", "name": slug, "slug": slug }),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    t["id"].as_str().unwrap().parse().unwrap()
}

/// Follows a generation's SSE stream to its end; the statuses seen, and the last.
async fn follow(app: &TestApp, token: &str, course: &str, id: &str) -> (Vec<String>, Value) {
    let res = app
        .http
        .get(app.url(&format!("/api/v1/authoring/courses/{course}/generations/{id}/events")))
        .bearer_auth(token)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = res.text().await.unwrap();
    let gens: Vec<Value> = text
        .split("\n\n")
        .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    let statuses = gens.iter().map(|g| g["status"].as_str().unwrap_or_default().to_owned()).collect();
    (statuses, gens.last().cloned().unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_author_generates_an_outline_and_lessons_that_publish_only_once_reviewed() {
    let app = TestApp::spawn(&[mirai_tenant::service(), mirai_authoring::service(), mirai_ai_gateway::service()]).await;
    let (vendor, url) = vendor().await;
    let t = tenant(&app, "ai-e2e").await;
    let admin = app.token(Some(t), &[Role::ProviderAdmin]);
    let author = app.token(Some(t), &[Role::Author]);

    // Configuration: a provider (its key sealed), routes pinning the prompts.
    let put = |path: String, body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (s, b) = app.call(Method::PUT, &path, Some(&admin), Some(body)).await;
            assert_eq!(s, 200, "{path}: {b}");
        }
    };
    put(
        "/api/v1/ai-gateway/providers/vendor".into(),
        json!({ "kind": "openai", "base_url": url, "api_key": "sk-e2e" }),
    )
    .await;
    for (feature, prompt) in
        [("authoring.outline", "course-outline@1.0.0"), ("authoring.lesson", "lesson-blocks@1.0.0")]
    {
        let route = json!({ "targets": [{ "provider": "vendor", "model": "gpt-e2e", "input_micros_per_1k": 150, "output_micros_per_1k": 600 }], "prompt": prompt });
        put(format!("/api/v1/ai-gateway/routes/{feature}"), route).await;
    }
    let (s, course) = app
        .post(
            "/api/v1/authoring/courses",
            Some(&author),
            json!({ "title": "Fire safety", "locale": "en-US", "modules": [] }),
        )
        .await;
    assert_eq!(s, 201, "{course}");
    let course_id = course["id"].as_str().unwrap().to_owned();
    let generations = format!("/api/v1/authoring/courses/{course_id}/generations");
    let brief = json!({ "kind": "outline", "audience": "office staff", "goals": ["evacuate safely", "use an extinguisher"],
        "minutes": 30, "sources": [{ "id": "policy-3", "text": "Staff leave by the nearest marked exit and gather at the car park assembly point." }] });

    // AI off: a 403 problem, nothing sent.
    let res = app.post(&generations, Some(&author), brief.clone()).await;
    assert_problem(&res, 403, "ai-disabled");
    let flag = format!("/api/v1/tenant/tenants/{t}/feature-flags/ai.authoring");
    let (s, _) = app
        .call(Method::PUT, &flag, Some(&app.token(Some(t), &[Role::OrgAdmin])), Some(json!({ "enabled": true })))
        .await;
    assert_eq!(s, 200);

    // The outline: the golden answer of the registered prompt, as the model's reply.
    let registry = mirai_ai_gateway::prompts::registry();
    let outline = registry.get("course-outline@1.0.0").unwrap().goldens[0].output.clone();
    vendor.answers.lock().unwrap().push_back(outline.to_string());
    let g = poll("authoring learns that AI is on", Duration::from_secs(15), || async {
        let (s, g) = app.post(&generations, Some(&author), brief.clone()).await;
        (s == 202).then_some(g)
    })
    .await;
    assert_eq!(g["status"], "queued");
    let (statuses, last) = follow(&app, &author, &course_id, g["id"].as_str().unwrap()).await;
    assert_eq!(last["status"], "succeeded", "{last}");
    assert!(statuses.len() >= 2, "progress was streamed: {statuses:?}");
    assert_eq!(last["blocks_added"], 2);
    // The prompt went out grounded in the source.
    let sent = vendor.prompts.lock().unwrap().last().cloned().unwrap();
    assert!(sent.to_string().contains("[policy-3]"), "{sent}");

    let (_, course) = app.get(&format!("/api/v1/authoring/courses/{course_id}"), &author).await;
    let lessons: Vec<&Value> =
        course["modules"].as_array().unwrap().iter().flat_map(|m| m["lessons"].as_array().unwrap()).collect();
    assert_eq!(lessons.len(), 2, "{course}");
    let block = &lessons[0]["blocks"][0];
    assert_eq!(block["review"], "draft_ai");
    assert_eq!(block["origin"], "ai");
    let prov = &block["ai_provenance"];
    assert_eq!(
        (prov["model"].as_str(), prov["prompt_id"].as_str(), prov["prompt_version"].as_str()),
        (Some("gpt-e2e"), Some("course-outline"), Some("1.0.0"))
    );
    assert_eq!(prov["request_id"], g["id"]);
    assert_eq!(prov["sources"], json!(["policy-3"]), "cited sources in the provenance");
    assert!(prov["prompt_hash"].as_str().unwrap().starts_with("sha256:"));

    // A lesson's blocks.
    let lesson_id = lessons[0]["id"].as_str().unwrap().to_owned();
    let mut blocks = registry.get("lesson-blocks@1.0.0").unwrap().goldens[0].output.clone();
    // No sources were given for this lesson: citing one would be refused as made up.
    blocks["citations"] = json!([]);
    vendor.answers.lock().unwrap().push_back(blocks.to_string());
    let (s, g2) = app.post(&generations, Some(&author), json!({ "kind": "lesson", "lesson_id": lesson_id })).await;
    assert_eq!(s, 202, "{g2}");
    let (_, last) = follow(&app, &author, &course_id, g2["id"].as_str().unwrap()).await;
    assert_eq!(last["status"], "succeeded", "{last}");
    let (_, course) = app.get(&format!("/api/v1/authoring/courses/{course_id}"), &author).await;
    let first = &course["modules"][0]["lessons"][0]["blocks"];
    assert_eq!(first.as_array().unwrap().len(), 3, "objectives + text + callout: {course}");
    assert_eq!(first[2]["kind"], "callout");
    assert!(first.as_array().unwrap().iter().all(|b| b["review"] == "draft_ai"));

    // Not publishable until every AI block is reviewed.
    let publisher = app.token(Some(t), &[Role::ProviderAdmin]);
    let publish = |revision: i64| {
        let app = &app;
        let publisher = publisher.clone();
        let path = format!("/api/v1/authoring/courses/{course_id}/publish");
        async move {
            let res = app
                .http
                .post(app.url(&path))
                .bearer_auth(&publisher)
                .header("if-match", format!("\"{revision}\""))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, refused) = publish(course["revision"].as_i64().unwrap()).await;
    assert_eq!(s, 422, "{refused}");
    let mut revision = course["revision"].as_i64().unwrap();
    let ids: Vec<String> = course["modules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["lessons"].as_array().unwrap().iter())
        .flat_map(|l| l["blocks"].as_array().unwrap().iter())
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    for id in ids {
        let res = app
            .http
            .post(app.url(&format!("/api/v1/authoring/courses/{course_id}/blocks/{id}/review")))
            .bearer_auth(&author)
            .header("if-match", format!("\"{revision}\""))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        revision = res.json::<Value>().await.unwrap()["revision"].as_i64().unwrap();
    }
    let (s, published) = publish(revision).await;
    let _ = &published;
    assert_eq!(s, 201, "{published}");

    // Each call is audited with its tokens and cost (50 in at 150/1k, 100 out at 600/1k).
    let e = app
        .wait_for_event("ai-gateway.call.completed.v1", Duration::from_secs(15), |e| {
            e.data["prompt_id"] == "lesson-blocks"
        })
        .await;
    assert_eq!(e.tenantid, Some(t));
    assert_eq!(
        (e.data["tokens_in"].as_i64(), e.data["tokens_out"].as_i64(), e.data["cost_micros"].as_i64()),
        (Some(50), Some(100), Some(68))
    );
    assert_eq!(e.data["decision"], "allowed");

    // A cancelled generation changes nothing, even when the model answers.
    let (_, before) = app.get(&format!("/api/v1/authoring/courses/{course_id}"), &author).await;
    *vendor.delay.lock().unwrap() = Duration::from_millis(800);
    vendor.answers.lock().unwrap().push_back(outline.to_string());
    let (s, g3) = app.post(&generations, Some(&author), brief.clone()).await;
    assert_eq!(s, 202);
    let (s, cancelled) =
        app.call(Method::DELETE, &format!("{generations}/{}", g3["id"].as_str().unwrap()), Some(&author), None).await;
    assert_eq!(s, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, after) = app.get(&format!("/api/v1/authoring/courses/{course_id}"), &author).await;
    assert_eq!(after["revision"], before["revision"], "nothing added: {after}");
    let (_, g3) = app.get(&format!("{generations}/{}", g3["id"].as_str().unwrap()), &author).await;
    assert_eq!(g3["status"], "cancelled");
}

/// Uploads a file through media's signed URL; the ready asset's id.
async fn upload(app: &TestApp, token: &str, filename: &str, content_type: &str, bytes: Vec<u8>) -> String {
    let (s, up) = app
        .post(
            "/api/v1/media/uploads",
            Some(token),
            json!({ "filename": filename, "content_type": content_type, "size": bytes.len() }),
        )
        .await;
    assert_eq!(s, 201, "{up}");
    let asset = up["asset"]["id"].as_str().unwrap().to_owned();
    let put = app.http.put(up["upload"]["url"].as_str().unwrap()).header("content-type", content_type).body(bytes);
    assert_eq!(put.send().await.unwrap().status(), 200);
    let (s, ready) = app.post(&format!("/api/v1/media/assets/{asset}/complete"), Some(token), json!({})).await;
    assert_eq!((s.as_u16(), ready["status"].as_str()), (200, Some("ready")), "{ready}");
    asset
}

#[tokio::test]
async fn an_outline_grounded_in_uploaded_documents_cites_their_excerpts() {
    let app = TestApp::spawn(&[
        mirai_tenant::service(),
        mirai_media::service(),
        mirai_authoring::service(),
        mirai_ai_gateway::service(),
    ])
    .await;
    let (vendor, url) = vendor().await;
    let t = tenant(&app, "ai-docs").await;
    let admin = app.token(Some(t), &[Role::ProviderAdmin]);
    let author = app.token(Some(t), &[Role::Author]);
    for (path, body) in [
        ("/api/v1/ai-gateway/providers/vendor", json!({ "kind": "openai", "base_url": url, "api_key": "sk-e2e" })),
        (
            "/api/v1/ai-gateway/routes/authoring.outline",
            json!({ "targets": [{ "provider": "vendor", "model": "gpt-e2e" }], "prompt": "course-outline@1.0.0" }),
        ),
        ("/api/v1/tenant/tenants/{t}/feature-flags/ai.authoring", json!({ "enabled": true })),
    ] {
        let path = path.replace("{t}", &t.to_string());
        let token = if path.contains("feature-flags") { app.token(Some(t), &[Role::OrgAdmin]) } else { admin.clone() };
        let (s, b) = app.call(Method::PUT, &path, Some(&token), Some(body)).await;
        assert_eq!(s, 200, "{path}: {b}");
    }

    // Three documents: a Markdown policy, a two-page PDF, and a scan (a PDF with no text).
    let policy = "# Evacuation policy\n\nWhen the alarm sounds, staff leave by the nearest marked exit and gather at \
                  the car park assembly point. Never use the lifts.";
    let md = upload(&app, &author, "policy.md", "text/markdown", policy.as_bytes().to_vec()).await;
    let pdf = mirai_testkit::pdf(&[
        "Evacuation drills are held twice a year on the first Monday of spring and autumn.",
        "A carbon dioxide extinguisher is used on electrical fires: pull the pin, aim at the base, squeeze, sweep.",
    ]);
    let pdf = upload(&app, &author, "extinguishers.pdf", "application/pdf", pdf).await;
    let bad = upload(&app, &author, "scan.pdf", "application/pdf", mirai_testkit::pdf(&["", ""])).await;

    let (s, course) = app
        .post(
            "/api/v1/authoring/courses",
            Some(&author),
            json!({ "title": "Fire safety", "locale": "en", "modules": [] }),
        )
        .await;
    assert_eq!(s, 201, "{course}");
    let course_id = course["id"].as_str().unwrap().to_owned();
    let generations = format!("/api/v1/authoring/courses/{course_id}/generations");
    let brief = |documents: Vec<&str>| {
        json!({ "kind": "outline", "audience": "office staff", "goals": ["evacuate safely", "use an extinguisher on an electrical fire"],
            "documents": documents })
    };

    // The model cites the PDF's second page, which it was given.
    let cited = format!("media:{pdf}#1");
    let registry = mirai_ai_gateway::prompts::registry();
    let mut outline = registry.get("course-outline@1.0.0").unwrap().goldens[0].output.clone();
    outline["modules"][0]["lessons"][0]["sources"] = json!([cited]);
    outline["citations"] = json!([{ "source": cited, "excerpt": "aim at the base" }]);
    vendor.answers.lock().unwrap().push_back(outline.to_string());
    let g = poll("authoring knows the documents and that AI is on", Duration::from_secs(15), || async {
        let (s, g) = app.post(&generations, Some(&author), brief(vec![&md, &pdf])).await;
        (s == 202).then_some(g)
    })
    .await;
    let (statuses, last) = follow(&app, &author, &course_id, g["id"].as_str().unwrap()).await;
    assert_eq!(last["status"], "succeeded", "{last} after {statuses:?}");
    let sent = vendor.prompts.lock().unwrap().last().cloned().unwrap().to_string();
    assert!(sent.contains(&format!("[media:{md}#0] (policy.md)")), "the Markdown's excerpt: {sent}");
    assert!(sent.contains("nearest marked exit"), "{sent}");
    assert!(sent.contains(&format!("[{cited}] (extinguishers.pdf, p. 2)")), "the PDF's page: {sent}");
    assert!(sent.contains("pull the pin, aim at the base"), "{sent}");
    let (_, course) = app.get(&format!("/api/v1/authoring/courses/{course_id}"), &author).await;
    let block = &course["modules"][0]["lessons"][0]["blocks"][0];
    assert_eq!(block["review"], "draft_ai");
    assert_eq!(block["ai_provenance"]["sources"], json!([cited]), "the cited excerpt in the provenance: {block}");

    // A document that cannot be read fails the generation, clearly, before any model call.
    let calls = vendor.prompts.lock().unwrap().len();
    let (s, g) = app.post(&generations, Some(&author), brief(vec![&md, &bad])).await;
    assert_eq!(s, 202, "{g}");
    let (_, last) = follow(&app, &author, &course_id, g["id"].as_str().unwrap()).await;
    assert_eq!(last["status"], "failed", "{last}");
    assert!(last["error"]["type"].as_str().unwrap().ends_with("/document-unreadable"), "{last}");
    assert!(last["error"]["detail"].as_str().unwrap().contains("OCR"), "{last}");
    assert_eq!(vendor.prompts.lock().unwrap().len(), calls, "no model call");

    // Unknown (or another tenant's) assets and kinds that take no sources: 422 up front.
    let other = Uuid::now_v7().to_string();
    let res = app.post(&generations, Some(&author), brief(vec![&other])).await;
    assert_problem(&res, 422, "validation");
    assert!(res.1.to_string().contains("documents/0"), "{}", res.1);
    let res = app.post(&generations, Some(&author), brief(vec![&md, &md])).await;
    assert_problem(&res, 422, "validation");
    let outsider = app.token(Some(Uuid::now_v7()), &[Role::Author]);
    let (s, _) = app.post(&generations, Some(&outsider), brief(vec![&md])).await;
    assert!(s == 403 || s == 404, "another tenant's author: {s}");
}
