//! ai-gateway's own settings (`MIRAI_AI_GATEWAY__*`).

use std::time::Duration;

use mirai_kit::config::{Config, ConfigError};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `CONNECT_TIMEOUT_MS`: to open a connection to a provider, default 3000.
    pub connect_timeout: Duration,
    /// `RETRIES`: extra attempts on one target after a retryable error, default 2.
    pub retries: u32,
    /// `RETRY_BASE_MS`: the first backoff (doubled per attempt, full jitter), default 200.
    pub retry_base: Duration,
    /// `BREAKER_FAILURES`: consecutive failures that open a provider's circuit, default 5.
    pub breaker_failures: u32,
    /// `BREAKER_COOLDOWN_SECS`: how long an open circuit refuses calls, default 30.
    pub breaker_cooldown: Duration,
    /// `MAX_OUTPUT_TOKENS`: the most a call may ask for, default 8192.
    pub max_output_tokens: u32,
    /// `DEFAULT_OUTPUT_TOKENS`: when a call names none, default 1024.
    pub default_output_tokens: u32,
    /// `BLOCK_PRIVATE_HOSTS`: refuse provider URLs on loopback and private addresses
    /// (`1`; the chart sets it), default `0` so a laptop can use a local model server.
    pub block_private_hosts: bool,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let num = |key: &str, default: u64| Config::service_num(crate::NAME, key, default);
        Ok(Self {
            connect_timeout: Duration::from_millis(num("CONNECT_TIMEOUT_MS", 3000)?),
            retries: num("RETRIES", 2)? as u32,
            retry_base: Duration::from_millis(num("RETRY_BASE_MS", 200)?),
            breaker_failures: num("BREAKER_FAILURES", 5)?.max(1) as u32,
            breaker_cooldown: Duration::from_secs(num("BREAKER_COOLDOWN_SECS", 30)?),
            max_output_tokens: num("MAX_OUTPUT_TOKENS", 8192)? as u32,
            default_output_tokens: num("DEFAULT_OUTPUT_TOKENS", 1024)? as u32,
            block_private_hosts: num("BLOCK_PRIVATE_HOSTS", 0)? != 0,
        })
    }
}
