//! A private `localstripe` (the stateful Stripe fake `make setup` installs), started
//! `--from-scratch` on a free port and killed when dropped: billing's tests, the
//! value-stream test and the commerce bench pay through it.

use std::{process::Child, time::Duration};

/// The secret key the fake accepts (any `sk_…` does).
pub const SECRET_KEY: &str = "sk_test_mirai";

pub struct Localstripe {
    child: Child,
    /// `http://127.0.0.1:<port>`: billing's `MIRAI_BILLING__STRIPE_API_BASE`.
    pub base: String,
    pub http: reqwest::Client,
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Localstripe {
    /// Starts one and waits until it answers.
    pub async fn start() -> Localstripe {
        let state = std::env::var("MIRAI_STATE_DIR").unwrap_or_else(|_| "/var/tmp/mirai".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(format!("{state}/venv/bin/localstripe"))
            .args(["--port", &port.to_string(), "--from-scratch"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("localstripe (make setup installs it)");
        let s = Localstripe { child, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() };
        crate::poll("localstripe listens", Duration::from_secs(20), || async {
            let res = s.http.get(format!("{}/v1/customers", s.base)).bearer_auth(SECRET_KEY).send().await.ok()?;
            (res.status() == 200).then_some(())
        })
        .await;
        s
    }

    /// Sends the fake's webhooks for every event to `url`, signed with `secret`.
    pub async fn send_webhooks_to(&self, url: &str, secret: &str) {
        let res = self
            .http
            .post(format!("{}/_config/webhooks/mirai", self.base))
            .form(&[("url", url), ("secret", secret)])
            .send()
            .await;
        assert_eq!(res.map(|r| r.status().as_u16()).ok(), Some(200), "localstripe takes the webhook");
    }

    /// A form-encoded call with the secret key; panics on anything but a 2xx.
    pub async fn call(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let res = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// What a buyer's browser does with Stripe.js: attach a card and confirm.
    pub async fn confirm(&self, pi: &str, pm: &str) {
        self.call(reqwest::Method::POST, &format!("/v1/payment_intents/{pi}"), &[("payment_method", pm)]).await;
        self.call(reqwest::Method::POST, &format!("/v1/payment_intents/{pi}/confirm"), &[]).await;
    }
}
