//! A private SMTP sink: `aiosmtpd` (PyPI, installed by `make setup`) writing every message
//! it gets into a Maildir, one per test.

use std::{path::PathBuf, process::Child, time::Duration};

pub struct SmtpSink {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SmtpSink {
    /// Starts one and waits until it listens.
    pub async fn start() -> SmtpSink {
        let state = std::env::var("MIRAI_STATE_DIR").unwrap_or_else(|_| "/var/tmp/mirai".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("mirai-mail-{}", uuid::Uuid::now_v7().simple()));
        let child = std::process::Command::new(format!("{state}/venv/bin/python"))
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .spawn()
            .expect("aiosmtpd (make setup installs it)");
        let s = SmtpSink { child, dir, port };
        crate::poll("the SMTP sink listens", Duration::from_secs(10), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(drop)
        })
        .await;
        s
    }

    /// What notification's `SMTP_URL` is set to.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, raw.
    pub fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("new")) else { return vec![] };
        entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
    }
}

/// The decoded body parts of a MIME message (quoted-printable soft breaks undone).
pub fn unfolded(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}
