//! The connection to JetStream, with a subject prefix so tests (and tenants of a shared
//! broker) never see each other's subjects or streams.
//!
//! The bus is a trust boundary (ADR 0006): each service connects as its own NATS user,
//! allowed to publish only its own subjects and to read only the streams it declares.
//! Streams are provisioned by the operator (`mirai migrate`, with the admin user), never by
//! a service: a stream's config can republish or source into any subject, so the right to
//! create one is the right to forge events.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};

/// The dead-letter stream's context name: subjects `dlq.<consumer>`.
pub const DLQ_CONTEXT: &str = "dlq";

/// How a bus connects. `Default` is an anonymous connection to nowhere; fill `url`.
#[derive(Clone, Default)]
pub struct BusOptions {
    pub url: String,
    /// The NATS user (a service's name, or `admin`); `None` uses what the URL carries.
    pub user: Option<String>,
    pub password: Option<String>,
    /// A PEM CA bundle to verify the server with (turns TLS on).
    pub ca_file: Option<PathBuf>,
    pub prefix: String,
    pub replicas: usize,
}

impl std::fmt::Debug for BusOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusOptions")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("ca_file", &self.ca_file)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The inbox prefix a user's replies arrive on (and the only one it may subscribe to).
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{}", user.replace(['.', '*', '>', ' '], "_"))
}

/// A stream's retention limits (`MIRAI_STREAM_MAX_AGE`, `MIRAI_STREAM_MAX_BYTES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLimits {
    /// Zero keeps messages forever.
    pub max_age: Duration,
    /// -1 is unlimited.
    pub max_bytes: i64,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self { max_age: Duration::ZERO, max_bytes: -1 }
    }
}

#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    prefix: String,
    replicas: usize,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("prefix", &self.prefix).finish()
    }
}

impl Bus {
    /// Connects to `url` with the credentials in the URL, if any. `prefix` is empty in
    /// production; tests pass e.g. `t1a2b3c.`.
    pub async fn connect(url: &str, prefix: &str, replicas: usize) -> anyhow::Result<Self> {
        Self::connect_with(&BusOptions {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            replicas,
            ..Default::default()
        })
        .await
    }

    /// Connects as `options.user` (when set), with replies on the user's own inbox prefix
    /// `_INBOX_<user>` (the only one it may subscribe to, so it never sees another
    /// service's replies), over TLS when the URL is `tls://` or a CA file is given.
    pub async fn connect_with(options: &BusOptions) -> anyhow::Result<Self> {
        let mut connect = async_nats::ConnectOptions::new()
            .name(options.user.as_deref().map_or("mirai".to_owned(), |u| format!("mirai-{u}")))
            .connection_timeout(Duration::from_secs(5));
        if let Some(user) = &options.user {
            connect = connect
                .user_and_password(user.clone(), options.password.clone().unwrap_or_default())
                .custom_inbox_prefix(inbox_prefix(user));
        }
        if let Some(ca) = &options.ca_file {
            connect = connect.add_root_certificates(ca.clone()).require_tls(true);
        }
        let url = &options.url;
        let who = options.user.as_deref().map(|u| format!(" as {u}")).unwrap_or_default();
        let client = connect.connect(url).await.with_context(|| format!("NATS_URL: cannot connect to {url}{who}"))?;
        let js = jetstream::new(client.clone());
        Ok(Self { client, js, prefix: options.prefix.clone(), replicas: options.replicas.max(1) })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The wire subject for a logical subject.
    pub fn subject(&self, logical: &str) -> String {
        format!("{}{logical}", self.prefix)
    }

    /// The logical subject of a wire subject.
    pub fn logical<'a>(&self, wire: &'a str) -> &'a str {
        wire.strip_prefix(self.prefix.as_str()).unwrap_or(wire)
    }

    /// The stream that holds a context's events: `IDENTITY` over `identity.>`.
    pub fn stream_name(&self, context: &str) -> String {
        let p = self.prefix.trim_end_matches('.').replace(['.', '-'], "_").to_uppercase();
        let c = context.replace('-', "_").to_uppercase();
        if p.is_empty() { c } else { format!("{p}_{c}") }
    }

    /// The context's stream, which must exist (services read streams; the operator makes
    /// them, see [`Bus::provision_stream`]).
    pub async fn stream(&self, context: &str) -> anyhow::Result<stream::Stream> {
        let name = self.stream_name(context);
        self.js
            .get_stream(&name)
            .await
            .with_context(|| format!("stream {name} is missing or not readable: `mirai migrate` provisions it"))
    }

    /// Creates the context's stream if it is missing, with default limits (idempotent;
    /// safe from many replicas). Operator and test use: it needs the admin user.
    pub async fn ensure_stream(&self, context: &str) -> anyhow::Result<stream::Stream> {
        self.provision_stream(context, &StreamLimits::default()).await
    }

    /// Creates the context's stream, or updates it when its limits changed. Operator use.
    pub async fn provision_stream(&self, context: &str, limits: &StreamLimits) -> anyhow::Result<stream::Stream> {
        let name = self.stream_name(context);
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![self.subject(&format!("{context}.>"))],
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            duplicate_window: Duration::from_secs(120),
            max_age: limits.max_age,
            max_bytes: limits.max_bytes,
            ..Default::default()
        };
        let mut stream =
            self.js.get_or_create_stream(config.clone()).await.with_context(|| format!("creating stream {name}"))?;
        let current = &stream.info().await.with_context(|| format!("reading stream {name}"))?.config;
        if current.max_age != config.max_age
            || current.max_bytes != config.max_bytes
            || current.subjects != config.subjects
        {
            let mut updated = current.clone();
            updated.max_age = config.max_age;
            updated.max_bytes = config.max_bytes;
            updated.subjects = config.subjects.clone();
            self.js.update_stream(updated).await.with_context(|| format!("updating stream {name}"))?;
            tracing::info!(stream = %name, max_age = ?limits.max_age, max_bytes = limits.max_bytes, "stream limits updated");
            stream = self.js.get_stream(&name).await?;
        }
        Ok(stream)
    }

    /// Deletes every stream this bus's prefix owns (tests clean up with it).
    pub async fn delete_prefixed_streams(&self) -> anyhow::Result<()> {
        use futures::TryStreamExt;
        if self.prefix.is_empty() {
            anyhow::bail!("refusing to delete unprefixed streams");
        }
        let head = format!("{}_", self.stream_name("x").trim_end_matches("_X"));
        let names: Vec<String> = self.js.stream_names().try_collect().await?;
        for name in names.into_iter().filter(|n| n.starts_with(&head)) {
            let _ = self.js.delete_stream(&name).await;
        }
        Ok(())
    }
}
