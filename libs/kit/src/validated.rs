//! Validated input: newtypes built only by `parse`, so once you hold a `Slug`, an
//! `Email`, an `Iri` or a `Locale` it is valid and nothing downstream checks it again. `parse` takes the field
//! name so the 422 problem points at the right field; there is deliberately no serde
//! `Deserialize`, which could not know it.

use std::fmt;

use crate::error::AppError;

/// A URL-safe handle: 2 to 63 of `a-z`, `0-9` and hyphens, not starting or ending with a
/// hyphen. Taken as sent (no trimming, no case folding).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let ok = (2..=63).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AppError::invalid(field, "must be 2-63 of a-z, 0-9 and inner hyphens"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, normalized (trimmed, lower-cased): a non-empty local part, an `@`,
/// a domain with a dot, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let email = raw.trim().to_lowercase();
        let ok = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(AppError::invalid(field, "is not an email address"));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An absolute IRI (RFC 3987 shape: a scheme, a colon, something, no whitespace or
/// control characters), as xAPI identifies verbs, activities and extensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iri(String);

impl Iri {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        if Self::is_absolute(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AppError::invalid(field, "must be an absolute IRI"))
        }
    }

    /// The check alone, for validators that walk JSON documents (the LRS's).
    pub fn is_absolute(s: &str) -> bool {
        absolute_iri(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Iri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn absolute_iri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A language tag (RFC 5646, well-formed), kept as sent: `en-US`, `zh-Hant-TW`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Locale(String);

impl Locale {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        if Self::is_well_formed(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AppError::invalid(field, "must be a well-formed language tag (RFC 5646)"))
        }
    }

    /// The check alone, for validators that walk JSON documents (the LRS's).
    pub fn is_well_formed(t: &str) -> bool {
        well_formed_language_tag(t)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
fn well_formed_language_tag(t: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: AppError) -> (String, String) {
        match e {
            AppError::Invalid { errors, .. } => (errors[0].field.clone(), errors[0].message.clone()),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn slugs() {
        for ok in ["ab", "a-b", "org-42", &"a".repeat(63)] {
            assert_eq!(Slug::parse("slug", ok).unwrap().as_str(), ok);
        }
        for bad in ["a", "-ab", "ab-", "Ab", "a b", "a_b", "é1", &"a".repeat(64)] {
            let (field, message) = field_of(Slug::parse("slug", bad).unwrap_err());
            assert_eq!((field.as_str(), message.as_str()), ("slug", "must be 2-63 of a-z, 0-9 and inner hyphens"));
        }
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(Email::parse("email", "  Ada@Example.COM ").unwrap().to_string(), "ada@example.com");
        for bad in [
            "not-an-email",
            "@example.com",
            "ada@localhost",
            "",
            "ada@.example.com",
            "ada@example.",
            "a da@x.io",
            "ada@x\u{7}.io",
        ] {
            let (field, message) = field_of(Email::parse("email", bad).unwrap_err());
            assert_eq!((field.as_str(), message.as_str()), ("email", "is not an email address"));
        }
    }

    #[test]
    fn iris_and_locales() {
        assert!(Iri::parse("verb", "http://adlnet.gov/expapi/verbs/completed").is_ok());
        assert!(Iri::parse("verb", "urn:uuid:2a3b").is_ok());
        for bad in ["completed", "http://a b", "1http://x", ":x", "mailto:"] {
            let (field, _) = field_of(Iri::parse("verb", bad).unwrap_err());
            assert_eq!(field, "verb", "{bad}");
        }
        for good in ["en", "en-US", "zh-Hant-TW", "i-klingon", "x-private", "de-CH-1996"] {
            assert!(Locale::parse("locale", good).is_ok(), "{good}");
        }
        for bad in ["", "english!", "en--US", "de-1996-1996", "a-b-a-c"] {
            assert!(Locale::parse("locale", bad).is_err(), "{bad}");
        }
    }
}
