//! catalog's table. Reads run in the caller's tenant transaction: the tenant policy shows
//! the tenant's own entries, the public policy every public one.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::authoring::CoursePublished,
    ids::{CourseId, TenantId},
};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder, types::Json};

#[derive(Debug, Clone, FromRow)]
pub struct EntryRow {
    pub course_id: CourseId,
    pub tenant_id: TenantId,
    pub version: i32,
    pub title: String,
    pub summary: String,
    pub locale: String,
    pub tags: Vec<String>,
    pub visibility: String,
    pub content_hash: String,
    pub lessons: i32,
    pub minutes: i32,
    pub outline: Json<Value>,
    pub published_at: DateTime<Utc>,
    /// `lower(title)` as the database sorts it (the title cursor's key).
    pub title_key: String,
}

const ENTRY: &str = "course_id, tenant_id, version, title, summary, locale, tags, visibility, content_hash, lessons, \
                     minutes, outline, published_at, lower(title) AS title_key";

/// An estimate of the time a course takes: 200 words a minute of its text, and three
/// minutes per video, quiz and embedded package.
pub fn minutes(e: &CoursePublished) -> i32 {
    let (mut words, mut media) = (0usize, 0usize);
    for b in e.outline.iter().flat_map(|m| &m.lessons).flat_map(|l| &l.blocks) {
        match b.kind.as_str() {
            "video" | "quiz" | "package" => media += 1,
            "text" | "callout" | "code" => words += b.text.split_whitespace().count(),
            _ => {}
        }
    }
    (words.div_ceil(200) + 3 * media).max(1) as i32
}

/// The outline a catalog shows: modules, lessons and block kinds, without the blocks'
/// text (a course's content is for those who take it, not for everyone browsing).
fn listing_outline(e: &CoursePublished) -> Value {
    let mut v = serde_json::to_value(&e.outline).expect("json serializes");
    for m in v.as_array_mut().into_iter().flatten() {
        for l in m["lessons"].as_array_mut().into_iter().flatten() {
            for b in l["blocks"].as_array_mut().into_iter().flatten() {
                if let Some(o) = b.as_object_mut() {
                    o.remove("text");
                }
            }
        }
    }
    v
}

/// The published version, unless a newer one is there already.
pub async fn entry_upsert(tx: &mut PgConnection, e: &CoursePublished) -> Result<(), sqlx::Error> {
    let lessons: usize = e.outline.iter().map(|m| m.lessons.len()).sum();
    sqlx::query(
        "INSERT INTO entries (course_id, tenant_id, version, title, summary, locale, tags, visibility, content_hash, \
           lessons, minutes, outline, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (course_id) DO UPDATE SET version = EXCLUDED.version, title = EXCLUDED.title, \
           summary = EXCLUDED.summary, locale = EXCLUDED.locale, tags = EXCLUDED.tags, visibility = EXCLUDED.visibility, \
           content_hash = EXCLUDED.content_hash, lessons = EXCLUDED.lessons, minutes = EXCLUDED.minutes, \
           outline = EXCLUDED.outline, published_at = EXCLUDED.published_at \
         WHERE entries.version < EXCLUDED.version",
    )
    .bind(e.course_id)
    .bind(e.tenant_id)
    .bind(e.version)
    .bind(&e.title)
    .bind(&e.summary)
    .bind(&e.locale)
    .bind(&e.tags)
    .bind(&e.visibility)
    .bind(&e.content_hash)
    .bind(lessons as i32)
    .bind(minutes(e))
    .bind(Json(listing_outline(e)))
    .bind(e.published_at)
    .execute(tx)
    .await
    .map(|_| ())
}

pub async fn entry_retire(tx: &mut PgConnection, course: CourseId, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE entries SET retired_at = $2 WHERE course_id = $1 AND retired_at IS NULL")
        .bind(course)
        .bind(at)
        .execute(tx)
        .await
        .map(|_| ())
}

/// Which entries a list shows.
#[derive(Debug, Default)]
pub struct Filter {
    /// Only public entries (`Some(true)`), only the tenant's own (`Some(false)`), or both.
    pub public: Option<bool>,
    pub tenant: Option<TenantId>,
    pub locale: Option<String>,
    pub tag: Option<String>,
    pub provider: Option<TenantId>,
    pub max_minutes: Option<i32>,
    pub by_title: bool,
    /// Continue after this (sort key, course id).
    pub after: Option<(String, CourseId)>,
}

pub async fn entry_list(tx: &mut PgConnection, f: &Filter, limit: i64) -> Result<Vec<EntryRow>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {ENTRY} FROM entries WHERE retired_at IS NULL AND visibility <> 'private'"));
    match (f.public, f.tenant) {
        (Some(true), _) => {
            q.push(" AND visibility = 'public'");
        }
        (Some(false), Some(t)) => {
            q.push(" AND tenant_id = ").push_bind(t);
        }
        _ => {}
    }
    // BCP 47 tags compare case-insensitively; `en` takes every English (`en-US`, `en-GB`).
    if let Some(l) = &f.locale {
        q.push(" AND (lower(locale) = lower(").push_bind(l.clone()).push(") OR lower(locale) LIKE lower(");
        q.push_bind(l.replace(['\\', '%', '_'], "")).push(") || '-%')");
    }
    if let Some(t) = &f.tag {
        q.push(" AND tags @> ARRAY[").push_bind(t.clone()).push("]::text[]");
    }
    if let Some(p) = f.provider {
        q.push(" AND tenant_id = ").push_bind(p);
    }
    if let Some(m) = f.max_minutes {
        q.push(" AND minutes <= ").push_bind(m);
    }
    if f.by_title {
        if let Some((title, id)) = &f.after {
            q.push(" AND (lower(title), course_id) > (").push_bind(title.clone()).push(", ").push_bind(*id).push(")");
        }
        q.push(" ORDER BY lower(title), course_id");
    } else {
        if let Some((at, id)) = &f.after {
            let at: DateTime<Utc> = at.parse().unwrap_or_default();
            q.push(" AND (published_at, course_id) < (").push_bind(at).push(", ").push_bind(*id).push(")");
        }
        q.push(" ORDER BY published_at DESC, course_id DESC");
    }
    q.push(" LIMIT ").push_bind(limit);
    q.build_query_as().fetch_all(tx).await
}

pub async fn entry_get(tx: &mut PgConnection, course: CourseId) -> Result<Option<EntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY} FROM entries WHERE course_id = $1 AND retired_at IS NULL AND visibility <> 'private'"
    ))
    .bind(course)
    .fetch_optional(tx)
    .await
}
