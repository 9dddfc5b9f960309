//! Payloads the ai-gateway publishes: the audit record of every model call, allowed,
//! degraded to a cheaper route, blocked by policy or budget, or failed upstream.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{CallId, TenantId},
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
