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
/// RFC 5646 grandfathered tags (irregular and regular), matched case-insensitively.
const GRANDFATHERED: &[&str] = &[
    "en-gb-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-be-fr",
    "sgn-be-nl",
    "sgn-ch-de",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

/// Whether `t` is a well-formed RFC 5646 language tag (section 2.1 syntax) whose
/// extensions use distinct singletons and whose variants do not repeat (2.2.5–2.2.6).
pub fn is_language_tag(t: &str) -> bool {
    let lower = t.to_ascii_lowercase();
    if GRANDFATHERED.contains(&lower.as_str()) {
        return true;
    }
    let subtags: Vec<&str> = lower.split('-').collect();
    let alpha =
        |s: &str, n: std::ops::RangeInclusive<usize>| n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase());
    let alnum = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let private = |rest: &[&str]| !rest.is_empty() && rest.iter().all(|s| alnum(s, 1..=8));
    // privateuse alone: "x-..."
    if subtags[0] == "x" {
        return private(&subtags[1..]);
    }
    // language: 2-3 letters with up to three extlangs, or 4-8 letters
    let mut i = 1;
    if alpha(subtags[0], 2..=3) {
        let mut extlangs = 0;
        while i < subtags.len() && extlangs < 3 && alpha(subtags[i], 3..=3) {
            i += 1;
            extlangs += 1;
        }
    } else if !alpha(subtags[0], 4..=8) {
        return false;
    }
    if i < subtags.len() && alpha(subtags[i], 4..=4) {
        i += 1; // script
    }
    if i < subtags.len()
        && (alpha(subtags[i], 2..=2) || (subtags[i].len() == 3 && subtags[i].bytes().all(|b| b.is_ascii_digit())))
    {
        i += 1; // region
    }
    let mut variants = std::collections::HashSet::new();
    while i < subtags.len() {
        let v = subtags[i];
        let is_variant = alnum(v, 5..=8) || (v.len() == 4 && v.as_bytes()[0].is_ascii_digit() && alnum(v, 4..=4));
        if !is_variant {
            break;
        }
        if !variants.insert(v) {
            return false;
        }
        i += 1;
    }
    let mut singletons = std::collections::HashSet::new();
    while i < subtags.len() && subtags[i].len() == 1 && subtags[i] != "x" {
        let singleton = subtags[i];
        if !alnum(singleton, 1..=1) || !singletons.insert(singleton) {
            return false;
        }
        i += 1;
        let start = i;
        while i < subtags.len() && alnum(subtags[i], 2..=8) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if i < subtags.len() && subtags[i] == "x" {
        return private(&subtags[i + 1..]);
    }
    i == subtags.len()
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
