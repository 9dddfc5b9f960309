//! Google's Generative Language API: `POST {base}/v1beta/models/{model}:generateContent`
//! (and `:streamGenerateContent?alt=sse`, each SSE `data:` a whole response with the usage
//! so far) with `x-goog-api-key`; `:batchEmbedContents` for vectors. Errors are
//! `{"error": {"code", "message", "status"}}`. A safety stop (`finishReason` SAFETY,
//! PROHIBITED_CONTENT, BLOCKLIST, SPII, or a `promptFeedback.blockReason`) is a refusal.

use serde_json::{Value, json};

use super::{ChatRequest, Chunk, ChunkStream, Completion, Endpoint, ProviderError, Role, json_body, send, sse_chunks};

fn message_of(v: &Value) -> Option<String> {
    let e = &v["error"];
    e["message"].as_str().map(|m| match e["status"].as_str() {
        Some(s) => format!("{s}: {m}"),
        None => m.to_owned(),
    })
}

fn model_path(model: &str) -> String {
    if model.starts_with("models/") { model.to_owned() } else { format!("models/{model}") }
}

fn request(http: &reqwest::Client, ep: &Endpoint, url: String, body: &Value) -> reqwest::RequestBuilder {
    let mut req = http.post(url).json(body);
    if let Some(key) = &ep.api_key {
        req = req.header("x-goog-api-key", key);
    }
    req
}

fn body(req: &ChatRequest) -> Value {
    let contents: Vec<Value> = req
        .turns()
        .map(|m| json!({ "role": if m.role == Role::Assistant { "model" } else { "user" }, "parts": [{ "text": m.content }] }))
        .collect();
    let mut config = json!({ "maxOutputTokens": req.max_tokens });
    if let Some(t) = req.temperature {
        config["temperature"] = json!(t);
    }
    if let Some(schema) = &req.json_schema {
        config["responseMimeType"] = json!("application/json");
        config["responseJsonSchema"] = schema.clone();
    }
    let mut b = json!({ "contents": contents, "generationConfig": config });
    if let Some(system) = req.system() {
        b["systemInstruction"] = json!({ "parts": [{ "text": system }] });
    }
    b
}

fn refusal(v: &Value) -> Option<String> {
    if let Some(r) = v["promptFeedback"]["blockReason"].as_str() {
        return Some(format!("the prompt was blocked ({r})"));
    }
    match v["candidates"][0]["finishReason"].as_str() {
        Some(r @ ("SAFETY" | "PROHIBITED_CONTENT" | "BLOCKLIST" | "SPII" | "RECITATION")) => {
            Some(format!("the answer was stopped ({r})"))
        }
        _ => None,
    }
}

/// What Gemini bills as output: the answer's tokens and the thinking tokens.
fn output_tokens(usage: &Value) -> Option<i64> {
    let answer = usage["candidatesTokenCount"].as_i64();
    let thoughts = usage["thoughtsTokenCount"].as_i64();
    match (answer, thoughts) {
        (None, None) => None,
        (a, t) => Some(a.unwrap_or(0).max(0).saturating_add(t.unwrap_or(0).max(0))),
    }
}

fn text_of(v: &Value) -> String {
    v["candidates"][0]["content"]["parts"]
        .as_array()
        .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect())
        .unwrap_or_default()
}

pub async fn chat(http: &reqwest::Client, ep: &Endpoint, req: &ChatRequest) -> Result<Completion, ProviderError> {
    let url = format!("{}/v1beta/{}:generateContent", ep.base_url, model_path(&req.model));
    let res = send(request(http, ep, url, &body(req)), ep.timeout, message_of).await?;
    let v = json_body(res, ep.timeout).await?;
    if v["candidates"].as_array().is_none_or(|c| c.is_empty()) && v["promptFeedback"].is_null() {
        return Err(ProviderError::Malformed("no candidates".into()));
    }
    Ok(Completion {
        text: text_of(&v),
        tokens_in: v["usageMetadata"]["promptTokenCount"].as_i64().unwrap_or(0),
        tokens_out: output_tokens(&v["usageMetadata"]).unwrap_or(0),
        refusal: refusal(&v),
    })
}

pub async fn chat_stream(
    http: &reqwest::Client,
    ep: &Endpoint,
    req: &ChatRequest,
) -> Result<ChunkStream, ProviderError> {
    let url = format!("{}/v1beta/{}:streamGenerateContent?alt=sse", ep.base_url, model_path(&req.model));
    let res = send(request(http, ep, url, &body(req)), ep.timeout, message_of).await?;
    Ok(sse_chunks(res, chunk, |_| false))
}

fn chunk(_event: Option<&str>, data: &str) -> Result<Vec<Chunk>, ProviderError> {
    let v: Value = serde_json::from_str(data).map_err(|e| ProviderError::Malformed(e.to_string()))?;
    if let Some(m) = message_of(&v) {
        return Err(ProviderError::Retryable(format!("stream error: {m}")));
    }
    let mut out = Vec::new();
    let text = text_of(&v);
    if !text.is_empty() {
        out.push(Chunk::Text(text));
    }
    if let Some(r) = refusal(&v) {
        out.push(Chunk::Refused(r));
    }
    if v["usageMetadata"].is_object() {
        out.push(Chunk::Usage {
            tokens_in: v["usageMetadata"]["promptTokenCount"].as_i64(),
            tokens_out: output_tokens(&v["usageMetadata"]),
        });
    }
    Ok(out)
}

pub async fn embed(
    http: &reqwest::Client,
    ep: &Endpoint,
    model: &str,
    inputs: &[String],
) -> Result<(Vec<Vec<f32>>, i64), ProviderError> {
    let model = model_path(model);
    let requests: Vec<Value> =
        inputs.iter().map(|t| json!({ "model": model, "content": { "parts": [{ "text": t }] } })).collect();
    let url = format!("{}/v1beta/{model}:batchEmbedContents", ep.base_url);
    let res = send(request(http, ep, url, &json!({ "requests": requests })), ep.timeout, message_of).await?;
    let v = json_body(res, ep.timeout).await?;
    let rows = v["embeddings"].as_array().ok_or_else(|| ProviderError::Malformed("no embeddings".into()))?;
    let vectors = rows
        .iter()
        .map(|e| serde_json::from_value::<Vec<f32>>(e["values"].clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProviderError::Malformed(format!("embedding: {e}")))?;
    if vectors.len() != inputs.len() {
        return Err(ProviderError::Malformed(format!("{} embeddings for {} inputs", vectors.len(), inputs.len())));
    }
    // The batch API reports no usage: count roughly as the budget estimates.
    let tokens = inputs.iter().map(|t| crate::safety::estimate_tokens(t)).sum();
    Ok((vectors, tokens))
}
