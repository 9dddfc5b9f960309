//! Telemetry: JSON logs carrying trace ids, W3C trace context in and out of HTTP and NATS,
//! and the Prometheus recorder behind `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rand::RngCore;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the JSON log subscriber once (idempotent; tests call it freely).
/// `RUST_LOG` filters; default `info`.
pub fn init_logging() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let filter = EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn,tower_http=warn"));
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init();
    });
}

/// The process-wide Prometheus recorder; installed on first use.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ])
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests in one process): keep ours for render.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// A W3C trace context (`traceparent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: String,
    pub parent_id: String,
    pub flags: String,
}

impl TraceParent {
    /// Parses `00-<32 hex>-<16 hex>-<2 hex>`; anything else is ignored (a new trace starts).
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.trim().split('-').collect();
        let hex = |p: &str, n: usize| {
            p.len() == n
                && p.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        };
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
        Some(Self {
            trace_id: parts[1].into(),
            parent_id: parts[2].into(),
            flags: parts[3].into(),
        })
    }

    /// A new root trace.
    pub fn new_root() -> Self {
        Self {
            trace_id: random_hex(16),
            parent_id: random_hex(8),
            flags: "01".into(),
        }
    }

    /// A child span in the same trace (what we send onward).
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id.clone(),
            parent_id: random_hex(8),
            flags: self.flags.clone(),
        }
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

/// What the middleware knows about the request being served; read by the error
/// conversion (problem `instance` and `trace_id`) and by event producers (traceparent).
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub trace_id: String,
    pub traceparent: TraceParent,
    pub path: String,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

impl RequestContext {
    pub fn current() -> Option<RequestContext> {
        CURRENT.try_with(|c| c.clone()).ok()
    }

    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    #[test]
    fn traceparent_round_trips_and_rejects_garbage() {
        let tp =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.child().trace_id, tp.trace_id);
        assert!(
            TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none()
        );
        assert!(TraceParent::parse("garbage").is_none());
        assert!(TraceParent::parse(&TraceParent::new_root().header()).is_some());
    }
}
