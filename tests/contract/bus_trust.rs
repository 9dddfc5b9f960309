//! The bus is a trust boundary (ADR 0006). These tests run a NATS server of their own
//! with the chart's permissions (`mirai nats-auth --prod`, exact stream and consumer
//! names) and hold it to them; every other test runs on the shared dev server, whose
//! permissions differ only in allowing test-prefixed stream names.

use std::time::Duration;

use futures::StreamExt;
use mirai_events::Bus;
use mirai_testkit::PrivateNats;

/// A NATS server with the production permissions, and an admin bus on it.
async fn prod_nats() -> (PrivateNats, Bus) {
    let users: Vec<&str> = mirai::services().iter().map(|s| s.name).collect();
    let conf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/mirai/files/nats-auth.conf");
    let nats = PrivateNats::start(&conf, &users).expect("a private nats-server");
    let admin = Bus::connect_with(&nats.config().admin_bus_options()).await.expect("admin connects");
    (nats, admin)
}

/// Subscribes as admin to everything under the prefix and collects what arrives.
async fn watch(admin: &Bus) -> async_nats::Subscriber {
    let sub = admin.client.subscribe(format!("{}>", admin.prefix())).await.unwrap();
    admin.client.flush().await.unwrap();
    sub
}

/// Publishes `control` as `publisher` (again every half second: core NATS is at most
/// once) until `sub` sees it, and returns everything `sub` saw until then. A publisher's
/// messages arrive in order, so anything it sent before that got through is in the list.
async fn seen_until_control(publisher: &Bus, sub: &mut async_nats::Subscriber, control: &str) -> Vec<String> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        publisher.client.publish(control.to_owned(), "{}".into()).await.unwrap();
        publisher.client.flush().await.unwrap();
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
            got.push(m.subject.to_string());
            if m.subject.as_str() == control {
                return got;
            }
        }
    }
    panic!("the control message never arrived (saw {got:?}; publisher {:?})", publisher.client.connection_state());
}

#[tokio::test]
async fn a_service_publishes_only_its_own_subjects_and_cannot_touch_streams() {
    let (nats, admin) = prod_nats().await;
    admin.ensure_stream("identity").await.unwrap();
    admin.ensure_stream("tenant").await.unwrap();
    let cfg = nats.config();
    let tenant = Bus::connect_with(&cfg.bus_options("tenant")).await.expect("tenant connects with its own user");
    let mut seen = watch(&admin).await;

    // Its own subjects flow: the positive control shows the watch works.
    let control = tenant.subject("tenant.org_unit.created.v1");
    assert_eq!(seen_until_control(&tenant, &mut seen, &control).await.last(), Some(&control));
    // Forging identity's key events (or anyone else's): the server drops them.
    for subject in ["identity.signing_key.published.v1", "identity.apikey.created.v1", "lrs.statement.stored.v1"] {
        tenant.client.publish(tenant.subject(subject), "{}".into()).await.unwrap();
    }
    let got = seen_until_control(&tenant, &mut seen, &control).await;
    assert!(got.iter().all(|s| *s == control), "only tenant's own subject got through: {got:?}");
    let mut identity = admin.stream("identity").await.unwrap();
    assert_eq!(identity.info().await.unwrap().state.messages, 0, "nothing reached identity's stream");

    // Stream administration is the operator's: a service that could create or update a
    // stream could republish into any subject, and one that could delete could erase.
    let name = tenant.stream_name("tenant");
    // A refused request gets no answer: wait one second, not the default five.
    let mut js = tenant.js.clone();
    js.set_timeout(Duration::from_secs(1));
    assert!(js.delete_stream(&name).await.is_err(), "a service cannot delete a stream");
    let own = js.get_stream(&name).await.unwrap();
    assert!(own.purge().await.is_err(), "a service cannot purge a stream");
    let evil = async_nats::jetstream::stream::Config {
        name: tenant.stream_name("evil"),
        subjects: vec![tenant.subject("tenant.evil.>")],
        republish: Some(async_nats::jetstream::stream::Republish {
            source: tenant.subject("tenant.evil.>"),
            destination: tenant.subject("identity.signing_key.published.v1"),
            headers_only: false,
        }),
        ..Default::default()
    };
    assert!(js.create_stream(evil).await.is_err(), "a service cannot create a stream");
    assert!(admin.stream("tenant").await.is_ok(), "tenant's stream is still there");

    // Its own stream it may read (start-up checks it exists).
    assert!(tenant.stream("tenant").await.is_ok());
}

#[tokio::test]
async fn a_process_without_credentials_cannot_connect() {
    let (nats, _admin) = prod_nats().await;
    let url = nats.url.clone();
    let anonymous = async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(3)).connect(&url).await;
    assert!(anonymous.is_err(), "an anonymous client is refused");
    let wrong = async_nats::ConnectOptions::new()
        .user_and_password("tenant".into(), "guessed".into())
        .connection_timeout(Duration::from_secs(3))
        .connect(&url)
        .await;
    assert!(wrong.is_err(), "a wrong password is refused");
    let mut as_identity = nats.config().bus_options("identity");
    as_identity.user = Some("tenant".into());
    assert!(Bus::connect_with(&as_identity).await.is_err(), "one service's password is not another's");
}

/// Defence in depth: even a key event that reaches identity's stream (a compromised
/// admin, a misconfigured server) is applied only if identity's pinned key signed it.
#[tokio::test]
async fn the_key_store_ignores_forged_key_events() {
    use mirai_contracts::events::identity::ApiKeyCreated;
    use mirai_events::{Envelope, NewEvent, outbox::EnvelopeSigner};
    use sha2::Digest;

    let app = mirai_testkit::TestApp::spawn(&[mirai_identity::service()]).await;
    let admin = mirai_testkit::bus(&app.prefix).await;
    let tenant = uuid::Uuid::now_v7();
    let key = |label: &str| {
        let id = format!("mk_{}", uuid::Uuid::now_v7().simple());
        let secret = format!("{label}-{}", uuid::Uuid::new_v4().simple());
        let event = ApiKeyCreated {
            key_id: id.clone(),
            tenant_id: tenant.into(),
            name: label.into(),
            secret_sha256: hex::encode(sha2::Sha256::digest(secret.as_bytes())),
            roles: vec!["org_admin".into()],
            scopes: vec![],
            expires_at: None,
            created_by: "attacker".into(),
            revision: 1,
        };
        (id, secret, NewEvent::from(event).into_envelope("identity", &Default::default()))
    };
    let publish = |env: Envelope| {
        let admin = admin.clone();
        async move {
            let subject = admin.subject(&env.kind);
            admin.js.publish(subject, serde_json::to_vec(&env).unwrap().into()).await.unwrap().await.unwrap();
        }
    };
    let works = |id: String, secret: String| {
        let http = app.http.clone();
        let url = app.url("/api/v1/identity/me");
        async move { http.get(url).basic_auth(id, Some(secret)).send().await.unwrap().status().as_u16() }
    };

    // Unsigned, signed by a key nobody pinned, and signed then altered (roles widened).
    let (unsigned_id, unsigned_secret, unsigned) = key("unsigned");
    publish(unsigned).await;
    let stranger = {
        use p256::{elliptic_curve::Generate, pkcs8::EncodePrivateKey};
        let pem = p256::ecdsa::SigningKey::generate().to_pkcs8_pem(Default::default()).unwrap();
        mirai_kit::auth::bus_signing::BusSigner::from_pem(&pem).unwrap()
    };
    let (foreign_id, foreign_secret, mut foreign) = key("foreign");
    stranger.sign(&mut foreign);
    publish(foreign).await;
    let (altered_id, altered_secret, altered) = key("altered");
    let mut altered = mirai_testkit::signed_by_identity(altered);
    altered.data["roles"] = serde_json::json!(["platform_admin"]);
    publish(altered).await;
    // The control: one signed with identity's key, published after them.
    let (good_id, good_secret, good) = key("genuine");
    publish(mirai_testkit::signed_by_identity(good)).await;

    mirai_testkit::wait_until("the genuine key is applied", Duration::from_secs(5), || {
        let (id, secret) = (good_id.clone(), good_secret.clone());
        let works = &works;
        async move { works(id, secret).await == 200 }
    })
    .await;
    for (what, id, secret) in [
        ("unsigned", unsigned_id, unsigned_secret),
        ("signed by a stranger", foreign_id, foreign_secret),
        ("altered after signing", altered_id, altered_secret),
    ] {
        assert_eq!(works(id, secret).await, 401, "a key from an event {what} must not work");
    }
    app.stop().await;
}

/// NATS has no owner for a consumer name, so the permissions name each service's own:
/// another service can neither read a consumer's state nor pull (and ack away) its
/// messages, which would hide, say, a membership revocation from identity.
#[tokio::test]
async fn a_service_cannot_read_or_drain_another_services_consumer() {
    use async_nats::jetstream::consumer::{PullConsumer, pull};
    let (nats, admin) = prod_nats().await;
    let stream = admin.ensure_stream("tenant").await.unwrap();
    let durable = "identity-memberships";
    let config = pull::Config { durable_name: Some(durable.into()), ..Default::default() };
    stream.get_or_create_consumer(durable, config).await.unwrap();
    let subject = admin.subject("tenant.membership.revoked.v1");
    admin.js.publish(subject, "{}".into()).await.unwrap().await.unwrap();
    let cfg = nats.config();
    let name = admin.stream_name("tenant");

    // lrs reads tenant's stream too (its own consumer), but not identity's consumer.
    let lrs = Bus::connect_with(&cfg.bus_options("lrs")).await.unwrap();
    let mut js = lrs.js.clone();
    js.set_timeout(Duration::from_secs(1));
    let tenant_stream = js.get_stream(&name).await.expect("lrs may look up a stream it consumes");
    assert!(tenant_stream.get_consumer::<pull::Config>(durable).await.is_err(), "no reading another's consumer");
    let pull = lrs.client.request(format!("$JS.API.CONSUMER.MSG.NEXT.{name}.{durable}"), r#"{"batch":1}"#.into());
    let drained = tokio::time::timeout(Duration::from_millis(1500), pull).await;
    assert!(!matches!(drained, Ok(Ok(_))), "no pulling another's consumer");

    // The owner can, and the message is still there for it.
    let identity = Bus::connect_with(&cfg.bus_options("identity")).await.unwrap();
    let consumer: PullConsumer =
        identity.js.get_stream(&name).await.unwrap().get_consumer(durable).await.expect("identity reads its own");
    let mut batch = consumer.fetch().max_messages(1).expires(Duration::from_secs(2)).messages().await.unwrap();
    let msg = batch.next().await.expect("a message").unwrap();
    assert_eq!(msg.subject.as_str(), admin.subject("tenant.membership.revoked.v1"));
    msg.ack().await.unwrap();
}

/// The chart runs NATS over TLS (`NATS_URL=tls://…`, `MIRAI_NATS_CA_FILE`): a service
/// connects when the server's certificate chains to the configured CA, and refuses a
/// server it cannot verify.
#[tokio::test]
async fn services_reach_nats_over_tls_only_with_a_certificate_they_trust() {
    let dir = std::env::temp_dir().join(format!("mirai-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(&dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    for ca in ["ca", "other-ca"] {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.pem"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
    }
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=nats",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ]);
    let users: Vec<&str> = mirai::services().iter().map(|s| s.name).collect();
    let conf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/mirai/files/nats-auth.conf");
    let nats = PrivateNats::start_tls(&conf, &users, &dir.join("server.pem"), &dir.join("server.key")).unwrap();
    assert!(nats.url.starts_with("tls://"));

    let mut cfg = nats.config();
    cfg.nats_ca_file = Some(dir.join("ca.pem"));
    let tenant = Bus::connect_with(&cfg.bus_options("tenant")).await.expect("trusted certificate: connects");
    assert!(tenant.client.server_info().tls_required, "the session is TLS");
    cfg.nats_ca_file = Some(dir.join("other-ca.pem"));
    assert!(Bus::connect_with(&cfg.bus_options("tenant")).await.is_err(), "a server it cannot verify is refused");
    cfg.nats_ca_file = None;
    assert!(Bus::connect_with(&cfg.bus_options("tenant")).await.is_err(), "the system roots do not know a private CA");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// In the chart a service's pods start beside the migration Job that provisions its
/// stream: a fleet that starts first must not fail (a crash loop), and must publish
/// what it committed meanwhile once the stream exists.
#[tokio::test]
async fn a_service_started_before_its_stream_waits_and_then_publishes() {
    use sqlx::Connection as _;
    let services = [mirai_tenant::service()];
    let database = mirai_testkit::scratch_database(&[("tenant", services[0].migrations)]).await.unwrap();
    let prefix = mirai_testkit::nats_prefix();
    let cfg = mirai_testkit::config(&database, &prefix);
    let fleet = mirai_kit::fleet::start(cfg.clone(), &services, false).await.expect("starts without its stream");

    // An event committed while the stream is missing waits in the outbox.
    let mut conn = sqlx::PgConnection::connect(&mirai_testkit::url_for_db(&database)).await.unwrap();
    sqlx::query("SET search_path = tenant").execute(&mut conn).await.unwrap();
    let event = mirai_events::NewEvent::new(
        "tenant.feature_flag.changed.v1",
        uuid::Uuid::now_v7(),
        serde_json::json!({ "tenant_id": uuid::Uuid::now_v7(), "key": "ai.authoring", "enabled": true }),
    );
    mirai_events::outbox::enqueue(&mut conn, "tenant", &Default::default(), event).await.unwrap();
    let pending = || async {
        let mut c = sqlx::PgConnection::connect(&mirai_testkit::url_for_db(&database)).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tenant.outbox WHERE published_at IS NULL")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pending().await, 1, "nothing to publish to yet");

    // The operator provisions; the relay publishes without a restart.
    mirai_kit::fleet::provision_streams(&cfg, &services).await.unwrap();
    mirai_testkit::wait_until("the outbox drains", Duration::from_secs(10), || async { pending().await == 0 }).await;
    fleet.shutdown().await;
    let _ = mirai_testkit::bus(&prefix).await.delete_prefixed_streams().await;
    mirai_testkit::drop_database(&database).await;
}
