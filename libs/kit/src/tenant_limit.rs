//! A per-tenant ceiling on request rate, in every instance (GCRA, `governor`). The edge
//! limits per credential; this bounds what one tenant, with all its keys and users
//! together, can make one instance do, so a noisy tenant cannot starve the others. It
//! counts after authentication, when the tenant is known whatever the credential (the
//! edge cannot see an API key's tenant). Per instance: the fleet-wide ceiling is this
//! times the replicas serving.

use std::{num::NonZeroU32, sync::Arc};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};
use uuid::Uuid;

use crate::{AppError, Principal};

/// Keys held before idle tenants' states are dropped.
const RETAIN_AT: usize = 100_000;

/// The limiter: `MIRAI_TENANT_RATE_PER_SEC` sustained, `MIRAI_TENANT_RATE_BURST` at once.
#[derive(Clone)]
pub struct TenantLimit {
    limiter: Arc<DefaultKeyedRateLimiter<Uuid>>,
}

impl TenantLimit {
    /// None when `per_sec` is 0 (no ceiling).
    pub fn new(per_sec: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_sec)?;
        let burst = NonZeroU32::new(burst.max(per_sec)).unwrap_or(rate);
        Some(Self { limiter: Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))) })
    }

    /// Ok, or how many whole seconds the tenant must wait.
    pub fn check(&self, tenant: Uuid) -> Result<(), u64> {
        if self.limiter.len() > RETAIN_AT {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&tenant).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Middleware (inside authentication): 429 with `Retry-After` over the ceiling.
pub async fn layer(State(limit): State<TenantLimit>, req: Request, next: Next) -> Response {
    if let Some(tenant) = req.extensions().get::<Principal>().and_then(|p| p.tenant_id)
        && let Err(wait) = limit.check(tenant)
    {
        metrics::counter!("mirai_tenant_rate_limited_total").increment(1);
        return AppError::TooManyRequests {
            detail: "this tenant is over its request rate on this instance; retry after the given seconds".into(),
            retry_after_secs: wait.max(1),
        }
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_over_its_ceiling_waits_and_others_do_not() {
        let limit = TenantLimit::new(2, 3).unwrap();
        let (noisy, quiet) = (Uuid::now_v7(), Uuid::now_v7());
        for _ in 0..3 {
            assert_eq!(limit.check(noisy), Ok(()), "the burst is allowed");
        }
        let wait = limit.check(noisy).unwrap_err();
        assert!((1..=1).contains(&wait), "told to wait about half a second, rounded up: {wait}");
        assert_eq!(limit.check(quiet), Ok(()), "another tenant is unaffected");
        assert!(TenantLimit::new(0, 10).is_none(), "0 turns it off");
    }
}
