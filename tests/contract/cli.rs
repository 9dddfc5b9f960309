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
}

#[tokio::test]
async fn admin_bootstrap_prints_the_credential_once() {
    let db = scratch_database(&[("identity", mirai_identity::MIGRATIONS)]).await.unwrap();
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
