//! The contract registry: every event subject's JSON Schema, embedded at build time from
//! `schemas/`, so producers validate before publishing and consumers validate on receipt;
//! and every subject's typed payload (`events`), held to its schema by the tests below.

use std::{collections::BTreeMap, sync::LazyLock};

use serde_json::Value;

pub mod event;
pub mod events;
pub mod ids;
pub mod xapi;

pub use event::Event;

include!(concat!(env!("OUT_DIR"), "/schemas.rs"));

/// Deserializes a payload into a typed event and serializes it back.
#[doc(hidden)]
pub type RoundTrip = fn(&Value) -> Result<Value, serde_json::Error>;

fn round_trip<E: Event>(data: &Value) -> Result<Value, serde_json::Error> {
    serde_json::to_value(serde_json::from_value::<E>(data.clone())?)
}

#[cfg(test)]
type Keys = fn(&Value) -> Result<(String, Option<uuid::Uuid>), serde_json::Error>;

#[cfg(test)]
fn keys<E: Event>(data: &Value) -> Result<(String, Option<uuid::Uuid>), serde_json::Error> {
    let event = serde_json::from_value::<E>(data.clone())?;
    Ok((event.aggregate_id(), event.tenant_id()))
}

/// Lists every typed payload once: `TYPED` (its subject and round trip) and, for the
/// tests, `KEYS` (its aggregate and tenant).
macro_rules! typed {
    ($($ty:ty),* $(,)?) => {
        /// Every typed payload by its subject, with a round trip through its struct (the
        /// tests check it against the registered schemas and golden examples).
        #[doc(hidden)]
        pub static TYPED: &[(&str, RoundTrip)] = &[$((<$ty as Event>::SUBJECT, round_trip::<$ty> as RoundTrip)),*];

        #[cfg(test)]
        static KEYS: &[(&str, Keys)] = &[$((<$ty as Event>::SUBJECT, keys::<$ty> as Keys)),*];
    };
}

typed![
    events::ai_gateway::CallCompleted,
    events::ai_gateway::CancelGeneration,
    events::ai_gateway::Generate,
    events::ai_gateway::GenerationCompleted,
    events::ai_gateway::GenerationProgressed,
    events::assignment::AssigneeAdded,
    events::assignment::AssigneeCompleted,
    events::assignment::AssigneeEscalated,
    events::assignment::AssigneeExpired,
    events::assignment::AssigneeOverdue,
    events::assessment::AttemptGraded,
    events::assessment::StatementsRecorded,
    events::assignment::AssigneeReminded,
    events::assignment::AssignmentCanceled,
    events::assignment::AssignmentCreated,
    events::authoring::CoursePublished,
    events::authoring::CourseRetired,
    events::billing::DocumentIssued,
    events::billing::PaymentFailed,
    events::billing::PaymentRefunded,
    events::billing::PaymentSucceeded,
    events::billing::PayoutChanged,
    events::billing::ReconciliationHealed,
    events::billing::RefundPayment,
    events::billing::SetRenewal,
    events::billing::SubscriptionChanged,
    events::content::PackageImported,
    events::delivery::DataSubjectErased,
    events::delivery::StatementsRecorded,
    events::enrollment::EnrollmentCreated,
    events::enrollment::EnrollmentEnded,
    events::enrollment::EnrollmentRefused,
    events::enrollment::SeatsChanged,
    events::identity::AccessChanged,
    events::identity::ApiKeyCreated,
    events::identity::ApiKeyRevoked,
    events::identity::SigningKeyPublished,
    events::identity::SigningKeyRetired,
    events::identity::UserCreated,
    events::lrs::DataSubjectErased,
    events::lrs::StatementPurged,
    events::lrs::StatementStored,
    events::lrs::StatementVoided,
    events::marketplace::LicenseChanged,
    events::marketplace::LicenseGranted,
    events::marketplace::LicenseRenewed,
    events::marketplace::ListingChanged,
    events::marketplace::OrderCanceled,
    events::marketplace::OrderCompleted,
    events::marketplace::OrderFailed,
    events::marketplace::OrderPlaced,
    events::media::AssetDeleted,
    events::media::AssetReady,
    events::notification::DataSubjectErased,
    events::notification::EndpointChanged,
    events::template::NoteCreated,
    events::tenant::DataSubjectErasureCompleted,
    events::tenant::DataSubjectErasureRequested,
    events::tenant::FeatureFlagChanged,
    events::tenant::GroupCreated,
    events::tenant::GroupMemberAdded,
    events::tenant::GroupMemberRemoved,
    events::tenant::InvitationCreated,
    events::tenant::MembershipGranted,
    events::tenant::MembershipRevoked,
    events::tenant::OrgUnitCreated,
    events::tenant::SecretChanged,
    events::tenant::SettingsUpdated,
    events::tenant::TenantCreated,
];

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
                path: e.instance_path().to_string(),
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
            path: e.instance_path().to_string(),
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn example(subject: &str) -> &'static Value {
        let c = contract(subject).unwrap_or_else(|| panic!("no schema for `{subject}`"));
        c.example.as_ref().unwrap_or_else(|| panic!("{subject} has no golden example"))
    }

    fn typed(subject: &str) -> RoundTrip {
        TYPED.iter().find(|(s, _)| *s == subject).unwrap_or_else(|| panic!("no struct for `{subject}`")).1
    }

    #[test]
    fn every_schema_has_exactly_one_struct_and_every_struct_a_schema() {
        let typed: BTreeSet<&str> = TYPED.iter().map(|(s, _)| *s).collect();
        assert_eq!(typed.len(), TYPED.len(), "a subject has two structs");
        let registered: BTreeSet<&str> = subjects().map(|c| c.subject).collect();
        let no_struct: Vec<_> = registered.difference(&typed).collect();
        assert!(no_struct.is_empty(), "schemas without a struct in `events`: {no_struct:?}");
        let no_schema: Vec<_> = typed.difference(&registered).collect();
        assert!(no_schema.is_empty(), "structs without a schema in schemas/events: {no_schema:?}");
    }

    #[test]
    fn every_struct_reproduces_its_golden_example_and_the_output_validates() {
        for c in subjects() {
            let data = &example(c.subject)["data"];
            let back =
                typed(c.subject)(data).unwrap_or_else(|e| panic!("{}: example does not deserialize: {e}", c.subject));
            assert_eq!(&back, data, "{}: struct does not reproduce the example's data", c.subject);
            c.validate(&back).unwrap_or_else(|e| panic!("{}: struct output violates the schema: {e}", c.subject));
        }
    }

    #[test]
    fn every_struct_names_the_examples_aggregate_and_tenant() {
        assert_eq!(KEYS.len(), TYPED.len());
        for (subject, keys) in KEYS {
            let example = example(subject);
            let (aggregate, tenant) = keys(&example["data"]).unwrap_or_else(|e| panic!("{subject}: {e}"));
            assert_eq!(Some(aggregate.as_str()), example["subject"].as_str(), "{subject}: aggregate_id vs `subject`");
            let tenantid: Option<uuid::Uuid> =
                example.get("tenantid").map(|t| t.as_str().and_then(|t| t.parse().ok()).expect("tenantid is a uuid"));
            assert_eq!(tenant, tenantid, "{subject}: tenant_id vs `tenantid`");
        }
    }

    #[test]
    fn a_renamed_field_is_refused() {
        for c in subjects() {
            let mut data = example(c.subject)["data"].clone();
            let map = data.as_object_mut().expect("data is an object");
            let key = map.keys().next().expect("data has a field").clone();
            let value = map.remove(&key).unwrap();
            map.insert(format!("{key}_renamed"), value);
            assert!(typed(c.subject)(&data).is_err(), "{}: renamed `{key}` was accepted", c.subject);
        }
    }
}
