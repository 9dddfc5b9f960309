//! The data models' rules, each with the error code the standard gives it.

use super::*;

fn started(version: Version, mastery: Option<f64>) -> Cmi {
    let mut c = Cmi::new(version);
    let start = Start { learner_id: "u-1", learner_name: "Ada", entry: "ab-initio", mastery_score: mastery };
    c.start(&start, 0);
    c
}

fn code(c: &Cmi, r: Result<impl Sized, Fault>) -> u16 {
    r.map_or_else(|f| c.version.code(f), |_| 0)
}

#[test]
fn scorm12_answers_with_its_error_codes() {
    let mut c = started(Version::Scorm12, None);
    assert_eq!(c.get("cmi.core.student_id").as_deref(), Ok("u-1"));
    assert_eq!(c.get("cmi.core.lesson_status").as_deref(), Ok("not attempted"));
    assert_eq!(c.get("cmi.core.score._children").as_deref(), Ok("raw,min,max"));
    assert_eq!(c.get("cmi.core.score.raw"), Err(Fault::NotInitialized), "1.2 reads it as an empty string, code 0");
    assert_eq!(code(&c, c.get("cmi.core.score.raw")), 0);
    let cases: &[(&str, &str, u16)] = &[
        ("cmi.core.student_id", "x", 403),
        ("cmi.core._children", "x", 402),
        ("cmi.interactions._count", "1", 402),
        ("cmi.core.lesson_status", "not attempted", 405),
        ("cmi.core.lesson_status", "done", 405),
        ("cmi.core.score.raw", "101", 405),
        ("cmi.core.score.raw", "abc", 405),
        ("cmi.core.score.raw", ".", 405),
        ("cmi.core.score.raw", "-", 405),
        ("cmi.core.score.raw", ".5", 0),
        ("cmi.suspend_data", "a\0b", 405),
        ("cmi.core.session_time", "1:00:00", 405),
        ("cmi.core.exit", "quit", 405),
        ("cmi.interactions.1.id", "q2", 201),
        ("cmi.nothing", "1", 201),
        ("cmi.core.lesson_status", "passed", 0),
        ("cmi.core.score.raw", "85.5", 0),
        ("cmi.core.score.raw", "", 0),
        ("cmi.core.session_time", "0000:01:30.50", 0),
        ("cmi.interactions.0.id", "q1", 0),
        ("cmi.interactions.0.type", "choice", 0),
        ("cmi.interactions.1.id", "q2", 0),
        ("cmi.suspend_data", &"x".repeat(4096), 0),
        ("cmi.suspend_data", &"x".repeat(4097), 405),
    ];
    for (element, value, want) in cases {
        let got = code(&c.clone(), c.set(element, value));
        assert_eq!(got, *want, "SetValue({element}, {:.20})", value);
    }
    assert_eq!(code(&c, c.get("cmi.core.exit")), 404);
    assert_eq!(code(&c, c.get("cmi.interactions.0.id")), 404);
    assert_eq!(c.get("cmi.interactions._count").as_deref(), Ok("2"));
    assert_eq!(code(&c, c.get("cmi.core.lesson_status._children")), 202);
    assert_eq!(code(&c, c.get("cmi.core._count")), 203);
}

#[test]
fn scorm2004_answers_with_its_error_codes() {
    let mut c = started(Version::Scorm2004, Some(0.8));
    assert_eq!(c.get("cmi._version").as_deref(), Ok("1.0"));
    assert_eq!(c.get("cmi.scaled_passing_score").as_deref(), Ok("0.8"));
    assert_eq!(code(&c, c.get("cmi.location")), 403);
    // A passing score and no scaled score yet: the LMS says unknown, whatever the SCO set.
    c.set("cmi.success_status", "passed").unwrap();
    assert_eq!(c.get("cmi.success_status").as_deref(), Ok("unknown"));
    assert_eq!(code(&c, c.get("cmi.session_time")), 405);
    assert_eq!(code(&c, c.get("cmi.nothing")), 401);
    assert_eq!(code(&c, c.get("cmi.interactions.0.id")), 301);
    let cases: &[(&str, &str, u16)] = &[
        ("cmi.learner_id", "x", 404),
        ("cmi._version", "2", 404),
        ("cmi.score.scaled", "1.5", 407),
        ("cmi.score.scaled", "high", 406),
        ("cmi.progress_measure", "-0.1", 407),
        ("cmi.completion_status", "done", 406),
        ("cmi.session_time", "1 hour", 406),
        ("cmi.interactions.0.type", "choice", 408),
        ("cmi.interactions.1.id", "q2", 351),
        ("cmi.interactions.0.id", "has space", 406),
        ("cmi.interactions.0.id", "urn:mirai:q1", 0),
        ("cmi.interactions.0.learner_response", "a", 408),
        ("cmi.interactions.0.type", "choice", 0),
        ("cmi.interactions.0.learner_response", "a[,]b", 0),
        ("cmi.interactions.0.result", "incorrect", 0),
        ("cmi.interactions.0.result", "wrong", 406),
        ("cmi.objectives.0.id", "obj-1", 0),
        ("cmi.objectives.1.id", "obj-1", 351),
        ("cmi.comments_from_learner.0.comment", "{lang=en}Nice", 0),
        ("cmi.timestamp", "2026-12-02T10:00:00Z", 401),
        ("cmi.interactions.0.timestamp", "2026-12-02T10:00:00.5Z", 0),
        ("cmi.session_time", "PT1H2M3.5S", 0),
        ("cmi.score.scaled", "0.9", 0),
    ];
    for (element, value, want) in cases {
        let got = code(&c.clone(), c.set(element, value));
        assert_eq!(got, *want, "SetValue({element}, {value})");
    }
    // The LMS decides success from the scaled passing score (RTE 4.2.22.1).
    assert_eq!(c.get("cmi.success_status").as_deref(), Ok("passed"));
    c.set("cmi.score.scaled", "0.5").unwrap();
    assert_eq!(c.get("cmi.success_status").as_deref(), Ok("failed"));
}

#[test]
fn finishing_a_scorm12_attempt_applies_the_mastery_score_and_adds_the_time() {
    let mut c = started(Version::Scorm12, Some(0.8));
    c.set("cmi.core.score.raw", "85").unwrap();
    c.set("cmi.core.lesson_status", "completed").unwrap();
    c.set("cmi.core.session_time", "0000:01:30.00").unwrap();
    c.set("cmi.core.exit", "suspend").unwrap();
    let (ended, total) = c.finish(6_000);
    assert_eq!(ended, Ended { suspended: true, session_centis: 9_000 });
    assert_eq!(total, 15_000);
    assert_eq!(c.values["cmi.core.lesson_status"], "passed");
    assert_eq!(c.values["cmi.core.total_time"], "0000:02:30.00");
    assert_eq!(c.outcome(), Outcome { completed: true, success: Some(true) });
    assert_eq!(c.score().and_then(|s| s.scaled), Some(0.85));

    // Never set: completed; below the mastery score: failed.
    let mut c = started(Version::Scorm12, None);
    c.finish(0);
    assert_eq!(c.values["cmi.core.lesson_status"], "completed");
    let mut c = started(Version::Scorm12, Some(0.8));
    c.set("cmi.core.score.raw", "40").unwrap();
    c.finish(0);
    assert_eq!(c.outcome(), Outcome { completed: true, success: Some(false) });
}

#[test]
fn resuming_clears_what_the_last_session_wrote_for_itself() {
    let mut c = started(Version::Scorm12, None);
    c.set("cmi.core.exit", "suspend").unwrap();
    c.set("cmi.suspend_data", "page=4").unwrap();
    c.finish(0);
    let start = Start { learner_id: "u-1", learner_name: "Ada", entry: "resume", mastery_score: None };
    c.start(&start, 12_345);
    assert!(!c.values.contains_key("cmi.core.exit"));
    assert_eq!(c.values["cmi.suspend_data"], "page=4");
    assert_eq!(c.values["cmi.core.entry"], "resume");
    assert_eq!(c.values["cmi.core.total_time"], "0000:02:03.45");
}

#[test]
fn timespans_both_ways() {
    assert_eq!(parse_timespan12("0001:02:03.4"), Some(372_340));
    assert_eq!(parse_timespan12("12:00"), None);
    assert_eq!(parse_interval("PT1H2M3.5S"), Some(372_350));
    assert_eq!(parse_interval("P1DT1S"), Some(8_640_100));
    assert_eq!(parse_interval("PT1X"), None);
    assert_eq!(interval(372_350), "PT1H2M3.50S");
    assert_eq!(interval(0), "PT0H0M0S");
    assert_eq!(timespan12(372_340), "0001:02:03.40");
}
