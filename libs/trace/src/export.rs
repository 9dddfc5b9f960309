//! The process-wide OpenTelemetry provider and the OTLP/HTTP exporter attached to it late.
//! The provider exists from the first span on: the log subscriber is installed once per
//! process, before any configuration is read, and its OpenTelemetry layer needs a tracer
//! then. The exporter arrives with the configuration, so the provider's one span
//! processor (`LateExporter`) forwards to a batch processor set once per process.

use std::{
    sync::{
        Mutex, OnceLock, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use opentelemetry::{Context, trace::TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{BatchSpanProcessor, SdkTracer, SdkTracerProvider, Span, SpanData, SpanProcessor},
};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

pub use opentelemetry_otlp::ExporterBuildError;

/// The OTLP/HTTP encodings (`OTEL_EXPORTER_OTLP_PROTOCOL`); gRPC is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `http/protobuf`, the OTLP default.
    #[default]
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "http/protobuf" => Some(Self::HttpProtobuf),
            "http/json" => Some(Self::HttpJson),
            _ => None,
        }
    }
}

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
static BATCH: OnceLock<BatchSpanProcessor> = OnceLock::new();
/// Set once the exporter is shut down: later spans are no longer handed to it.
static STOPPED: AtomicBool = AtomicBool::new(false);

/// The provider is never shut down: a shut-down provider hands out no-op spans, which
/// would take the trace ids away from logs, problems and outbox rows. Only the exporter
/// stops. Sampling follows `OTEL_TRACES_SAMPLER` (default: parent-based, always on).
fn provider() -> &'static SdkTracerProvider {
    PROVIDER.get_or_init(|| SdkTracerProvider::builder().with_span_processor(LateExporter).build())
}

/// The tracing-opentelemetry layer over the process-wide provider, for the subscriber.
pub fn layer<S>() -> OpenTelemetryLayer<S, SdkTracer>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    // Thread names and busy/idle timings cost an allocation or a clock read per span and
    // say little about a request; the relay makes a span per published event.
    tracing_opentelemetry::layer()
        .with_tracer(provider().tracer("mirai"))
        .with_threads(false)
        .with_tracked_inactivity(false)
}

/// The provider's span processor: hands finished spans to the batch processor once
/// `init_exporter` has set one, and drops them until then.
#[derive(Debug)]
struct LateExporter;

fn running() -> Option<&'static BatchSpanProcessor> {
    BATCH.get().filter(|_| !STOPPED.load(Ordering::Relaxed))
}

impl SpanProcessor for LateExporter {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if let Some(batch) = running() {
            batch.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        running().map_or(Ok(()), BatchSpanProcessor::force_flush)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match running() {
            Some(batch) => {
                STOPPED.store(true, Ordering::Relaxed);
                batch.shutdown_with_timeout(timeout)
            }
            None => Ok(()),
        }
    }

    // `set_resource` keeps its no-op default: the provider's resource is built before the
    // configuration is read; `init_exporter` gives the batch processor the configured one.
}

/// Starts exporting spans to `endpoint` (the OTLP/HTTP base URL; spans go to
/// `<endpoint>/v1/traces`, http or https) as `service.name` = `service_name`, once per
/// process. The caller that installs the exporter gets the guard that stops it; later
/// calls (tests start many fleets in one process) change nothing and get `None`, as does
/// a call without an endpoint. The batch processor reads `OTEL_BSP_*` (schedule delay,
/// queue and batch sizes) and the exporter `OTEL_EXPORTER_OTLP_TIMEOUT`, `_HEADERS` and
/// `_COMPRESSION` themselves; the endpoint and protocol come from here.
pub fn init_exporter(
    endpoint: Option<&str>,
    service_name: &str,
    protocol: Protocol,
) -> Result<Option<ExporterGuard>, ExporterBuildError> {
    let Some(endpoint) = endpoint.filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(PoisonError::into_inner);
    if BATCH.get().is_some() {
        return Ok(None);
    }
    // An endpoint given in code is used as is (the crate appends `/v1/traces` only to
    // one it reads from the environment), and the crate never reads the protocol variable.
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_protocol(match protocol {
            Protocol::HttpProtobuf => opentelemetry_otlp::Protocol::HttpBinary,
            Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
        })
        .build()?;
    // The batch processor exports from a thread of its own with a blocking HTTP client,
    // so it needs no async runtime and outlives any one (tests run one per test).
    let mut batch = BatchSpanProcessor::builder(exporter).build();
    batch.set_resource(&Resource::builder().with_service_name(service_name.to_owned()).build());
    let _ = BATCH.set(batch);
    Ok(Some(ExporterGuard(())))
}

/// Ownership of the running exporter: `shutdown` exports what is buffered and stops it.
/// Dropped without `shutdown`, the exporter keeps running.
#[derive(Debug)]
pub struct ExporterGuard(());

impl ExporterGuard {
    /// Exports the buffered spans and stops the exporter, waiting at most `timeout`.
    /// Spans keep their ids afterwards; they are just no longer exported.
    pub async fn shutdown(self, timeout: Duration) {
        // The batch processor blocks its caller until its thread has exported: keep that
        // off the async workers.
        match tokio::task::spawn_blocking(move || LateExporter.shutdown_with_timeout(timeout)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "otlp: spans may have been lost at shutdown"),
            Err(e) => tracing::warn!(error = %e, "otlp: exporter shutdown did not finish"),
        }
    }
}

/// Exports the buffered spans now rather than on the schedule (bounded by the batch
/// processor's own five seconds). A no-op without an exporter.
pub async fn flush() {
    if let Ok(Err(e)) = tokio::task::spawn_blocking(|| LateExporter.force_flush()).await {
        tracing::debug!(error = %e, "otlp: flush failed");
    }
}
