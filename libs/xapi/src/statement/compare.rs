//! Statement comparison (xAPI Data 2.3.1, "Statement Comparison Requirements"): two
//! statements are the same when they differ only in what the immutability exceptions
//! allow. Used for the 204-or-409 decision on a reused id and to check a signed
//! statement against its JWS payload.
//!
//! Ignored, because the LRS assigns or may assign them, or they are not part of the
//! statement: `authority`, `stored`, `version`, `attachments`; `id` and `timestamp` when
//! only one side has them (the LRS fills them in); an Activity's `definition`; a Verb's
//! `display`; the order of a Group's members; the serialization of timestamps (compared as
//! instants); the case of UUIDs and of an email address's domain; a missing `objectType`
//! where the spec gives its default (Agent for actors, Activity for objects); and a single
//! context activity against a one-element array. Everything else must match exactly.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value};

/// Whether `a` and `b` record the same statement.
pub fn equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            // Properties the LRS fills in are compared only when both sides carry them.
            for key in ["id", "timestamp"] {
                if let (Some(x), Some(y)) = (a.get(key), b.get(key))
                    && canonical_scalar(key, x) != canonical_scalar(key, y)
                {
                    return false;
                }
            }
            canonical_statement(a) == canonical_statement(b)
        }
        _ => false,
    }
}

fn canonical_scalar(key: &str, v: &Value) -> Value {
    match (key, v.as_str()) {
        ("id", Some(s)) => Value::String(s.to_lowercase()),
        ("timestamp", Some(s)) => instant(s),
        _ => v.clone(),
    }
}

fn instant(s: &str) -> Value {
    match DateTime::<FixedOffset>::parse_from_rfc3339(s) {
        Ok(t) => Value::String(t.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        Err(_) => Value::String(s.to_owned()),
    }
}

/// The statement without what comparison ignores, in a canonical form.
fn canonical_statement(s: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (k, v) in s {
        let c = match k.as_str() {
            "id" | "timestamp" | "authority" | "stored" | "version" | "attachments" => continue,
            "actor" => agent(v),
            "verb" => verb(v),
            "object" => object(v),
            "context" => context(v),
            "result" => result(v),
            _ => numbers(v),
        };
        out.insert(k.clone(), c);
    }
    Value::Object(out)
}

/// A result, its `duration` at the 0.01 s precision statements are compared at.
fn result(v: &Value) -> Value {
    let mut v = numbers(v);
    if let Some(d) = v.get_mut("duration")
        && let Some(s) = d.as_str()
    {
        *d = Value::String(duration_centis(s));
    }
    v
}

/// An ISO 8601 duration with its seconds truncated to hundredths and trailing fraction
/// zeros dropped: "When making a comparison … of Statements in regard to a Duration, any
/// precision beyond 0.01 second precision shall not be included" (xAPI 2.0 Data 4.2.7;
/// 1.0.3 Data 4.6 says the same as a SHOULD*). `PT1.2345S` and `PT1.230S` → `PT1.23S`.
pub fn duration_centis(s: &str) -> String {
    let Some(body) = s.strip_suffix('S') else { return s.to_owned() };
    let start = body.rfind(|c: char| c.is_ascii_alphabetic()).map_or(0, |i| i + 1);
    let (head, secs) = body.split_at(start);
    let Some((whole, frac)) = secs.split_once(['.', ',']) else { return s.to_owned() };
    let kept = frac.get(..frac.len().min(2)).unwrap_or("").trim_end_matches('0');
    if kept.is_empty() { format!("{head}{whole}S") } else { format!("{head}{whole}.{kept}S") }
}

fn verb(v: &Value) -> Value {
    let mut v = numbers(v);
    if let Some(m) = v.as_object_mut() {
        m.remove("display");
    }
    v
}

fn object(v: &Value) -> Value {
    let Some(m) = v.as_object() else { return v.clone() };
    match m.get("objectType").and_then(Value::as_str).unwrap_or("Activity") {
        "Activity" => activity(v),
        "Agent" | "Group" => agent(v),
        "StatementRef" => {
            let mut out = m.clone();
            if let Some(id) = m.get("id") {
                out.insert("id".into(), canonical_scalar("id", id));
            }
            Value::Object(out)
        }
        "SubStatement" => {
            let mut out = match canonical_statement(m) {
                Value::Object(o) => o,
                _ => unreachable!("canonical_statement returns an object"),
            };
            if let Some(ts) = m.get("timestamp") {
                out.insert("timestamp".into(), canonical_scalar("timestamp", ts));
            }
            Value::Object(out)
        }
        _ => numbers(v),
    }
}

fn activity(v: &Value) -> Value {
    let Some(m) = v.as_object() else { return v.clone() };
    let mut out = Map::new();
    out.insert("objectType".into(), Value::String("Activity".into()));
    for (k, v) in m {
        if k != "definition" && k != "objectType" {
            out.insert(k.clone(), numbers(v));
        }
    }
    Value::Object(out)
}

/// An Agent or Group: default objectType, email domain case, members as an unordered set.
fn agent(v: &Value) -> Value {
    let Some(m) = v.as_object() else { return v.clone() };
    let mut out = Map::new();
    let kind = m.get("objectType").and_then(Value::as_str).unwrap_or("Agent");
    out.insert("objectType".into(), Value::String(kind.to_owned()));
    for (k, v) in m {
        let c = match (k.as_str(), v) {
            ("objectType", _) => continue,
            ("mbox", Value::String(s)) => Value::String(mbox(s)),
            ("mbox_sha1sum", Value::String(s)) => Value::String(s.to_lowercase()),
            ("member", Value::Array(members)) => {
                let mut ms: Vec<Value> = members.iter().map(agent).collect();
                ms.sort_by_key(|m| m.to_string());
                Value::Array(ms)
            }
            _ => numbers(v),
        };
        out.insert(k.clone(), c);
    }
    Value::Object(out)
}

/// `mailto:Local@Example.COM` → `mailto:Local@example.com` (the domain is case-insensitive).
pub fn mbox(s: &str) -> String {
    match s.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => s.to_owned(),
    }
}

fn context(v: &Value) -> Value {
    let Some(m) = v.as_object() else { return v.clone() };
    let mut out = Map::new();
    for (k, v) in m {
        let c = match k.as_str() {
            "registration" => canonical_scalar("id", v),
            "instructor" | "team" => agent(v),
            "statement" => object(v),
            "contextActivities" => match v.as_object() {
                Some(ca) => Value::Object(
                    ca.iter()
                        .map(|(kind, list)| {
                            let items = match list {
                                Value::Array(items) => items.iter().map(activity).collect(),
                                one => vec![activity(one)],
                            };
                            (kind.clone(), Value::Array(items))
                        })
                        .collect(),
                ),
                None => v.clone(),
            },
            "contextAgents" | "contextGroups" => match v {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|item| match item.as_object() {
                            Some(ci) => Value::Object(
                                ci.iter()
                                    .map(|(k, v)| {
                                        let c = if k == "agent" || k == "group" { agent(v) } else { numbers(v) };
                                        (k.clone(), c)
                                    })
                                    .collect(),
                            ),
                            None => item.clone(),
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            _ => numbers(v),
        };
        out.insert(k.clone(), c);
    }
    Value::Object(out)
}

/// Numbers compare by value: `1`, `1.0` and `1e0` are one number.
fn numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            Some(f) => Value::from(f),
            None => v.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(numbers).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), numbers(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{duration_centis, equivalent};

    #[test]
    fn durations_are_cut_to_hundredths() {
        for (raw, cut) in [
            ("PT1.2345S", "PT1.23S"),
            ("PT1.230S", "PT1.23S"),
            ("PT1.2S", "PT1.2S"),
            ("PT1.001S", "PT1S"),
            ("PT1S", "PT1S"),
            ("P1DT2H3M4,999S", "P1DT2H3M4.99S"),
            ("PT1H", "PT1H"),
            ("P2W", "P2W"),
        ] {
            assert_eq!(duration_centis(raw), cut, "{raw}");
        }
    }

    fn base() -> serde_json::Value {
        json!({
            "id": "6fbd600f-d17c-4c74-801a-2ec2e53231e6",
            "actor": { "mbox": "mailto:Ann@Example.com", "name": "Ann" },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/completed", "display": { "en-US": "completed" } },
            "object": { "id": "http://example.com/course", "definition": { "name": { "en-US": "Course" } } },
            "result": { "score": { "raw": 1.0, "min": 0, "max": 2 } },
            "context": {
                "registration": "0f4a3a2e-3a7d-4b0c-9a1b-2b0c3d4e5f60",
                "team": { "objectType": "Group", "member": [{ "mbox": "mailto:a@x.org" }, { "mbox": "mailto:b@x.org" }] },
                "contextActivities": { "parent": { "id": "http://example.com/programme" } }
            },
            "timestamp": "2026-11-23T10:00:00.000Z"
        })
    }

    #[test]
    fn differences_the_exceptions_allow_are_ignored() {
        let a = base();
        let mut b = base();
        b["id"] = json!("6FBD600F-D17C-4C74-801A-2EC2E53231E6");
        b["actor"] = json!({ "objectType": "Agent", "mbox": "mailto:Ann@example.COM", "name": "Ann" });
        b["verb"]["display"] = json!({ "fr-FR": "terminé" });
        b["object"] = json!({ "objectType": "Activity", "id": "http://example.com/course" });
        b["result"]["score"]["raw"] = json!(1);
        b["context"]["registration"] = json!("0F4A3A2E-3A7D-4B0C-9A1B-2B0C3D4E5F60");
        b["context"]["team"]["member"] = json!([{ "mbox": "mailto:b@x.org" }, { "mbox": "mailto:a@x.org" }]);
        b["context"]["contextActivities"]["parent"] = json!([{ "id": "http://example.com/programme" }]);
        b["timestamp"] = json!("2026-11-23T12:00:00+02:00");
        b["authority"] = json!({ "mbox": "mailto:lrs@example.com" });
        b["stored"] = json!("2026-11-23T10:00:01.000Z");
        b["version"] = json!("1.0.3");
        b["attachments"] = json!([]);
        assert!(equivalent(&a, &b));
        // Durations compare at 0.01 s (in SubStatements too).
        let (mut c, mut d) = (base(), base());
        c["result"]["duration"] = json!("PT1.2345S");
        d["result"]["duration"] = json!("PT1.23S");
        assert!(equivalent(&c, &d), "precision beyond 0.01 s is not compared");
        d["result"]["duration"] = json!("PT1.24S");
        assert!(!equivalent(&c, &d), "a hundredth is");
        let sub = |dur: &str| {
            let mut s = base();
            s["object"] = json!({ "objectType": "SubStatement", "actor": { "mbox": "mailto:a@x.org" },
                "verb": { "id": "http://x.org/v" }, "object": { "id": "http://x.org/o" }, "result": { "duration": dur } });
            s
        };
        assert!(equivalent(&sub("P1DT2H3M4.567S"), &sub("P1DT2H3M4.56S")));
        assert!(!equivalent(&sub("PT4.5S"), &sub("PT4.6S")));
        let mut no_id = base();
        no_id.as_object_mut().unwrap().remove("id");
        no_id.as_object_mut().unwrap().remove("timestamp");
        assert!(equivalent(&a, &no_id), "an id or timestamp the LRS assigned is not a difference");
    }

    #[test]
    fn real_differences_are_not() {
        let a = base();
        for change in [
            json!({ "actor": { "mbox": "mailto:ann@Example.com" } }),
            json!({ "verb": { "id": "http://adlnet.gov/expapi/verbs/attempted" } }),
            json!({ "object": { "id": "http://example.com/other" } }),
            json!({ "result": { "score": { "raw": 2 } } }),
            json!({ "timestamp": "2026-11-23T10:00:00.001Z" }),
            json!({ "id": "7fbd600f-d17c-4c74-801a-2ec2e53231e6" }),
            json!({ "context": { "contextActivities": { "parent": [{ "id": "http://example.com/a" }, { "id": "http://example.com/programme" }] } } }),
        ] {
            let mut b = base();
            merge(&mut b, &change);
            assert!(!equivalent(&a, &b), "{change} must count as a difference");
        }
        let mut extra = base();
        extra["result"]["completion"] = json!(true);
        assert!(!equivalent(&a, &extra));
    }

    fn merge(into: &mut serde_json::Value, patch: &serde_json::Value) {
        match (into, patch) {
            (serde_json::Value::Object(a), serde_json::Value::Object(p)) => {
                for (k, v) in p {
                    match a.get_mut(k) {
                        Some(slot) if slot.is_object() && v.is_object() && k != "actor" => merge(slot, v),
                        _ => {
                            a.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            (slot, v) => *slot = v.clone(),
        }
    }
}
