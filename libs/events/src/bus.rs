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

/// The commands' context: `cmd.<receiver>.<command>.vN`, one stream with work-queue
/// retention (a command is removed once its receiver acked it; each receiver's consumer
/// filters its own subjects, so no two overlap).
pub const COMMANDS_CONTEXT: &str = "cmd";

/// Contexts whose streams are compacted per key: each event goes to
/// `<type>.<aggregate>[.<tenant>]` and the stream keeps the newest message per subject.
/// Identity's stream distributes keys and access: every key store replays it from the
/// start, so it must neither grow without bound nor age keys out; compacted per key it
/// holds one message per (event type, key): a key's creation and its revocation, a
/// signing key's publication (with its JWK) and its retirement, the newest access
/// revision per user and tenant.
pub const COMPACTED_CONTEXTS: &[&str] = &["identity"];

/// The NATS subject of an event of `kind` about `aggregate` in `tenant`: the type itself,
/// or, in a compacted context, the type keyed by aggregate and tenant.
pub fn event_subject(kind: &str, aggregate: Option<&str>, tenant: Option<uuid::Uuid>) -> String {
    let context = kind.split('.').next().unwrap_or_default();
    match aggregate {
        Some(agg) if COMPACTED_CONTEXTS.contains(&context) => {
            let token = |s: &str| s.replace(['.', '*', '>', ' ', '\t', '\r', '\n'], "_");
            match tenant {
                Some(t) => format!("{kind}.{}.{}", token(agg), t.simple()),
                None => format!("{kind}.{}", token(agg)),
            }
        }
        _ => kind.to_owned(),
    }
}

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
            max_messages_per_subject: if COMPACTED_CONTEXTS.contains(&context) { 1 } else { 0 },
            retention: if context == COMMANDS_CONTEXT {
                stream::RetentionPolicy::WorkQueue
            } else {
                stream::RetentionPolicy::Limits
            },
            ..Default::default()
        };
        let mut stream =
            self.js.get_or_create_stream(config.clone()).await.with_context(|| format!("creating stream {name}"))?;
        let current = stream.info().await.with_context(|| format!("reading stream {name}"))?.config.clone();
        let mut compact = config.max_messages_per_subject;
        if compact != current.max_messages_per_subject && compact > 0 && self.has_unkeyed_events(&stream).await {
            // Events from before keyed subjects share one subject per type: compacting
            // them would keep one key for the whole platform. Leave such a stream alone.
            tracing::warn!(stream = %name, "the stream holds events from before per-key subjects; \
                not compacting it (it is compacted when created afresh)");
            compact = current.max_messages_per_subject;
        }
        if current.max_age != config.max_age
            || current.max_bytes != config.max_bytes
            || current.subjects != config.subjects
            || current.max_messages_per_subject != compact
        {
            let mut updated = current.clone();
            updated.max_age = config.max_age;
            updated.max_bytes = config.max_bytes;
            updated.subjects = config.subjects.clone();
            updated.max_messages_per_subject = compact;
            self.js.update_stream(updated).await.with_context(|| format!("updating stream {name}"))?;
            tracing::info!(stream = %name, max_age = ?limits.max_age, max_bytes = limits.max_bytes, "stream limits updated");
            stream = self.js.get_stream(&name).await?;
        }
        Ok(stream)
    }

    /// Whether `stream` holds an event on an unkeyed subject (`<context>.<agg>.<event>.vN`,
    /// four tokens after the prefix).
    async fn has_unkeyed_events(&self, stream: &stream::Stream) -> bool {
        use futures::StreamExt;
        let pattern = format!("{}*.*.*.*", self.prefix);
        match stream.info_with_subjects(pattern).await {
            Ok(mut subjects) => subjects.next().await.is_some(),
            Err(_) => false,
        }
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
