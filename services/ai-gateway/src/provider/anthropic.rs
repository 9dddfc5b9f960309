//! Anthropic's Messages API: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version`; streamed as named SSE events (`message_start` with the input
//! tokens, `content_block_delta` text, `message_delta` with the stop reason and output
//! tokens, `error`). Errors are `{"type": "error", "error": {"type", "message"}}`; 529 is
//! "overloaded". Structured output is asked for in the system prompt and validated by the
//! gateway like every other vendor's.

use serde_json::{Value, json};

use super::{ChatRequest, Chunk, ChunkStream, Completion, Endpoint, ProviderError, Role, json_body, send, sse_chunks};

const VERSION: &str = "2023-06-01";

fn message_of(v: &Value) -> Option<String> {
    v["error"]["message"].as_str().map(str::to_owned)
}

fn body(req: &ChatRequest, stream: bool) -> Value {
    let messages: Vec<Value> = req
        .turns()
        .map(|m| json!({ "role": if m.role == Role::Assistant { "assistant" } else { "user" }, "content": m.content }))
        .collect();
    let mut b = json!({ "model": req.model, "max_tokens": req.max_tokens, "messages": messages });
    let mut system = req.system().unwrap_or_default();
    if let Some(schema) = &req.json_schema {
        if !system.is_empty() {
            system.push_str("\n\n");
        }
        system.push_str(&format!(
            "Answer with one JSON object only, no prose and no code fences, that validates against this JSON Schema:\n{schema}"
        ));
    }
    if !system.is_empty() {
        b["system"] = json!(system);
    }
    if let Some(t) = req.temperature {
        // Anthropic takes 0 to 1.
        b["temperature"] = json!(t.clamp(0.0, 1.0));
    }
    if stream {
        b["stream"] = json!(true);
    }
    b
}

fn request(http: &reqwest::Client, ep: &Endpoint, body: &Value) -> reqwest::RequestBuilder {
    let mut req = http.post(format!("{}/v1/messages", ep.base_url)).header("anthropic-version", VERSION).json(body);
    if let Some(key) = &ep.api_key {
        req = req.header("x-api-key", key);
    }
    req
}

fn refusal(stop_reason: &Value) -> Option<String> {
    (stop_reason == "refusal").then(|| "the model declined to answer".to_owned())
}

pub async fn chat(http: &reqwest::Client, ep: &Endpoint, req: &ChatRequest) -> Result<Completion, ProviderError> {
    let res = send(request(http, ep, &body(req, false)), ep.timeout, message_of).await?;
    let v = json_body(res, ep.timeout).await?;
    let blocks = v["content"].as_array().ok_or_else(|| ProviderError::Malformed("no content".into()))?;
    let text: String = blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect();
    Ok(Completion {
        text,
        tokens_in: v["usage"]["input_tokens"].as_i64().unwrap_or(0),
        tokens_out: v["usage"]["output_tokens"].as_i64().unwrap_or(0),
        refusal: refusal(&v["stop_reason"]),
    })
}

pub async fn chat_stream(
    http: &reqwest::Client,
    ep: &Endpoint,
    req: &ChatRequest,
) -> Result<ChunkStream, ProviderError> {
    let res = send(request(http, ep, &body(req, true)), ep.timeout, message_of).await?;
    Ok(sse_chunks(res, chunk, |_| false))
}

fn chunk(event: Option<&str>, data: &str) -> Result<Vec<Chunk>, ProviderError> {
    let v: Value = serde_json::from_str(data).map_err(|e| ProviderError::Malformed(e.to_string()))?;
    let kind = event.or_else(|| v["type"].as_str()).unwrap_or_default();
    Ok(match kind {
        "message_start" => vec![Chunk::Usage {
            tokens_in: v["message"]["usage"]["input_tokens"].as_i64(),
            tokens_out: v["message"]["usage"]["output_tokens"].as_i64(),
        }],
        "content_block_delta" => match v["delta"]["text"].as_str() {
            Some(t) if !t.is_empty() => vec![Chunk::Text(t.to_owned())],
            _ => vec![],
        },
        "message_delta" => {
            let mut out = vec![Chunk::Usage { tokens_in: None, tokens_out: v["usage"]["output_tokens"].as_i64() }];
            if let Some(r) = refusal(&v["delta"]["stop_reason"]) {
                out.push(Chunk::Refused(r));
            }
            out
        }
        "error" => {
            let kind = v["error"]["type"].as_str().unwrap_or("error");
            let message = format!("{kind}: {}", message_of(&v).unwrap_or_default());
            return Err(if matches!(kind, "overloaded_error" | "api_error" | "rate_limit_error") {
                ProviderError::Retryable(message)
            } else {
                ProviderError::Rejected { status: 400, message }
            });
        }
        _ => vec![],
    })
}
