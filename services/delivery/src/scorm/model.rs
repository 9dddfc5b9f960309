//! The SCORM data models as tables: every element of SCORM 1.2's `cmi` (RTE 3.4) and of
//! SCORM 2004 4th edition's (RTE 4), with who may read or write it and what a value must
//! look like. The server applies a commit through these rules, and the JavaScript adapter
//! receives the same table (as JSON) to answer `SetValue`/`GetValue` with the standard's
//! error codes without a round trip: one definition of the rules, two interpreters.

use serde::Serialize;

/// Which runtime: SCORM 1.2 (`window.API`) or SCORM 2004 (`window.API_1484_11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    #[serde(rename = "scorm_1.2")]
    Scorm12,
    #[serde(rename = "scorm_2004")]
    Scorm2004,
}

impl Version {
    pub fn of(standard: &str) -> Option<Self> {
        match standard {
            "scorm_1.2" => Some(Self::Scorm12),
            "scorm_2004" => Some(Self::Scorm2004),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scorm12 => "scorm_1.2",
            Self::Scorm2004 => "scorm_2004",
        }
    }

    pub fn rules(self) -> &'static [Rule] {
        match self {
            Self::Scorm12 => SCORM12,
            Self::Scorm2004 => SCORM2004,
        }
    }

    /// The standard's code for a fault.
    pub fn code(self, f: Fault) -> u16 {
        use Fault::*;
        match (self, f) {
            (Self::Scorm12, NotDefined | NoRecord | OutOfOrder | Dependency | NotUnique) => 201,
            (Self::Scorm12, NoChildren) => 202,
            (Self::Scorm12, NotArray) => 203,
            (Self::Scorm12, Keyword) => 402,
            (Self::Scorm12, ReadOnly) => 403,
            (Self::Scorm12, WriteOnly) => 404,
            (Self::Scorm12, Type | Range) => 405,
            (Self::Scorm12, NotInitialized) => 0,
            (Self::Scorm2004, NotDefined) => 401,
            (Self::Scorm2004, NoChildren | NotArray | NoRecord) => 301,
            (Self::Scorm2004, Keyword | ReadOnly) => 404,
            (Self::Scorm2004, WriteOnly) => 405,
            (Self::Scorm2004, Type) => 406,
            (Self::Scorm2004, Range) => 407,
            (Self::Scorm2004, NotInitialized) => 403,
            (Self::Scorm2004, Dependency) => 408,
            (Self::Scorm2004, OutOfOrder | NotUnique) => 351,
        }
    }
}

/// Why a `GetValue` or `SetValue` fails, before it becomes a version's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No such element.
    NotDefined,
    /// `x._children` of an element without children.
    NoChildren,
    /// `x._count` of an element that is not an array.
    NotArray,
    /// Setting a keyword (`_children`, `_count`, `_version`).
    Keyword,
    ReadOnly,
    WriteOnly,
    /// The value's format is not the element's type.
    Type,
    /// A number outside the element's range.
    Range,
    /// Read before any value was set (2004: 403; 1.2 reads an empty string).
    NotInitialized,
    /// A record's other fields before its `id` (2004: 408).
    Dependency,
    /// An array index beyond `_count` (arrays fill in order).
    OutOfOrder,
    /// Reading a record at or beyond `_count`.
    NoRecord,
    /// An objective's id another objective has (2004: 351).
    NotUnique,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Ro,
    Wo,
    Rw,
}

/// What a value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Kind {
    /// Any text of at most `max` characters.
    Str { max: usize },
    /// Text matching `re` (whole), of at most `max` characters.
    Re { re: &'static str, max: usize },
    /// One of `values`.
    Vocab { values: &'static [&'static str] },
    /// A number written as `re` allows, within `[min, max]` where given (or empty, when
    /// `blank`: SCORM 1.2's scores are CMIDecimal or CMIBlank).
    Num { re: &'static str, min: Option<f64>, max: Option<f64>, blank: bool },
    /// One of `values`, or a number written as `re` allows.
    Result { values: &'static [&'static str], re: &'static str },
    /// 2004's long identifier: a URI without spaces (`urn:` ones with a namespace id).
    LongId,
    /// 2004's localized string: an optional `{lang=xx}` then at most `max` characters.
    LangStr { max: usize },
    /// A keyword with a fixed value (`_children`, `_version`).
    Keyword { value: &'static str },
    /// The `_count` of the array the element names.
    Count,
}

/// One element (or, with `n` for an index, one field of every record of an array).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub path: &'static str,
    pub access: Access,
    pub kind: Kind,
}

const fn rule(path: &'static str, access: Access, kind: Kind) -> Rule {
    Rule { path, access, kind }
}

const fn ro(path: &'static str, kind: Kind) -> Rule {
    rule(path, Access::Ro, kind)
}
const fn rw(path: &'static str, kind: Kind) -> Rule {
    rule(path, Access::Rw, kind)
}
const fn wo(path: &'static str, kind: Kind) -> Rule {
    rule(path, Access::Wo, kind)
}
const fn children(path: &'static str, value: &'static str) -> Rule {
    ro(path, Kind::Keyword { value })
}
const fn count(path: &'static str) -> Rule {
    ro(path, Kind::Count)
}
const fn s(max: usize) -> Kind {
    Kind::Str { max }
}
const fn v(values: &'static [&'static str]) -> Kind {
    Kind::Vocab { values }
}

// SCORM 1.2's types (RTE 3.4.2).
const DECIMAL12: &str = r"-?([0-9]{1,3}(\.[0-9]*)?|\.[0-9]+)";
const IDENTIFIER12: Kind = Kind::Re { re: r"[\u0021-\u007E]*", max: 255 };
const TIMESPAN12: Kind = Kind::Re { re: r"[0-9]{2,4}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,2})?", max: 13 };
const TIME12: Kind = Kind::Re { re: r"([0-1][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,2})?", max: 11 };
const SCORE12: Kind = Kind::Num { re: DECIMAL12, min: Some(0.0), max: Some(100.0), blank: true };
const STATUS12: &[&str] = &["passed", "completed", "failed", "incomplete", "browsed", "not attempted"];
/// What a SCO may set `lesson_status` to: every status but `not attempted`.
pub const SETTABLE_STATUS12: &[&str] = &["passed", "completed", "failed", "incomplete", "browsed"];

pub static SCORM12: &[Rule] = &[
    children(
        "cmi._children",
        "core,suspend_data,launch_data,comments,objectives,student_data,student_preference,interactions",
    ),
    ro("cmi._version", Kind::Keyword { value: "3.4" }),
    children(
        "cmi.core._children",
        "student_id,student_name,lesson_location,credit,lesson_status,entry,score,total_time,lesson_mode,exit,session_time",
    ),
    ro("cmi.core.student_id", IDENTIFIER12),
    ro("cmi.core.student_name", s(255)),
    rw("cmi.core.lesson_location", s(255)),
    ro("cmi.core.credit", v(&["credit", "no-credit"])),
    rw("cmi.core.lesson_status", v(SETTABLE_STATUS12)),
    ro("cmi.core.entry", v(&["ab-initio", "resume", ""])),
    children("cmi.core.score._children", "raw,min,max"),
    rw("cmi.core.score.raw", SCORE12),
    rw("cmi.core.score.min", SCORE12),
    rw("cmi.core.score.max", SCORE12),
    ro("cmi.core.total_time", TIMESPAN12),
    ro("cmi.core.lesson_mode", v(&["browse", "normal", "review"])),
    wo("cmi.core.exit", v(&["time-out", "suspend", "logout", ""])),
    wo("cmi.core.session_time", TIMESPAN12),
    rw("cmi.suspend_data", s(4096)),
    ro("cmi.launch_data", s(4096)),
    rw("cmi.comments", s(4096)),
    ro("cmi.comments_from_lms", s(4096)),
    children("cmi.objectives._children", "id,score,status"),
    count("cmi.objectives._count"),
    rw("cmi.objectives.n.id", IDENTIFIER12),
    children("cmi.objectives.n.score._children", "raw,min,max"),
    rw("cmi.objectives.n.score.raw", SCORE12),
    rw("cmi.objectives.n.score.min", SCORE12),
    rw("cmi.objectives.n.score.max", SCORE12),
    rw("cmi.objectives.n.status", v(STATUS12)),
    children("cmi.student_data._children", "mastery_score,max_time_allowed,time_limit_action"),
    ro("cmi.student_data.mastery_score", SCORE12),
    ro("cmi.student_data.max_time_allowed", TIMESPAN12),
    ro(
        "cmi.student_data.time_limit_action",
        v(&["exit,message", "exit,no message", "continue,message", "continue,no message"]),
    ),
    children("cmi.student_preference._children", "audio,language,speed,text"),
    rw("cmi.student_preference.audio", Kind::Num { re: r"-?[0-9]+", min: Some(-1.0), max: Some(100.0), blank: false }),
    rw("cmi.student_preference.language", s(255)),
    rw(
        "cmi.student_preference.speed",
        Kind::Num { re: r"-?[0-9]+", min: Some(-100.0), max: Some(100.0), blank: false },
    ),
    rw("cmi.student_preference.text", Kind::Num { re: r"-?[0-9]+", min: Some(-1.0), max: Some(1.0), blank: false }),
    children(
        "cmi.interactions._children",
        "id,objectives,time,type,correct_responses,weighting,student_response,result,latency",
    ),
    count("cmi.interactions._count"),
    wo("cmi.interactions.n.id", IDENTIFIER12),
    count("cmi.interactions.n.objectives._count"),
    wo("cmi.interactions.n.objectives.n.id", IDENTIFIER12),
    wo("cmi.interactions.n.time", TIME12),
    wo(
        "cmi.interactions.n.type",
        v(&["true-false", "choice", "fill-in", "matching", "performance", "sequencing", "likert", "numeric"]),
    ),
    count("cmi.interactions.n.correct_responses._count"),
    wo("cmi.interactions.n.correct_responses.n.pattern", s(255)),
    wo("cmi.interactions.n.weighting", Kind::Num { re: DECIMAL12, min: None, max: None, blank: false }),
    wo("cmi.interactions.n.student_response", s(255)),
    wo(
        "cmi.interactions.n.result",
        Kind::Result { values: &["correct", "wrong", "unanticipated", "neutral"], re: DECIMAL12 },
    ),
    wo("cmi.interactions.n.latency", TIMESPAN12),
];

// SCORM 2004's types (RTE 4.1 and 4.2).
const REAL: &str = r"-?[0-9]{1,5}(\.[0-9]{1,18})?";
const INTERVAL: Kind = Kind::Re { re: r"P(\d+Y)?(\d+M)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d{1,2})?S)?)?", max: 64 };
const TIMESTAMP: Kind = Kind::Re {
    re: r"(19[7-9][0-9]|20[0-2][0-9]|203[0-8])(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([0-1][0-9]|2[0-3])(:[0-5][0-9](:[0-5][0-9](\.[0-9]{1,2})?)?)?(Z|[+-]([0-1][0-9]|2[0-3])(:[0-5][0-9])?)?)?)?)?",
    max: 40,
};
const SCALED: Kind = Kind::Num { re: REAL, min: Some(-1.0), max: Some(1.0), blank: false };
const ANY_REAL: Kind = Kind::Num { re: REAL, min: None, max: None, blank: false };
const UNIT: Kind = Kind::Num { re: REAL, min: Some(0.0), max: Some(1.0), blank: false };
const COMPLETION: &[&str] = &["completed", "incomplete", "not attempted", "unknown"];
const SUCCESS: &[&str] = &["passed", "failed", "unknown"];

pub static SCORM2004: &[Rule] = &[
    ro("cmi._version", Kind::Keyword { value: "1.0" }),
    children("cmi.comments_from_learner._children", "comment,location,timestamp"),
    count("cmi.comments_from_learner._count"),
    rw("cmi.comments_from_learner.n.comment", Kind::LangStr { max: 4000 }),
    rw("cmi.comments_from_learner.n.location", s(250)),
    rw("cmi.comments_from_learner.n.timestamp", TIMESTAMP),
    children("cmi.comments_from_lms._children", "comment,location,timestamp"),
    count("cmi.comments_from_lms._count"),
    ro("cmi.comments_from_lms.n.comment", Kind::LangStr { max: 4000 }),
    ro("cmi.comments_from_lms.n.location", s(250)),
    ro("cmi.comments_from_lms.n.timestamp", TIMESTAMP),
    rw("cmi.completion_status", v(COMPLETION)),
    ro("cmi.completion_threshold", UNIT),
    ro("cmi.credit", v(&["credit", "no-credit"])),
    ro("cmi.entry", v(&["ab-initio", "resume", ""])),
    wo("cmi.exit", v(&["time-out", "suspend", "logout", "normal", ""])),
    children(
        "cmi.interactions._children",
        "id,type,objectives,timestamp,correct_responses,weighting,learner_response,result,latency,description",
    ),
    count("cmi.interactions._count"),
    rw("cmi.interactions.n.id", Kind::LongId),
    rw(
        "cmi.interactions.n.type",
        v(&[
            "true-false",
            "choice",
            "fill-in",
            "long-fill-in",
            "matching",
            "performance",
            "sequencing",
            "likert",
            "numeric",
            "other",
        ]),
    ),
    count("cmi.interactions.n.objectives._count"),
    rw("cmi.interactions.n.objectives.n.id", Kind::LongId),
    rw("cmi.interactions.n.timestamp", TIMESTAMP),
    count("cmi.interactions.n.correct_responses._count"),
    rw("cmi.interactions.n.correct_responses.n.pattern", s(7800)),
    rw("cmi.interactions.n.weighting", ANY_REAL),
    rw("cmi.interactions.n.learner_response", s(7800)),
    rw(
        "cmi.interactions.n.result",
        Kind::Result { values: &["correct", "incorrect", "unanticipated", "neutral"], re: REAL },
    ),
    rw("cmi.interactions.n.latency", INTERVAL),
    rw("cmi.interactions.n.description", Kind::LangStr { max: 250 }),
    ro("cmi.launch_data", s(4000)),
    ro("cmi.learner_id", Kind::LongId),
    ro("cmi.learner_name", Kind::LangStr { max: 250 }),
    children("cmi.learner_preference._children", "audio_level,language,delivery_speed,audio_captioning"),
    rw("cmi.learner_preference.audio_level", Kind::Num { re: REAL, min: Some(0.0), max: None, blank: false }),
    rw("cmi.learner_preference.language", Kind::Re { re: r"([a-zA-Z]{2,3}|i|x)(-[a-zA-Z0-9\-]{2,8})*", max: 250 }),
    rw("cmi.learner_preference.delivery_speed", Kind::Num { re: REAL, min: Some(0.0), max: None, blank: false }),
    rw("cmi.learner_preference.audio_captioning", v(&["-1", "0", "1"])),
    rw("cmi.location", s(1000)),
    ro("cmi.max_time_allowed", INTERVAL),
    ro("cmi.mode", v(&["browse", "normal", "review"])),
    children("cmi.objectives._children", "id,score,success_status,completion_status,progress_measure,description"),
    count("cmi.objectives._count"),
    rw("cmi.objectives.n.id", Kind::LongId),
    children("cmi.objectives.n.score._children", "scaled,raw,min,max"),
    rw("cmi.objectives.n.score.scaled", SCALED),
    rw("cmi.objectives.n.score.raw", ANY_REAL),
    rw("cmi.objectives.n.score.min", ANY_REAL),
    rw("cmi.objectives.n.score.max", ANY_REAL),
    rw("cmi.objectives.n.success_status", v(SUCCESS)),
    rw("cmi.objectives.n.completion_status", v(COMPLETION)),
    rw("cmi.objectives.n.progress_measure", UNIT),
    rw("cmi.objectives.n.description", Kind::LangStr { max: 250 }),
    rw("cmi.progress_measure", UNIT),
    ro("cmi.scaled_passing_score", SCALED),
    children("cmi.score._children", "scaled,raw,min,max"),
    rw("cmi.score.scaled", SCALED),
    rw("cmi.score.raw", ANY_REAL),
    rw("cmi.score.min", ANY_REAL),
    rw("cmi.score.max", ANY_REAL),
    wo("cmi.session_time", INTERVAL),
    rw("cmi.success_status", v(SUCCESS)),
    rw("cmi.suspend_data", s(64000)),
    ro("cmi.time_limit_action", v(&["exit,message", "continue,message", "exit,no message", "continue,no message"])),
    ro("cmi.total_time", INTERVAL),
    rw("adl.nav.request", s(4000)),
];

/// Arrays' record counts are bounded so a SCO cannot grow its attempt without end, above
/// the standards' smallest permitted maxima (250 interactions, 100 objectives, 250
/// comments; an interaction's 10 objectives and up to 36 correct responses).
pub const MAX_RECORDS: usize = 500;
/// The bound of an array within a record (an interaction's objectives and responses).
pub const MAX_NESTED: usize = 36;

/// The rule an element falls under (indices within the arrays' bounds).
pub fn find(version: Version, element: &str) -> Option<&'static Rule> {
    let parts: Vec<&str> = element.split('.').collect();
    'rules: for r in version.rules() {
        let pattern: Vec<&str> = r.path.split('.').collect();
        if pattern.len() != parts.len() {
            continue;
        }
        let mut depth = 0;
        for (p, e) in pattern.iter().zip(&parts) {
            if *p == "n" {
                let bound = if depth == 0 { MAX_RECORDS } else { MAX_NESTED };
                depth += 1;
                // An index: digits, no sign, no leading zero.
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) || (e.len() > 1 && e.starts_with('0')) {
                    continue 'rules;
                }
                if !e.parse::<usize>().is_ok_and(|i| i < bound) {
                    continue 'rules;
                }
            } else if p != e {
                continue 'rules;
            }
        }
        return Some(r);
    }
    None
}

/// Whether `value` is of `kind`: `Err(Type)` for the wrong format, `Err(Range)` for a number
/// out of range.
pub fn check(kind: &Kind, value: &str) -> Result<(), Fault> {
    // No data model type holds a NUL (nor can Postgres keep one).
    if value.contains('\0') {
        return Err(Fault::Type);
    }
    match kind {
        Kind::Str { max } => (value.chars().count() <= *max).then_some(()).ok_or(Fault::Type),
        Kind::Re { re, max } => {
            (value.chars().count() <= *max && whole(re).is_match(value)).then_some(()).ok_or(Fault::Type)
        }
        Kind::Vocab { values } => values.contains(&value).then_some(()).ok_or(Fault::Type),
        Kind::Num { blank: true, .. } if value.is_empty() => Ok(()),
        Kind::Num { re, min, max, .. } => number(re, *min, *max, value),
        Kind::Result { values, re } => {
            if values.contains(&value) {
                Ok(())
            } else {
                number(re, None, None, value)
            }
        }
        Kind::LongId => long_id(value),
        Kind::LangStr { max } => lang_str(value, *max),
        Kind::Keyword { .. } | Kind::Count => Err(Fault::Keyword),
    }
}

fn number(re: &'static str, min: Option<f64>, max: Option<f64>, value: &str) -> Result<(), Fault> {
    if value.is_empty() || !whole(re).is_match(value) {
        return Err(Fault::Type);
    }
    let n: f64 = value.parse().map_err(|_| Fault::Type)?;
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        return Err(Fault::Range);
    }
    Ok(())
}

fn long_id(value: &str) -> Result<(), Fault> {
    let ok = match value.strip_prefix("urn:") {
        Some(rest) => rest.split_once(':').is_some_and(|(nid, nss)| {
            (1..=31).contains(&nid.len())
                && nid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !nss.is_empty()
                && !nss.chars().any(char::is_whitespace)
        }),
        None => !value.is_empty() && !value.chars().any(char::is_whitespace),
    };
    (ok && value.chars().count() <= 4000).then_some(()).ok_or(Fault::Type)
}

fn lang_str(value: &str, max: usize) -> Result<(), Fault> {
    let text = match value.strip_prefix("{lang=") {
        Some(rest) => {
            let (lang, text) = rest.split_once('}').ok_or(Fault::Type)?;
            if !lang.is_empty() && !whole(r"([a-zA-Z]{2,3}|i|x)(-[a-zA-Z0-9\-]{2,8})*").is_match(lang) {
                return Err(Fault::Type);
            }
            text
        }
        None => value,
    };
    (text.chars().count() <= max).then_some(()).ok_or(Fault::Type)
}

/// `re` anchored at both ends, compiled once per pattern.
fn whole(re: &'static str) -> &'static regex::Regex {
    static CACHE: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<&'static str, &'static regex::Regex>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(re)
        .or_insert_with(|| Box::leak(Box::new(regex::Regex::new(&format!("^(?:{re})$")).expect("a valid pattern"))))
}
