//! media's use-cases: declare an upload, complete it (the object is checked before it is
//! announced), read, list, sign a download, delete what no published version uses.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use mirai_blobs::{
    Access,
    object_store::{self, ObjectStoreExt, path::Path},
};
use mirai_contracts::{
    events::media::{AssetDeleted, AssetReady},
    ids::{AssetId, TenantId},
};
use mirai_kit::{
    AppError, FieldError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    store::{self, AssetRow, NewAsset},
};

/// Who uploads and deletes: a provider's authors and admins, an organization's admins.
const EDITORS: &[Role] = &[Role::Author, Role::ProviderAdmin, Role::OrgAdmin];

/// The types media accepts, and whether their bytes can be recognized (a recognizable
/// type must be what its bytes say).
const TYPES: &[(&str, bool)] = &[
    ("image/png", true),
    ("image/jpeg", true),
    ("image/gif", true),
    ("image/webp", true),
    ("video/mp4", true),
    ("video/webm", true),
    ("audio/mpeg", true),
    ("audio/mp4", true),
    ("audio/ogg", true),
    ("application/pdf", true),
    ("application/zip", true),
    ("text/plain", false),
    ("text/markdown", false),
    ("text/csv", false),
    ("text/vtt", false),
];

/// An asset as its tenant sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Asset {
    #[schema(value_type = uuid::Uuid)]
    pub id: AssetId,
    /// `pending` (waiting for its bytes) or `ready`.
    pub status: String,
    pub filename: String,
    pub content_type: String,
    /// Bytes: declared while pending, verified once ready.
    pub size: i64,
    /// `sha256:<hex>` of the bytes, once ready.
    pub sha256: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub ready_at: Option<DateTime<Utc>>,
    /// The published course versions that show it (it cannot be deleted while any does);
    /// only on a single asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_by: Option<Vec<AssetUse>>,
}

/// A published course version that shows an asset.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetUse {
    pub course_id: uuid::Uuid,
    pub version: i32,
}

impl From<AssetRow> for Asset {
    fn from(r: AssetRow) -> Self {
        Self {
            id: r.id,
            status: r.status,
            filename: r.filename,
            content_type: r.content_type,
            size: r.size,
            sha256: r.sha256,
            created_by: r.created_by,
            created_at: r.created_at,
            ready_at: r.ready_at,
            used_by: None,
        }
    }
}

/// An upload to declare.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadInput {
    /// The file's name (no path), 1 to 255 characters.
    pub filename: String,
    /// Its media type: image/png, image/jpeg, image/gif, image/webp, video/mp4,
    /// video/webm, audio/mpeg, audio/mp4, audio/ogg, application/pdf, application/zip,
    /// text/plain, text/csv or text/vtt.
    pub content_type: String,
    /// Its exact size in bytes.
    pub size: i64,
}

/// Where and how to send the bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedRequest {
    /// `PUT` for an upload, `GET` for a download.
    pub method: String,
    pub url: String,
    /// Headers to send with it.
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// A declared upload: the pending asset and where to PUT its bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Upload {
    pub asset: Asset,
    pub upload: SignedRequest,
}

/// Where an asset's bytes live once it is complete.
fn object_key(tenant: TenantId, id: AssetId) -> String {
    format!("tenants/{tenant}/media/{id}")
}

/// Where the upload URL writes (staging, outside the tenants' assets: an S3 lifecycle
/// rule on `uploads/` and media's sweeper clear what is never completed). Completing
/// moves the bytes to the asset's own key, so an upload URL still within its time can
/// never change a completed asset.
pub fn upload_key(tenant: TenantId, id: AssetId) -> String {
    format!("uploads/{tenant}/{id}")
}

/// How long after its upload URL expires an upload may still be completed (its declared
/// size counts against the quota until then).
pub const COMPLETION_GRACE: chrono::Duration = chrono::Duration::hours(1);

fn check_upload(state: &AppState, input: &UploadInput) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let name = input.filename.trim();
    if name.is_empty()
        || name.chars().count() > 255
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
        || name == "."
        || name == ".."
    {
        errors.push(FieldError::new("filename", "1 to 255 characters, a name without a path or control characters"));
    }
    if !TYPES.iter().any(|(t, _)| *t == input.content_type) {
        errors.push(FieldError::new(
            "content_type",
            format!(
                "`{}` is not accepted; one of {}",
                input.content_type,
                TYPES.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let max = state.settings.max_asset_bytes;
    if input.size < 1 || input.size > max {
        errors.push(FieldError::new("size", format!("1 to {max} bytes")));
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Invalid { detail: "the upload is not valid".into(), errors }) }
}

/// Declares an upload: checks type, size and the tenant's quota, records the pending
/// asset and signs a PUT for exactly its object.
#[tracing::instrument(skip_all)]
pub async fn declare(state: &AppState, p: &Principal, input: UploadInput) -> Result<Upload, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    check_upload(state, &input)?;
    let id = AssetId::new();
    let key = object_key(tenant, id);
    let ttl = state.settings.upload_ttl;
    let (url, expires_at) = state
        .blobs
        .sign(Access::Put, &upload_key(tenant, id), ttl, Some(input.size as u64), Some(&input.content_type), None)
        .await
        .map_err(mirai_blobs::unavailable)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::lock_tenant(&mut tx, tenant).await?;
    let held = store::bytes_held(&mut tx).await?;
    let quota = state.settings.tenant_quota_bytes;
    if held + input.size > quota {
        return Err(AppError::client(
            axum::http::StatusCode::INSUFFICIENT_STORAGE,
            "quota-exceeded",
            "Storage quota exceeded",
            format!("the tenant holds {held} of its {quota} bytes; this upload needs {}", input.size),
        ));
    }
    let row = store::asset_insert(
        &mut tx,
        &NewAsset {
            id,
            tenant,
            filename: input.filename.trim(),
            content_type: &input.content_type,
            size: input.size,
            object_key: &key,
            by: &p.subject,
            upload_expires_at: expires_at,
        },
    )
    .await?;
    tx.commit().await?;
    let headers = [("content-type".to_owned(), input.content_type.clone())].into();
    Ok(Upload { asset: row.into(), upload: SignedRequest { method: "PUT".into(), url, headers, expires_at } })
}

/// What the stored bytes are: their size, SHA-256 and first bytes.
async fn inspect(state: &AppState, key: &str) -> Result<Option<(u64, String, Vec<u8>)>, AppError> {
    let got = match state.blobs.store().get(&Path::from(key)).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(mirai_blobs::unavailable(e)),
    };
    let mut stream = got.into_stream();
    let (mut size, mut hash, mut head) = (0u64, sha2::Sha256::new(), Vec::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(mirai_blobs::unavailable)?;
        size += chunk.len() as u64;
        hash.update(&chunk);
        if head.len() < 8192 {
            head.extend_from_slice(&chunk[..chunk.len().min(8192 - head.len())]);
        }
    }
    Ok(Some((size, format!("sha256:{}", hex::encode(hash.finalize())), head)))
}

/// Completes an upload: the object must exist with the declared size, and bytes of a
/// recognizable type must be that type; then the asset is ready and announced. Completing
/// a ready asset again answers the same.
#[tracing::instrument(skip_all, fields(asset = %id))]
pub async fn complete(state: &AppState, p: &Principal, id: AssetId) -> Result<Asset, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    // The asset's row stays locked until it is ready or refused: a second completion
    // waits, then finds it ready, and never moves or checks bytes concurrently.
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::asset_get(&mut tx, id, true).await?.ok_or_else(|| AppError::not_found("asset", id))?;
    if row.status == "ready" {
        return Ok(row.into());
    }
    let store = state.blobs.store();
    if Utc::now() > row.upload_expires_at + COMPLETION_GRACE {
        let _ = store.delete(&Path::from(upload_key(tenant, id))).await;
        return Err(AppError::client(
            axum::http::StatusCode::GONE,
            "upload-expired",
            "Upload expired",
            format!("asset {id} was not completed in time; declare the upload again"),
        ));
    }
    // The uploaded bytes move to the asset's key first (a retry after a crash finds them
    // there already), and are checked where they stay.
    match store.rename(&Path::from(upload_key(tenant, id)), &Path::from(row.object_key.as_str())).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(mirai_blobs::unavailable(e)),
    }
    let Some((size, sha256, head)) = inspect(state, &row.object_key).await? else {
        return Err(AppError::Conflict(format!(
            "no bytes were received for asset {id}: PUT the file to its upload URL, then complete it"
        )));
    };
    let refuse = |detail: String| async {
        // The bytes are not what was declared: they go, the intent stays for a retry.
        let _ = state.blobs.store().delete(&Path::from(row.object_key.as_str())).await;
        Err(AppError::Invalid { detail: detail.clone(), errors: vec![FieldError::new("content", detail)] })
    };
    if size != row.size as u64 {
        return refuse(format!("received {size} bytes; the upload declared {}", row.size)).await;
    }
    let recognizable = TYPES.iter().any(|(t, r)| *t == row.content_type && *r);
    let sniffed = infer::get(&head).map(|k| k.mime_type());
    let matches = match sniffed {
        Some(t) => t == row.content_type || (row.content_type == "audio/mp4" && t == "video/mp4"),
        // Text: valid UTF-8 (a character cut at the end of the sample is fine).
        None => !recognizable && std::str::from_utf8(&head).map_or_else(|e| e.error_len().is_none(), |_| true),
    };
    if !matches {
        return refuse(format!(
            "the bytes are {}, not the declared {}",
            sniffed.unwrap_or("of an unrecognized type"),
            row.content_type
        ))
        .await;
    }
    let Some(ready) = store::asset_ready(&mut tx, id, &sha256).await? else {
        return Err(AppError::Internal(anyhow::anyhow!("asset {id} was locked pending and is not")));
    };
    let event = AssetReady {
        tenant_id: tenant,
        asset_id: id,
        filename: ready.filename.clone(),
        content_type: ready.content_type.clone(),
        size: ready.size,
        sha256: sha256.clone(),
        object_key: ready.object_key.clone(),
        ready_at: ready.ready_at.unwrap_or_else(Utc::now),
    };
    state.ctx.publish(&mut tx, p, event.into()).await?;
    tx.commit().await?;
    Ok(ready.into())
}

#[tracing::instrument(skip_all, fields(asset = %id))]
pub async fn get(state: &AppState, p: &Principal, id: AssetId) -> Result<Asset, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::asset_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("asset", id))?;
    let uses = store::uses_of(&mut tx, id).await?;
    let mut asset = Asset::from(row);
    asset.used_by = Some(uses.into_iter().map(|(course_id, version)| AssetUse { course_id, version }).collect());
    Ok(asset)
}

/// The list's parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `pending` or `ready`; both when absent.
    pub status: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState, p: &Principal, params: ListParams) -> Result<Page<Asset>, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    if let Some(s) = params.status.as_deref().filter(|s| !matches!(*s, "pending" | "ready")) {
        return Err(AppError::invalid("status", format!("`{s}` is not pending or ready")));
    }
    let page = PageParams { limit: params.limit, cursor: params.cursor };
    let limit = page.limit()?;
    let after = page.cursor()?.map(|c| (c.created_at, AssetId::from(c.id)));
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::asset_list(&mut tx, params.status.as_deref(), after, limit + 1).await?;
    let data = rows.into_iter().map(Asset::from).collect();
    Ok(Page::from_rows(data, limit, |a: &Asset| Cursor { created_at: a.created_at, id: a.id.into() }))
}

/// A short-lived URL to download a ready asset, for any member of its tenant.
#[tracing::instrument(skip_all, fields(asset = %id))]
pub async fn download(state: &AppState, p: &Principal, id: AssetId) -> Result<SignedRequest, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let row = {
        let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
        store::asset_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("asset", id))?
    };
    if row.status != "ready" {
        return Err(AppError::Conflict(format!("asset {id} is still waiting for its upload to be completed")));
    }
    let (url, expires_at) = state
        .blobs
        .sign(
            Access::Get,
            &row.object_key,
            state.settings.download_ttl,
            None,
            Some(&row.content_type),
            Some(&row.filename),
        )
        .await
        .map_err(mirai_blobs::unavailable)?;
    Ok(SignedRequest { method: "GET".into(), url, headers: Default::default(), expires_at })
}

/// Deletes an asset no published course version shows (those are refused with the
/// versions that use it), and its bytes.
#[tracing::instrument(skip_all, fields(asset = %id))]
pub async fn delete(state: &AppState, p: &Principal, id: AssetId) -> Result<(), AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::asset_get(&mut tx, id, true).await?.ok_or_else(|| AppError::not_found("asset", id))?;
    let uses = store::uses_of(&mut tx, id).await?;
    if !uses.is_empty() {
        let list = uses.iter().map(|(c, v)| format!("course {c} version {v}")).collect::<Vec<_>>().join(", ");
        return Err(AppError::Conflict(format!("asset {id} is shown by published versions and stays: {list}")));
    }
    store::asset_delete(&mut tx, id).await?;
    let event = AssetDeleted { tenant_id: tenant, asset_id: id, deleted_at: Utc::now() };
    state.ctx.publish(&mut tx, p, event.into()).await?;
    tx.commit().await?;
    // After the commit: a failure here leaves an orphaned object, never a row without one.
    for key in [row.object_key.clone(), upload_key(tenant, id)] {
        match state.blobs.store().delete(&Path::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(error = %e, key = %key, "media: deleting the object failed; it is orphaned"),
        }
    }
    Ok(())
}
