//! How a `KeyStore` is fed and reports back: it replays identity's key events from the
//! IDENTITY stream and follows it, and it reports API-key use to identity.

use std::{sync::atomic::Ordering, time::Duration};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use mirai_events::{Bus, Envelope};
use tokio_util::sync::CancellationToken;

use super::{APIKEY_USAGE_SUBJECT, ApiKeyUsage, KeyStore};

impl KeyStore {
    /// Takes the API-key uses seen since the last call.
    pub fn take_usage(&self) -> Vec<ApiKeyUsage> {
        std::mem::take(&mut *self.usage.lock().unwrap())
            .into_iter()
            .map(|(key_id, (tenant_id, at))| ApiKeyUsage { key_id, tenant_id, at })
            .collect()
    }

    /// Reports API-key use to identity every `every` (and once more on shutdown). The
    /// report is best-effort telemetry on core NATS: a lost one only delays `last_used_at`.
    pub async fn report_usage(self, bus: Bus, every: Duration, cancel: CancellationToken) {
        loop {
            let stop = tokio::select! {
                _ = cancel.cancelled() => true,
                _ = tokio::time::sleep(every) => false,
            };
            let used = self.take_usage();
            if !used.is_empty()
                && let Ok(body) = serde_json::to_vec(&used)
                && let Err(e) = bus.client.publish(bus.subject(APIKEY_USAGE_SUBJECT), body.into()).await
            {
                tracing::debug!(error = %e, "api key usage report not sent");
            }
            if stop {
                let _ = bus.client.flush().await;
                return;
            }
        }
    }

    /// Replays identity's key events from the start of its stream, then follows it until
    /// `cancel`. Reconnects on failure; the ordered consumer restarts from its last sequence.
    pub async fn follow(self, bus: Bus, cancel: CancellationToken) {
        let mut from_seq = 1u64;
        loop {
            match self.follow_once(&bus, &cancel, &mut from_seq).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "key store: stream follow failed; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }

    async fn follow_once(&self, bus: &Bus, cancel: &CancellationToken, from_seq: &mut u64) -> anyhow::Result<()> {
        let stream = bus.stream("identity").await?;
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subjects: vec![
                    bus.subject("identity.signing_key.>"),
                    bus.subject("identity.apikey.>"),
                    bus.subject("identity.access.>"),
                ],
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: *from_seq },
                ..Default::default()
            })
            .await?;
        let mut consumer = consumer;
        if consumer.info().await?.num_pending == 0 {
            self.caught_up.store(true, Ordering::Release);
        }
        let mut messages = consumer.messages().await?;
        // An ordered consumer is ephemeral: a NATS server restart loses it, and noticing
        // that through missed heartbeats takes ~15 s, during which revocations would not
        // arrive. So a reconnect re-creates it at once, from the next sequence.
        let mut was_disconnected = false;
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                m = messages.next() => m,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    match bus.client.connection_state() {
                        async_nats::connection::State::Connected if was_disconnected => {
                            anyhow::bail!("NATS reconnected: re-creating the key consumer");
                        }
                        async_nats::connection::State::Connected => {}
                        _ => was_disconnected = true,
                    }
                    continue;
                }
            };
            let msg = next.ok_or_else(|| anyhow::anyhow!("key stream ended"))??;
            if let Ok(env) = serde_json::from_slice::<Envelope>(&msg.payload) {
                let _ = self.receive(&env);
            }
            if let Ok(info) = msg.info() {
                *from_seq = info.stream_sequence + 1;
                if info.pending == 0 {
                    self.caught_up.store(true, Ordering::Release);
                }
            }
        }
    }
}
