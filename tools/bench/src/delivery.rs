//! The player. **Launch**: 200 enrolled learners' first launches one after another (the
//! enrollment locked, a session written, its `launched` statement into the outbox), then
//! 200 resumes; beside bare Postgres doing the same transaction shape (lock a row, insert
//! a row, insert a ~1 KB jsonb row) on one connection. **Offline bundle**: building and
//! opening a bundle of a 50 MB course (`mirai_playpackage`), beside AES-256-GCM over the
//! same 50 MB alone. **SCORM commits**: 4 learners' SCOs committing at once (each commit
//! a location, 1 KB of suspend data, a score, an interaction and a session time: checked
//! against the data model, the attempt saved, its statements into the outbox), beside
//! bare Postgres doing the same transaction shape on 4 connections.

use std::time::{Duration, Instant};

use mirai_kit::Role;
use mirai_testkit::{TestApp, poll};
use serde_json::json;
use uuid::Uuid;

use crate::pct;

const LEARNERS: usize = 200;

async fn launches() -> anyhow::Result<Vec<String>> {
    let app = TestApp::spawn_with(
        &[
            mirai_tenant::service(),
            mirai_authoring::service(),
            mirai_marketplace::service(),
            mirai_enrollment::service(),
            mirai_lrs::service(),
            mirai_delivery::service(),
        ],
        |_| {},
    )
    .await?;
    let org = app.create_tenant("org", "Bench").await;
    let learners: Vec<Uuid> = (0..LEARNERS).map(|_| Uuid::now_v7()).collect();
    for l in &learners {
        app.add_member(org, *l, &["learner"], None).await;
    }
    let modules = json!([{ "title": "M", "lessons": (0..10).map(|i| json!({ "title": format!("Lesson {i}"),
        "blocks": [{ "kind": "text", "content": { "markdown": "Text. ".repeat(50) } }] })).collect::<Vec<_>>() }]);
    let course = app.licensed_course_of(org, LEARNERS as i32, modules).await;
    for l in &learners {
        app.enrolled(org, *l, &course).await;
    }
    let tokens: Vec<String> = learners.iter().map(|l| app.user_token(org, *l, &[Role::Learner])).collect();
    let launch = format!("/api/v1/delivery/courses/{course}/launch");
    poll("the player knows the last enrollment", Duration::from_secs(30), || async {
        let (s, _) = app.post(&launch, Some(tokens.last().unwrap()), json!({})).await;
        (s == 201).then_some(())
    })
    .await;
    let mut first = vec![];
    for t in &tokens[..LEARNERS - 1] {
        let start = Instant::now();
        let (s, b) = app.post(&launch, Some(t), json!({})).await;
        assert_eq!(s, 201, "{b}");
        first.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let mut resume = vec![];
    for t in &tokens {
        let start = Instant::now();
        let (s, b) = app.post(&launch, Some(t), json!({})).await;
        assert_eq!(s, 200, "{b}");
        resume.push(start.elapsed().as_secs_f64() * 1e3);
    }
    first.sort_by(|a, b| a.partial_cmp(b).unwrap());
    resume.sort_by(|a, b| a.partial_cmp(b).unwrap());

    // Raw: the transaction's shape on bare Postgres, one connection.
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&mirai_testkit::url_for_db(&app.database)).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_enr (id uuid PRIMARY KEY)").execute(&mut c).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_ses (id uuid PRIMARY KEY, enr uuid NOT NULL)")
        .execute(&mut c)
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_out (id uuid PRIMARY KEY, payload jsonb NOT NULL)")
        .execute(&mut c)
        .await?;
    let payload = json!({ "statement": "x".repeat(1000) });
    let mut raw = vec![];
    for _ in 0..LEARNERS {
        let enr = Uuid::now_v7();
        sqlx::query("INSERT INTO bench_enr VALUES ($1)").bind(enr).execute(&mut c).await?;
        let start = Instant::now();
        let mut tx = c.begin().await?;
        sqlx::query("SELECT id FROM bench_enr WHERE id = $1 FOR UPDATE").bind(enr).fetch_one(&mut *tx).await?;
        sqlx::query("INSERT INTO bench_ses VALUES ($1, $2)").bind(Uuid::now_v7()).bind(enr).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO bench_out VALUES ($1, $2)")
            .bind(Uuid::now_v7())
            .bind(&payload)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        raw.push(start.elapsed().as_secs_f64() * 1e3);
    }
    raw.sort_by(|a, b| a.partial_cmp(b).unwrap());
    app.stop().await;
    let row = |what: &str, l: &[f64]| {
        format!(
            "| {what} ({} in a row, a 10-lesson course) | {:.0}/s | p50 {:.2} ms, p99 {:.2} ms; bare Postgres (same transaction shape) p50 {:.2} ms, p99 {:.2} ms: {:.1}x at p50 |",
            l.len(),
            1e3 / (l.iter().sum::<f64>() / l.len() as f64),
            pct(l, 0.5),
            pct(l, 0.99),
            pct(&raw, 0.5),
            pct(&raw, 0.99),
            pct(l, 0.5) / pct(&raw, 0.5)
        )
    };
    Ok(vec![row("player: first launch", &first), row("player: resumed launch", &resume)])
}

fn bundle_50mb() -> Vec<String> {
    use aes_gcm::{Aes256Gcm, KeyInit, Nonce, aead::Aead};
    use mirai_playpackage as pp;
    const SIZE: usize = 50 * 1024 * 1024;
    // Incompressible content, as video is.
    let mut content = vec![0u8; SIZE];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in content.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let (platform, device) = ([3u8; 32], [5u8; 32]);
    let now = chrono::Utc::now();
    let license = pp::License {
        license_id: Uuid::now_v7(),
        tenant_id: Uuid::now_v7(),
        learner_id: Uuid::now_v7(),
        device_id: Uuid::now_v7(),
        device_public_key: base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            pp::device_public_key(&device),
        ),
        course_id: Uuid::now_v7(),
        version: 1,
        issued_at: now,
        expires_at: now + chrono::Duration::days(30),
        check_in_every_secs: 604_800,
    };
    let files: Vec<(&str, &[u8])> = vec![("course.json", b"{}"), ("media/video.mp4", &content)];
    let start = Instant::now();
    let bytes = pp::build(pp::Build {
        bundle_id: Uuid::now_v7(),
        key_id: "bench",
        signing_key: &platform,
        course: pp::Course {
            course_id: license.course_id,
            version: 1,
            title: "Bench".into(),
            content_hash: "h".into(),
        },
        license,
        files: &files,
        content_key: [7; 32],
        ephemeral_secret: [9; 32],
    })
    .expect("builds");
    let build = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let opened = pp::open(&bytes, &device, &[("bench", pp::verifying_key(&platform))], now, None).expect("opens");
    let open = start.elapsed().as_secs_f64();
    assert_eq!(opened.file("media/video.mp4").map(<[u8]>::len), Some(SIZE));
    let start = Instant::now();
    let ct = Aes256Gcm::new_from_slice(&[7; 32]).unwrap().encrypt(&Nonce::from([0u8; 12]), content.as_slice()).unwrap();
    let raw = start.elapsed().as_secs_f64();
    assert_eq!(ct.len(), SIZE + 16);
    let overhead = bytes.len() - SIZE - 2;
    vec![format!(
        "| offline bundle of a 50 MB course: build / open | {:.0} MB/s / {:.0} MB/s | build {:.0} ms, open {:.0} ms; AES-256-GCM alone {:.0} ms: build {:.2}x; size +{} bytes ({:.4}%) |",
        50.0 / build,
        50.0 / open,
        build * 1e3,
        open * 1e3,
        raw * 1e3,
        build / raw,
        overhead,
        overhead as f64 * 100.0 / SIZE as f64
    )]
}

/// A one-SCO SCORM 1.2 package.
fn scorm12_package() -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="bench" version="1" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="o"><organization identifier="o"><title>Bench</title>
    <item identifier="i" identifierref="r"><title>SCO</title></item></organization></organizations>
  <resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="index.html">
    <file href="index.html"/></resource></resources>
</manifest>"#;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    z.start_file("imsmanifest.xml", o)?;
    z.write_all(manifest.as_bytes())?;
    z.start_file("index.html", o)?;
    z.write_all(b"<html><body>SCO</body></html>")?;
    Ok(z.finish()?.into_inner())
}

const CLIENTS: usize = 4;
const COMMITS: usize = 100;

/// `CLIENTS` learners of `org`, each enrolled in `course` and launching the runtime of its
/// package lesson (the second module's first): the launches' answers.
async fn launched_runtimes(app: &TestApp, org: Uuid, course: &str) -> Vec<serde_json::Value> {
    let mut out = vec![];
    for _ in 0..CLIENTS {
        let learner = Uuid::now_v7();
        app.add_member(org, learner, &["learner"], None).await;
        app.enrolled(org, learner, course).await;
        let token = app.user_token(org, learner, &[Role::Learner]);
        let launch = format!("/api/v1/delivery/courses/{course}/launch");
        let session = poll("the player knows the enrollment", Duration::from_secs(30), || async {
            let (s, b) = app.post(&launch, Some(&token), json!({})).await;
            (s == 201).then_some(b)
        })
        .await;
        let (id, lesson) = (
            session["id"].as_str().unwrap_or_default(),
            session["outline"][1]["lessons"][0]["lesson_id"].as_str().unwrap_or_default(),
        );
        let runtime = format!("/api/v1/delivery/sessions/{id}/lessons/{lesson}/runtime");
        out.push(
            poll("the player knows the package", Duration::from_secs(30), || async {
                let (s, b) = app.post(&runtime, Some(&token), json!({})).await;
                (s == 201).then_some(b)
            })
            .await,
        );
    }
    out
}

async fn scorm_commits() -> anyhow::Result<Vec<String>> {
    let app = TestApp::spawn_with(
        &[
            mirai_tenant::service(),
            mirai_authoring::service(),
            mirai_marketplace::service(),
            mirai_enrollment::service(),
            mirai_lrs::service(),
            mirai_content::service(),
            mirai_delivery::service(),
        ],
        |_| {},
    )
    .await?;
    let org = app.create_tenant("org", "Bench").await;
    let course = app.licensed_package_course(org, CLIENTS as i32, scorm12_package()?).await;
    let mut commit_paths = vec![];
    for launched in launched_runtimes(&app, org, &course).await {
        let player = launched["player_url"].as_str().unwrap_or_default();
        commit_paths.push(player.replace("/player", "/commit"));
    }
    let suspend = "s".repeat(1000);
    let body = |i: usize| {
        let q = format!("cmi.interactions.{i}");
        json!({ "seq": i + 1, "event": if i == 0 { "initialize" } else { "commit" }, "values": [
            ["cmi.core.lesson_location", format!("page-{i}")], ["cmi.suspend_data", suspend],
            ["cmi.core.score.raw", (i % 100).to_string()], [format!("{q}.id"), format!("q{i}")],
            [format!("{q}.type"), "choice"], [format!("{q}.student_response"), "a"], [format!("{q}.result"), "correct"],
            ["cmi.core.session_time", "00:00:01"]] })
    };
    let start = Instant::now();
    let runs = commit_paths.iter().map(|url| {
        let (http, body) = (app.http.clone(), &body);
        async move {
            let mut times = vec![];
            for i in 0..COMMITS {
                let t = Instant::now();
                let res = http.post(url).json(&body(i)).send().await?;
                anyhow::ensure!(res.status() == 200, "commit {i}: {}", res.text().await?);
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            anyhow::Ok(times)
        }
    });
    let mut lat: Vec<f64> = futures::future::try_join_all(runs).await?.concat();
    let took = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());

    // Raw: the transaction's shape on bare Postgres, 4 connections at once.
    let (raw, raw_took) = raw_commits(&mirai_testkit::url_for_db(&app.database), 1000).await?;
    app.stop().await;
    let n = (CLIENTS * COMMITS) as f64;
    Ok(vec![format!(
        "| SCORM commits, {CLIENTS} SCOs at once ({COMMITS} each: 8 values incl. 1 KB suspend data and an interaction; 2 statements) | {:.0}/s | p50 {:.2} ms, p99 {:.2} ms; bare Postgres (same transaction shape, {CLIENTS} connections) {:.0}/s, p50 {:.2} ms, p99 {:.2} ms: {:.2} of raw throughput |",
        n / took,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        n / raw_took,
        pct(&raw, 0.5),
        pct(&raw, 0.99),
        (n / took) / (n / raw_took)
    )])
}

/// The shape of a runtime's write on bare Postgres, `CLIENTS` connections at once, `COMMITS`
/// each: lock a row, update its JSON (`kept` bytes of it), insert an outbox row. Sorted
/// latencies (ms) and the seconds it took.
pub(crate) async fn raw_commits(url: &str, kept: usize) -> anyhow::Result<(Vec<f64>, f64)> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_att (hash bytea PRIMARY KEY, cmi jsonb NOT NULL)")
        .execute(&mut c)
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_rt_out (id uuid PRIMARY KEY, payload jsonb NOT NULL)")
        .execute(&mut c)
        .await?;
    sqlx::query("TRUNCATE bench_att").execute(&mut c).await?;
    let cmi = json!({ "kept": "s".repeat(kept), "more": "x".repeat(2000) });
    let statement = json!({ "statements": "x".repeat(2000) });
    let raw_start = Instant::now();
    let runs = (0..CLIENTS).map(|n| {
        let (url, cmi, statement) = (url.to_owned(), &cmi, &statement);
        async move {
            let mut c = sqlx::PgConnection::connect(&url).await?;
            let hash = vec![n as u8; 32];
            sqlx::query("INSERT INTO bench_att VALUES ($1, $2)").bind(&hash).bind(cmi).execute(&mut c).await?;
            let mut times = vec![];
            for _ in 0..COMMITS {
                let t = Instant::now();
                let mut tx = c.begin().await?;
                sqlx::query("SELECT cmi FROM bench_att WHERE hash = $1 FOR UPDATE")
                    .bind(&hash)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query("UPDATE bench_att SET cmi = $2 WHERE hash = $1")
                    .bind(&hash)
                    .bind(cmi)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO bench_rt_out VALUES ($1, $2)")
                    .bind(Uuid::now_v7())
                    .bind(statement)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            anyhow::Ok(times)
        }
    });
    let mut raw: Vec<f64> = futures::future::try_join_all(runs).await?.concat();
    let raw_took = raw_start.elapsed().as_secs_f64();
    raw.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok((raw, raw_took))
}

const CMI5_XML: &str = r#"<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://example.com/bench"><title><langstring lang="en">Bench</langstring></title></course>
  <au id="https://example.com/bench/au" moveOn="Completed"><title><langstring lang="en">AU</langstring></title><url>au.html</url></au>
</courseStructure>"#;

/// cmi5 statements: `CLIENTS` AUs at once, each sending `COMMITS` statements (one a
/// request) to the endpoint delivery serves, after its fetch, preferences and initialized.
async fn cmi5_statements() -> anyhow::Result<Vec<String>> {
    use std::io::Write as _;
    let app = TestApp::spawn_with(
        &[
            mirai_tenant::service(),
            mirai_authoring::service(),
            mirai_marketplace::service(),
            mirai_enrollment::service(),
            mirai_lrs::service(),
            mirai_content::service(),
            mirai_delivery::service(),
        ],
        |_| {},
    )
    .await?;
    let zip = {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("cmi5.xml", o)?;
        z.write_all(CMI5_XML.as_bytes())?;
        z.start_file("au.html", o)?;
        z.write_all(b"<html></html>")?;
        z.finish()?.into_inner()
    };
    let org = app.create_tenant("org", "Bench").await;
    let course = app.licensed_package_course(org, CLIENTS as i32, zip).await;
    let mut aus = vec![];
    for launched in launched_runtimes(&app, org, &course).await {
        let url = url::Url::parse(launched["player_url"].as_str().unwrap_or_default())?;
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        let fetched: serde_json::Value = app.http.post(&q["fetch"]).send().await?.json().await?;
        let auth = format!("Basic {}", fetched["auth-token"].as_str().unwrap_or_default());
        let endpoint = q["endpoint"].clone();
        let agent = q["actor"].clone();
        let prefs = format!(
            "{endpoint}/agents/profile?profileId=cmi5LearnerPreferences&agent={}",
            url::form_urlencoded::byte_serialize(agent.as_bytes()).collect::<String>()
        );
        app.http.get(prefs).header("authorization", &auth).header("x-experience-api-version", "1.0.3").send().await?;
        let sid = launched["au"]["session_id"].as_str().unwrap_or_default().to_owned();
        let template = json!({
            "actor": serde_json::from_str::<serde_json::Value>(&agent)?,
            "object": { "id": q["activityId"] },
            "context": { "registration": q["registration"],
                "contextActivities": { "grouping": [{ "id": "https://example.com/bench/au" }],
                    "category": [{ "id": "https://w3id.org/xapi/cmi5/context/categories/cmi5" }] },
                "extensions": { "https://w3id.org/xapi/cmi5/context/extensions/sessionid": sid } } });
        let mut init = template.clone();
        init["id"] = json!(Uuid::new_v4());
        init["verb"] = json!({ "id": "http://adlnet.gov/expapi/verbs/initialized" });
        init["timestamp"] = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let res = app
            .http
            .post(format!("{endpoint}/statements"))
            .header("authorization", &auth)
            .header("x-experience-api-version", "1.0.3")
            .json(&init)
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "initialized: {}", res.text().await?);
        aus.push((endpoint, auth, template));
    }
    let start = Instant::now();
    let runs = aus.iter().map(|(endpoint, auth, template)| {
        let http = app.http.clone();
        async move {
            let mut times = vec![];
            for i in 0..COMMITS {
                let mut st = template.clone();
                st["id"] = json!(Uuid::new_v4());
                st["verb"] = json!({ "id": "http://adlnet.gov/expapi/verbs/experienced", "display": { "en-US": "experienced" } });
                st["object"]["id"] = json!(format!("{}/pages/{i}", st["object"]["id"].as_str().unwrap_or_default()));
                st["context"]["contextActivities"]["category"] = json!([]);
                st["timestamp"] = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
                let t = Instant::now();
                let res = http.post(format!("{endpoint}/statements")).header("authorization", auth)
                    .header("x-experience-api-version", "1.0.3").json(&st).send().await?;
                anyhow::ensure!(res.status() == 200, "statement {i}: {}", res.text().await?);
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            anyhow::Ok(times)
        }
    });
    let mut lat: Vec<f64> = futures::future::try_join_all(runs).await?.concat();
    let took = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (raw, raw_took) = raw_commits(&mirai_testkit::url_for_db(&app.database), 10).await?;
    app.stop().await;
    let n = (CLIENTS * COMMITS) as f64;
    Ok(vec![format!(
        "| cmi5 statements, {CLIENTS} AUs at once ({COMMITS} each, one a request: xAPI and cmi5 rules checked, digest kept, one event) | {:.0}/s | p50 {:.2} ms, p99 {:.2} ms; bare Postgres (lock, update, outbox insert; {CLIENTS} connections) {:.0}/s, p50 {:.2} ms, p99 {:.2} ms: {:.2} of raw throughput |",
        n / took,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        n / raw_took,
        pct(&raw, 0.5),
        pct(&raw, 0.99),
        (n / took) / (n / raw_took)
    )])
}

pub async fn rows() -> anyhow::Result<Vec<String>> {
    let mut rows = launches().await?;
    rows.extend(scorm_commits().await?);
    rows.extend(cmi5_statements().await?);
    rows.extend(bundle_50mb());
    for r in &rows {
        eprintln!("{r}");
    }
    Ok(rows)
}
