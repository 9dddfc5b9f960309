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

const LANGUAGE_MAPS: &[&str] = &["display", "name", "description"];

fn canonical(v: &Value, prefs: &[String]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, val)| {
                    // An agent's `name` is a string; a definition's `name` is a language map.
                    let is_map = LANGUAGE_MAPS.contains(&k.as_str())
                        && val.as_object().is_some_and(|o| o.values().all(Value::is_string));
                    (
                        k.clone(),
                        if is_map {
                            Value::Object(pick(val.as_object().unwrap(), prefs))
                        } else {
                            canonical(val, prefs)
                        },
                    )
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| canonical(x, prefs)).collect()),
        other => other.clone(),
    }
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
            let q = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok())).unwrap_or(1.0);
            Some((q, tag.to_owned()))
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
