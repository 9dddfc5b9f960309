//! A file store's signed URLs land here (S3 serves its own): `PUT` the declared bytes of
//! an upload, `GET` a download. The URL is the credential: its HMAC covers the method,
//! the object key, the expiry and (for an upload) the exact size and type, and nothing
//! here reads or writes a byte before it is checked. No bearer token is needed.

use axum::{
    body::Body,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::put,
};
use futures::StreamExt;
use mirai_blobs::{
    Access, Grant, Refused,
    object_store::{self, ObjectStoreExt, WriteMultipart, path::Path},
};
use mirai_kit::{AppError, error::Problem};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

fn refused(r: Refused) -> AppError {
    match r {
        Refused::BadSignature => AppError::client(
            StatusCode::FORBIDDEN,
            "signature-invalid",
            "Signature does not match",
            "the URL's signature does not match its parameters: use the URL exactly as it was issued",
        ),
        Refused::Expired => AppError::client(
            StatusCode::FORBIDDEN,
            "url-expired",
            "URL expired",
            "the signed URL has expired: ask for a new one",
        ),
        Refused::Malformed(what) => AppError::client(
            StatusCode::BAD_REQUEST,
            "signed-url-malformed",
            "Not a signed URL",
            format!("this is not a signed URL media issued ({what})"),
        ),
    }
}

fn grant(state: &AppState, access: Access, key: &str, query: Option<String>) -> Result<Grant, AppError> {
    if !state.blobs.is_local() {
        return Err(AppError::not_found("blob route", "(the object store signs its own URLs)"));
    }
    state.blobs.verify(access, key, query.as_deref().unwrap_or("")).map_err(refused)
}

/// `<prefix>/<uuid>/<uuid>` (and for assets, `tenants/<uuid>/media/<uuid>`): the only
/// keys media signs. Anything else is no object of ours.
fn key_ids(key: &str, prefix: &str, middle: Option<&str>) -> Option<(uuid::Uuid, uuid::Uuid)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('/')?;
    let (tenant, rest) = rest.split_once('/')?;
    let id = match middle {
        Some(m) => rest.strip_prefix(m)?.strip_prefix('/')?,
        None => rest,
    };
    Some((tenant.parse().ok()?, id.parse().ok()?))
}

fn no_such_object(key: &str) -> AppError {
    AppError::not_found("object", key)
}

fn too_large(size: u64) -> AppError {
    AppError::client(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "More bytes than declared",
        format!("the upload declared {size} bytes; send exactly that many"),
    )
}

/// Upload the bytes of a declared upload to its signed URL: exactly the declared size,
/// with the declared `Content-Type`.
#[utoipa::path(put, path = "/blobs/{key}", tag = "media",
    params(("key" = String, Path, description = "The object key, as in the signed URL (it contains slashes)")),
    security(()),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 200, description = "Stored; complete the upload next"),
              (status = 400, description = "Not a signed URL, the wrong type, or fewer bytes than declared", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Signature invalid or expired", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "More bytes than declared", body = Problem, content_type = "application/problem+json")))]
pub async fn put_blob(
    State(state): State<AppState>,
    mirai_kit::Path(key): mirai_kit::Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, AppError> {
    let grant = grant(&state, Access::Put, &key, query)?;
    let size = grant.size.ok_or(refused(Refused::Malformed("no size")))?;
    // Only a declared upload, still open, takes bytes: not one deleted, completed or
    // past its URL's time (the signature alone would outlive all three).
    let (tenant, id) = key_ids(&key, "uploads", None).ok_or_else(|| no_such_object(&key))?;
    {
        let mut tx = state.ctx.db.tenant_tx(tenant).await?;
        let open = crate::store::asset_get(&mut tx, id.into(), false)
            .await?
            .is_some_and(|a| a.status == "pending" && a.upload_expires_at > chrono::Utc::now());
        if !open {
            return Err(AppError::client(
                StatusCode::FORBIDDEN,
                "upload-closed",
                "Upload closed",
                "this upload was completed, deleted or has expired: declare a new one",
            ));
        }
    }
    if let Some(t) = &grant.content_type {
        let sent = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if sent != t {
            return Err(AppError::client(
                StatusCode::BAD_REQUEST,
                "content-type-mismatch",
                "Wrong Content-Type",
                format!("this upload is for `{t}`; send Content-Type: {t}"),
            ));
        }
    }
    let declared_len = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if declared_len.is_some_and(|n: u64| n > size) {
        return Err(too_large(size));
    }
    let upload =
        state.blobs.store().put_multipart(&Path::from(key.as_str())).await.map_err(mirai_blobs::unavailable)?;
    let mut writer = WriteMultipart::new(upload);
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(AppError::client(
                    StatusCode::BAD_REQUEST,
                    "body-unreadable",
                    "Body unreadable",
                    format!("the upload broke off: {e}"),
                ));
            }
        };
        received += chunk.len() as u64;
        if received > size {
            let _ = writer.abort().await;
            return Err(too_large(size));
        }
        writer.wait_for_capacity(4).await.map_err(mirai_blobs::unavailable)?;
        writer.put(chunk);
    }
    if received != size {
        let _ = writer.abort().await;
        return Err(AppError::client(
            StatusCode::BAD_REQUEST,
            "incomplete-upload",
            "Fewer bytes than declared",
            format!("received {received} of the {size} bytes the upload declared"),
        ));
    }
    writer.finish().await.map_err(mirai_blobs::unavailable)?;
    Ok(StatusCode::OK)
}

/// Download an object through its signed URL.
#[utoipa::path(get, path = "/blobs/{key}", tag = "media",
    params(("key" = String, Path, description = "The object key, as in the signed URL (it contains slashes)")),
    security(()),
    responses((status = 200, description = "The bytes", content_type = "application/octet-stream"),
              (status = 206, description = "The requested byte range (`Range: bytes=…`)", content_type = "application/octet-stream"),
              (status = 416, description = "The range starts past the end", body = Problem, content_type = "application/problem+json"),
              (status = 400, description = "Not a signed URL", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Signature invalid or expired", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such object", body = Problem, content_type = "application/problem+json")))]
pub async fn get_blob(
    State(state): State<AppState>,
    mirai_kit::Path(key): mirai_kit::Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let grant = grant(&state, Access::Get, &key, query)?;
    key_ids(&key, "tenants", Some("media")).ok_or_else(|| no_such_object(&key))?;
    let path = Path::from(key.as_str());
    let size = match state.blobs.store().head(&path).await {
        Ok(m) => m.size,
        Err(object_store::Error::NotFound { .. }) => return Err(AppError::not_found("object", &key)),
        Err(e) => return Err(mirai_blobs::unavailable(e)),
    };
    // One byte range (a video seeking); several, or a malformed one, get the whole object.
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|v| byte_range(v, size));
    if let Some(Err(())) = range {
        let mut res = AppError::client(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range-not-satisfiable",
            "Range not satisfiable",
            format!("the object has {size} bytes; the range starts past them"),
        )
        .into_response();
        res.headers_mut()
            .insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"));
        return Ok(res);
    }
    let range = range.and_then(Result::ok);
    let opts =
        object_store::GetOptions { range: range.clone().map(object_store::GetRange::Bounded), ..Default::default() };
    let got = match state.blobs.store().get_opts(&path, opts).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Err(AppError::not_found("object", &key)),
        Err(e) => return Err(mirai_blobs::unavailable(e)),
    };
    let len = range.as_ref().map_or(size, |r| r.end - r.start);
    let mut res = Body::from_stream(got.into_stream()).into_response();
    let h = res.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(r) = &range {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1)).expect("ascii"),
        );
    }
    let kind = grant.content_type.as_deref().unwrap_or("application/octet-stream");
    if let Ok(v) = HeaderValue::from_str(kind) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    // Media types a browser renders safely are shown inline; anything else is a download.
    let inline = ["image/", "video/", "audio/"].iter().any(|p| kind.starts_with(p)) || kind == "application/pdf";
    let name: String = grant
        .filename
        .unwrap_or_else(|| "download".into())
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let disposition = format!("{}; filename=\"{name}\"", if inline { "inline" } else { "attachment" });
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if range.is_some() {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(res)
}

/// A single `bytes=` range of an object of `size` bytes (RFC 9110 §14.1.2): `a-b`, `a-`
/// or `-n`. `None`: no single range to honor (serve the whole object); `Some(Err)`: it
/// starts at or past the end (416).
fn byte_range(v: &str, size: u64) -> Option<Result<std::ops::Range<u64>, ()>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return Some(Err(()));
        }
        size.saturating_sub(n)..size
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() { size } else { b.parse::<u64>().ok()?.saturating_add(1).min(size) };
        if end <= start && start < size {
            return None;
        }
        start..end
    };
    if range.start >= size { Some(Err(())) } else { Some(Ok(range)) }
}

pub fn router() -> OpenApiRouter<AppState> {
    // The key spans several path segments: a wildcard route, documented as `/blobs/{key}`.
    OpenApiRouter::new().route("/blobs/{*key}", put(put_blob).get(get_blob))
}
