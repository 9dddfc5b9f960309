//! Test harness: start any set of services on port 0 against a database of their own
//! (cloned from a migrated template) and a NATS subject prefix of their own, so tests run
//! in parallel and never see each other's data; mint tokens; wait for conditions.

use std::{future::Future, time::Duration};

use anyhow::Context as _;
use chrono::Utc;
use mirai_events::{Bus, NewEvent};
use mirai_kit::{
    Config, Role, ServiceDef,
    auth::{jwt, keystore::SIGNING_KEY_PUBLISHED},
    db,
    fleet::{self, Fleet},
};
use p256::{ecdsa::SigningKey, elliptic_curve::Generate};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

pub mod browser;
mod fixtures;
pub mod localstripe;
mod pdf;
mod private_nats;
pub mod smtp;
pub use localstripe::Localstripe;
pub use pdf::pdf;
pub use private_nats::PrivateNats;
pub use smtp::SmtpSink;

pub use mirai_kit::auth::jwt::Claims;

/// The kid of the key tests mint tokens with; it exists only in the test's key store.
pub const TEST_KID: &str = "test-key";

fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| mirai_kit::config::DEFAULT_DATABASE_URL.into())
}

fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| mirai_kit::config::DEFAULT_NATS_URL.into())
}

/// `postgres://.../<db>` with the database replaced.
pub fn url_for_db(db: &str) -> String {
    let base = admin_url();
    let (head, tail) = base.rsplit_once('/').expect("DATABASE_URL has a database");
    match tail.split_once('?') {
        Some((_, query)) => format!("{head}/{db}?{query}"),
        None => format!("{head}/{db}"),
    }
}

/// A fresh database with `services`' migrations applied: cloned from a template that
/// is built once per set of migrations (keyed by their checksum) across test processes.
pub async fn scratch_database(services: &[(&str, &'static [db::Migration])]) -> anyhow::Result<String> {
    let mut key = String::new();
    for (name, migrations) in services {
        key.push_str(&format!("{name}{}", db::checksum(migrations)));
    }
    let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
    let template = format!("mirai_tpl_{}", hex::encode(&digest[..8]));
    let mut admin = PgConnection::connect(&admin_url()).await.context("DATABASE_URL: is `make setup` running?")?;
    admin.execute("SELECT pg_advisory_lock(hashtext('mirai-test-template'))").await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&template)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        let building = format!("{template}_building");
        admin.execute(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)").as_str()).await?;
        admin.execute(format!("CREATE DATABASE {building}").as_str()).await?;
        for (name, migrations) in services {
            db::migrate(&url_for_db(&building), name, migrations, "mirai-dev-only").await?;
        }
        admin.execute(format!("ALTER DATABASE {building} RENAME TO {template}").as_str()).await?;
    }
    admin.execute("SELECT pg_advisory_unlock(hashtext('mirai-test-template'))").await?;
    let name = format!("mirai_t_{}", Uuid::new_v4().simple());
    admin.execute(format!("CREATE DATABASE {name} TEMPLATE {template}").as_str()).await?;
    Ok(name)
}

pub async fn drop_database(name: &str) {
    if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
        let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
    }
}

/// `envelope` signed with the dev bus key identity signs with in tests (ADR 0006).
pub fn signed_by_identity(mut envelope: mirai_events::Envelope) -> mirai_events::Envelope {
    use mirai_events::outbox::EnvelopeSigner;
    let signer = mirai_kit::auth::bus_signing::BusSigner::from_pem(mirai_kit::auth::bus_signing::DEV_SIGNING_KEY_PEM)
        .expect("the dev key parses");
    signer.sign(&mut envelope);
    envelope
}

/// A unique NATS prefix, `t<hex>.`.
pub fn nats_prefix() -> String {
    format!("t{}.", &Uuid::new_v4().simple().to_string()[..12])
}

/// A bus of its own for lower-level tests, as the NATS `admin` user (it may provision
/// streams and publish anything: tests forge what no service may).
pub async fn bus(prefix: &str) -> Bus {
    Bus::connect_with(&config("unused", prefix).admin_bus_options()).await.expect("NATS_URL: is `make setup` running?")
}

/// The config a test fleet runs with.
pub fn config(database: &str, prefix: &str) -> Config {
    let db_url = url_for_db(database);
    let nats = nats_url();
    let prefix = prefix.to_owned();
    Config::from_lookup(move |k| match k {
        "MIRAI_HTTP_ADDR" => Some("127.0.0.1:0".into()),
        "DATABASE_URL" => Some(db_url.clone()),
        "NATS_URL" => Some(nats.clone()),
        "MIRAI_NATS_PREFIX" => Some(prefix.clone()),
        "MIRAI_DB_POOL_SIZE" => Some("5".into()),
        "MIRAI_SHUTDOWN_GRACE_SECS" => Some("5".into()),
        "MIRAI_CORS_ORIGINS" => Some("*".into()),
        "MIRAI_APIKEY_USAGE_FLUSH_MS" => Some("100".into()),
        _ => None,
    })
    .expect("test config is valid")
}

/// A running test fleet.
pub struct TestApp {
    pub fleet: Option<Fleet>,
    pub url: String,
    pub database: String,
    pub prefix: String,
    pub http: reqwest::Client,
    signer: SigningKey,
    /// Whether this instance created the database and streams (a replica started with
    /// `start_on` shares them and leaves them alone).
    owns_data: bool,
}

impl Drop for TestApp {
    /// A test that panics (or forgets `stop`) still leaves no database or stream behind.
    /// Drop cannot await, and the test's runtime is unwinding, so a thread of its own
    /// with a runtime of its own does the cleanup; `WITH (FORCE)` ends the fleet's
    /// connections.
    fn drop(&mut self) {
        if !self.owns_data || self.fleet.is_none() {
            return;
        }
        let (database, prefix) = (self.database.clone(), self.prefix.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(bus) = Bus::connect_with(&config("unused", &prefix).admin_bus_options()).await {
                    let _ = bus.delete_prefixed_streams().await;
                }
                drop_database(&database).await;
            });
        });
        let _ = cleanup.join();
    }
}

impl TestApp {
    /// Starts `services` on port 0 with a database and NATS prefix of their own.
    pub async fn spawn(services: &[ServiceDef]) -> TestApp {
        Self::try_spawn(services).await.expect("test fleet starts")
    }

    pub async fn try_spawn(services: &[ServiceDef]) -> anyhow::Result<TestApp> {
        Self::spawn_with(services, |_| {}).await
    }

    /// Like `spawn`, with a chance to adjust the configuration first.
    pub async fn spawn_with(services: &[ServiceDef], tweak: impl FnOnce(&mut Config)) -> anyhow::Result<TestApp> {
        let sets: Vec<_> = services.iter().map(|s| (s.name, s.migrations)).collect();
        let database = scratch_database(&sets).await?;
        let prefix = nats_prefix();
        let mut cfg = config(&database, &prefix);
        tweak(&mut cfg);
        let mut app = Self::start_with(services, &database, &prefix, cfg).await?;
        app.owns_data = true;
        Ok(app)
    }

    /// Starts another fleet instance on an existing database and prefix (a second replica).
    pub async fn start_on(services: &[ServiceDef], database: &str, prefix: &str) -> anyhow::Result<TestApp> {
        Self::start_with(services, database, prefix, config(database, prefix)).await
    }

    /// Another replica of `of` behind the same public URL (one issuer, as behind a load
    /// balancer): tokens one instance's identity issued verify on the other.
    pub async fn replica_of(services: &[ServiceDef], of: &TestApp) -> anyhow::Result<TestApp> {
        let mut cfg = config(&of.database, &of.prefix);
        cfg.public_url = Some(of.url.clone());
        Self::start_with(services, &of.database, &of.prefix, cfg).await
    }

    async fn start_with(services: &[ServiceDef], database: &str, prefix: &str, cfg: Config) -> anyhow::Result<TestApp> {
        fleet::provision_streams(&cfg, services).await?;
        let fleet = fleet::start(cfg, services, false).await?;
        let url = fleet.public_url.clone();
        let signer = SigningKey::generate();
        // The test signing key is trusted by this instance's key store only.
        let envelope = NewEvent::new(
            SIGNING_KEY_PUBLISHED,
            TEST_KID,
            json!({ "kid": TEST_KID, "jwk": jwt::jwk_from_key(TEST_KID, signer.verifying_key()), "not_before": Utc::now(), "revision": 1 }),
        )
        .into_envelope("identity", &Default::default());
        fleet.keys.receive(&signed_by_identity(envelope)).expect("the dev bus key is trusted");
        let app = TestApp {
            fleet: Some(fleet),
            url,
            database: database.to_owned(),
            prefix: prefix.to_owned(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?,
            signer,
            owns_data: false,
        };
        let ready = app.clone_http();
        let url = app.url.clone();
        wait_until("the fleet is ready", Duration::from_secs(20), || {
            let ready = ready.clone();
            let url = url.clone();
            async move { ready.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        Ok(app)
    }

    /// Shares the test signing key on the bus, signed as identity's key events are: another
    /// process on this prefix (a `mirai serve …` a test started, with `MIRAI_PUBLIC_URL`
    /// set to this app's URL) then trusts the tokens this app mints.
    pub async fn share_signing_key(&self) {
        let envelope = NewEvent::new(
            SIGNING_KEY_PUBLISHED,
            TEST_KID,
            json!({ "kid": TEST_KID, "jwk": jwt::jwk_from_key(TEST_KID, self.signer.verifying_key()), "not_before": Utc::now(), "revision": 1 }),
        )
        .into_envelope("identity", &Default::default());
        let envelope = signed_by_identity(envelope);
        let bus = bus(&self.prefix).await;
        bus.ensure_stream("identity").await.expect("identity's stream");
        let subject = bus.subject(&envelope.kind);
        let payload = serde_json::to_vec(&envelope).expect("an envelope serializes");
        bus.js.publish(subject, payload.into()).await.expect("published").await.expect("acknowledged");
    }

    fn clone_http(&self) -> reqwest::Client {
        self.http.clone()
    }

    pub fn fleet(&self) -> &Fleet {
        self.fleet.as_ref().expect("fleet running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Claims for a token this fleet accepts.
    pub fn claims(&self, tenant: Option<Uuid>, roles: &[Role]) -> Claims {
        let now = Utc::now().timestamp();
        Claims {
            iss: self.fleet().keys.issuer().to_owned(),
            aud: "mirai".into(),
            sub: format!("user:{}", Uuid::now_v7()),
            exp: now + 300,
            iat: now,
            nbf: None,
            jti: Uuid::now_v7().to_string(),
            tid: tenant,
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            scopes: vec![],
            email: None,
            kind: "user".into(),
            ver: None,
        }
    }

    /// Signs claims with the test key.
    pub fn sign(&self, claims: &Claims) -> String {
        jwt::sign(&self.signer, TEST_KID, claims)
    }

    /// A token for a user with `roles` in `tenant`.
    pub fn token(&self, tenant: Option<Uuid>, roles: &[Role]) -> String {
        self.sign(&self.claims(tenant, roles))
    }

    /// An API key this instance's key store accepts (as identity's event would announce
    /// it); returns (key id, secret) for HTTP Basic, or `mk_<id>_<secret>` for Bearer.
    pub fn api_key(&self, tenant: Uuid, roles: &[Role], scopes: &[&str]) -> (String, String) {
        use sha2::Digest;
        let id = format!("mk_{}", Uuid::now_v7().simple());
        let secret = format!("s{}", Uuid::new_v4().simple());
        let event = NewEvent::new(
            mirai_kit::auth::keystore::APIKEY_CREATED,
            &id,
            json!({ "key_id": id, "tenant_id": tenant, "name": "test", "secret_sha256": hex::encode(sha2::Sha256::digest(secret.as_bytes())),
                "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(), "scopes": scopes, "expires_at": null,
                "created_by": "test", "revision": 1 }),
        )
        .into_envelope("identity", &Default::default());
        self.fleet().keys.receive(&signed_by_identity(event)).expect("the dev bus key is trusted");
        (id, secret)
    }

    pub fn platform_admin(&self) -> String {
        self.token(None, &[Role::PlatformAdmin])
    }

    /// Sends a JSON request; returns status and body (JSON, or a string).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// The LRS's statements of a registration, oldest stored first (up to 100), read with
    /// `token` (a learner reads their own).
    pub async fn statements_of(&self, token: &str, registration: &str) -> Vec<Value> {
        let path = format!("/api/v1/lrs/xapi/statements?registration={registration}&ascending=true&limit=100");
        let res = self
            .http
            .get(self.url(&path))
            .bearer_auth(token)
            .header("x-experience-api-version", "1.0.3")
            .send()
            .await
            .expect("the LRS answers");
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.expect("a statement result")["statements"].as_array().cloned().unwrap_or_default()
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Waits for an event on `subject` (logical, e.g. `tenant.membership.granted.v1`)
    /// that satisfies `pred`, reading the producing context's stream from the start.
    pub async fn wait_for_event(
        &self,
        subject: &str,
        deadline: Duration,
        pred: impl Fn(&mirai_events::Envelope) -> bool,
    ) -> mirai_events::Envelope {
        use async_nats::jetstream::consumer::{DeliverPolicy, pull};
        use futures::StreamExt;
        let bus = &bus(&self.prefix).await;
        let context = subject.split('.').next().expect("subject has a context");
        let stream = bus.ensure_stream(context).await.expect("stream");
        let reader = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: bus.subject(subject),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .expect("ordered consumer");
        let mut messages = reader.messages().await.expect("messages");
        let found = tokio::time::timeout(deadline, async {
            while let Some(Ok(msg)) = messages.next().await {
                if let Ok(env) = serde_json::from_slice::<mirai_events::Envelope>(&msg.payload)
                    && pred(&env)
                {
                    return Some(env);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(env)) => env,
            _ => panic!("timed out after {deadline:?} waiting for a matching {subject} event"),
        }
    }

    /// Stops the fleet, drops its database and deletes its streams.
    pub async fn stop(mut self) {
        if let Some(f) = self.fleet.take() {
            f.shutdown().await;
            let _ = bus(&self.prefix).await.delete_prefixed_streams().await;
        }
        drop_database(&self.database).await;
    }

    /// Stops the fleet only (for a replica sharing the database).
    pub async fn stop_instance(mut self) {
        if let Some(f) = self.fleet.take() {
            f.shutdown().await;
        }
    }
}

/// Polls `f` until it gives a value, or panics naming `what` after `deadline`.
pub async fn poll<T, Fut>(what: &str, deadline: Duration, mut f: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() >= end {
            panic!("timed out after {deadline:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `cond` until it holds, or panics naming `what` after `deadline`.
pub async fn wait_until<F, Fut>(what: &str, deadline: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if cond().await {
            return;
        }
        if tokio::time::Instant::now() >= end {
            panic!("timed out after {deadline:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Percent-encodes a query value (RFC 3986: everything but unreserved characters).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Asserts a response is a problem of the given type slug and status.
#[track_caller]
pub fn assert_problem(res: &(StatusCode, Value), status: u16, slug: &str) {
    assert_eq!(res.0.as_u16(), status, "status; body: {}", res.1);
    assert_eq!(
        res.1["type"].as_str(),
        Some(format!("{}{slug}", mirai_kit::error::PROBLEM_BASE).as_str()),
        "problem type; body: {}",
        res.1
    );
    assert!(res.1["trace_id"].is_string(), "problem has a trace_id: {}", res.1);
}
