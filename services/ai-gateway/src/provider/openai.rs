//! The OpenAI-compatible wire format: `POST {base}/chat/completions` (streamed as SSE
//! `data:` chunks ending in `[DONE]`, usage in a last chunk when asked with
//! `stream_options.include_usage`), `POST {base}/embeddings`, `POST {base}/moderations`.
//! Errors are `{"error": {"message", "type", "code"}}`.

use serde_json::{Value, json};

use super::{ChatRequest, Chunk, ChunkStream, Completion, Endpoint, ProviderError, json_body, send, sse_chunks};

fn message_of(v: &Value) -> Option<String> {
    v["error"]["message"].as_str().or_else(|| v["error"].as_str()).map(str::to_owned)
}

fn request(http: &reqwest::Client, ep: &Endpoint, path: &str, body: &Value) -> reqwest::RequestBuilder {
    let mut req = http.post(format!("{}/{path}", ep.base_url)).json(body);
    if let Some(key) = &ep.api_key {
        req = req.bearer_auth(key);
        // Azure OpenAI's v1 endpoint takes its key in `api-key`.
        if ep.base_url.contains(".openai.azure.com") {
            req = req.header("api-key", key);
        }
    }
    req
}

fn body(req: &ChatRequest, stream: bool) -> Value {
    let messages: Vec<Value> = req.messages.iter().map(|m| json!({ "role": m.role, "content": m.content })).collect();
    let mut b = json!({ "model": req.model, "messages": messages, "max_tokens": req.max_tokens });
    if let Some(t) = req.temperature {
        b["temperature"] = json!(t);
    }
    if let Some(schema) = &req.json_schema {
        b["response_format"] =
            json!({ "type": "json_schema", "json_schema": { "name": "output", "schema": schema, "strict": false } });
    }
    if stream {
        b["stream"] = json!(true);
        b["stream_options"] = json!({ "include_usage": true });
    }
    b
}

pub async fn chat(http: &reqwest::Client, ep: &Endpoint, req: &ChatRequest) -> Result<Completion, ProviderError> {
    let res = send(request(http, ep, "chat/completions", &body(req, false)), ep.timeout, message_of).await?;
    let v = json_body(res, ep.timeout).await?;
    let choice = &v["choices"][0];
    if choice.is_null() {
        return Err(ProviderError::Malformed("no choices".into()));
    }
    let refusal = choice["message"]["refusal"].as_str().filter(|r| !r.is_empty()).map(str::to_owned);
    let refusal = refusal.or_else(|| {
        (choice["finish_reason"] == "content_filter").then(|| "the provider's content filter stopped the answer".into())
    });
    Ok(Completion {
        text: choice["message"]["content"].as_str().unwrap_or_default().to_owned(),
        tokens_in: v["usage"]["prompt_tokens"].as_i64().unwrap_or(0),
        tokens_out: v["usage"]["completion_tokens"].as_i64().unwrap_or(0),
        refusal,
    })
}

pub async fn chat_stream(
    http: &reqwest::Client,
    ep: &Endpoint,
    req: &ChatRequest,
) -> Result<ChunkStream, ProviderError> {
    let res = send(request(http, ep, "chat/completions", &body(req, true)), ep.timeout, message_of).await?;
    Ok(sse_chunks(res, chunk, |d| d.trim() == "[DONE]"))
}

fn chunk(_event: Option<&str>, data: &str) -> Result<Vec<Chunk>, ProviderError> {
    let v: Value = serde_json::from_str(data).map_err(|e| ProviderError::Malformed(e.to_string()))?;
    if let Some(m) = message_of(&v) {
        return Err(ProviderError::Retryable(format!("stream error: {m}")));
    }
    let mut out = Vec::new();
    let choice = &v["choices"][0];
    if let Some(t) = choice["delta"]["content"].as_str().filter(|t| !t.is_empty()) {
        out.push(Chunk::Text(t.to_owned()));
    }
    if let Some(r) = choice["delta"]["refusal"].as_str().filter(|t| !t.is_empty()) {
        out.push(Chunk::Refused(r.to_owned()));
    }
    if choice["finish_reason"] == "content_filter" {
        out.push(Chunk::Refused("the provider's content filter stopped the answer".into()));
    }
    if v["usage"].is_object() {
        out.push(Chunk::Usage {
            tokens_in: v["usage"]["prompt_tokens"].as_i64(),
            tokens_out: v["usage"]["completion_tokens"].as_i64(),
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
    let res =
        send(request(http, ep, "embeddings", &json!({ "model": model, "input": inputs })), ep.timeout, message_of)
            .await?;
    let v = json_body(res, ep.timeout).await?;
    let mut rows: Vec<(usize, Vec<f32>)> = Vec::new();
    for d in v["data"].as_array().ok_or_else(|| ProviderError::Malformed("no data".into()))? {
        let index = d["index"].as_u64().unwrap_or(rows.len() as u64) as usize;
        let vector = serde_json::from_value::<Vec<f32>>(d["embedding"].clone())
            .map_err(|e| ProviderError::Malformed(format!("embedding: {e}")))?;
        rows.push((index, vector));
    }
    rows.sort_by_key(|(i, _)| *i);
    if rows.len() != inputs.len() {
        return Err(ProviderError::Malformed(format!("{} embeddings for {} inputs", rows.len(), inputs.len())));
    }
    let tokens = v["usage"]["prompt_tokens"].as_i64().or_else(|| v["usage"]["total_tokens"].as_i64()).unwrap_or(0);
    Ok((rows.into_iter().map(|(_, v)| v).collect(), tokens))
}

pub async fn moderate(
    http: &reqwest::Client,
    ep: &Endpoint,
    model: &str,
    input: &str,
) -> Result<Vec<String>, ProviderError> {
    let res =
        send(request(http, ep, "moderations", &json!({ "model": model, "input": input })), ep.timeout, message_of)
            .await?;
    let v = json_body(res, ep.timeout).await?;
    let mut flagged = Vec::new();
    for r in v["results"].as_array().ok_or_else(|| ProviderError::Malformed("no results".into()))? {
        if let Some(cats) = r["categories"].as_object() {
            flagged.extend(cats.iter().filter(|(_, on)| on.as_bool() == Some(true)).map(|(k, _)| k.clone()));
        }
    }
    flagged.sort();
    flagged.dedup();
    Ok(flagged)
}
