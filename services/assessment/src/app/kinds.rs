//! The item kinds: what an author writes (the question and its key), what a learner is
//! shown (never the key), how a response is checked and graded, and how both read as an
//! xAPI `cmi.interaction` (its type, choices and correct-responses pattern; the response
//! in the same syntax).

use std::collections::{BTreeMap, HashSet};

use mirai_kit::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// A choice, a matching side's entry, an element to order: an id (what responses name)
/// and its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// 1 to 40 letters, digits, `-` or `_`, unique in its list.
    pub id: String,
    pub text: String,
}

/// A question's kind, what it shows and its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    /// One choice is right: the response is its id.
    SingleChoice { choices: Vec<Choice>, correct: String },
    /// Several are right: the response is the set of ids (all and only those).
    MultipleChoice { choices: Vec<Choice>, correct: Vec<String> },
    /// The response is `true` or `false`.
    TrueFalse { correct: bool },
    /// The response is text, right when it is one of `accepted` (trimmed; letter case
    /// ignored unless `case_sensitive`).
    FillIn {
        accepted: Vec<String>,
        #[serde(default)]
        case_sensitive: bool,
    },
    /// The response maps each source's id to a target's id; right when every source maps
    /// as in `correct`.
    Matching { sources: Vec<Choice>, targets: Vec<Choice>, correct: BTreeMap<String, String> },
    /// The response lists every choice's id; right in the order of `correct`.
    Ordering { choices: Vec<Choice>, correct: Vec<String> },
    /// The response is a number, right within `tolerance` of `value`.
    Numeric {
        value: f64,
        #[serde(default)]
        tolerance: f64,
    },
    /// Free text, scored by a person (with the rubric).
    Essay {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rubric: Option<String>,
    },
}

const MAX_CHOICES: usize = 50;
const MAX_TEXT: usize = 10_000;
/// A choice's text at most (50 of them make one question).
const MAX_CHOICE_TEXT: usize = 1_000;

fn id_ok(id: &str) -> bool {
    (1..=40).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Body {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SingleChoice { .. } => "single_choice",
            Self::MultipleChoice { .. } => "multiple_choice",
            Self::TrueFalse { .. } => "true_false",
            Self::FillIn { .. } => "fill_in",
            Self::Matching { .. } => "matching",
            Self::Ordering { .. } => "ordering",
            Self::Numeric { .. } => "numeric",
            Self::Essay { .. } => "essay",
        }
    }

    /// Whether a person scores it.
    pub fn manual(&self) -> bool {
        matches!(self, Self::Essay { .. })
    }

    /// The author's errors, each under `body.<field>`.
    pub fn check(&self, errors: &mut Vec<FieldError>) {
        let mut err = |field: &str, msg: &str| errors.push(FieldError::new(format!("body.{field}"), msg));
        let list = |field: &str, l: &[Choice], min: usize, err: &mut dyn FnMut(&str, &str)| -> HashSet<String> {
            if l.len() < min || l.len() > MAX_CHOICES {
                err(field, &format!("{min} to {MAX_CHOICES} entries"));
            }
            let mut ids = HashSet::new();
            for c in l {
                if !id_ok(&c.id) || !ids.insert(c.id.clone()) {
                    err(field, "ids are 1 to 40 letters, digits, `-` or `_`, each once");
                }
                if c.text.trim().is_empty() || c.text.chars().count() > MAX_CHOICE_TEXT {
                    err(field, &format!("each text is 1 to {MAX_CHOICE_TEXT} characters"));
                }
            }
            ids
        };
        match self {
            Self::SingleChoice { choices, correct } => {
                if !list("choices", choices, 2, &mut err).contains(correct) {
                    err("correct", "the id of one of the choices");
                }
            }
            Self::MultipleChoice { choices, correct } => {
                let ids = list("choices", choices, 2, &mut err);
                let unique: HashSet<&String> = correct.iter().collect();
                if correct.is_empty() || unique.len() != correct.len() || !correct.iter().all(|c| ids.contains(c)) {
                    err("correct", "ids of the choices, at least one, each once");
                }
            }
            Self::TrueFalse { .. } => {}
            Self::FillIn { accepted, .. } => {
                if accepted.is_empty()
                    || accepted.len() > MAX_CHOICES
                    || accepted.iter().any(|a| a.trim().is_empty() || a.len() > 500)
                {
                    err("accepted", "1 to 50 answers of 1 to 500 characters");
                }
            }
            Self::Matching { sources, targets, correct } => {
                let s = list("sources", sources, 1, &mut err);
                let t = list("targets", targets, 1, &mut err);
                if correct.len() != s.len() || !correct.iter().all(|(k, v)| s.contains(k) && t.contains(v)) {
                    err("correct", "every source's id mapped to a target's id");
                }
            }
            Self::Ordering { choices, correct } => {
                let ids = list("choices", choices, 2, &mut err);
                let given: HashSet<&String> = correct.iter().collect();
                if correct.len() != ids.len() || given.len() != ids.len() || !correct.iter().all(|c| ids.contains(c)) {
                    err("correct", "every choice's id, once, in the right order");
                }
            }
            Self::Numeric { value, tolerance } => {
                if !value.is_finite() {
                    err("value", "a finite number");
                }
                if !tolerance.is_finite() || *tolerance < 0.0 {
                    err("tolerance", "a number of at least 0");
                }
            }
            Self::Essay { rubric } => {
                if rubric.as_ref().is_some_and(|r| r.chars().count() > MAX_TEXT) {
                    err("rubric", &format!("at most {MAX_TEXT} characters"));
                }
            }
        }
    }

    /// What the learner is shown: the choices (in `order`, when drawn shuffled), never
    /// the key.
    pub fn shown(&self, order: &[String]) -> Value {
        let arrange = |l: &[Choice]| -> Vec<Choice> {
            if order.is_empty() {
                return l.to_vec();
            }
            order.iter().filter_map(|id| l.iter().find(|c| &c.id == id).cloned()).collect()
        };
        match self {
            Self::SingleChoice { choices, .. }
            | Self::MultipleChoice { choices, .. }
            | Self::Ordering { choices, .. } => {
                json!({ "choices": arrange(choices) })
            }
            Self::Matching { sources, targets, .. } => json!({ "sources": sources, "targets": arrange(targets) }),
            Self::TrueFalse { .. } | Self::FillIn { .. } | Self::Numeric { .. } | Self::Essay { .. } => json!({}),
        }
    }

    /// The order shuffling must not land on (an ordering's answer, a matching's targets
    /// in their sources' order): what is always shuffled.
    pub fn order_key(&self) -> Option<Vec<String>> {
        match self {
            Self::Ordering { correct, .. } => Some(correct.clone()),
            Self::Matching { sources, correct, .. } => {
                Some(sources.iter().filter_map(|s| correct.get(&s.id).cloned()).collect())
            }
            _ => None,
        }
    }

    /// The ids a shuffle reorders (the choices, or a matching's targets).
    pub fn shuffled_ids(&self) -> Vec<String> {
        match self {
            Self::SingleChoice { choices, .. }
            | Self::MultipleChoice { choices, .. }
            | Self::Ordering { choices, .. } => choices.iter().map(|c| c.id.clone()).collect(),
            Self::Matching { targets, .. } => targets.iter().map(|c| c.id.clone()).collect(),
            _ => vec![],
        }
    }

    /// Whether a response has this kind's shape (ids it names exist); `Err` says what
    /// is expected.
    pub fn check_response(&self, r: &Value) -> Result<(), String> {
        let ids = |l: &[Choice]| l.iter().map(|c| c.id.clone()).collect::<HashSet<String>>();
        let strings = |r: &Value| -> Option<Vec<String>> {
            r.as_array()?.iter().map(|v| v.as_str().map(str::to_owned)).collect()
        };
        let ok = match self {
            Self::SingleChoice { choices, .. } => r.as_str().is_some_and(|s| ids(choices).contains(s)),
            Self::MultipleChoice { choices, .. } => strings(r).is_some_and(|l| {
                let known = ids(choices);
                l.len() <= known.len()
                    && l.iter().all(|s| known.contains(s))
                    && l.iter().collect::<HashSet<_>>().len() == l.len()
            }),
            Self::TrueFalse { .. } => r.is_boolean(),
            Self::FillIn { .. } | Self::Essay { .. } => r.as_str().is_some_and(|s| s.chars().count() <= MAX_TEXT),
            Self::Matching { sources, targets, .. } => r.as_object().is_some_and(|m| {
                let (s, t) = (ids(sources), ids(targets));
                m.iter().all(|(k, v)| s.contains(k) && v.as_str().is_some_and(|v| t.contains(v)))
            }),
            Self::Ordering { choices, .. } => strings(r).is_some_and(|l| {
                let known = ids(choices);
                l.len() == known.len()
                    && l.iter().collect::<HashSet<_>>().len() == l.len()
                    && l.iter().all(|s| known.contains(s))
            }),
            Self::Numeric { .. } => r.as_f64().is_some_and(f64::is_finite),
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Self::SingleChoice { .. } => "the id of one of the choices",
            Self::MultipleChoice { .. } => "an array of choice ids, each once",
            Self::TrueFalse { .. } => "true or false",
            Self::FillIn { .. } | Self::Essay { .. } => "text of at most 10,000 characters",
            Self::Matching { .. } => "an object mapping source ids to target ids",
            Self::Ordering { .. } => "an array of every choice's id, each once",
            Self::Numeric { .. } => "a number",
        }
        .to_owned())
    }

    /// Whether a response is right; `None` for what a person scores.
    pub fn grade(&self, r: Option<&Value>) -> Option<bool> {
        if self.manual() {
            return None;
        }
        let Some(r) = r else { return Some(false) };
        Some(match self {
            Self::SingleChoice { correct, .. } => r.as_str() == Some(correct.as_str()),
            Self::MultipleChoice { correct, .. } => r.as_array().is_some_and(|l| {
                let given: HashSet<&str> = l.iter().filter_map(Value::as_str).collect();
                given.len() == correct.len() && correct.iter().all(|c| given.contains(c.as_str()))
            }),
            Self::TrueFalse { correct } => r.as_bool() == Some(*correct),
            Self::FillIn { accepted, case_sensitive } => r.as_str().is_some_and(|s| {
                let s = s.trim();
                accepted
                    .iter()
                    .any(|a| if *case_sensitive { a.trim() == s } else { a.trim().to_lowercase() == s.to_lowercase() })
            }),
            Self::Matching { correct, .. } => r.as_object().is_some_and(|m| {
                m.len() == correct.len() && correct.iter().all(|(k, v)| m.get(k).and_then(Value::as_str) == Some(v))
            }),
            Self::Ordering { correct, .. } => {
                r.as_array().is_some_and(|l| l.iter().map(Value::as_str).eq(correct.iter().map(|c| Some(c.as_str()))))
            }
            Self::Numeric { value, tolerance } => r.as_f64().is_some_and(|v| (v - value).abs() <= *tolerance + 1e-9),
            Self::Essay { .. } => return None,
        })
    }

    /// The xAPI `cmi.interaction` definition (xAPI 1.0.3, Data 2.4.4.1.1), without its
    /// `correctResponsesPattern`: the LRS shows an activity's definition to every reader
    /// of the tenant, and the pattern is the key of a question others have yet to answer.
    pub fn interaction(&self, lang: &str, stem: &str) -> Value {
        let cap = |t: &str| -> String { t.chars().take(2_000).collect() };
        let components = |l: &[Choice]| -> Vec<Value> {
            l.iter().map(|c| json!({ "id": c.id, "description": { lang: cap(&c.text) } })).collect()
        };
        let mut d = json!({ "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
            "description": { lang: cap(stem) } });
        let kind = match self {
            Self::SingleChoice { choices, .. } | Self::MultipleChoice { choices, .. } => {
                d["choices"] = json!(components(choices));
                "choice"
            }
            Self::TrueFalse { .. } => "true-false",
            Self::FillIn { .. } => "fill-in",
            Self::Matching { sources, targets, .. } => {
                d["source"] = json!(components(sources));
                d["target"] = json!(components(targets));
                "matching"
            }
            Self::Ordering { choices, .. } => {
                d["choices"] = json!(components(choices));
                "sequencing"
            }
            Self::Numeric { .. } => "numeric",
            Self::Essay { .. } => "long-fill-in",
        };
        d["interactionType"] = json!(kind);
        d
    }

    /// A response in the interaction's syntax.
    pub fn response_text(&self, r: &Value) -> String {
        match self {
            Self::MultipleChoice { .. } | Self::Ordering { .. } => r
                .as_array()
                .map(|l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("[,]"))
                .unwrap_or_default(),
            Self::Matching { .. } => r
                .as_object()
                .map(|m| {
                    m.iter().map(|(k, v)| format!("{k}[.]{}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join("[,]")
                })
                .unwrap_or_default(),
            _ => match r {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str) -> Choice {
        Choice { id: id.into(), text: format!("choice {id}") }
    }

    #[test]
    fn every_kind_grades_what_is_right_and_only_that() {
        let single = Body::SingleChoice { choices: vec![c("a"), c("b")], correct: "b".into() };
        assert_eq!((single.grade(Some(&json!("b"))), single.grade(Some(&json!("a")))), (Some(true), Some(false)));
        assert_eq!(single.grade(None), Some(false));
        let multi =
            Body::MultipleChoice { choices: vec![c("a"), c("b"), c("c")], correct: vec!["a".into(), "c".into()] };
        assert_eq!(multi.grade(Some(&json!(["c", "a"]))), Some(true));
        assert_eq!(multi.grade(Some(&json!(["a"]))), Some(false));
        assert_eq!(multi.grade(Some(&json!(["a", "b", "c"]))), Some(false));
        let fill = Body::FillIn { accepted: vec!["Top rung".into()], case_sensitive: false };
        assert_eq!(fill.grade(Some(&json!("  top RUNG "))), Some(true));
        let matching = Body::Matching {
            sources: vec![c("s1"), c("s2")],
            targets: vec![c("t1"), c("t2")],
            correct: [("s1".into(), "t2".into()), ("s2".into(), "t1".into())].into(),
        };
        assert_eq!(matching.grade(Some(&json!({ "s1": "t2", "s2": "t1" }))), Some(true));
        assert_eq!(matching.grade(Some(&json!({ "s1": "t2" }))), Some(false));
        let order =
            Body::Ordering { choices: vec![c("x"), c("y"), c("z")], correct: vec!["z".into(), "x".into(), "y".into()] };
        assert_eq!(order.grade(Some(&json!(["z", "x", "y"]))), Some(true));
        assert_eq!(order.grade(Some(&json!(["x", "y", "z"]))), Some(false));
        let num = Body::Numeric { value: 9.81, tolerance: 0.05 };
        assert_eq!((num.grade(Some(&json!(9.8))), num.grade(Some(&json!(9.9)))), (Some(true), Some(false)));
        assert_eq!(Body::TrueFalse { correct: false }.grade(Some(&json!(false))), Some(true));
        assert_eq!(Body::Essay { rubric: None }.grade(Some(&json!("words"))), None);
    }

    #[test]
    fn responses_of_the_wrong_shape_and_keys_that_do_not_add_up_are_refused() {
        let single = Body::SingleChoice { choices: vec![c("a"), c("b")], correct: "b".into() };
        assert!(single.check_response(&json!("z")).is_err());
        assert!(single.check_response(&json!(["a"])).is_err());
        let order = Body::Ordering { choices: vec![c("x"), c("y")], correct: vec!["y".into(), "x".into()] };
        assert!(order.check_response(&json!(["x", "x"])).is_err());
        let mut errors = vec![];
        Body::SingleChoice { choices: vec![c("a"), c("a")], correct: "q".into() }.check(&mut errors);
        Body::Ordering { choices: vec![c("x"), c("y")], correct: vec!["x".into()] }.check(&mut errors);
        Body::Numeric { value: 1.0, tolerance: -1.0 }.check(&mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["body.choices", "body.correct", "body.correct", "body.tolerance"]);
    }

    #[test]
    fn the_learner_sees_no_key_and_xapi_reads_the_interaction() {
        let multi =
            Body::MultipleChoice { choices: vec![c("a"), c("b"), c("c")], correct: vec!["a".into(), "c".into()] };
        let shown = multi.shown(&["c".into(), "a".into(), "b".into()]);
        assert_eq!(shown["choices"][0]["id"], "c");
        assert!(!shown.to_string().contains("correct"));
        let d = multi.interaction("en", "Which?");
        assert_eq!((d["interactionType"].as_str(), d["choices"][2]["id"].as_str()), (Some("choice"), Some("c")));
        assert!(d.get("correctResponsesPattern").is_none(), "the LRS shows definitions to everyone: {d}");
        assert_eq!(multi.response_text(&json!(["c", "a"])), "c[,]a");
        let order = Body::Ordering { choices: vec![c("x"), c("y")], correct: vec!["y".into(), "x".into()] };
        assert_eq!(order.order_key(), Some(vec!["y".to_owned(), "x".to_owned()]));
    }
}
