//! Clears staged uploads nobody completed: every object under `uploads/` older than the
//! upload URL's lifetime plus the completion grace (and a margin) can no longer become an
//! asset. Needs no database: the object's age says it. On S3 a lifecycle rule on
//! `uploads/` does the same; the sweeper also covers the local store.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use mirai_blobs::{Blobs, object_store::path::Path};
use tokio_util::sync::CancellationToken;

/// Deletes what under `prefix` (`uploads`, or one tenant's `uploads/<tenant>`) was last
/// written before `now - age`; returns how many.
pub async fn sweep(blobs: &Blobs, prefix: &str, age: chrono::Duration) -> anyhow::Result<usize> {
    let cutoff = chrono::Utc::now() - age;
    let store = blobs.store();
    let stale: Vec<Path> = store
        .list(Some(&Path::from(prefix)))
        .try_filter_map(|m| async move { Ok((m.last_modified < cutoff).then_some(m.location)) })
        .try_collect()
        .await?;
    let n = stale.len();
    let paths = futures::stream::iter(stale.into_iter().map(Ok)).boxed();
    store.delete_stream(paths).try_collect::<Vec<_>>().await?;
    Ok(n)
}

/// Sweeps every `every`, until `cancel`.
pub async fn run(blobs: Blobs, age: chrono::Duration, every: Duration, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match sweep(&blobs, "uploads", age).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "media: cleared uploads that were never completed"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "media: sweeping stale uploads failed"),
        }
    }
}
