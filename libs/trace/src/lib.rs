//! Tracing across HTTP and events: W3C trace context (`traceparent`) and an OTLP/HTTP
//! exporter (JSON encoding) that sends finished spans to `OTEL_EXPORTER_OTLP_ENDPOINT`
//! when one is configured. The trace context is ours end to end — parsed from requests,
//! written into outbox rows and NATS headers, continued by consumers — so one trace spans
//! request → event → consumer whether or not an exporter is running.

use std::{
    sync::OnceLock,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rand::RngCore;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A W3C trace context (`traceparent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: String,
    /// The span this context names (the parent of whatever continues it).
    pub parent_id: String,
    pub flags: String,
}

impl TraceParent {
    /// Parses `00-<32 hex>-<16 hex>-<2 hex>`; anything else is ignored (a new trace starts).
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.trim().split('-').collect();
        let hex =
            |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if parts.len() != 4
            || !hex(parts[0], 2)
            || parts[0] == "ff"
            || !hex(parts[1], 32)
            || !hex(parts[2], 16)
            || !hex(parts[3], 2)
        {
            return None;
        }
        if parts[1].bytes().all(|b| b == b'0') || parts[2].bytes().all(|b| b == b'0') {
            return None;
        }
        Some(Self { trace_id: parts[1].into(), parent_id: parts[2].into(), flags: parts[3].into() })
    }

    /// A new root trace.
    pub fn new_root() -> Self {
        Self { trace_id: random_hex(16), parent_id: random_hex(8), flags: "01".into() }
    }

    /// A new span in the same trace.
    pub fn child(&self) -> Self {
        Self { trace_id: self.trace_id.clone(), parent_id: random_hex(8), flags: self.flags.clone() }
    }

    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.parent_id, self.flags)
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// OTLP span kinds we emit.
#[derive(Debug, Clone, Copy)]
pub enum SpanKind {
    Server = 2,
    Producer = 4,
    Consumer = 5,
}

/// A finished span.
#[derive(Debug, Clone)]
pub struct Span {
    pub context: TraceParent,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: SpanKind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<(&'static str, Value)>,
    pub error: bool,
}

impl Span {
    /// Starts a span that continues `parent` (or a new trace).
    pub fn start(name: impl Into<String>, kind: SpanKind, parent: Option<&TraceParent>) -> Self {
        let context = parent.map(TraceParent::child).unwrap_or_else(TraceParent::new_root);
        Self {
            context,
            parent_span_id: parent.map(|p| p.parent_id.clone()),
            name: name.into(),
            kind,
            start: SystemTime::now(),
            end: SystemTime::now(),
            attributes: vec![],
            error: false,
        }
    }

    pub fn attr(&mut self, key: &'static str, value: impl Into<Value>) {
        self.attributes.push((key, value.into()));
    }

    /// Ends the span and hands it to the exporter (a no-op without one).
    pub fn finish(mut self) {
        self.end = SystemTime::now();
        if let Some(tx) = EXPORTER.get() {
            // A full queue drops spans rather than slowing requests down.
            let _ = tx.try_send(self);
        }
    }

    fn to_otlp(&self) -> Value {
        let nanos = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos().to_string();
        let attributes: Vec<Value> = self
            .attributes
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => json!({ "stringValue": s }),
                    Value::Bool(b) => json!({ "boolValue": b }),
                    Value::Number(n) if n.is_i64() => json!({ "intValue": n.to_string() }),
                    Value::Number(n) => json!({ "doubleValue": n.as_f64() }),
                    other => json!({ "stringValue": other.to_string() }),
                };
                json!({ "key": k, "value": value })
            })
            .collect();
        let mut span = json!({
            "traceId": self.context.trace_id,
            "spanId": self.context.parent_id,
            "name": self.name,
            "kind": self.kind as u8,
            "startTimeUnixNano": nanos(self.start),
            "endTimeUnixNano": nanos(self.end),
            "attributes": attributes,
            "status": { "code": if self.error { 2 } else { 1 } },
        });
        if let Some(p) = &self.parent_span_id {
            span["parentSpanId"] = json!(p);
        }
        span
    }
}

static EXPORTER: OnceLock<mpsc::Sender<Span>> = OnceLock::new();

/// Starts the exporter once per process if `endpoint` (the OTLP/HTTP base URL, e.g.
/// `http://otel-collector:4318`) is given. Spans are batched (up to 512, or every second)
/// and POSTed as OTLP JSON to `<endpoint>/v1/traces`. Returns whether an exporter runs.
pub fn init_exporter(endpoint: Option<&str>, service_name: &str) -> bool {
    let Some(endpoint) = endpoint.filter(|e| !e.is_empty()) else {
        return EXPORTER.get().is_some();
    };
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let service = service_name.to_owned();
    let mut started = false;
    EXPORTER.get_or_init(|| {
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(export_loop(rx, url, service));
        started = true;
        tx
    });
    started || EXPORTER.get().is_some()
}

async fn export_loop(mut rx: mpsc::Receiver<Span>, url: String, service: String) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("http client");
    let mut batch = Vec::new();
    loop {
        let more = tokio::select! {
            s = rx.recv() => match s {
                Some(s) => { batch.push(s); true }
                None => false,
            },
            _ = tokio::time::sleep(Duration::from_millis(200)), if !batch.is_empty() => true,
        };
        if !batch.is_empty() && (batch.len() >= 512 || !more || rx.is_empty()) {
            let spans: Vec<Value> = batch.drain(..).map(|s| s.to_otlp()).collect();
            let body = json!({ "resourceSpans": [{
                "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": service } }] },
                "scopeSpans": [{ "scope": { "name": "mirai" }, "spans": spans }],
            }]});
            if let Err(e) = http.post(&url).json(&body).send().await.and_then(|r| r.error_for_status()) {
                tracing::debug!(error = %e, "otlp export failed; spans dropped");
            }
        }
        if !more {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_rejects_garbage() {
        let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.child().trace_id, tp.trace_id);
        assert!(TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
        assert!(TraceParent::parse("garbage").is_none());
        assert!(TraceParent::parse(&TraceParent::new_root().header()).is_some());
    }

    #[test]
    fn spans_encode_as_otlp_json() {
        let parent = TraceParent::new_root();
        let mut s = Span::start("GET /x", SpanKind::Server, Some(&parent));
        s.attr("http.response.status_code", 200);
        let v = s.to_otlp();
        assert_eq!(v["traceId"], parent.trace_id);
        assert_eq!(v["parentSpanId"], parent.parent_id);
        assert_eq!(v["kind"], 2);
        assert_eq!(v["attributes"][0]["value"]["intValue"], "200");
    }
}
