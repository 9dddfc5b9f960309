//! Handlers: plain async functions of a typed payload (`async fn(Cx<'_, S>, E)`), or of
//! the run of payloads that arrived together (`async fn(Batch<'_, S>, Vec<E>)`, for
//! projections that write many rows in one statement), and the erased route the consumer
//! runtime dispatches to, which decodes each payload and checks that its tenant is the
//! envelope's before calling the function.

use std::{future::Future, sync::Arc};

use futures::{FutureExt, future::BoxFuture};
use mirai_contracts::Event;
use sqlx::PgConnection;

use crate::Envelope;

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event can never be applied (bad data for this consumer): dead-letter it now.
    #[error("permanent: {0}")]
    Permanent(String),
    /// It may work later (database down, dependency not yet projected): retry.
    #[error("transient: {0:#}")]
    Transient(#[from] anyhow::Error),
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        HandleError::Transient(e.into())
    }
}

/// An event a handler or job could not write to the outbox: retried, as a database error is.
impl From<crate::outbox::OutboxError> for HandleError {
    fn from(e: crate::outbox::OutboxError) -> Self {
        HandleError::Transient(e.into())
    }
}

/// What a handler gets besides its payload: the consumer's transaction (tenant context
/// already set to the event's tenant), the envelope (id, actor, trace, correlation) and
/// the consumer's state.
pub struct Cx<'a, S = ()> {
    pub tx: &'a mut PgConnection,
    pub envelope: &'a Envelope,
    pub state: &'a S,
}

impl<S> Cx<'_, S> {
    /// The meta of an event published in reaction to this one (same actor, trace and
    /// correlation), for `outbox::enqueue`.
    pub fn following(&self) -> crate::EventMeta {
        crate::EventMeta::following(self.envelope)
    }
}

/// A typed handler: any `async fn(Cx<'_, S>, E) -> Result<(), HandleError>`.
pub trait On<'a, S, E>: Send + Sync + 'static {
    type Fut: Future<Output = Result<(), HandleError>> + Send + 'a;
    fn call(&self, cx: Cx<'a, S>, event: E) -> Self::Fut;
}

impl<'a, S: 'a, E, F, Fut> On<'a, S, E> for F
where
    F: Fn(Cx<'a, S>, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandleError>> + Send + 'a,
{
    type Fut = Fut;
    fn call(&self, cx: Cx<'a, S>, event: E) -> Fut {
        self(cx, event)
    }
}

/// What a batch handler gets: the consumer's transaction (tenant context already set: every
/// event of the run has that tenant) and the run's envelopes in stream order, one per
/// event, plus the consumer's state.
pub struct Batch<'a, S = ()> {
    pub tx: &'a mut PgConnection,
    pub envelopes: &'a [&'a Envelope],
    pub state: &'a S,
}

/// A batch handler: any `async fn(Batch<'_, S>, Vec<E>) -> Result<(), HandleError>`.
/// It gets consecutive events of one subject and one tenant; an error rolls the whole
/// consumer batch back, which is then replayed one event at a time (runs of one).
pub trait OnBatch<'a, S, E>: Send + Sync + 'static {
    type Fut: Future<Output = Result<(), HandleError>> + Send + 'a;
    fn call(&self, batch: Batch<'a, S>, events: Vec<E>) -> Self::Fut;
}

impl<'a, S: 'a, E, F, Fut> OnBatch<'a, S, E> for F
where
    F: Fn(Batch<'a, S>, Vec<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandleError>> + Send + 'a,
{
    type Fut = Fut;
    fn call(&self, batch: Batch<'a, S>, events: Vec<E>) -> Fut {
        self(batch, events)
    }
}

/// A route's handler with its payload type erased: decodes the payload, checks that the
/// payload's tenant is the envelope's, and calls the typed function.
pub(crate) trait Route: Send + Sync {
    /// Whether a run may hold more than one event (`on_batch`); otherwise the runtime
    /// hands this route runs of one.
    fn batches(&self) -> bool;

    /// Handles consecutive events of this route's subject and one tenant.
    fn handle_run<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelopes: &'a [&'a Envelope],
    ) -> BoxFuture<'a, Result<(), HandleError>>;
}

/// Decodes an envelope's payload as `E` and checks its tenant against the envelope's.
fn payload<E: Event>(envelope: &Envelope) -> Result<E, HandleError> {
    let event: E = envelope
        .data_as()
        .map_err(|e| HandleError::Permanent(format!("{}: payload does not match its type: {e}", E::SUBJECT)))?;
    if event.tenant_id() != envelope.tenantid {
        return Err(HandleError::Permanent("envelope tenantid does not match the payload's tenant_id".into()));
    }
    Ok(event)
}

pub(crate) struct Typed<S, E, F> {
    pub(crate) state: Arc<S>,
    pub(crate) handler: F,
    pub(crate) _event: std::marker::PhantomData<fn() -> E>,
}

impl<S, E, F> Route for Typed<S, E, F>
where
    S: Send + Sync + 'static,
    E: Event,
    F: for<'a> On<'a, S, E>,
{
    fn batches(&self) -> bool {
        false
    }

    fn handle_run<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelopes: &'a [&'a Envelope],
    ) -> BoxFuture<'a, Result<(), HandleError>> {
        async move {
            for envelope in envelopes {
                let event = payload::<E>(envelope)?;
                self.handler.call(Cx { tx: &mut *tx, envelope, state: &self.state }, event).await?;
            }
            Ok(())
        }
        .boxed()
    }
}

pub(crate) struct TypedBatch<S, E, F> {
    pub(crate) state: Arc<S>,
    pub(crate) handler: F,
    pub(crate) _event: std::marker::PhantomData<fn() -> E>,
}

impl<S, E, F> Route for TypedBatch<S, E, F>
where
    S: Send + Sync + 'static,
    E: Event,
    F: for<'a> OnBatch<'a, S, E>,
{
    fn batches(&self) -> bool {
        true
    }

    fn handle_run<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelopes: &'a [&'a Envelope],
    ) -> BoxFuture<'a, Result<(), HandleError>> {
        async move {
            let events = envelopes.iter().map(|e| payload::<E>(e)).collect::<Result<Vec<_>, _>>()?;
            self.handler.call(Batch { tx, envelopes, state: &self.state }, events).await
        }
        .boxed()
    }
}
