//! `mirai dev --demo`: the seed is idempotent and its credentials work.

use std::time::Duration;

use serde_json::{Value, json};

#[tokio::test]
async fn demo_seed_is_idempotent_and_its_credentials_work() {
    let app = crate::spawn_fleet().await;
    let dir = std::env::temp_dir().join(format!("mirai-demo-{}", uuid::Uuid::new_v4()));
    let path = dir.join("demo.json");
    mirai::demo::seed(app.fleet(), &path).await.unwrap();
    let first: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    mirai::demo::seed(app.fleet(), &path).await.unwrap();
    let second: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(first, second, "re-seeding changes nothing");
    assert_eq!(second["fleet_url"], app.url.as_str());
    let users = second["users"].as_array().unwrap();
    assert_eq!(users.len(), 7, "one user per role");
    let tenant = second["tenant_id"].as_str().unwrap();
    for u in users.iter().filter(|u| u["roles"][0] != "platform_admin") {
        let (s, login) = app
            .post(
                "/api/v1/identity/login",
                None,
                json!({ "email": u["email"], "password": u["password"], "tenant_id": tenant }),
            )
            .await;
        assert_eq!(s, 200, "{u}: {login}");
        assert_eq!(login["roles"], u["roles"]);
    }
    let key = second["api_key"].as_str().unwrap();
    let (s, me) = app.get("/api/v1/identity/me", key).await;
    assert_eq!(s, 200);
    assert_eq!(me["roles"], json!(["org_admin"]));
    assert_eq!(me["tenant_id"], tenant);
    // The LRS credentials work with HTTP Basic, as any xAPI client would use them.
    let lrs = &second["lrs"];
    assert_eq!(lrs["endpoint"], format!("{}/api/v1/lrs/xapi/", app.url));
    let res = app
        .http
        .post(format!("{}statements", lrs["endpoint"].as_str().unwrap()))
        .basic_auth(lrs["key"].as_str().unwrap(), lrs["secret"].as_str())
        .header("x-experience-api-version", "1.0.3")
        .json(&json!({ "actor": { "mbox": "mailto:demo@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" }, "object": { "id": "http://example.com/demo" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The demo course is published: the catalog lists it and search finds it by a word of
    // its body text, with its image and its imported SCORM lesson.
    let course = second["demo_course_id"].as_str().unwrap();
    assert_eq!(first["demo_course_id"], second["demo_course_id"]);
    let entry = mirai_testkit::poll("the catalog to list the demo course", Duration::from_secs(15), || async {
        let (_, page) = app.get("/api/v1/catalog/courses", key).await;
        page["data"].as_array().and_then(|d| d.iter().find(|e| e["course_id"] == course).cloned())
    })
    .await;
    assert_eq!(entry["lessons"], 3);
    assert_eq!(entry["version"], 1, "re-seeding does not publish again");
    mirai_testkit::poll("search to find the demo course", Duration::from_secs(15), || async {
        let (_, r) = app.get("/api/v1/search/search?q=cafeteria", key).await;
        r["hits"].as_array().is_some_and(|h| h.iter().any(|h| h["course_id"] == course)).then_some(())
    })
    .await;
    let (_, c) = app.get(&format!("/api/v1/authoring/courses/{course}"), key).await;
    let kinds: Vec<&str> = c["modules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["lessons"].as_array().unwrap())
        .flat_map(|l| l["blocks"].as_array().unwrap())
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["text", "text", "image", "package"]);

    // The value stream: Demo Academy's course bought, 5 seats, the learner on one, and
    // a webhook endpoint for the walkthrough's receiver.
    let m = &second["marketplace"];
    let (_, licenses) = app.get("/api/v1/marketplace/licenses", key).await;
    let license = &licenses["data"].as_array().unwrap().iter().find(|l| l["id"] == m["license_id"]).cloned().unwrap();
    assert_eq!((license["seats"].as_i64(), license["course_id"].clone()), (Some(5), m["course_id"].clone()));
    assert_eq!(license["provider_tenant_id"], m["provider_tenant_id"]);
    let (_, e) =
        app.get(&format!("/api/v1/enrollment/enrollments/{}", m["enrollment_id"].as_str().unwrap()), key).await;
    assert_eq!(e["status"], "active");
    let (_, eps) = app.get("/api/v1/notification/endpoints", key).await;
    assert_eq!(eps["data"].as_array().unwrap().len(), 1, "one endpoint however often seeded: {eps}");
    assert_eq!(eps["data"][0]["url"], mirai::demo::webhook_url().as_str());
    assert!(m["webhook"]["secret"].as_str().unwrap().starts_with("whsec_"));

    // The demo learner plays the bought course's SCORM 1.2 drill in headless Chromium: it
    // commits a score, the attempt passes, the lesson completes, the LRS holds it.
    let learner = users.iter().find(|u| u["roles"] == json!(["learner"])).unwrap();
    let (s, login) = app
        .post(
            "/api/v1/identity/login",
            None,
            json!({ "email": learner["email"], "password": learner["password"], "tenant_id": tenant }),
        )
        .await;
    assert_eq!(s, 200, "{login}");
    let token = login["access_token"].as_str().unwrap();
    let bought = m["course_id"].as_str().unwrap();
    let session = mirai_testkit::poll("the player knows the enrollment", Duration::from_secs(20), || async {
        let (s, b) = app.post(&format!("/api/v1/delivery/courses/{bought}/launch"), Some(token), json!({})).await;
        (s == 201 || s == 200).then_some(b)
    })
    .await;
    let sid = session["id"].as_str().unwrap();
    let drill = session["outline"][1]["lessons"][0]["lesson_id"].as_str().unwrap();
    let runtime = format!("/api/v1/delivery/sessions/{sid}/lessons/{drill}/runtime");
    let launched = mirai_testkit::poll("the player knows the drill", Duration::from_secs(20), || async {
        let (s, b) = app.post(&runtime, Some(token), json!({})).await;
        (s == 201).then_some(b)
    })
    .await;
    let player = launched["player_url"].as_str().unwrap();
    mirai_testkit::browser::dump_dom(player, Duration::from_secs(10)).await.expect("chromium plays the drill");
    let (_, attempts) = app.get(&format!("/api/v1/delivery/sessions/{sid}/lessons/{drill}/attempts"), token).await;
    let a = &attempts[0];
    assert_eq!((a["completed"].as_bool(), a["success"].as_bool()), (Some(true), Some(true)), "{a}");
    assert_eq!(a["score"]["raw"].as_f64(), Some(100.0));
    let (_, s) = app.get(&format!("/api/v1/delivery/sessions/{sid}"), token).await;
    assert_eq!(s["outline"][1]["lessons"][0]["completed"], true, "{s}");
    mirai_testkit::poll("the LRS holds the drill's statements", Duration::from_secs(20), || async {
        let res = app
            .http
            .get(app.url(&format!("/api/v1/lrs/xapi/statements?registration={sid}&limit=50")))
            .bearer_auth(token)
            .header("x-experience-api-version", "1.0.3")
            .send()
            .await
            .ok()?;
        let body: Value = res.json().await.ok()?;
        let verbs: Vec<String> = body["statements"]
            .as_array()?
            .iter()
            .filter_map(|s| s["verb"]["id"].as_str().map(|v| v.rsplit('/').next().unwrap_or_default().to_owned()))
            .collect();
        ["initialized", "scored", "passed", "responded"].iter().all(|v| verbs.iter().any(|x| x == v)).then_some(())
    })
    .await;
    std::fs::remove_dir_all(dir).unwrap();
    app.stop().await;
}
