//! The binary itself: bad configuration fails fast naming the variable, and
//! `mirai admin bootstrap` prints a credential once.

use std::process::Command;

use mirai_testkit::{drop_database, nats_prefix, scratch_database, url_for_db};

fn mirai() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mirai"))
}

#[test]
fn bad_configuration_names_the_variable() {
    for (var, value, expected) in [
        ("DATABASE_URL", "mysql://nope", "DATABASE_URL: must be a postgres:// URL"),
        ("MIRAI_HTTP_ADDR", "not-an-address", "MIRAI_HTTP_ADDR: `not-an-address` is not a socket address"),
        ("NATS_URL", "http://x", "NATS_URL: must be a nats:// or tls:// URL"),
    ] {
        let out = mirai().arg("dev").env(var, value).output().unwrap();
        assert!(!out.status.success(), "{var}={value} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{var}: {stderr}");
    }
    let out = mirai().args(["serve", "nonesuch"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown service `nonesuch`"));
    // Production (`serve`) never trusts the dev-only bus key by default.
    let out = mirai()
        .args(["serve", "identity"])
        .env_remove("MIRAI_BUS_VERIFY_KEYS")
        .env_remove("MIRAI_DB_APP_PASSWORD")
        .env_remove("MIRAI_ALLOW_DEV_SECRETS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for var in [
        "MIRAI_BUS_VERIFY_KEYS",
        "MIRAI_IDENTITY__BUS_SIGNING_KEY",
        "MIRAI_IDENTITY__NATS_PASSWORD",
        "MIRAI_IDENTITY__DB_PASSWORD",
    ] {
        assert!(stderr.contains(var), "`serve` names {var}: {stderr}");
    }
    // Media on a file store signs its URLs with a key that must not be the dev one.
    let out = mirai()
        .args(["serve", "media"])
        .env_remove("MIRAI_BLOB_SIGNING_KEY")
        .env_remove("MIRAI_ALLOW_DEV_SECRETS")
        .env("MIRAI_BLOB_STORE", "file:///tmp/mirai-blobs")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("MIRAI_BLOB_SIGNING_KEY"), "{out:?}");
    let out = mirai().args(["serve", "tenant"]).env("MIRAI_BUS_VERIFY_KEYS", "not a key").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("MIRAI_BUS_VERIFY_KEYS: "), "{out:?}");
}

#[tokio::test]
async fn admin_bootstrap_prints_the_credential_once() {
    let db = scratch_database(&[("identity", mirai_identity::service().migrations)]).await.unwrap();
    let prefix = nats_prefix();
    let run = || {
        let out = mirai()
            .args(["admin", "bootstrap", "--email", "ops@example.com"])
            .env("DATABASE_URL", url_for_db(&db))
            .env("MIRAI_NATS_PREFIX", &prefix)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run();
    assert!(first.contains("email:    ops@example.com") && first.contains("password: "), "{first}");
    let second = run();
    assert!(second.contains("already exists") && !second.contains("password:"), "{second}");
    drop_database(&db).await;
}

/// Dev keys live with the data (the state dir), not in the clone; data sealed under
/// another KEK stops start-up with an error that names the variable and the way back,
/// instead of a 500 at every login.
#[tokio::test]
async fn a_kek_that_did_not_seal_the_keys_stops_start_up_with_the_way_back() {
    let db = scratch_database(&[("identity", mirai_identity::service().migrations)]).await.unwrap();
    let prefix = nats_prefix();
    let state = std::env::temp_dir().join(format!("mirai-state-{}", uuid::Uuid::new_v4()));
    let serve = |kek: Option<&std::path::Path>| {
        let mut cmd = mirai();
        cmd.args(["serve", "identity", "--migrate"])
            .env("MIRAI_ALLOW_DEV_SECRETS", "1")
            .env("DATABASE_URL", url_for_db(&db))
            .env("MIRAI_NATS_PREFIX", &prefix)
            .env("MIRAI_HTTP_ADDR", "127.0.0.1:0")
            .env("MIRAI_STATE_DIR", &state)
            .env("MIRAI_SHUTDOWN_GRACE_SECS", "1")
            .env("RUST_LOG", "error");
        if let Some(k) = kek {
            cmd.env("MIRAI_IDENTITY__KEK_FILE", k);
        }
        cmd
    };
    // The first start seals a signing key under the state dir's KEK, from any directory.
    let mut first = serve(None).current_dir(std::env::temp_dir()).spawn().unwrap();
    let kek = state.join("keys/identity-kek.key");
    let url = url_for_db(&db);
    mirai_testkit::wait_until("a sealed signing key", std::time::Duration::from_secs(20), || async {
        let Ok(mut c) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await else { return false };
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM identity.signing_keys")
            .fetch_one(&mut c)
            .await
            .is_ok_and(|n| n > 0)
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(kek.exists(), "the dev KEK is kept in the state dir");

    // Another KEK: start-up fails, naming the variable and the recovery.
    let other = state.join("other-kek.key");
    let out = serve(Some(&other)).output().unwrap();
    assert!(!out.status.success(), "start-up must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MIRAI_IDENTITY__KEK_FILE")
            && stderr.contains("Point MIRAI_IDENTITY__KEK_FILE at the key file"),
        "{stderr}"
    );
    drop_database(&db).await;
    let _ = mirai_testkit::bus(&prefix).await.delete_prefixed_streams().await;
    std::fs::remove_dir_all(&state).unwrap();
}
