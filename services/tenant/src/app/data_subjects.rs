//! Data-subject requests: the GDPR erasure choreography. An org admin asks for a person's
//! data to be erased; tenant records the request and publishes
//! `tenant.data_subject.erasure_requested.v1` with the person's identifiers. Every
//! service that holds personal data ([`ERASURE_STEPS`]) erases or anonymizes what it
//! holds for that person in the tenant and answers `<service>.data_subject.erased.v1`.
//! When every step has answered, tenant completes the request, redacts the identifiers
//! it kept (only their digest remains), and publishes
//! `tenant.data_subject.erasure_completed.v1` — the audit record of the whole erasure.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::tenant::{DataSubject, DataSubjectErasureCompleted, DataSubjectErasureRequested, ErasureStep},
    ids::{DataSubjectRequestId, TenantId},
};
use mirai_events::{EventMeta, outbox};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, types::Json};

use crate::{AppState, NAME, store::data_subjects as store};

/// The services that hold personal data and take part in an erasure. A service joins by
/// consuming `tenant.data_subject.erasure_requested.v1`, publishing
/// `<service>.data_subject.erased.v1`, and being listed here.
pub const ERASURE_STEPS: &[&str] = &["lrs", "notification", "delivery"];

const MAX_IDENTIFIERS: usize = 20;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DataSubjectRequest {
    #[schema(value_type = uuid::Uuid)]
    pub id: DataSubjectRequestId,
    /// `erasure`.
    pub kind: String,
    /// `pending` or `completed`.
    pub status: String,
    /// The identifiers, while the request is pending; `null` once completed (redacted).
    pub subject: Option<DataSubject>,
    /// SHA-256 of the identifiers, kept after redaction.
    pub subject_digest: String,
    pub reason: Option<String>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Step {
    pub service: String,
    /// `pending` or `done`.
    pub status: String,
    /// What the service reported (counts of what it erased).
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<Value>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn to_api(r: store::RequestRow, steps: &[store::StepRow]) -> DataSubjectRequest {
    let subject = if r.status == "completed" { None } else { serde_json::from_value(r.subject.0).ok() };
    DataSubjectRequest {
        id: r.id,
        kind: r.kind,
        status: r.status,
        subject,
        subject_digest: r.subject_digest,
        reason: r.reason,
        requested_by: r.requested_by,
        created_at: r.created_at,
        completed_at: r.completed_at,
        steps: steps
            .iter()
            .filter(|s| s.request_id == r.id)
            .map(|s| Step {
                service: s.service.clone(),
                status: s.status.clone(),
                outcome: s.outcome.as_ref().map(|o| o.0.clone()),
                completed_at: s.completed_at,
            })
            .collect(),
    }
}

/// Checks and canonicalizes the identifiers (trimmed, emails with a lower-case domain,
/// sorted, deduplicated).
fn normalize(mut s: DataSubject) -> Result<DataSubject, AppError> {
    for e in &mut s.emails {
        let t = e.trim();
        let Some((local, domain)) = t.rsplit_once('@') else {
            return Err(AppError::invalid("subject.emails", format!("`{t}` is not an email address")));
        };
        if local.is_empty() || domain.is_empty() || t.len() > 254 || t.chars().any(|c| c.is_whitespace() || c == ':') {
            return Err(AppError::invalid("subject.emails", format!("`{t}` is not an email address")));
        }
        *e = format!("{local}@{}", domain.to_lowercase());
    }
    for a in &mut s.accounts {
        a.home_page = a.home_page.trim().to_owned();
        if !(a.home_page.starts_with("https://") || a.home_page.starts_with("http://")) || a.home_page.len() > 2000 {
            return Err(AppError::invalid("subject.accounts.home_page", "must be an http(s) URL"));
        }
        if a.name.is_empty() || a.name.chars().count() > 500 {
            return Err(AppError::invalid("subject.accounts.name", "must be 1 to 500 characters"));
        }
    }
    for o in &mut s.openids {
        *o = o.trim().to_owned();
        if !o.contains("://") || o.len() > 2000 || o.chars().any(char::is_whitespace) {
            return Err(AppError::invalid("subject.openids", format!("`{o}` is not an absolute URI")));
        }
    }
    if s.emails.len() + s.accounts.len() + s.openids.len() > MAX_IDENTIFIERS {
        return Err(AppError::invalid("subject", format!("at most {MAX_IDENTIFIERS} identifiers per request")));
    }
    if s.user_id.is_none() && s.emails.is_empty() && s.accounts.is_empty() && s.openids.is_empty() {
        return Err(AppError::invalid("subject", "must name the person by at least one identifier"));
    }
    s.emails.sort();
    s.emails.dedup();
    s.accounts.sort_by(|a, b| (&a.home_page, &a.name).cmp(&(&b.home_page, &b.name)));
    s.accounts.dedup_by(|a, b| a.home_page == b.home_page && a.name == b.name);
    s.openids.sort();
    s.openids.dedup();
    Ok(s)
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn request_erasure(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    subject: DataSubject,
    reason: Option<String>,
) -> Result<DataSubjectRequest, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin])?;
    super::tenants::ensure_exists(state, tenant).await?;
    let subject = normalize(subject)?;
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(AppError::invalid("reason", "must be at most 500 characters"));
    }
    let subject_json = serde_json::to_value(&subject).map_err(|e| AppError::Internal(e.into()))?;
    let row = store::RequestRow {
        id: DataSubjectRequestId::new(),
        kind: "erasure".into(),
        subject_digest: hex::encode(Sha256::digest(subject_json.to_string().as_bytes())),
        subject: Json(subject_json),
        reason,
        status: "pending".into(),
        requested_by: principal.subject.clone(),
        created_at: Utc::now(),
        completed_at: None,
    };
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::request_insert(&mut tx, tenant, &row, ERASURE_STEPS).await?;
    let event =
        DataSubjectErasureRequested { tenant_id: tenant, request_id: row.id, subject, requested_at: row.created_at };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    let steps = store::steps_of(&mut tx, &[row.id]).await?;
    tx.commit().await?;
    Ok(to_api(row, &steps))
}

#[tracing::instrument(skip_all, fields(tenant = %tenant, request = %id))]
pub async fn get(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    id: DataSubjectRequestId,
) -> Result<DataSubjectRequest, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin])?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row =
        store::request_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("data-subject request", id))?;
    let steps = store::steps_of(&mut tx, &[id]).await?;
    Ok(to_api(row, &steps))
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    page: &PageParams,
) -> Result<Page<DataSubjectRequest>, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin])?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::request_list(&mut tx, page.cursor()?, limit).await?;
    let ids: Vec<DataSubjectRequestId> = rows.iter().map(|r| r.id).collect();
    let steps = store::steps_of(&mut tx, &ids).await?;
    let items = rows.into_iter().map(|r| to_api(r, &steps)).collect();
    Ok(Page::from_rows(items, limit, |r: &DataSubjectRequest| Cursor { created_at: r.created_at, id: r.id.into() }))
}

/// A participant reported its step done (inside the consumer's transaction). When it was
/// the last one, the request completes and the completion is published.
#[tracing::instrument(skip_all, fields(tenant = %tenant, request = %request, service = service))]
pub async fn step_reported(
    tx: &mut PgConnection,
    meta: &EventMeta,
    tenant: TenantId,
    request: DataSubjectRequestId,
    service: &str,
    outcome: &Value,
) -> Result<(), anyhow::Error> {
    let Some(row) = store::request_get(tx, request, true).await? else {
        anyhow::bail!("no data-subject request {request} in tenant {tenant}");
    };
    if row.status == "completed" || !store::step_done(tx, request, service, outcome).await? {
        return Ok(());
    }
    let completed_at = store::request_complete(tx, request).await?;
    let steps = store::steps_of(tx, &[request]).await?;
    let steps: Vec<ErasureStep> = steps
        .into_iter()
        .map(|s| ErasureStep { service: s.service, outcome: s.outcome.and_then(|o| o.0.as_object().cloned()) })
        .collect();
    let event = DataSubjectErasureCompleted {
        tenant_id: tenant,
        request_id: request,
        subject_digest: row.subject_digest,
        requested_by: row.requested_by,
        completed_at,
        steps,
    };
    outbox::enqueue(tx, NAME, meta, event.into()).await?;
    Ok(())
}
