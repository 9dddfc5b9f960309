//! identity's own settings (`MIRAI_IDENTITY__*`).

use std::time::Duration;

use mirai_kit::config::{Config, ConfigError};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `ACCESS_TTL_SECS`, default 900 (15 min).
    pub access_ttl: Duration,
    /// `REFRESH_TTL_SECS`, default 30 days.
    pub refresh_ttl: Duration,
    /// `KEY_PUBLISH_DELAY_SECS`: a rotated key is in JWKS this long before it signs.
    pub key_publish_delay: Duration,
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`, default 5 per window.
    pub max_failures_account: i32,
    /// `LOGIN_MAX_FAILURES_PER_IP`, default 50 per window.
    pub max_failures_ip: i32,
    /// `LOGIN_WINDOW_SECS`, default 900.
    pub login_window: Duration,
    /// Argon2id cost: `ARGON2_M_KIB` (19456), `ARGON2_T` (2), `ARGON2_P` (1) — OWASP's
    /// minimum recommendation.
    pub argon2_m_kib: u32,
    pub argon2_t: u32,
    pub argon2_p: u32,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let num = |key: &str, default: u64| Config::service_num(crate::NAME, key, default);
        Ok(Self {
            access_ttl: Duration::from_secs(num("ACCESS_TTL_SECS", 900)?),
            refresh_ttl: Duration::from_secs(num("REFRESH_TTL_SECS", 30 * 24 * 3600)?),
            key_publish_delay: Duration::from_secs(num("KEY_PUBLISH_DELAY_SECS", 10)?),
            max_failures_account: num("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)? as i32,
            max_failures_ip: num("LOGIN_MAX_FAILURES_PER_IP", 50)? as i32,
            login_window: Duration::from_secs(num("LOGIN_WINDOW_SECS", 900)?),
            argon2_m_kib: num("ARGON2_M_KIB", 19456)? as u32,
            argon2_t: num("ARGON2_T", 2)? as u32,
            argon2_p: num("ARGON2_P", 1)? as u32,
        })
    }
}
