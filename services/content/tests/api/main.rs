//! content's black-box tests: real-world package shapes in (multi-SCO, nested items,
//! dependencies, xml:base, parameters, SCORM 2004 sequencing, cmi5 blocks), every broken
//! shape refused with its reason and nothing stored, authoring turning an import into
//! draft lessons, and a published version out as SCORM 1.2 that imports again.

mod packages;

use std::{io::Write, time::Duration};

use futures::TryStreamExt;
use mirai_blobs::{Blobs, object_store::path::Path};
use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, poll};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

pub struct Content {
    pub app: TestApp,
    pub tenant: Uuid,
    pub author: String,
}

pub async fn spawn() -> Content {
    let app = TestApp::spawn(&[mirai_authoring::service(), mirai_content::service()]).await;
    let tenant = Uuid::now_v7();
    let author = app.token(Some(tenant), &[Role::Author, Role::ProviderAdmin]);
    Content { app, tenant, author }
}

/// A zip of `(name, bytes)` entries, deflated.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

impl Content {
    pub async fn import(&self, zip: Vec<u8>, course: Option<&str>) -> (StatusCode, Value) {
        let q = course.map(|c| format!("?course_id={c}")).unwrap_or_default();
        let res = self
            .app
            .http
            .post(self.app.url(&format!("/api/v1/content/packages{q}")))
            .bearer_auth(&self.author)
            .header("content-type", "application/zip")
            .body(zip)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The object keys stored under the tenant's packages.
    pub async fn stored(&self) -> Vec<String> {
        let blobs = Blobs::open(&self.app.fleet().services[0].config.blobs, "unused").unwrap();
        let prefix = Path::from(format!("tenants/{}/packages", self.tenant));
        let metas: Vec<_> = blobs.store().list(Some(&prefix)).try_collect().await.unwrap();
        let mut keys: Vec<String> = metas.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        keys
    }

    pub async fn course(&self, id: &str) -> Value {
        self.app.get(&format!("/api/v1/authoring/courses/{id}"), &self.author).await.1
    }
}

#[tokio::test]
async fn a_multi_sco_scorm_1_2_package_becomes_a_draft_course() {
    let c = spawn().await;
    let zip = packages::scorm12_golf();
    let (status, p) = c.import(zip.clone(), None).await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["standard"], "scorm_1.2");
    assert_eq!(p["title"], "Golf Explained");
    let groups = &p["manifest"]["groups"];
    // Nested items: the two top-level items with children are the modules; their
    // launchable descendants, in document order, the lessons.
    assert_eq!(groups.as_array().unwrap().len(), 2, "{groups}");
    assert_eq!(groups[0]["title"], "Playing the Game");
    let first = &groups[0]["items"];
    // xml:base of the manifest, the resources and the resource, then parameters.
    assert_eq!(first[0]["launch"], "content/playing/Playing.html?lesson=1");
    assert_eq!(first[0]["mastery_score"], 0.8);
    assert_eq!(first[1]["launch"], "content/playing/Par.html");
    assert_eq!(groups[1]["items"][0]["launch"], "content/etiquette/Course.html?part=2&x=1");
    assert_eq!(groups[1]["items"][0]["kind"], "sco");

    // The files are stored under the package's prefix, nothing else.
    let id = p["id"].as_str().unwrap();
    let stored = c.stored().await;
    assert!(stored.iter().all(|k| k.starts_with(&format!("tenants/{}/packages/{id}/", c.tenant))), "{stored:?}");
    assert!(stored.contains(&format!("tenants/{}/packages/{id}/content/playing/Playing.html", c.tenant)));
    assert_eq!(stored.len() as i64, p["files"].as_i64().unwrap());

    // Authoring makes a draft course of it, under the id the import announced.
    let course_id = p["course_id"].as_str().unwrap().to_owned();
    let course = poll("authoring to make the draft", Duration::from_secs(10), || async {
        let v = c.course(&course_id).await;
        (v["id"] == course_id.as_str()).then_some(v)
    })
    .await;
    assert_eq!(course["status"], "draft");
    assert_eq!(course["visibility"], "private");
    let lessons: Vec<&Value> =
        course["modules"].as_array().unwrap().iter().flat_map(|m| m["lessons"].as_array().unwrap()).collect();
    assert_eq!(lessons.len(), 3);
    assert_eq!(lessons[0]["blocks"][0]["kind"], "package");
    assert_eq!(lessons[0]["blocks"][0]["content"]["package_id"], id);
    assert_eq!(lessons[0]["blocks"][0]["content"]["item"], "playing_item");

    // The same bytes again: the same package, nothing new.
    let (status, again) = c.import(zip, None).await;
    assert_eq!((status.as_u16(), &again["id"]), (200, &p["id"]));
    // Another tenant sees none of it.
    let stranger = c.app.token(Some(Uuid::now_v7()), &[Role::Author]);
    let res = c.app.get(&format!("/api/v1/content/packages/{id}"), &stranger).await;
    assert_problem(&res, 404, "not-found");
    let (_, page) = c.app.get("/api/v1/content/packages", &stranger).await;
    assert_eq!(page["data"], json!([]));
}

#[tokio::test]
async fn scorm_2004_sequencing_and_cmi5_blocks_are_read() {
    let c = spawn().await;
    let (status, p) = c.import(packages::scorm2004(), None).await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["standard"], "scorm_2004");
    assert_eq!(p["manifest"]["schema_version"], "2004 4th Edition");
    assert_eq!(p["manifest"]["flow"], true);
    assert_eq!(p["manifest"]["choice"], false);
    assert_eq!(p["manifest"]["groups"][0]["items"][0]["mastery_score"], 0.75);
    assert_eq!(p["manifest"]["groups"][0]["items"][1]["kind"], "asset");

    let (status, p) = c.import(packages::cmi5(), None).await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["standard"], "cmi5");
    let groups = p["manifest"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(groups[1]["title"], "Advanced");
    assert_eq!(groups[1]["items"][0]["launch"], "au2/index.html?mode=full");
    assert_eq!(groups[1]["items"][0]["mastery_score"], 0.9);
    // What the AU's LMS needs: its moveOn, launch method and enclosing blocks, and the
    // course's IRI, in the answer and in the event delivery reads.
    assert_eq!(p["manifest"]["course_iri"], "https://example.com/courses/knots");
    assert_eq!(
        groups[1]["items"][0]["au"],
        json!({ "move_on": "Passed", "launch_method": "AnyWindow", "launch_parameters": null,
                "entitlement_key": null, "blocks": ["https://example.com/block/adv"] })
    );
    assert_eq!(groups[0]["items"][0]["au"]["move_on"], "Completed");
    let id = p["id"].as_str().unwrap().to_owned();
    let e = c
        .app
        .wait_for_event("content.package.imported.v1", std::time::Duration::from_secs(10), |e| {
            e.data["package_id"] == id
        })
        .await;
    assert_eq!(e.data["course_iri"], "https://example.com/courses/knots");
    assert_eq!(e.data["modules"][1]["lessons"][0]["au"]["blocks"], json!(["https://example.com/block/adv"]));
}

#[tokio::test]
async fn broken_and_hostile_packages_are_refused_with_the_reason_and_nothing_stored() {
    let c = spawn().await;
    for (what, zip, reason) in packages::broken() {
        let res = c.import(zip, None).await;
        assert_problem(&res, 422, "package-invalid");
        let detail = res.1["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "{what}: `{detail}` should say `{reason}`");
    }
    assert_eq!(c.stored().await, Vec::<String>::new());
    let res = c
        .app
        .http
        .post(c.app.url("/api/v1/content/packages"))
        .bearer_auth(&c.author)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let learner = c.app.token(Some(c.tenant), &[Role::Learner]);
    let res = c
        .app
        .http
        .post(c.app.url("/api/v1/content/packages"))
        .bearer_auth(&learner)
        .header("content-type", "application/zip")
        .body(packages::scorm12_golf())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn an_import_adds_lessons_to_a_draft_and_a_published_version_exports_as_scorm_1_2() {
    let c = spawn().await;
    let course = json!({ "title": "Fire safety", "summary": "Alarms & exits", "locale": "en", "tags": [], "visibility": "tenant",
        "modules": [{ "title": "Basics", "lessons": [
            { "title": "Exits", "blocks": [{ "kind": "text", "content": { "markdown": "Know <two> ways out." } }] },
            { "title": "Alarms", "blocks": [{ "kind": "code", "content": { "language": "sh", "source": "ring --loud" } }] }] }] });
    let (status, made) = c.app.post("/api/v1/authoring/courses", Some(&c.author), course).await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    let (status, p) = c.import(packages::scorm12_golf(), Some(&id)).await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["into_existing"], true);
    let course = poll("the package's lessons in the draft", Duration::from_secs(10), || async {
        let v = c.course(&id).await;
        (v["revision"] == 2).then_some(v)
    })
    .await;
    let modules = course["modules"].as_array().unwrap();
    assert_eq!(modules.len(), 3, "two modules of the package after the course's own");
    assert_eq!(modules[0]["lessons"][0]["title"], "Exits");
    assert_eq!(modules[1]["lessons"][0]["blocks"][0]["kind"], "package");
    let (_, history) = c.app.get(&format!("/api/v1/authoring/courses/{id}/history"), &c.author).await;
    assert!(history.to_string().contains("package_imported"), "{history}");

    let res = c
        .app
        .http
        .post(c.app.url(&format!("/api/v1/authoring/courses/{id}/publish")))
        .bearer_auth(&c.author)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let url = c.app.url(&format!("/api/v1/content/courses/{id}/versions/1/scorm12"));
    let zip = poll("content to learn the version", Duration::from_secs(10), || async {
        let res = c.app.http.get(&url).bearer_auth(&c.author).send().await.unwrap();
        if res.status() != 200 {
            return None;
        }
        assert_eq!(res.headers()["content-type"], "application/zip");
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains("fire-safety-v1-scorm12.zip"));
        Some(res.bytes().await.unwrap().to_vec())
    })
    .await;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.clone())).unwrap();
    let mut manifest = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("imsmanifest.xml").unwrap(), &mut manifest).unwrap();
    assert!(manifest.contains("<schemaversion>1.2</schemaversion>"), "{manifest}");
    assert!(manifest.contains("adlcp:scormtype=\"sco\""));
    let mut page = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("lessons/lesson-1.html").unwrap(), &mut page).unwrap();
    assert!(page.contains("Know &lt;two ways out."), "{page}");
    assert!(page.contains("scorm12.js"));

    // It imports as SCORM 1.2, lesson for lesson.
    let (status, back) = c.import(zip, None).await;
    assert_eq!(status, 201, "{back}");
    assert_eq!(back["standard"], "scorm_1.2");
    assert_eq!(back["title"], "Fire safety");
    let titles: Vec<&str> = back["manifest"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["items"].as_array().unwrap())
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Exits", "Alarms", "How to play", "Par", "Etiquette rules"]);
    // Another tenant cannot export it.
    let stranger = c.app.token(Some(Uuid::now_v7()), &[Role::Author]);
    let res = c.app.get(&format!("/api/v1/content/courses/{id}/versions/1/scorm12"), &stranger).await;
    assert_problem(&res, 404, "not-found");
}
