//! search's use-cases: search and suggest, as the caller's tenant sees.

use mirai_contracts::ids::{CourseId, TenantId};
use mirai_kit::{AppError, Locale, Principal};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{AppState, engine::Engine, store};

/// The search engine did not answer: a 503, retryable.
fn unavailable(e: impl std::fmt::Display) -> AppError {
    AppError::Unavailable(e.to_string())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for: words, "quoted phrases", -excluded (1 to 200 characters).
    pub q: String,
    /// `course` or `lesson` (default: both).
    pub kind: Option<String>,
    /// The query's language (RFC 5646) for stemming (default `en`); exact words match in
    /// any language.
    pub locale: Option<String>,
    /// 1 to 50 (default 20).
    pub limit: Option<i64>,
}

/// One result.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hit {
    /// `course` or `lesson`.
    pub kind: String,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    /// The lesson, for a lesson result.
    pub lesson_id: Option<uuid::Uuid>,
    pub title: String,
    pub locale: String,
    /// Where the text matched, HTML-escaped, the matches in `<mark>…</mark>`: safe to
    /// render as HTML.
    pub highlight: String,
    pub score: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Results {
    pub hits: Vec<Hit>,
}

fn query(q: &str) -> Result<String, AppError> {
    let q = q.trim();
    if q.is_empty() || q.chars().count() > 200 {
        return Err(AppError::invalid("q", "1 to 200 characters"));
    }
    if q.contains('\0') {
        return Err(AppError::invalid("q", "must not contain NUL"));
    }
    Ok(q.to_owned())
}

#[tracing::instrument(skip_all)]
pub async fn search(state: &AppState, p: &Principal, params: SearchParams) -> Result<Results, AppError> {
    let tenant = TenantId::from(p.tenant()?);
    let q = query(&params.q)?;
    let kind = match params.kind.as_deref() {
        None => None,
        Some(k @ ("course" | "lesson")) => Some(k),
        Some(_) => return Err(AppError::invalid("kind", "course or lesson")),
    };
    let locale = params.locale.unwrap_or_else(|| "en".into());
    Locale::parse("locale", &locale)?;
    let limit = match params.limit {
        None => 20,
        Some(n) if (1..=50).contains(&n) => n,
        Some(_) => return Err(AppError::invalid("limit", "must be between 1 and 50")),
    };
    let hits = match &state.engine {
        Engine::Postgres => {
            let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
            store::search(&mut tx, &q, store::config_for(&locale), kind, limit).await?
        }
        Engine::OpenSearch(os) => os.search(tenant, &q, &locale, kind, limit).await.map_err(unavailable)?,
    };
    Ok(Results {
        hits: hits
            .into_iter()
            .map(|h| Hit {
                lesson_id: (h.kind == "lesson").then_some(h.id),
                kind: h.kind,
                course_id: h.course_id,
                title: h.title,
                locale: h.locale,
                highlight: h.highlight,
                score: h.score,
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SuggestParams {
    /// What the user typed so far (1 to 100 characters).
    pub q: String,
    /// 1 to 20 (default 10).
    pub limit: Option<i64>,
}

#[tracing::instrument(skip_all)]
pub async fn suggest(state: &AppState, p: &Principal, params: SuggestParams) -> Result<Vec<String>, AppError> {
    let tenant = TenantId::from(p.tenant()?);
    let q = params.q.trim();
    if q.is_empty() || q.chars().count() > 100 || q.contains('\0') {
        return Err(AppError::invalid("q", "1 to 100 characters"));
    }
    let limit = match params.limit {
        None => 10,
        Some(n) if (1..=20).contains(&n) => n,
        Some(_) => return Err(AppError::invalid("limit", "must be between 1 and 20")),
    };
    match &state.engine {
        Engine::Postgres => {
            let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
            Ok(store::suggest(&mut tx, q, limit).await?)
        }
        Engine::OpenSearch(os) => os.suggest(tenant, q, limit).await.map_err(unavailable),
    }
}
