//! What the gateway checks and changes in the text it carries: PII redaction for payloads
//! bound to a cloud provider (e-mail addresses, phone numbers, payment card numbers that
//! pass the Luhn check, US social security and UK national insurance numbers), replaced
//! by numbered placeholders that are put back in the answer (the answer goes to the same
//! tenant user who sent them); a tenant's blocked terms; the token estimate budgets
//! reserve.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

struct Pattern {
    label: &'static str,
    re: Regex,
    accept: fn(&str) -> bool,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("PII pattern");
    vec![
        Pattern {
            label: "EMAIL",
            re: re(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"),
            accept: |_| true,
        },
        Pattern { label: "CARD", re: re(r"\b\d(?:[ ./-]?\d){12,18}\b"), accept: luhn },
        Pattern { label: "NATIONAL_ID", re: re(r"\b\d{3}-\d{2}-\d{4}\b"), accept: |_| true },
        Pattern {
            label: "NATIONAL_ID",
            re: re(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"),
            accept: |_| true,
        },
        Pattern {
            label: "PHONE",
            re: re(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}"),
            accept: |s| (8..=15).contains(&s.chars().filter(char::is_ascii_digit).count()),
        },
    ]
});

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").expect("UUID pattern")
});

fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

/// Replaces PII with placeholders (`[EMAIL_1]`), remembering each for `restore`. The same
/// value gets the same placeholder throughout a call.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    found: Vec<(String, String)>,
}

impl Redactor {
    pub fn redact(&mut self, text: &str) -> String {
        let mut out = text.to_owned();
        for p in PATTERNS.iter() {
            let mut next = String::with_capacity(out.len());
            let mut last = 0;
            // A UUID is an identifier, not PII: a digit run inside one (a source id the
            // answer must cite back) is left alone. Nothing else is exempt: a number glued
            // to a label (`Phone:0207946 0958`, `電話03-1234-5678`) is still redacted.
            let ids: Vec<(usize, usize)> = UUID.find_iter(&out).map(|m| (m.start(), m.end())).collect();
            for m in p.re.find_iter(&out) {
                if !(p.accept)(m.as_str()) || ids.iter().any(|&(s, e)| m.start() < e && s < m.end()) {
                    continue;
                }
                next.push_str(&out[last..m.start()]);
                next.push_str(&self.placeholder(p.label, m.as_str()));
                last = m.end();
            }
            next.push_str(&out[last..]);
            out = next;
        }
        out
    }

    fn placeholder(&mut self, label: &str, value: &str) -> String {
        if let Some((ph, _)) = self.found.iter().find(|(ph, v)| v == value && ph.starts_with(&format!("[{label}_"))) {
            return ph.clone();
        }
        let n = self.found.iter().filter(|(ph, _)| ph.starts_with(&format!("[{label}_"))).count() + 1;
        let ph = format!("[{label}_{n}]");
        self.found.push((ph.clone(), value.to_owned()));
        ph
    }

    pub fn redacted_anything(&self) -> bool {
        !self.found.is_empty()
    }

    /// Puts the original values back.
    pub fn restore(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (ph, v) in &self.found {
            out = out.replace(ph, v);
        }
        out
    }

    /// `restore` on every string in a JSON value.
    pub fn restore_json(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.restore(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.restore_json(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.restore_json(x)),
            _ => {}
        }
    }

    /// A restorer for a streamed answer, whose placeholders may be split across chunks.
    pub fn stream(&self) -> StreamRestorer<'_> {
        StreamRestorer { redactor: self, held: String::new() }
    }
}

pub struct StreamRestorer<'a> {
    redactor: &'a Redactor,
    held: String,
}

impl StreamRestorer<'_> {
    /// The text that can be shown now; a possible placeholder's beginning is held back.
    pub fn push(&mut self, chunk: &str) -> String {
        self.held.push_str(chunk);
        if self.redactor.found.is_empty() {
            return std::mem::take(&mut self.held);
        }
        let cut = match self.held.rfind('[') {
            Some(i) if !self.held[i..].contains(']') && self.held.len() - i < 24 => i,
            _ => self.held.len(),
        };
        let ready: String = self.held.drain(..cut).collect();
        self.redactor.restore(&ready)
    }

    pub fn finish(&mut self) -> String {
        self.redactor.restore(&std::mem::take(&mut self.held))
    }
}

/// The first of `terms` that `text` contains as a whole word or phrase, ignoring case.
pub fn blocked_term<'a>(text: &str, terms: &'a [String]) -> Option<&'a str> {
    let lower = text.to_lowercase();
    terms.iter().map(String::as_str).find(|t| {
        let t = t.to_lowercase();
        lower.match_indices(&t).any(|(i, _)| {
            let before = lower[..i].chars().next_back();
            let after = lower[i + t.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    })
}

/// A deliberately generous token estimate (a token is rarely under 3 characters), so a
/// reservation covers the call it stands for.
pub fn estimate_tokens(text: &str) -> i64 {
    (text.chars().count() as i64 + 2) / 3 + 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pii_is_replaced_consistently_and_restored() {
        let mut r = Redactor::default();
        assert!(!Redactor::default().redact("card 4111.1111.1111.1111 ok").contains("4111"));
        let text = "Mail jane.doe@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, \
                    SSN 123-45-6789, NI AB 12 34 56 C. Again: jane.doe@example.com. Order 12345.";
        let red = r.redact(text);
        assert!(!red.contains("jane.doe"), "{red}");
        assert!(!red.contains("4111"), "{red}");
        assert!(!red.contains("7946"), "{red}");
        assert!(!red.contains("123-45-6789"), "{red}");
        assert!(!red.contains("AB 12"), "{red}");
        assert_eq!(red.matches("[EMAIL_1]").count(), 2, "{red}");
        assert!(red.contains("[CARD_1]") && red.contains("[PHONE_1]") && red.contains("[NATIONAL_ID_2]"), "{red}");
        assert!(red.contains("Order 12345"), "short numbers are not phone numbers: {red}");
        assert_eq!(r.restore(&red), text);
    }

    #[test]
    fn identifiers_are_not_pii() {
        let mut r = Redactor::default();
        for id in ["media:01a230e7-09b4-7123-9456-123456789012#0", "media:12345678-1234-5678-9012-345678901234#12"] {
            assert_eq!(r.redact(id), id);
        }
        // Numbers glued to their labels are still PII.
        for text in [
            "call 020 7946 0958 now",
            "Phone:0207946 0958x12",
            "(555) 123-4567x89",
            "+1 555-123-4567ext. 89",
            "Phone020 7946 0958",
            "SSN123-45-6789",
            "03-1234-5678までお電話ください",
            "電話03-1234-5678",
        ] {
            let out = Redactor::default().redact(text);
            assert!(out.contains("[PHONE_1]") || out.contains("[NATIONAL_ID_1]"), "{text} → {out}");
        }
    }

    #[test]
    fn a_number_that_fails_luhn_is_not_a_card() {
        let mut r = Redactor::default();
        assert_eq!(r.redact("ref 4111 1111 1111 1112"), "ref 4111 1111 1111 1112");
        let mut r = Redactor::default();
        let out = r.redact("ISBN 9780306406157");
        assert!(!out.contains("[CARD"), "{out}");
    }

    #[test]
    fn a_stream_is_restored_across_chunk_boundaries() {
        let mut r = Redactor::default();
        r.redact("write to bob@example.org");
        let mut s = r.stream();
        let mut out = String::new();
        for chunk in ["Dear ", "[EMA", "IL_", "1]", ", hello [sic] ", "bye"] {
            out.push_str(&s.push(chunk));
        }
        out.push_str(&s.finish());
        assert_eq!(out, "Dear bob@example.org, hello [sic] bye");
    }

    #[test]
    fn blocked_terms_match_whole_words_ignoring_case() {
        let terms = vec!["Project Falcon".to_owned(), "acme".to_owned()];
        assert_eq!(blocked_term("about project falcon today", &terms), Some("Project Falcon"));
        assert_eq!(blocked_term("ACME corp", &terms), Some("acme"));
        assert_eq!(blocked_term("acmeology", &terms), None);
    }
}
