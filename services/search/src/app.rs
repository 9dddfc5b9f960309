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
    /// `lexical` (words), `semantic` (meaning: the local embedding model) or `hybrid`
    /// (both, fused by reciprocal rank). Default: `hybrid` where the tenant has
    /// `ai.semantic_search` on, else `lexical`; `semantic` and `hybrid` need the flag.
    pub mode: Option<String>,
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
    /// The mode the results were ranked in.
    pub mode: String,
}

/// Reciprocal-rank fusion's constant: a hit at rank r of a list adds 1 / (K + r).
const RRF_K: f32 = 60.0;
/// Candidates each side contributes to a fusion.
const CANDIDATES: i64 = 50;

/// Fuses ranked lists by reciprocal rank: a document's score is the sum over the lists it
/// is in of 1 / (K + rank); the lexical hit's highlight wins over a snippet.
pub fn fuse(lists: &[Vec<crate::engine::Hit>], limit: usize) -> Vec<crate::engine::Hit> {
    let mut fused: Vec<crate::engine::Hit> = Vec::new();
    for list in lists {
        for (rank, hit) in list.iter().enumerate() {
            let add = 1.0 / (RRF_K + rank as f32 + 1.0);
            match fused.iter_mut().find(|h| h.id == hit.id) {
                Some(h) => h.score += add,
                None => fused.push(crate::engine::Hit { score: add, ..hit.clone() }),
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    fused.truncate(limit);
    fused
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
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let semantic_on = mirai_kit::features::enabled(&mut tx, "ai.semantic_search").await?;
    let mode = match params.mode.as_deref() {
        None if semantic_on => "hybrid",
        None | Some("lexical") => "lexical",
        Some(m @ ("semantic" | "hybrid")) if semantic_on => m,
        Some("semantic" | "hybrid") => return Err(mirai_kit::features::off("ai.semantic_search")),
        Some(_) => return Err(AppError::invalid("mode", "lexical, semantic or hybrid")),
    };
    let wanted = if mode == "lexical" { limit } else { CANDIDATES.max(limit) };
    let lexical = if mode == "semantic" {
        vec![]
    } else {
        match &state.engine {
            Engine::Postgres => store::search(&mut tx, &q, store::config_for(&locale), kind, wanted).await?,
            Engine::OpenSearch(os) => os.search(tenant, &q, &locale, kind, wanted).await.map_err(unavailable)?,
        }
    };
    let hits = if mode == "lexical" {
        lexical
    } else {
        let vector = match mirai_embed::embed(vec![q.clone()]).await {
            Ok(v) => Some(v),
            // Hybrid by default only: without the model, the words still answer.
            Err(e) if params.mode.is_none() => {
                tracing::warn!(error = %e, "search: no local embedding model; answering by words alone");
                None
            }
            Err(e) => {
                return Err(AppError::Upstream {
                    status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    slug: "ai-unavailable",
                    title: "The local embedding model is unavailable",
                    detail: e,
                    retry_after_secs: Some(30),
                });
            }
        };
        let Some(vector) = vector else {
            return Ok(Results {
                hits: lexical.into_iter().take(limit as usize).map(hit).collect(),
                mode: "lexical".into(),
            });
        };
        let semantic = store::nearest(&mut tx, &mirai_embed::to_pg(&vector[0]), kind, wanted).await?;
        if mode == "semantic" {
            semantic.into_iter().take(limit as usize).collect()
        } else {
            fuse(&[lexical, semantic], limit as usize)
        }
    };
    Ok(Results { hits: hits.into_iter().map(hit).collect(), mode: mode.to_owned() })
}

fn hit(h: crate::engine::Hit) -> Hit {
    Hit {
        lesson_id: (h.kind == "lesson").then_some(h.id),
        kind: h.kind,
        course_id: h.course_id,
        title: h.title,
        locale: h.locale,
        highlight: h.highlight,
        score: h.score,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: u128, score: f32) -> crate::engine::Hit {
        crate::engine::Hit {
            id: uuid::Uuid::from_u128(id),
            course_id: CourseId::from(uuid::Uuid::from_u128(99)),
            kind: "lesson".into(),
            title: format!("t{id}"),
            locale: "en".into(),
            highlight: String::new(),
            score,
        }
    }

    #[test]
    fn reciprocal_rank_fusion_rewards_what_both_lists_rank_high() {
        let lexical = vec![hit(1, 9.0), hit(2, 5.0), hit(3, 1.0)];
        let semantic = vec![hit(3, 0.9), hit(2, 0.8), hit(4, 0.7)];
        let fused = fuse(&[lexical, semantic], 3);
        let ids: Vec<u128> = fused.iter().map(|h| h.id.as_u128()).collect();
        // 3: 1/63 + 1/61 = 0.03227; 2: 2/62 = 0.03226; 1: 1/61; 4: 1/63 (cut by the limit).
        assert_eq!(ids, vec![3, 2, 1]);
        assert!((fused[0].score - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-6);
    }
}
