//! A statement, validated against the xAPI data rules for the request's version and
//! reduced to the normalized fields the store indexes. Every failure names the rule.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use mirai_contracts::ids::StatementId;
use serde_json::Value;
use uuid::Uuid;

/// The xAPI version a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XapiVersion {
    V103,
    V20,
}

impl XapiVersion {
    /// The newest version this LRS speaks.
    pub const NEWEST: Self = Self::V20;

    /// Parses `X-Experience-API-Version`: any 1.0.x is 1.0.3; 2.0.x is 2.0.
    pub fn parse(header: &str) -> Option<Self> {
        let h = header.trim();
        let mut parts = h.split('.');
        let (major, minor) = (parts.next()?, parts.next()?);
        if parts.next().is_some_and(|p| p.parse::<u32>().is_err()) || parts.next().is_some() {
            return None;
        }
        match (major, minor) {
            ("1", "0") => Some(Self::V103),
            ("2", "0") => Some(Self::V20),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V103 => "1.0.3",
            Self::V20 => "2.0.0",
        }
    }
}

pub const VOIDED_VERB: &str = "http://adlnet.gov/expapi/verbs/voided";

/// The inverse functional identifier properties of an Agent or identified Group.
pub const IFI_KEYS: &[&str] = &["mbox", "mbox_sha1sum", "openid", "account"];

/// What the store indexes of a statement. Statement ids are the client's UUIDs of any
/// version, wrapped as they came; only a statement sent without one gets a UUIDv7.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub id: StatementId,
    pub timestamp: DateTime<Utc>,
    pub actor: String,
    pub verb: String,
    pub object_activity: Option<String>,
    pub object_agent: Option<String>,
    pub object_statement: Option<StatementId>,
    pub registration: Option<Uuid>,
    /// The statement this one voids, when its verb is `voided`.
    pub voids: Option<StatementId>,
    pub agents: Vec<String>,
    pub activities: Vec<String>,
    /// The members of the actor and object Groups (an `agent` filter matches them).
    pub members: Vec<String>,
}

type R = Result<(), String>;

mod compare;
mod parts;
mod rules;

pub use compare::{equivalent, mbox as canonical_mbox};

use parts::{actor, context, object, result, verb};
pub use rules::{is_duration, is_iri, is_language_tag, parse_uuid};
use rules::{obj, only, string, uuid};

struct Ctx {
    version: XapiVersion,
    agents: Vec<String>,
    activities: Vec<String>,
}

/// Parses a timestamp: ISO 8601 / RFC 3339 with an offset, normalized to UTC. The
/// "unknown offset" forms `-00`, `-0000`, `-00:00` are refused in both versions: 2.0 says
/// so, and ISO 8601 (which 1.0.3 requires) has no negative zero offset — the ADL 1.0.3
/// suite rejects them too (XAPI-00123).
pub fn timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    if s.ends_with("-00:00") || s.ends_with("-0000") || s.ends_with("-00") {
        return Err(format!("timestamp `{s}` uses an unknown-offset form (-00:00), which xAPI rejects"));
    }
    DateTime::<FixedOffset>::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("timestamp `{s}` is not an ISO 8601 date-time with a time zone"))
}

pub fn format_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Validates `v` as a statement sent with `version`; returns its normalized fields and
/// the statement with `id` and `timestamp` filled in (timestamps normalized to UTC in 2.0).
pub fn validate(v: &Value, version: XapiVersion, now: DateTime<Utc>) -> Result<(Normalized, Value), String> {
    let m = obj(v, "statement")?;
    only(
        m,
        "statement",
        &[
            "id",
            "actor",
            "verb",
            "object",
            "result",
            "context",
            "timestamp",
            "stored",
            "authority",
            "version",
            "attachments",
        ],
    )?;
    let mut ctx = Ctx { version, agents: vec![], activities: vec![] };
    let id = StatementId::from(match m.get("id") {
        Some(i) => uuid(i, "statement.id")?,
        None => Uuid::now_v7(),
    });
    let actor_value = m.get("actor").ok_or("statement.actor is required")?;
    let actor_id = match actor(actor_value, "statement.actor", &mut ctx)? {
        Some(ifi) => ifi,
        // An anonymous Group is a valid actor (Data 2.4.2.2); it has no identifier to be
        // queried by, so it is keyed by its members (they are related agents).
        None => anonymous_group_key(actor_value),
    };
    let verb_id = verb(m.get("verb").ok_or("statement.verb is required")?, "statement.verb")?;
    let (object_activity, object_agent, object_statement) =
        object(m.get("object").ok_or("statement.object is required")?, "statement.object", &mut ctx, false)?;
    let object_statement = object_statement.map(StatementId::from);
    let voids = if verb_id == VOIDED_VERB {
        Some(object_statement.ok_or("a voiding statement's object must be a StatementRef")?)
    } else {
        None
    };
    if let Some(r) = m.get("result") {
        result(r, "statement.result")?;
    }
    let registration = match m.get("context") {
        Some(c) => context(c, "statement.context", object_activity.is_some(), &mut ctx)?,
        None => None,
    };
    let ts = match m.get("timestamp") {
        Some(t) => timestamp(string(t, "statement.timestamp")?)?,
        None => now,
    };
    if let Some(ver) = m.get("version") {
        let s = string(ver, "statement.version")?;
        match (XapiVersion::parse(s), version) {
            (None, _) => {
                return Err(format!("statement.version `{s}` is not a supported xAPI version (1.0.x or 2.0.x)"));
            }
            // A 1.0.3 request cannot carry a 2.0 statement (Data 2.4.10).
            (Some(XapiVersion::V20), XapiVersion::V103) => {
                return Err(format!("statement.version `{s}` must start with 1.0. in an xAPI 1.0.3 request"));
            }
            _ => {}
        }
    }
    if let Some(a) = m.get("authority") {
        actor(a, "statement.authority", &mut Ctx { version, agents: vec![], activities: vec![] })?;
        // Data 2.4.9: a Group authority is an OAuth consumer and its user — an anonymous Group
        // of exactly two Agents.
        if a.get("objectType").and_then(Value::as_str) == Some("Group")
            && (IFI_KEYS.iter().any(|k| a.get(*k).is_some())
                || a.get("member").and_then(Value::as_array).is_none_or(|m| m.len() != 2))
        {
            return Err(
                "statement.authority: a Group authority must be an anonymous Group of exactly two member Agents".into(),
            );
        }
    }
    if let Some(atts) = m.get("attachments") {
        parts::attachments(atts, "statement.attachments")?;
    }
    let mut out = v.clone();
    out["id"] = Value::String(id.to_string());
    // Data 2.4.6.2: every contextActivities value is returned as an array, even when it
    // arrived as one Activity (here and in a SubStatement).
    for path in ["/context/contextActivities", "/object/context/contextActivities"] {
        if let Some(ca) = out.pointer_mut(path).and_then(Value::as_object_mut) {
            for list in ca.values_mut() {
                if list.is_object() {
                    *list = Value::Array(vec![list.take()]);
                }
            }
        }
    }
    if version == XapiVersion::V20 || m.get("timestamp").is_none() {
        out["timestamp"] = Value::String(format_ts(ts));
    }
    let mut members = group_members(actor_value);
    if let Some(o) = m.get("object") {
        members.extend(group_members(o));
    }
    members.sort();
    members.dedup();
    let mut agents = ctx.agents;
    agents.sort();
    agents.dedup();
    let mut activities = ctx.activities;
    activities.sort();
    activities.dedup();
    Ok((
        Normalized {
            id,
            timestamp: ts,
            actor: actor_id,
            verb: verb_id,
            object_activity,
            object_agent,
            object_statement,
            registration,
            voids,
            agents,
            activities,
            members,
        },
        out,
    ))
}

/// The IFIs of a Group's members (none for anything else).
fn group_members(v: &Value) -> Vec<String> {
    if v.get("objectType").and_then(Value::as_str) != Some("Group") {
        return vec![];
    }
    v["member"].as_array().into_iter().flatten().filter_map(|m| m.as_object().and_then(object_ifi)).collect()
}

/// The stored key of an anonymous Group: `group:` and its members' IFIs, sorted. No
/// `agent` query names it (an anonymous Group cannot be a query's agent).
fn anonymous_group_key(group: &Value) -> String {
    let mut members: Vec<String> =
        group["member"].as_array().into_iter().flatten().filter_map(|m| m.as_object().and_then(object_ifi)).collect();
    members.sort();
    members.dedup();
    format!("group:{}", members.join(" "))
}

/// The canonical IFI of a JSON object carrying exactly one identifier, if it does.
pub fn object_ifi(m: &serde_json::Map<String, Value>) -> Option<String> {
    parts::ifi(m, "agent").ok().flatten()
}

/// The canonical IFI of an `agent` query parameter (an Agent or identified Group).
pub fn agent_ifi(v: &Value) -> Result<String, String> {
    let mut ctx = Ctx { version: XapiVersion::V20, agents: vec![], activities: vec![] };
    actor(v, "agent", &mut ctx)?.ok_or_else(|| "agent must be an Agent or an identified Group".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value) -> Normalized {
        validate(&v, XapiVersion::V103, Utc::now()).unwrap_or_else(|e| panic!("{e}: {v}")).0
    }

    fn bad(v: Value, version: XapiVersion, needle: &str) {
        let e = validate(&v, version, Utc::now()).expect_err(&v.to_string());
        assert!(e.contains(needle), "expected `{needle}` in `{e}`");
    }

    fn base() -> Value {
        json!({ "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" }, "object": { "id": "http://example.com/a" } })
    }

    #[test]
    fn statement_rules() {
        let n = ok(base());
        assert_eq!(n.actor, "mbox:mailto:a@example.com");
        assert_eq!(n.object_activity.as_deref(), Some("http://example.com/a"));
        let mut two_ifis = base();
        two_ifis["actor"]["openid"] = json!("http://openid.example/a");
        bad(two_ifis, XapiVersion::V103, "exactly one inverse functional identifier");
        let mut unknown = base();
        unknown["colour"] = json!("red");
        bad(unknown, XapiVersion::V103, "statement.colour is not an allowed property");
        let mut score = base();
        score["result"] = json!({ "score": { "scaled": 1.5 } });
        bad(score, XapiVersion::V103, "scaled must be between -1 and 1");
        let mut dur = base();
        dur["result"] = json!({ "duration": "1 hour" });
        bad(dur, XapiVersion::V103, "ISO 8601 duration");
        let mut rev = base();
        rev["object"] = json!({ "objectType": "Agent", "mbox": "mailto:b@example.com" });
        rev["context"] = json!({ "revision": "2" });
        bad(rev, XapiVersion::V103, "only allowed when the object is an Activity");
        let mut ca = base();
        ca["context"] =
            json!({ "contextAgents": [{ "objectType": "contextAgent", "agent": { "mbox": "mailto:c@example.com" } }] });
        bad(ca.clone(), XapiVersion::V103, "xAPI 2.0 property");
        assert!(validate(&ca, XapiVersion::V20, Utc::now()).is_ok());
        let mut ts = base();
        ts["timestamp"] = json!("2026-11-23T10:00:00-00:00");
        bad(ts.clone(), XapiVersion::V20, "unknown-offset");
        let mut off = base();
        off["timestamp"] = json!("2026-11-23T12:00:00+02:00");
        let (_, out) = validate(&off, XapiVersion::V20, Utc::now()).unwrap();
        assert_eq!(out["timestamp"], "2026-11-23T10:00:00.000Z", "2.0 normalizes to UTC");
        let mut nested = base();
        nested["object"] = json!({ "objectType": "SubStatement", "actor": { "mbox": "mailto:a@example.com" }, "verb": { "id": "http://x.y/v" },
            "object": { "objectType": "SubStatement" } });
        bad(nested, XapiVersion::V103, "cannot contain a SubStatement");
        let mut voiding = base();
        voiding["verb"]["id"] = json!(VOIDED_VERB);
        bad(voiding, XapiVersion::V103, "must be a StatementRef");
    }

    #[test]
    fn durations_and_versions() {
        for d in ["PT1H", "P1D", "P1DT2H3M4.5S", "P2W", "PT0S"] {
            assert!(is_duration(d), "{d}");
        }
        for d in ["P", "PT", "1H", "P1H", "PT1D", "P1.2.3S"] {
            assert!(!is_duration(d), "{d}");
        }
        assert_eq!(XapiVersion::parse("1.0.2"), Some(XapiVersion::V103));
        assert_eq!(XapiVersion::parse("2.0.0"), Some(XapiVersion::V20));
        assert_eq!(XapiVersion::parse("0.95"), None);
        assert_eq!(XapiVersion::parse("1.1.0"), None);
    }
}
