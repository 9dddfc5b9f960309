//! `login_attempts`: failed-login counters per account and per client IP, shared by all
//! replicas, in fixed windows. Spans carry no key: it names an email or a client IP.

use sqlx::PgConnection;

/// Seconds until the key may try again, if it is over `max` failures in the window.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn throttle_blocked_for(
    tx: &mut PgConnection,
    key: &str,
    max: i32,
    window_secs: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT GREATEST(1, CEIL(EXTRACT(EPOCH FROM (window_start + make_interval(secs => $3) - now()))))::bigint \
         FROM login_attempts WHERE key = $1 AND failures >= $2 AND window_start > now() - make_interval(secs => $3)",
    )
    .bind(key)
    .bind(max)
    .bind(window_secs as f64)
    .fetch_optional(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn throttle_record_failure(tx: &mut PgConnection, key: &str, window_secs: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO login_attempts (key, failures, window_start) VALUES ($1, 1, now()) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_attempts.window_start <= now() - make_interval(secs => $2) THEN 1 ELSE login_attempts.failures + 1 END, \
           window_start = CASE WHEN login_attempts.window_start <= now() - make_interval(secs => $2) THEN now() ELSE login_attempts.window_start END",
    )
    .bind(key)
    .bind(window_secs as f64)
    .execute(tx)
    .await
    .map(|_| ())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn throttle_clear(tx: &mut PgConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_attempts WHERE key = $1").bind(key).execute(tx).await.map(|_| ())
}
