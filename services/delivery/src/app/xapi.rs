//! The statements the player records (xAPI 1.0.3): the learner as a Mirai account, the
//! course and its lessons as activities of this platform, the session as the
//! registration. Verbs are ADL's; progress is cmi5's result extension.

use chrono::{DateTime, SecondsFormat, Utc};
use mirai_contracts::{
    ids::{LessonId, StatementId},
    xapi,
};
use serde_json::{Value, json};

use crate::store::{SessionRow, VersionRow};

pub const LAUNCHED: &str = "http://adlnet.gov/expapi/verbs/launched";
pub const PROGRESSED: &str = "http://adlnet.gov/expapi/verbs/progressed";
pub const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
/// cmi5's progress, an integer percentage (cmi5 9.5.4.1: a result extension).
pub const PROGRESS: &str = "https://w3id.org/xapi/cmi5/result/extensions/progress";
/// Which version of the course the session plays.
pub const COURSE_VERSION: &str = "https://mirai.dev/xapi/extensions/course-version";
pub const INITIALIZED: &str = "http://adlnet.gov/expapi/verbs/initialized";
pub const RESUMED: &str = "http://adlnet.gov/expapi/verbs/resumed";
pub const SUSPENDED: &str = "http://adlnet.gov/expapi/verbs/suspended";
pub const TERMINATED: &str = "http://adlnet.gov/expapi/verbs/terminated";
pub const PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";
pub const FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
pub const SCORED: &str = "http://adlnet.gov/expapi/verbs/scored";
pub const RESPONDED: &str = "http://adlnet.gov/expapi/verbs/responded";
/// The ADL SCORM profile, as the category of every statement a SCORM runtime records.
pub const SCORM_PROFILE: &str = "https://w3id.org/xapi/scorm";
const PROFILE_TYPE: &str = "http://adlnet.gov/expapi/activities/profile";
const ATTEMPT_TYPE: &str = "http://adlnet.gov/expapi/activities/attempt";
pub const INTERACTION_TYPE: &str = "http://adlnet.gov/expapi/activities/cmi.interaction";
const COURSE_TYPE: &str = "http://adlnet.gov/expapi/activities/course";
const LESSON_TYPE: &str = "http://adlnet.gov/expapi/activities/lesson";

/// What every statement of a session shares.
pub struct Recorder<'a> {
    pub public_url: &'a str,
    pub session: &'a SessionRow,
    pub version: &'a VersionRow,
    pub at: DateTime<Utc>,
}

impl Recorder<'_> {
    fn actor(&self) -> Value {
        json!({ "objectType": "Agent", "account": {
            "homePage": self.public_url.trim_end_matches('/'), "name": self.session.user_id.to_string() } })
    }

    fn course(&self) -> Value {
        json!({ "objectType": "Activity", "id": xapi::course_activity(self.public_url, self.session.course_id),
            "definition": { "type": COURSE_TYPE, "name": { self.locale(): self.version.title } } })
    }

    /// The course's language tag, as the LRS accepts it in a language map (`und` when the
    /// course has none).
    fn locale(&self) -> &str {
        if self.version.locale.is_empty() { "und" } else { &self.version.locale }
    }

    /// The lesson as an activity (a SCO plays as its lesson).
    pub fn lesson(&self, lesson: LessonId, title: &str) -> Value {
        json!({ "objectType": "Activity",
            "id": xapi::lesson_activity(self.public_url, self.session.course_id, lesson),
            "definition": { "type": LESSON_TYPE, "name": { self.locale(): title } } })
    }

    /// A statement of a SCORM runtime (the ADL SCORM profile): categorized by the
    /// profile, grouped under the course and the attempt (`<SCO IRI>?attemptId=<id>`);
    /// about something within the SCO (an interaction), with the SCO as its parent.
    pub fn scorm(
        &self,
        verb: &str,
        object: Value,
        attempt: &str,
        within: Option<&Value>,
        result: Option<Value>,
    ) -> Value {
        let mut s = self.statement(verb, object, false, result);
        let mut activities = json!({
            "category": [{ "objectType": "Activity", "id": SCORM_PROFILE, "definition": { "type": PROFILE_TYPE } }],
            "grouping": [
                { "objectType": "Activity", "id": xapi::course_activity(self.public_url, self.session.course_id),
                  "definition": { "type": COURSE_TYPE } },
                { "objectType": "Activity", "id": attempt, "definition": { "type": ATTEMPT_TYPE } }],
        });
        if let Some(sco) = within {
            activities["parent"] = json!([sco]);
        }
        s["context"]["contextActivities"] = activities;
        s
    }

    fn statement(&self, verb: &str, object: Value, parent: bool, result: Option<Value>) -> Value {
        let display = verb.rsplit('/').next().unwrap_or(verb);
        let mut context = json!({
            "registration": self.session.id.to_string(),
            "platform": "Mirai",
            "language": self.locale(),
            "extensions": { COURSE_VERSION: self.session.version },
        });
        if parent {
            context["contextActivities"] = json!({ "parent": [{ "objectType": "Activity",
                "id": xapi::course_activity(self.public_url, self.session.course_id) }] });
        }
        let mut s = json!({
            "id": StatementId::new().to_string(),
            "actor": self.actor(),
            "verb": { "id": verb, "display": { "en-US": display } },
            "object": object,
            "context": context,
            "timestamp": self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if let Some(r) = result {
            s["result"] = r;
        }
        s
    }

    pub fn launched(&self) -> Value {
        self.statement(LAUNCHED, self.course(), false, None)
    }

    pub fn lesson_completed(&self, lesson: LessonId, title: &str) -> Value {
        self.statement(COMPLETED, self.lesson(lesson, title), true, Some(json!({ "completion": true })))
    }

    pub fn progressed(&self, percent: i64) -> Value {
        self.statement(PROGRESSED, self.course(), false, Some(json!({ "extensions": { PROGRESS: percent } })))
    }

    /// The course completed, with the time since the first launch.
    pub fn course_completed(&self) -> Value {
        let ms = (self.at - self.session.started_at).num_milliseconds().max(0);
        let duration = format!("PT{}.{:02}S", ms / 1000, (ms % 1000) / 10);
        self.statement(
            COMPLETED,
            self.course(),
            false,
            Some(json!({ "completion": true, "duration": duration, "extensions": { PROGRESS: 100 } })),
        )
    }
}
