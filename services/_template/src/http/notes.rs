//! Notes: create one, read one.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::{NoteId, TenantId};
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Note},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    /// 1 to 200 characters.
    title: String,
}

/// Create a note (org admin or manager). Send `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/tenants/{tenant_id}/notes", tag = "notes",
    params(("tenant_id" = uuid::Uuid, Path, description = "The tenant")),
    request_body = CreateNote, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = Note),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_note(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Json(req): Json<CreateNote>,
) -> Result<(StatusCode, Json<Note>), AppError> {
    Ok((StatusCode::CREATED, Json(app::create(&state, &principal, tenant, &req.title).await?)))
}

/// Read a note.
#[utoipa::path(get, path = "/tenants/{tenant_id}/notes/{note_id}", tag = "notes",
    params(("tenant_id" = uuid::Uuid, Path, description = "The tenant"), ("note_id" = uuid::Uuid, Path, description = "The note")),
    security(("bearer" = [])),
    responses((status = 200, description = "The note", body = Note),
              (status = 404, description = "No such note", body = Problem, content_type = "application/problem+json")))]
async fn get_note(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(TenantId, NoteId)>,
) -> Result<Json<Note>, AppError> {
    Ok(Json(app::get(&state, &principal, tenant, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_note)).routes(routes!(get_note))
}
