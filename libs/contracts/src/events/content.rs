//! Payloads the content service publishes: a SCORM or cmi5 package was imported, with the
//! course structure made of it (authoring turns it into draft lessons).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{CourseId, PackageId, TenantId},
};

/// A launchable item of a package (a SCO, an asset, an AU) as a lesson.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageLesson {
    pub title: String,
    /// The item's identifier in the manifest.
    pub item: String,
    /// The launch URL, relative to the package root (parameters and `xml:base` applied).
    pub launch: String,
    /// The scaled score (0 to 1) that passes the item, when the manifest sets one (SCORM
    /// 1.2's masteryscore / 100, 2004's minNormalizedMeasure, cmi5's masteryScore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mastery_score: Option<f64>,
    /// A cmi5 AU's course-structure attributes (cmi5 packages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub au: Option<PackageAu>,
}

/// What a cmi5 AU's LMS needs of it besides its URL (cmi5 13.1.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageAu {
    /// `Passed`, `Completed`, `CompletedAndPassed`, `CompletedOrPassed` or `NotApplicable`.
    pub move_on: String,
    /// `AnyWindow` or `OwnWindow`.
    pub launch_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_parameters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement_key: Option<String>,
    /// The ids (IRIs) of the blocks enclosing the AU, outermost first.
    #[serde(default)]
    pub blocks: Vec<String>,
}

/// A group of lessons: an item with children, or the organization's top-level items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageModule {
    pub title: String,
    pub lessons: Vec<PackageLesson>,
}

/// A package was imported: its files are stored under
/// `tenants/<tenant_id>/packages/<package_id>/`, and this is the course structure made of
/// its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageImported {
    pub tenant_id: TenantId,
    pub package_id: PackageId,
    /// `scorm_1.2`, `scorm_2004` or `cmi5`.
    pub standard: String,
    pub title: String,
    /// The course the lessons go to: an existing draft (`into_existing`), or a new draft
    /// course authoring creates under this id.
    pub course_id: CourseId,
    pub into_existing: bool,
    pub modules: Vec<PackageModule>,
    /// The cmi5 course's id (an IRI of its publisher), for a cmi5 package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course_iri: Option<String>,
    /// `sha256:<hex>` of the zip.
    pub sha256: String,
    pub imported_at: DateTime<Utc>,
}

event!(PackageImported, "content.package.imported.v1", aggregate = package_id, tenant = tenant_id);
