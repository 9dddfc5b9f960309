//! Cross-service and platform tests: the integrator walkthrough end to end, RLS and
//! grants, revocation across instances, the outbox under a relay crash, dead letters,
//! and the contracts (event schemas, OpenAPI drift, service independence).

mod ai_authoring;
mod author_to_discover;
mod bus_trust;
mod cli;
mod contracts;
mod cross_tenant;
mod demo;
mod dlq;
mod erasure;
mod jobs;
mod key_stream;
mod outbox;
mod revocation;
mod rls;
mod search_opensearch;
mod shutdown;
mod slow_clients;
mod tracing;
mod value_stream;
mod walkthrough;

use mirai_testkit::TestApp;

/// The fleet as `mirai dev` runs it.
pub async fn spawn_fleet() -> TestApp {
    TestApp::spawn(&mirai::services()).await
}
