//! Payloads the ai-gateway publishes: the audit record of every model call, allowed,
//! degraded to a cheaper route, blocked by policy or budget, or failed upstream.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{AssetId, CallId, GenerationId, TenantId},
};

/// What the gateway decided about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDecision {
    /// Sent on the feature's route.
    Allowed,
    /// Sent on the route's cheaper target: a budget passed its soft threshold.
    Degraded,
    /// Refused before reaching a model (feature off, moderation, blocked term, budget)
    /// or after it (output policy, model refusal).
    Blocked,
    /// Every target of the route failed (timeouts, outages, open circuits, rejections).
    Failed,
}

/// One model call through the gateway. Carries no prompt or completion text: only the
/// SHA-256 of what was sent, so the audit trail holds no learner or customer data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallCompleted {
    pub tenant_id: TenantId,
    pub call_id: CallId,
    /// The feature the call was made for, e.g. `authoring.outline`.
    pub feature: String,
    /// `chat`, `generate` or `embeddings`.
    pub capability: String,
    /// Who asked (`user:<id>`, `apikey:<id>`, `service:<name>`).
    pub actor: String,
    /// The registered prompt, when the call used one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_version: Option<String>,
    /// `sha256:<hex>` of the messages as sent to the provider (after redaction).
    pub prompt_hash: String,
    /// The provider configuration and model that answered (or was last tried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// Micro-units of the tenant's billing currency (USD by default).
    pub cost_micros: i64,
    pub latency_ms: i64,
    pub decision: CallDecision,
    /// Why a call was degraded, blocked or failed (`budget`, `moderation:<category>`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A fallback target answered because the first one failed.
    pub fallback: bool,
    /// PII was replaced by placeholders before the payload left the platform.
    pub redacted: bool,
    /// The W3C trace id of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    pub completed_at: DateTime<Utc>,
}

event!(CallCompleted, "ai-gateway.call.completed.v1", aggregate = call_id, tenant = tenant_id);

/// A command to the gateway (authoring sends it): generate structured content from a
/// registered prompt for `feature`, on behalf of `actor`. Answered by
/// `ai-gateway.generation.progressed.v1` and `ai-gateway.generation.completed.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    pub tenant_id: TenantId,
    pub request_id: GenerationId,
    /// e.g. `authoring.outline`.
    pub feature: String,
    /// `id@version` or `id`; the feature's route may pin one instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The prompt's variables.
    pub input: serde_json::Value,
    /// Who asked (`user:<id>`): the call's actor in the audit.
    pub actor: String,
    /// Media assets (PDF, text, Markdown) to ground the generation in: their text is
    /// extracted and the excerpts nearest the request are added to the prompt's
    /// `sources` as `media:<asset_id>#<chunk>`, which the answer cites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<AssetId>,
    pub requested_at: DateTime<Utc>,
}

event!(Generate, "cmd.ai-gateway.generate.v1", aggregate = request_id, tenant = tenant_id);

/// A command to the gateway: stop a generation (one not started never starts; the answer
/// of one running is dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelGeneration {
    pub tenant_id: TenantId,
    pub request_id: GenerationId,
    pub actor: String,
    pub cancelled_at: DateTime<Utc>,
}

event!(CancelGeneration, "cmd.ai-gateway.cancel.v1", aggregate = request_id, tenant = tenant_id);

/// A generation moved on: `queued`, `grounding` (reading its documents), `calling` (the
/// model), `validating`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationProgressed {
    pub tenant_id: TenantId,
    pub request_id: GenerationId,
    pub stage: String,
    pub at: DateTime<Utc>,
}

event!(GenerationProgressed, "ai-gateway.generation.progressed.v1", aggregate = request_id, tenant = tenant_id);

/// Where a generated answer came from: enough to reproduce and audit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationProvenance {
    pub call_id: CallId,
    pub provider: String,
    pub model: String,
    pub prompt_id: String,
    pub prompt_version: String,
    /// `sha256:<hex>` of the messages sent.
    pub prompt_hash: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_micros: i64,
}

/// Why a generation failed, as the problem the gateway would have answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationError {
    /// The problem type URI, e.g. `https://mirai.dev/problems/ai-disabled`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

/// A generation ended: `succeeded` (with the validated output and its provenance),
/// `failed` (with the problem) or `cancelled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationCompleted {
    pub tenant_id: TenantId,
    pub request_id: GenerationId,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<GenerationProvenance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<GenerationError>,
    pub completed_at: DateTime<Utc>,
}

event!(GenerationCompleted, "ai-gateway.generation.completed.v1", aggregate = request_id, tenant = tenant_id);
