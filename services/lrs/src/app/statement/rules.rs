//! The primitive data rules: objects without unknown properties, strings, IRIs, UUIDs,
//! language tags and maps, extensions, durations.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::R;

pub(super) fn obj<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or_else(|| format!("{path} must be a JSON object"))
}

pub(super) fn only(m: &Map<String, Value>, path: &str, allowed: &[&str]) -> R {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{path}.{k} is not an allowed property here")),
        None => Ok(()),
    }
}

pub(super) fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| format!("{path} must be a string"))
}

/// An absolute IRI: a scheme, a colon, no whitespace.
pub fn is_iri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub(super) fn iri(v: &Value, path: &str) -> Result<String, String> {
    let s = string(v, path)?;
    if is_iri(s) { Ok(s.to_owned()) } else { Err(format!("{path} must be an absolute IRI, got `{s}`")) }
}

pub(super) fn uuid(v: &Value, path: &str) -> Result<Uuid, String> {
    let s = string(v, path)?;
    // xAPI ids are UUIDs in their canonical hyphenated form.
    if s.len() != 36 {
        return Err(format!("{path} must be a UUID, got `{s}`"));
    }
    Uuid::parse_str(s).map_err(|_| format!("{path} must be a UUID, got `{s}`"))
}

/// A language tag per RFC 5646 (shape check: alphanumeric subtags of 1-8, first alpha).
pub fn is_language_tag(t: &str) -> bool {
    let mut parts = t.split('-');
    let first = parts.next().unwrap_or("");
    (1..=8).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

pub(super) fn language_map(v: &Value, path: &str) -> R {
    let m = obj(v, path)?;
    for (k, val) in m {
        if !is_language_tag(k) {
            return Err(format!("{path} key `{k}` is not an RFC 5646 language tag"));
        }
        string(val, &format!("{path}.{k}"))?;
    }
    Ok(())
}

pub(super) fn extensions(v: &Value, path: &str) -> R {
    let m = obj(v, path)?;
    match m.keys().find(|k| !is_iri(k)) {
        Some(k) => Err(format!("{path} key `{k}` must be an IRI")),
        None => Ok(()),
    }
}

/// An ISO 8601 duration (`P1DT2H3.5S`, `PT0S`, `P2W`).
pub fn is_duration(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('P') else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    if let Some(w) = rest.strip_suffix('W') {
        return !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == '.');
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return false,
        None => (rest, None),
    };
    let ok = |part: &str, units: &str| {
        let mut num = String::new();
        let mut last = -1i32;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
            } else {
                let Some(idx) = units.find(c) else {
                    return false;
                };
                if num.is_empty() || idx as i32 <= last || num.matches('.').count() > 1 {
                    return false;
                }
                last = idx as i32;
                num.clear();
            }
        }
        num.is_empty()
    };
    ok(date, "YMD") && time.is_none_or(|t| ok(t, "HMS")) && (!date.is_empty() || time.is_some())
}
