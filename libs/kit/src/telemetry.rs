//! Telemetry: JSON logs carrying trace ids, spans for OpenTelemetry (W3C trace context in
//! and out of HTTP and NATS), and the Prometheus recorder behind `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the subscriber once (idempotent; tests call it freely): JSON logs filtered by
/// `RUST_LOG` (default `info`), and OpenTelemetry spans filtered by `MIRAI_OTEL_FILTER`
/// (same syntax, default `info`) whatever `RUST_LOG` says, since span ids are the trace
/// context that responses, problems, outbox rows and consumers carry. Exporting them is
/// attached later (`fleet::start`).
pub fn init_logging() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let filter = EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn,tower_http=warn"));
        let _ =
            tracing_subscriber::registry()
                .with(
                    fmt::layer()
                        .json()
                        .flatten_event(true)
                        .with_current_span(true)
                        .with_span_list(false)
                        .with_filter(filter),
                )
                .with(mirai_trace::layer().with_filter(
                    EnvFilter::try_from_env("MIRAI_OTEL_FILTER").unwrap_or_else(|_| EnvFilter::new("info")),
                ))
                .try_init();
    });
}

/// The process-wide Prometheus recorder; installed on first use.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests in one process): keep ours for render.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub use mirai_trace::{Protocol as OtlpProtocol, TraceParent, flush as flush_traces};

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

    /// The meta of an event `actor` (`user:<id>`, …) causes within the current request:
    /// its trace and correlation id.
    pub fn event_meta(actor: String) -> mirai_events::EventMeta {
        let ctx = Self::current();
        mirai_events::EventMeta {
            actor: Some(actor),
            traceparent: ctx.as_ref().map(|c| c.traceparent.header()),
            correlation_id: ctx.map(|c| c.request_id),
        }
    }

    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }

    /// Runs `f` on a task of its own, in the current request's context and span. It runs
    /// to the end even when the caller is dropped (a client that went away mid-call), so
    /// what it started (a reservation, a paid model call) is always settled; and its
    /// commits are its own, never parked by the idempotency layer (so no transaction is
    /// held open across what `f` waits for).
    pub async fn detached<T: Send + 'static>(
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        use tracing::Instrument;
        let span = tracing::Span::current();
        let task = match Self::current() {
            Some(ctx) => tokio::spawn(ctx.scope(f).instrument(span)),
            None => tokio::spawn(f.instrument(span)),
        };
        task.await
    }
}
