//! A member's own notifications: preferences, the in-app inbox (and its live stream), and
//! the one-click unsubscribe an email links to.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::StatusCode,
    response::{
        Html,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::Stream;
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    app::notify::{self, InboxItem, Preferences},
};

/// Your notification preferences in your tenant.
#[utoipa::path(get, path = "/preferences", tag = "people", security(("bearer" = [])),
    responses((status = 200, description = "Your preferences", body = Preferences),
              (status = 403, description = "Not a person of a tenant", body = Problem, content_type = "application/problem+json")))]
async fn get_preferences(State(state): State<AppState>, principal: Principal) -> Result<Json<Preferences>, AppError> {
    Ok(Json(notify::preferences(&state, &principal).await?))
}

/// Set your locale and, per category, whether to get emails and in-app notifications.
#[utoipa::path(put, path = "/preferences", tag = "people", request_body = Preferences, security(("bearer" = [])),
    responses((status = 200, description = "Saved", body = Preferences),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn put_preferences(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<Preferences>,
) -> Result<Json<Preferences>, AppError> {
    Ok(Json(notify::set_preferences(&state, &principal, req).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only unread items.
    #[serde(default)]
    unread: bool,
    /// Items per page, 1 to 200 (default 50).
    limit: Option<i64>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

/// Your inbox, newest first.
#[utoipa::path(get, path = "/inbox", tag = "people", params(InboxQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of items", body = Page<InboxItem>)))]
async fn get_inbox(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<InboxQuery>,
) -> Result<Json<Page<InboxItem>>, AppError> {
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    Ok(Json(notify::inbox(&state, &principal, q.unread, page).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Marked {
    /// Items that became read.
    pub marked: u64,
}

/// Mark one item read.
#[utoipa::path(post, path = "/inbox/{item_id}/read", tag = "people",
    params(("item_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Read", body = Marked),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn read_item(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Marked>, AppError> {
    Ok(Json(Marked { marked: notify::mark_read(&state, &principal, Some(id)).await? }))
}

/// Mark every item read.
#[utoipa::path(post, path = "/inbox/read-all", tag = "people", security(("bearer" = [])),
    responses((status = 200, description = "Read", body = Marked)))]
async fn read_all(State(state): State<AppState>, principal: Principal) -> Result<Json<Marked>, AppError> {
    Ok(Json(Marked { marked: notify::mark_read(&state, &principal, None).await? }))
}

/// Your inbox, live: Server-Sent Events, each `item` a new inbox item (the newest 20
/// first), seen within about 2 s; reconnect with `Last-Event-ID` to go on from the last
/// one seen. The stream ends after two minutes; reconnect. At most 3 per member (429).
#[utoipa::path(get, path = "/inbox/stream", tag = "people", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream of `item` events", content_type = "text/event-stream"),
              (status = 429, description = "Three streams are open already", body = Problem, content_type = "application/problem+json")))]
async fn inbox_stream(
    State(state): State<AppState>,
    principal: Principal,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let (tenant, user) = notify::stream_member(&principal)?;
    let slot = state.streams.open(user)?;
    let last: Option<Uuid> = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    // Two minutes, then the client reconnects with Last-Event-ID: a stream never holds a
    // replica's shutdown for long, nor outlives its token by much.
    let until = tokio::time::Instant::now() + Duration::from_secs(120);
    let start = (state, last, Vec::<InboxItem>::new(), slot);
    let stream = futures::stream::unfold(start, move |(state, mut last, mut queue, slot)| async move {
        loop {
            if let Some(item) = (!queue.is_empty()).then(|| queue.remove(0)) {
                last = Some(item.id);
                let event = Event::default().event("item").id(item.id.to_string()).json_data(&item).ok()?;
                return Some((Ok(event), (state, last, queue, slot)));
            }
            if tokio::time::Instant::now() >= until || state.ctx.cancel.is_cancelled() {
                return None;
            }
            match notify::inbox_since(&state, tenant, user, last).await {
                Ok(items) if !items.is_empty() => queue = items,
                _ => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A one-click unsubscribe (RFC 8058): the mail client POSTs
/// `List-Unsubscribe=One-Click` here; the signed token says who and from what. No
/// credential: the token is the authority.
#[utoipa::path(post, path = "/unsubscribe/{token}", tag = "people",
    params(("token" = String, Path)), security(()),
    responses((status = 200, description = "Unsubscribed", content_type = "text/html"),
              (status = 404, description = "Not a valid link", body = Problem, content_type = "application/problem+json")))]
async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Result<Html<String>, AppError> {
    let category = notify::unsubscribe(&state, &token).await?;
    Ok(Html(format!(
        "<!doctype html><html><body><p>You will get no more emails about {}.</p></body></html>",
        notify::CATEGORIES.iter().find(|(c, _)| *c == category).map_or("this", |(_, what)| what)
    )))
}

/// The page a person who clicks the link sees: a button that unsubscribes (a GET never
/// changes anything, so link checkers and previews cannot unsubscribe anyone).
#[utoipa::path(get, path = "/unsubscribe/{token}", tag = "people",
    params(("token" = String, Path)), security(()),
    responses((status = 200, description = "A confirmation page", content_type = "text/html"),
              (status = 404, description = "Not a valid link", body = Problem, content_type = "application/problem+json")))]
async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<(StatusCode, Html<String>), AppError> {
    notify::read_token(secrecy::ExposeSecret::expose_secret(&*state.unsubscribe_key), &token)
        .ok_or_else(|| AppError::not_found("unsubscribe link", token.chars().take(16).collect::<String>()))?;
    Ok((
        StatusCode::OK,
        Html(format!(
            "<!doctype html><html><body><form method=\"post\" action=\"{}/api/v1/notification/unsubscribe/{token}\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">Unsubscribe</button></form></body></html>",
            state.settings.public_url
        )),
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(get_inbox))
        .routes(routes!(read_item))
        .routes(routes!(read_all))
        .routes(routes!(inbox_stream))
        .routes(routes!(unsubscribe, unsubscribe_page))
}
