//! catalog's use-cases: list and read entries as the caller's tenant sees them.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use mirai_contracts::ids::{CourseId, TenantId};
use mirai_kit::{AppError, Locale, Principal};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    store::{self, EntryRow, Filter},
};

/// A course in the catalog: its latest published version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Entry {
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    /// The providing tenant.
    #[schema(value_type = uuid::Uuid)]
    pub provider_id: TenantId,
    pub version: i32,
    pub title: String,
    pub summary: String,
    pub locale: String,
    pub tags: Vec<String>,
    /// `public` (every tenant's catalog) or `tenant` (the provider's own).
    pub visibility: String,
    pub content_hash: String,
    pub lessons: i32,
    /// Estimated minutes: 200 words a minute, three per video, quiz or package.
    pub minutes: i32,
    pub published_at: DateTime<Utc>,
    /// The outline (modules, lessons and block kinds, without their text); only on a
    /// single entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub outline: Option<Value>,
}

fn entry(r: EntryRow, with_outline: bool) -> Entry {
    Entry {
        course_id: r.course_id,
        provider_id: r.tenant_id,
        version: r.version,
        title: r.title,
        summary: r.summary,
        locale: r.locale,
        tags: r.tags,
        visibility: r.visibility,
        content_hash: r.content_hash,
        lessons: r.lessons,
        minutes: r.minutes,
        published_at: r.published_at,
        outline: with_outline.then_some(r.outline.0),
    }
}

/// The list's parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `all` (default: public and the tenant's own), `public`, or `tenant` (only its own).
    pub scope: Option<String>,
    /// Only courses in this language (RFC 5646).
    pub locale: Option<String>,
    /// Only courses with this tag.
    pub tag: Option<String>,
    /// Only courses of this provider (tenant id).
    pub provider: Option<uuid::Uuid>,
    /// Only courses estimated at most this long.
    pub max_minutes: Option<i32>,
    /// `newest` (default) or `title`.
    pub sort: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryPage {
    pub data: Vec<Entry>,
    /// Pass as `cursor` for the next page (with the same filters); null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct CursorBody {
    k: String,
    id: uuid::Uuid,
}

fn encode_cursor(k: String, id: CourseId) -> String {
    let body = serde_json::to_vec(&CursorBody { k, id: id.into() }).expect("json serializes");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body)
}

fn decode_cursor(c: &str, by_title: bool) -> Result<(String, CourseId), AppError> {
    let bad = || AppError::invalid("cursor", "is not a cursor this API returned (for this sort)");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let body: CursorBody = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if !by_title && body.k.parse::<DateTime<Utc>>().is_err() {
        return Err(bad());
    }
    Ok((body.k, CourseId::from(body.id)))
}

#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState, p: &Principal, params: ListParams) -> Result<EntryPage, AppError> {
    let tenant = TenantId::from(p.tenant()?);
    let limit = match params.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(_) => return Err(AppError::invalid("limit", "must be between 1 and 200")),
    };
    let public = match params.scope.as_deref().unwrap_or("all") {
        "all" => None,
        "public" => Some(true),
        "tenant" => Some(false),
        _ => return Err(AppError::invalid("scope", "all, public or tenant")),
    };
    let by_title = match params.sort.as_deref().unwrap_or("newest") {
        "newest" => false,
        "title" => true,
        _ => return Err(AppError::invalid("sort", "newest or title")),
    };
    if let Some(l) = &params.locale {
        Locale::parse("locale", l)?;
    }
    if params.max_minutes.is_some_and(|m| m < 1) {
        return Err(AppError::invalid("max_minutes", "must be 1 or more"));
    }
    let filter = Filter {
        public,
        tenant: Some(tenant),
        locale: params.locale,
        tag: params.tag.map(|t| t.trim().to_lowercase()),
        provider: params.provider.map(TenantId::from),
        max_minutes: params.max_minutes,
        by_title,
        after: params.cursor.as_deref().map(|c| decode_cursor(c, by_title)).transpose()?,
    };
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let mut rows = store::entry_list(&mut tx, &filter, limit + 1).await?;
    let next = (rows.len() as i64 > limit).then(|| {
        rows.truncate(limit as usize);
        let last = rows.last().expect("a full page has a last row");
        let k = if by_title { last.title_key.clone() } else { last.published_at.to_rfc3339() };
        encode_cursor(k, last.course_id)
    });
    Ok(EntryPage { data: rows.into_iter().map(|r| entry(r, false)).collect(), next_cursor: next })
}

#[tracing::instrument(skip_all, fields(course = %id))]
pub async fn get(state: &AppState, p: &Principal, id: CourseId) -> Result<Entry, AppError> {
    let tenant = TenantId::from(p.tenant()?);
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::entry_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("course", id))?;
    Ok(entry(row, true))
}
