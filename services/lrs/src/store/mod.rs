//! lrs's SQL.

pub mod attachments;
pub mod documents;
pub mod statements;

use sha2::Digest;

/// The longest value (in bytes) an index holds as it is. A B-tree row must fit in a
/// third of a page (~2.7 kB), and xAPI puts no bound on IRIs or account names, so a
/// longer identifier is indexed as `sha256:<hex>` of itself: equality (all the xAPI
/// filters need) survives, the row fits, and nothing the client sent is refused.
pub const MAX_INDEXED: usize = 256;

const HASHED: &str = "sha256:";

/// The form of an identifier (IRI, canonical IFI) the indexed columns hold. A value that
/// itself starts with `sha256:` (a valid IRI) is hashed too, so no value can pose as
/// another's key. Not idempotent: apply it to raw values only (SQL: `index_key`,
/// migration 0005).
pub fn key(s: &str) -> String {
    if s.len() <= MAX_INDEXED && !s.starts_with(HASHED) {
        s.to_owned()
    } else {
        format!("{HASHED}{}", hex::encode(sha2::Sha256::digest(s.as_bytes())))
    }
}

/// [`key`] of each.
pub fn keys(values: &[String]) -> Vec<String> {
    values.iter().map(|v| key(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_identifiers_are_hashed_and_keys_are_stable() {
        let short = "http://example.com/a";
        assert_eq!(key(short), short);
        let long = format!("http://example.com/{}", "x".repeat(5000));
        let k = key(&long);
        assert!(k.starts_with("sha256:") && k.len() == 71, "{k}");
        assert_ne!(key(&k), k, "a value shaped like a key cannot pose as the long value's key");
        assert_ne!(key(&format!("{long}y")), k);
        let edge = "a".repeat(MAX_INDEXED);
        assert_eq!(key(&edge), edge);
        assert_ne!(key(&format!("{edge}a")), format!("{edge}a"));
    }
}
