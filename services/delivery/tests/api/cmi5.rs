//! cmi5 with a real AU in headless Chromium: launched with cmi5's five parameters, it
//! fetches its auth token (once), reads LMS.LaunchData and the learner's preferences,
//! sends initialized, passed, completed and terminated to the endpoint delivery serves;
//! a breach of cmi5's rules is refused 403; moveOn satisfies the AU, its block and the
//! course, completing the lessons; the LRS holds every statement. Then what the browser
//! does not show: a retry applied once, LaunchData the AU cannot write, an AU session
//! left open abandoned by the next launch, and tokens that open nothing else.

use std::{io::Write, time::Duration};

use base64::Engine;
use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, browser, poll};
use serde_json::{Value, json};
use uuid::Uuid;

use super::runtime::spawn;

const STRUCTURE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://example.com/knots">
    <title><langstring lang="en-US">Knots</langstring></title>
    <description><langstring lang="en-US">Tie them.</langstring></description>
  </course>
  <block id="https://example.com/knots/basics">
    <title><langstring lang="en-US">Basics</langstring></title>
    <au id="https://example.com/knots/intro" moveOn="NotApplicable">
      <title><langstring lang="en-US">Why knots</langstring></title>
      <url>intro.html</url>
    </au>
    <au id="https://example.com/knots/square" moveOn="CompletedAndPassed" masteryScore="0.8">
      <title><langstring lang="en-US">Square knot</langstring></title>
      <url>au/index.html?paramA=1</url>
      <launchParameters>{"level":2}</launchParameters>
      <entitlementKey>knots-2026</entitlementKey>
    </au>
  </block>
</courseStructure>"#;

/// The AU, as cmi5 AUs are written (synchronous requests, so the DOM dumped holds the
/// outcome): what it saw goes to an attribute of its body for the test to read.
const AU_JS: &str = r#"(function () {
  var q = {};
  location.search.slice(1).split("&").forEach(function (p) {
    var kv = p.split("=");
    q[decodeURIComponent(kv[0])] = decodeURIComponent((kv[1] || "").replace(/\+/g, " "));
  });
  var seen = ["paramA=" + q.paramA];
  function req(method, url, body, auth) {
    var x = new XMLHttpRequest();
    x.open(method, url, false);
    x.setRequestHeader("X-Experience-API-Version", "1.0.3");
    if (auth) { x.setRequestHeader("Authorization", "Basic " + auth); }
    if (body !== undefined) { x.setRequestHeader("Content-Type", "application/json"); }
    x.send(body === undefined ? null : JSON.stringify(body));
    return x;
  }
  var f = req("POST", q.fetch);
  var token = JSON.parse(f.responseText)["auth-token"];
  seen.push("fetch=" + f.status + (token ? ":token" : ""));
  var again = req("POST", q.fetch);
  seen.push("again=" + again.status + ":" + JSON.parse(again.responseText)["error-code"]);
  var actor = JSON.parse(q.actor);
  var agent = encodeURIComponent(q.actor);
  var ld = req("GET", q.endpoint + "/activities/state?stateId=LMS.LaunchData&activityId=" +
    encodeURIComponent(q.activityId) + "&agent=" + agent + "&registration=" + q.registration, undefined, token);
  var data = JSON.parse(ld.responseText);
  seen.push("launchdata=" + ld.status + ":" + data.launchMode + ":" + data.moveOn + ":" + data.masteryScore + ":" +
    data.launchParameters + ":" + data.entitlementKey.courseStructure);
  var cat = "https://w3id.org/xapi/cmi5/context/categories/";
  function st(verb, result, moveon) {
    var ctx = JSON.parse(JSON.stringify(data.contextTemplate));
    ctx.registration = q.registration;
    ctx.contextActivities.category = [{ id: cat + "cmi5" }];
    if (moveon) { ctx.contextActivities.category.push({ id: cat + "moveon" }); }
    if (result && result.score) { ctx.extensions["https://w3id.org/xapi/cmi5/context/extensions/masteryscore"] = data.masteryScore; }
    var s = { id: crypto.randomUUID(), actor: actor, verb: { id: "http://adlnet.gov/expapi/verbs/" + verb },
      object: { id: q.activityId, objectType: "Activity" }, context: ctx, timestamp: new Date().toISOString() };
    if (result) { s.result = result; }
    return s;
  }
  function send(s) { return req("POST", q.endpoint + "/statements", s, token).status; }
  seen.push("before-preferences=" + send(st("initialized")));
  var prefs = req("GET", q.endpoint + "/agents/profile?profileId=cmi5LearnerPreferences&agent=" + agent, undefined, token);
  seen.push("preferences=" + prefs.status);
  seen.push("initialized=" + send(st("initialized")));
  seen.push("completed-without-moveon=" + send(st("completed", { completion: true, duration: "PT1S" }, false)));
  seen.push("passed-below-mastery=" + send(st("passed", { success: true, duration: "PT9S", score: { scaled: 0.5 } }, true)));
  seen.push("passed=" + send(st("passed", { success: true, duration: "PT20S", score: { scaled: 0.9 } }, true)));
  seen.push("completed=" + send(st("completed", { completion: true, duration: "PT21S" }, true)));
  seen.push("terminated=" + send(st("terminated", { duration: "PT22S" })));
  seen.push("after=" + send(st("terminated", { duration: "PT23S" })));
  document.body.setAttribute("data-au", seen.join("|"));
})();
"#;

fn package() -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    for (name, body) in [
        ("cmi5.xml", STRUCTURE),
        ("intro.html", "<!DOCTYPE html><html><body>Why knots.</body></html>"),
        (
            "au/index.html",
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><h1>Square knot</h1><script src=\"au.js\"></script></body></html>",
        ),
        ("au/au.js", AU_JS),
    ] {
        z.start_file(name, o).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn lesson_titled(session: &Value, title: &str) -> String {
    session["outline"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["lessons"].as_array().unwrap())
        .find(|l| l["title"] == title)
        .and_then(|l| l["lesson_id"].as_str())
        .unwrap_or_else(|| panic!("no lesson `{title}` in {session}"))
        .to_owned()
}

/// An xAPI request of an AU session.
async fn xapi(
    app: &TestApp,
    method: reqwest::Method,
    path_and_query: &str,
    auth: &str,
    body: Option<Value>,
) -> (reqwest::StatusCode, Value) {
    let mut r = app
        .http
        .request(method, app.url(&format!("/api/v1/delivery/cmi5/xapi{path_and_query}")))
        .header("authorization", format!("Basic {auth}"))
        .header("x-experience-api-version", "1.0.3");
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Fetches a launch's auth token.
async fn token_of(app: &TestApp, launched: &Value) -> String {
    let url = launched["player_url"].as_str().unwrap();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(url.split_once('?').unwrap().1).unwrap();
    let fetch = query.into_iter().find(|(k, _)| k == "fetch").unwrap().1;
    let res: Value = app.http.post(fetch).send().await.unwrap().json().await.unwrap();
    res["auth-token"].as_str().unwrap_or_else(|| panic!("{res}")).to_owned()
}

#[tokio::test]
async fn a_cmi5_au_plays_in_chromium_under_cmi5s_rules_and_satisfies_its_block_and_course() {
    let app = spawn().await;
    let org = app.create_tenant("org", "Acme").await;
    let alice = Uuid::now_v7();
    app.add_member(org, alice, &["learner"], None).await;
    let course = app.licensed_package_course(org, 5, package()).await;
    app.enrolled(org, alice, &course).await;
    let token = app.user_token(org, alice, &[Role::Learner]);
    let launch = format!("/api/v1/delivery/courses/{course}/launch");
    let session = poll("the player knows the enrollment", Duration::from_secs(20), || async {
        let (s, b) = app.post(&launch, Some(&token), json!({})).await;
        (s == 201).then_some(b)
    })
    .await;
    let sid = session["id"].as_str().unwrap().to_owned();
    let square = lesson_titled(&session, "Square knot");
    let intro = lesson_titled(&session, "Why knots");
    let runtime = format!("/api/v1/delivery/sessions/{sid}/lessons/{square}/runtime");

    let launched = poll("the player knows the package", Duration::from_secs(20), || async {
        let (s, b) = app.post(&runtime, Some(&token), json!({})).await;
        (s == 201).then_some(b)
    })
    .await;
    let au = &launched["au"];
    assert_eq!(
        (au["publisher_id"].as_str(), au["move_on"].as_str(), au["launch_mode"].as_str()),
        (Some("https://example.com/knots/square"), Some("CompletedAndPassed"), Some("Normal")),
        "{launched}"
    );
    assert_eq!(launched["attempt"]["standard"], "cmi5");
    // The package's play has a registration of its own, apart from the player's.
    let reg = au["registration"].as_str().unwrap().to_owned();
    assert_ne!(reg, sid);
    let activity = app.url(&format!("/courses/{course}/lessons/{square}"));
    assert_eq!(au["activity_id"], activity.as_str());
    // The AU's URL keeps its own parameter and adds cmi5's five.
    let url = launched["player_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&app.url("/api/v1/delivery/runtime/")) && url.contains("/content/au/index.html?paramA=1&"),
        "{url}"
    );
    for p in ["endpoint=", "fetch=", "actor=", "registration=", "activityId="] {
        assert!(url.contains(&format!("&{p}")), "{p} in {url}");
    }
    // The NotApplicable AU was satisfied as the registration began: its lesson is done.
    let (_, s) = app.get(&format!("/api/v1/delivery/sessions/{sid}"), &token).await;
    let done = |s: &Value, id: &str| {
        s["outline"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["lessons"].as_array().unwrap())
            .any(|l| l["lesson_id"] == id && l["completed"] == true)
    };
    assert!(done(&s, &intro) && !done(&s, &square), "{s}");

    // Chromium plays the AU.
    let dom = browser::dump_dom(&url, Duration::from_secs(10)).await.expect("chromium runs");
    let seen = dom.split("data-au=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_else(|| panic!("{dom}"));
    let seen: Vec<&str> = seen.split('|').collect();
    assert_eq!(
        seen,
        [
            "paramA=1",
            "fetch=200:token",
            "again=200:1",
            "launchdata=200:Normal:CompletedAndPassed:0.8:{&quot;level&quot;:2}:knots-2026",
            "before-preferences=403",
            "preferences=404",
            "initialized=200",
            "completed-without-moveon=403",
            "passed-below-mastery=403",
            "passed=200",
            "completed=200",
            "terminated=200",
            "after=403",
        ]
    );

    // The AU is satisfied: its lesson completed, its session ended passed and complete.
    let (_, s) = app.get(&format!("/api/v1/delivery/sessions/{sid}"), &token).await;
    assert!(done(&s, &square), "{s}");
    let (_, attempts) = app.get(&format!("/api/v1/delivery/sessions/{sid}/lessons/{square}/attempts"), &token).await;
    let a = &attempts[0];
    assert_eq!(
        (a["state"].as_str(), a["completed"].as_bool(), a["success"].as_bool(), a["score"]["scaled"].as_f64()),
        (Some("ended"), Some(true), Some(true), Some(0.9)),
        "{attempts}"
    );

    // The LRS holds, in the cmi5 registration, the launch, the AU's statements and the
    // LMS's satisfied ones, in order, and nothing else (the player's progress is in the
    // session's).
    let cmi5 = poll("the LRS holds the AU's statements", Duration::from_secs(20), || async {
        let s = app.statements_of(&token, &reg).await;
        (s.iter().filter(|s| s["verb"]["id"].as_str().is_some_and(|v| v.ends_with("/terminated"))).count() == 1)
            .then_some(s)
    })
    .await;
    let progress = app.statements_of(&token, &sid).await;
    assert!(progress.iter().any(|s| s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/progressed"), "{progress:?}");
    let verbs: Vec<&str> = cmi5.iter().map(|s| s["verb"]["id"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(verbs, ["launched", "initialized", "passed", "completed", "satisfied", "satisfied", "terminated"]);
    let launched_st = &cmi5[0];
    let ext = &launched_st["context"]["extensions"];
    assert_eq!(ext["https://w3id.org/xapi/cmi5/context/extensions/launchmode"], "Normal");
    assert_eq!(ext["https://w3id.org/xapi/cmi5/context/extensions/moveon"], "CompletedAndPassed");
    assert_eq!(ext["https://w3id.org/xapi/cmi5/context/extensions/masteryscore"], 0.8);
    assert_eq!(launched_st["context"]["contextActivities"]["grouping"][0]["id"], "https://example.com/knots/square");
    assert_eq!(launched_st["object"]["id"], activity.as_str());
    let (block, whole) = (&cmi5[4], &cmi5[5]);
    assert_eq!(block["object"]["definition"]["type"], "https://w3id.org/xapi/cmi5/activitytype/block");
    assert_eq!(block["context"]["contextActivities"]["grouping"][0]["id"], "https://example.com/knots/basics");
    assert_eq!(whole["object"]["definition"]["type"], "https://w3id.org/xapi/cmi5/activitytype/course");
    assert_eq!(whole["context"]["contextActivities"]["grouping"][0]["id"], "https://example.com/knots");
    let session_id = launched["au"]["session_id"].as_str().unwrap();
    for s in &cmi5 {
        assert_eq!(s["context"]["registration"], reg.as_str());
        assert_eq!(s["context"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/sessionid"], session_id);
    }

    // A new launch: a new AU session, its own token. Left without terminating, the next
    // launch abandons it.
    let (s, second) = app.post(&runtime, Some(&token), json!({})).await;
    assert_eq!((s.as_u16(), second["attempt"]["number"].as_i64()), (201, Some(2)), "{second}");
    let auth = token_of(&app, &second).await;
    let agent = serde_json::to_string(&json!({ "objectType": "Agent",
        "account": { "homePage": app.url.trim_end_matches('/'), "name": alice.to_string() } }))
    .unwrap();
    let enc = |s: &str| serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_owned();
    let state_q = |id: &str| {
        format!("/activities/state?activityId={}&agent={}&registration={reg}&stateId={id}", enc(&activity), enc(&agent))
    };
    // LaunchData is the LMS's; the AU's own State documents are kept.
    let (s, data) = xapi(&app, reqwest::Method::GET, &state_q("LMS.LaunchData"), &auth, None).await;
    assert_eq!(s, 200);
    let second_session = second["au"]["session_id"].as_str().unwrap();
    assert_eq!(
        data["contextTemplate"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/sessionid"],
        second_session
    );
    assert_eq!(xapi(&app, reqwest::Method::PUT, &state_q("LMS.LaunchData"), &auth, Some(json!({}))).await.0, 403);
    assert_eq!(xapi(&app, reqwest::Method::DELETE, &state_q("LMS.LaunchData"), &auth, None).await.0, 403);
    assert_eq!(xapi(&app, reqwest::Method::PUT, &state_q("bookmark"), &auth, Some(json!({ "page": 3 }))).await.0, 204);
    assert_eq!(
        xapi(&app, reqwest::Method::POST, &state_q("bookmark"), &auth, Some(json!({ "knot": "reef" }))).await.0,
        204
    );
    let (s, doc) = xapi(&app, reqwest::Method::GET, &state_q("bookmark"), &auth, None).await;
    assert_eq!((s.as_u16(), doc), (200, json!({ "page": 3, "knot": "reef" })));
    // Another learner's documents are not this token's.
    let bob_agent = agent.replace(&alice.to_string(), &Uuid::now_v7().to_string());
    let other = format!("/activities/state?activityId={}&agent={}&stateId=bookmark", enc(&activity), enc(&bob_agent));
    assert_problem(&xapi(&app, reqwest::Method::GET, &other, &auth, None).await, 403, "cmi5-rule");
    // The preferences read, a statement is answered; its retry once more, applied once;
    // the same id with other content is a conflict.
    let profile = format!("/agents/profile?profileId=cmi5LearnerPreferences&agent={}", enc(&agent));
    assert_eq!(xapi(&app, reqwest::Method::GET, &profile, &auth, None).await.0, 404);
    assert_eq!(xapi(&app, reqwest::Method::PUT, &profile, &auth, Some(json!({}))).await.0, 403);
    let initialized = json!({ "id": Uuid::new_v4(), "actor": serde_json::from_str::<Value>(&agent).unwrap(),
        "verb": { "id": "http://adlnet.gov/expapi/verbs/initialized" }, "object": { "id": activity },
        "timestamp": "2026-12-02T10:00:00Z",
        "context": { "registration": reg, "contextActivities": { "grouping": [{ "id": "https://example.com/knots/square" }],
            "category": [{ "id": "https://w3id.org/xapi/cmi5/context/categories/cmi5" }] },
            "extensions": { "https://w3id.org/xapi/cmi5/context/extensions/sessionid": second_session } } });
    let (s, ids) = xapi(&app, reqwest::Method::POST, "/statements", &auth, Some(initialized.clone())).await;
    assert_eq!((s.as_u16(), ids.clone()), (200, json!([initialized["id"]])));
    let (s, again) = xapi(&app, reqwest::Method::POST, "/statements", &auth, Some(initialized.clone())).await;
    assert_eq!((s.as_u16(), again), (200, ids));
    let mut changed = initialized.clone();
    changed["timestamp"] = json!("2026-12-02T10:00:01Z");
    assert_eq!(xapi(&app, reqwest::Method::POST, "/statements", &auth, Some(changed)).await.0, 409);
    // The AU speaks of itself only: a `completed` of the course (which would count for
    // assignments) is refused.
    let mut course_claim = initialized.clone();
    course_claim["id"] = json!(Uuid::new_v4());
    course_claim["verb"] = json!({ "id": "http://adlnet.gov/expapi/verbs/completed" });
    course_claim["object"] = json!({ "id": app.url(&format!("/courses/{course}")) });
    course_claim["context"]["contextActivities"]["category"] = json!([]);
    let refused = xapi(&app, reqwest::Method::POST, "/statements", &auth, Some(course_claim)).await;
    assert_problem(&refused, 403, "cmi5-rule");
    // A non-object, or a NUL in a string: 400, never a 500.
    let put_number = format!("/statements?statementId={}", Uuid::new_v4());
    assert_eq!(xapi(&app, reqwest::Method::PUT, &put_number, &auth, Some(json!(1))).await.0, 400);
    let mut nul = initialized.clone();
    nul["id"] = json!(Uuid::new_v4());
    nul["verb"] = json!({ "id": "http://adlnet.gov/expapi/verbs/experienced", "display": { "en-US": "a\u{0}b" } });
    nul["context"]["contextActivities"]["category"] = json!([]);
    assert_eq!(xapi(&app, reqwest::Method::POST, "/statements", &auth, Some(nul)).await.0, 400);
    // An xAPI-invalid statement is a 400 (never accepted, so never lost downstream).
    let mut invalid = initialized.clone();
    invalid["id"] = json!(Uuid::new_v4());
    invalid["verb"] =
        json!({ "id": "http://adlnet.gov/expapi/verbs/experienced", "display": { "not a language": "x" } });
    invalid["context"]["contextActivities"]["category"] = json!([]);
    assert_eq!(xapi(&app, reqwest::Method::POST, "/statements", &auth, Some(invalid)).await.0, 400);
    // No token, a forged one, or another tenant's prefix on this one: 401.
    assert_eq!(xapi(&app, reqwest::Method::POST, "/statements", "bm9wZQ==", Some(initialized.clone())).await.0, 401);
    let raw = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(&auth).unwrap()).unwrap();
    let other_tenant = app.create_tenant("org", "Globex").await;
    let swapped = format!(":{}{}", other_tenant.simple(), &raw[33..]);
    let swapped = base64::engine::general_purpose::STANDARD.encode(swapped);
    assert_eq!(xapi(&app, reqwest::Method::POST, "/statements", &swapped, Some(initialized.clone())).await.0, 401);

    // The next launch abandons the session left open; its token opens nothing now.
    let (s, third) = app.post(&runtime, Some(&token), json!({})).await;
    assert_eq!((s.as_u16(), third["attempt"]["number"].as_i64()), (201, Some(3)));
    let mut next = initialized.clone();
    next["id"] = json!(Uuid::new_v4());
    assert_problem(&xapi(&app, reqwest::Method::POST, "/statements", &auth, Some(next)).await, 403, "cmi5-rule");
    let abandoned = poll("the LRS holds the abandoned session", Duration::from_secs(20), || async {
        app.statements_of(&token, &reg)
            .await
            .into_iter()
            .find(|s| s["verb"]["id"] == "https://w3id.org/xapi/adl/verbs/abandoned")
    })
    .await;
    assert_eq!(
        abandoned["context"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/sessionid"],
        second_session
    );
    assert!(abandoned["result"]["duration"].as_str().is_some_and(|d| d.starts_with("PT")), "{abandoned}");
}
