//! The SCORM runtime's data, apart from HTTP and storage: an attempt's CMI values, how a
//! `GetValue`/`SetValue` is judged (`model`'s tables), what the LMS puts in before the SCO
//! starts, what it decides when the SCO terminates (status from the mastery score, total
//! time), and the timespans both versions write.

pub mod model;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use model::{Access, Kind};
pub use model::{Fault, Version};

/// An attempt's data model: element → value, as the SCO and the LMS set them.
#[derive(Debug, Clone, PartialEq)]
pub struct Cmi {
    pub version: Version,
    pub values: BTreeMap<String, String>,
}

/// Who plays and how, for the values the LMS sets at the start of a runtime session.
pub struct Start<'a> {
    pub learner_id: &'a str,
    pub learner_name: &'a str,
    /// `ab-initio` for a new attempt, `resume` after a suspend, `` otherwise.
    pub entry: &'a str,
    /// The scaled score (0 to 1) that passes, from the manifest, if any.
    pub mastery_score: Option<f64>,
}

/// How a runtime session ended, as the LMS records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The SCO exited with `suspend`: the next launch resumes the attempt.
    pub suspended: bool,
    /// This session's time, in hundredths of a second.
    pub session_centis: i64,
}

impl Cmi {
    pub fn new(version: Version) -> Self {
        Self { version, values: BTreeMap::new() }
    }

    fn put(&mut self, k: &str, v: impl Into<String>) {
        self.values.insert(k.to_owned(), v.into());
    }

    /// Sets what the LMS provides for a runtime session: who the learner is, entry, credit
    /// and mode, the attempt's total time, and (first time) the initial statuses. What
    /// the previous session wrote only for itself (exit, session time) is cleared.
    pub fn start(&mut self, s: &Start, total_centis: i64) {
        match self.version {
            Version::Scorm12 => {
                self.values.remove("cmi.core.exit");
                self.values.remove("cmi.core.session_time");
                self.put("cmi.core.student_id", s.learner_id);
                self.put("cmi.core.student_name", s.learner_name);
                self.put("cmi.core.credit", "credit");
                self.put("cmi.core.lesson_mode", "normal");
                self.put("cmi.core.entry", s.entry);
                self.put("cmi.core.total_time", timespan12(total_centis));
                self.values.entry("cmi.core.lesson_status".into()).or_insert_with(|| "not attempted".into());
                self.values.entry("cmi.core.lesson_location".into()).or_default();
                self.values.entry("cmi.suspend_data".into()).or_default();
                self.values.entry("cmi.launch_data".into()).or_default();
                self.values.entry("cmi.comments".into()).or_default();
                self.values.entry("cmi.comments_from_lms".into()).or_default();
                match s.mastery_score {
                    Some(m) => self.put("cmi.student_data.mastery_score", decimal(m * 100.0)),
                    None => {
                        self.values.remove("cmi.student_data.mastery_score");
                    }
                }
            }
            Version::Scorm2004 => {
                self.values.remove("cmi.exit");
                self.values.remove("cmi.session_time");
                self.values.remove("adl.nav.request");
                self.put("cmi.learner_id", s.learner_id);
                self.put("cmi.learner_name", s.learner_name);
                self.put("cmi.credit", "credit");
                self.put("cmi.mode", "normal");
                self.put("cmi.entry", s.entry);
                self.put("cmi.total_time", interval(total_centis));
                self.put("cmi.time_limit_action", "continue,no message");
                self.values.entry("cmi.completion_status".into()).or_insert_with(|| "unknown".into());
                self.values.entry("cmi.success_status".into()).or_insert_with(|| "unknown".into());
                self.values.entry("cmi.learner_preference.audio_level".into()).or_insert_with(|| "1".into());
                self.values.entry("cmi.learner_preference.language".into()).or_default();
                self.values.entry("cmi.learner_preference.delivery_speed".into()).or_insert_with(|| "1".into());
                self.values.entry("cmi.learner_preference.audio_captioning".into()).or_insert_with(|| "0".into());
                match s.mastery_score {
                    Some(m) => self.put("cmi.scaled_passing_score", decimal(m)),
                    None => {
                        self.values.remove("cmi.scaled_passing_score");
                    }
                }
            }
        }
    }

    /// The number of records of the array at `prefix` (records fill in order: the first
    /// index without a field is the count).
    pub fn count(&self, prefix: &str) -> usize {
        let bound = if prefix.matches('.').count() > 1 { model::MAX_NESTED } else { model::MAX_RECORDS };
        (0..bound)
            .find(|i| {
                let head = format!("{prefix}.{i}.");
                !self.values.range(head.clone()..).next().is_some_and(|(k, _)| k.starts_with(&head))
            })
            .unwrap_or(bound)
    }

    /// What the values weigh, as stored (keys and values, in bytes).
    pub fn weight(&self) -> usize {
        self.values.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// `GetValue`: the element's value, or why not.
    pub fn get(&self, element: &str) -> Result<String, Fault> {
        let Some(rule) = model::find(self.version, element) else {
            return Err(undefined(element));
        };
        if rule.access == Access::Wo {
            return Err(Fault::WriteOnly);
        }
        // A record's field, of a record that exists.
        for (prefix, i, _) in array_prefixes(rule.path, element) {
            if i >= self.count(&prefix) {
                return Err(Fault::NoRecord);
            }
        }
        match rule.kind {
            Kind::Keyword { value } => Ok(value.to_owned()),
            Kind::Count => Ok(self.count(element.trim_end_matches("._count")).to_string()),
            _ => match element {
                "cmi.completion_status" => Ok(self.completion_status()),
                "cmi.success_status" => Ok(self.success_status()),
                _ => self.values.get(element).cloned().ok_or(Fault::NotInitialized),
            },
        }
    }

    /// `SetValue`: checks the element may be written with this value, then keeps it.
    pub fn set(&mut self, element: &str, value: &str) -> Result<(), Fault> {
        let Some(rule) = model::find(self.version, element) else {
            let keyword = ["._children", "._count", "._version"].iter().any(|k| element.ends_with(k));
            return Err(if keyword { Fault::Keyword } else { Fault::NotDefined });
        };
        if matches!(rule.kind, Kind::Keyword { .. } | Kind::Count) {
            return Err(Fault::Keyword);
        }
        if rule.access == Access::Ro {
            return Err(Fault::ReadOnly);
        }
        model::check(&rule.kind, value)?;
        for (prefix, i, field) in array_prefixes(rule.path, element) {
            let n = self.count(&prefix);
            if i > n {
                return Err(Fault::OutOfOrder);
            }
            // 2004: a new interaction or objective begins with its id (RTE 4.2.9, 4.2.17).
            let keyed = prefix == "cmi.interactions" || prefix == "cmi.objectives";
            if self.version == Version::Scorm2004 && i == n && keyed && field != "id" {
                return Err(Fault::Dependency);
            }
        }
        // 2004: an objective's id is unique among the attempt's objectives (RTE 4.2.17).
        if self.version == Version::Scorm2004
            && let ["cmi", "objectives", n, "id"] = &element.split('.').collect::<Vec<_>>()[..]
            && (0..self.count("cmi.objectives")).any(|i| {
                i.to_string() != *n && self.values.get(&format!("cmi.objectives.{i}.id")).is_some_and(|v| v == value)
            })
        {
            return Err(Fault::NotUnique);
        }
        // 2004: responses of an interaction need its type (what they are patterns of).
        if self.version == Version::Scorm2004
            && let ["cmi", "interactions", n, rest @ ..] = &element.split('.').collect::<Vec<_>>()[..]
            && matches!(rest, ["learner_response"] | ["correct_responses", _, "pattern"])
            && !self.values.contains_key(&format!("cmi.interactions.{n}.type"))
        {
            return Err(Fault::Dependency);
        }
        self.values.insert(element.to_owned(), value.to_owned());
        Ok(())
    }

    /// 2004 RTE 4.2.4.1: with a completion threshold, the LMS decides completion from the
    /// progress measure (`unknown` without one).
    fn completion_status(&self) -> String {
        match (self.number("cmi.completion_threshold"), self.number("cmi.progress_measure")) {
            (Some(t), Some(p)) => if p >= t { "completed" } else { "incomplete" }.into(),
            (Some(_), None) => "unknown".into(),
            _ => self.values.get("cmi.completion_status").cloned().unwrap_or_else(|| "unknown".into()),
        }
    }

    /// 2004 RTE 4.2.22.1: with a scaled passing score, the LMS decides success from the
    /// scaled score (`unknown` without one).
    fn success_status(&self) -> String {
        match (self.number("cmi.scaled_passing_score"), self.number("cmi.score.scaled")) {
            (Some(pass), Some(s)) => if s >= pass { "passed" } else { "failed" }.into(),
            (Some(_), None) => "unknown".into(),
            _ => self.values.get("cmi.success_status").cloned().unwrap_or_else(|| "unknown".into()),
        }
    }

    fn number(&self, k: &str) -> Option<f64> {
        self.values.get(k).and_then(|v| v.parse().ok())
    }

    /// The LMS's part of ending a runtime session (`LMSFinish`/`Terminate`): the session's
    /// time added to the attempt's, and for SCORM 1.2 the status the mastery score decides
    /// (RTE 3.4.4: with credit, a mastery score and a raw score, passed or failed) or
    /// `completed` when the SCO never set one.
    pub fn finish(&mut self, total_centis: i64) -> (Ended, i64) {
        let (exit, session) = match self.version {
            Version::Scorm12 => {
                ("cmi.core.exit", self.values.get("cmi.core.session_time").and_then(|t| parse_timespan12(t)))
            }
            Version::Scorm2004 => ("cmi.exit", self.values.get("cmi.session_time").and_then(|t| parse_interval(t))),
        };
        let suspended = self.values.get(exit).is_some_and(|e| e == "suspend");
        let session_centis = session.unwrap_or(0);
        let total = total_centis.saturating_add(session_centis);
        if self.version == Version::Scorm12 {
            let credit = self.values.get("cmi.core.credit").is_some_and(|c| c == "credit");
            let mastery = self.number("cmi.student_data.mastery_score");
            let raw =
                self.values.get("cmi.core.score.raw").filter(|r| !r.is_empty()).and_then(|r| r.parse::<f64>().ok());
            if let (true, Some(m), Some(r)) = (credit, mastery, raw) {
                self.put("cmi.core.lesson_status", if r >= m { "passed" } else { "failed" });
            } else if self.values.get("cmi.core.lesson_status").is_none_or(|s| s == "not attempted") {
                self.put("cmi.core.lesson_status", "completed");
            }
            self.put("cmi.core.total_time", timespan12(total));
        } else {
            let c = self.completion_status();
            let s = self.success_status();
            self.put("cmi.completion_status", c);
            self.put("cmi.success_status", s);
            self.put("cmi.total_time", interval(total));
        }
        (Ended { suspended, session_centis }, total)
    }

    /// What the attempt amounts to: completed, passed or failed (none while undecided).
    pub fn outcome(&self) -> Outcome {
        match self.version {
            Version::Scorm12 => match self.values.get("cmi.core.lesson_status").map(String::as_str) {
                Some("passed") => Outcome { completed: true, success: Some(true) },
                Some("failed") => Outcome { completed: true, success: Some(false) },
                Some("completed") => Outcome { completed: true, success: None },
                _ => Outcome { completed: false, success: None },
            },
            Version::Scorm2004 => Outcome {
                completed: self.completion_status() == "completed",
                success: match self.success_status().as_str() {
                    "passed" => Some(true),
                    "failed" => Some(false),
                    _ => None,
                },
            },
        }
    }

    /// The attempt's score, as xAPI's result has it (raw, min, max, and scaled when known).
    pub fn score(&self) -> Option<Score> {
        let (raw, min, max, scaled) = match self.version {
            Version::Scorm12 => ("cmi.core.score.raw", "cmi.core.score.min", "cmi.core.score.max", None),
            Version::Scorm2004 => ("cmi.score.raw", "cmi.score.min", "cmi.score.max", self.number("cmi.score.scaled")),
        };
        let raw = self.number(raw);
        if raw.is_none() && scaled.is_none() {
            return None;
        }
        let (min, max) = (self.number(min), self.number(max));
        // 1.2 has no scaled score: raw within min..max (0..100 without them) scales it.
        let scaled = scaled.or_else(|| {
            if self.version != Version::Scorm12 {
                return None;
            }
            let (lo, hi) = (min.unwrap_or(0.0), max.unwrap_or(100.0));
            raw.filter(|_| hi > lo).map(|r| ((r - lo) / (hi - lo)).clamp(-1.0, 1.0))
        });
        Some(Score { raw, min, max, scaled })
    }

    /// The interactions' records (by index) as the SCO wrote them.
    pub fn interaction(&self, i: usize) -> BTreeMap<String, String> {
        let head = format!("cmi.interactions.{i}.");
        self.values
            .range(head.clone()..)
            .take_while(|(k, _)| k.starts_with(&head))
            .map(|(k, v)| (k[head.len()..].to_owned(), v.clone()))
            .collect()
    }
}

/// What an attempt amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub completed: bool,
    /// Passed (`Some(true)`), failed (`Some(false)`), or no verdict.
    pub success: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub raw: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub scaled: Option<f64>,
}

/// `x._children` / `x._count` of something without: the fault says which.
fn undefined(element: &str) -> Fault {
    if element.ends_with("._children") {
        Fault::NoChildren
    } else if element.ends_with("._count") {
        Fault::NotArray
    } else {
        Fault::NotDefined
    }
}

/// For each index an element names (where its rule's path has `n`): the array's path,
/// the index and the field of the record named.
fn array_prefixes(path: &str, element: &str) -> Vec<(String, usize, String)> {
    let parts: Vec<&str> = element.split('.').collect();
    path.split('.')
        .enumerate()
        .filter(|(_, p)| *p == "n")
        .filter_map(|(n, _)| Some((parts[..n].join("."), parts.get(n)?.parse().ok()?, parts[n + 1..].join("."))))
        .collect()
}

fn decimal(n: f64) -> String {
    let s = format!("{n:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// 1.2's CMITimespan (`HHHH:MM:SS.SS`) in hundredths of a second.
pub fn parse_timespan12(t: &str) -> Option<i64> {
    let mut it = t.split(':');
    let (h, m, s) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    let s: f64 = s.parse().ok()?;
    Some(h * 360_000 + m * 6_000 + (s * 100.0).round() as i64)
}

pub fn timespan12(centis: i64) -> String {
    let c = centis.clamp(0, 9999 * 360_000 + 359_999);
    format!("{:04}:{:02}:{:02}.{:02}", c / 360_000, c / 6_000 % 60, c / 100 % 60, c % 100)
}

/// 2004's timeinterval (ISO 8601 duration: `P1DT2H3M4.5S`) in hundredths of a second.
/// Years and months count as 365 and 30 days.
pub fn parse_interval(t: &str) -> Option<i64> {
    let rest = t.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut centis = 0f64;
    for (part, units) in [
        (date, &[('Y', 31_536_000.0), ('M', 2_592_000.0), ('D', 86_400.0)][..]),
        (time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)][..]),
    ] {
        let mut num = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() || ch == '.' {
                num.push(ch);
            } else {
                let secs = units.iter().find(|(u, _)| *u == ch)?.1;
                centis += num.parse::<f64>().ok()? * secs * 100.0;
                num.clear();
            }
        }
        if !num.is_empty() {
            return None;
        }
    }
    Some(centis.round() as i64)
}

pub fn interval(centis: i64) -> String {
    let c = centis.max(0);
    let (h, m, s, cs) = (c / 360_000, c / 6_000 % 60, c / 100 % 60, c % 100);
    if cs == 0 { format!("PT{h}H{m}M{s}S") } else { format!("PT{h}H{m}M{s}.{cs:02}S") }
}
