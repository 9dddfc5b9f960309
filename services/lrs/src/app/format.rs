//! The `format` parameter of statement GETs: `exact` (as stored), `ids` (agents, groups,
//! activities and verbs reduced to their identifiers) and `canonical` (language maps
//! reduced to the one language the caller prefers, from `Accept-Language`).

use serde_json::{Map, Value};

use super::statement::IFI_KEYS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Exact,
    Ids,
    Canonical,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Result<Self, String> {
        match s.unwrap_or("exact") {
            "exact" => Ok(Self::Exact),
            "ids" => Ok(Self::Ids),
            "canonical" => Ok(Self::Canonical),
            other => Err(format!("format `{other}` is not exact, ids or canonical")),
        }
    }
}

/// An Agent or identified Group: its `objectType` and IFI (an identified Group's members
/// dropped). An anonymous Group: its `objectType` and each member reduced the same way
/// ("the minimum information needed to identify each member").
fn agent_ids(v: &Value) -> Value {
    let Some(m) = v.as_object() else {
        return v.clone();
    };
    let identified = m.keys().any(|k| IFI_KEYS.contains(&k.as_str()));
    let mut out = Map::new();
    for (k, val) in m {
        if k == "objectType" || IFI_KEYS.contains(&k.as_str()) {
            out.insert(k.clone(), val.clone());
        } else if k == "member" && !identified {
            out.insert(
                k.clone(),
                Value::Array(val.as_array().map(|a| a.iter().map(agent_ids).collect()).unwrap_or_default()),
            );
        }
    }
    Value::Object(out)
}

/// An Activity: its `id` alone.
fn activity_ids(v: &Value) -> Value {
    match v.get("id") {
        Some(id) => serde_json::json!({ "id": id }),
        None => v.clone(),
    }
}

fn object_ids(v: &Value) -> Value {
    match v.get("objectType").and_then(Value::as_str).unwrap_or("Activity") {
        "Activity" => activity_ids(v),
        "Agent" | "Group" => agent_ids(v),
        "SubStatement" => ids(v),
        _ => v.clone(),
    }
}

/// `format=ids` (Communication 2.1.3): Agents, Groups, Activities and Verbs reduced to
/// what identifies them, wherever they appear (actor, object, authority, context, and
/// the same inside a SubStatement).
fn ids(s: &Value) -> Value {
    let mut out = s.clone();
    for k in ["actor", "authority"] {
        if let Some(a) = s.get(k) {
            out[k] = agent_ids(a);
        }
    }
    if let Some(v) = s.get("verb").and_then(|v| v.get("id")) {
        out["verb"] = serde_json::json!({ "id": v });
    }
    if let Some(o) = s.get("object") {
        out["object"] = object_ids(o);
    }
    if let Some(c) = s.get("context").and_then(Value::as_object) {
        let mut c = c.clone();
        for k in ["instructor", "team"] {
            if let Some(a) = c.get(k).cloned() {
                c.insert(k.into(), agent_ids(&a));
            }
        }
        // xAPI 2.0's context agents and groups.
        for (list, inner) in [("contextAgents", "agent"), ("contextGroups", "group")] {
            if let Some(Value::Array(items)) = c.get_mut(list) {
                for item in items.iter_mut() {
                    if let Some(a) = item.get(inner).map(agent_ids) {
                        item[inner] = a;
                    }
                }
            }
        }
        if let Some(Value::Object(ca)) = c.get("contextActivities").cloned() {
            let reduced: Map<String, Value> = ca
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        match v {
                            Value::Array(a) => Value::Array(a.iter().map(activity_ids).collect()),
                            other => activity_ids(&other),
                        },
                    )
                })
                .collect();
            c.insert("contextActivities".into(), Value::Object(reduced));
        }
        out["context"] = Value::Object(c);
    }
    out
}

/// Picks the best language of a language map for `prefs` (Accept-Language order).
fn pick(map: &Map<String, Value>, prefs: &[String]) -> Map<String, Value> {
    let found = prefs
        .iter()
        .find_map(|p| {
            map.iter().find(|(k, _)| {
                k.eq_ignore_ascii_case(p) || k.to_lowercase().starts_with(&format!("{}-", p.to_lowercase()))
            })
        })
        .or_else(|| map.iter().find(|(k, _)| k.as_str() == "und"))
        .or_else(|| map.iter().next());
    found.map(|(k, v)| Map::from_iter([(k.clone(), v.clone())])).unwrap_or_default()
}

/// Reduces the language map at `v` (if it is one) to the preferred language.
fn reduce(v: Option<&mut Value>, prefs: &[String]) {
    if let Some(Value::Object(m)) = v {
        *m = pick(m, prefs);
    }
}

/// An Activity's definition: `name`, `description`, and each interaction component's
/// `description`.
fn canonical_activity(a: &mut Value, prefs: &[String]) {
    let Some(def) = a.get_mut("definition").and_then(Value::as_object_mut) else { return };
    for k in ["name", "description"] {
        reduce(def.get_mut(k), prefs);
    }
    for list in ["choices", "scale", "source", "target", "steps"] {
        if let Some(Value::Array(components)) = def.get_mut(list) {
            for c in components {
                reduce(c.get_mut("description"), prefs);
            }
        }
    }
}

/// `format=canonical` (Communication 2.1.3): Activity definitions and Verb displays with
/// their language maps reduced to the caller's language; everything else (Agents,
/// extensions, attachments) exactly as stored. In the statement and its SubStatement.
fn canonical(statement: &Value, prefs: &[String]) -> Value {
    let mut out = statement.clone();
    fn visit(s: &mut Value, prefs: &[String], nested: bool) {
        reduce(s.pointer_mut("/verb/display"), prefs);
        if let Some(o) = s.get_mut("object") {
            match o.get("objectType").and_then(Value::as_str).unwrap_or("Activity") {
                "Activity" => canonical_activity(o, prefs),
                "SubStatement" if !nested => visit(o, prefs, true),
                _ => {}
            }
        }
        if let Some(Value::Object(ca)) = s.pointer_mut("/context/contextActivities") {
            for list in ca.values_mut() {
                match list {
                    Value::Array(items) => items.iter_mut().for_each(|a| canonical_activity(a, prefs)),
                    one => canonical_activity(one, prefs),
                }
            }
        }
    }
    visit(&mut out, prefs, false);
    out
}

/// Parses `Accept-Language` into tags in preference order.
pub fn languages(header: Option<&str>) -> Vec<String> {
    let mut tags: Vec<(f32, String)> = header
        .unwrap_or("")
        .split(',')
        .filter_map(|part| {
            let mut it = part.trim().split(';');
            let tag = it.next()?.trim();
            if tag.is_empty() || tag == "*" {
                return None;
            }
            let q: f32 = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok())).unwrap_or(1.0);
            // q=0: "not acceptable" (RFC 9110 12.4.2).
            (q > 0.0).then(|| (q, tag.to_owned()))
        })
        .collect();
    tags.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    tags.into_iter().map(|(_, t)| t).collect()
}

pub fn apply(statement: Value, format: Format, prefs: &[String]) -> Value {
    match format {
        Format::Exact => statement,
        Format::Ids => ids(&statement),
        Format::Canonical => canonical(&statement, prefs),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_reduces_activity_and_verb_language_maps_only() {
        let s = json!({
            "actor": { "name": "Ann", "mbox": "mailto:ann@x.org" },
            "verb": { "id": "http://x.org/v", "display": { "en-US": "did", "de-DE": "tat" } },
            "object": { "id": "http://x.org/a", "definition": {
                "name": { "en-US": "A", "de-DE": "Ä" }, "description": { "en-US": "d", "de-DE": "b" },
                "interactionType": "choice", "choices": [{ "id": "c1", "description": { "en-US": "one", "de-DE": "eins" } }] } },
            "context": { "contextActivities": { "parent": [{ "id": "http://x.org/p", "definition": { "name": { "en-US": "P", "de-DE": "Q" } } }] },
                "extensions": { "http://x.org/e": { "name": { "first": "A", "last": "B" } } } },
            "attachments": [{ "display": { "en-US": "file", "de-DE": "Datei" } }],
        });
        let out = apply(s.clone(), Format::Canonical, &languages(Some("de-DE, en-US;q=0.5")));
        assert_eq!(out["verb"]["display"], json!({ "de-DE": "tat" }));
        assert_eq!(out["object"]["definition"]["name"], json!({ "de-DE": "Ä" }));
        assert_eq!(out["object"]["definition"]["description"], json!({ "de-DE": "b" }));
        assert_eq!(out["object"]["definition"]["choices"][0]["description"], json!({ "de-DE": "eins" }));
        assert_eq!(out["context"]["contextActivities"]["parent"][0]["definition"]["name"], json!({ "de-DE": "Q" }));
        assert_eq!(out["context"]["extensions"], s["context"]["extensions"], "extensions are data, not language maps");
        assert_eq!(out["attachments"], s["attachments"]);
        assert_eq!(out["actor"], s["actor"]);
        let refused = apply(s, Format::Canonical, &languages(Some("de-DE;q=0, en-US")));
        assert_eq!(refused["verb"]["display"], json!({ "en-US": "did" }), "q=0 is not acceptable");
    }

    #[test]
    fn ids_keep_only_identifiers_everywhere() {
        let s = json!({
            "id": "6fbd600f-d17c-4c74-801a-2ec2e53231e6",
            "actor": { "objectType": "Group", "name": "Team", "member": [
                { "objectType": "Agent", "name": "Ann", "mbox": "mailto:ann@x.org" },
                { "name": "Bob", "account": { "homePage": "https://x.org", "name": "bob" } }] },
            "verb": { "id": "http://x.org/v", "display": { "en-US": "did" } },
            "object": { "objectType": "SubStatement",
                "actor": { "objectType": "Group", "name": "G", "mbox": "mailto:g@x.org", "member": [{ "mbox": "mailto:m@x.org" }] },
                "verb": { "id": "http://x.org/w", "display": { "en-US": "w" } },
                "object": { "objectType": "Activity", "id": "http://x.org/inner", "definition": { "name": { "en-US": "I" } } },
                "context": { "contextActivities": { "parent": [{ "objectType": "Activity", "id": "http://x.org/p", "definition": {} }] } } },
            "context": { "instructor": { "name": "Ivy", "mbox": "mailto:ivy@x.org" },
                "contextAgents": [{ "objectType": "contextAgent", "agent": { "name": "Cy", "mbox": "mailto:cy@x.org" } }],
                "contextActivities": { "grouping": [{ "objectType": "Activity", "id": "http://x.org/g", "definition": { "name": { "en-US": "G" } } }] } },
            "authority": { "objectType": "Agent", "name": "LRS", "account": { "homePage": "https://lrs", "name": "k" } },
        });
        let out = apply(s, Format::Ids, &[]);
        assert_eq!(
            out["actor"],
            json!({ "objectType": "Group", "member": [
            { "objectType": "Agent", "mbox": "mailto:ann@x.org" },
            { "account": { "homePage": "https://x.org", "name": "bob" } }] }),
            "an anonymous Group keeps its members' IFIs"
        );
        assert_eq!(out["verb"], json!({ "id": "http://x.org/v" }));
        let sub = &out["object"];
        assert_eq!(
            sub["actor"],
            json!({ "objectType": "Group", "mbox": "mailto:g@x.org" }),
            "an identified Group drops its members"
        );
        assert_eq!(sub["verb"], json!({ "id": "http://x.org/w" }));
        assert_eq!(sub["object"], json!({ "id": "http://x.org/inner" }), "an Activity is its id alone");
        assert_eq!(sub["context"]["contextActivities"]["parent"], json!([{ "id": "http://x.org/p" }]));
        assert_eq!(out["context"]["instructor"], json!({ "mbox": "mailto:ivy@x.org" }));
        assert_eq!(out["context"]["contextAgents"][0]["agent"], json!({ "mbox": "mailto:cy@x.org" }));
        assert_eq!(out["context"]["contextActivities"]["grouping"], json!([{ "id": "http://x.org/g" }]));
        assert_eq!(
            out["authority"],
            json!({ "objectType": "Agent", "account": { "homePage": "https://lrs", "name": "k" } })
        );
    }
}
