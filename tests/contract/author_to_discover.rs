//! The provider's value stream end to end, on the whole fleet: an author writes a course
//! of two lessons, uploads its image through a signed URL, imports a SCORM 1.2 package as
//! its third lesson and publishes; the course is then in the catalog and found by a word
//! of its body text — and another tenant finds it only once it is public. Every service
//! learns what it needs from events only.

use std::{io::Write, time::Duration};

use mirai_kit::Role;
use mirai_testkit::{TestApp, poll};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// A word that appears only in the course's body text.
const BODY_WORD: &str = "quasarfrost";

/// A one-lesson SCORM 1.2 package.
pub fn scorm12_package() -> Vec<u8> {
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="evacuation-drill" version="1" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="org"><organization identifier="org"><title>Evacuation drill</title>
    <item identifier="drill" identifierref="drill_res"><title>Run the drill</title><adlcp:masteryscore>70</adlcp:masteryscore></item>
  </organization></organizations>
  <resources><resource identifier="drill_res" type="webcontent" adlcp:scormtype="sco" href="drill/index.html">
    <file href="drill/index.html"/></resource></resources>
</manifest>"#;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    z.start_file("imsmanifest.xml", o).unwrap();
    z.write_all(manifest.as_bytes()).unwrap();
    z.start_file("drill/index.html", o).unwrap();
    z.write_all(b"<html><body>Walk, do not run.</body></html>").unwrap();
    z.finish().unwrap().into_inner()
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(m) = if_match {
        req = req.header("if-match", m);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn search_hits(v: &Value, course: &str) -> usize {
    v["hits"].as_array().map_or(0, |h| h.iter().filter(|h| h["course_id"] == course).count())
}

#[tokio::test]
async fn a_course_authored_with_media_and_a_scorm_lesson_is_published_and_found() {
    let app = crate::spawn_fleet().await;
    let provider = Uuid::now_v7();
    let author = app.token(Some(provider), &[Role::Author]);
    let publisher = app.token(Some(provider), &[Role::ProviderAdmin]);
    let learner = app.token(Some(provider), &[Role::Learner]);
    let other = app.token(Some(Uuid::now_v7()), &[Role::Learner, Role::OrgAdmin]);

    // 1. The image, through a signed URL.
    let png = [b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".as_slice(), &[3u8; 4000]].concat();
    let (s, upload) = send(
        &app,
        Method::POST,
        "/api/v1/media/uploads",
        &author,
        None,
        Some(json!({ "filename": "exits.png", "content_type": "image/png", "size": png.len() })),
    )
    .await;
    assert_eq!(s, 201, "{upload}");
    let asset = upload["asset"]["id"].as_str().unwrap().to_owned();
    let put = app.http.put(upload["upload"]["url"].as_str().unwrap()).header("content-type", "image/png").body(png);
    assert_eq!(put.send().await.unwrap().status(), 200);
    let (s, ready) =
        send(&app, Method::POST, &format!("/api/v1/media/assets/{asset}/complete"), &author, None, None).await;
    assert_eq!((s, ready["status"].as_str()), (200, Some("ready")), "{ready}");

    // 2. The course: two lessons, text and the image.
    let course = json!({ "title": "Leaving the building", "summary": "What to do when the alarm sounds.",
        "locale": "en", "tags": ["safety"], "visibility": "tenant", "modules": [{ "title": "Before", "lessons": [
            { "title": "Exits", "blocks": [
                { "kind": "text", "content": { "markdown": format!("Every floor has two exits; the {BODY_WORD} stairwell is the second.") } },
                { "kind": "image", "content": { "media_id": asset, "alt": "Floor plan with both exits" } }] },
            { "title": "Alarms", "blocks": [{ "kind": "callout", "content": { "tone": "warning", "markdown": "Never ignore an alarm." } }] }] }] });
    let (s, c) = send(&app, Method::POST, "/api/v1/authoring/courses", &author, None, Some(course)).await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();

    // 3. The SCORM 1.2 package, as the third lesson.
    let res = app
        .http
        .post(app.url(&format!("/api/v1/content/packages?course_id={id}")))
        .bearer_auth(&author)
        .header("content-type", "application/zip")
        .body(scorm12_package())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let package: Value = res.json().await.unwrap();
    let draft = poll("authoring to add the package's lesson", Duration::from_secs(15), || async {
        let (_, v) = send(&app, Method::GET, &format!("/api/v1/authoring/courses/{id}"), &author, None, None).await;
        (v["revision"] == 2).then_some(v)
    })
    .await;
    let lessons: Vec<&Value> =
        draft["modules"].as_array().unwrap().iter().flat_map(|m| m["lessons"].as_array().unwrap()).collect();
    assert_eq!(lessons.len(), 3);
    assert_eq!(lessons[2]["title"], "Run the drill");
    assert_eq!(lessons[2]["blocks"][0]["content"]["package_id"], package["id"]);

    // 4. Published (once authoring knows the image is a ready asset of this tenant: an
    // event, milliseconds).
    poll("the course to publish", Duration::from_secs(15), || async {
        let path = format!("/api/v1/authoring/courses/{id}/publish");
        let (s, _) = send(&app, Method::POST, &path, &publisher, Some("\"2\""), None).await;
        (s == 201).then_some(())
    })
    .await;

    // 5. In the provider's catalog, and found by a word of its body text.
    let entry = poll("the catalog to list it", Duration::from_secs(15), || async {
        let (_, page) = send(&app, Method::GET, "/api/v1/catalog/courses", &learner, None, None).await;
        page["data"].as_array().and_then(|d| d.iter().find(|e| e["course_id"] == id.as_str()).cloned())
    })
    .await;
    assert_eq!(entry["lessons"], 3);
    let search = format!("/api/v1/search/search?q={BODY_WORD}");
    let found = poll("search to find it", Duration::from_secs(15), || async {
        let (_, r) = send(&app, Method::GET, &search, &learner, None, None).await;
        (search_hits(&r, &id) > 0).then_some(r)
    })
    .await;
    assert!(found.to_string().contains("<mark>"), "highlighted: {found}");
    // The media service knows the published version shows the image: it stays.
    let (s, _) = send(&app, Method::GET, &format!("/api/v1/media/assets/{asset}"), &author, None, None).await;
    assert_eq!(s, 200);
    poll("media to learn the use", Duration::from_secs(10), || async {
        let (_, a) = send(&app, Method::GET, &format!("/api/v1/media/assets/{asset}"), &author, None, None).await;
        (a["used_by"].as_array().is_some_and(|u| !u.is_empty())).then_some(())
    })
    .await;
    let (s, _) = send(&app, Method::DELETE, &format!("/api/v1/media/assets/{asset}"), &author, None, None).await;
    assert_eq!(s, 409);

    // 6. Another tenant: not in its search nor its catalog while the course is the
    // provider's own ...
    let (_, r) = send(&app, Method::GET, &search, &other, None, None).await;
    assert_eq!(search_hits(&r, &id), 0, "{r}");
    let (_, page) = send(&app, Method::GET, "/api/v1/catalog/courses", &other, None, None).await;
    assert!(!page.to_string().contains(&id));
    // ... and found once it is public (version 2).
    let (_, cur) = send(&app, Method::GET, &format!("/api/v1/authoring/courses/{id}"), &author, None, None).await;
    // A metadata-only edit (no outline: the draft's stays).
    let public = json!({ "title": cur["title"], "summary": cur["summary"], "locale": cur["locale"], "tags": cur["tags"],
        "visibility": "public" });
    let rev = format!("\"{}\"", cur["revision"]);
    let (s, upd) =
        send(&app, Method::PUT, &format!("/api/v1/authoring/courses/{id}"), &publisher, Some(&rev), Some(public)).await;
    assert_eq!(s, 200, "{upd}");
    let rev = format!("\"{}\"", upd["revision"]);
    let (s, v2) =
        send(&app, Method::POST, &format!("/api/v1/authoring/courses/{id}/publish"), &publisher, Some(&rev), None)
            .await;
    assert_eq!((s, v2["version"].as_i64()), (201, Some(2)), "{v2}");
    poll("the other tenant to find the public course", Duration::from_secs(15), || async {
        let (_, r) = send(&app, Method::GET, &search, &other, None, None).await;
        (search_hits(&r, &id) > 0).then_some(())
    })
    .await;
    poll("the public catalog to list it", Duration::from_secs(15), || async {
        let (_, page) = send(&app, Method::GET, "/api/v1/catalog/courses?scope=public", &other, None, None).await;
        page.to_string().contains(&id).then_some(())
    })
    .await;
    app.stop().await;
}
