//! content's use-cases: import a package, read and list packages, export a published
//! course version as SCORM 1.2.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use mirai_blobs::object_store::{ObjectStoreExt, PutPayload, path::Path};
use mirai_contracts::{
    events::{
        authoring::OutlineModule,
        content::{PackageAu, PackageImported, PackageLesson, PackageModule},
    },
    ids::{CourseId, PackageId, TenantId},
};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::Serialize;
use sha2::Digest;
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::{
    AppState, export,
    manifest::{Broken, Manifest},
    package,
    store::{self, PackageRow},
};

/// Who imports and exports: a provider's authors and admins, an organization's admins.
const EDITORS: &[Role] = &[Role::Author, Role::ProviderAdmin, Role::OrgAdmin];

/// An imported package.
#[derive(Debug, Serialize, ToSchema)]
pub struct Package {
    #[schema(value_type = uuid::Uuid)]
    pub id: PackageId,
    /// `scorm_1.2`, `scorm_2004` or `cmi5`.
    pub standard: String,
    pub title: String,
    /// `sha256:<hex>` of the zip: importing the same bytes again answers this package.
    pub sha256: String,
    /// The zip's size and its files' inflated size, in bytes.
    pub bytes: i64,
    pub unpacked: i64,
    pub files: i32,
    /// What the manifest says: groups of launchable items, mastery scores, sequencing.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    /// The course its lessons go to (authoring adds them to the draft).
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    /// True when added to an existing course; false when a new draft course is made.
    pub into_existing: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<PackageRow> for Package {
    fn from(r: PackageRow) -> Self {
        Self {
            id: r.id,
            standard: r.standard,
            title: r.title,
            sha256: r.sha256,
            bytes: r.bytes,
            unpacked: r.unpacked,
            files: r.files,
            manifest: r.manifest.0,
            course_id: r.course_id,
            into_existing: r.into_existing,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

fn invalid_package(b: Broken) -> AppError {
    AppError::client(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "package-invalid", "Package not importable", b.0)
}

fn quota_exceeded(held: i64, quota: i64, needs: i64) -> AppError {
    AppError::client(
        axum::http::StatusCode::INSUFFICIENT_STORAGE,
        "quota-exceeded",
        "Storage quota exceeded",
        format!("the tenant's packages hold {held} of its {quota} bytes; this one needs {needs}"),
    )
}

fn prefix(tenant: TenantId, id: PackageId) -> String {
    format!("tenants/{tenant}/packages/{id}")
}

/// Removes whatever was stored under a package's prefix (an import that failed midway,
/// or lost a race to the same bytes).
async fn discard(state: &AppState, prefix: &str) {
    let store = state.blobs.store();
    let paths = store.list(Some(&Path::from(prefix))).map_ok(|m| m.location).boxed();
    let _ = store.delete_stream(paths).try_collect::<Vec<_>>().await;
}

/// A place among the imports this instance runs at once, taken before the package is
/// read (each holds a package and its files in flight); none free is a 429.
pub fn import_slot(state: &AppState, p: &Principal) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
    p.own_tenant(EDITORS)?;
    state.imports.clone().try_acquire_owned().map_err(|_| AppError::TooManyRequests {
        detail: "this instance is importing as many packages as it runs at once; retry shortly".into(),
        retry_after_secs: 5,
    })
}

/// Imports a package zip (whole, as the request body). `course_id`: add its lessons to
/// that draft; none: a new draft course.
#[tracing::instrument(skip_all, fields(bytes = zip.len()))]
pub async fn import(
    state: &AppState,
    p: &Principal,
    zip: Bytes,
    course_id: Option<CourseId>,
) -> Result<(bool, Package), AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    if zip.len() as u64 > state.limits.max_package {
        return Err(AppError::client(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Package too large",
            format!("the package is {} bytes; at most {} are accepted", zip.len(), state.limits.max_package),
        ));
    }
    let zip_bytes = zip.len() as i64;
    let sha256 = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&zip)));
    {
        let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
        if let Some(existing) = store::package_by_sha(&mut tx, &sha256).await? {
            return Ok((false, existing.into()));
        }
    }
    let limits = state.limits.clone();
    let inspected = zip.clone();
    let plan = tokio::task::spawn_blocking(move || package::inspect(inspected, &limits))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("import task: {e}")))?
        .map_err(invalid_package)?;

    // The quota, before any work (and again, under the tenant's lock, when recording).
    {
        let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
        let held = store::unpacked_held(&mut tx).await?;
        if held + plan.unpacked as i64 > state.tenant_quota {
            return Err(quota_exceeded(held, state.tenant_quota, plan.unpacked as i64));
        }
    }
    let id = PackageId::new();
    let root = prefix(tenant, id);
    let files = plan.entries.len() as i32;
    let (send, recv) = tokio::sync::mpsc::channel::<(String, Bytes)>(8);
    let limits = state.limits.clone();
    let entries = plan.entries;
    let inflate = tokio::task::spawn_blocking(move || package::extract(zip.clone(), entries, send, &limits));
    let store = state.blobs.store().clone();
    let stored = futures::stream::unfold(recv, |mut r| async move { r.recv().await.map(|x| (x, r)) })
        .map(|(path, bytes)| {
            let store = store.clone();
            let key = Path::from(format!("{root}/{path}"));
            async move { store.put(&key, PutPayload::from_bytes(bytes)).await.map(drop) }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await;
    let inflated = match inflate.await {
        Ok(r) => r.map_err(invalid_package),
        Err(e) => Err(AppError::Internal(anyhow::anyhow!("import task: {e}"))),
    };
    if let Err(e) = inflated {
        discard(state, &root).await;
        return Err(e);
    }
    if let Err(e) = stored {
        discard(state, &root).await;
        return Err(mirai_blobs::unavailable(e));
    }

    // From here on the files are stored: any failure removes them again.
    let recorded =
        record(state, p, tenant, id, plan.manifest, plan.unpacked, files, zip_bytes, sha256, course_id).await;
    match recorded {
        Ok(Recorded::New(row)) => Ok((true, row.into())),
        Ok(Recorded::Existing(row)) => {
            discard(state, &root).await;
            Ok((false, row.into()))
        }
        Err(e) => {
            discard(state, &root).await;
            Err(e)
        }
    }
}

enum Recorded {
    New(PackageRow),
    /// The same bytes were imported concurrently: that import stands.
    Existing(PackageRow),
}

/// The package's row and event, in one transaction, within the tenant's quota.
#[allow(clippy::too_many_arguments)]
async fn record(
    state: &AppState,
    p: &Principal,
    tenant: TenantId,
    id: PackageId,
    manifest: Manifest,
    unpacked: u64,
    files: i32,
    zip_bytes: i64,
    sha256: String,
    course_id: Option<CourseId>,
) -> Result<Recorded, AppError> {
    let (course_id, into_existing) = match course_id {
        Some(c) => (c, true),
        None => (CourseId::new(), false),
    };
    let row = PackageRow {
        id,
        tenant_id: tenant,
        standard: manifest.standard.clone(),
        title: manifest.title.clone(),
        sha256: sha256.clone(),
        bytes: zip_bytes,
        unpacked: unpacked as i64,
        files,
        manifest: Json(serde_json::to_value(&manifest).expect("the manifest serializes")),
        course_id,
        into_existing,
        created_by: p.subject.clone(),
        created_at: Utc::now(),
    };
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::lock_tenant(&mut tx, tenant).await?;
    let held = store::unpacked_held(&mut tx).await?;
    if held + row.unpacked > state.tenant_quota {
        return Err(quota_exceeded(held, state.tenant_quota, row.unpacked));
    }
    let Some(inserted) = store::package_insert(&mut tx, &row).await? else {
        let existing =
            store::package_by_sha(&mut tx, &sha256).await?.ok_or_else(|| AppError::not_found("package", id))?;
        return Ok(Recorded::Existing(existing));
    };
    let event = PackageImported {
        tenant_id: tenant,
        package_id: id,
        standard: manifest.standard.clone(),
        title: manifest.title.clone(),
        course_id,
        into_existing,
        modules: manifest
            .groups
            .iter()
            .map(|g| PackageModule {
                title: g.title.clone(),
                lessons: g
                    .items
                    .iter()
                    .map(|i| PackageLesson {
                        title: i.title.clone(),
                        item: i.item.clone(),
                        launch: i.launch.clone(),
                        mastery_score: i.mastery_score,
                        au: i.au.as_ref().map(|a| PackageAu {
                            move_on: a.move_on.clone(),
                            launch_method: a.launch_method.clone(),
                            launch_parameters: a.launch_parameters.clone(),
                            entitlement_key: a.entitlement_key.clone(),
                            blocks: a.blocks.clone(),
                        }),
                    })
                    .collect(),
            })
            .collect(),
        course_iri: manifest.course_iri.clone(),
        sha256,
        imported_at: inserted.created_at,
    };
    state.ctx.publish(&mut tx, p, event.into()).await?;
    tx.commit().await?;
    Ok(Recorded::New(inserted))
}

#[tracing::instrument(skip_all, fields(package = %id))]
pub async fn get(state: &AppState, p: &Principal, id: PackageId) -> Result<Package, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    Ok(store::package_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("package", id))?.into())
}

#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState, p: &Principal, page: &PageParams) -> Result<Page<Package>, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let limit = page.limit()?;
    let after = page.cursor()?.map(|c| (c.created_at, PackageId::from(c.id)));
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::package_list(&mut tx, after, limit + 1).await?;
    let data = rows.into_iter().map(Package::from).collect();
    Ok(Page::from_rows(data, limit, |p: &Package| Cursor { created_at: p.created_at, id: p.id.into() }))
}

/// The most media bytes one export carries.
const MAX_EXPORT_MEDIA: usize = 512 << 20;

/// A published version as a SCORM 1.2 zip: `(file name, bytes)`.
#[tracing::instrument(skip_all, fields(course = %course, version))]
pub async fn export_scorm12(
    state: &AppState,
    p: &Principal,
    course: CourseId,
    version: i32,
) -> Result<(String, Vec<u8>), AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let v = store::version_get(&mut tx, course, version)
        .await?
        .ok_or_else(|| AppError::not_found("published version", format!("{course} v{version}")))?;
    let outline: Vec<OutlineModule> =
        serde_json::from_value(v.outline.0).map_err(|e| AppError::Internal(anyhow::anyhow!("stored outline: {e}")))?;
    let wanted: Vec<uuid::Uuid> = outline
        .iter()
        .flat_map(|m| &m.lessons)
        .flat_map(|l| &l.blocks)
        .filter_map(|b| b.media_id.map(Into::into))
        .collect();
    let known = store::media_of(&mut tx, &wanted).await?;
    drop(tx);
    let mut media = Vec::new();
    let mut total = 0usize;
    for (id, kind, key) in known {
        // Sizes first: nothing is read once the export would be too large.
        let path = Path::from(key.as_str());
        let size = match state.blobs.store().head(&path).await {
            Ok(m) => m.size as usize,
            Err(e) => {
                tracing::warn!(error = %e, asset = %id, "content: an exported version's media is missing");
                continue;
            }
        };
        total += size;
        if total > MAX_EXPORT_MEDIA {
            return Err(AppError::client(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "export-too-large",
                "Export too large",
                format!("the version's media exceed {MAX_EXPORT_MEDIA} bytes"),
            ));
        }
        let bytes = state
            .blobs
            .store()
            .get(&path)
            .await
            .map_err(mirai_blobs::unavailable)?
            .bytes()
            .await
            .map_err(mirai_blobs::unavailable)?;
        let ext = kind.rsplit('/').next().unwrap_or("bin").replace(['+', '.'], "-");
        media.push((id, format!("{}.{ext}", id.simple()), bytes));
    }
    let title = v.title.clone();
    let zip = tokio::task::spawn_blocking(move || {
        export::scorm12(&export::Course {
            course_id: course.into(),
            version,
            title: &v.title,
            locale: &v.locale,
            outline: &outline,
            media,
        })
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("export task: {e}")))?
    .map_err(|e| AppError::Internal(anyhow::anyhow!("export zip: {e}")))?;
    let slug: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    Ok((format!("{}-v{version}-scorm12.zip", if slug.is_empty() { "course" } else { &slug }), zip))
}
