//! cmi5's rules on the statements an AU sends (cmi5 6.3, 8.1, 9, 10.2), in the order the
//! CATAPULT reference LMS checks them. A breach is refused whole, naming the requirement;
//! the endpoint answers it 403, the status the CATAPULT LMS test suite expects. Pure: the
//! caller loads the launch and what was recorded, and saves what a statement changes.

use serde_json::Value;

pub const INITIALIZED: &str = "http://adlnet.gov/expapi/verbs/initialized";
pub const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
pub const PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";
pub const FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
pub const TERMINATED: &str = "http://adlnet.gov/expapi/verbs/terminated";
const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";
pub const CMI5_CATEGORY: &str = "https://w3id.org/xapi/cmi5/context/categories/cmi5";
pub const MOVEON_CATEGORY: &str = "https://w3id.org/xapi/cmi5/context/categories/moveon";
pub const SESSION_ID: &str = "https://w3id.org/xapi/cmi5/context/extensions/sessionid";
pub const MASTERY_SCORE: &str = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore";

/// What an AU's statement is checked against: its launch.
#[derive(Debug)]
pub struct Launch<'a> {
    /// The actor the AU was launched with.
    pub actor: &'a Value,
    pub registration: &'a str,
    pub session_id: &'a str,
    /// The AU's activity id (the platform's, not the publisher's).
    pub activity_id: &'a str,
    pub publisher_id: &'a str,
    pub launch_mode: &'a str,
    pub mastery_score: Option<f64>,
    /// The platform's public URL: the AU speaks of no activity of the platform's but
    /// itself and what is under its IRI.
    pub platform: &'a str,
}

/// What the AU session and its registration recorded so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// `launched`, `initialized`, `terminated` or `abandoned`.
    pub state: String,
    pub prefs_read: bool,
    /// The cmi5-defined verbs of this session.
    pub verbs: Vec<String>,
    /// Of the registration: the AU completed, passed, failed.
    pub completed: bool,
    pub passed: bool,
    pub failed: bool,
}

/// A cmi5-defined statement's verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defined {
    Initialized,
    Completed,
    Passed,
    Failed,
    Terminated,
}

impl Defined {
    fn of(verb: &str) -> Option<Self> {
        Some(match verb {
            INITIALIZED => Self::Initialized,
            COMPLETED => Self::Completed,
            PASSED => Self::Passed,
            FAILED => Self::Failed,
            TERMINATED => Self::Terminated,
            _ => return None,
        })
    }

    pub fn iri(self) -> &'static str {
        match self {
            Self::Initialized => INITIALIZED,
            Self::Completed => COMPLETED,
            Self::Passed => PASSED,
            Self::Failed => FAILED,
            Self::Terminated => TERMINATED,
        }
    }
}

fn has_category(st: &Value, iri: &str) -> bool {
    st["context"]["contextActivities"]["category"]
        .as_array()
        .is_some_and(|c| c.iter().any(|a| a["id"].as_str() == Some(iri)))
}

fn is_utc(ts: &str) -> bool {
    ts.ends_with('Z') || ts.ends_with('z') || ts.ends_with("+00:00") || ts.ends_with("+0000") || ts.ends_with("+00")
}

/// The same person as the launch's actor: its account, as an Agent, and no other
/// identifier.
pub fn same_actor(actor: &Value, launch: &Value) -> bool {
    let Some(m) = actor.as_object() else { return false };
    matches!(m.get("objectType").and_then(Value::as_str), None | Some("Agent"))
        && !["mbox", "mbox_sha1sum", "openid"].iter().any(|k| m.contains_key(*k))
        && m.get("account")
            .is_some_and(|a| a["homePage"] == launch["account"]["homePage"] && a["name"] == launch["account"]["name"])
}

/// Checks one statement; `Ok(Some(verb))` for a cmi5-defined one.
pub fn check(st: &Value, l: &Launch<'_>, p: &Progress) -> Result<Option<Defined>, String> {
    let verb = st["verb"]["id"].as_str().unwrap_or("");
    let defined = has_category(st, CMI5_CATEGORY);
    if !p.prefs_read {
        return Err("11.0.0.0-3: read the learner preferences (agents/profile cmi5LearnerPreferences) before sending statements".into());
    }
    if st.get("id").is_none() {
        return Err("9.1.0.0-1: a statement of an AU carries its id".into());
    }
    if verb == VOIDED {
        return Err("6.3.0.0-1: an AU voids nothing".into());
    }
    let ts = st["timestamp"].as_str().ok_or("9.7.0.0-1: a statement of an AU carries its timestamp")?;
    if !is_utc(ts) {
        return Err(format!("9.7.0.0-2: the timestamp `{ts}` is not in UTC"));
    }
    if !same_actor(&st["actor"], l.actor) {
        return Err("8.1.3.0-3: the actor is not the one the AU was launched with".into());
    }
    // Not cmi5's rule but the platform's: an AU's statement is about the AU or what it
    // holds, never another course or lesson of the platform (whose completion counts
    // for assignments and certificates).
    let platform = l.platform.trim_end_matches('/');
    for id in [&st["object"]["id"], &st["object"]["object"]["id"]] {
        if let Some(id) = id.as_str()
            && (id == platform || id.starts_with(&format!("{platform}/")))
            && id != l.activity_id
            && !["/", "?", "#"].iter().any(|sep| id.starts_with(&format!("{}{sep}", l.activity_id)))
        {
            return Err(format!("platform: an AU's statement is about the AU ({}), not `{id}`", l.activity_id));
        }
    }
    let context = st.get("context").filter(|c| c.is_object()).ok_or("9.6.0.0-1: a statement of an AU has a context")?;
    let grouped = context["contextActivities"]["grouping"]
        .as_array()
        .is_some_and(|g| g.iter().any(|a| a["id"].as_str() == Some(l.publisher_id)));
    if !grouped {
        return Err(format!(
            "10.2.1.0-6: the context keeps LMS.LaunchData's contextTemplate: its grouping holds the AU's publisher id `{}`",
            l.publisher_id
        ));
    }
    let d = Defined::of(verb).filter(|_| defined);
    if has_category(st, MOVEON_CATEGORY) && !matches!(d, Some(Defined::Completed | Defined::Passed | Defined::Failed)) {
        return Err(
            "9.6.2.2-2: only a cmi5-defined completed, passed or failed statement has the moveOn category".into()
        );
    }
    if context["registration"].as_str() != Some(l.registration) {
        return Err(format!("9.6.1.0-1: the registration is the launch's, `{}`", l.registration));
    }
    match context["extensions"][SESSION_ID].as_str() {
        Some(s) if s == l.session_id => {}
        Some(s) => return Err(format!("9.6.3.1-4: `{s}` is not this AU session's id")),
        None => return Err("9.6.3.1-4: the context carries the session id extension".into()),
    }
    match p.state.as_str() {
        "launched" if d != Some(Defined::Initialized) => {
            return Err("9.3.0.0-4: an AU's first statement is its cmi5-defined initialized".into());
        }
        "terminated" => return Err("9.3.0.0-5: the AU session terminated".into()),
        "abandoned" => return Err("9.3.6.0-2: the LMS abandoned this AU session".into()),
        _ => {}
    }
    if !defined {
        return Ok(None);
    }
    if st["object"]["id"].as_str() != Some(l.activity_id) {
        return Err(format!("8.1.5.0-6: a cmi5-defined statement is about the AU, `{}`", l.activity_id));
    }
    let d = d.ok_or_else(|| format!("9.3.0.0-1: `{verb}` is not a verb an AU's cmi5-defined statement uses"))?;
    let judged = matches!(d, Defined::Completed | Defined::Passed | Defined::Failed);
    if judged && l.launch_mode == "Browse" {
        return Err("10.2.2.0-2: nothing is completed, passed or failed in Browse mode".into());
    }
    if judged && l.launch_mode == "Review" {
        return Err("10.2.2.0-3: nothing is completed, passed or failed in Review mode".into());
    }
    let result = &st["result"];
    match (d, result.get("completion").and_then(Value::as_bool)) {
        (Defined::Completed, Some(true)) => {}
        (Defined::Completed, _) => return Err("9.5.3.0-1: completed has result.completion true".into()),
        (_, Some(_)) => return Err("9.5.3.0-2: only completed sets result.completion".into()),
        _ => {}
    }
    match (d, result.get("success").and_then(Value::as_bool)) {
        (Defined::Passed, Some(true)) | (Defined::Failed, Some(false)) => {}
        (Defined::Passed, _) => return Err("9.5.2.0-1: passed has result.success true".into()),
        (Defined::Failed, _) => return Err("9.5.2.0-2: failed has result.success false".into()),
        (_, Some(_)) => return Err("9.5.2.0-3: only passed and failed set result.success".into()),
        _ => {}
    }
    if judged && !has_category(st, MOVEON_CATEGORY) {
        return Err("9.6.2.2-1: a completed, passed or failed statement has the moveOn category".into());
    }
    let score = result.get("score");
    if let Some(score) = score {
        if !matches!(d, Defined::Passed | Defined::Failed) {
            return Err("9.5.1.0-2: only passed and failed carry a score".into());
        }
        if score.get("raw").is_some() && (score.get("min").is_none() || score.get("max").is_none()) {
            return Err("9.5.1.0-3: a raw score comes with its min and max".into());
        }
    }
    if let (Some(_), Some(m)) = (score, l.mastery_score)
        && context["extensions"][MASTERY_SCORE].as_f64().is_none_or(|x| (x - m).abs() > 1e-9)
    {
        return Err(format!("9.6.3.2-2: a scored statement carries the masteryscore extension, {m}"));
    }
    if matches!(d, Defined::Terminated | Defined::Completed | Defined::Passed | Defined::Failed)
        && result.get("duration").is_none()
    {
        return Err("9.5.4.1-1: terminated, completed, passed and failed carry result.duration".into());
    }
    if p.verbs.iter().any(|v| v == d.iri()) {
        return Err(format!("9.3.0.0-2: a session records `{}` once", d.iri()));
    }
    let scaled = score.and_then(|s| s["scaled"].as_f64());
    if let Some(m) = l.mastery_score {
        match (d, scaled) {
            (Defined::Passed, Some(s)) if s < m => {
                return Err(format!("9.3.4.0-2: passed with {s}, below the mastery score {m}"));
            }
            (Defined::Failed, Some(s)) if s >= m => {
                return Err(format!("9.3.6.0-1: failed with {s}, at or above the mastery score {m}"));
            }
            _ => {}
        }
    }
    if d == Defined::Passed && p.verbs.iter().any(|v| v == FAILED) {
        return Err("9.3.0.0-3: passed after failed in one session".into());
    }
    if d == Defined::Completed && p.completed {
        return Err("9.3.0.0-6: the AU is completed in this registration already".into());
    }
    if d == Defined::Passed && p.passed {
        return Err("9.3.0.0-7: the AU is passed in this registration already".into());
    }
    if d == Defined::Failed && p.passed {
        return Err("9.3.0.0-8: the AU is passed in this registration: it fails no more".into());
    }
    Ok(Some(d))
}

/// What an accepted cmi5-defined statement records.
pub fn apply(p: &mut Progress, d: Defined) {
    p.verbs.push(d.iri().to_owned());
    match d {
        Defined::Initialized => p.state = "initialized".into(),
        Defined::Terminated => p.state = "terminated".into(),
        Defined::Completed => p.completed = true,
        Defined::Passed => p.passed = true,
        Defined::Failed => p.failed = true,
    }
}

/// moveOn (cmi5 13.1.4): whether what the registration recorded satisfies the AU.
pub fn satisfies(move_on: &str, completed: bool, passed: bool) -> bool {
    match move_on {
        "Passed" => passed,
        "Completed" => completed,
        "CompletedAndPassed" => completed && passed,
        "CompletedOrPassed" => completed || passed,
        _ => true,
    }
}
