//! cmi5's statement rules, one breach at a time, from a statement that passes them all.

use serde_json::{Value, json};

use super::rules::{self, Defined, Launch, Progress};

const AU: &str = "https://mirai.test/courses/c/lessons/l";
const PUBLISHER: &str = "https://example.com/au/1";
const REG: &str = "0196a1a1-0000-7000-8000-000000000001";
const SID: &str = "0196a1a1-0000-7000-8000-000000000002";

fn actor() -> Value {
    json!({ "objectType": "Agent", "account": { "homePage": "https://mirai.test", "name": "learner-1" } })
}

fn launch<'a>(actor: &'a Value, mode: &'a str, mastery: Option<f64>) -> Launch<'a> {
    Launch {
        actor,
        registration: REG,
        session_id: SID,
        activity_id: AU,
        publisher_id: PUBLISHER,
        launch_mode: mode,
        mastery_score: mastery,
        platform: "https://mirai.test",
    }
}

fn statement(verb: &str, result: Option<Value>, moveon: bool) -> Value {
    let mut category = vec![json!({ "id": rules::CMI5_CATEGORY })];
    if moveon {
        category.push(json!({ "id": rules::MOVEON_CATEGORY }));
    }
    let mut st = json!({
        "id": "0196a1a1-0000-7000-8000-0000000000aa",
        "actor": { "account": { "homePage": "https://mirai.test", "name": "learner-1" } },
        "verb": { "id": verb },
        "object": { "id": AU },
        "timestamp": "2026-12-02T10:00:00.000Z",
        "context": {
            "registration": REG,
            "contextActivities": { "grouping": [{ "id": PUBLISHER }], "category": category },
            "extensions": { rules::SESSION_ID: SID },
        },
    });
    if let Some(r) = result {
        st["result"] = r;
    }
    st
}

fn initialized() -> Progress {
    Progress {
        state: "initialized".into(),
        prefs_read: true,
        verbs: vec![rules::INITIALIZED.into()],
        ..Default::default()
    }
}

/// The requirement a refusal names (its first word).
fn refused(st: &Value, l: &Launch<'_>, p: &Progress) -> String {
    let e = rules::check(st, l, p).expect_err("should be refused");
    e.split(':').next().unwrap().to_owned()
}

#[test]
fn a_session_runs_initialized_passed_completed_terminated() {
    let a = actor();
    let l = launch(&a, "Normal", Some(0.8));
    let mut p = Progress { state: "launched".into(), prefs_read: true, ..Default::default() };
    let st = statement(rules::INITIALIZED, None, false);
    assert_eq!(rules::check(&st, &l, &p), Ok(Some(Defined::Initialized)));
    rules::apply(&mut p, Defined::Initialized);
    let mut passed = statement(
        rules::PASSED,
        Some(json!({ "success": true, "duration": "PT5S", "score": { "scaled": 0.9 } })),
        true,
    );
    passed["context"]["extensions"][rules::MASTERY_SCORE] = json!(0.8);
    assert_eq!(rules::check(&passed, &l, &p), Ok(Some(Defined::Passed)));
    rules::apply(&mut p, Defined::Passed);
    let completed = statement(rules::COMPLETED, Some(json!({ "completion": true, "duration": "PT6S" })), true);
    assert_eq!(rules::check(&completed, &l, &p), Ok(Some(Defined::Completed)));
    rules::apply(&mut p, Defined::Completed);
    // A cmi5-allowed statement (no cmi5 category) between initialized and terminated.
    let mut answered = statement("http://adlnet.gov/expapi/verbs/answered", None, false);
    answered["context"]["contextActivities"]["category"] = json!([]);
    answered["object"]["id"] = json!("https://example.com/au/1/q1");
    assert_eq!(rules::check(&answered, &l, &p), Ok(None));
    let terminated = statement(rules::TERMINATED, Some(json!({ "duration": "PT7S" })), false);
    assert_eq!(rules::check(&terminated, &l, &p), Ok(Some(Defined::Terminated)));
    rules::apply(&mut p, Defined::Terminated);
    assert_eq!((p.passed, p.completed, p.state.as_str()), (true, true, "terminated"));
    assert_eq!(refused(&answered, &l, &p), "9.3.0.0-5");
    assert!(rules::satisfies("CompletedAndPassed", p.completed, p.passed));
    assert!(!rules::satisfies("Passed", true, false));
    assert!(rules::satisfies("NotApplicable", false, false));
}

#[test]
fn every_breach_names_its_requirement() {
    let a = actor();
    let l = launch(&a, "Normal", Some(0.8));
    let p = initialized();
    let ok = statement(rules::COMPLETED, Some(json!({ "completion": true, "duration": "PT1S" })), true);
    assert_eq!(rules::check(&ok, &l, &p), Ok(Some(Defined::Completed)));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut st = ok.clone();
        f(&mut st);
        st
    };
    let cases: Vec<(&str, Value)> = vec![
        ("9.1.0.0-1", with(&|s| drop(s.as_object_mut().unwrap().remove("id")))),
        ("6.3.0.0-1", with(&|s| s["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/voided"))),
        ("9.7.0.0-1", with(&|s| drop(s.as_object_mut().unwrap().remove("timestamp")))),
        ("9.7.0.0-2", with(&|s| s["timestamp"] = json!("2026-12-02T10:00:00.000+01:00"))),
        ("8.1.3.0-3", with(&|s| s["actor"]["account"]["name"] = json!("someone-else"))),
        ("8.1.3.0-3", with(&|s| s["actor"]["mbox"] = json!("mailto:a@example.com"))),
        ("9.6.0.0-1", with(&|s| drop(s.as_object_mut().unwrap().remove("context")))),
        ("10.2.1.0-6", with(&|s| s["context"]["contextActivities"]["grouping"] = json!([]))),
        ("9.6.1.0-1", with(&|s| s["context"]["registration"] = json!("0196a1a1-0000-7000-8000-0000000000ff"))),
        ("9.6.3.1-4", with(&|s| s["context"]["extensions"] = json!({}))),
        ("8.1.5.0-6", with(&|s| s["object"]["id"] = json!(PUBLISHER))),
        ("9.5.3.0-1", with(&|s| s["result"]["completion"] = json!(false))),
        (
            "9.6.2.2-1",
            with(&|s| s["context"]["contextActivities"]["category"] = json!([{ "id": rules::CMI5_CATEGORY }])),
        ),
        ("9.5.1.0-2", with(&|s| s["result"]["score"] = json!({ "scaled": 0.9 }))),
        ("9.5.4.1-1", with(&|s| drop(s["result"].as_object_mut().unwrap().remove("duration")))),
        ("9.3.0.0-1", statement("http://adlnet.gov/expapi/verbs/attempted", None, false)),
        ("platform", with(&|s| s["object"]["id"] = json!("https://mirai.test/courses/c"))),
    ];
    for (rule, st) in cases {
        assert_eq!(refused(&st, &l, &p), rule, "{st}");
    }
    // The moveOn category belongs to completed, passed and failed only.
    let mut init = statement(rules::INITIALIZED, None, true);
    init["context"]["contextActivities"]["category"][1] = json!({ "id": rules::MOVEON_CATEGORY });
    assert_eq!(refused(&init, &l, &p), "9.6.2.2-2");
    // Before the learner preferences were read; before initialized; twice.
    assert_eq!(refused(&ok, &l, &Progress { prefs_read: false, ..initialized() }), "11.0.0.0-3");
    let launched = Progress { state: "launched".into(), prefs_read: true, ..Default::default() };
    assert_eq!(refused(&ok, &l, &launched), "9.3.0.0-4");
    assert_eq!(refused(&ok, &l, &Progress { verbs: vec![rules::COMPLETED.into()], ..initialized() }), "9.3.0.0-2");
    assert_eq!(refused(&ok, &l, &Progress { completed: true, ..initialized() }), "9.3.0.0-6");
    assert_eq!(refused(&ok, &l, &Progress { state: "abandoned".into(), ..initialized() }), "9.3.6.0-2");
    // Not in Browse or Review.
    assert_eq!(refused(&ok, &launch(&a, "Browse", None), &p), "10.2.2.0-2");
    assert_eq!(refused(&ok, &launch(&a, "Review", None), &p), "10.2.2.0-3");
}

#[test]
fn passed_and_failed_are_judged_against_the_mastery_score() {
    let a = actor();
    let l = launch(&a, "Normal", Some(0.8));
    let judged = |verb: &str, success: bool, scaled: f64| {
        let mut st = statement(
            verb,
            Some(json!({ "success": success, "duration": "PT1S", "score": { "scaled": scaled } })),
            true,
        );
        st["context"]["extensions"][rules::MASTERY_SCORE] = json!(0.8);
        st
    };
    let p = initialized();
    assert_eq!(refused(&judged(rules::PASSED, true, 0.7), &l, &p), "9.3.4.0-2");
    assert_eq!(refused(&judged(rules::FAILED, false, 0.8), &l, &p), "9.3.6.0-1");
    assert_eq!(refused(&judged(rules::PASSED, false, 0.9), &l, &p), "9.5.2.0-1");
    assert_eq!(rules::check(&judged(rules::FAILED, false, 0.5), &l, &p), Ok(Some(Defined::Failed)));
    let mut no_ext = judged(rules::PASSED, true, 0.9);
    no_ext["context"]["extensions"] = json!({ rules::SESSION_ID: SID });
    assert_eq!(refused(&no_ext, &l, &p), "9.6.3.2-2");
    // A passed without a score is judged by nothing but its success (cmi5 9.3.4: *if* it
    // has a scaled score); a second failed in one session is a duplicate.
    let mut unscored = judged(rules::PASSED, true, 0.9);
    unscored["result"] = json!({ "success": true, "duration": "PT1S" });
    assert_eq!(rules::check(&unscored, &l, &p), Ok(Some(Defined::Passed)));
    let failed_once = Progress { verbs: vec![rules::INITIALIZED.into(), rules::FAILED.into()], ..p.clone() };
    assert_eq!(refused(&judged(rules::FAILED, false, 0.5), &l, &failed_once), "9.3.0.0-2");
    let mut raw = judged(rules::PASSED, true, 0.9);
    raw["result"]["score"] = json!({ "scaled": 0.9, "raw": 9 });
    assert_eq!(refused(&raw, &l, &p), "9.5.1.0-3");
    let after_failed =
        Progress { verbs: vec![rules::INITIALIZED.into(), rules::FAILED.into()], failed: true, ..p.clone() };
    assert_eq!(refused(&judged(rules::PASSED, true, 0.9), &l, &after_failed), "9.3.0.0-3");
    let passed_before = Progress { passed: true, ..p.clone() };
    assert_eq!(refused(&judged(rules::PASSED, true, 0.9), &l, &passed_before), "9.3.0.0-7");
    assert_eq!(refused(&judged(rules::FAILED, false, 0.5), &l, &passed_before), "9.3.0.0-8");
}
