//! notification's tables (`migrations/notification`), every query in the caller's
//! tenant transaction (RLS).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{DeliveryId, EndpointId, TenantId, UserId};
use mirai_kit::pagination::Cursor;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

// ---- endpoints ---------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct EndpointRow {
    pub id: EndpointId,
    pub tenant_id: TenantId,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ENDPOINT: &str = "id, tenant_id, url, description, event_types, enabled, disabled_reason, failing_since, \
                        consecutive_failures, created_at, updated_at";

pub async fn endpoint_insert(
    tx: &mut PgConnection,
    id: EndpointId,
    tenant: TenantId,
    url: &str,
    description: &str,
    event_types: &[String],
) -> Result<EndpointRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO endpoints (id, tenant_id, url, description, event_types) VALUES ($1, $2, $3, $4, $5) \
         RETURNING {ENDPOINT}"
    ))
    .bind(id)
    .bind(tenant)
    .bind(url)
    .bind(description)
    .bind(event_types)
    .fetch_one(tx)
    .await
}

pub async fn endpoint_get(
    tx: &mut PgConnection,
    id: EndpointId,
    lock: bool,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {ENDPOINT} FROM endpoints WHERE id = $1{lock}")).bind(id).fetch_optional(tx).await
}

pub async fn endpoints_list(
    tx: &mut PgConnection,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT} FROM endpoints WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn endpoint_update(
    tx: &mut PgConnection,
    id: EndpointId,
    url: &str,
    description: &str,
    event_types: &[String],
    enabled: bool,
    disabled_reason: Option<&str>,
    reset_failures: bool,
) -> Result<EndpointRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE endpoints SET url = $2, description = $3, event_types = $4, enabled = $5, disabled_reason = $6, \
           failing_since = CASE WHEN $7 THEN NULL ELSE failing_since END, \
           consecutive_failures = CASE WHEN $7 THEN 0 ELSE consecutive_failures END, updated_at = now() \
         WHERE id = $1 RETURNING {ENDPOINT}"
    ))
    .bind(id)
    .bind(url)
    .bind(description)
    .bind(event_types)
    .bind(enabled)
    .bind(disabled_reason)
    .bind(reset_failures)
    .fetch_one(tx)
    .await
}

/// An endpoint for a delivery attempt's outcome: locked against other outcomes and
/// changes (not against new deliveries, whose key checks it does not block).
pub async fn endpoint_for_outcome(tx: &mut PgConnection, id: EndpointId) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ENDPOINT} FROM endpoints WHERE id = $1 FOR NO KEY UPDATE"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// How many endpoints the tenant has.
pub async fn endpoints_count(tx: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM endpoints").fetch_one(tx).await
}

/// Disables an enabled endpoint that has failed at least `min` times for `after_secs`;
/// the endpoint if this call disabled it.
pub async fn endpoint_disable_if_failing(
    tx: &mut PgConnection,
    id: EndpointId,
    min: i32,
    after_secs: f64,
    reason: &str,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE endpoints SET enabled = false, disabled_reason = $4, updated_at = now() \
         WHERE id = $1 AND enabled AND consecutive_failures >= $2 \
           AND failing_since <= now() - make_interval(secs => $3) RETURNING {ENDPOINT}"
    ))
    .bind(id)
    .bind(min)
    .bind(after_secs)
    .bind(reason)
    .fetch_optional(tx)
    .await
}

pub async fn endpoint_delete(tx: &mut PgConnection, id: EndpointId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM endpoints WHERE id = $1").bind(id).execute(tx).await.map(drop)
}

/// One more failed attempt: the endpoint's count and since when it has failed.
pub async fn endpoint_failed(tx: &mut PgConnection, id: EndpointId) -> Result<(i32, DateTime<Utc>), sqlx::Error> {
    sqlx::query_as(
        "UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, \
           failing_since = coalesce(failing_since, now()) WHERE id = $1 \
         RETURNING consecutive_failures, failing_since",
    )
    .bind(id)
    .fetch_one(tx)
    .await
}

pub async fn endpoint_succeeded(tx: &mut PgConnection, id: EndpointId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE endpoints SET consecutive_failures = 0, failing_since = NULL \
         WHERE id = $1 AND (consecutive_failures <> 0 OR failing_since IS NOT NULL)",
    )
    .bind(id)
    .execute(tx)
    .await
    .map(drop)
}

/// The tenant's enabled endpoints that want `event_type` (no filter: every type).
pub async fn endpoints_for(tx: &mut PgConnection, event_type: &str) -> Result<Vec<EndpointId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM endpoints WHERE enabled AND (event_types = '{}' OR $1 = ANY(event_types)) ORDER BY id",
    )
    .bind(event_type)
    .fetch_all(tx)
    .await
}

// ---- secrets -----------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct SecretRow {
    pub kek_id: String,
    pub sealed: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn secret_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    endpoint: EndpointId,
    id: Uuid,
    kek_id: &str,
    sealed: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO endpoint_secrets (id, tenant_id, endpoint_id, kek_id, sealed) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(tenant)
        .bind(endpoint)
        .bind(kek_id)
        .bind(sealed)
        .execute(tx)
        .await
        .map(drop)
}

/// The current secret expires at `at` (a rotation); expired ones go.
pub async fn secrets_expire(tx: &mut PgConnection, endpoint: EndpointId, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM endpoint_secrets WHERE endpoint_id = $1 AND expires_at <= now()")
        .bind(endpoint)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE endpoint_secrets SET expires_at = $2 WHERE endpoint_id = $1 AND expires_at IS NULL")
        .bind(endpoint)
        .bind(at)
        .execute(tx)
        .await
        .map(drop)
}

/// The secrets that sign now, the current one first.
pub async fn secrets_valid(tx: &mut PgConnection, endpoint: EndpointId) -> Result<Vec<SecretRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kek_id, sealed, expires_at FROM endpoint_secrets \
         WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now()) \
         ORDER BY expires_at DESC NULLS FIRST, created_at DESC",
    )
    .bind(endpoint)
    .fetch_all(tx)
    .await
}

// ---- messages ----------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub seq: i64,
    pub event_type: String,
    pub body: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Records a message; false when it is known (a redelivered event).
pub async fn message_insert(
    tx: &mut PgConnection,
    id: Uuid,
    tenant: TenantId,
    event_type: &str,
    body: &serde_json::Value,
) -> Result<bool, sqlx::Error> {
    // The tenant's next seq, under a lock held to commit: seq order is commit order.
    mirai_kit::db::xact_lock(&mut *tx, &format!("notification.messages:{tenant}")).await?;
    Ok(sqlx::query(
        "INSERT INTO messages (id, tenant_id, seq, event_type, body) \
         VALUES ($1, $2, (SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE tenant_id = $2), $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(tenant)
    .bind(event_type)
    .bind(body)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

pub async fn message_get(tx: &mut PgConnection, id: Uuid) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, seq, event_type, body, created_at FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// The tenant's messages after `seq`, oldest first, optionally of some types only.
pub async fn messages_after(
    tx: &mut PgConnection,
    after: i64,
    types: &[String],
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, seq, event_type, body, created_at FROM messages \
         WHERE seq > $1 AND ($2::text[] = '{}' OR event_type = ANY($2)) ORDER BY seq LIMIT $3",
    )
    .bind(after)
    .bind(types)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// The ids and seqs of the tenant's messages after `seq`, oldest first (a replay's list:
/// no bodies).
pub async fn message_ids_after(
    tx: &mut PgConnection,
    after: i64,
    types: &[String],
    limit: i64,
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, seq FROM messages WHERE seq > $1 AND ($2::text[] = '{}' OR event_type = ANY($2)) \
         ORDER BY seq LIMIT $3",
    )
    .bind(after)
    .bind(types)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Deletes the tenant's messages whose body matches one of `single` or both patterns of
/// an `accounts` pair (with their deliveries and attempts); how many.
pub async fn messages_delete_naming(
    tx: &mut PgConnection,
    single: &[String],
    accounts: &[(String, String)],
) -> Result<u64, sqlx::Error> {
    let (homes, names): (Vec<String>, Vec<String>) = accounts.iter().cloned().unzip();
    Ok(sqlx::query(
        "DELETE FROM messages WHERE body::text ILIKE ANY($1) \
           OR EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS a(home, name) \
                      WHERE body::text ILIKE a.home AND body::text ILIKE a.name)",
    )
    .bind(single)
    .bind(homes)
    .bind(names)
    .execute(tx)
    .await?
    .rows_affected())
}

// ---- deliveries --------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub message_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub round: i32,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const DELIVERY: &str = "d.id, d.endpoint_id, d.message_id, m.event_type, d.status, d.round, d.attempts, \
                        d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at";

/// A delivery of `message` to `endpoint`, unless there is one (its id then).
pub async fn delivery_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    endpoint: EndpointId,
    message: Uuid,
) -> Result<(DeliveryId, bool), sqlx::Error> {
    let id = DeliveryId::new();
    let inserted: Option<DeliveryId> = sqlx::query_scalar(
        "INSERT INTO deliveries (id, tenant_id, endpoint_id, message_id, status, next_attempt_at) \
         VALUES ($1, $2, $3, $4, 'pending', now()) ON CONFLICT (endpoint_id, message_id) DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(tenant)
    .bind(endpoint)
    .bind(message)
    .fetch_optional(&mut *tx)
    .await?;
    match inserted {
        Some(id) => Ok((id, true)),
        None => {
            let id = sqlx::query_scalar("SELECT id FROM deliveries WHERE endpoint_id = $1 AND message_id = $2")
                .bind(endpoint)
                .bind(message)
                .fetch_one(tx)
                .await?;
            Ok((id, false))
        }
    }
}

pub async fn delivery_get(
    tx: &mut PgConnection,
    id: DeliveryId,
    lock: bool,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE OF d" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {DELIVERY} FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

pub async fn deliveries_list(
    tx: &mut PgConnection,
    endpoint: EndpointId,
    status: Option<&str>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DELIVERY} FROM deliveries d JOIN messages m ON m.id = d.message_id \
         WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2) \
           AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4)) \
         ORDER BY d.created_at DESC, d.id DESC LIMIT $5"
    ))
    .bind(endpoint)
    .bind(status)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

pub async fn delivery_set(
    tx: &mut PgConnection,
    id: DeliveryId,
    status: &str,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_status: Option<i32>,
    last_error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_status = $5, last_error = $6, \
           updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(last_status)
    .bind(last_error)
    .execute(tx)
    .await
    .map(drop)
}

/// Starts a new round of a delivery (a replay): pending, no attempts yet; the round.
pub async fn delivery_new_round(tx: &mut PgConnection, id: DeliveryId) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE deliveries SET status = 'pending', round = round + 1, attempts = 0, next_attempt_at = now(), \
           updated_at = now() WHERE id = $1 RETURNING round",
    )
    .bind(id)
    .fetch_one(tx)
    .await
}

/// Fails the endpoint's pending deliveries (it was disabled); their ids.
pub async fn deliveries_fail_pending(
    tx: &mut PgConnection,
    endpoint: EndpointId,
    why: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $2, updated_at = now() \
         WHERE endpoint_id = $1 AND status = 'pending'",
    )
    .bind(endpoint)
    .bind(why)
    .execute(tx)
    .await?
    .rows_affected())
}

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub id: Uuid,
    pub trigger: String,
    pub at: DateTime<Utc>,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

#[allow(clippy::too_many_arguments)]
pub async fn attempt_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    delivery: DeliveryId,
    trigger: &str,
    at: DateTime<Utc>,
    response_status: Option<i32>,
    response_body: Option<&str>,
    error: Option<&str>,
    duration_ms: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO attempts (id, tenant_id, delivery_id, trigger, at, response_status, response_body, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(delivery)
    .bind(trigger)
    .bind(at)
    .bind(response_status)
    .bind(response_body)
    .bind(error)
    .bind(duration_ms)
    .execute(tx)
    .await
    .map(drop)
}

pub async fn attempts_of(tx: &mut PgConnection, delivery: DeliveryId) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, trigger, at, response_status, response_body, error, duration_ms FROM attempts \
         WHERE delivery_id = $1 ORDER BY at, id",
    )
    .bind(delivery)
    .fetch_all(tx)
    .await
}

// ---- people, tenants, preferences ----------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct Person {
    pub email: String,
    pub display_name: Option<String>,
}

/// A member's address as their session says it (changed only when it differs).
pub async fn person_seen(tx: &mut PgConnection, user: UserId, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO people (user_id, email) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, updated_at = now() \
         WHERE people.email IS DISTINCT FROM EXCLUDED.email",
    )
    .bind(user)
    .bind(email)
    .execute(tx)
    .await
    .map(drop)
}

pub async fn person_get(tx: &mut PgConnection, user: UserId) -> Result<Option<Person>, sqlx::Error> {
    sqlx::query_as("SELECT email, display_name FROM people WHERE user_id = $1").bind(user).fetch_optional(tx).await
}

pub async fn tenant_name_put(tx: &mut PgConnection, tenant: TenantId, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tenant_names (tenant_id, name) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE SET name = $2",
    )
    .bind(tenant)
    .bind(name)
    .execute(tx)
    .await
    .map(drop)
}

pub async fn tenant_name_get(tx: &mut PgConnection) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM tenant_names").fetch_optional(tx).await
}

/// A member's locale and per-category settings in the tenant.
pub async fn preferences_get(
    tx: &mut PgConnection,
    user: UserId,
) -> Result<Option<(String, serde_json::Value)>, sqlx::Error> {
    sqlx::query_as("SELECT locale, categories FROM preferences WHERE user_id = $1").bind(user).fetch_optional(tx).await
}

pub async fn preferences_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    locale: &str,
    categories: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO preferences (tenant_id, user_id, locale, categories) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET locale = $3, categories = $4, updated_at = now()",
    )
    .bind(tenant)
    .bind(user)
    .bind(locale)
    .bind(categories)
    .execute(tx)
    .await
    .map(drop)
}

// ---- inbox ---------------------------------------------------------------------------

pub async fn inbox_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    category: &str,
    title: &str,
    body: &str,
    link: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO inbox_items (id, tenant_id, user_id, category, title, body, link) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(user)
    .bind(category)
    .bind(title)
    .bind(body)
    .bind(link)
    .execute(tx)
    .await
    .map(drop)
}

const INBOX: &str = "id, category, title, body, link, created_at, read_at";

pub async fn inbox_list(
    tx: &mut PgConnection,
    user: UserId,
    unread: bool,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<crate::app::notify::InboxItem>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INBOX} FROM inbox_items WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL) \
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(user)
    .bind(unread)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

/// Items newer than `after` (ids are time-ordered), oldest first; the newest 20 when none.
pub async fn inbox_after(
    tx: &mut PgConnection,
    user: UserId,
    after: Option<Uuid>,
) -> Result<Vec<crate::app::notify::InboxItem>, sqlx::Error> {
    match after {
        Some(after) => {
            sqlx::query_as(&format!(
                "SELECT {INBOX} FROM inbox_items WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT 100"
            ))
            .bind(user)
            .bind(after)
            .fetch_all(tx)
            .await
        }
        None => sqlx::query_as(&format!(
            "SELECT * FROM (SELECT {INBOX} FROM inbox_items WHERE user_id = $1 ORDER BY id DESC LIMIT 20) i ORDER BY id"
        ))
        .bind(user)
        .fetch_all(tx)
        .await,
    }
}

/// Marks one item (or all) read; how many changed.
pub async fn inbox_read(tx: &mut PgConnection, user: UserId, item: Option<Uuid>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE inbox_items SET read_at = now() WHERE user_id = $1 AND read_at IS NULL AND ($2::uuid IS NULL OR id = $2)",
    )
    .bind(user)
    .bind(item)
    .execute(tx)
    .await?
    .rows_affected())
}

pub async fn inbox_exists(tx: &mut PgConnection, user: UserId, item: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM inbox_items WHERE user_id = $1 AND id = $2)")
        .bind(user)
        .bind(item)
        .fetch_one(tx)
        .await
}

// ---- emails --------------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct EmailRow {
    pub user_id: UserId,
    pub category: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub status: String,
    pub attempts: i32,
}

pub async fn email_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    category: &str,
    r: &crate::app::notify::Rendered,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO emails (id, tenant_id, user_id, category, subject, text_body, html_body, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')",
    )
    .bind(id)
    .bind(tenant)
    .bind(user)
    .bind(category)
    .bind(&r.subject)
    .bind(&r.text)
    .bind(&r.html)
    .execute(tx)
    .await?;
    Ok(id)
}

pub async fn email_get(tx: &mut PgConnection, id: Uuid) -> Result<Option<EmailRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT user_id, category, subject, text_body, html_body, status, attempts FROM emails WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(tx)
    .await
}

pub async fn email_set(
    tx: &mut PgConnection,
    id: Uuid,
    status: &str,
    attempts: i32,
    error: Option<&str>,
    to: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE emails SET status = $2, attempts = $3, last_error = $4, to_address = coalesce($5, to_address), \
           sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(attempts)
    .bind(error)
    .bind(to)
    .execute(tx)
    .await
    .map(drop)
}

/// A person's inbox, emails and address book entry, for an erasure; how many rows went.
pub async fn person_erase(tx: &mut PgConnection, user: UserId) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for q in [
        "DELETE FROM inbox_items WHERE user_id = $1",
        "DELETE FROM emails WHERE user_id = $1",
        "DELETE FROM preferences WHERE user_id = $1",
        // The address too (learned again from their session if they still use Mirai elsewhere).
        "DELETE FROM people WHERE user_id = $1",
    ] {
        n += sqlx::query(q).bind(user).execute(&mut *tx).await?.rows_affected();
    }
    Ok(n)
}
