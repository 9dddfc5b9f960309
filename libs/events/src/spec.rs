//! What a consumer is: its durable name, the typed handlers it routes each subject to
//! (`on`, `on_batch`), batch size, retries and an observer. `consumer` runs it.

use std::{collections::HashMap, sync::Arc, time::Duration};

use mirai_contracts::Event;
use sqlx::PgConnection;

use crate::{
    Envelope,
    handler::{HandleError, On, OnBatch, Route, Typed, TypedBatch},
};

/// Observes each handled event once its transaction committed (metrics, benchmarks).
pub type Observer = Arc<dyn Fn(&Envelope) + Send + Sync>;

/// A durable consumer: its handlers by subject, the stream they come from, batch size and
/// how hard to retry.
#[derive(Clone)]
pub struct ConsumerSpec {
    /// Durable name, `<service>-<purpose>`; also the inbox key and the DLQ subject.
    pub name: String,
    /// The producing context whose stream is read (the subjects' first segment).
    pub context: String,
    pub(crate) routes: HashMap<&'static str, Arc<dyn Route>>,
    pub max_deliver: i64,
    pub backoff: Vec<Duration>,
    /// Messages applied in one transaction. Within a batch events apply in stream order;
    /// set 1 for handlers that each rewrite many rows.
    pub batch: usize,
    pub(crate) observer: Option<Observer>,
}

impl ConsumerSpec {
    /// A consumer named `<service>-<purpose>` with no routes yet; add them with `on`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            context: String::new(),
            routes: HashMap::new(),
            max_deliver: 5,
            batch: 100,
            backoff: vec![
                Duration::from_millis(200),
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
            observer: None,
        }
    }

    /// Routes `E::SUBJECT` to `handler`, an `async fn(Cx<'_>, E)`.
    pub fn on<E: Event, F: for<'a> On<'a, (), E>>(self, handler: F) -> Self {
        self.on_with(&Arc::new(()), handler)
    }

    /// Routes `E::SUBJECT` to `handler`, an `async fn(Cx<'_, S>, E)` that sees `state`.
    pub fn on_with<S, E, F>(self, state: &Arc<S>, handler: F) -> Self
    where
        S: Send + Sync + 'static,
        E: Event,
        F: for<'a> On<'a, S, E>,
    {
        let route = Typed { state: state.clone(), handler, _event: std::marker::PhantomData };
        self.route::<E>(Arc::new(route))
    }

    /// Routes `E::SUBJECT` to `handler`, an `async fn(Batch<'_>, Vec<E>)` that gets the
    /// consecutive events of that subject and one tenant from each consumer batch.
    pub fn on_batch<E: Event, F: for<'a> OnBatch<'a, (), E>>(self, handler: F) -> Self {
        self.on_batch_with(&Arc::new(()), handler)
    }

    /// `on_batch` with state.
    pub fn on_batch_with<S, E, F>(self, state: &Arc<S>, handler: F) -> Self
    where
        S: Send + Sync + 'static,
        E: Event,
        F: for<'a> OnBatch<'a, S, E>,
    {
        let route = TypedBatch { state: state.clone(), handler, _event: std::marker::PhantomData };
        self.route::<E>(Arc::new(route))
    }

    fn route<E: Event>(mut self, route: Arc<dyn Route>) -> Self {
        let context = E::SUBJECT.split('.').next().unwrap_or_default();
        assert!(
            self.context.is_empty() || self.context == context,
            "consumer {} reads one stream: {} is not from {}",
            self.name,
            E::SUBJECT,
            self.context
        );
        self.context = context.to_owned();
        assert!(self.routes.insert(E::SUBJECT, route).is_none(), "{} routed twice", E::SUBJECT);
        self
    }

    /// The subjects this consumer reads, sorted.
    pub fn subjects(&self) -> Vec<&'static str> {
        let mut s: Vec<_> = self.routes.keys().copied().collect();
        s.sort_unstable();
        s
    }

    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    pub fn max_deliver(mut self, n: i64) -> Self {
        self.max_deliver = n;
        self
    }

    pub fn backoff(mut self, b: Vec<Duration>) -> Self {
        self.backoff = b;
        self
    }

    /// Calls `f` for every event after the transaction that applied it committed.
    pub fn observe(mut self, f: impl Fn(&Envelope) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(f));
        self
    }

    /// Hands a run (consecutive events of one subject and tenant) to its route.
    pub(crate) async fn dispatch(&self, tx: &mut PgConnection, envelopes: &[&Envelope]) -> Result<(), HandleError> {
        let kind = envelopes.first().map(|e| e.kind.as_str()).unwrap_or_default();
        match self.routes.get(kind) {
            Some(route) => route.handle_run(tx, envelopes).await,
            None => Err(HandleError::Permanent(format!("consumer {} has no handler for {kind}", self.name))),
        }
    }
}
