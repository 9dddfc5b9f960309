//! media's own settings (`MIRAI_MEDIA__*`).

use std::time::Duration;

use mirai_kit::config::{Config, ConfigError};

#[derive(Debug, Clone)]
pub struct Settings {
    /// `MAX_ASSET_BYTES`: the largest file, default 2 GiB.
    pub max_asset_bytes: i64,
    /// `TENANT_QUOTA_BYTES`: what one tenant may store (ready and pending uploads),
    /// default 50 GiB.
    pub tenant_quota_bytes: i64,
    /// `UPLOAD_URL_TTL_SECS`: how long an upload URL is good for, default 900.
    pub upload_ttl: Duration,
    /// `DOWNLOAD_URL_TTL_SECS`: how long a download URL is good for, default 300.
    pub download_ttl: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let num = |key: &str, default: u64| Config::service_num(crate::NAME, key, default);
        Ok(Self {
            max_asset_bytes: num("MAX_ASSET_BYTES", 2 << 30)? as i64,
            tenant_quota_bytes: num("TENANT_QUOTA_BYTES", 50 << 30)? as i64,
            upload_ttl: Duration::from_secs(num("UPLOAD_URL_TTL_SECS", 900)?),
            download_ttl: Duration::from_secs(num("DOWNLOAD_URL_TTL_SECS", 300)?),
        })
    }
}
