//! A local model vendor speaking OpenAI's, Anthropic's and Gemini's real wire formats
//! (JSON answers, SSE streams, error bodies), with knobs for what it answers: scripted
//! answers, a delay per model, a failing status, moderation flags. It records every
//! request it receives, so tests can see exactly what left the platform.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

#[derive(Default)]
pub struct Knobs {
    /// Answers handed out in order (then `answer`).
    pub script: VecDeque<String>,
    /// The answer when the script is empty; `ECHO` answers with the last user message.
    pub answer: String,
    /// Models that answer only after this long.
    pub slow: HashMap<String, Duration>,
    /// Models that fail with this status and vendor error body.
    pub failing: HashMap<String, u16>,
    /// Moderation flags this category when the input contains the word.
    pub flag_word: Option<(String, String)>,
    pub usage_in: i64,
    pub usage_out: i64,
}

#[derive(Clone)]
pub struct Fake {
    pub knobs: Arc<Mutex<Knobs>>,
    /// (path, headers as "name: value" lines, body) of every request.
    pub seen: Arc<Mutex<Vec<(String, String, Value)>>>,
    pub url: String,
}

impl Fake {
    pub async fn start() -> Fake {
        let knobs = Knobs { answer: "ECHO".into(), usage_in: 10, usage_out: 20, ..Knobs::default() };
        let fake = Fake { knobs: Arc::new(Mutex::new(knobs)), seen: Arc::default(), url: String::new() };
        let app = Router::new()
            .route("/v1/chat/completions", post(openai_chat))
            .route("/v1/embeddings", post(openai_embeddings))
            .route("/v1/moderations", post(openai_moderations))
            .route("/v1/messages", post(anthropic_messages))
            .route("/v1beta/models/{call}", post(gemini))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { url, ..fake }
    }

    pub fn set(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut self.knobs.lock().unwrap());
    }

    /// Every request body as text, for "did X leave the platform" checks.
    pub fn all_bodies(&self) -> String {
        self.seen.lock().unwrap().iter().map(|(_, _, b)| b.to_string()).collect::<Vec<_>>().join("\n")
    }

    pub fn requests_to(&self, path_part: &str) -> Vec<(String, Value)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p.contains(path_part))
            .map(|(_, h, b)| (h.clone(), b.clone()))
            .collect()
    }

    fn record(&self, path: &str, headers: &HeaderMap, body: &Value) {
        let h =
            headers.iter().map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or(""))).collect::<Vec<_>>().join("\n");
        self.seen.lock().unwrap().push((path.to_owned(), h, body.clone()));
    }

    /// What to do for `model`: Err(status) to fail; the delay; the answer text.
    fn plan(&self, model: &str, last_user: &str) -> (Result<String, u16>, Duration, i64, i64) {
        let mut k = self.knobs.lock().unwrap();
        let delay = k.slow.get(model).copied().unwrap_or_default();
        if let Some(s) = k.failing.get(model) {
            return (Err(*s), delay, 0, 0);
        }
        let answer = k.script.pop_front().unwrap_or_else(|| k.answer.clone());
        let text = if answer == "ECHO" { format!("You said: {last_user}") } else { answer };
        (Ok(text), delay, k.usage_in, k.usage_out)
    }
}

fn last_user(messages: &Value, key: &str) -> String {
    messages
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .map(|m| match key {
            "parts" => m["parts"][0]["text"].as_str().unwrap_or_default().to_owned(),
            _ => m["content"].as_str().unwrap_or_default().to_owned(),
        })
        .unwrap_or_default()
}

fn sse_body(frames: Vec<String>) -> Response {
    let stream = futures::stream::iter(frames.into_iter().map(Ok::<_, Infallible>));
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(futures::StreamExt::then(stream, |f| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            f
        })))
        .unwrap()
}

/// Splits `text` into a few chunks, as a model streams.
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(7).map(|c| c.iter().collect()).collect()
}

async fn openai_chat(State(f): State<Fake>, headers: HeaderMap, axum::Json(body): axum::Json<Value>) -> Response {
    f.record("/v1/chat/completions", &headers, &body);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let (answer, delay, tin, tout) = f.plan(&model, &last_user(&body["messages"], "content"));
    tokio::time::sleep(delay).await;
    let text = match answer {
        Err(status) => {
            let err =
                json!({ "error": { "message": "The server is overloaded", "type": "server_error", "code": null } });
            return (StatusCode::from_u16(status).unwrap(), axum::Json(err)).into_response();
        }
        Ok(t) => t,
    };
    if body["stream"] == true {
        let mut frames: Vec<String> = pieces(&text)
            .into_iter()
            .map(|p| {
                let chunk = json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
                    "choices": [{ "index": 0, "delta": { "content": p }, "finish_reason": null }] });
                format!("data: {chunk}\n\n")
            })
            .collect();
        let last = json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
            "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }] });
        frames.push(format!("data: {last}\n\n"));
        let usage = json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model, "choices": [],
            "usage": { "prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout } });
        frames.push(format!("data: {usage}\n\n"));
        frames.push("data: [DONE]\n\n".into());
        return sse_body(frames);
    }
    axum::Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text, "refusal": null }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout }
    }))
    .into_response()
}

/// A deterministic vector: counts of a few letters, so equal texts get equal vectors.
fn vector(text: &str) -> Vec<f32> {
    "aeiou".chars().map(|c| text.matches(c).count() as f32).collect()
}

async fn openai_embeddings(State(f): State<Fake>, headers: HeaderMap, axum::Json(body): axum::Json<Value>) -> Response {
    f.record("/v1/embeddings", &headers, &body);
    let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap_or_default();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({ "object": "embedding", "index": i, "embedding": vector(t) }))
        .collect();
    axum::Json(json!({ "object": "list", "data": data, "model": body["model"], "usage": { "prompt_tokens": 7, "total_tokens": 7 } }))
        .into_response()
}

async fn openai_moderations(
    State(f): State<Fake>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    f.record("/v1/moderations", &headers, &body);
    let input = body["input"].as_str().unwrap_or_default().to_lowercase();
    let flag = f.knobs.lock().unwrap().flag_word.clone();
    let mut categories =
        json!({ "harassment": false, "violence": false, "violence/graphic": false, "self-harm/instructions": false });
    let mut flagged = false;
    if let Some((word, category)) = flag
        && input.contains(&word)
    {
        categories[category] = json!(true);
        flagged = true;
    }
    axum::Json(json!({ "id": "modr-1", "model": "omni-moderation-latest",
        "results": [{ "flagged": flagged, "categories": categories, "category_scores": {} }] }))
    .into_response()
}

async fn anthropic_messages(
    State(f): State<Fake>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    f.record("/v1/messages", &headers, &body);
    if headers.get("anthropic-version").is_none() {
        let err = json!({ "type": "error", "error": { "type": "invalid_request_error", "message": "anthropic-version header is required" } });
        return (StatusCode::BAD_REQUEST, axum::Json(err)).into_response();
    }
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let (answer, delay, tin, tout) = f.plan(&model, &last_user(&body["messages"], "content"));
    tokio::time::sleep(delay).await;
    let text = match answer {
        Err(status) => {
            let err = json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } });
            return (StatusCode::from_u16(status).unwrap(), axum::Json(err)).into_response();
        }
        Ok(t) => t,
    };
    if body["stream"] == true {
        let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
        let mut frames = vec![ev(
            "message_start",
            json!({ "type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": model,
            "stop_reason": null, "usage": { "input_tokens": tin, "output_tokens": 1 } } }),
        )];
        frames.push(ev(
            "content_block_start",
            json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
        ));
        frames.push(ev("ping", json!({ "type": "ping" })));
        for p in pieces(&text) {
            frames.push(ev(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": p } }),
            ));
        }
        frames.push(ev("content_block_stop", json!({ "type": "content_block_stop", "index": 0 })));
        frames.push(ev("message_delta", json!({ "type": "message_delta", "delta": { "stop_reason": "end_turn", "stop_sequence": null }, "usage": { "output_tokens": tout } })));
        frames.push(ev("message_stop", json!({ "type": "message_stop" })));
        return sse_body(frames);
    }
    axum::Json(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": model,
        "content": [{ "type": "text", "text": text }], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": { "input_tokens": tin, "output_tokens": tout }
    }))
    .into_response()
}

async fn gemini(
    State(f): State<Fake>,
    Path(call): Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    f.record(&format!("/v1beta/models/{call}"), &headers, &body);
    let (model, action) = call.split_once(':').unwrap_or((&call, ""));
    if action == "batchEmbedContents" {
        let embeddings: Vec<Value> = body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!({ "values": vector(r["content"]["parts"][0]["text"].as_str().unwrap_or_default()) }))
            .collect();
        return axum::Json(json!({ "embeddings": embeddings })).into_response();
    }
    let (answer, delay, tin, tout) = f.plan(model, &last_user(&body["contents"], "parts"));
    tokio::time::sleep(delay).await;
    let text = match answer {
        Err(status) => {
            let err =
                json!({ "error": { "code": status, "message": "The model is overloaded.", "status": "UNAVAILABLE" } });
            return (StatusCode::from_u16(status).unwrap(), axum::Json(err)).into_response();
        }
        Ok(t) => t,
    };
    let response = |t: &str, finish: Option<&str>, usage: Value| {
        let mut c = json!({ "content": { "parts": [{ "text": t }], "role": "model" }, "index": 0 });
        if let Some(fin) = finish {
            c["finishReason"] = json!(fin);
        }
        json!({ "candidates": [c], "usageMetadata": usage, "modelVersion": model })
    };
    if action == "streamGenerateContent" {
        let parts = pieces(&text);
        let n = parts.len();
        let frames = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let last = i + 1 == n;
                let usage = json!({ "promptTokenCount": tin, "candidatesTokenCount": if last { tout } else { i as i64 + 1 }, "totalTokenCount": tin + tout });
                format!("data: {}\r\n\r\n", response(&p, last.then_some("STOP"), usage))
            })
            .collect();
        return sse_body(frames);
    }
    axum::Json(response(
        &text,
        Some("STOP"),
        json!({ "promptTokenCount": tin, "candidatesTokenCount": tout, "totalTokenCount": tin + tout }),
    ))
    .into_response()
}
