//! assignment's HTTP surface under `/api/v1/assignment`.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use mirai_contracts::ids::AssignmentId;
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Assignee, Assignment, AssignmentQuery, CreateAssignment, ReportQuery},
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai assignment", version = "1.0.0", description = "Courses assigned with due dates, recertification, reminders, escalation and the compliance report."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "assignments", description = "Who must complete which course by when, and who did.")),
)]
struct ApiDoc;

/// Assign a course (org admin or manager) to people and org units (their sub-units and
/// later members included), due by a date or a number of days after each person is
/// assigned; `recurrence_months` makes it due again after each completion. Each person
/// gets a seat through enrollment. A manager assigns within their org unit. Send
/// `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/assignments", tag = "assignments", request_body = CreateAssignment, security(("bearer" = [])),
    responses((status = 201, description = "Assigned", body = Assignment),
              (status = 403, description = "Not an org admin or manager, or outside the manager's units", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The tenant holds no license for the course", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid: unknown people or units, due date, numbers", body = Problem, content_type = "application/problem+json")))]
async fn create_assignment(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CreateAssignment>,
) -> Result<(StatusCode, Json<Assignment>), AppError> {
    Ok((StatusCode::CREATED, Json(app::create(&state, &principal, req).await?)))
}

/// The tenant's assignments, newest first (org admins, managers, compliance officers).
#[utoipa::path(get, path = "/assignments", tag = "assignments", params(AssignmentQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of assignments", body = Page<Assignment>),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json")))]
async fn list_assignments(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AssignmentQuery>,
) -> Result<Json<Page<Assignment>>, AppError> {
    Ok(Json(app::list(&state, &principal, q).await?))
}

/// One assignment with how many of its people are in each compliance status (a manager
/// counts the people of their units).
#[utoipa::path(get, path = "/assignments/{assignment_id}", tag = "assignments",
    params(("assignment_id" = uuid::Uuid, Path, description = "The assignment")), security(("bearer" = [])),
    responses((status = 200, description = "The assignment", body = Assignment),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such assignment in the tenant", body = Problem, content_type = "application/problem+json")))]
async fn get_assignment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<AssignmentId>,
) -> Result<Json<Assignment>, AppError> {
    Ok(Json(app::get(&state, &principal, id).await?))
}

/// Cancel an assignment: no more reminders or escalations, nobody added; the record of
/// who completed it stays (org admins; a manager cancels what they assigned).
#[utoipa::path(post, path = "/assignments/{assignment_id}/cancel", tag = "assignments",
    params(("assignment_id" = uuid::Uuid, Path, description = "The assignment")), security(("bearer" = [])),
    responses((status = 200, description = "Canceled", body = Assignment),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such assignment in the tenant", body = Problem, content_type = "application/problem+json")))]
async fn cancel_assignment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<AssignmentId>,
) -> Result<Json<Assignment>, AppError> {
    Ok(Json(app::cancel(&state, &principal, id).await?))
}

/// The compliance report: each person's status on each active assignment, filtered by
/// assignment, course, person, org unit (and the units below) or status. A manager sees
/// the people of their org unit and the units below it. `format=csv` answers every
/// matching line as CSV (`text/csv`, up to 100 000 lines) instead of a JSON page.
#[utoipa::path(get, path = "/reports/compliance", tag = "assignments", params(ReportQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of report lines, or the CSV", content(
                  (Page<Assignee> = "application/json"),
                  (String = "text/csv"))),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid filter, or too many lines for CSV", body = Problem, content_type = "application/problem+json")))]
async fn compliance_report(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(app::report(&state, &principal, q).await?).into_response()),
        Some("csv") => {
            let csv = app::report_csv(&state, &principal, q).await?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (header::CONTENT_DISPOSITION, "attachment; filename=\"compliance.csv\""),
                ],
                csv,
            )
                .into_response())
        }
        Some(_) => Err(AppError::invalid("format", "must be json or csv")),
    }
}

/// The caller's own assignments with their status and due dates.
#[utoipa::path(get, path = "/me/assignments", tag = "assignments", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of the caller's assignments", body = Page<Assignee>),
              (status = 403, description = "Not a user", body = Problem, content_type = "application/problem+json")))]
async fn my_assignments(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Assignee>>, AppError> {
    Ok(Json(app::mine(&state, &principal, page).await?))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(create_assignment, list_assignments))
        .routes(routes!(get_assignment))
        .routes(routes!(cancel_assignment))
        .routes(routes!(compliance_report))
        .routes(routes!(my_assignments))
}
