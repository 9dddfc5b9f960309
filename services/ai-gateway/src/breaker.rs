//! A circuit breaker per (tenant, provider): after `failures` consecutive failures the
//! circuit opens and calls to that provider are refused at once for `cooldown`; then one
//! trial call is let through (half-open): success closes the circuit, failure opens it
//! again. Process-local on purpose: each replica learns an outage from its own calls, and
//! a provider's recovery is noticed without coordination.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mirai_contracts::ids::TenantId;

#[derive(Debug, Clone, Copy)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial is out; if it never reports (its caller vanished), another is let
    /// through after the cooldown.
    HalfOpen {
        since: Instant,
    },
}

#[derive(Clone)]
pub struct Breakers {
    inner: Arc<Mutex<HashMap<(TenantId, String), State>>>,
    failures: u32,
    cooldown: Duration,
}

/// Whether a call may go to the provider now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Yes,
    /// Open: refused for this much longer.
    Open(Duration),
}

impl Breakers {
    pub fn new(failures: u32, cooldown: Duration) -> Self {
        Self { inner: Arc::default(), failures, cooldown }
    }

    pub fn admit(&self, tenant: TenantId, provider: &str) -> Admit {
        let mut map = self.inner.lock().expect("breakers");
        let key = (tenant, provider.to_owned());
        match map.get(&key).copied() {
            Some(State::Open { until }) => {
                let now = Instant::now();
                if now >= until {
                    map.insert(key, State::HalfOpen { since: now });
                    Admit::Yes
                } else {
                    Admit::Open(until - now)
                }
            }
            // One trial is in flight: the rest wait for its outcome (or its cooldown).
            Some(State::HalfOpen { since }) => {
                let now = Instant::now();
                if now >= since + self.cooldown {
                    map.insert(key, State::HalfOpen { since: now });
                    Admit::Yes
                } else {
                    Admit::Open(Duration::from_secs(1))
                }
            }
            _ => Admit::Yes,
        }
    }

    pub fn success(&self, tenant: TenantId, provider: &str) {
        self.inner.lock().expect("breakers").insert((tenant, provider.to_owned()), State::Closed { failures: 0 });
    }

    pub fn failure(&self, tenant: TenantId, provider: &str) {
        let mut map = self.inner.lock().expect("breakers");
        let key = (tenant, provider.to_owned());
        let next = match map.get(&key).copied() {
            Some(State::HalfOpen { .. }) => State::Open { until: Instant::now() + self.cooldown },
            Some(State::Closed { failures }) if failures + 1 >= self.failures => {
                tracing::warn!(%tenant, provider, "circuit opened after {} consecutive failures", failures + 1);
                State::Open { until: Instant::now() + self.cooldown }
            }
            Some(State::Closed { failures }) => State::Closed { failures: failures + 1 },
            None if self.failures <= 1 => State::Open { until: Instant::now() + self.cooldown },
            None => State::Closed { failures: 1 },
            Some(open @ State::Open { .. }) => open,
        };
        map.insert(key, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_half_opens_after_the_cooldown() {
        let b = Breakers::new(3, Duration::from_millis(50));
        let t = TenantId::new();
        for _ in 0..2 {
            b.failure(t, "p");
        }
        assert_eq!(b.admit(t, "p"), Admit::Yes);
        b.success(t, "p");
        for _ in 0..3 {
            b.failure(t, "p");
        }
        assert!(matches!(b.admit(t, "p"), Admit::Open(_)));
        assert_eq!(b.admit(TenantId::new(), "p"), Admit::Yes, "another tenant's circuit is its own");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.admit(t, "p"), Admit::Yes, "one trial after the cooldown");
        assert!(matches!(b.admit(t, "p"), Admit::Open(_)), "only one trial at a time");
        b.failure(t, "p");
        assert!(matches!(b.admit(t, "p"), Admit::Open(_)), "a failed trial opens it again");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.admit(t, "p"), Admit::Yes);
        b.success(t, "p");
        assert_eq!(b.admit(t, "p"), Admit::Yes);
        // A trial that never reports does not keep the circuit half-open for ever.
        for _ in 0..3 {
            b.failure(t, "p");
        }
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.admit(t, "p"), Admit::Yes, "the trial");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.admit(t, "p"), Admit::Yes, "another trial after the cooldown");
    }
}
