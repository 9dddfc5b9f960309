//! The SCORM runtime with a real SCORM 1.2 package in headless Chromium: the SCO finds the
//! adapter the way ADL's API wrapper does, checks its error codes, reports an interaction,
//! a score and a status, commits and finishes; the server holds the data model, applies
//! the mastery score, completes the lesson and the LRS holds the SCORM profile's
//! statements. Then what the browser does not show: a retried commit applied once, a
//! forged value refused, another tenant's or learner's reach, a new attempt after a
//! normal exit and a resume after a suspend.

use std::{io::Write, time::Duration};

use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, browser, poll};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

pub(super) async fn spawn() -> TestApp {
    TestApp::spawn(&[
        mirai_tenant::service(),
        mirai_authoring::service(),
        mirai_marketplace::service(),
        mirai_enrollment::service(),
        mirai_lrs::service(),
        mirai_content::service(),
        mirai_delivery::service(),
    ])
    .await
}

const MANIFEST12: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="com.example.ladder.12" version="1.0"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="org">
    <organization identifier="org">
      <title>Ladder inspection</title>
      <item identifier="check" identifierref="check_res">
        <title>Check the ladder</title>
        <adlcp:masteryscore>80</adlcp:masteryscore>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="check_res" type="webcontent" adlcp:scormtype="sco" href="sco/index.html">
      <file href="sco/index.html"/><file href="sco/APIWrapper.js"/><file href="sco/quiz.js"/>
    </resource>
  </resources>
</manifest>"#;

/// ADL's API discovery, as SCORM 1.2 content has shipped it since 2001 (APIWrapper.js).
const API_WRAPPER: &str = r#"var findAPITries = 0;
function findAPI(win) {
  while ((win.API == null) && (win.parent != null) && (win.parent != win)) {
    findAPITries++;
    if (findAPITries > 7) { return null; }
    win = win.parent;
  }
  return win.API;
}
function getAPI() {
  var theAPI = findAPI(window);
  if ((theAPI == null) && (window.opener != null) && (typeof(window.opener) != "undefined")) {
    theAPI = findAPI(window.opener);
  }
  return theAPI;
}
"#;

/// The SCO: initializes, probes the adapter's error codes, answers a question, scores 85
/// (the manifest's mastery score is 80), says `completed` and lets the LMS judge, then
/// commits and finishes; what it saw goes to its parent page for the test to read.
const QUIZ: &str = r#"(function () {
  var api = getAPI(), seen = [];
  function code() { return api.LMSGetLastError(); }
  if (!api) { parent.document.body.setAttribute("data-sco", "no API"); return; }
  seen.push("init=" + api.LMSInitialize(""));
  seen.push("name=" + api.LMSGetValue("cmi.core.student_name"));
  seen.push("entry=" + api.LMSGetValue("cmi.core.entry"));
  seen.push("status=" + api.LMSGetValue("cmi.core.lesson_status"));
  seen.push("mastery=" + api.LMSGetValue("cmi.student_data.mastery_score"));
  var errors = [];
  api.LMSSetValue("cmi.core.student_id", "someone-else"); errors.push(code());
  api.LMSGetValue("cmi.core.exit"); errors.push(code());
  api.LMSSetValue("cmi.core.score.raw", "150"); errors.push(code());
  api.LMSGetValue("cmi.core.lesson_status._children"); errors.push(code());
  api.LMSSetValue("cmi.interactions.3.id", "q4"); errors.push(code());
  api.LMSSetValue("cmi.core._children", "x"); errors.push(code());
  api.LMSSetValue("cmi.core.lesson_status", "not attempted"); errors.push(code());
  seen.push("errors=" + errors.join(","));
  seen.push("string403=" + api.LMSGetErrorString("403"));
  var ok = [
    api.LMSSetValue("cmi.interactions.0.id", "q1"),
    api.LMSSetValue("cmi.interactions.0.type", "choice"),
    api.LMSSetValue("cmi.interactions.0.correct_responses.0.pattern", "b"),
    api.LMSSetValue("cmi.interactions.0.student_response", "b"),
    api.LMSSetValue("cmi.interactions.0.result", "correct"),
    api.LMSSetValue("cmi.interactions.0.latency", "0000:00:05.00"),
    api.LMSSetValue("cmi.core.lesson_location", "page-3"),
    api.LMSSetValue("cmi.core.score.min", "0"),
    api.LMSSetValue("cmi.core.score.max", "100"),
    api.LMSSetValue("cmi.core.score.raw", "85"),
    api.LMSSetValue("cmi.core.lesson_status", "completed"),
    api.LMSSetValue("cmi.suspend_data", "errors:" + errors.join(",")),
    api.LMSSetValue("cmi.core.session_time", "0000:00:42.00"),
    api.LMSSetValue("cmi.core.exit", "")
  ];
  seen.push("sets=" + ok.join(","));
  seen.push("count=" + api.LMSGetValue("cmi.interactions._count"));
  seen.push("commit=" + api.LMSCommit(""));
  seen.push("finish=" + api.LMSFinish(""));
  api.LMSGetValue("cmi.core.lesson_location"); seen.push("after=" + code());
  parent.document.body.setAttribute("data-sco", seen.join("|"));
})();
"#;

const PAGE: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Check the ladder</title>
<script src="APIWrapper.js"></script></head>
<body><h1>Check the ladder</h1><p>Which rung do you never stand on? (b) the top one.</p>
<script src="quiz.js"></script></body></html>"#;

fn package12() -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    for (name, body) in [
        ("imsmanifest.xml", MANIFEST12),
        ("sco/index.html", PAGE),
        ("sco/APIWrapper.js", API_WRAPPER),
        ("sco/quiz.js", QUIZ),
    ] {
        z.start_file(name, o).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// The learner's session and the id of the lesson holding the package.
async fn session_and_package_lesson(app: &TestApp, token: &str, course: &str) -> (String, String) {
    let launch = format!("/api/v1/delivery/courses/{course}/launch");
    let session = poll("the player knows the enrollment", Duration::from_secs(20), || async {
        let (s, b) = app.post(&launch, Some(token), json!({})).await;
        (s == 201).then_some(b)
    })
    .await;
    let id = session["id"].as_str().unwrap().to_owned();
    let lesson = session["outline"][1]["lessons"][0]["lesson_id"].as_str().unwrap().to_owned();
    (id, lesson)
}

#[tokio::test]
async fn a_scorm12_package_plays_in_chromium_and_its_results_reach_the_session_and_the_lrs() {
    let app = spawn().await;
    let org = app.create_tenant("org", "Acme").await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    app.add_member(org, alice, &["learner"], None).await;
    app.add_member(org, bob, &["learner"], None).await;
    let course = app.licensed_package_course(org, 5, package12()).await;
    app.enrolled(org, alice, &course).await;
    let alice_t = app.user_token(org, alice, &[Role::Learner]);
    let bob_t = app.user_token(org, bob, &[Role::Learner]);
    let (session, lesson) = session_and_package_lesson(&app, &alice_t, &course).await;
    let runtime = format!("/api/v1/delivery/sessions/{session}/lessons/{lesson}/runtime");

    // A lesson without a package has no runtime; nobody else launches hers.
    let (_, s) = app.get(&format!("/api/v1/delivery/sessions/{session}"), &alice_t).await;
    let text_lesson = s["outline"][0]["lessons"][0]["lesson_id"].as_str().unwrap();
    let other = format!("/api/v1/delivery/sessions/{session}/lessons/{text_lesson}/runtime");
    assert_problem(&app.post(&other, Some(&alice_t), json!({})).await, 409, "no-package");
    assert_problem(&app.post(&runtime, Some(&bob_t), json!({})).await, 404, "not-found");
    let stranger = app.user_token(app.create_tenant("org", "Globex").await, alice, &[Role::Learner]);
    assert_problem(&app.post(&runtime, Some(&stranger), json!({})).await, 404, "not-found");

    // The package launches once the player has learnt of it (content's event).
    let launched = poll("the player knows the package", Duration::from_secs(20), || async {
        let (s, b) = app.post(&runtime, Some(&alice_t), json!({})).await;
        (s == 201).then_some(b)
    })
    .await;
    assert_eq!(
        (launched["attempt"]["number"].as_i64(), launched["attempt"]["state"].as_str()),
        (Some(1), Some("open"))
    );
    assert_eq!(launched["attempt"]["standard"], "scorm_1.2");
    let player = launched["player_url"].as_str().unwrap().to_owned();
    assert!(player.starts_with(&app.url("/api/v1/delivery/runtime/")), "{player}");
    // The page's files and commits are relative to it.
    let base = player.strip_prefix(&app.url).unwrap().trim_end_matches("player").to_owned();

    // The page serves without any credential but its address, and not cached anywhere.
    let res = app.http.get(&player).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = app.http.get(app.url(&format!("{base}content/sco/quiz.js"))).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()["content-type"].to_str().unwrap()), (200, "text/javascript"));
    // No path leaves the item's package (an encoded slash decodes into the path).
    let res = app.http.get(app.url(&format!("{base}content/sco/..%2f..%2fimsmanifest.xml"))).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // Chromium plays it.
    let dom = browser::dump_dom(&player, Duration::from_secs(10)).await.expect("chromium runs");
    let seen = dom.split("data-sco=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_else(|| panic!("{dom}"));
    let seen: Vec<&str> = seen.split('|').collect();
    assert_eq!(
        seen,
        [
            "init=true",
            &format!("name={alice}"),
            "entry=ab-initio",
            "status=not attempted",
            "mastery=80",
            "errors=403,404,405,202,201,402,405",
            "string403=Element is read only",
            "sets=true,true,true,true,true,true,true,true,true,true,true,true,true,true",
            "count=1",
            "commit=true",
            "finish=true",
            "after=301",
        ]
    );

    // The server holds what the SCO committed, and the LMS's part: 85 ≥ 80 passed it,
    // the session time added up, the attempt ended.
    let (_, attempts) =
        app.get(&format!("/api/v1/delivery/sessions/{session}/lessons/{lesson}/attempts"), &alice_t).await;
    let a = &attempts[0];
    assert_eq!(
        (a["state"].as_str(), a["completed"].as_bool(), a["success"].as_bool()),
        (Some("ended"), Some(true), Some(true))
    );
    assert_eq!(a["cmi"]["cmi.core.lesson_status"], "passed");
    assert_eq!(a["cmi"]["cmi.core.lesson_location"], "page-3");
    assert_eq!(a["cmi"]["cmi.suspend_data"], "errors:403,404,405,202,201,402,405");
    assert_eq!(a["cmi"]["cmi.core.total_time"], "0000:00:42.00");
    let score: Vec<Option<f64>> = ["raw", "min", "max", "scaled"].iter().map(|k| a["score"][k].as_f64()).collect();
    assert_eq!(score, [Some(85.0), Some(0.0), Some(100.0), Some(0.85)], "{a}");
    assert_eq!(a["total_time"], "PT0H0M42S");

    // The lesson completed in the session (the text lesson was never opened: 50%).
    let (_, s) = app.get(&format!("/api/v1/delivery/sessions/{session}"), &alice_t).await;
    assert_eq!(s["outline"][1]["lessons"][0]["completed"], true, "{s}");
    assert_eq!(s["progress"]["percent"], 50);

    // The LRS holds the SCORM profile's statements, asserted by the player.
    let held = poll("the LRS holds the runtime's statements", Duration::from_secs(20), || async {
        let s = app.statements_of(&alice_t, &session).await;
        (s.len() >= 8).then_some(s)
    })
    .await;
    let verbs: Vec<&str> = held.iter().map(|s| s["verb"]["id"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(
        verbs,
        ["launched", "initialized", "scored", "completed", "responded", "passed", "terminated", "progressed"]
    );
    let sco = held[1]["object"]["id"].as_str().unwrap();
    assert!(sco.ends_with(&format!("/courses/{course}/lessons/{lesson}")), "{sco}");
    for s in &held[1..7] {
        let ctx = &s["context"]["contextActivities"];
        assert_eq!(ctx["category"][0]["id"], "https://w3id.org/xapi/scorm", "{s}");
        assert_eq!(ctx["grouping"][1]["id"], format!("{sco}?attemptId={}", a["id"].as_str().unwrap()).as_str());
        assert_eq!(s["authority"]["account"]["name"], "mirai-player");
    }
    assert_eq!(held[2]["result"]["score"]["raw"].as_f64(), Some(85.0));
    let responded = &held[4];
    assert_eq!(responded["object"]["id"], format!("{sco}/interactions/q1").as_str());
    assert_eq!(responded["object"]["definition"]["interactionType"], "choice");
    assert_eq!(responded["object"]["definition"]["correctResponsesPattern"], json!(["b"]));
    assert_eq!(
        (responded["result"]["response"].as_str(), responded["result"]["success"].as_bool()),
        (Some("b"), Some(true))
    );
    assert_eq!(responded["result"]["duration"], "PT0H0M5S");
    assert_eq!(responded["context"]["contextActivities"]["parent"][0]["id"], sco);
    assert_eq!(
        (held[5]["result"]["success"].as_bool(), held[5]["result"]["score"]["scaled"].as_f64()),
        (Some(true), Some(0.85))
    );
    assert_eq!(held[6]["result"]["duration"], "PT0H0M42S");

    // After a normal exit the next launch is a new attempt; the ended one's page takes no
    // more commits.
    let (s, second) = app.post(&runtime, Some(&alice_t), json!({})).await;
    assert_eq!((s.as_u16(), second["attempt"]["number"].as_i64()), (201, Some(2)), "{second}");
    assert_eq!(second["attempt"]["cmi"]["cmi.core.entry"], "ab-initio");
    let stale = json!({ "seq": 9, "event": "commit", "values": [] });
    assert_problem(&app.post(&format!("{base}commit"), None, stale).await, 409, "runtime-terminated");
    let commit = second["player_url"].as_str().unwrap().strip_prefix(&app.url).unwrap().replace("/player", "/commit");

    // A commit applies once: its retry is answered the same and records nothing more.
    let body = json!({ "seq": 1, "event": "initialize", "values": [["cmi.core.lesson_location", "p1"]] });
    let (s, first) = app.post(&commit, None, body.clone()).await;
    assert_eq!((s.as_u16(), first["seq"].as_i64()), (200, Some(1)), "{first}");
    let (s, again) = app.post(&commit, None, body).await;
    assert_eq!((s.as_u16(), &again), (200, &first));
    // The same number with other values is not a retry: refused, not silently dropped.
    let other = json!({ "seq": 1, "event": "commit", "values": [["cmi.core.lesson_location", "p9"]] });
    assert_problem(&app.post(&commit, None, other).await, 409, "commit-conflict");
    // A forged value is refused with the data model's code, and nothing of it kept.
    let forged = json!({ "seq": 2, "event": "commit", "values": [["cmi.core.lesson_location", "p2"], ["cmi.core.student_id", "bob"]] });
    let res = app.post(&commit, None, forged).await;
    assert_problem(&res, 422, "scorm-value-refused");
    assert!(res.1["detail"].as_str().unwrap().contains("error 403"), "{}", res.1);
    // Suspended, then resumed: same attempt, its data, `resume`.
    let suspend = json!({ "seq": 2, "event": "terminate", "values": [["cmi.suspend_data", "page=7"], ["cmi.core.exit", "suspend"],
        ["cmi.core.session_time", "00:01:00"]] });
    assert_eq!(app.post(&commit, None, suspend).await.0, 200);
    let after = json!({ "seq": 3, "event": "commit", "values": [] });
    assert_problem(&app.post(&commit, None, after).await, 409, "runtime-terminated");
    let (s, resumed) = app.post(&runtime, Some(&alice_t), json!({})).await;
    assert_eq!((s.as_u16(), resumed["attempt"]["number"].as_i64()), (200, Some(2)), "{resumed}");
    let cmi = &resumed["attempt"]["cmi"];
    assert_eq!((cmi["cmi.core.entry"].as_str(), cmi["cmi.suspend_data"].as_str()), (Some("resume"), Some("page=7")));
    assert_eq!(cmi["cmi.core.lesson_location"], "p1");
    assert_eq!(cmi["cmi.core.total_time"], "0000:01:00.00");
    assert!(cmi.get("cmi.core.exit").is_none());
    // The launch replaced the suspended page's address: it finds nothing now.
    let stale = json!({ "seq": 3, "event": "commit", "values": [] });
    assert_problem(&app.post(&commit, None, stale).await, 404, "not-found");

    // A page closed without LMSFinish (its suspend committed): the next launch ends that
    // runtime session as LMSFinish would, so the time counts and the suspend holds.
    let page = |l: &serde_json::Value| {
        l["player_url"].as_str().unwrap().strip_prefix(&app.url).unwrap().replace("/player", "/commit")
    };
    let closed = json!({ "seq": 3, "event": "initialize", "values": [["cmi.core.exit", "suspend"], ["cmi.core.session_time", "00:00:30"]] });
    assert_eq!(app.post(&page(&resumed), None, closed).await.0, 200);
    let (s, again) = app.post(&runtime, Some(&alice_t), json!({})).await;
    assert_eq!((s.as_u16(), again["attempt"]["number"].as_i64()), (200, Some(2)), "{again}");
    let cmi = &again["attempt"]["cmi"];
    assert_eq!(
        (cmi["cmi.core.entry"].as_str(), cmi["cmi.core.total_time"].as_str()),
        (Some("resume"), Some("0000:01:30.00"))
    );
    // SCORM 1.2 left incomplete without suspend: the same attempt is re-entered (`entry`
    // empty), its data kept; a new one begins only once one is decided.
    let incomplete = json!({ "seq": 5, "event": "terminate", "values": [["cmi.core.lesson_status", "incomplete"], ["cmi.core.exit", ""]] });
    let (s, body) = app.post(&page(&again), None, incomplete).await;
    assert_eq!(s, 200, "{body}");
    let (s, reentered) = app.post(&runtime, Some(&alice_t), json!({})).await;
    assert_eq!((s.as_u16(), reentered["attempt"]["number"].as_i64()), (200, Some(2)), "{reentered}");
    let cmi = &reentered["attempt"]["cmi"];
    assert_eq!((cmi["cmi.core.entry"].as_str(), cmi["cmi.suspend_data"].as_str()), (Some(""), Some("page=7")));

    // Taken offline, the bundle carries the package's files, indexed in course.json.
    let opened = super::offline_bundle(&app, &alice_t, &session).await;
    let course_json: serde_json::Value = serde_json::from_slice(opened.file("course.json").unwrap()).unwrap();
    let package = course_json["packages"].as_object().and_then(|p| p.values().next()).unwrap().clone();
    assert_eq!(package["standard"], "scorm_1.2", "{course_json}");
    let root = package["root"].as_str().unwrap();
    assert_eq!(opened.file(&format!("{root}sco/quiz.js")), Some(QUIZ.as_bytes()));
    assert_eq!(package["items"][0]["launch"], "sco/index.html");

    // A token with another tenant's id in it finds nothing.
    let token = reentered["player_url"].as_str().unwrap().rsplit('/').nth(1).unwrap().to_owned();
    let swapped = format!("{}{}", Uuid::now_v7().simple(), &token[32..]);
    let res = app.call(Method::GET, &format!("/api/v1/delivery/runtime/{swapped}/player"), None, None).await;
    assert_problem(&res, 404, "not-found");
}

const MANIFEST2004: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="com.example.exposure.2004" version="1"
  xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
  xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3" xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="ORG">
    <organization identifier="ORG">
      <title>Photo basics</title>
      <item identifier="exposure" identifierref="R_EXPOSURE">
        <title>Exposure</title>
        <imsss:sequencing>
          <imsss:objectives>
            <imsss:primaryObjective objectiveID="exposure" satisfiedByMeasure="true">
              <imsss:minNormalizedMeasure>0.75</imsss:minNormalizedMeasure>
            </imsss:primaryObjective>
          </imsss:objectives>
        </imsss:sequencing>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="R_EXPOSURE" type="webcontent" adlcp:scormType="sco" href="exposure/index.html">
      <file href="exposure/index.html"/>
    </resource>
  </resources>
</manifest>"#;

/// A SCORM 2004 SCO: the standard's API discovery (RTE 3.3.6.1: parents, then the
/// opener's), the 2004 error codes before, during and after the session, an interaction
/// with its dependencies, a scaled score the LMS judges against 0.75, suspend and exit.
const SCO2004: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Exposure</title><script>
function scan(win) { var n = 0; while (win.API_1484_11 == null && win.parent != null && win.parent != win && n++ < 500) win = win.parent; return win.API_1484_11; }
function find() { var a = scan(window); if (a == null && window.opener != null) a = scan(window.opener); return a; }
window.onload = function () {
  var api = find(), seen = [], codes = [];
  function code() { return api.GetLastError(); }
  if (!api) { parent.document.body.setAttribute("data-sco", "no API"); return; }
  api.GetValue("cmi.location"); codes.push(code());
  seen.push("init=" + api.Initialize(""));
  api.Initialize(""); codes.push(code());
  seen.push("version=" + api.GetValue("cmi._version"));
  seen.push("entry=" + api.GetValue("cmi.entry"));
  seen.push("passing=" + api.GetValue("cmi.scaled_passing_score"));
  api.GetValue("cmi.location"); codes.push(code());
  api.GetValue("cmi.session_time"); codes.push(code());
  api.SetValue("cmi.learner_id", "x"); codes.push(code());
  api.SetValue("cmi.score.scaled", "1.5"); codes.push(code());
  api.SetValue("cmi.completion_status", "finished"); codes.push(code());
  api.SetValue("cmi.interactions.0.type", "numeric"); codes.push(code());
  api.SetValue("cmi.interactions.1.id", "q2"); codes.push(code());
  api.GetValue("cmi.interactions.0.id"); codes.push(code());
  api.SetValue("cmi.bogus", "1"); codes.push(code());
  seen.push("codes=" + codes.join(","));
  var sets = [
    api.SetValue("cmi.interactions.0.id", "urn:example:f-stop"),
    api.SetValue("cmi.interactions.0.type", "numeric"),
    api.SetValue("cmi.interactions.0.correct_responses.0.pattern", "8[:]11"),
    api.SetValue("cmi.interactions.0.learner_response", "8"),
    api.SetValue("cmi.interactions.0.result", "correct"),
    api.SetValue("cmi.interactions.0.latency", "PT12S"),
    api.SetValue("cmi.location", "slide-9"),
    api.SetValue("cmi.progress_measure", "1"),
    api.SetValue("cmi.completion_status", "completed"),
    api.SetValue("cmi.score.scaled", "0.8"),
    api.SetValue("cmi.score.raw", "8"),
    api.SetValue("cmi.score.min", "0"),
    api.SetValue("cmi.score.max", "10"),
    api.SetValue("cmi.suspend_data", "{\"slide\":9}"),
    api.SetValue("cmi.session_time", "PT2M30S"),
    api.SetValue("cmi.exit", "normal")
  ];
  seen.push("sets=" + sets.join(","));
  seen.push("success=" + api.GetValue("cmi.success_status"));
  seen.push("commit=" + api.Commit(""));
  seen.push("terminate=" + api.Terminate(""));
  api.GetValue("cmi.location"); seen.push("after=" + code());
  api.Terminate(""); seen.push("again=" + code());
  parent.document.body.setAttribute("data-sco", seen.join("|"));
};
</script></head><body><h1>Exposure</h1><p>Aperture, shutter speed and ISO.</p></body></html>"#;

fn package2004() -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    for (name, body) in [("imsmanifest.xml", MANIFEST2004), ("exposure/index.html", SCO2004)] {
        z.start_file(name, o).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_scorm2004_sco_gets_the_2004_error_codes_and_the_lms_judges_its_scaled_score() {
    let app = spawn().await;
    let org = app.create_tenant("org", "Acme").await;
    let alice = Uuid::now_v7();
    app.add_member(org, alice, &["learner"], None).await;
    let course = app.licensed_package_course(org, 5, package2004()).await;
    app.enrolled(org, alice, &course).await;
    let alice_t = app.user_token(org, alice, &[Role::Learner]);
    let (session, lesson) = session_and_package_lesson(&app, &alice_t, &course).await;
    let runtime = format!("/api/v1/delivery/sessions/{session}/lessons/{lesson}/runtime");
    let launched = poll("the player knows the package", Duration::from_secs(20), || async {
        let (s, b) = app.post(&runtime, Some(&alice_t), json!({})).await;
        (s == 201).then_some(b)
    })
    .await;
    assert_eq!(launched["attempt"]["standard"], "scorm_2004");

    let dom = browser::dump_dom(launched["player_url"].as_str().unwrap(), Duration::from_secs(10))
        .await
        .expect("chromium runs");
    let seen = dom.split("data-sco=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_else(|| panic!("{dom}"));
    let seen: Vec<&str> = seen.split('|').collect();
    assert_eq!(
        seen,
        [
            "init=true",
            "version=1.0",
            "entry=ab-initio",
            "passing=0.75",
            // Get before Initialize 122, Initialize twice 103, never set 403, write-only
            // 405, read-only 404, out of range 407, wrong type 406, a field before the
            // record's id 408, a record out of order 351, past _count 301, undefined 401.
            "codes=122,103,403,405,404,407,406,408,351,301,401",
            "sets=true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true",
            "success=passed",
            "commit=true",
            "terminate=true",
            "after=123",
            "again=113",
        ]
    );
    let (_, attempts) =
        app.get(&format!("/api/v1/delivery/sessions/{session}/lessons/{lesson}/attempts"), &alice_t).await;
    let a = &attempts[0];
    assert_eq!(
        (a["state"].as_str(), a["completed"].as_bool(), a["success"].as_bool()),
        (Some("ended"), Some(true), Some(true))
    );
    assert_eq!(
        (a["cmi"]["cmi.success_status"].as_str(), a["cmi"]["cmi.total_time"].as_str()),
        (Some("passed"), Some("PT0H2M30S"))
    );
    assert_eq!(a["score"]["scaled"].as_f64(), Some(0.8));

    let held = poll("the LRS holds the runtime's statements", Duration::from_secs(20), || async {
        let s = app.statements_of(&alice_t, &session).await;
        (s.len() >= 8).then_some(s)
    })
    .await;
    let verbs: Vec<&str> = held.iter().map(|s| s["verb"]["id"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    // 2004 has its verdict before Terminate: the lesson completes with the commit.
    assert_eq!(
        verbs,
        ["launched", "initialized", "scored", "completed", "passed", "responded", "progressed", "terminated"]
    );
    let responded = &held[5];
    assert_eq!(responded["object"]["id"].as_str().unwrap().rsplit('/').next(), Some("urn%3Aexample%3Af-stop"));
    assert_eq!(responded["object"]["definition"]["correctResponsesPattern"], json!(["8[:]11"]));
    assert_eq!(held[7]["result"]["duration"], "PT0H2M30S");
}
