//! The primitive data rules: objects without unknown properties, strings, IRIs, UUIDs,
//! language tags and maps, extensions, durations.

use mirai_kit::validated::{Iri, Locale};
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

/// An absolute IRI (`mirai_kit::validated::Iri`): a scheme, a colon, no whitespace.
pub fn is_iri(s: &str) -> bool {
    Iri::is_absolute(s)
}

pub(super) fn iri(v: &Value, path: &str) -> Result<String, String> {
    let s = string(v, path)?;
    if is_iri(s) { Ok(s.to_owned()) } else { Err(format!("{path} must be an absolute IRI, got `{s}`")) }
}

pub(super) fn uuid(v: &Value, path: &str) -> Result<Uuid, String> {
    let s = string(v, path)?;
    parse_uuid(s).ok_or_else(|| format!("{path} must be a UUID, got `{s}`"))
}

/// A UUID in its canonical hyphenated form (8-4-4-4-12), the only one xAPI uses — in
/// statements and in parameters (no braces, `urn:uuid:` or bare hex).
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::parse_str(s).ok()
}

/// Whether `t` is a well-formed RFC 5646 language tag (`mirai_kit::validated::Locale`).
pub fn is_language_tag(t: &str) -> bool {
    Locale::is_well_formed(t)
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

#[cfg(test)]
mod tests {
    use super::is_language_tag;

    #[test]
    fn rfc5646_language_tags() {
        for t in [
            "de",
            "i-enochian",
            "ine",
            "zh-Hant",
            "sr-Latn",
            "zh-cmn-Hans-CN",
            "sr-Latn-RS",
            "sl-rozaj-biske",
            "de-CH-1901",
            "hy-Latn-IT-arevela",
            "de-DE",
            "az-Arab-x-AZE-derbend",
            "x-whatever",
            "cmn",
            "es-419",
            "en-GB-oed",
            "zh-min-nan",
            "en-US",
            "EN-us",
            "en-a-bbb-x-a-ccc",
            "de-1996",
        ] {
            assert!(is_language_tag(t), "{t} is well-formed");
        }
        for t in [
            "de-419-DE",
            "a-DE",
            "ar-a-aaa-b-bbb-a-ccc",
            "zh-z-aaa-z-bbb-c-ccc",
            "something",
            "",
            "en-",
            "-en",
            "en--US",
            "e",
            "en-US-x",
            "de-DE-DE",
            "de-DE-1901-1901",
            "en-a",
            "123",
            "en_US",
        ] {
            assert!(!is_language_tag(t), "{t} is not");
        }
    }
}
