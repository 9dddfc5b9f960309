//! The buyer's receipts and credit notes.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use mirai_contracts::ids::DocumentId;
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::documents::{self, Document},
};

/// The tenant's receipts and credit notes, newest first (the buyer's org admins).
#[utoipa::path(get, path = "/documents", tag = "documents", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of documents", body = Page<Document>),
              (status = 403, description = "Not an org admin", body = Problem, content_type = "application/problem+json")))]
async fn list_documents(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Document>>, AppError> {
    Ok(Json(documents::list(&state, &principal, page).await?))
}

/// One receipt or credit note.
#[utoipa::path(get, path = "/documents/{document_id}", tag = "documents",
    params(("document_id" = uuid::Uuid, Path, description = "The document")), security(("bearer" = [])),
    responses((status = 200, description = "The document", body = Document),
              (status = 403, description = "Not an org admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such document in the tenant", body = Problem, content_type = "application/problem+json")))]
async fn get_document(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<DocumentId>,
) -> Result<Json<Document>, AppError> {
    Ok(Json(documents::get(&state, &principal, id).await?))
}

/// One receipt or credit note as an HTML document, to print or save as PDF.
#[utoipa::path(get, path = "/documents/{document_id}/html", tag = "documents",
    params(("document_id" = uuid::Uuid, Path, description = "The document")), security(("bearer" = [])),
    responses((status = 200, description = "The document", body = String, content_type = "text/html"),
              (status = 403, description = "Not an org admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such document in the tenant", body = Problem, content_type = "application/problem+json")))]
async fn document_html(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<DocumentId>,
) -> Result<Response, AppError> {
    let d = documents::get(&state, &principal, id).await?;
    let html = documents::render(&d)?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_documents)).routes(routes!(get_document)).routes(routes!(document_html))
}
