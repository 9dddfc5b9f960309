//! authoring's use-cases. Every write to a course names the revision it was based on
//! (`If-Match`): none is a 428, a stale one a 412 carrying the current revision, never
//! a silent overwrite. Each write bumps the revision, records who did what in the
//! course's history, and emits its events in the same transaction.

pub mod content;
pub mod generations;
mod meta;
pub mod outline;

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::authoring::{CoursePublished, CourseRetired},
    ids::{BlockId, CourseId},
};
use mirai_kit::{
    AppError, FieldError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Digest;
use utoipa::ToSchema;

use crate::{
    AppState,
    store::{self, CourseRow, VersionRow},
};
pub use meta::CourseInput;
use meta::{check_meta, check_public, meta_of};
use outline::{Outline, Review};

/// Who writes drafts: a provider's authors and admins, and an organization's admins
/// (for its internal courses).
const EDITORS: &[Role] = &[Role::Author, Role::ProviderAdmin, Role::OrgAdmin];
/// Who publishes and retires.
const PUBLISHERS: &[Role] = &[Role::ProviderAdmin, Role::OrgAdmin];

/// A course as its authors see it: metadata, status, the draft outline and its revision.
#[derive(Debug, Serialize, ToSchema)]
pub struct Course {
    #[schema(value_type = uuid::Uuid)]
    pub id: CourseId,
    pub title: String,
    pub summary: String,
    pub locale: String,
    pub tags: Vec<String>,
    /// `private` (the tenant's authors), `tenant` (the tenant's members) or `public`.
    pub visibility: String,
    /// `draft` (never published), `published` or `retired`.
    pub status: String,
    /// The draft's revision: send it back as `If-Match` with the next write.
    pub revision: i64,
    /// The latest published version, if any.
    pub latest_version: Option<i32>,
    pub modules: Vec<outline::Module>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

impl From<CourseRow> for Course {
    fn from(r: CourseRow) -> Self {
        Self {
            id: r.id,
            title: r.title,
            summary: r.summary,
            locale: r.locale,
            tags: r.tags,
            visibility: r.visibility,
            status: r.status,
            revision: r.revision,
            latest_version: r.latest_version,
            modules: r.draft.0.modules,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_by: r.updated_by,
            updated_at: r.updated_at,
        }
    }
}

/// `If-Match` against the course's revision: required (428), and current (412).
fn check_revision(if_match: Option<&str>, current: i64) -> Result<(), AppError> {
    let Some(raw) = if_match else {
        return Err(AppError::client(
            axum::http::StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "Precondition required",
            format!("send If-Match with the course's revision (now \"{current}\")"),
        ));
    };
    // A revision, compared strongly: `*` (any revision) and weak tags would let a write
    // land on a draft its author never read.
    let matches = raw.split(',').any(|t| t.trim().trim_matches('"').parse::<i64>().ok() == Some(current));
    if matches {
        Ok(())
    } else {
        Err(AppError::PreconditionFailed {
            detail: format!("the course changed since you read it: it is at revision {current}; reload and reapply"),
            current_version: current,
        })
    }
}

async fn locked(tx: &mut sqlx::PgConnection, id: CourseId) -> Result<CourseRow, AppError> {
    store::course_get(tx, id, true).await?.ok_or_else(|| AppError::not_found("course", id))
}

#[tracing::instrument(skip_all)]
pub async fn create(state: &AppState, p: &Principal, input: CourseInput) -> Result<Course, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let meta = check_meta(&input)?;
    check_public(p, &meta)?;
    let (draft, _) = outline::apply(&Outline::default(), input.modules.unwrap_or_default())?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::course_insert(&mut tx, CourseId::new(), tenant, &meta.meta(), &draft, &p.subject).await?;
    store::history_add(&mut tx, tenant, row.id, row.revision, &p.subject, "created", json!({ "title": row.title }))
        .await?;
    tx.commit().await?;
    Ok(row.into())
}

#[tracing::instrument(skip_all, fields(course = %id))]
pub async fn get(state: &AppState, p: &Principal, id: CourseId) -> Result<Course, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::course_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("course", id))?;
    Ok(row.into())
}

/// A course in a list: what it is and where it stands, without the outline.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseSummary {
    #[schema(value_type = uuid::Uuid)]
    pub id: CourseId,
    pub title: String,
    pub locale: String,
    pub visibility: String,
    pub status: String,
    pub revision: i64,
    pub latest_version: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState, p: &Principal, page: &PageParams) -> Result<Page<CourseSummary>, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let limit = page.limit()?;
    let after = page.cursor()?.map(|c| (c.created_at, CourseId::from(c.id)));
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::course_list(&mut tx, after, limit + 1).await?;
    let data = rows
        .into_iter()
        .map(|r| CourseSummary {
            id: r.id,
            title: r.title,
            locale: r.locale,
            visibility: r.visibility,
            status: r.status,
            revision: r.revision,
            latest_version: r.latest_version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect();
    Ok(Page::from_rows(data, limit, |c: &CourseSummary| Cursor { created_at: c.created_at, id: c.id.into() }))
}

/// Replaces the draft (metadata and outline) — reordering, moving blocks between
/// lessons, duplicating (a copy without an id) and deleting are all edits of the outline.
#[tracing::instrument(skip_all, fields(course = %id))]
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: CourseId,
    if_match: Option<&str>,
    input: CourseInput,
) -> Result<Course, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let meta = check_meta(&input)?;
    check_public(p, &meta)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let current = locked(&mut tx, id).await?;
    check_revision(if_match, current.revision)?;
    if current.status == "retired" {
        return Err(AppError::Conflict("the course is retired; duplicate it to work on it again".into()));
    }
    let (draft, changed) = match input.modules {
        Some(modules) => outline::apply(&current.draft.0, modules)?,
        None => (current.draft.0.clone(), 0),
    };
    let row =
        store::course_update(&mut tx, id, &meta.meta(), &draft, &current.status, current.latest_version, &p.subject)
            .await?;
    let detail = json!({ "blocks_changed": changed, "lessons": draft.lesson_count() });
    store::history_add(&mut tx, tenant, id, row.revision, &p.subject, "edited", detail).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// An author accepts an AI-generated block (`draft_ai` → `reviewed`).
#[tracing::instrument(skip_all, fields(course = %id, block = %block))]
pub async fn review(
    state: &AppState,
    p: &Principal,
    id: CourseId,
    block: BlockId,
    if_match: Option<&str>,
) -> Result<Course, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let current = locked(&mut tx, id).await?;
    check_revision(if_match, current.revision)?;
    if current.status == "retired" {
        return Err(AppError::Conflict("the course is retired; duplicate it to work on it again".into()));
    }
    let mut draft = current.draft.0.clone();
    let b = draft.block_mut(block).ok_or_else(|| AppError::not_found("block", block))?;
    if b.review == Review::Human {
        return Err(AppError::invalid("block", "was written by a person; only AI-generated blocks are reviewed"));
    }
    b.review = Review::Reviewed;
    let meta = meta_of(&current);
    let row =
        store::course_update(&mut tx, id, &meta.meta(), &draft, &current.status, current.latest_version, &p.subject)
            .await?;
    store::history_add(&mut tx, tenant, id, row.revision, &p.subject, "reviewed", json!({ "block_id": block })).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// A published version: immutable.
#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub version: i32,
    /// `sha256:<hex>` of the snapshot's canonical JSON.
    pub content_hash: String,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
    /// The course as it was published: metadata and outline.
    #[schema(value_type = Object)]
    pub snapshot: Value,
}

impl From<VersionRow> for Version {
    fn from(v: VersionRow) -> Self {
        Self {
            course_id: v.course_id,
            version: v.number,
            content_hash: v.content_hash,
            published_by: v.published_by,
            published_at: v.published_at,
            snapshot: v.snapshot.0,
        }
    }
}

/// Freezes the draft into the next numbered version and announces it. Refused (422) while
/// any AI-generated block is unreviewed (each named) or the course has no lesson.
#[tracing::instrument(skip_all, fields(course = %id))]
pub async fn publish(
    state: &AppState,
    p: &Principal,
    id: CourseId,
    if_match: Option<&str>,
) -> Result<Version, AppError> {
    let tenant = p.own_tenant(PUBLISHERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let current = locked(&mut tx, id).await?;
    check_revision(if_match, current.revision)?;
    if current.status == "retired" {
        return Err(AppError::Conflict("the course is retired".into()));
    }
    let draft = &current.draft.0;
    let unreviewed = draft.unreviewed();
    if !unreviewed.is_empty() {
        let errors: Vec<FieldError> = unreviewed
            .iter()
            .map(|(at, b)| FieldError::new(at.clone(), format!("AI-generated block {b} is not reviewed")))
            .collect();
        let ids: Vec<String> = unreviewed.iter().map(|(_, b)| b.to_string()).collect();
        return Err(AppError::Invalid {
            detail: format!("review every AI-generated block before publishing; not reviewed: {}", ids.join(", ")),
            errors,
        });
    }
    if draft.lesson_count() == 0 {
        return Err(AppError::invalid("modules", "a course needs at least one lesson to be published"));
    }
    check_refs(&mut tx, draft).await?;
    let number = current.latest_version.unwrap_or(0) + 1;
    let snapshot = json!({
        "title": current.title, "summary": current.summary, "locale": current.locale, "tags": current.tags,
        "visibility": current.visibility, "modules": draft.modules,
    });
    // serde_json's maps are ordered by key: this serialization is canonical.
    let canonical = serde_json::to_vec(&snapshot).expect("json serializes");
    let content_hash = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&canonical)));
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT date_trunc('milliseconds', now())").fetch_one(&mut *tx).await?;
    let version = VersionRow {
        course_id: id,
        number,
        snapshot: sqlx::types::Json(snapshot),
        content_hash: content_hash.clone(),
        published_by: p.subject.clone(),
        published_at: now,
    };
    store::version_insert(&mut tx, tenant, &version).await?;
    let meta = meta_of(&current);
    let row = store::course_update(&mut tx, id, &meta.meta(), draft, "published", Some(number), &p.subject).await?;
    store::history_add(
        &mut tx,
        tenant,
        id,
        row.revision,
        &p.subject,
        "published",
        json!({ "version": number, "content_hash": content_hash }),
    )
    .await?;
    let event = CoursePublished {
        tenant_id: tenant,
        course_id: id,
        version: number,
        title: current.title.clone(),
        summary: current.summary.clone(),
        locale: current.locale.clone(),
        tags: current.tags.clone(),
        visibility: current.visibility.clone(),
        content_hash,
        outline: draft.published(),
        published_at: now,
    };
    state.ctx.publish(&mut tx, p, event.into()).await?;
    tx.commit().await?;
    Ok(version.into())
}

/// Every image, video, file and package block must point at an asset or package of this
/// tenant (ready, not deleted): a published version never shows what is not there.
async fn check_refs(tx: &mut sqlx::PgConnection, draft: &Outline) -> Result<(), AppError> {
    let mut refs = vec![];
    for (mi, m) in draft.modules.iter().enumerate() {
        for (li, l) in m.lessons.iter().enumerate() {
            for (bi, b) in l.blocks.iter().enumerate() {
                let at = format!("modules[{mi}].lessons[{li}].blocks[{bi}]");
                if let Some(a) = b.content.media_id() {
                    refs.push((at, b.id, "asset", a));
                } else if let Some((p, _)) = b.content.package() {
                    refs.push((at, b.id, "package", p));
                }
            }
        }
    }
    let mut missing = vec![];
    for kind in ["asset", "package"] {
        let ids: Vec<uuid::Uuid> = refs.iter().filter(|r| r.2 == kind).map(|r| r.3).collect();
        if ids.is_empty() {
            continue;
        }
        let known: std::collections::HashSet<uuid::Uuid> =
            store::refs_known(tx, kind, &ids).await?.into_iter().collect();
        missing.extend(refs.iter().filter(|r| r.2 == kind && !known.contains(&r.3)));
    }
    if missing.is_empty() {
        return Ok(());
    }
    let errors = missing
        .iter()
        .map(|(at, b, kind, id)| {
            FieldError::new(format!("{at}.content"), format!("block {b}: no {kind} {id} in this tenant"))
        })
        .collect();
    let list: Vec<String> = missing.iter().map(|(_, b, kind, id)| format!("block {b} ({kind} {id})")).collect();
    Err(AppError::Invalid {
        detail: format!(
            "blocks point at media or packages this tenant does not have (never completed, deleted, or completed a \
             moment ago: retry): {}",
            list.join(", ")
        ),
        errors,
    })
}

/// Retires the course: no version is offered any longer (those who have it keep it).
#[tracing::instrument(skip_all, fields(course = %id))]
pub async fn retire(state: &AppState, p: &Principal, id: CourseId, if_match: Option<&str>) -> Result<Course, AppError> {
    let tenant = p.own_tenant(PUBLISHERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let current = locked(&mut tx, id).await?;
    check_revision(if_match, current.revision)?;
    if current.status == "retired" {
        return Err(AppError::Conflict("the course is already retired".into()));
    }
    let meta = meta_of(&current);
    let row = store::course_update(
        &mut tx,
        id,
        &meta.meta(),
        &current.draft.0,
        "retired",
        current.latest_version,
        &p.subject,
    )
    .await?;
    store::history_add(&mut tx, tenant, id, row.revision, &p.subject, "retired", json!({})).await?;
    let event = CourseRetired {
        tenant_id: tenant,
        course_id: id,
        last_version: current.latest_version,
        retired_at: row.updated_at,
    };
    state.ctx.publish(&mut tx, p, event.into()).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// A new draft course with a copy of this one's draft (fresh ids; AI provenance and
/// review states kept).
#[tracing::instrument(skip_all, fields(course = %id))]
pub async fn duplicate(state: &AppState, p: &Principal, id: CourseId) -> Result<Course, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let source = store::course_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("course", id))?;
    let mut meta = meta_of(&source);
    meta.title = format!("{} (copy)", source.title).chars().take(200).collect();
    let draft = source.draft.0.with_new_ids();
    let row = store::course_insert(&mut tx, CourseId::new(), tenant, &meta.meta(), &draft, &p.subject).await?;
    store::history_add(&mut tx, tenant, row.id, row.revision, &p.subject, "duplicated", json!({ "from": id })).await?;
    tx.commit().await?;
    Ok(row.into())
}

#[tracing::instrument(skip_all, fields(course = %id, version = number))]
pub async fn version(state: &AppState, p: &Principal, id: CourseId, number: i32) -> Result<Version, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let v =
        store::version_get(&mut tx, id, number).await?.ok_or_else(|| AppError::not_found("course version", number))?;
    Ok(v.into())
}

/// One change to a course.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// The revision the change produced.
    pub revision: i64,
    /// Who: `user:<id>` or `apikey:<id>`.
    pub actor: String,
    /// `created`, `edited`, `reviewed`, `published`, `retired` or `duplicated`.
    pub action: String,
    #[schema(value_type = Object)]
    pub detail: Value,
    pub at: DateTime<Utc>,
}

#[tracing::instrument(skip_all, fields(course = %id))]
pub async fn history(state: &AppState, p: &Principal, id: CourseId) -> Result<Vec<HistoryEntry>, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::course_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("course", id))?;
    Ok(store::history_list(&mut tx, id)
        .await?
        .into_iter()
        .map(|h| HistoryEntry { revision: h.revision, actor: h.actor, action: h.action, detail: h.detail.0, at: h.at })
        .collect())
}
