//! Validated input: newtypes built only by `parse`, so once you hold a `Slug` or an
//! `Email` it is valid and nothing downstream checks it again. `parse` takes the field
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
        if !email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')) || email.len() > 254 {
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
        for bad in ["not-an-email", "@example.com", "ada@localhost", ""] {
            let (field, message) = field_of(Email::parse("email", bad).unwrap_err());
            assert_eq!((field.as_str(), message.as_str()), ("email", "is not an email address"));
        }
    }
}
