//! assessment end to end: a provider writes items and a quiz of its course; a licensee's
//! enrolled learner takes it (never seeing a key before submission), it is graded on the
//! server, the LRS holds its statements; a time limit closes an attempt with what was
//! answered; an essay waits for a person; nobody outside reaches any of it.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, poll};
use serde_json::{Value, json};
use uuid::Uuid;

async fn spawn() -> TestApp {
    TestApp::spawn(&[
        mirai_tenant::service(),
        mirai_authoring::service(),
        mirai_marketplace::service(),
        mirai_enrollment::service(),
        mirai_lrs::service(),
        mirai_assessment::service(),
    ])
    .await
}

struct Setup {
    app: TestApp,
    provider: Uuid,
    author: String,
    org: Uuid,
    course: String,
}

async fn setup() -> Setup {
    let app = spawn().await;
    let provider = Uuid::now_v7();
    let org = app.create_tenant("org", "Acme").await;
    let modules = json!([{ "title": "M", "lessons": [{ "title": "L",
        "blocks": [{ "kind": "text", "content": { "markdown": "Three points of contact." } }] }] }]);
    let course = app.licensed_course_by(provider, org, 5, modules).await;
    let author = app.token(Some(provider), &[Role::Author]);
    Setup { app, provider, author, org, course }
}

async fn item(s: &Setup, body: Value) -> String {
    let (status, i) = s.app.post("/api/v1/assessment/items", Some(&s.author), body).await;
    assert_eq!(status, 201, "{i}");
    i["id"].as_str().unwrap().to_owned()
}

async fn quiz(s: &Setup, body: Value) -> String {
    let (status, q) = s.app.post("/api/v1/assessment/quizzes", Some(&s.author), body).await;
    assert_eq!(status, 201, "{q}");
    q["id"].as_str().unwrap().to_owned()
}

/// A learner of the org, enrolled in the course, once assessment knows the enrollment.
async fn learner(s: &Setup, quiz: &str) -> (Uuid, String, (u16, Value)) {
    let user = Uuid::now_v7();
    s.app.add_member(s.org, user, &["learner"], None).await;
    s.app.enrolled(s.org, user, &s.course).await;
    let token = s.app.user_token(s.org, user, &[Role::Learner]);
    let path = format!("/api/v1/assessment/quizzes/{quiz}/attempts");
    let started = poll("assessment knows the enrollment", Duration::from_secs(20), || async {
        let (st, b) = s.app.post(&path, Some(&token), json!({})).await;
        (st != 403 && st != 404).then_some((st.as_u16(), b))
    })
    .await;
    (user, token, started)
}

#[tokio::test]
async fn an_enrolled_learner_takes_a_quiz_graded_on_the_server_and_the_lrs_holds_every_answer() {
    let s = setup().await;
    // Every kind of item; a broken one is refused field by field.
    let (st, p) = s
        .app
        .post(
            "/api/v1/assessment/items",
            Some(&s.author),
            json!({ "stem": "", "body": { "kind": "single_choice", "choices": [{ "id": "a", "text": "x" }], "correct": "z" } }),
        )
        .await;
    assert_problem(&(st, p.clone()), 422, "validation");
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["stem", "body.choices", "body.correct"], "{p}");
    let ids = vec![
        item(&s, json!({ "stem": "Which rung do you never stand on?", "body": { "kind": "single_choice",
            "choices": [{ "id": "a", "text": "The bottom one" }, { "id": "b", "text": "The top one" }], "correct": "b" } })).await,
        item(&s, json!({ "stem": "Points of contact?", "points": 2, "body": { "kind": "multiple_choice",
            "choices": [{ "id": "h", "text": "Two hands" }, { "id": "k", "text": "A knee" }, { "id": "f", "text": "One foot" }],
            "correct": ["h", "f"] } })).await,
        item(&s, json!({ "stem": "A wet ladder is fine.", "body": { "kind": "true_false", "correct": false } })).await,
        item(&s, json!({ "stem": "Name the rung you skip.", "body": { "kind": "fill_in", "accepted": ["top rung", "the top rung"] } })).await,
        item(&s, json!({ "stem": "Match them.", "body": { "kind": "matching",
            "sources": [{ "id": "s1", "text": "Feet" }, { "id": "s2", "text": "Angle" }],
            "targets": [{ "id": "t1", "text": "Four to one" }, { "id": "t2", "text": "On a firm base" }],
            "correct": { "s1": "t2", "s2": "t1" } } })).await,
        item(&s, json!({ "stem": "In order.", "body": { "kind": "ordering",
            "choices": [{ "id": "inspect", "text": "Inspect" }, { "id": "set", "text": "Set up" }, { "id": "climb", "text": "Climb" }],
            "correct": ["inspect", "set", "climb"] } })).await,
        item(&s, json!({ "stem": "g in m/s²?", "body": { "kind": "numeric", "value": 9.81, "tolerance": 0.05 } })).await,
    ];
    // Another provider's author reads none of them, nor builds a quiz of them.
    let other = s.app.token(Some(Uuid::now_v7()), &[Role::Author]);
    let (st, _) = s.app.get(&format!("/api/v1/assessment/items/{}", ids[0]), &other).await;
    assert_eq!(st, 404);
    let (st, _) = s
        .app
        .post(
            "/api/v1/assessment/quizzes",
            Some(&other),
            json!({ "course_id": s.course, "title": "Mine",
            "pools": [{ "items": [ids[0]] }], "pass_mark": 0.5 }),
        )
        .await;
    assert_eq!(st, 422);
    let quiz_id = quiz(
        &s,
        json!({ "course_id": s.course, "title": "Ladder check", "pools": [{ "items": ids }],
        "shuffle": true, "max_attempts": 2, "pass_mark": 0.7, "feedback": "per_question" }),
    )
    .await;

    let (alice, token, (st, attempt)) = learner(&s, &quiz_id).await;
    assert_eq!(st, 201, "{attempt}");
    // Another tenant naming this course in a quiz of its own shows its learners nothing.
    let rogue_author = s.app.token(Some(Uuid::now_v7()), &[Role::Author]);
    let (_, rogue_item) = s
        .app
        .post(
            "/api/v1/assessment/items",
            Some(&rogue_author),
            json!({ "stem": "Rogue?", "body": { "kind": "true_false", "correct": true } }),
        )
        .await;
    let (st, rogue) = s
        .app
        .post(
            "/api/v1/assessment/quizzes",
            Some(&rogue_author),
            json!({ "course_id": s.course, "title": "Rogue",
            "pools": [{ "items": [rogue_item["id"]] }], "pass_mark": 0.5 }),
        )
        .await;
    assert_eq!((st.as_u16(), rogue["course_verified"].as_bool()), (201, Some(false)), "{rogue}");
    let rogue_start = format!("/api/v1/assessment/quizzes/{}/attempts", rogue["id"].as_str().unwrap());
    assert_problem(&s.app.post(&rogue_start, Some(&token), json!({})).await, 404, "not-found");
    // A member of the org not enrolled in the course: 403; another org's learner: no
    // such quiz.
    let bob = Uuid::now_v7();
    s.app.add_member(s.org, bob, &["learner"], None).await;
    let bob_t = s.app.user_token(s.org, bob, &[Role::Learner]);
    let start = format!("/api/v1/assessment/quizzes/{quiz_id}/attempts");
    assert_problem(&s.app.post(&start, Some(&bob_t), json!({})).await, 403, "not-enrolled");
    let stranger = s.app.user_token(s.app.create_tenant("org", "Globex").await, bob, &[Role::Learner]);
    assert_problem(&s.app.post(&start, Some(&stranger), json!({})).await, 404, "not-found");

    assert_eq!(attempt["questions"].as_array().unwrap().len(), 7);
    // No key reaches the learner before submission.
    let text = attempt.to_string();
    for key in ["\"correct\"", "accepted", "top rung", "9.81", "tolerance", "t2\"}"] {
        assert!(!text.contains(key), "`{key}` in {attempt}");
    }
    // An ordering is never shown in its answer's order.
    let ordering = attempt["questions"].as_array().unwrap().iter().find(|q| q["kind"] == "ordering").unwrap();
    let shown: Vec<&str> =
        ordering["shown"]["choices"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_ne!(shown, ["inspect", "set", "climb"]);
    let id = attempt["id"].as_str().unwrap().to_owned();
    // Starting again answers the open attempt.
    let (st, again) = s.app.post(&start, Some(&token), json!({})).await;
    assert_eq!((st.as_u16(), again["id"].as_str()), (200, Some(id.as_str())));
    // Nobody else reads or answers it.
    let (st, _) = s.app.get(&format!("/api/v1/assessment/attempts/{id}"), &bob_t).await;
    assert_eq!(st, 404);

    // Answers are checked against their question; a stale revision is refused.
    let answers = format!("/api/v1/assessment/attempts/{id}/answers");
    let wrong_shape = json!({ "answers": { ids[0].clone(): "z" } });
    assert_problem(
        &s.app.call(reqwest::Method::PUT, &answers, Some(&token), Some(wrong_shape)).await,
        422,
        "validation",
    );
    let all = json!({ "answers": {
        ids[0].clone(): "b", ids[1].clone(): ["f", "h"], ids[2].clone(): false, ids[3].clone(): "  Top Rung ",
        ids[4].clone(): { "s1": "t2", "s2": "t1" }, ids[5].clone(): ["inspect", "set", "climb"], ids[6].clone(): 9.9 } });
    let (st, saved) = s.app.call(reqwest::Method::PUT, &answers, Some(&token), Some(all.clone())).await;
    assert_eq!(st, 200, "{saved}");
    let stale = s
        .app
        .http
        .put(s.app.url(&answers))
        .bearer_auth(&token)
        .header("if-match", format!("\"{}\"", attempt["revision"]))
        .json(&all)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);

    // Submitted: graded on the server. 7 of 8 points (g was 9.9): 0.875 passes 0.7.
    let (st, graded) = s.app.post(&format!("/api/v1/assessment/attempts/{id}/submit"), Some(&token), json!({})).await;
    assert_eq!(st, 200, "{graded}");
    assert_eq!(
        (
            graded["state"].as_str(),
            graded["score"].as_f64(),
            graded["max_score"].as_f64(),
            graded["scaled"].as_f64(),
            graded["passed"].as_bool()
        ),
        (Some("graded"), Some(7.0), Some(8.0), Some(0.875), Some(true)),
        "{graded}"
    );
    let numeric = graded["questions"].as_array().unwrap().iter().find(|q| q["item_id"] == ids[6].as_str()).unwrap();
    assert_eq!((numeric["correct"].as_bool(), numeric["earned"].as_f64()), (Some(false), Some(0.0)));
    assert!(!graded.to_string().contains("9.81"), "the key stays on the server: {graded}");
    let event = s
        .app
        .wait_for_event("assessment.attempt.graded.v1", Duration::from_secs(10), |e| {
            e.data["attempt_id"] == id.as_str()
        })
        .await;
    assert_eq!((event.data["passed"].as_bool(), event.data["closed_by"].as_str()), (Some(true), Some("submitted")));
    assert_eq!(event.data["user_id"], alice.to_string());
    assert_problem(
        &s.app.post(&format!("/api/v1/assessment/attempts/{id}/submit"), Some(&token), json!({})).await,
        409,
        "attempt-closed",
    );

    // The LRS holds every answer as a cmi.interaction, then the verdict.
    let held = poll("the LRS holds the attempt", Duration::from_secs(20), || async {
        let st = s.app.statements_of(&token, &id).await;
        (st.len() == 8).then_some(st)
    })
    .await;
    let verbs: Vec<&str> = held.iter().map(|s| s["verb"]["id"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(verbs, ["answered", "answered", "answered", "answered", "answered", "answered", "answered", "passed"]);
    let multi = held.iter().find(|h| h["object"]["id"].as_str().unwrap().ends_with(&ids[1])).unwrap();
    assert_eq!(multi["object"]["definition"]["interactionType"], "choice");
    // The definition carries no key: the LRS shows it to every reader of the tenant.
    assert!(multi["object"]["definition"].get("correctResponsesPattern").is_none(), "{multi}");
    assert_eq!(
        (multi["result"]["response"].as_str(), multi["result"]["success"].as_bool()),
        (Some("f[,]h"), Some(true))
    );
    assert_eq!(held[7]["result"]["score"]["scaled"].as_f64(), Some(0.875));
    assert!(held[7]["context"]["contextActivities"]["grouping"][0]["id"].as_str().unwrap().ends_with(&s.course));

    // The second attempt is the last: a third is refused.
    let (st, second) = s.app.post(&start, Some(&token), json!({})).await;
    assert_eq!((st.as_u16(), second["number"].as_i64()), (201, Some(2)));
    let second_id = second["id"].as_str().unwrap();
    s.app.post(&format!("/api/v1/assessment/attempts/{second_id}/submit"), Some(&token), json!({})).await;
    assert_problem(&s.app.post(&start, Some(&token), json!({})).await, 409, "attempts-exhausted");
    let _ = s.provider;
}

#[tokio::test]
async fn the_time_limit_closes_an_attempt_with_what_was_answered_and_essays_wait_for_a_person() {
    let s = setup().await;
    let tf =
        item(&s, json!({ "stem": "A wet ladder is fine.", "body": { "kind": "true_false", "correct": false } })).await;
    let one = item(
        &s,
        json!({ "stem": "Which rung?", "body": { "kind": "single_choice",
        "choices": [{ "id": "a", "text": "Bottom" }, { "id": "b", "text": "Top" }], "correct": "b" } }),
    )
    .await;
    let timed = quiz(
        &s,
        json!({ "course_id": s.course, "title": "Quick check", "pools": [{ "items": [tf, one] }],
        "time_limit_seconds": 5, "pass_mark": 0.5 }),
    )
    .await;
    let (_, token, (st, attempt)) = learner(&s, &timed).await;
    assert_eq!(st, 201, "{attempt}");
    let id = attempt["id"].as_str().unwrap().to_owned();
    let answers = format!("/api/v1/assessment/attempts/{id}/answers");
    let (st, _) = s
        .app
        .call(reqwest::Method::PUT, &answers, Some(&token), Some(json!({ "answers": { tf.clone(): false } })))
        .await;
    assert_eq!(st, 200);
    // The server closes it at the deadline, with the one answer: 1 of 2 passes 0.5.
    let closed = s
        .app
        .wait_for_event("assessment.attempt.graded.v1", Duration::from_secs(30), |e| {
            e.data["attempt_id"] == id.as_str()
        })
        .await;
    assert_eq!(
        (closed.data["closed_by"].as_str(), closed.data["score"].as_f64(), closed.data["passed"].as_bool()),
        (Some("time_limit"), Some(1.0), Some(true))
    );
    // An answer after it is refused, and nothing of it kept.
    let late = json!({ "answers": { one.clone(): "b" } });
    assert_problem(&s.app.call(reqwest::Method::PUT, &answers, Some(&token), Some(late)).await, 409, "attempt-closed");
    let (_, a) = s.app.get(&format!("/api/v1/assessment/attempts/{id}"), &token).await;
    assert_eq!(
        (a["state"].as_str(), a["closed_by"].as_str(), a["score"].as_f64()),
        (Some("graded"), Some("time_limit"), Some(1.0))
    );
    assert!(
        a["questions"].as_array().unwrap().iter().all(|q| q["item_id"] != one.as_str() || q["response"].is_null()),
        "{a}"
    );
    // The quiz tells the score only (its default): no question says right or wrong.
    assert!(
        a["questions"].as_array().unwrap().iter().all(|q| q.get("correct").is_none() && q.get("earned").is_none()),
        "{a}"
    );

    // An essay: the attempt waits for a person of the learner's org, who scores it.
    let essay = item(
        &s,
        json!({ "stem": "Why three points of contact?", "points": 4,
        "body": { "kind": "essay", "rubric": "Balance, and a hand free is a fall." } }),
    )
    .await;
    let written = quiz(
        &s,
        json!({ "course_id": s.course, "title": "Explain", "pools": [{ "items": [essay] }], "pass_mark": 0.5 }),
    )
    .await;
    let (st, a) = s.app.post(&format!("/api/v1/assessment/quizzes/{written}/attempts"), Some(&token), json!({})).await;
    assert_eq!(st, 201, "{a}");
    let essay_attempt = a["id"].as_str().unwrap().to_owned();
    let body = json!({ "answers": { essay.clone(): "So one slip is not a fall." } });
    s.app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/assessment/attempts/{essay_attempt}/answers"),
            Some(&token),
            Some(body),
        )
        .await;
    let (_, submitted) =
        s.app.post(&format!("/api/v1/assessment/attempts/{essay_attempt}/submit"), Some(&token), json!({})).await;
    assert_eq!(
        (submitted["state"].as_str(), submitted["passed"].as_bool()),
        (Some("pending_review"), None),
        "{submitted}"
    );
    let review = format!("/api/v1/assessment/attempts/{essay_attempt}/review");
    let scores = json!({ "scores": { essay.clone(): { "points": 3, "feedback": "Name the hand." } } });
    let (st, _) = s.app.post(&review, Some(&token), scores.clone()).await;
    assert_eq!(st, 403, "a learner scores nothing");
    let other_admin = s.app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    assert_eq!(s.app.post(&review, Some(&other_admin), scores.clone()).await.0, 404);
    let admin = s.app.token(Some(s.org), &[Role::OrgAdmin]);
    let too_many = json!({ "scores": { essay.clone(): { "points": 5 } } });
    assert_problem(&s.app.post(&review, Some(&admin), too_many).await, 422, "validation");
    let (st, reviewed) = s.app.post(&review, Some(&admin), scores).await;
    assert_eq!(st, 200, "{reviewed}");
    assert_eq!((reviewed["scaled"].as_f64(), reviewed["passed"].as_bool()), (Some(0.75), Some(true)));
    assert_eq!(reviewed["questions"][0]["feedback"], "Name the hand.");
}

/// The whole path in a course: a lesson holding a quiz completes in the player when its
/// quiz is passed (never on the learner's word), and with the other lesson read the
/// course completes.
#[tokio::test]
async fn a_quiz_passed_completes_its_lesson_in_the_player_and_with_it_the_course() {
    let app = TestApp::spawn(&[
        mirai_tenant::service(),
        mirai_authoring::service(),
        mirai_marketplace::service(),
        mirai_enrollment::service(),
        mirai_lrs::service(),
        mirai_assessment::service(),
        mirai_delivery::service(),
    ])
    .await;
    let provider = Uuid::now_v7();
    let org = app.create_tenant("org", "Acme").await;
    let seller = app.token(Some(provider), &[Role::ProviderAdmin]);
    let read = json!({ "title": "Read", "blocks": [{ "kind": "text", "content": { "markdown": "Three points of contact." } }] });
    let course = |lessons: Value| {
        json!({ "title": "Ladders", "summary": "Up and down", "locale": "en", "tags": [],
        "visibility": "public", "modules": [{ "title": "Ladders", "lessons": lessons }] })
    };
    let (st, c) = app.post("/api/v1/authoring/courses", Some(&seller), course(json!([read]))).await;
    assert_eq!(st, 201, "{c}");
    let course_id = c["id"].as_str().unwrap().to_owned();
    // The quiz of the course, then the lesson that holds it.
    let (_, item) = app
        .post(
            "/api/v1/assessment/items",
            Some(&seller),
            json!({ "stem": "Three points of contact?",
            "body": { "kind": "true_false", "correct": true } }),
        )
        .await;
    let (st, quiz) = app
        .post(
            "/api/v1/assessment/quizzes",
            Some(&seller),
            json!({ "course_id": course_id, "title": "Check",
            "pools": [{ "items": [item["id"]] }], "pass_mark": 1.0 }),
        )
        .await;
    assert_eq!(st, 201, "{quiz}");
    let quiz_id = quiz["id"].as_str().unwrap().to_owned();
    let check = json!({ "title": "Check", "blocks": [{ "kind": "quiz", "content": { "quiz_id": quiz_id } }] });
    let res = app
        .http
        .put(app.url(&format!("/api/v1/authoring/courses/{course_id}")))
        .bearer_auth(&seller)
        .header("if-match", "\"1\"")
        .json(&course(json!([read, check])))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let listing = app.publish_listed(provider, &course_id, 2, json!({})).await;
    app.order_free(org, 5, &listing).await;

    let alice = Uuid::now_v7();
    app.add_member(org, alice, &["learner"], None).await;
    app.enrolled(org, alice, &course_id).await;
    let token = app.user_token(org, alice, &[Role::Learner]);
    let launch = format!("/api/v1/delivery/courses/{course_id}/launch");
    let session = poll("the player knows the enrollment", Duration::from_secs(20), || async {
        let (st, b) = app.post(&launch, Some(&token), json!({})).await;
        (st == 201).then_some(b)
    })
    .await;
    let sid = session["id"].as_str().unwrap().to_owned();
    let lesson = |s: &Value, title: &str| {
        s["outline"][0]["lessons"].as_array().unwrap().iter().find(|l| l["title"] == title).cloned().unwrap()
    };
    let check_lesson = lesson(&session, "Check")["lesson_id"].as_str().unwrap().to_owned();
    // The learner's word does not complete it.
    let (st, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/delivery/sessions/{sid}/position"),
            Some(&token),
            Some(json!({ "lesson_id": check_lesson })),
        )
        .await;
    assert_eq!(st, 200);
    let complete = format!("/api/v1/delivery/sessions/{sid}/lessons/{check_lesson}/complete");
    assert_problem(&app.post(&complete, Some(&token), json!({})).await, 409, "completes-by-activity");

    // The quiz, taken and passed.
    let start = format!("/api/v1/assessment/quizzes/{quiz_id}/attempts");
    let attempt = poll("assessment knows the enrollment and the course", Duration::from_secs(20), || async {
        let (st, b) = app.post(&start, Some(&token), json!({})).await;
        (st == 201).then_some(b)
    })
    .await;
    let id = attempt["id"].as_str().unwrap();
    let answers = json!({ "answers": { item["id"].as_str().unwrap(): true } });
    let (st, _) = app
        .call(reqwest::Method::PUT, &format!("/api/v1/assessment/attempts/{id}/answers"), Some(&token), Some(answers))
        .await;
    assert_eq!(st, 200);
    let (_, graded) = app.post(&format!("/api/v1/assessment/attempts/{id}/submit"), Some(&token), json!({})).await;
    assert_eq!(graded["passed"], true, "{graded}");

    // The player completes the quiz's lesson; the course is half done, then done.
    let s = poll("the player completes the quiz's lesson", Duration::from_secs(20), || async {
        let (_, s) = app.get(&format!("/api/v1/delivery/sessions/{sid}"), &token).await;
        (lesson(&s, "Check")["completed"] == true).then_some(s)
    })
    .await;
    assert_eq!((s["status"].as_str(), s["progress"]["percent"].as_i64()), (Some("in_progress"), Some(50)), "{s}");
    let read_lesson = lesson(&s, "Read")["lesson_id"].as_str().unwrap().to_owned();
    app.call(
        reqwest::Method::PUT,
        &format!("/api/v1/delivery/sessions/{sid}/position"),
        Some(&token),
        Some(json!({ "lesson_id": read_lesson })),
    )
    .await;
    let (st, done) = app
        .post(&format!("/api/v1/delivery/sessions/{sid}/lessons/{read_lesson}/complete"), Some(&token), json!({}))
        .await;
    assert_eq!((st.as_u16(), done["status"].as_str()), (200, Some("completed")), "{done}");
}
