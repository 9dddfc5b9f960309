//! What marketplace consumes: authoring's publications (the versions a provider may
//! list; a retired course retires its listings), billing's word on payments (the
//! saga's other half, `app::orders`), enrollment's seats in use and tenant's kinds of
//! tenant (an individual buys for themself).

use chrono::Utc;
use mirai_contracts::events::{
    authoring::{CoursePublished, CourseRetired},
    enrollment::SeatsChanged,
    tenant::{TenantCreated, TenantKind},
};
use mirai_events::{ConsumerSpec, Cx, HandleError, outbox};

use crate::{app, store};

pub const CONSUMERS: &[(&str, &str)] = &[
    ("authoring", "marketplace-courses"),
    ("billing", "marketplace-payments"),
    ("enrollment", "marketplace-seats"),
    ("tenant", "marketplace-tenants"),
];

/// Whether a buyer is an individual (they buy one seat, for themself).
async fn on_tenant(cx: Cx<'_>, e: TenantCreated) -> Result<(), HandleError> {
    let kind = match e.kind {
        TenantKind::Org => "org",
        TenantKind::Provider => "provider",
        TenantKind::Individual => "individual",
    };
    store::tenant_kind_put(cx.tx, e.tenant_id, kind).await?;
    Ok(())
}

/// Seats in use guard refunds (`app::orders::refund`).
async fn on_seats(cx: Cx<'_>, e: SeatsChanged) -> Result<(), HandleError> {
    store::license_seats_in_use(cx.tx, e.license_id, e.in_use, e.revision).await?;
    Ok(())
}

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    store::course_version_put(cx.tx, e.tenant_id, e.course_id, e.version, &e.title, &e.visibility).await?;
    Ok(())
}

/// A retired course is no longer sold: its listings retire (licenses already granted stay).
async fn on_retired(cx: Cx<'_>, e: CourseRetired) -> Result<(), HandleError> {
    store::course_retire(cx.tx, e.course_id).await?;
    let retired = store::listings_retire(cx.tx, None, Some(e.course_id)).await?;
    let meta = cx.following();
    let events = retired.iter().map(|row| {
        let mut ev = app::listings::retired_event(row);
        ev.at = Utc::now();
        ev.into()
    });
    outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
    Ok(())
}

pub fn consumers() -> Vec<ConsumerSpec> {
    vec![
        ConsumerSpec::new("marketplace-courses").on(on_published).on(on_retired),
        ConsumerSpec::new("marketplace-payments")
            .on(app::orders::on_paid)
            .on(app::orders::on_payment_failed)
            .on(app::orders::on_healed)
            .on(app::licenses::on_subscription),
        ConsumerSpec::new("marketplace-seats").on(on_seats),
        ConsumerSpec::new("marketplace-tenants").on(on_tenant),
    ]
}
