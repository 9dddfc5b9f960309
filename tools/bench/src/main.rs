//! `make bench`: the event spine beside raw JetStream (`spine`),
//! JWT and API-key verification rates, login rate with the production argon2 cost, and
//! the idle RSS of `mirai dev`. Runs against the local Postgres and NATS from `make setup`.

use std::time::{Duration, Instant};

use mirai_events::{EventMeta, NewEvent};
use mirai_kit::{
    Role,
    auth::{
        KeyStore, jwt,
        keystore::{APIKEY_CREATED, SIGNING_KEY_PUBLISHED},
    },
};
use mirai_testkit::{TestApp, drop_database, nats_prefix};
use serde_json::json;
use sha2::Digest;
use uuid::Uuid;

mod ai;
mod commerce;
mod delivery;
mod discover;
mod lrs;
mod spine;
mod webhooks;

pub(crate) fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rate(label: &str, mut f: impl FnMut() -> bool) -> String {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..1000 {
            assert!(f(), "{label}: unexpected result");
        }
        n += 1000;
    }
    format!("| {label} | {:.0}/s (one core) | |", n as f64 / start.elapsed().as_secs_f64())
}

fn verification_rates() -> Vec<String> {
    use mirai_kit::auth::bus_signing::{BusSigner, BusVerifier, DEV_SIGNING_KEY_PEM, DEV_VERIFY_KEY_PEM};
    let keys = KeyStore::new(
        "https://bench/api/v1/identity",
        "mirai",
        BusVerifier::from_pem_bundle(DEV_VERIFY_KEY_PEM).expect("dev key"),
    );
    let bus_signer = BusSigner::from_pem(DEV_SIGNING_KEY_PEM).expect("dev key");
    let signer = <p256::ecdsa::SigningKey as p256::elliptic_curve::Generate>::generate();
    let publish = |subject: &'static str, data: serde_json::Value| {
        let mut env = NewEvent::new(subject, "x", data).into_envelope("identity", &EventMeta::default());
        mirai_events::outbox::EnvelopeSigner::sign(&bus_signer, &mut env);
        keys.receive(&env).expect("signed with the dev key");
    };
    publish(
        SIGNING_KEY_PUBLISHED,
        json!({ "kid": "k1", "jwk": jwt::jwk_from_key("k1", signer.verifying_key()), "not_before": chrono::Utc::now(), "revision": 1 }),
    );
    let now = chrono::Utc::now().timestamp();
    let claims = jwt::Claims {
        iss: "https://bench/api/v1/identity".into(),
        aud: "mirai".into(),
        sub: format!("user:{}", Uuid::now_v7()),
        exp: now + 900,
        iat: now,
        nbf: None,
        jti: "j".into(),
        tid: Some(Uuid::now_v7()),
        roles: vec![Role::OrgAdmin.as_str().into()],
        scopes: vec![],
        email: None,
        kind: "user".into(),
        ver: None,
    };
    let token = jwt::sign(&signer, "k1", &claims);
    // Distinct tokens, each seen once: the full ES256 signature check every time.
    let fresh: Vec<String> = (0..30_000)
        .map(|i| {
            let mut c = claims.clone();
            c.jti = format!("j{i}");
            format!("Bearer {}", jwt::sign(&signer, "k1", &c))
        })
        .collect();
    let mut next = fresh.iter().cycle();
    // 10,000 keys in the store, as a busy platform would hold.
    let mut secret = String::new();
    for i in 0..10_000 {
        let id = format!("mk_{}", Uuid::now_v7().simple());
        let s = format!("secret-{i}-{}", Uuid::new_v4());
        publish(
            APIKEY_CREATED,
            json!({ "key_id": id, "tenant_id": Uuid::now_v7(), "name": "b", "secret_sha256": hex::encode(sha2::Sha256::digest(s.as_bytes())),
            "roles": ["org_admin"], "scopes": [], "expires_at": null, "created_by": "b", "revision": 1 }),
        );
        if i == 5_000 {
            secret = format!("{id}_{s}");
        }
    }
    let bearer_jwt = format!("Bearer {token}");
    let bearer_key = format!("Bearer {secret}");
    let unknown = format!("Bearer mk_{}_{}", Uuid::now_v7().simple(), "x".repeat(43));
    vec![
        rate("JWT verification, first sight (ES256 signature check)", || {
            keys.verify_header(next.next().unwrap()).is_ok()
        }),
        rate("JWT verification, repeat token (verified-token cache)", || keys.verify_header(&bearer_jwt).is_ok()),
        rate("API-key verification, known key (10k keys held)", || keys.verify_header(&bearer_key).is_ok()),
        rate("API-key verification, unknown key", || keys.verify_header(&unknown).is_err()),
    ]
}

async fn login_rate() -> anyhow::Result<String> {
    let app = TestApp::spawn(&[mirai_identity::service()]).await;
    let ctx = app.fleet().service("identity").unwrap();
    let cred = mirai_identity::bootstrap(ctx, "bench@example.com").await?.unwrap();
    let settings = mirai_identity::Settings::from_env()?;
    let n = 200;
    let start = Instant::now();
    let mut lat = Vec::new();
    let results = futures::future::join_all((0..4).map(|_| {
        let http = app.http.clone();
        let url = app.url("/api/v1/identity/login");
        let body = json!({ "email": cred.email, "password": cred.password });
        async move {
            let mut l = vec![];
            for _ in 0..n / 4 {
                let t = Instant::now();
                let r = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 200);
                l.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            l
        }
    }))
    .await;
    let elapsed = start.elapsed();
    for r in results {
        lat.extend(r);
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    app.stop().await;
    Ok(format!(
        "| login (argon2id m={} KiB, t={}, p={}), 4 concurrent clients | {:.1} logins/s | p50 {:.1} ms, p99 {:.1} ms |",
        settings.argon2_m_kib,
        settings.argon2_t,
        settings.argon2_p,
        n as f64 / elapsed.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    ))
}

async fn idle_rss() -> anyhow::Result<String> {
    let bin = std::env::var("MIRAI_BIN").unwrap_or_else(|_| "target/release/mirai".into());
    let database = format!("mirai_t_{}", Uuid::new_v4().simple());
    {
        use sqlx::{Connection, Executor};
        let admin = std::env::var("DATABASE_URL").unwrap_or_else(|_| mirai_kit::config::DEFAULT_DATABASE_URL.into());
        let mut c = sqlx::PgConnection::connect(&admin).await?;
        c.execute(format!("CREATE DATABASE {database}").as_str()).await?;
    }
    let prefix = nats_prefix();
    let mut child = tokio::process::Command::new(&bin)
        .arg("dev")
        .env("DATABASE_URL", mirai_testkit::url_for_db(&database))
        .env("MIRAI_NATS_PREFIX", &prefix)
        .env("MIRAI_HTTP_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| anyhow::anyhow!("{bin}: {e} (set MIRAI_BIN)"))?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let pid = child.id().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or("VmRSS: ?")
        .trim_start_matches("VmRSS:")
        .trim()
        .to_owned();
    let _ = child.kill().await;
    mirai_testkit::bus(&prefix).await.delete_prefixed_streams().await?;
    drop_database(&database).await;
    Ok(format!("| idle RSS of `mirai dev` (every implemented service, release build) | {rss} | |"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mirai_kit::telemetry::init_logging();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let mut rows = vec![
        format!("Machine: {} cores, {cpu}", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)),
        String::new(),
        "| what | throughput | latency |".into(),
        "|---|---|---|".into(),
    ];
    // `MIRAI_BENCH_ONLY=spine|foundation|lrs|discover|ai|webhooks|commerce|delivery` runs one group.
    let only = std::env::var("MIRAI_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "spine" {
        rows.extend(spine::rows().await?);
    }
    if only.is_empty() || only == "foundation" {
        rows.extend(verification_rates());
        rows.push(login_rate().await?);
        eprintln!("{}", rows.last().unwrap());
        rows.push(idle_rss().await?);
    }
    if only.is_empty() || only == "lrs" {
        rows.extend(lrs::rows().await?);
    }
    if only.is_empty() || only == "discover" {
        rows.extend(discover::rows().await?);
    }
    if only.is_empty() || only == "ai" {
        rows.extend(ai::rows().await?);
    }
    if only.is_empty() || only == "webhooks" {
        rows.extend(webhooks::rows().await?);
    }
    if only.is_empty() || only == "commerce" {
        rows.extend(commerce::rows().await?);
    }
    if only.is_empty() || only == "delivery" {
        rows.extend(delivery::rows().await?);
    }
    println!("{}", rows.join("\n"));
    Ok(())
}
