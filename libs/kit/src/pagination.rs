//! Cursor pagination: `?limit=&cursor=` in, `{ "data": [...], "next_cursor": ... }` out.
//! The cursor is opaque to clients: base64url of the last row's `(created_at, id)`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// A decoded position: rows strictly after it (in `created_at DESC, id DESC` order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl PageParams {
    pub fn limit(&self) -> Result<i64, AppError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(AppError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}"))),
        }
    }

    pub fn cursor(&self) -> Result<Option<Cursor>, AppError> {
        let Some(c) = &self.cursor else {
            return Ok(None);
        };
        let bad = || AppError::invalid("cursor", "is not a cursor this API returned");
        let raw = B64.decode(c).map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let (ts, id) = text.split_once('|').ok_or_else(bad)?;
        Ok(Some(Cursor {
            created_at: DateTime::parse_from_rfc3339(ts).map_err(|_| bad())?.with_timezone(&Utc),
            id: id.parse().map_err(|_| bad())?,
        }))
    }
}

impl Cursor {
    pub fn encode(&self) -> String {
        B64.encode(format!("{}|{}", self.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), self.id))
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row means there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(|r| key(r).encode()) } else { None };
        Page { data: rows, next_cursor }
    }
}
