//! The provider port: one call shape (chat, streamed chat, embeddings, moderation) and an
//! adapter per vendor wire format. `openai` speaks the OpenAI-compatible API (OpenAI,
//! Azure OpenAI's v1 endpoint, Ollama, vLLM, llama.cpp server, LM Studio), `anthropic`
//! the Messages API, `gemini` Google's Generative Language API. Errors are classified
//! once, here: retryable (timeouts, connection failures, 408/409/429/5xx/529) or not.

use std::time::Duration;

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod anthropic;
mod gemini;
mod openai;

/// A vendor wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// OpenAI-compatible chat/completions, embeddings and moderations.
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini (Generative Language API).
    Gemini,
    /// The built-in local embedding model (`mirai_embed`): provider `local`, embeddings
    /// only, nothing leaves the platform.
    Local,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Openai => "openai",
            Kind::Anthropic => "anthropic",
            Kind::Gemini => "gemini",
            Kind::Local => "local",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "openai" => Some(Kind::Openai),
            "anthropic" => Some(Kind::Anthropic),
            "gemini" => Some(Kind::Gemini),
            "local" => Some(Kind::Local),
            _ => None,
        }
    }

    pub fn embeds(self) -> bool {
        !matches!(self, Kind::Anthropic)
    }
}

/// Where and how to reach one provider configuration.
#[derive(Clone)]
pub struct Endpoint {
    pub kind: Kind,
    /// Without a trailing slash: `https://api.openai.com/v1`, `https://api.anthropic.com`,
    /// `https://generativelanguage.googleapis.com`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("kind", &self.kind).field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// Ask for a JSON object matching this schema (each vendor's structured-output mode).
    pub json_schema: Option<Value>,
}

impl ChatRequest {
    fn system(&self) -> Option<String> {
        let parts: Vec<&str> =
            self.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }

    fn turns(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| m.role != Role::System)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// The model declined (a refusal, a safety stop): its explanation.
    pub refusal: Option<String>,
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Text(String),
    /// Token counts so far (the last one wins).
    Usage {
        tokens_in: Option<i64>,
        tokens_out: Option<i64>,
    },
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Worth another attempt: a timeout, a dropped connection, 408/409/429/5xx/529.
    #[error("{0}")]
    Retryable(String),
    /// The provider refused the request (400/401/403/404/422, ...): retrying is useless.
    #[error("rejected ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// An answer we cannot read.
    #[error("malformed answer: {0}")]
    Malformed(String),
}

impl ProviderError {
    pub fn retryable(&self) -> bool {
        matches!(self, ProviderError::Retryable(_))
    }
}

pub type ChunkStream = BoxStream<'static, Result<Chunk, ProviderError>>;

fn embeddings_only() -> ProviderError {
    ProviderError::Rejected { status: 400, message: "the local model only makes embeddings".into() }
}

pub async fn chat(http: &reqwest::Client, ep: &Endpoint, req: &ChatRequest) -> Result<Completion, ProviderError> {
    match ep.kind {
        Kind::Openai => openai::chat(http, ep, req).await,
        Kind::Anthropic => anthropic::chat(http, ep, req).await,
        Kind::Gemini => gemini::chat(http, ep, req).await,
        Kind::Local => Err(embeddings_only()),
    }
}

/// Starts a streamed answer: `Ok` once the provider accepted the request (its status
/// line), before any text.
pub async fn chat_stream(
    http: &reqwest::Client,
    ep: &Endpoint,
    req: &ChatRequest,
) -> Result<ChunkStream, ProviderError> {
    match ep.kind {
        Kind::Openai => openai::chat_stream(http, ep, req).await,
        Kind::Anthropic => anthropic::chat_stream(http, ep, req).await,
        Kind::Gemini => gemini::chat_stream(http, ep, req).await,
        Kind::Local => Err(embeddings_only()),
    }
}

/// Vectors for `inputs`, in order, and the tokens the provider counted.
pub async fn embed(
    http: &reqwest::Client,
    ep: &Endpoint,
    model: &str,
    inputs: &[String],
) -> Result<(Vec<Vec<f32>>, i64), ProviderError> {
    match ep.kind {
        Kind::Openai => openai::embed(http, ep, model, inputs).await,
        Kind::Gemini => gemini::embed(http, ep, model, inputs).await,
        Kind::Anthropic => {
            Err(ProviderError::Rejected { status: 400, message: "Anthropic has no embeddings API".into() })
        }
        Kind::Local => {
            if model != mirai_embed::MODEL {
                return Err(ProviderError::Rejected {
                    status: 400,
                    message: format!("the local provider has one model, `{}`", mirai_embed::MODEL),
                });
            }
            let vectors = mirai_embed::embed(inputs.to_vec()).await.map_err(ProviderError::Retryable)?;
            Ok((vectors, inputs.iter().map(|t| crate::safety::estimate_tokens(t)).sum()))
        }
    }
}

/// The moderation categories `input` was flagged for (OpenAI-compatible `/moderations`).
pub async fn moderate(
    http: &reqwest::Client,
    ep: &Endpoint,
    model: &str,
    input: &str,
) -> Result<Vec<String>, ProviderError> {
    match ep.kind {
        Kind::Openai => openai::moderate(http, ep, model, input).await,
        other => Err(ProviderError::Rejected {
            status: 400,
            message: format!(
                "{} has no moderation API; route moderation to an OpenAI-compatible provider",
                other.as_str()
            ),
        }),
    }
}

/// Sends `req` within the endpoint's timeout; a non-2xx answer becomes the classified
/// error with the vendor's own message (`message_of` reads its error body).
async fn send(
    req: reqwest::RequestBuilder,
    timeout: Duration,
    message_of: fn(&Value) -> Option<String>,
) -> Result<reqwest::Response, ProviderError> {
    let res = match tokio::time::timeout(timeout, req.send()).await {
        Err(_) => return Err(ProviderError::Retryable(format!("no answer within {} ms", timeout.as_millis()))),
        Ok(Err(e)) => return Err(ProviderError::Retryable(format!("connection failed: {}", describe(&e)))),
        Ok(Ok(r)) => r,
    };
    let status = res.status();
    if status.is_success() {
        return Ok(res);
    }
    let body =
        tokio::time::timeout(timeout, capped(res, 64 * 1024)).await.ok().and_then(Result::ok).unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| message_of(&v))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    let message = truncate(&message, 500);
    let code = status.as_u16();
    if matches!(code, 408 | 409 | 429 | 529) || status.is_server_error() {
        Err(ProviderError::Retryable(format!("{code}: {message}")))
    } else {
        Err(ProviderError::Rejected { status: code, message })
    }
}

/// The most an answer may be: a provider (a tenant's own URL) cannot fill the gateway's
/// memory.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// A body, up to `max` bytes (more is an error).
async fn capped(res: reqwest::Response, max: usize) -> Result<Vec<u8>, reqwest::Error> {
    use futures::StreamExt;
    let mut body = Vec::new();
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > max {
            body.extend_from_slice(&chunk[..max - body.len()]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads a whole JSON answer within the timeout.
async fn json_body(res: reqwest::Response, timeout: Duration) -> Result<Value, ProviderError> {
    match tokio::time::timeout(timeout, capped(res, MAX_ANSWER_BYTES)).await {
        Err(_) => Err(ProviderError::Retryable(format!("answer not complete within {} ms", timeout.as_millis()))),
        Ok(Err(e)) => Err(ProviderError::Retryable(format!("reading the answer failed: {}", describe(&e)))),
        Ok(Ok(b)) => serde_json::from_slice(&b).map_err(|e| ProviderError::Malformed(e.to_string())),
    }
}

/// A transport error with its causes (keys travel in headers, never in URLs).
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    truncate(&s, 300)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The SSE events of a streamed answer, parsed, each mapped by `map` (which may yield
/// several chunks or none); a stream that breaks off is a retryable error.
fn sse_chunks(
    res: reqwest::Response,
    map: fn(Option<&str>, &str) -> Result<Vec<Chunk>, ProviderError>,
    done: fn(&str) -> bool,
) -> ChunkStream {
    use eventsource_stream::Eventsource;
    use futures::StreamExt;
    // A stream ends at MAX_ANSWER_BYTES (a provider cannot fill the gateway's memory, even
    // with one endless event).
    let bytes = res.bytes_stream().scan(0usize, |seen, chunk| {
        let next = match chunk {
            Ok(c) => {
                *seen += c.len();
                (*seen <= MAX_ANSWER_BYTES).then_some(Ok(c))
            }
            Err(e) => Some(Err(e)),
        };
        futures::future::ready(next)
    });
    let events = bytes.eventsource();
    let stream = futures::stream::unfold((events, false), move |(mut events, finished)| async move {
        if finished {
            return None;
        }
        loop {
            match events.next().await {
                None => return None,
                Some(Err(e)) => {
                    return Some((
                        vec![Err(ProviderError::Retryable(format!("stream broke off: {e}")))],
                        (events, true),
                    ));
                }
                Some(Ok(ev)) => {
                    if done(&ev.data) {
                        return None;
                    }
                    let name = (!ev.event.is_empty() && ev.event != "message").then_some(ev.event.as_str());
                    match map(name, &ev.data) {
                        Ok(chunks) if chunks.is_empty() => continue,
                        Ok(chunks) => return Some((chunks.into_iter().map(Ok).collect(), (events, false))),
                        Err(e) => return Some((vec![Err(e)], (events, true))),
                    }
                }
            }
        }
    });
    stream.flat_map(futures::stream::iter).boxed()
}
