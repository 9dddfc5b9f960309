//! A course's metadata: what a client sends (with the outline), and the checks it gets
//! once, right after the caller is authorized.

use mirai_kit::{AppError, FieldError, Locale, Principal, Role};
use serde::Deserialize;
use utoipa::ToSchema;

use super::outline::ModuleInput;
use crate::store::{CourseRow, Meta};

/// A course's metadata, as sent to create one or with each draft write.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 2,000 characters.
    #[serde(default)]
    pub summary: String,
    /// The course's language (RFC 5646), e.g. `en-US`.
    pub locale: String,
    /// Up to 20 tags of 1 to 40 characters.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `private` (default), `tenant` or `public`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// The outline (modules → lessons → blocks), in order; new items have no `id`. On a
    /// write, leaving it out keeps the current outline (a metadata-only edit).
    #[serde(default)]
    pub modules: Option<Vec<ModuleInput>>,
}

pub(super) struct CheckedMeta {
    pub(super) title: String,
    pub(super) summary: String,
    pub(super) locale: String,
    pub(super) tags: Vec<String>,
    pub(super) visibility: String,
}

impl CheckedMeta {
    pub(super) fn meta(&self) -> Meta<'_> {
        Meta {
            title: &self.title,
            summary: &self.summary,
            locale: &self.locale,
            tags: &self.tags,
            visibility: &self.visibility,
        }
    }
}

/// Only a provider offers courses to every tenant: an organization's are its own.
pub(super) fn check_public(p: &Principal, meta: &CheckedMeta) -> Result<(), AppError> {
    let provider = p.has_role(Role::ProviderAdmin) || p.has_role(Role::Author) || p.is_platform_admin();
    if meta.visibility == "public" && !provider {
        return Err(AppError::Forbidden(
            "public courses are a provider's; an organization's are private or tenant".into(),
        ));
    }
    Ok(())
}

pub(super) fn check_meta(input: &CourseInput) -> Result<CheckedMeta, AppError> {
    let mut errors = vec![];
    let title = input.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        errors.push(FieldError::new("title", "1 to 200 characters"));
    }
    if input.summary.chars().count() > 2000 {
        errors.push(FieldError::new("summary", "at most 2,000 characters"));
    }
    if Locale::parse("locale", &input.locale).is_err() {
        errors.push(FieldError::new("locale", "a well-formed language tag (RFC 5646)"));
    }
    let mut tags: Vec<String> = input.tags.iter().map(|t| t.trim().to_lowercase()).collect();
    tags.sort();
    tags.dedup();
    if tags.len() > 20 || tags.iter().any(|t| t.is_empty() || t.chars().count() > 40) {
        errors.push(FieldError::new("tags", "up to 20 tags of 1 to 40 characters"));
    }
    let visibility = input.visibility.clone().unwrap_or_else(|| "private".into());
    if !matches!(visibility.as_str(), "private" | "tenant" | "public") {
        errors.push(FieldError::new("visibility", "private, tenant or public"));
    }
    if !errors.is_empty() {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        return Err(AppError::Invalid { detail, errors });
    }
    Ok(CheckedMeta { title, summary: input.summary.trim().to_owned(), locale: input.locale.clone(), tags, visibility })
}

pub(super) fn meta_of(r: &CourseRow) -> CheckedMeta {
    CheckedMeta {
        title: r.title.clone(),
        summary: r.summary.clone(),
        locale: r.locale.clone(),
        tags: r.tags.clone(),
        visibility: r.visibility.clone(),
    }
}
