//! Configuration: defaults in code, overridden by env, validated at start with an error
//! that names the variable. Secrets are `SecretString` and never logged.

use std::{net::SocketAddr, time::Duration};

use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: String,
    pub message: String,
}

fn err(var: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { var: var.to_owned(), message: message.into() }
}

/// Where the fleet listens, what it connects to, and the knobs every service shares.
#[derive(Debug, Clone)]
pub struct Config {
    /// `MIRAI_HTTP_ADDR`, default `127.0.0.1:8080`; port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// `MIRAI_PUBLIC_URL`: the base URL clients use; defaults to `http://<bound addr>`.
    pub public_url: Option<String>,
    /// `DATABASE_URL`: an admin URL (migrations) whose host and database services share.
    pub database_url: SecretString,
    /// `MIRAI_DB_APP_PASSWORD`: password of each service's runtime role.
    pub db_app_password: SecretString,
    /// `MIRAI_DB_POOL_SIZE` per service.
    pub db_pool_size: u32,
    /// `NATS_URL`, default `nats://127.0.0.1:42229` (what `make setup` starts).
    pub nats_url: String,
    /// `MIRAI_NATS_PREFIX`: prefix for every subject and stream (tests isolate with it).
    pub nats_prefix: String,
    /// `MIRAI_STREAM_REPLICAS`: JetStream replicas (3 in production).
    pub stream_replicas: usize,
    /// `MIRAI_HTTP_BODY_LIMIT` in bytes, default 1 MiB.
    pub body_limit: usize,
    /// `MIRAI_CORS_ORIGINS`: comma-separated origins, or `*`.
    pub cors_origins: Vec<String>,
    /// `MIRAI_JWT_AUDIENCE`, default `mirai`.
    pub jwt_audience: String,
    /// `MIRAI_SHUTDOWN_GRACE_SECS`: how long in-flight work may take on SIGTERM.
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request's headers, and to send each part of
    /// its body, before the connection is closed (slow clients hold no connection).
    pub http_read_timeout: Duration,
    /// `MIRAI_APIKEY_USAGE_FLUSH_MS`: how often API-key last-used times are reported.
    pub apikey_usage_flush: Duration,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: OTLP/HTTP base URL; traces are exported when set.
    pub otlp_endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` (default) or `http/json`.
    pub otlp_protocol: mirai_trace::Protocol,
    /// `OTEL_SERVICE_NAME`, default `mirai`.
    pub otel_service_name: String,
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:54329/mirai";
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:42229";

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds a config from any key lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let http_addr = match var("MIRAI_HTTP_ADDR") {
            Some(v) => v
                .parse()
                .map_err(|_| err("MIRAI_HTTP_ADDR", format!("`{v}` is not a socket address like 127.0.0.1:8080")))?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(err("DATABASE_URL", "must be a postgres:// URL"));
        }
        let nats_url = var("NATS_URL").unwrap_or_else(|| DEFAULT_NATS_URL.into());
        if !(nats_url.starts_with("nats://") || nats_url.starts_with("tls://")) {
            return Err(err("NATS_URL", "must be a nats:// or tls:// URL"));
        }
        let public_url = match var("MIRAI_PUBLIC_URL") {
            Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return Err(err("MIRAI_PUBLIC_URL", "must be an http(s) URL"));
            }
            other => other.map(|u| u.trim_end_matches('/').to_owned()),
        };
        let nats_prefix = var("MIRAI_NATS_PREFIX").unwrap_or_default();
        let token = nats_prefix.strip_suffix('.').unwrap_or("");
        let valid_prefix = nats_prefix.is_empty()
            || (!token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !valid_prefix {
            return Err(err("MIRAI_NATS_PREFIX", "must be one alphanumeric token ending in `.`, e.g. `dev1.`"));
        }
        Ok(Self {
            http_addr,
            public_url,
            database_url: SecretString::from(database_url),
            db_app_password: SecretString::from(
                var("MIRAI_DB_APP_PASSWORD").unwrap_or_else(|| "mirai-dev-only".into()),
            ),
            db_pool_size: parse_num(&var, "MIRAI_DB_POOL_SIZE", 10)?,
            nats_url,
            nats_prefix,
            stream_replicas: parse_num(&var, "MIRAI_STREAM_REPLICAS", 1)?,
            body_limit: parse_num(&var, "MIRAI_HTTP_BODY_LIMIT", 1024 * 1024)?,
            cors_origins: var("MIRAI_CORS_ORIGINS")
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
            jwt_audience: var("MIRAI_JWT_AUDIENCE").unwrap_or_else(|| "mirai".into()),
            shutdown_grace: Duration::from_secs(parse_num(&var, "MIRAI_SHUTDOWN_GRACE_SECS", 20)?),
            http_read_timeout: Duration::from_millis(parse_num(&var, "MIRAI_HTTP_READ_TIMEOUT_MS", 10_000)?),
            apikey_usage_flush: Duration::from_millis(parse_num(&var, "MIRAI_APIKEY_USAGE_FLUSH_MS", 10_000)?),
            otlp_endpoint: match var("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                    return Err(err("OTEL_EXPORTER_OTLP_ENDPOINT", "must be an http(s) URL (OTLP/HTTP)"));
                }
                other => other,
            },
            otlp_protocol: match var("OTEL_EXPORTER_OTLP_PROTOCOL") {
                Some(p) => mirai_trace::Protocol::parse(&p).ok_or_else(|| {
                    err(
                        "OTEL_EXPORTER_OTLP_PROTOCOL",
                        format!("`{p}` is not supported: use http/protobuf or http/json"),
                    )
                })?,
                None => mirai_trace::Protocol::default(),
            },
            otel_service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| "mirai".into()),
        })
    }

    /// The admin database URL (migrations, test databases).
    pub fn admin_url(&self) -> &str {
        self.database_url.expose_secret()
    }

    /// A service-specific setting: `MIRAI_<SERVICE>__<KEY>`.
    pub fn service_var(service: &str, key: &str) -> Option<String> {
        std::env::var(format!("MIRAI_{}__{}", service.to_uppercase().replace('-', "_"), key))
            .ok()
            .filter(|v| !v.is_empty())
    }
}

fn parse_num<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
) -> Result<T, ConfigError> {
    match var(key) {
        Some(v) => v.trim().parse().map_err(|_| err(key, format!("`{v}` is not a number"))),
        None => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_variable() {
        let e = Config::from_lookup(|k| (k == "DATABASE_URL").then(|| "mysql://x".into())).unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
        let e = Config::from_lookup(|k| (k == "MIRAI_HTTP_ADDR").then(|| "nope".into())).unwrap_err();
        assert!(e.to_string().starts_with("MIRAI_HTTP_ADDR: "));
        let c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(c.http_addr.to_string(), "127.0.0.1:8080");
        assert!(!format!("{c:?}").contains("mirai-dev-only"), "secrets never print");
        assert_eq!(c.otlp_protocol, mirai_trace::Protocol::HttpProtobuf);
        let e = Config::from_lookup(|k| (k == "OTEL_EXPORTER_OTLP_PROTOCOL").then(|| "grpc".into())).unwrap_err();
        assert_eq!(e.var, "OTEL_EXPORTER_OTLP_PROTOCOL");
    }
}
