//! ai-gateway's black-box tests: tenant (whose feature flags it projects) and the gateway
//! on port 0 with a database and NATS prefix of their own, calling a local vendor server
//! that speaks OpenAI's, Anthropic's and Gemini's wire formats (`fake`).

mod fake;

use std::time::{Duration, Instant};

use fake::Fake;
use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, poll};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

struct Gw {
    app: TestApp,
    tenant: Uuid,
    admin: String,
    author: String,
    fake: Fake,
}

const GW: &str = "/api/v1/ai-gateway";

async fn tenant(app: &TestApp, slug: &str) -> Uuid {
    let body = json!({ "kind": "provider", "name": slug, "slug": slug });
    let (s, t) = app.post("/api/v1/tenant/tenants", Some(&app.platform_admin()), body).await;
    assert_eq!(s, 201, "{t}");
    t["id"].as_str().unwrap().parse().unwrap()
}

async fn enable(app: &TestApp, tenant: Uuid, flag: &str) {
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    let path = format!("/api/v1/tenant/tenants/{tenant}/feature-flags/{flag}");
    let (s, b) = app.call(Method::PUT, &path, Some(&admin), Some(json!({ "enabled": true }))).await;
    assert_eq!(s, 200, "{b}");
    let url = mirai_testkit::url_for_db(&app.database);
    poll("the gateway sees the flag", Duration::from_secs(15), || {
        let url = url.clone();
        let flag = flag.to_owned();
        async move {
            let mut db = PgConnection::connect(&url).await.ok()?;
            let on: Option<bool> =
                sqlx::query_scalar("SELECT enabled FROM ai_gateway.features WHERE tenant_id = $1 AND key = $2")
                    .bind(tenant)
                    .bind(flag)
                    .fetch_optional(&mut db)
                    .await
                    .ok()?;
            on.filter(|on| *on)
        }
    })
    .await;
}

impl Gw {
    async fn start() -> Gw {
        let app = TestApp::spawn(&[mirai_tenant::service(), mirai_ai_gateway::service()]).await;
        let fake = Fake::start().await;
        let tenant = tenant(&app, &format!("ai-{}", &Uuid::now_v7().simple().to_string()[20..])).await;
        let admin = app.token(Some(tenant), &[Role::ProviderAdmin]);
        let author = app.token(Some(tenant), &[Role::Author]);
        let gw = Gw { app, tenant, admin, author, fake };
        enable(&gw.app, tenant, "ai.authoring").await;
        gw
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (reqwest::StatusCode, Value) {
        self.app.call(method, &format!("{GW}{path}"), Some(token), body).await
    }

    async fn admin_put(&self, path: &str, body: Value) -> Value {
        let (s, b) = self.call(Method::PUT, path, &self.admin, Some(body)).await;
        assert_eq!(s, 200, "PUT {path}: {b}");
        b
    }

    async fn provider(&self, name: &str, kind: &str, timeout_ms: u64) {
        let base = if kind == "openai" { format!("{}/v1", self.fake.url) } else { self.fake.url.clone() };
        let body =
            json!({ "kind": kind, "base_url": base, "api_key": format!("sk-secret-{name}"), "timeout_ms": timeout_ms });
        self.admin_put(&format!("/providers/{name}"), body).await;
    }

    async fn route(&self, feature: &str, targets: &[(&str, &str)], extra: Value) {
        let targets: Vec<Value> = targets
            .iter()
            .map(|(p, m)| {
                let price = if *p == "local" { 0 } else { 1000 };
                json!({ "provider": p, "model": m, "input_micros_per_1k": price, "output_micros_per_1k": 2 * price })
            })
            .collect();
        let mut body = json!({ "targets": targets });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        self.admin_put(&format!("/routes/{feature}"), body).await;
    }

    async fn chat(&self, feature: &str, text: &str) -> (reqwest::StatusCode, Value) {
        let body = json!({ "feature": feature, "messages": [{ "role": "user", "content": text }], "max_tokens": 100 });
        self.call(Method::POST, "/chat", &self.author, Some(body)).await
    }

    async fn audit(&self, call_id: &str) -> mirai_events::Envelope {
        let id = call_id.to_owned();
        self.app
            .wait_for_event("ai-gateway.call.completed.v1", Duration::from_secs(15), move |e| {
                e.subject.as_deref() == Some(id.as_str())
            })
            .await
    }
}

/// Reads an SSE body into (event, data) pairs.
async fn sse_events(res: reqwest::Response) -> Vec<(String, Value)> {
    let text = res.text().await.unwrap();
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .filter_map(|frame| {
            let mut name = String::from("message");
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            (!data.is_empty()).then(|| (name, serde_json::from_str(&data).unwrap_or(Value::String(data))))
        })
        .collect()
}

#[tokio::test]
async fn a_generation_is_validated_audited_with_tokens_and_cost_and_off_until_the_tenant_enables_ai() {
    let gw = Gw::start().await;
    gw.provider("openai", "openai", 5000).await;
    gw.route("authoring.outline", &[("openai", "gpt-4o-mini")], json!({ "prompt": "course-outline@1.0.0" })).await;
    let golden = mirai_ai_gateway::prompts::registry().get("course-outline@1.0.0").unwrap().goldens[0].clone();
    gw.fake.set(|k| k.script.push_back(golden.output.to_string()));
    let body = json!({ "feature": "authoring.outline", "input": golden.input });
    let (s, g) = gw.call(Method::POST, "/generate", &gw.author, Some(body.clone())).await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["output"], golden.output);
    assert_eq!((g["prompt_id"].as_str(), g["prompt_version"].as_str()), (Some("course-outline"), Some("1.0.0")));
    assert_eq!((g["tokens_in"].as_i64(), g["tokens_out"].as_i64()), (Some(10), Some(20)));
    // 10 in at 1000 micros per 1k and 20 out at 2000: 10 + 40 micros.
    assert_eq!(g["cost_micros"], 50);
    // The provider was asked for schema-constrained output, with the API key as a bearer token.
    let (headers, sent) = gw.fake.requests_to("/chat/completions").pop().unwrap();
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert!(headers.contains("authorization: Bearer sk-secret-openai"), "{headers}");

    let e = gw.audit(g["call_id"].as_str().unwrap()).await;
    assert_eq!(e.tenantid, Some(gw.tenant));
    assert_eq!(e.data["decision"], "allowed");
    assert_eq!(
        (e.data["tokens_in"].as_i64(), e.data["tokens_out"].as_i64(), e.data["cost_micros"].as_i64()),
        (Some(10), Some(20), Some(50))
    );
    assert_eq!(e.data["prompt_id"], "course-outline");
    assert_eq!(e.data["prompt_hash"], g["prompt_hash"]);
    assert_eq!(e.data["model"], "gpt-4o-mini");
    assert!(!e.data.to_string().contains("Fire safety"), "the audit carries no prompt text");

    // A tenant that has not turned AI on gets a 403 problem for the same call, and the
    // refusal is audited.
    let other = tenant(&gw.app, &format!("ai-off-{}", &Uuid::now_v7().simple().to_string()[20..])).await;
    let other_author = gw.app.token(Some(other), &[Role::Author]);
    let res = gw.app.call(Method::POST, &format!("{GW}/generate"), Some(&other_author), Some(body.clone())).await;
    assert_problem(&res, 403, "ai-disabled");
    // A learner may not use authoring features even where AI is on.
    let learner = gw.app.token(Some(gw.tenant), &[Role::Learner]);
    let res = gw.call(Method::POST, "/generate", &learner, Some(body)).await;
    assert_problem(&res, 403, "forbidden");
}

#[tokio::test]
async fn a_bad_structured_answer_is_retried_once_with_the_errors_then_fails_clearly() {
    let gw = Gw::start().await;
    gw.provider("openai", "openai", 5000).await;
    gw.route("authoring.rewrite", &[("openai", "gpt-4o-mini")], json!({ "prompt": "rewrite-block@1.0.0" })).await;
    let input = json!({ "instruction": "Shorter.", "markdown": "A long sentence about exits." });
    let body = json!({ "feature": "authoring.rewrite", "input": input });
    gw.fake.set(|k| {
        k.script.push_back("Sure! Here it is: exits.".into());
        k.script.push_back(json!({ "markdown": "Use the exits." }).to_string());
    });
    let (s, g) = gw.call(Method::POST, "/generate", &gw.author, Some(body.clone())).await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["output"]["markdown"], "Use the exits.");
    assert_eq!(g["tokens_in"], 20, "both rounds are counted");
    let (_, retry) = gw.fake.requests_to("/chat/completions").pop().unwrap();
    let last = retry["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned();
    assert!(last.contains("not valid"), "the retry names what was wrong: {last}");

    gw.fake.set(|k| {
        k.script.push_back(json!({ "text": "wrong shape" }).to_string());
        k.script.push_back(json!({ "markdown": "" }).to_string());
    });
    let res = gw.call(Method::POST, "/generate", &gw.author, Some(body)).await;
    assert_problem(&res, 502, "ai-invalid-output");
    // An input that does not fit the prompt is the caller's field error.
    let res = gw
        .call(
            Method::POST,
            "/generate",
            &gw.author,
            Some(json!({ "feature": "authoring.rewrite", "input": { "markdown": 3 } })),
        )
        .await;
    assert_problem(&res, 422, "validation");
}

#[tokio::test]
async fn concurrent_calls_at_the_edge_of_a_budget_overshoot_by_no_more_than_one_call() {
    let gw = Gw::start().await;
    gw.provider("openai", "openai", 5000).await;
    gw.route("authoring.chat", &[("openai", "gpt-4o-mini")], json!({})).await;
    // Each call reserves about 108 tokens (its text and 100 to generate) and uses 110.
    gw.fake.set(|k| {
        k.usage_in = 10;
        k.usage_out = 100;
    });
    let limit = 1000;
    gw.admin_put("/budgets/authoring.chat/day", json!({ "max_tokens": limit, "degrade_at_percent": 100 })).await;
    let calls = (0..24).map(|i| gw.chat("authoring.chat", if i % 2 == 0 { "hello there" } else { "hi there!!!" }));
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let limited: Vec<&Value> = results.iter().filter(|(s, _)| *s == 429).map(|(_, b)| b).collect();
    assert!(ok >= 1 && !limited.is_empty(), "some pass, some are refused: {ok} ok, {} refused", limited.len());
    assert_eq!(ok + limited.len(), 24, "{results:?}");
    assert!(limited.iter().all(|b| b["type"].as_str().unwrap().ends_with("/rate-limited")));
    let (_, budgets) = gw.call(Method::GET, "/budgets", &gw.admin, None).await;
    let used = budgets[0]["used_tokens"].as_i64().unwrap();
    assert_eq!(used, ok as i64 * 110);
    let one_call = 110;
    assert!(used <= limit + one_call, "used {used} of {limit}: overshoot beyond one call");
    // Once spent, a call is refused with Retry-After until the period resets.
    let res = gw
        .app
        .http
        .post(gw.app.url(&format!("{GW}/chat")))
        .bearer_auth(&gw.author)
        .json(&json!({ "feature": "authoring.chat", "messages": [{ "role": "user", "content": "more" }], "max_tokens": 100 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 86_400, "{retry}");
}

#[tokio::test]
async fn past_a_soft_threshold_calls_degrade_to_the_cheaper_target() {
    let gw = Gw::start().await;
    gw.provider("openai", "openai", 5000).await;
    let cheap = json!({ "provider": "openai", "model": "gpt-4o-nano", "input_micros_per_1k": 100, "output_micros_per_1k": 100 });
    gw.route("authoring.chat", &[("openai", "gpt-4o")], json!({ "degrade": cheap })).await;
    gw.fake.set(|k| k.usage_out = 100);
    // Each call reserves about 106 tokens and uses 110: the first fits under 15% of 1000,
    // the second (110 used + 106) does not.
    gw.admin_put("/budgets/*/month", json!({ "max_tokens": 1000, "degrade_at_percent": 15 })).await;
    let (s, first) = gw.chat("authoring.chat", "hello").await;
    assert_eq!(s, 200, "{first}");
    assert_eq!((first["model"].as_str(), first["decision"].as_str()), (Some("gpt-4o"), Some("allowed")));
    let (s, second) = gw.chat("authoring.chat", "hello again").await;
    assert_eq!(s, 200, "{second}");
    assert_eq!((second["model"].as_str(), second["decision"].as_str()), (Some("gpt-4o-nano"), Some("degraded")));
    let e = gw.audit(second["call_id"].as_str().unwrap()).await;
    assert_eq!(e.data["decision"], "degraded");
    assert!(e.data["reason"].as_str().unwrap().starts_with("budget:*:month"), "{}", e.data);
}

#[tokio::test]
async fn moderation_blocks_by_policy_and_pii_never_reaches_a_cloud_provider() {
    let gw = Gw::start().await;
    gw.provider("openai", "openai", 5000).await;
    gw.route("authoring.chat", &[("openai", "gpt-4o-mini")], json!({})).await;
    gw.route("safety.moderation", &[("openai", "omni-moderation-latest")], json!({})).await;
    gw.fake.set(|k| k.flag_word = Some(("massacre".into(), "violence/graphic".into())));

    let (s, b) = gw.chat("authoring.chat", "Describe the massacre in detail").await;
    assert_eq!(s, 422, "{b}");
    assert!(b["type"].as_str().unwrap().ends_with("/ai-input-blocked"), "{b}");
    assert!(b["detail"].as_str().unwrap().contains("violence/graphic"), "{b}");
    assert!(gw.fake.requests_to("/chat/completions").is_empty(), "a blocked call never reaches the model");

    // A tenant's blocked terms, whole words, ignoring case.
    let policy = json!({ "blocked_categories": ["violence/graphic"], "blocked_terms": ["Project Falcon"], "redact_pii": true, "moderate_output": true });
    gw.admin_put("/policy", policy).await;
    let (s, b) = gw.chat("authoring.chat", "what is project falcon?").await;
    assert_eq!(s, 422, "{b}");

    // PII is replaced before the payload leaves, and put back in the answer (the fake echoes).
    let text = "Email jane.doe@example.com or call +1 415 555 0199 about card 4111 1111 1111 1111.";
    let (s, b) = gw.chat("authoring.chat", text).await;
    assert_eq!(s, 200, "{b}");
    let sent = gw.fake.all_bodies();
    for secret in ["jane.doe@example.com", "example.com", "555 0199", "4111 1111"] {
        assert!(!sent.contains(secret), "`{secret}` reached the provider: {sent}");
    }
    assert!(sent.contains("[EMAIL_1]"), "{sent}");
    assert_eq!(b["text"], format!("You said: {text}"), "restored in the answer");
    let e = gw.audit(b["call_id"].as_str().unwrap()).await;
    assert_eq!(e.data["redacted"], true);

    // The answer is moderated too: an echo of a flagged word is blocked on the way out.
    gw.fake.set(|k| {
        k.flag_word = Some(("massacre".into(), "violence/graphic".into()));
        k.answer = "a massacre happened".into();
    });
    // The input is fine; only the answer is flagged.
    let (s, b) = gw.chat("authoring.chat", "tell me a story").await;
    assert_eq!(s, 422, "{b}");
    assert!(b["type"].as_str().unwrap().ends_with("/ai-output-blocked"), "{b}");
}

#[tokio::test]
async fn a_timeout_falls_back_to_the_next_target_and_an_open_circuit_is_a_fast_503() {
    let gw = Gw::start().await;
    gw.provider("slowai", "openai", 300).await;
    gw.provider("backup", "anthropic", 5000).await;
    gw.fake.set(|k| {
        k.slow.insert("slow-model".into(), Duration::from_secs(3));
    });
    gw.route("authoring.chat", &[("slowai", "slow-model"), ("backup", "claude-haiku")], json!({})).await;
    let (s, b) = gw.chat("authoring.chat", "hello").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["provider"].as_str(), b["model"].as_str(), b["fallback"].as_bool()),
        (Some("backup"), Some("claude-haiku"), Some(true))
    );
    let e = gw.audit(b["call_id"].as_str().unwrap()).await;
    assert_eq!(e.data["fallback"], true);

    // Only the failing provider: 503 problems (never a hang), then the circuit opens and
    // calls are refused at once.
    gw.fake.set(|k| {
        k.failing.insert("down-model".into(), 503);
    });
    gw.route("authoring.solo", &[("slowai", "down-model")], json!({})).await;
    // The breaker counts failed attempts (3 per call with 2 retries): by the third call it is open.
    for _ in 0..2 {
        let res = gw.chat("authoring.solo", "hello").await;
        assert_eq!(res.0, 503, "{res:?}");
    }
    let started = Instant::now();
    let res = gw
        .app
        .http
        .post(gw.app.url(&format!("{GW}/chat")))
        .bearer_auth(&gw.author)
        .json(&json!({ "feature": "authoring.solo", "messages": [{ "role": "user", "content": "hello" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert!(body["type"].as_str().unwrap().ends_with("/ai-unavailable"), "{body}");
    assert!(started.elapsed() < Duration::from_millis(250), "an open circuit answers at once");
    // The other provider's circuit is its own.
    let (s, _) = gw.chat("authoring.chat", "still there?").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn anthropic_and_gemini_answer_in_their_own_wire_formats_and_stream_over_sse() {
    let gw = Gw::start().await;
    gw.provider("claude", "anthropic", 5000).await;
    gw.provider("gemini", "gemini", 5000).await;
    gw.provider("openai", "openai", 5000).await;
    gw.route("authoring.claude", &[("claude", "claude-sonnet-4-5")], json!({})).await;
    gw.route("authoring.gemini", &[("gemini", "gemini-2.5-flash")], json!({})).await;
    gw.route("authoring.openai", &[("openai", "gpt-4o-mini")], json!({})).await;
    for (feature, path, key_header) in [
        ("authoring.claude", "/v1/messages", "x-api-key: sk-secret-claude"),
        ("authoring.gemini", "gemini-2.5-flash:generateContent", "x-goog-api-key: sk-secret-gemini"),
    ] {
        let (s, b) = gw.chat(feature, "Bonjour").await;
        assert_eq!(s, 200, "{feature}: {b}");
        assert_eq!(b["text"], "You said: Bonjour");
        assert_eq!((b["tokens_in"].as_i64(), b["tokens_out"].as_i64()), (Some(10), Some(20)));
        let (headers, _) = gw.fake.requests_to(path).pop().unwrap();
        assert!(headers.contains(key_header), "{feature}: {headers}");
    }

    let long = "Tell me, in a fair number of words, about fire exits and assembly points.";
    for feature in ["authoring.claude", "authoring.gemini", "authoring.openai"] {
        let res = gw
            .app
            .http
            .post(gw.app.url(&format!("{GW}/chat/stream")))
            .bearer_auth(&gw.author)
            .header("idempotency-key", format!("stream-{feature}"))
            .json(&json!({ "feature": feature, "messages": [{ "role": "system", "content": "Be brief." }, { "role": "user", "content": long }] }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{feature}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let events = sse_events(res).await;
        assert_eq!(events.first().map(|e| e.0.as_str()), Some("meta"), "{feature}: {events:?}");
        let deltas: Vec<&Value> = events.iter().filter(|e| e.0 == "delta").map(|e| &e.1).collect();
        assert!(deltas.len() > 3, "{feature}: streamed in pieces: {events:?}");
        let text: String = deltas.iter().map(|d| d["text"].as_str().unwrap()).collect();
        assert_eq!(text, format!("You said: {long}"), "{feature}");
        let done = &events.last().unwrap();
        assert_eq!(done.0, "done", "{feature}: {events:?}");
        assert_eq!((done.1["tokens_in"].as_i64(), done.1["tokens_out"].as_i64()), (Some(10), Some(20)), "{feature}");
        let e = gw.audit(done.1["call_id"].as_str().unwrap()).await;
        assert_eq!(e.data["tokens_out"], 20);
        assert!(e.traceparent.is_some(), "{feature}: the stream's audit carries the request's trace");
    }
    // Anthropic takes the system prompt apart from the turns.
    let (_, sent) = gw.fake.requests_to("/v1/messages").pop().unwrap();
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(sent["messages"].as_array().unwrap().len(), 1);

    // Embeddings through OpenAI's and Gemini's formats; Anthropic has none.
    gw.route("search.semantic", &[("claude", "none"), ("gemini", "text-embedding-004")], json!({})).await;
    enable(&gw.app, gw.tenant, "ai.semantic_search").await;
    let body = json!({ "feature": "search.semantic", "input": ["fire exit", "assembly point"] });
    let (s, b) = gw.call(Method::POST, "/embeddings", &gw.author, Some(body)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    assert_eq!(b["model"], "text-embedding-004");
}

#[tokio::test]
async fn provider_keys_are_sealed_never_shown_and_configuration_is_the_admins_alone() {
    let gw = Gw::start().await;
    gw.provider("openai", "openai", 5000).await;
    let (s, list) = gw.call(Method::GET, "/providers", &gw.admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(list[0]["has_key"], true);
    assert!(!list.to_string().contains("sk-secret"), "{list}");
    let mut db = PgConnection::connect(&mirai_testkit::url_for_db(&gw.app.database)).await.unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key_ciphertext FROM ai_gateway.providers WHERE tenant_id = $1")
        .bind(gw.tenant)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains("sk-secret"));
    // Updating without a key keeps the stored one.
    gw.admin_put("/providers/openai", json!({ "kind": "openai", "base_url": format!("{}/v1", gw.fake.url) })).await;
    gw.route("authoring.chat", &[("openai", "gpt-4o-mini")], json!({})).await;
    let (s, _) = gw.chat("authoring.chat", "hi").await;
    assert_eq!(s, 200);
    let (headers, _) = gw.fake.requests_to("/chat/completions").pop().unwrap();
    assert!(headers.contains("Bearer sk-secret-openai"));
    // A provider a route uses cannot be removed.
    let res = gw.call(Method::DELETE, "/providers/openai", &gw.admin, None).await;
    assert_problem(&res, 409, "conflict");
    // Authors call; they do not configure.
    let res = gw
        .call(
            Method::PUT,
            "/policy",
            &gw.author,
            Some(json!({ "blocked_categories": [], "redact_pii": false, "moderate_output": false })),
        )
        .await;
    assert_problem(&res, 403, "forbidden");
    // A URL to a metadata endpoint or with credentials is refused.
    for bad in [
        "http://169.254.169.254/latest",
        "http://[::ffff:169.254.169.254]/",
        "https://user:pw@api.openai.com/v1",
        "ftp://x",
    ] {
        let res =
            gw.call(Method::PUT, "/providers/bad", &gw.admin, Some(json!({ "kind": "openai", "base_url": bad }))).await;
        assert_problem(&res, 422, "validation");
    }
    // A stored key is not sent to a new place without being sent again.
    let moved = json!({ "kind": "openai", "base_url": "https://collector.example/v1" });
    let res = gw.call(Method::PUT, "/providers/openai", &gw.admin, Some(moved)).await;
    assert_problem(&res, 422, "validation");
    // A model name cannot climb out of the vendor's path.
    let res = gw
        .call(
            Method::PUT,
            "/routes/authoring.x",
            &gw.admin,
            Some(json!({ "targets": [{ "provider": "openai", "model": "models/../../v1/files?x#" }] })),
        )
        .await;
    assert_problem(&res, 422, "validation");
    // A route names existing providers and a registered prompt.
    let res = gw
        .call(
            Method::PUT,
            "/routes/authoring.x",
            &gw.admin,
            Some(json!({ "targets": [{ "provider": "nope", "model": "m" }] })),
        )
        .await;
    assert_problem(&res, 422, "validation");
    let res = gw
        .call(
            Method::PUT,
            "/routes/authoring.x",
            &gw.admin,
            Some(json!({ "targets": [{ "provider": "openai", "model": "m" }], "prompt": "nope@1.0.0" })),
        )
        .await;
    assert_problem(&res, 422, "validation");
    // Without a route, a call says how to set one.
    let res = gw.chat("authoring.unrouted", "hi").await;
    assert_problem(&res, 409, "ai-no-route");
}

/// Publishes a course of `lessons` (title, text) for `tenant` on authoring's stream, as
/// authoring would.
#[allow(clippy::disallowed_methods)]
async fn publish_course(app: &TestApp, tenant: Uuid, lessons: &[(&str, &str)]) -> Vec<Uuid> {
    publish_course_as(app, tenant, "tenant", lessons).await
}

#[allow(clippy::disallowed_methods)]
async fn publish_course_as(app: &TestApp, tenant: Uuid, visibility: &str, lessons: &[(&str, &str)]) -> Vec<Uuid> {
    let ids: Vec<Uuid> = lessons.iter().map(|_| Uuid::now_v7()).collect();
    let outline = json!([{ "module_id": Uuid::now_v7(), "title": "Module", "lessons": lessons.iter().zip(&ids).map(|((title, text), id)| json!({
        "lesson_id": id, "title": title, "blocks": [{ "block_id": Uuid::now_v7(), "kind": "text", "text": text }]
    })).collect::<Vec<_>>() }]);
    let data = json!({ "tenant_id": tenant, "course_id": Uuid::now_v7(), "version": 1, "title": "Mixed course",
        "summary": "Several topics", "locale": "en-US", "tags": [], "visibility": visibility,
        "content_hash": format!("sha256:{}", "3f".repeat(32)), "outline": outline, "published_at": "2026-12-01T10:00:00Z" });
    let event: mirai_events::NewEvent =
        serde_json::from_value::<mirai_contracts::events::authoring::CoursePublished>(data).unwrap().into();
    let bus = mirai_testkit::bus(&app.prefix).await;
    bus.ensure_stream("authoring").await.unwrap();
    let envelope = event.into_envelope("authoring", &mirai_events::EventMeta::default());
    let subject = bus.subject(&envelope.kind);
    bus.js.publish(subject, serde_json::to_vec(&envelope).unwrap().into()).await.unwrap().await.unwrap();
    ids
}

#[tokio::test]
async fn semantic_search_with_the_local_model_ranks_the_related_lesson_first_in_the_tenant_only() {
    let gw = Gw::start().await;
    let lessons = [
        ("Revenue recognition", "Recognise revenue when control of goods passes to the customer, under IFRS 15."),
        (
            "Fire evacuation",
            "When the alarm sounds, leave by the nearest marked exit and gather at the assembly point outside.",
        ),
        ("Strong passwords", "Use a password manager and a long passphrase; never reuse a password across sites."),
        ("Giving feedback", "Describe the situation, the behaviour and its impact; keep it specific and kind."),
    ];
    let ids = publish_course(&gw.app, gw.tenant, &lessons).await;
    // A private course is for its authors: never in what every member may query.
    let private = publish_course_as(
        &gw.app,
        gw.tenant,
        "private",
        &[("Fire wardens only", "Wardens sweep each floor when the fire alarm sounds.")],
    )
    .await;
    // Another tenant's lesson on the very same topic must never show up.
    let other = tenant(&gw.app, &format!("ai-other-{}", &Uuid::now_v7().simple().to_string()[20..])).await;
    let other_ids =
        publish_course(&gw.app, other, &[("Fire drill", "When the fire alarm rings, walk out by the nearest exit.")])
            .await;

    let body = json!({ "query": "what should I do if there is a fire in the building?" });
    let res = gw.call(Method::POST, "/similar", &gw.author, Some(body.clone())).await;
    assert_problem(&res, 403, "ai-disabled");
    enable(&gw.app, gw.tenant, "ai.semantic_search").await;
    let hits = poll("the lessons are embedded", Duration::from_secs(60), || async {
        let (s, b) = gw.call(Method::POST, "/similar", &gw.author, Some(body.clone())).await;
        (s == 200 && b["data"].as_array().is_some_and(|d| d.len() == lessons.len())).then_some(b)
    })
    .await;
    assert_eq!(hits["model"], "all-MiniLM-L6-v2");
    let data = hits["data"].as_array().unwrap();
    assert_eq!(data[0]["source_id"], json!(ids[1]), "the fire lesson first: {hits}");
    assert!(data[0]["score"].as_f64().unwrap() > data[1]["score"].as_f64().unwrap() + 0.1, "by a margin: {hits}");
    assert!(!hits.to_string().contains(&other_ids[0].to_string()), "only the caller's tenant");
    assert!(!hits.to_string().contains(&private[0].to_string()), "no private course");
    let body = json!({ "query": "how do I pick a secure password", "limit": 1 });
    let (_, b) = gw.call(Method::POST, "/similar", &gw.author, Some(body)).await;
    assert_eq!(b["data"][0]["source_id"], json!(ids[2]), "{b}");

    // The local model also serves the embeddings API with no vendor configured.
    gw.route("search.semantic", &[("local", "all-MiniLM-L6-v2")], json!({})).await;
    let body = json!({ "feature": "search.semantic", "input": ["fire exit"] });
    let (s, b) = gw.call(Method::POST, "/embeddings", &gw.author, Some(body)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"][0].as_array().unwrap().len(), 384);
    assert_eq!(b["cost_micros"], 0);
}
