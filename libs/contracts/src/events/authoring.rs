//! Payloads the authoring service publishes: a course version was published (with its
//! full outline, so catalog and search need nothing else) or retired.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{AssetId, BlockId, CourseId, LessonId, ModuleId, PackageId, TenantId},
};

/// A block in a published outline: its id, kind and plain text (for search).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlineBlock {
    pub block_id: BlockId,
    /// `text`, `image`, `video`, `file`, `quiz`, `package`, `code` or `callout`.
    pub kind: String,
    /// The block's readable text (rich text without markup, a caption, code), for search.
    pub text: String,
    /// The media asset an image, video or file block shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<AssetId>,
    /// The imported package a package block launches, and which of its items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_id: Option<PackageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The block's content as authoring holds it, by kind (`markdown`; `media_id`, `alt`,
    /// `caption`, `transcript`, `name`; `quiz_id`; `package_id`, `item`, `title`;
    /// `language`, `source`; `tone`): what the player shows. `None` in events published
    /// before it was carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<serde_json::Value>,
}

/// A lesson in a published outline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlineLesson {
    pub lesson_id: LessonId,
    pub title: String,
    pub blocks: Vec<OutlineBlock>,
}

/// A module in a published outline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlineModule {
    pub module_id: ModuleId,
    pub title: String,
    pub lessons: Vec<OutlineLesson>,
}

/// A course version was published: immutable, numbered, with its content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoursePublished {
    pub tenant_id: TenantId,
    pub course_id: CourseId,
    /// 1 for the first publication, then 2, 3, …
    pub version: i32,
    pub title: String,
    pub summary: String,
    /// BCP 47 tag of the course's language.
    pub locale: String,
    pub tags: Vec<String>,
    /// `private` (the tenant's authors), `tenant` (the tenant) or `public` (the catalog).
    pub visibility: String,
    /// `sha256:<hex>` of the version's canonical snapshot.
    pub content_hash: String,
    pub outline: Vec<OutlineModule>,
    pub published_at: DateTime<Utc>,
}

event!(CoursePublished, "authoring.course.published.v1", aggregate = course_id, tenant = tenant_id);

/// A course was retired: no version of it is offered any longer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseRetired {
    pub tenant_id: TenantId,
    pub course_id: CourseId,
    /// The last published version, if any.
    pub last_version: Option<i32>,
    pub retired_at: DateTime<Utc>,
}

event!(CourseRetired, "authoring.course.retired.v1", aggregate = course_id, tenant = tenant_id);
