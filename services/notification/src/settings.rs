//! notification's own settings (`MIRAI_NOTIFICATION__*`).

use std::time::Duration;

use mirai_kit::config::{Config, ConfigError};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `RETRY_SCHEDULE_SECS`: the waits before each retry of a failed delivery, comma
    /// separated; default `5,300,1800,7200,18000,36000,36000,36000,36000,86400` (eleven
    /// attempts over about three days).
    pub retry_schedule: Vec<Duration>,
    /// `TIMEOUT_MS`: one attempt's whole request, default 15000.
    pub timeout: Duration,
    /// `CONNECT_TIMEOUT_MS`: default 5000.
    pub connect_timeout: Duration,
    /// `DISABLE_AFTER_SECS`: an endpoint whose every delivery has failed for this long
    /// (and at least `DISABLE_MIN_FAILURES` times) is disabled; default 259200 (3 days).
    pub disable_after: Duration,
    /// `DISABLE_MIN_FAILURES`: default 10.
    pub disable_min_failures: i32,
    /// `SECRET_GRACE_SECS`: how long a rotated secret still signs, default 86400.
    pub secret_grace: Duration,
    /// `DELIVERY_WORKERS`: attempts in flight at once per replica, default 8 (each holds a
    /// pooled connection while the receiver answers, so at most the pool size less 2).
    pub workers: usize,
    /// `SMTP_URL`: where email goes (`smtp://host:port` in the clear, `smtps://user:pass@host`
    /// or `smtp://…?tls=required`); unset, emails fail with that reason.
    pub smtp_url: Option<secrecy::SecretString>,
    /// `FROM`: the sender, default `Mirai <no-reply@mirai.localhost>`.
    pub from: lettre::message::Mailbox,
    /// `APP_URL`: where an email's links lead, default the public URL.
    pub app_url: String,
    /// The public URL (`MIRAI_PUBLIC_URL`), where unsubscribe links point.
    pub public_url: String,
    /// `MAX_STREAMS`: live inbox streams one replica serves at once, default 256 (each
    /// looks for new items every 2 s); a member may hold 3.
    pub max_streams: usize,
    /// `BLOCK_PRIVATE_HOSTS`: refuse endpoint URLs on loopback and private addresses
    /// (`1`; the chart sets it), default `0` so a laptop can receive on localhost.
    pub block_private_hosts: bool,
}

impl Settings {
    pub fn from_config(config: &Config, public_url: &str) -> Result<Self, ConfigError> {
        let num = |key: &str, default: u64| config.setting_num(crate::NAME, key, default);
        let schedule = config
            .setting(crate::NAME, "RETRY_SCHEDULE_SECS")
            .unwrap_or_else(|| "5,300,1800,7200,18000,36000,36000,36000,36000,86400".into());
        let retry_schedule = schedule
            .split(',')
            .map(|s| s.trim().parse::<u64>().map(Duration::from_secs))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ConfigError {
                var: "MIRAI_NOTIFICATION__RETRY_SCHEDULE_SECS".into(),
                message: format!("`{schedule}` is not a comma-separated list of seconds"),
            })?;
        Ok(Self {
            retry_schedule,
            timeout: Duration::from_millis(num("TIMEOUT_MS", 15_000)?),
            connect_timeout: Duration::from_millis(num("CONNECT_TIMEOUT_MS", 5_000)?),
            disable_after: Duration::from_secs(num("DISABLE_AFTER_SECS", 259_200)?),
            disable_min_failures: num("DISABLE_MIN_FAILURES", 10)? as i32,
            secret_grace: Duration::from_secs(num("SECRET_GRACE_SECS", 86_400)?),
            block_private_hosts: num("BLOCK_PRIVATE_HOSTS", 0)? != 0,
            max_streams: num("MAX_STREAMS", 256)? as usize,
            smtp_url: config.setting(crate::NAME, "SMTP_URL").map(secrecy::SecretString::from),
            from: config
                .setting(crate::NAME, "FROM")
                .unwrap_or_else(|| "Mirai <no-reply@mirai.localhost>".into())
                .parse()
                .map_err(|e| ConfigError {
                    var: "MIRAI_NOTIFICATION__FROM".into(),
                    message: format!("not an address: {e}"),
                })?,
            app_url: config.setting(crate::NAME, "APP_URL").unwrap_or_else(|| public_url.to_owned()),
            public_url: public_url.trim_end_matches('/').to_owned(),

            workers: (num("DELIVERY_WORKERS", 8)? as usize).min(config.db_pool_size.saturating_sub(2) as usize).max(1),
        })
    }
}
