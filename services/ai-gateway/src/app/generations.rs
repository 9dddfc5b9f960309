//! Generations asked for over the bus: authoring sends `cmd.ai-gateway.generate.v1`; the
//! command is recorded and a job enqueued in the consumer's transaction (exactly once);
//! the job runs the structured generation on behalf of the command's actor (the same
//! checks, budget, safety and audit as `POST /generate`), announcing `calling` and then
//! the outcome (`ai-gateway.generation.completed.v1`: the validated output with its
//! provenance, the problem, or `cancelled`). A cancel that arrives before the job runs
//! stops it from starting; one that arrives while it runs drops its answer. A generation
//! that names documents is first grounded in them (`grounding`, `app::documents`): that
//! step pays no vendor, so a failure of ours there retries the job from the start.

use chrono::Utc;
use mirai_contracts::{
    events::ai_gateway::{
        CancelGeneration, Generate, GenerationCompleted, GenerationError, GenerationProgressed, GenerationProvenance,
    },
    ids::{GenerationId, TenantId},
};
use mirai_events::{
    Cx, EventMeta, HandleError,
    jobs::{self, Job, JobHandler, NewJob},
};
use mirai_kit::{Principal, Role, auth::CredentialKind};
use sqlx::PgConnection;

use super::{
    calls::{self, GenerateInput},
    documents,
};
use crate::{AppState, store};

pub const JOB: &str = "ai-gateway.generate";

fn progressed(tenant: TenantId, request: GenerationId, stage: &str) -> mirai_events::NewEvent {
    GenerationProgressed { tenant_id: tenant, request_id: request, stage: stage.to_owned(), at: Utc::now() }.into()
}

fn completed(tenant: TenantId, request: GenerationId, status: &str) -> GenerationCompleted {
    GenerationCompleted {
        tenant_id: tenant,
        request_id: request,
        status: status.to_owned(),
        output: None,
        provenance: None,
        error: None,
        completed_at: Utc::now(),
    }
}

async fn emit(
    state: &AppState,
    tx: &mut PgConnection,
    meta: &EventMeta,
    event: mirai_events::NewEvent,
) -> Result<(), HandleError> {
    state.ctx.emit(tx, meta, [event]).await.map_err(|e| HandleError::Transient(e.into()))
}

fn meta_for(actor: &str) -> EventMeta {
    EventMeta { actor: Some(actor.to_owned()), ..EventMeta::default() }
}

pub async fn on_generate(cx: Cx<'_, AppState>, c: Generate) -> Result<(), HandleError> {
    let meta = cx.following();
    if !store::generation_insert(cx.tx, &c).await? {
        // Known: a redelivery (the inbox makes that rare), or a cancel that came first.
        if store::generation_get(cx.tx, c.request_id.into()).await?.is_some_and(|g| g.status == "cancelled") {
            let event = completed(c.tenant_id, c.request_id, "cancelled");
            cx.state.ctx.emit(cx.tx, &meta, [event.into()]).await.map_err(|e| HandleError::Transient(e.into()))?;
        }
        return Ok(());
    }
    let mut job = NewJob::new(JOB, serde_json::json!({ "request_id": c.request_id }));
    job.tenant_id = Some(c.tenant_id.into());
    // Retries cover grounding only (a model call is never repeated: see `running`).
    job.max_attempts = 5;
    job.dedupe_key = Some(format!("{JOB}:{}", c.request_id));
    jobs::enqueue(cx.tx, job).await?;
    let event = progressed(c.tenant_id, c.request_id, "queued");
    cx.state.ctx.emit(cx.tx, &meta, [event]).await.map_err(|e| HandleError::Transient(e.into()))?;
    Ok(())
}

pub async fn on_cancel(cx: Cx<'_, AppState>, c: CancelGeneration) -> Result<(), HandleError> {
    store::generation_cancel(cx.tx, c.tenant_id, c.request_id.into(), &c.actor).await?;
    Ok(())
}

/// Runs one generation.
pub struct Run {
    pub state: AppState,
}

impl Run {
    /// Announces a stage in a transaction of its own, so a follower sees it now.
    async fn announce(
        &self,
        tenant: TenantId,
        request: GenerationId,
        meta: &EventMeta,
        stage: &str,
    ) -> Result<(), HandleError> {
        let mut own = self.state.ctx.db.tenant_tx(tenant.into()).await.map_err(|e| HandleError::Transient(e.into()))?;
        emit(&self.state, &mut own, meta, progressed(tenant, request, stage)).await?;
        own.commit().await.map_err(|e| HandleError::Transient(e.into()))
    }

    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let id: uuid::Uuid = serde_json::from_value(job.payload["request_id"].clone())
            .map_err(|e| HandleError::Permanent(format!("request_id: {e}")))?;
        let Some(g) = store::generation_get(tx, id).await? else {
            return Err(HandleError::Permanent(format!("no generation {id}")));
        };
        let (tenant, request) = (g.tenant_id, GenerationId::from(id));
        let meta = meta_for(&g.actor);
        if g.status == "cancelled" {
            return emit(&self.state, tx, &meta, completed(tenant, request, "cancelled").into()).await;
        }
        if g.status == "running" {
            // An earlier attempt got as far as the model and was cut off (a crash, a lost
            // lease): running it again could pay twice. It ends as failed; ask again.
            store::generation_set(tx, id, "running", "failed").await?;
            let event = GenerationCompleted {
                error: Some(GenerationError {
                    kind: format!("{}ai-interrupted", mirai_kit::error::PROBLEM_BASE),
                    title: "The generation was interrupted".into(),
                    status: 503,
                    detail: "the gateway stopped while the model was answering; ask again".into(),
                }),
                ..completed(tenant, request, "failed")
            };
            return emit(&self.state, tx, &meta, event.into()).await;
        }
        if g.status != "queued" {
            return Ok(());
        }
        let mut input = g.input.clone();
        if !g.documents.is_empty() {
            self.announce(tenant, request, &meta, "grounding").await?;
            if let Err(e) = documents::ground(&self.state, tenant, &g.documents, &mut input).await {
                // Ours (the store, the model, a document media announced but this gateway
                // has not heard of yet) is retried; on the last attempt it fails, so the
                // author is never left waiting.
                let slug = e.to_problem().kind;
                let retry = e.status().is_server_error() || slug.ends_with("/document-not-found");
                if retry && job.attempts < job.max_attempts {
                    return Err(HandleError::Transient(anyhow::anyhow!("{e}")));
                }
                if !store::generation_set(tx, id, "queued", "failed").await? {
                    return Ok(());
                }
                let p = e.to_problem();
                let event = GenerationCompleted {
                    error: Some(GenerationError { kind: p.kind, title: p.title, status: p.status, detail: p.detail }),
                    ..completed(tenant, request, "failed")
                };
                return emit(&self.state, tx, &meta, event.into()).await;
            }
        }
        // Announce the call in a transaction of its own, so a follower sees it now.
        {
            let mut own =
                self.state.ctx.db.tenant_tx(tenant.into()).await.map_err(|e| HandleError::Transient(e.into()))?;
            if !store::generation_set(&mut own, id, "queued", "running").await? {
                // Cancelled while it was being grounded.
                if store::generation_get(&mut own, id).await?.is_some_and(|g| g.status == "cancelled") {
                    emit(&self.state, &mut own, &meta, completed(tenant, request, "cancelled").into()).await?;
                    own.commit().await.map_err(|e| HandleError::Transient(e.into()))?;
                }
                return Ok(());
            }
            emit(&self.state, &mut own, &meta, progressed(tenant, request, "calling")).await?;
            own.commit().await.map_err(|e| HandleError::Transient(e.into()))?;
        }
        let principal = Principal {
            kind: CredentialKind::User,
            subject: g.actor.clone(),
            user_id: g.actor.strip_prefix("user:").and_then(|u| u.parse().ok()),
            tenant_id: Some(tenant.into()),
            roles: vec![Role::Author],
            scopes: vec![],
            email: None,
        };
        let input = GenerateInput { feature: g.feature.clone(), prompt: g.prompt.clone(), input };
        let outcome = calls::generate(&self.state, &principal, input).await;
        let mut event = match outcome {
            Ok(done) => GenerationCompleted {
                output: Some(done.output),
                provenance: Some(GenerationProvenance {
                    call_id: done.call_id,
                    provider: done.provider,
                    model: done.model,
                    prompt_id: done.prompt_id,
                    prompt_version: done.prompt_version,
                    prompt_hash: done.prompt_hash,
                    tokens_in: done.tokens_in,
                    tokens_out: done.tokens_out,
                    cost_micros: done.cost_micros,
                }),
                ..completed(tenant, request, "succeeded")
            },
            Err(e) if e.status().is_server_error() && !matches!(e, mirai_kit::AppError::Upstream { .. }) => {
                // Ours (the database): retry the job.
                return Err(HandleError::Transient(anyhow::anyhow!("{e}")));
            }
            Err(e) => {
                let p = e.to_problem();
                GenerationCompleted {
                    error: Some(GenerationError { kind: p.kind, title: p.title, status: p.status, detail: p.detail }),
                    ..completed(tenant, request, "failed")
                }
            }
        };
        // Cancelled while it ran: the answer is dropped.
        let to = if event.status == "succeeded" { "succeeded" } else { "failed" };
        if !store::generation_set(tx, id, "running", to).await? {
            event = completed(tenant, request, "cancelled");
        }
        emit(&self.state, tx, &meta, event.into()).await
    }
}

impl JobHandler for Run {
    fn run<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        job: &'a Job,
    ) -> futures::future::BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Run::run(self, tx, job))
    }
}
