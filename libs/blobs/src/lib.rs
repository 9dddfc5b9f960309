//! The object store media and content keep files in, through the `object_store` crate: a
//! local directory by default, any S3-compatible bucket in production
//! (`mirai_kit::config::BlobSettings`). Every key a service writes is under
//! `tenants/<tenant_id>/…`.
//!
//! Clients move bytes directly, never through a service's JSON API: an upload or a
//! download is a short-lived URL signed for one method and one object. S3 signs its own
//! (SigV4 query parameters, checked by the bucket). A file store has no server of its own,
//! so its URLs point at media's `/blobs/{key}` route and carry an HMAC over method, key,
//! expiry, and (for an upload) the exact size and type; media checks them with
//! [`Blobs::verify`] before it reads or writes a byte.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use mirai_kit::config::BlobSettings;
use object_store::{ObjectStore, aws::AmazonS3Builder, local::LocalFileSystem, path::Path, signer::Signer};
use secrecy::ExposeSecret;
use sha2::Sha256;

pub use object_store;

/// A signed URL's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Upload exactly `size` bytes of `content_type`.
    Put,
    /// Download.
    Get,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Self::Put => "PUT",
            Self::Get => "GET",
        }
    }
}

/// What a file-store URL grants, once [`Blobs::verify`] has checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub key: String,
    pub size: Option<u64>,
    pub content_type: Option<String>,
    pub filename: Option<String>,
}

/// Why a file-store URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The signature does not match what the URL says (tampered, or another key's).
    BadSignature,
    /// The URL's time is up.
    Expired,
    /// Parameters are missing or malformed.
    Malformed(&'static str),
}

#[derive(Clone)]
enum Signing {
    Local { key: Arc<[u8]>, base: String },
    S3(Arc<object_store::aws::AmazonS3>),
}

/// The store and the way its URLs are signed.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    signing: Signing,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blobs({})", self.store)
    }
}

const P_METHOD: &str = "X-Mirai-Method";
const P_EXPIRES: &str = "X-Mirai-Expires";
const P_SIZE: &str = "X-Mirai-Size";
const P_TYPE: &str = "X-Mirai-Type";
const P_NAME: &str = "X-Mirai-Filename";
const P_SIG: &str = "X-Mirai-Signature";

impl Blobs {
    /// Opens the configured store. `blob_base` is the absolute URL of media's `/blobs`
    /// route, where a file store's signed URLs point.
    pub fn open(settings: &BlobSettings, blob_base: &str) -> anyhow::Result<Self> {
        if let Some(dir) = settings.store.strip_prefix("file://") {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("MIRAI_BLOB_STORE: cannot create {dir}: {e}"))?;
            let store = LocalFileSystem::new_with_prefix(dir)?.with_automatic_cleanup(true);
            if settings.signing_key_is_dev {
                tracing_warn_dev();
            }
            return Ok(Self {
                store: Arc::new(store),
                signing: Signing::Local {
                    key: Arc::from(settings.signing_key.expose_secret().as_bytes()),
                    base: blob_base.trim_end_matches('/').to_owned(),
                },
            });
        }
        let bucket = settings
            .store
            .strip_prefix("s3://")
            .filter(|b| !b.is_empty() && !b.contains('/'))
            .ok_or_else(|| anyhow::anyhow!("MIRAI_BLOB_STORE must be file:///<dir> or s3://<bucket>"))?;
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket).with_region(&settings.s3_region);
        if let Some(endpoint) = &settings.s3_endpoint {
            b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
            // Path-style addressing: an S3-compatible server is rarely behind wildcard DNS.
            b = b.with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&settings.s3_access_key_id, &settings.s3_secret_access_key) {
            b = b.with_access_key_id(id).with_secret_access_key(secret.expose_secret());
        }
        let s3 = Arc::new(b.build()?);
        Ok(Self { store: s3.clone(), signing: Signing::S3(s3) })
    }

    /// The object store itself.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// True for a file store, whose URLs media serves.
    pub fn is_local(&self) -> bool {
        matches!(self.signing, Signing::Local { .. })
    }

    /// A URL that allows `access` to `key` until `ttl` from now. An upload's URL names the
    /// exact size and type (a file store refuses anything else; S3 is checked at
    /// completion). A download's may name the type and file name it is served under.
    pub async fn sign(
        &self,
        access: Access,
        key: &str,
        ttl: Duration,
        size: Option<u64>,
        content_type: Option<&str>,
        filename: Option<&str>,
    ) -> anyhow::Result<(String, DateTime<Utc>)> {
        let expires = Utc::now() + chrono::Duration::from_std(ttl)?;
        match &self.signing {
            Signing::S3(s3) => {
                let method = match access {
                    Access::Put => http::Method::PUT,
                    Access::Get => http::Method::GET,
                };
                let url = s3.signed_url(method, &Path::parse(key)?, ttl).await?;
                Ok((url.to_string(), expires))
            }
            Signing::Local { key: secret, base } => {
                let exp = expires.timestamp().to_string();
                let size = size.map(|s| s.to_string());
                let mut params = vec![(P_METHOD, access.as_str()), (P_EXPIRES, exp.as_str())];
                if let Some(s) = &size {
                    params.push((P_SIZE, s));
                }
                if let Some(t) = content_type {
                    params.push((P_TYPE, t));
                }
                if let Some(n) = filename {
                    params.push((P_NAME, n));
                }
                let sig = mac(secret, key, &params);
                params.push((P_SIG, &sig));
                let query = serde_urlencoded::to_string(&params)?;
                Ok((format!("{base}/{key}?{query}"), expires))
            }
        }
    }

    /// Checks a file-store URL's query for `method` on `key`: signed with our key, over
    /// exactly these parameters, and not expired.
    pub fn verify(&self, access: Access, key: &str, query: &str) -> Result<Grant, Refused> {
        let Signing::Local { key: secret, .. } = &self.signing else {
            return Err(Refused::Malformed("this store signs its own URLs"));
        };
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|_| Refused::Malformed("query string"))?;
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let sig = get(P_SIG).ok_or(Refused::Malformed("X-Mirai-Signature is missing"))?;
        let params: Vec<(&str, &str)> =
            [P_METHOD, P_EXPIRES, P_SIZE, P_TYPE, P_NAME].into_iter().filter_map(|n| get(n).map(|v| (n, v))).collect();
        // Only the names we sign, each once: anything else means someone edited the URL.
        if pairs.len() != params.len() + 1 {
            return Err(Refused::BadSignature);
        }
        let expected = mac(secret, key, &params);
        let given = hex::decode(sig).map_err(|_| Refused::BadSignature)?;
        let expected = hex::decode(expected).expect("our own hex");
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_slice(), given.as_slice())) {
            return Err(Refused::BadSignature);
        }
        if get(P_METHOD) != Some(access.as_str()) {
            return Err(Refused::BadSignature);
        }
        let expires: i64 = get(P_EXPIRES).and_then(|e| e.parse().ok()).ok_or(Refused::Malformed("X-Mirai-Expires"))?;
        if Utc::now().timestamp() > expires {
            return Err(Refused::Expired);
        }
        Ok(Grant {
            key: key.to_owned(),
            size: get(P_SIZE).and_then(|s| s.parse().ok()),
            content_type: get(P_TYPE).map(str::to_owned),
            filename: get(P_NAME).map(str::to_owned),
        })
    }
}

/// The object store did not do what was asked: a 503 (retryable), never a 500.
pub fn unavailable(e: impl std::fmt::Display) -> mirai_kit::AppError {
    mirai_kit::AppError::Unavailable(format!("object store: {e}"))
}

fn mac(secret: &[u8], key: &str, params: &[(&str, &str)]) -> String {
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(key.as_bytes());
    for (k, v) in params {
        m.update(b"\n");
        m.update(k.as_bytes());
        m.update(b"=");
        m.update(v.as_bytes());
    }
    hex::encode(m.finalize().into_bytes())
}

fn tracing_warn_dev() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        eprintln!("blobs: MIRAI_BLOB_SIGNING_KEY is unset: signing file-store URLs with the dev-only key");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Blobs {
        let dir = std::env::temp_dir().join("mirai-blobs-unit");
        let settings = BlobSettings {
            store: format!("file://{}", dir.display()),
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            signing_key: "k".to_owned().into(),
            signing_key_is_dev: false,
        };
        Blobs::open(&settings, "http://x/api/v1/media/blobs").unwrap()
    }

    #[tokio::test]
    async fn file_store_urls_grant_one_method_on_one_key_until_they_expire() {
        let b = local();
        let key = "tenants/t/media/a";
        let (url, _) =
            b.sign(Access::Put, key, Duration::from_secs(60), Some(5), Some("image/png"), None).await.unwrap();
        let query = url.split_once('?').unwrap().1;
        let grant = b.verify(Access::Put, key, query).unwrap();
        assert_eq!((grant.size, grant.content_type.as_deref()), (Some(5), Some("image/png")));
        // Another method, another key, a changed size, an added parameter: refused.
        assert_eq!(b.verify(Access::Get, key, query), Err(Refused::BadSignature));
        assert_eq!(b.verify(Access::Put, "tenants/t/media/b", query), Err(Refused::BadSignature));
        assert_eq!(
            b.verify(Access::Put, key, &query.replace("X-Mirai-Size=5", "X-Mirai-Size=6")),
            Err(Refused::BadSignature)
        );
        assert_eq!(b.verify(Access::Put, key, &format!("{query}&x=1")), Err(Refused::BadSignature));
        // Expired: a URL signed in the past.
        let (old, _) = b.sign(Access::Get, key, Duration::ZERO, None, None, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(b.verify(Access::Get, key, old.split_once('?').unwrap().1), Err(Refused::Expired));
    }
}
