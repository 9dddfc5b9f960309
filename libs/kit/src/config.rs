//! Configuration: defaults in code, overridden by env, validated at start with an error
//! that names the variable. Secrets are `SecretString` and never logged.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use mirai_events::bus::{BusOptions, StreamLimits};

use crate::auth::bus_signing::{self, BusSigner, BusVerifier};

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
    /// `MIRAI_DB_ACQUIRE_TIMEOUT_MS`, default 1500: how long a request waits for a
    /// database connection before it is answered 503 (an outage answers fast).
    pub db_acquire_timeout: Duration,
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
    /// `MIRAI_NATS_CA_FILE`: PEM CA bundle the NATS server's certificate is checked
    /// against; set, the connection must be TLS.
    pub nats_ca_file: Option<PathBuf>,
    /// `MIRAI_NATS_ADMIN_PASSWORD`: the `admin` NATS user's password, used only by operator
    /// commands (`mirai migrate` provisions streams with it) and tests.
    pub nats_admin_password: SecretString,
    /// `MIRAI_STREAM_MAX_AGE` (`30d`, `12h`, `0` = forever) and `MIRAI_STREAM_MAX_BYTES`
    /// (-1 = unlimited): every stream's limits, unless `MIRAI_<SERVICE>__STREAM_MAX_*`.
    pub stream_limits: StreamLimits,
    /// `MIRAI_TENANT_RATE_PER_SEC` (default 2000; 0 = off) and `MIRAI_TENANT_RATE_BURST`
    /// (default 4000): each instance's ceiling on one tenant's requests.
    pub tenant_rate_per_sec: u32,
    pub tenant_rate_burst: u32,
    /// `MIRAI_TRUSTED_PROXIES`: comma-separated CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<crate::client_ip::Cidr>,
    /// `MIRAI_BUS_VERIFY_KEYS`: the PEM public key(s) identity's key-distribution events
    /// must be signed with (ADR 0006); the dev-only key when unset.
    pub bus_verifier: BusVerifier,
    /// True when `MIRAI_BUS_VERIFY_KEYS` is unset and the dev-only key is trusted.
    pub bus_keys_are_dev: bool,
    /// Where media and imported packages are stored (`MIRAI_BLOB_*`).
    pub blobs: BlobSettings,
    /// Service-specific settings given in code (`MIRAI_<SERVICE>__<KEY>` → value), read
    /// before the environment by [`Config::setting`]: a test's short retry schedule.
    pub service_settings: std::collections::BTreeMap<String, String>,
}

/// The object store media and content write to: a local directory by default, any
/// S3-compatible bucket in production.
#[derive(Debug, Clone)]
pub struct BlobSettings {
    /// `MIRAI_BLOB_STORE`: `file:///<dir>` (default `file:///var/tmp/mirai/blobs`) or
    /// `s3://<bucket>`.
    pub store: String,
    /// `MIRAI_BLOB_S3_ENDPOINT`: an S3-compatible server's URL; unset, AWS's.
    pub s3_endpoint: Option<String>,
    /// `MIRAI_BLOB_S3_REGION`, default `us-east-1`.
    pub s3_region: String,
    /// `MIRAI_BLOB_S3_ACCESS_KEY_ID` / `MIRAI_BLOB_S3_SECRET_ACCESS_KEY`; unset, the
    /// usual AWS chain (`AWS_*`, web identity, instance metadata).
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<SecretString>,
    /// `MIRAI_BLOB_SIGNING_KEY`: the HMAC key of the short-lived URLs a file store's
    /// uploads and downloads go through (S3 signs its own); the dev-only key when unset.
    pub signing_key: SecretString,
    pub signing_key_is_dev: bool,
}

/// The file store's URL-signing key when `MIRAI_BLOB_SIGNING_KEY` is unset (dev only).
pub const DEV_BLOB_SIGNING_KEY: &str = "mirai-dev-only-blob-signing-key";

/// The `admin` NATS user's password in the server `make setup` starts (dev only).
pub const DEV_NATS_ADMIN_PASSWORD: &str = "mirai-dev-admin";

/// A service's NATS password in the server `make setup` starts (dev only).
pub fn dev_nats_password(service: &str) -> String {
    format!("mirai-dev-{service}")
}

/// `30d`, `12h`, `90m`, `45s` or a bare number of seconds; `0` is forever.
fn parse_age(v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num.parse().map_err(|_| format!("`{v}` is not a duration like 30d, 12h, 90m or 45s"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{v}` is not a duration like 30d, 12h, 90m or 45s")),
    };
    Ok(Duration::from_secs(secs))
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
            db_acquire_timeout: Duration::from_millis(parse_num(&var, "MIRAI_DB_ACQUIRE_TIMEOUT_MS", 1500)?),
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
            nats_ca_file: var("MIRAI_NATS_CA_FILE").map(PathBuf::from),
            nats_admin_password: SecretString::from(
                var("MIRAI_NATS_ADMIN_PASSWORD").unwrap_or_else(|| DEV_NATS_ADMIN_PASSWORD.into()),
            ),
            stream_limits: StreamLimits {
                max_age: match var("MIRAI_STREAM_MAX_AGE") {
                    Some(v) => parse_age(&v).map_err(|m| err("MIRAI_STREAM_MAX_AGE", m))?,
                    None => Duration::ZERO,
                },
                max_bytes: parse_num(&var, "MIRAI_STREAM_MAX_BYTES", -1)?,
            },
            tenant_rate_per_sec: parse_num(&var, "MIRAI_TENANT_RATE_PER_SEC", 2000)?,
            tenant_rate_burst: parse_num(&var, "MIRAI_TENANT_RATE_BURST", 4000)?,
            bus_verifier: BusVerifier::from_pem_bundle(
                var("MIRAI_BUS_VERIFY_KEYS").as_deref().unwrap_or(bus_signing::DEV_VERIFY_KEY_PEM),
            )
            .map_err(|m| err("MIRAI_BUS_VERIFY_KEYS", m))?,
            bus_keys_are_dev: var("MIRAI_BUS_VERIFY_KEYS").is_none(),
            trusted_proxies: match var("MIRAI_TRUSTED_PROXIES") {
                Some(v) => v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|c| c.parse().map_err(|m: String| err("MIRAI_TRUSTED_PROXIES", m)))
                    .collect::<Result<_, _>>()?,
                None => vec![],
            },
            blobs: BlobSettings {
                store: match var("MIRAI_BLOB_STORE") {
                    Some(s) if !(s.starts_with("file:///") || s.starts_with("s3://")) => {
                        return Err(err("MIRAI_BLOB_STORE", "must be file:///<dir> or s3://<bucket>"));
                    }
                    Some(s) => s,
                    None => "file:///var/tmp/mirai/blobs".into(),
                },
                s3_endpoint: var("MIRAI_BLOB_S3_ENDPOINT"),
                s3_region: var("MIRAI_BLOB_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                s3_access_key_id: var("MIRAI_BLOB_S3_ACCESS_KEY_ID"),
                s3_secret_access_key: var("MIRAI_BLOB_S3_SECRET_ACCESS_KEY").map(SecretString::from),
                signing_key: SecretString::from(
                    var("MIRAI_BLOB_SIGNING_KEY").unwrap_or_else(|| DEV_BLOB_SIGNING_KEY.into()),
                ),
                signing_key_is_dev: var("MIRAI_BLOB_SIGNING_KEY").is_none(),
            },
            service_settings: Default::default(),
        })
    }

    /// A service-specific setting, `MIRAI_<SERVICE>__<KEY>`: from `service_settings`,
    /// else the environment.
    pub fn setting(&self, service: &str, key: &str) -> Option<String> {
        let name = service_var_name(service, key);
        self.service_settings.get(&name).cloned().filter(|v| !v.is_empty()).or_else(|| Self::service_var(service, key))
    }

    /// A service-specific number (`setting`), `default` when unset; not a number is an
    /// error naming the variable.
    pub fn setting_num(&self, service: &str, key: &str, default: u64) -> Result<u64, ConfigError> {
        match self.setting(service, key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ConfigError {
                var: service_var_name(service, key),
                message: format!("`{v}` is not a number"),
            }),
        }
    }

    /// How `service` (a NATS user of its own) connects to the bus. Its password is
    /// `MIRAI_<SERVICE>__NATS_PASSWORD`; without one, the dev-only default `make setup`
    /// configures.
    pub fn bus_options(&self, service: &str) -> BusOptions {
        BusOptions {
            url: self.nats_url.clone(),
            user: Some(service.to_owned()),
            password: Some(Self::service_var(service, "NATS_PASSWORD").unwrap_or_else(|| dev_nats_password(service))),
            ca_file: self.nats_ca_file.clone(),
            prefix: self.nats_prefix.clone(),
            replicas: self.stream_replicas,
        }
    }

    /// The key `service` signs its key-distribution events with:
    /// `MIRAI_<SERVICE>__BUS_SIGNING_KEY` (PKCS#8 PEM), else the dev-only key.
    pub fn bus_signer(&self, service: &str) -> Result<BusSigner, ConfigError> {
        let var = format!("MIRAI_{}__BUS_SIGNING_KEY", service.to_uppercase().replace('-', "_"));
        match Self::service_var(service, "BUS_SIGNING_KEY") {
            Some(pem) => BusSigner::from_pem(&pem).map_err(|m| err(&var, m)),
            None => {
                tracing::warn!("{var} is unset: signing key events with the dev-only key (never in production)");
                Ok(BusSigner::from_pem(bus_signing::DEV_SIGNING_KEY_PEM).expect("the dev key parses"))
            }
        }
    }

    /// How operator commands connect: as the `admin` user.
    pub fn admin_bus_options(&self) -> BusOptions {
        BusOptions {
            user: Some("admin".into()),
            password: Some(self.nats_admin_password.expose_secret().to_owned()),
            ..self.bus_options("admin")
        }
    }

    /// The password of `service`'s runtime database role: `MIRAI_<SERVICE>__DB_PASSWORD`,
    /// else `MIRAI_DB_APP_PASSWORD` (one per service in production; the chart sets each).
    pub fn db_password(&self, service: &str) -> SecretString {
        Self::service_var(service, "DB_PASSWORD")
            .map(SecretString::from)
            .unwrap_or_else(|| self.db_app_password.clone())
    }

    /// The limits of `context`'s stream: `MIRAI_<CONTEXT>__STREAM_MAX_AGE` / `..._BYTES`
    /// over the fleet-wide ones.
    pub fn stream_limits_for(&self, context: &str) -> Result<StreamLimits, ConfigError> {
        // Identity's stream distributes keys: every key store replays it from the start,
        // so an age or size limit would forget keys still in use (fail closed for every
        // restarted pod). It keeps everything until keys are compacted per key.
        if context == "identity" {
            if self.stream_limits != StreamLimits::default() || Self::service_var(context, "STREAM_MAX_AGE").is_some() {
                tracing::warn!("stream limits do not apply to identity's key-distribution stream; it keeps everything");
            }
            return Ok(StreamLimits::default());
        }
        let mut limits = self.stream_limits.clone();
        if let Some(v) = Self::service_var(context, "STREAM_MAX_AGE") {
            limits.max_age =
                parse_age(&v).map_err(|m| err(&format!("MIRAI_{}__STREAM_MAX_AGE", context.to_uppercase()), m))?;
        }
        if let Some(v) = Self::service_var(context, "STREAM_MAX_BYTES") {
            limits.max_bytes = v.trim().parse().map_err(|_| {
                err(&format!("MIRAI_{}__STREAM_MAX_BYTES", context.to_uppercase()), format!("`{v}` is not a number"))
            })?;
        }
        Ok(limits)
    }

    /// The admin database URL (migrations, test databases).
    pub fn admin_url(&self) -> &str {
        self.database_url.expose_secret()
    }

    /// A service-specific setting: `MIRAI_<SERVICE>__<KEY>`.
    pub fn service_var(service: &str, key: &str) -> Option<String> {
        std::env::var(service_var_name(service, key)).ok().filter(|v| !v.is_empty())
    }

    /// A service-specific number, `default` when unset; not a number is an error naming
    /// the variable.
    pub fn service_num(service: &str, key: &str, default: u64) -> Result<u64, ConfigError> {
        match Self::service_var(service, key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ConfigError {
                var: service_var_name(service, key),
                message: format!("`{v}` is not a number"),
            }),
        }
    }
}

fn service_var_name(service: &str, key: &str) -> String {
    format!("MIRAI_{}__{}", service.to_uppercase().replace('-', "_"), key)
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
        let e = Config::from_lookup(|k| (k == "MIRAI_STREAM_MAX_AGE").then(|| "3 weeks".into())).unwrap_err();
        assert_eq!(e.var, "MIRAI_STREAM_MAX_AGE");
        let e = Config::from_lookup(|k| (k == "MIRAI_TRUSTED_PROXIES").then(|| "10.0.0.0/33".into())).unwrap_err();
        assert_eq!(e.var, "MIRAI_TRUSTED_PROXIES");
        let c = Config::from_lookup(|k| match k {
            "MIRAI_STREAM_MAX_AGE" => Some("30d".into()),
            "MIRAI_TRUSTED_PROXIES" => Some("10.0.0.0/8, 192.168.1.7".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.stream_limits.max_age, Duration::from_secs(30 * 86_400));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(!format!("{:?}", c.admin_bus_options()).is_empty());
    }
}
