//! The CloudEvents 1.0 envelope (structured JSON mode) with Mirai's extensions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A published event as it travels on the bus.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub specversion: String,
    pub id: Uuid,
    pub source: String,
    /// The subject, `<context>.<aggregate>.<event>.vN`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    pub dataschema: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenantid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlationid: Option<String>,
    /// A detached JWS by the producer's bus-signing key (identity's key-distribution
    /// events; ADR 0006). Absent on events nobody needs to authenticate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    pub data: Value,
}

impl Envelope {
    /// Deserializes `data` into the event's payload type.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }
}

/// Who caused an event and which trace it belongs to; carried from the request.
#[derive(Debug, Clone, Default)]
pub struct EventMeta {
    pub actor: Option<String>,
    pub traceparent: Option<String>,
    pub correlation_id: Option<String>,
}

impl EventMeta {
    /// The meta of an event a consumer publishes in reaction to `cause`: same actor,
    /// trace and correlation, so a choreography reads as one story.
    pub fn following(cause: &Envelope) -> Self {
        Self {
            actor: cause.actor.clone(),
            traceparent: cause.traceparent.clone(),
            correlation_id: cause.correlationid.clone().or_else(|| Some(cause.id.to_string())),
        }
    }
}

/// An event a use-case wants published, before the outbox gives it an id and a time.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The subject (also the envelope `type`), e.g. `tenant.membership.granted.v1`.
    pub subject: &'static str,
    /// The aggregate the event is about (envelope `subject`).
    pub aggregate_id: String,
    pub tenant_id: Option<Uuid>,
    pub data: Value,
}

impl<E: mirai_contracts::Event> From<E> for NewEvent {
    /// A typed payload becomes an event: its subject, aggregate and tenant come from the
    /// type, so producer and consumers cannot disagree on them.
    fn from(event: E) -> Self {
        Self {
            subject: E::SUBJECT,
            aggregate_id: event.aggregate_id(),
            tenant_id: event.tenant_id(),
            data: serde_json::to_value(&event).expect("event payloads serialize"),
        }
    }
}

impl NewEvent {
    /// An untyped event, for tests that must send what no producer would.
    pub fn new(subject: &'static str, aggregate_id: impl ToString, data: impl Serialize) -> Self {
        Self {
            subject,
            aggregate_id: aggregate_id.to_string(),
            tenant_id: None,
            data: serde_json::to_value(data).expect("event payloads serialize"),
        }
    }

    pub fn tenant(mut self, tenant_id: Uuid) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    /// Wraps the event in its envelope.
    pub fn into_envelope(self, source: &str, meta: &EventMeta) -> Envelope {
        Envelope {
            specversion: "1.0".into(),
            id: Uuid::now_v7(),
            source: format!("/mirai/{source}"),
            kind: self.subject.to_owned(),
            subject: Some(self.aggregate_id),
            time: Utc::now(),
            datacontenttype: "application/json".into(),
            dataschema: mirai_contracts::schema_id(self.subject),
            tenantid: self.tenant_id,
            actor: meta.actor.clone(),
            traceparent: meta.traceparent.clone(),
            correlationid: meta.correlation_id.clone(),
            signature: None,
            data: self.data,
        }
    }
}
