//! The search port: where documents are kept and how they are queried. Postgres (full
//! text per language, trigrams for typos; `crate::store`) is the default engine;
//! OpenSearch (`opensearch.rs`) plugs in behind the same calls for deployments that want
//! it (`MIRAI_SEARCH__ENGINE=opensearch`). Either way the watermark of what was indexed
//! (`courses_seen`) stays in Postgres, so ordering and replays work the same, and every
//! query carries the tenant filter (the caller's tenant, and what is public).
//!
//! The seam for semantic results: an engine answers `search` with scored hits; a hybrid
//! engine (the ai-gateway issue's vectors) ranks its own candidates with these.

pub mod opensearch;

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::authoring::CoursePublished,
    ids::{CourseId, TenantId},
};
use uuid::Uuid;

/// One searchable document: a course, or one of its lessons.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub course_id: CourseId,
    /// `course` or `lesson`.
    pub kind: &'static str,
    pub locale: String,
    pub visibility: String,
    pub title: String,
    pub body: String,
    pub version: i32,
    pub published_at: DateTime<Utc>,
}

/// The course (title; summary, lesson titles and every block's text) and each lesson
/// (title; its blocks' text).
pub fn docs_of(e: &CoursePublished) -> Vec<Doc> {
    let doc = |id: Uuid, kind, title: &str, body: String| Doc {
        id,
        tenant_id: e.tenant_id,
        course_id: e.course_id,
        kind,
        locale: e.locale.clone(),
        visibility: e.visibility.clone(),
        title: title.to_owned(),
        body,
        version: e.version,
        published_at: e.published_at,
    };
    let mut course_body = vec![e.summary.clone()];
    let mut lessons = vec![];
    for l in e.outline.iter().flat_map(|m| &m.lessons) {
        let text: Vec<&str> = l.blocks.iter().map(|b| b.text.as_str()).filter(|t| !t.is_empty()).collect();
        course_body.push(l.title.clone());
        course_body.extend(text.iter().map(|t| (*t).to_owned()));
        lessons.push(doc(l.lesson_id.into(), "lesson", &l.title, text.join("\n")));
    }
    let mut docs = vec![doc(e.course_id.into(), "course", &e.title, course_body.join("\n"))];
    docs.extend(lessons);
    docs
}

/// A result, as any engine answers it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Hit {
    pub id: Uuid,
    pub course_id: CourseId,
    pub kind: String,
    pub title: String,
    pub locale: String,
    /// HTML-escaped text with the matches in `<mark>…</mark>`.
    pub highlight: String,
    pub score: f32,
}

/// The engine a search service runs with.
#[derive(Clone)]
pub enum Engine {
    Postgres,
    OpenSearch(std::sync::Arc<opensearch::Os>),
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres => "postgres",
            Self::OpenSearch(_) => "opensearch",
        })
    }
}

impl Engine {
    /// `MIRAI_SEARCH__ENGINE` (`postgres`, the default, or `opensearch`), with
    /// `MIRAI_SEARCH__OPENSEARCH_URL`, `…__OPENSEARCH_PREFIX` (default `mirai-search`) and
    /// `…__LARGE_TENANTS` (tenant ids with an index of their own, comma-separated).
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str| mirai_kit::Config::service_var(crate::NAME, k);
        match var("ENGINE").as_deref() {
            None | Some("postgres") => Ok(Self::Postgres),
            Some("opensearch") => {
                let url = var("OPENSEARCH_URL").ok_or_else(|| {
                    anyhow::anyhow!("MIRAI_SEARCH__OPENSEARCH_URL is required with the opensearch engine")
                })?;
                let prefix = var("OPENSEARCH_PREFIX").unwrap_or_else(|| "mirai-search".into());
                let large = var("LARGE_TENANTS")
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<Uuid>()
                            .map_err(|_| anyhow::anyhow!("MIRAI_SEARCH__LARGE_TENANTS: `{s}` is not a uuid"))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Self::OpenSearch(std::sync::Arc::new(opensearch::Os::new(&url, &prefix, large)?)))
            }
            Some(other) => anyhow::bail!("MIRAI_SEARCH__ENGINE: `{other}` is not postgres or opensearch"),
        }
    }
}
