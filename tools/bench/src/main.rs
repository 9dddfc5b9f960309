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

mod spine;

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

/// LRS: statements/s for POSTs of 1, 10 and 100; query latency at 1M stored statements
/// (loaded in SQL with a realistic spread); bytes stored per statement.
async fn lrs() -> anyhow::Result<Vec<String>> {
    use base64::Engine;
    let app = TestApp::spawn(&[mirai_lrs::service()]).await;
    let tenant = Uuid::now_v7();
    let (id, secret) = app.api_key(tenant, &[Role::Learner], &["all"]);
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")));
    let url = app.url("/api/v1/lrs/xapi/statements");
    let stmt = |i: usize| {
        json!({ "actor": { "mbox": format!("mailto:learner{}@example.com", i % 1000) }, "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" },
            "object": { "id": format!("http://example.com/activity/{}", i % 100) }, "result": { "score": { "scaled": 0.8 }, "success": true } })
    };
    let mut rows = vec![];
    for batch in [1usize, 10, 100] {
        let requests = 2000 / batch.max(1);
        let per_client = requests / 4;
        let start = Instant::now();
        let mut lat = vec![];
        let results = futures::future::join_all((0..4).map(|c| {
            let (http, url, auth) = (app.http.clone(), url.clone(), auth.clone());
            async move {
                let mut l = vec![];
                for r in 0..per_client {
                    let body: Vec<_> = (0..batch).map(|k| stmt(c * 100_000 + r * batch + k)).collect();
                    let t = Instant::now();
                    let res = http
                        .post(&url)
                        .header("authorization", &auth)
                        .header("x-experience-api-version", "1.0.3")
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 200);
                    l.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                l
            }
        }))
        .await;
        let elapsed = start.elapsed().as_secs_f64();
        results.into_iter().for_each(|r| lat.extend(r));
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        rows.push(format!(
            "| LRS POST of {batch} statement(s), 4 clients | {:.0} statements/s | request p50 {:.1} ms, p99 {:.1} ms |",
            (per_client * 4 * batch) as f64 / elapsed,
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        ));
        eprintln!("{}", rows.last().unwrap());
    }
    // 1M statements, loaded in SQL: 10k actors, 50 verbs, 2k activities, 50k registrations.
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&mirai_testkit::url_for_db(&app.database)).await?;
    let load = Instant::now();
    sqlx::query(
        "INSERT INTO lrs.statements (tenant_id, id, stored, ts, version, actor, verb, object_activity, registration, authority, agents, activities, body, submitted) \
         SELECT $1, gen_random_uuid(), now() - make_interval(secs => 1000000 - g), now() - make_interval(secs => 1000000 - g), '1.0.0', \
                'mbox:mailto:l' || (g % 10000) || '@example.com', 'http://example.com/verbs/v' || (g % 50), 'http://example.com/act/' || (g % 2000), \
                md5((g % 50000)::text)::uuid, 'account:bench|k', ARRAY['mbox:mailto:l' || (g % 10000) || '@example.com'], ARRAY['http://example.com/act/' || (g % 2000)], \
                b.body, b.body \
         FROM generate_series(1, 1000000) g, LATERAL (SELECT jsonb_build_object( \
                'id', gen_random_uuid(), 'actor', jsonb_build_object('mbox', 'mailto:l' || (g % 10000) || '@example.com'), \
                'verb', jsonb_build_object('id', 'http://example.com/verbs/v' || (g % 50), 'display', jsonb_build_object('en-US', 'did')), \
                'object', jsonb_build_object('id', 'http://example.com/act/' || (g % 2000)), \
                'result', jsonb_build_object('score', jsonb_build_object('scaled', 0.5), 'success', true), \
                'context', jsonb_build_object('registration', md5((g % 50000)::text)::uuid), \
                'timestamp', now(), 'stored', now(), 'version', '1.0.0', \
                'authority', jsonb_build_object('account', jsonb_build_object('homePage', 'bench', 'name', 'k'))) AS body) b",
    )
    .bind(tenant)
    .execute(&mut admin)
    .await?;
    sqlx::query("ANALYZE lrs.statements").execute(&mut admin).await?;
    let loaded = load.elapsed().as_secs_f64();
    let (count, bytes): (i64, i64) =
        sqlx::query_as("SELECT count(*), pg_total_relation_size('lrs.statements') FROM lrs.statements")
            .fetch_one(&mut admin)
            .await?;
    rows.push(format!(
        "| LRS storage at {count} statements (loaded in {loaded:.0}s) | {} bytes/statement (table + all indexes) | |",
        bytes / count.max(1)
    ));
    let registrations: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT registration FROM lrs.statements TABLESAMPLE SYSTEM (1) WHERE registration IS NOT NULL LIMIT 200")
            .fetch_all(&mut admin)
            .await?;
    let enc = mirai_testkit::percent_encode;
    for (label, make) in [
        (
            "by agent",
            Box::new(|i: usize| {
                format!("agent={}", enc(&format!("{{\"mbox\":\"mailto:l{}@example.com\"}}", i * 37 % 10000)))
            }) as Box<dyn Fn(usize) -> String>,
        ),
        (
            "by verb + activity",
            Box::new(|i: usize| {
                format!(
                    "verb={}&activity={}",
                    enc(&format!("http://example.com/verbs/v{}", i % 50)),
                    enc(&format!("http://example.com/act/{}", i * 13 % 2000))
                )
            }),
        ),
        (
            "by registration",
            Box::new(move |i: usize| format!("registration={}", registrations[i % registrations.len()])),
        ),
    ] {
        let mut lat = vec![];
        for i in 0..200 {
            let t = Instant::now();
            let res = app
                .http
                .get(format!("{url}?{}&limit=25", make(i)))
                .header("authorization", &auth)
                .header("x-experience-api-version", "1.0.3")
                .send()
                .await?;
            assert_eq!(res.status(), 200, "{label}");
            let _ = res.bytes().await?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        rows.push(format!(
            "| LRS GET query {label}, limit 25, at 1M statements | | p50 {:.1} ms, p99 {:.1} ms |",
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        ));
        eprintln!("{}", rows.last().unwrap());
    }
    app.stop().await;
    Ok(rows)
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
    // `MIRAI_BENCH_ONLY=spine|foundation|lrs` runs one group.
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
        rows.extend(lrs().await?);
    }
    println!("{}", rows.join("\n"));
    Ok(())
}
