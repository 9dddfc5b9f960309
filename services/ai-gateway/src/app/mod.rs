//! ai-gateway's use-cases: the tenant's configuration (`config`), the budget check and
//! settlement (`budget`), the calls themselves (`calls`), generations asked for over the
//! bus (`generations`), the vector store (`vectors`) and the documents generations are
//! grounded in (`documents`).

pub mod budget;
pub mod calls;
pub mod config;
pub mod documents;
pub mod generations;
pub mod vectors;

use mirai_kit::{AppError, Role};

/// The AI features a tenant turns on in tenant's feature flags, by the first segment of
/// a route's feature name, with who may call them.
pub fn area(feature: &str) -> Result<(&'static str, &'static [Role]), AppError> {
    const AUTHORS: &[Role] = &[Role::Author, Role::ProviderAdmin, Role::OrgAdmin];
    const GRADERS: &[Role] = &[Role::OrgAdmin, Role::OrgManager, Role::ProviderAdmin, Role::Author];
    match feature.split('.').next().unwrap_or_default() {
        "authoring" => Ok(("ai.authoring", AUTHORS)),
        "grading" => Ok(("ai.grading", GRADERS)),
        "tutor" => Ok(("ai.tutor", &Role::ALL)),
        "search" => Ok(("ai.semantic_search", &Role::ALL)),
        _ => Err(AppError::invalid(
            "feature",
            "must start with one of authoring., grading., tutor., search. (or be safety.moderation)",
        )),
    }
}

/// `area.name[.more]`: lowercase words joined by dots.
pub fn check_feature(feature: &str) -> Result<(), AppError> {
    let ok = feature.len() <= 100
        && feature.split('.').count() >= 2
        && feature.split('.').all(|w| {
            w.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid("feature", "lowercase words joined by dots, e.g. authoring.outline"))
    }
}

/// The route that moderates input and output, when a tenant sets one.
pub const MODERATION: &str = "safety.moderation";
