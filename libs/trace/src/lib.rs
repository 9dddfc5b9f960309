//! Tracing across HTTP and events. Spans are ordinary `tracing` spans; the
//! tracing-opentelemetry layer (`layer()`) backs each with an OpenTelemetry span from one
//! process-wide SDK provider, installed whether or not anything is exported, so every
//! request, publish and consume has real trace and span ids for logs, problem details and
//! outbox rows. `TraceParent` is the W3C wire form those ids travel in — HTTP headers,
//! outbox rows, NATS headers — and `continue_trace` / `traceparent` move a span's context
//! in and out of it, so one trace spans request → publish → consume. Exporting over
//! OTLP/HTTP is attached once configuration is known (`init_exporter`).

mod export;

pub use export::{ExporterBuildError, ExporterGuard, Protocol, flush, init_exporter, layer};

use opentelemetry::{
    Context,
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
};
use rand::Rng;
use tracing_opentelemetry::OpenTelemetrySpanExt;

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

    /// A new root trace, for when no span context is to be had (no subscriber installed).
    pub fn new_root() -> Self {
        Self { trace_id: random_hex(16), parent_id: random_hex(8), flags: "01".into() }
    }

    /// A new span id in the same trace, for the same case.
    pub fn child(&self) -> Self {
        Self { trace_id: self.trace_id.clone(), parent_id: random_hex(8), flags: self.flags.clone() }
    }

    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.parent_id, self.flags)
    }

    /// The context naming `cx`'s span; `None` when it has no valid span.
    pub fn from_context(cx: &Context) -> Option<Self> {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| Self {
            trace_id: sc.trace_id().to_string(),
            parent_id: sc.span_id().to_string(),
            flags: format!("{:02x}", sc.trace_flags().to_u8()),
        })
    }

    /// A context whose (remote) span is the one this names, for a span to continue.
    pub fn to_context(&self) -> Context {
        let (Ok(trace_id), Ok(span_id), Ok(flags)) =
            (TraceId::from_hex(&self.trace_id), SpanId::from_hex(&self.parent_id), u8::from_str_radix(&self.flags, 16))
        else {
            return Context::new();
        };
        let remote = SpanContext::new(trace_id, span_id, TraceFlags::new(flags), true, TraceState::NONE);
        Context::new().with_remote_span_context(remote)
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Makes `span` a child of the (remote) span `parent` names. Call it right after creating
/// the span: once the span has started (entered, or asked for its context) its parent is
/// fixed, and the call changes nothing.
pub fn continue_trace(span: &tracing::Span, parent: &TraceParent) {
    // Fails only without the layer or on a started span; the span then keeps its parent.
    let _ = span.set_parent(parent.to_context());
}

/// Links `span` to the span `other` names: a batch's span to each message it handled
/// besides the one it continues (OpenTelemetry's messaging conventions for batches).
pub fn link(span: &tracing::Span, other: &TraceParent) {
    let cx = other.to_context();
    span.add_link(cx.span().span_context().clone());
}

/// The W3C context naming `span`, starting it if it had not started. `None` without the
/// OpenTelemetry layer, or for a span the layer does not see.
pub fn traceparent(span: &tracing::Span) -> Option<TraceParent> {
    TraceParent::from_context(&span.context())
}

/// The W3C context of the innermost span being executed. The current OpenTelemetry
/// context backs up the current `tracing` span, which may be one the layer filters out.
pub fn current_traceparent() -> Option<TraceParent> {
    traceparent(&tracing::Span::current()).or_else(|| TraceParent::from_context(&Context::current()))
}

/// Renames `span`'s OpenTelemetry span. Needed once the span has started: the layer reads
/// `otel.name` (and `otel.kind`) only until then, and ignores later records of them.
pub fn rename(span: &tracing::Span, name: String) {
    span.context().span().update_name(name);
}

/// Marks `span` failed, with `reason` as the status description.
pub fn set_error(span: &tracing::Span, reason: &dyn std::fmt::Display) {
    span.context().span().set_status(opentelemetry::trace::Status::error(reason.to_string()));
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_round_trips_and_rejects_garbage() {
        let tp = TraceParent::parse(TP).unwrap();
        assert_eq!(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.child().trace_id, tp.trace_id);
        assert!(TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
        assert!(TraceParent::parse("garbage").is_none());
        assert!(TraceParent::parse(&TraceParent::new_root().header()).is_some());
        assert_eq!(TraceParent::from_context(&tp.to_context()), Some(tp));
        assert_eq!(TraceParent::from_context(&Context::new()), None);
    }

    #[test]
    fn spans_continue_a_remote_trace_with_ids_of_their_own() {
        let subscriber = tracing_subscriber::registry().with(layer());
        tracing::subscriber::with_default(subscriber, || {
            let parent = TraceParent::parse(TP).unwrap();
            let span = tracing::info_span!("request", otel.kind = "server");
            continue_trace(&span, &parent);
            let own = traceparent(&span).unwrap();
            assert_eq!(own.trace_id, parent.trace_id, "the trace continues");
            assert_ne!(own.parent_id, parent.parent_id, "with a span of its own");
            assert_eq!(span.in_scope(current_traceparent), Some(own.clone()));

            // Without a parent a span starts a trace of its own.
            let root = traceparent(&tracing::info_span!("job")).unwrap();
            assert_ne!(root.trace_id, own.trace_id);
        });
    }
}
