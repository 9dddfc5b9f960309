//! The contract registry: every event subject's JSON Schema, embedded at build time from
//! `schemas/`, so producers validate before publishing and consumers validate on receipt.

use std::{collections::BTreeMap, sync::LazyLock};

use serde_json::Value;

include!(concat!(env!("OUT_DIR"), "/schemas.rs"));

/// Where schema ids live; `dataschema` in an envelope is `<BASE>/events/<subject>.json`.
pub const SCHEMA_BASE: &str = "https://schemas.mirai.dev";

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("no schema is registered for subject `{0}`")]
    UnknownSubject(String),
    #[error("`{subject}` payload violates its schema at `{path}`: {message}")]
    Invalid { subject: String, path: String, message: String },
}

/// One registered event contract.
pub struct Contract {
    pub subject: &'static str,
    pub schema: Value,
    pub example: Option<Value>,
    validator: jsonschema::Validator,
}

impl Contract {
    pub fn validate(&self, data: &Value) -> Result<(), ContractError> {
        match self.validator.iter_errors(data).next() {
            None => Ok(()),
            Some(e) => Err(ContractError::Invalid {
                subject: self.subject.to_owned(),
                path: e.instance_path.to_string(),
                message: e.to_string(),
            }),
        }
    }
}

struct Registry {
    events: BTreeMap<&'static str, Contract>,
    envelope: jsonschema::Validator,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let compile = |name: &str, text: &str| -> (Value, jsonschema::Validator) {
        let schema: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("schema {name} is not JSON: {e}"));
        let validator =
            jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"));
        (schema, validator)
    };
    let events = EVENT_SCHEMAS
        .iter()
        .map(|(subject, text, example)| {
            let (schema, validator) = compile(subject, text);
            let example = example
                .map(|t| serde_json::from_str(t).unwrap_or_else(|e| panic!("example {subject} is not JSON: {e}")));
            (*subject, Contract { subject, schema, example, validator })
        })
        .collect();
    let (_, envelope) = compile("envelope.v1", ENVELOPE_SCHEMA);
    Registry { events, envelope }
});

/// The contract for `subject`, if one is registered.
pub fn contract(subject: &str) -> Option<&'static Contract> {
    REGISTRY.events.get(subject)
}

/// Every registered subject, sorted.
pub fn subjects() -> impl Iterator<Item = &'static Contract> {
    REGISTRY.events.values()
}

/// The schema id a producer puts in the envelope's `dataschema`.
pub fn schema_id(subject: &str) -> String {
    format!("{SCHEMA_BASE}/events/{subject}.json")
}

/// Validates an event's `data` against its subject's schema.
pub fn validate(subject: &str, data: &Value) -> Result<(), ContractError> {
    contract(subject).ok_or_else(|| ContractError::UnknownSubject(subject.to_owned()))?.validate(data)
}

/// Validates a whole CloudEvents envelope (structure only; `data` is checked by `validate`).
pub fn validate_envelope(envelope: &Value) -> Result<(), ContractError> {
    match REGISTRY.envelope.iter_errors(envelope).next() {
        None => Ok(()),
        Some(e) => Err(ContractError::Invalid {
            subject: "envelope.v1".to_owned(),
            path: e.instance_path.to_string(),
            message: e.to_string(),
        }),
    }
}
