//! The connection to JetStream, with a subject prefix so tests (and tenants of a shared
//! broker) never see each other's subjects or streams.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};

/// The dead-letter stream's context name: subjects `dlq.<consumer>`.
pub const DLQ_CONTEXT: &str = "dlq";

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
    /// Connects to `url`. `prefix` is empty in production; tests pass e.g. `t1a2b3c.`.
    pub async fn connect(url: &str, prefix: &str, replicas: usize) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .name("mirai")
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .with_context(|| format!("NATS_URL: cannot connect to {url}"))?;
        let js = jetstream::new(client.clone());
        Ok(Self { client, js, prefix: prefix.to_owned(), replicas: replicas.max(1) })
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

    /// Creates the context's stream if it is missing (idempotent; safe from many replicas).
    pub async fn ensure_stream(&self, context: &str) -> anyhow::Result<stream::Stream> {
        let name = self.stream_name(context);
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![self.subject(&format!("{context}.>"))],
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        self.js.get_or_create_stream(config).await.with_context(|| format!("creating stream {name}"))
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
