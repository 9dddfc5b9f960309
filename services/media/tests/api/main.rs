//! media's black-box tests: the service on port 0 with a database and NATS prefix of its
//! own, storing into a local directory (its default) or a real S3-compatible server
//! (`s3s-fs`, which checks SigV4 signatures and expiry).

use std::{process::Child, time::Duration};

use mirai_blobs::{Access, Blobs};
use mirai_kit::{Role, config::BlobSettings};
use mirai_testkit::{TestApp, assert_problem, poll};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

struct Media {
    app: TestApp,
    tenant: Uuid,
    author: String,
}

async fn spawn_with(services: &[mirai_kit::ServiceDef], blobs: Option<BlobSettings>) -> Media {
    let app = TestApp::spawn_with(services, |c| {
        if let Some(b) = blobs {
            c.blobs = b;
        }
    })
    .await
    .expect("test fleet starts");
    let tenant = Uuid::now_v7();
    let author = app.token(Some(tenant), &[Role::Author]);
    Media { app, tenant, author }
}

/// A PNG's signature and some bytes: what type sniffing looks at.
fn png(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.resize(len, 7);
    b
}

impl Media {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.app.call(method, &format!("/api/v1/media{path}"), Some(token), body).await
    }

    async fn declare(&self, filename: &str, content_type: &str, size: usize) -> (StatusCode, Value) {
        let body = json!({ "filename": filename, "content_type": content_type, "size": size });
        self.call(Method::POST, "/uploads", &self.author, Some(body)).await
    }

    /// PUTs bytes to a signed upload request as a browser would.
    async fn put(&self, upload: &Value, bytes: Vec<u8>) -> reqwest::Response {
        let mut req = self.app.http.put(upload["url"].as_str().unwrap());
        for (k, v) in upload["headers"].as_object().unwrap() {
            req = req.header(k, v.as_str().unwrap());
        }
        req.body(bytes).send().await.unwrap()
    }

    /// Declare, PUT, complete: a ready asset.
    async fn upload(&self, bytes: Vec<u8>) -> Value {
        let (status, u) = self.declare("plan.png", "image/png", bytes.len()).await;
        assert_eq!(status, 201, "{u}");
        let res = self.put(&u["upload"], bytes).await;
        assert!(res.status().is_success(), "{}: {}", res.status(), res.text().await.unwrap());
        let id = u["asset"]["id"].as_str().unwrap();
        let (status, a) = self.call(Method::POST, &format!("/assets/{id}/complete"), &self.author, None).await;
        assert_eq!(status, 200, "{a}");
        a
    }
}

#[tokio::test]
async fn an_upload_is_declared_put_to_its_signed_url_checked_and_announced() {
    let m = spawn_with(&[mirai_media::service()], None).await;
    let bytes = png(70_000);
    let (status, u) = m.declare("floor plan.png", "image/png", bytes.len()).await;
    assert_eq!(status, 201, "{u}");
    assert_eq!(u["asset"]["status"], "pending");
    let id = u["asset"]["id"].as_str().unwrap().to_owned();
    let url = u["upload"]["url"].as_str().unwrap().to_owned();
    assert!(url.contains(&format!("/uploads/{}/{id}?", m.tenant)), "{url}");

    // Nothing uploaded yet: completing is a conflict.
    let res = m.call(Method::POST, &format!("/assets/{id}/complete"), &m.author, None).await;
    assert_problem(&res, 409, "conflict");

    // The URL is for exactly these bytes: another type, more bytes, a changed size or
    // signature are refused before anything is stored.
    let bad_type = m.app.http.put(&url).header("content-type", "text/plain").body(bytes.clone()).send().await.unwrap();
    assert_eq!(bad_type.status(), 400);
    let more = m.put(&u["upload"], png(70_001)).await;
    assert_eq!(more.status(), 413);
    let fewer = m.put(&u["upload"], png(69_999)).await;
    assert_eq!(fewer.status(), 400);
    let resized =
        m.app.http.put(url.replace("X-Mirai-Size=70000", "X-Mirai-Size=70001")).header("content-type", "image/png");
    let res = resized.body(png(70_001)).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("signature-invalid"));

    let res = m.put(&u["upload"], bytes.clone()).await;
    assert_eq!(res.status(), 200);
    let (status, a) = m.call(Method::POST, &format!("/assets/{id}/complete"), &m.author, None).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["status"], "ready");
    let sha = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
    assert_eq!(a["sha256"], sha);
    // Completing again answers the same; the event says what was checked.
    let (status, again) = m.call(Method::POST, &format!("/assets/{id}/complete"), &m.author, None).await;
    assert_eq!((status.as_u16(), &again["sha256"]), (200, &a["sha256"]));
    let env = m
        .app
        .wait_for_event("media.asset.ready.v1", Duration::from_secs(10), |e| e.data["asset_id"] == id.as_str())
        .await;
    assert_eq!(env.data["size"], 70_000);
    assert_eq!(env.data["sha256"], sha);
    assert_eq!(env.data["object_key"], format!("tenants/{}/media/{id}", m.tenant));

    // The upload URL, still within its time, cannot change the completed asset.
    let res = m.put(&u["upload"], png(70_000).into_iter().map(|b| b ^ 1).collect()).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("upload-closed"));
    // A learner of the tenant downloads through a signed URL for this object only.
    let learner = m.app.token(Some(m.tenant), &[Role::Learner]);
    let (status, d) = m.call(Method::GET, &format!("/assets/{id}/download"), &learner, None).await;
    assert_eq!(status, 200, "{d}");
    let res = m.app.http.get(d["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("floor plan.png"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // Byte ranges, as a video player seeks: a slice, an open end, a suffix, past the end.
    let url = d["url"].as_str().unwrap();
    for (range, want) in [("bytes=100-199", 100..200), ("bytes=69990-", 69_990..70_000), ("bytes=-10", 69_990..70_000)]
    {
        let res = m.app.http.get(url).header("range", range).send().await.unwrap();
        assert_eq!(res.status(), 206, "{range}");
        let cr = format!("bytes {}-{}/70000", want.start, want.end - 1);
        assert_eq!(res.headers()["content-range"], cr.as_str());
        assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[want]);
    }
    let res = m.app.http.get(url).header("range", "bytes=70000-").send().await.unwrap();
    assert_eq!(res.status(), 416);
    assert_eq!(res.headers()["content-range"], "bytes */70000");
    // The same URL for another object, or with its signature changed: refused.
    let other = d["url"].as_str().unwrap().replace(&id, &Uuid::now_v7().to_string());
    assert_eq!(m.app.http.get(other).send().await.unwrap().status(), 403);
    let sig_at = d["url"].as_str().unwrap().find("X-Mirai-Signature=").unwrap() + 18;
    let mut tampered = d["url"].as_str().unwrap().to_owned();
    let flipped = if &tampered[sig_at..sig_at + 1] == "0" { "1" } else { "0" };
    tampered.replace_range(sig_at..sig_at + 1, flipped);
    assert_eq!(m.app.http.get(tampered).send().await.unwrap().status(), 403);
    // An expired URL (signed with the store's key, as media would, a second ago).
    let blobs =
        Blobs::open(&m.app.fleet().services[0].config.blobs, &format!("{}/api/v1/media/blobs", m.app.url)).unwrap();
    let key = format!("tenants/{}/media/{id}", m.tenant);
    let (expired, _) = blobs.sign(Access::Get, &key, Duration::ZERO, None, None, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = m.app.http.get(expired).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("url-expired"));
}

#[tokio::test]
async fn bytes_that_are_not_what_was_declared_are_refused_and_limits_hold() {
    let m = spawn_with(&[mirai_media::service()], None).await;
    // Text bytes declared as a PNG: 422, the bytes discarded, the intent kept for a retry.
    let text = vec![b'a'; 1000];
    let (_, u) = m.declare("x.png", "image/png", text.len()).await;
    let id = u["asset"]["id"].as_str().unwrap().to_owned();
    assert_eq!(m.put(&u["upload"], text).await.status(), 200);
    let res = m.call(Method::POST, &format!("/assets/{id}/complete"), &m.author, None).await;
    assert_problem(&res, 422, "validation");
    assert!(res.1["detail"].as_str().unwrap().contains("image/png"), "{}", res.1);
    let (_, a) = m.call(Method::GET, &format!("/assets/{id}"), &m.author, None).await;
    assert_eq!(a["status"], "pending");

    // Text declared as text is fine.
    let (_, u) = m.declare("notes.txt", "text/plain", 11).await;
    assert_eq!(m.put(&u["upload"], b"hello world".to_vec()).await.status(), 200);
    let tid = u["asset"]["id"].as_str().unwrap();
    let (status, _) = m.call(Method::POST, &format!("/assets/{tid}/complete"), &m.author, None).await;
    assert_eq!(status, 200);

    // Declarations: a type media does not take, a path for a name, a size out of range.
    for (name, kind, size) in
        [("x.exe", "application/x-msdownload", 10), ("../x.png", "image/png", 10), ("x.png", "image/png", 0)]
    {
        let res = m.declare(name, kind, size).await;
        assert_problem(&res, 422, "validation");
    }
    let res = m.declare("huge.mp4", "video/mp4", 3usize << 30).await;
    assert_problem(&res, 422, "validation");
    // A learner cannot upload; another tenant sees nothing of this one's assets.
    let learner = m.app.token(Some(m.tenant), &[Role::Learner]);
    let res = m
        .call(
            Method::POST,
            "/uploads",
            &learner,
            Some(json!({ "filename": "a.png", "content_type": "image/png", "size": 5 })),
        )
        .await;
    assert_eq!(res.0, 403);
    let stranger = m.app.token(Some(Uuid::now_v7()), &[Role::Author, Role::ProviderAdmin]);
    for (method, path) in [
        (Method::GET, format!("/assets/{tid}")),
        (Method::GET, format!("/assets/{tid}/download")),
        (Method::POST, format!("/assets/{tid}/complete")),
        (Method::DELETE, format!("/assets/{tid}")),
    ] {
        let res = m.call(method, &path, &stranger, None).await;
        assert_problem(&res, 404, "not-found");
    }
    let (_, page) = m.call(Method::GET, "/assets", &stranger, None).await;
    assert_eq!(page["data"], json!([]));
    let (_, page) = m.call(Method::GET, "/assets?status=ready", &m.author, None).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn uploads_close_when_deleted_or_late_and_what_is_never_completed_is_swept() {
    let m = spawn_with(&[mirai_media::service()], None).await;
    let blobs = Blobs::open(&m.app.fleet().services[0].config.blobs, "unused").unwrap();
    let staged = |id: &str| mirai_blobs::object_store::path::Path::from(format!("uploads/{}/{id}", m.tenant));
    use mirai_blobs::object_store::ObjectStoreExt;

    // A deleted intent's URL takes no bytes (nothing would count or clean them).
    let (_, u) = m.declare("a.png", "image/png", 100).await;
    let id = u["asset"]["id"].as_str().unwrap().to_owned();
    let (s, _) = m.call(Method::DELETE, &format!("/assets/{id}"), &m.author, None).await;
    assert_eq!(s, 204);
    let res = m.put(&u["upload"], png(100)).await;
    assert_eq!(res.status(), 403);
    assert!(blobs.store().head(&staged(&id)).await.is_err(), "nothing staged");

    // An upload not completed within an hour of its URL's expiry is refused and its bytes
    // go; it no longer counts against the quota.
    let (_, u) = m.declare("b.png", "image/png", 200).await;
    let id = u["asset"]["id"].as_str().unwrap().to_owned();
    assert_eq!(m.put(&u["upload"], png(200)).await.status(), 200);
    let mut db =
        <sqlx::PgConnection as sqlx::Connection>::connect(&mirai_testkit::url_for_db(&m.app.database)).await.unwrap();
    sqlx::query("UPDATE media.assets SET upload_expires_at = now() - interval '2 hours' WHERE id = $1")
        .bind(Uuid::parse_str(&id).unwrap())
        .execute(&mut db)
        .await
        .unwrap();
    let res = m.call(Method::POST, &format!("/assets/{id}/complete"), &m.author, None).await;
    assert_problem(&res, 410, "upload-expired");
    assert!(blobs.store().head(&staged(&id)).await.is_err(), "its bytes are gone");

    // The sweeper clears staged bytes older than the upload window, and only those.
    let (_, u) = m.declare("c.png", "image/png", 300).await;
    let id = u["asset"]["id"].as_str().unwrap().to_owned();
    assert_eq!(m.put(&u["upload"], png(300)).await.status(), 200);
    // (Only this tenant's staging: tests share the local store.)
    let mine = format!("uploads/{}", m.tenant);
    mirai_media::sweeper::sweep(&blobs, &mine, chrono::Duration::hours(2)).await.unwrap();
    assert!(blobs.store().head(&staged(&id)).await.is_ok(), "a fresh upload stays");
    let removed = mirai_media::sweeper::sweep(&blobs, &mine, chrono::Duration::zero()).await.unwrap();
    assert_eq!(removed, 1);
    assert!(blobs.store().head(&staged(&id)).await.is_err());
    // Completing it now finds no bytes.
    let res = m.call(Method::POST, &format!("/assets/{id}/complete"), &m.author, None).await;
    assert_problem(&res, 409, "conflict");
}

#[tokio::test]
async fn an_asset_a_published_version_shows_cannot_be_deleted() {
    let m = spawn_with(&[mirai_authoring::service(), mirai_media::service()], None).await;
    let used = m.upload(png(2048)).await;
    let unused = m.upload(png(1024)).await;
    let (used_id, unused_id) = (used["id"].as_str().unwrap(), unused["id"].as_str().unwrap());

    let course = json!({ "title": "Evacuation", "summary": "", "locale": "en", "tags": [], "visibility": "tenant",
        "modules": [{ "title": "M", "lessons": [{ "title": "L", "blocks": [
            { "kind": "image", "content": { "media_id": used_id, "alt": "Exits" } }] }] }] });
    let (status, c) = m.app.post("/api/v1/authoring/courses", Some(&m.author), course).await;
    assert_eq!(status, 201, "{c}");
    let publisher = m.app.token(Some(m.tenant), &[Role::ProviderAdmin]);
    // Publishable once authoring has learnt the asset is ready (an event, milliseconds).
    let publish = m.app.url(&format!("/api/v1/authoring/courses/{}/publish", c["id"].as_str().unwrap()));
    poll("the course to publish", Duration::from_secs(10), || async {
        let res = m.app.http.post(&publish).bearer_auth(&publisher).header("if-match", "\"1\"").send().await.unwrap();
        (res.status() == 201).then_some(())
    })
    .await;

    let a = poll("media to learn the published version", Duration::from_secs(10), || async {
        let (_, a) = m.call(Method::GET, &format!("/assets/{used_id}"), &m.author, None).await;
        (!a["used_by"].as_array().unwrap().is_empty()).then_some(a)
    })
    .await;
    assert_eq!(a["used_by"], json!([{ "course_id": c["id"], "version": 1 }]));
    let res = m.call(Method::DELETE, &format!("/assets/{used_id}"), &m.author, None).await;
    assert_problem(&res, 409, "conflict");
    assert!(res.1["detail"].as_str().unwrap().contains("version 1"), "{}", res.1);

    let (status, _) = m.call(Method::DELETE, &format!("/assets/{unused_id}"), &m.author, None).await;
    assert_eq!(status, 204);
    let res = m.call(Method::GET, &format!("/assets/{unused_id}"), &m.author, None).await;
    assert_problem(&res, 404, "not-found");
    m.app.wait_for_event("media.asset.deleted.v1", Duration::from_secs(10), |e| e.data["asset_id"] == unused_id).await;
}

/// `s3s-fs` on a free port over a directory of its own; killed on drop.
struct S3 {
    child: Child,
    endpoint: String,
    _dir: std::path::PathBuf,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn s3s_fs(bucket: &str) -> S3 {
    let state = std::env::var("MIRAI_STATE_DIR").unwrap_or_else(|_| "/var/tmp/mirai".into());
    let bin = std::env::var("MIRAI_S3S_FS_BIN").unwrap_or_else(|_| format!("{state}/tools/bin/s3s-fs"));
    let dir = std::env::temp_dir().join(format!("mirai-s3-{}", Uuid::now_v7()));
    std::fs::create_dir_all(dir.join(bucket)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(&bin)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--access-key",
            "mirai",
            "--secret-key",
            "mirai-secret",
        ])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e} (`make setup` installs s3s-fs)"));
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    S3 { child, endpoint: format!("http://127.0.0.1:{port}"), _dir: dir }
}

#[tokio::test]
async fn on_s3_uploads_and_downloads_go_straight_to_the_bucket_with_sigv4_urls() {
    let s3 = s3s_fs("mirai-media");
    let settings = BlobSettings {
        store: "s3://mirai-media".into(),
        s3_endpoint: Some(s3.endpoint.clone()),
        s3_region: "us-east-1".into(),
        s3_access_key_id: Some("mirai".into()),
        s3_secret_access_key: Some("mirai-secret".to_owned().into()),
        signing_key: "unused".to_owned().into(),
        signing_key_is_dev: false,
    };
    let m = spawn_with(&[mirai_media::service()], Some(settings.clone())).await;
    let bytes = png(300_000);
    let (status, u) = m.declare("plan.png", "image/png", bytes.len()).await;
    assert_eq!(status, 201, "{u}");
    let url = u["upload"]["url"].as_str().unwrap();
    assert!(url.starts_with(&s3.endpoint) && url.contains("X-Amz-Signature="), "{url}");
    let res = m.put(&u["upload"], bytes.clone()).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let id = u["asset"]["id"].as_str().unwrap();
    let (status, a) = m.call(Method::POST, &format!("/assets/{id}/complete"), &m.author, None).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["sha256"], format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))));

    let (_, d) = m.call(Method::GET, &format!("/assets/{id}/download"), &m.author, None).await;
    let url = d["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&s3.endpoint), "{url}");
    let res = m.app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The server checks the signature: one character of it changed is a 403.
    let at = url.find("X-Amz-Signature=").unwrap() + 16;
    let mut tampered = url.clone();
    let flipped = if &tampered[at..at + 1] == "0" { "1" } else { "0" };
    tampered.replace_range(at..at + 1, flipped);
    assert_eq!(m.app.http.get(&tampered).send().await.unwrap().status(), 403);
    // Another object under the same signature: 403.
    let other = url.replace(id, &Uuid::now_v7().to_string());
    assert_eq!(m.app.http.get(&other).send().await.unwrap().status(), 403);
    // And its expiry: a URL good for one second, a little later.
    let blobs = Blobs::open(&settings, "unused").unwrap();
    let key = format!("tenants/{}/media/{id}", m.tenant);
    let (short, _) = blobs.sign(Access::Get, &key, Duration::from_secs(1), None, None, None).await.unwrap();
    assert_eq!(m.app.http.get(&short).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(m.app.http.get(&short).send().await.unwrap().status(), 403);
}
