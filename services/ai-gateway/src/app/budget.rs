//! Budgets: before a call, its estimate is reserved against every budget that applies
//! (the feature's and the tenant's, per day and per month), with the budget rows locked,
//! so concurrent calls check one at a time and see each other's reservations: together
//! they can overshoot a limit by no more than one call's actual use beyond its estimate.
//! Past a budget's degrade threshold a call goes to the route's cheaper target; past the
//! limit it is refused with 429 and `Retry-After` (when the period resets, or shortly
//! when it is only other calls' reservations in the way). After the call its real tokens
//! and cost are settled and the reservation dropped, in the transaction that records the
//! audit event.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use mirai_contracts::ids::TenantId;
use mirai_kit::AppError;
use sqlx::PgConnection;
use uuid::Uuid;

use super::config::Period;
use crate::store;

pub fn period_start(period: Period, now: DateTime<Utc>) -> NaiveDate {
    let day = now.date_naive();
    match period {
        Period::Day => day,
        Period::Month => day.with_day(1).expect("day 1 exists"),
    }
}

fn seconds_to_reset(period: Period, now: DateTime<Utc>) -> u64 {
    let start = period_start(period, now);
    let next = match period {
        Period::Day => start.succ_opt(),
        Period::Month => start.checked_add_months(chrono::Months::new(1)),
    }
    .expect("a next period");
    let reset = next.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    (reset - now).num_seconds().max(1) as u64
}

/// The budget check's answer for a call that may go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Past a soft threshold: use the cheaper target. Names the budget.
    Degraded(String),
}

/// Reserves `tokens` and `cost` for call `id` (expiring after `ttl_secs`), or refuses.
pub async fn reserve(
    tx: &mut PgConnection,
    tenant: TenantId,
    feature: &str,
    id: Uuid,
    tokens: i64,
    cost: i64,
    ttl_secs: i64,
) -> Result<Verdict, AppError> {
    let now = Utc::now();
    let mut verdict = Verdict::Allowed;
    for b in store::budgets_locked(tx, feature).await? {
        let period = if b.period == "day" { Period::Day } else { Period::Month };
        let (used_tokens, used_cost) = store::usage_of(tx, &b.scope, &b.period, period_start(period, now)).await?;
        let (held_tokens, held_cost) = store::reserved(tx, (b.scope != "*").then_some(feature)).await?;
        let name =
            format!("{} per {}", if b.scope == "*" { "the tenant's budget" } else { "the feature's budget" }, b.period);
        for (max, used, held, want, what) in [
            (b.max_tokens, used_tokens, held_tokens, tokens, "tokens"),
            (b.max_cost_micros, used_cost, held_cost, cost, "cost"),
        ] {
            let Some(max) = max else { continue };
            // Wide integers: a limit near i64::MAX times a percentage must not wrap.
            let (max, used, held, want) = (i128::from(max), i128::from(used), i128::from(held), i128::from(want));
            let scope = if b.scope == "*" { "all AI features" } else { b.scope.as_str() };
            if want > max {
                // No reset makes room for it: a call this size never fits this budget.
                return Err(AppError::client(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "ai-over-budget",
                    "The call is larger than the budget",
                    format!(
                        "{name} for {scope} is {max} {what}; this call needs up to {want}: ask for less (max_tokens, shorter input)"
                    ),
                ));
            }
            if used + held + want > max {
                let retry_after_secs = if used + want > max { seconds_to_reset(period, now) } else { 2 };
                return Err(AppError::TooManyRequests {
                    detail: format!(
                        "{name} for {scope} is spent ({what}: {used} used, {held} reserved by calls in flight, \
                         this call needs up to {want}, the limit is {max})",
                    ),
                    retry_after_secs,
                });
            }
            if (used + held + want) * 100 > max * i128::from(b.degrade_at_percent) && verdict == Verdict::Allowed {
                verdict = Verdict::Degraded(format!("budget:{}:{}:{what}", b.scope, b.period));
            }
        }
    }
    store::reservation_insert(tx, tenant, id, feature, tokens, cost, ttl_secs).await?;
    Ok(verdict)
}

/// Records a call's real use and drops its reservation.
pub async fn settle(
    tx: &mut PgConnection,
    tenant: TenantId,
    feature: &str,
    id: Uuid,
    tokens: i64,
    cost: i64,
) -> Result<(), AppError> {
    // The budget rows first, as `reserve` takes them: a settlement never lands between a
    // check's read of the usage and its read of the reservations.
    store::budgets_locked(tx, feature).await?;
    store::reservation_delete(tx, id).await?;
    let now = Utc::now();
    for scope in ["*", feature] {
        for period in [Period::Day, Period::Month] {
            store::usage_add(tx, tenant, scope, period.as_str(), period_start(period, now), tokens, cost).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_utc_midnight_and_the_first_of_the_month() {
        let t = DateTime::parse_from_rfc3339("2026-12-31T23:59:30Z").unwrap().with_timezone(&Utc);
        assert_eq!(period_start(Period::Day, t).to_string(), "2026-12-31");
        assert_eq!(period_start(Period::Month, t).to_string(), "2026-12-01");
        assert_eq!(seconds_to_reset(Period::Day, t), 30);
        assert_eq!(seconds_to_reset(Period::Month, t), 30);
    }
}
