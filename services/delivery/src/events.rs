//! What delivery consumes: authoring's published versions (what the player shows),
//! content's imported packages (what the SCORM runtime launches), media's ready assets
//! (what lessons show),
//! enrollment's enrollments (who may launch what) and tenant's erasure requests (it takes
//! part in the GDPR erasure choreography: a person's sessions, devices and bundles). A
//! retired course stays playable for whoever is enrolled in one of its versions: the
//! license bought that version.

use mirai_contracts::events::{
    assessment::AttemptGraded,
    authoring::CoursePublished,
    content::PackageImported,
    delivery::{DataSubjectErased, ErasureOutcome},
    enrollment::{EnrollmentCreated, EnrollmentEnded},
    media::AssetReady,
    tenant::DataSubjectErasureRequested,
};
use mirai_events::{ConsumerSpec, Cx, HandleError, outbox};

use crate::{AppState, store};

pub const CONSUMERS: &[(&str, &str)] = &[
    ("assessment", "delivery-quizzes"),
    ("authoring", "delivery-courses"),
    ("content", "delivery-packages"),
    ("enrollment", "delivery-enrollments"),
    ("media", "delivery-media"),
    ("tenant", "delivery-erasures"),
];

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    store::course_version_put(cx.tx, &e).await?;
    Ok(())
}

/// An imported package: what the SCORM runtime launches of it.
async fn on_imported(cx: Cx<'_>, e: PackageImported) -> Result<(), HandleError> {
    store::runtime::package_put(cx.tx, &e).await?;
    Ok(())
}

/// A media asset ready: what a lesson's image, video or file block links to.
async fn on_asset(cx: Cx<'_>, e: AssetReady) -> Result<(), HandleError> {
    store::asset_put(cx.tx, &e).await?;
    Ok(())
}

async fn on_enrolled(cx: Cx<'_>, e: EnrollmentCreated) -> Result<(), HandleError> {
    store::enrollment_put(cx.tx, &e).await?;
    Ok(())
}

async fn on_ended(cx: Cx<'_>, e: EnrollmentEnded) -> Result<(), HandleError> {
    store::enrollment_end(cx.tx, &e).await?;
    Ok(())
}

/// A person's erasure: what delivery holds of them in the tenant is deleted (their
/// statements are the LRS's part), and tenant is told what.
async fn on_erasure(cx: Cx<'_>, r: DataSubjectErasureRequested) -> Result<(), HandleError> {
    let (sessions_deleted, devices_deleted, bundles_deleted) = match r.subject.user_id {
        Some(user) => store::person_erase(cx.tx, user).await?,
        None => (0, 0, 0),
    };
    tracing::info!(tenant = %r.tenant_id, request = %r.request_id, sessions_deleted, devices_deleted, bundles_deleted, "data subject erased");
    let outcome = ErasureOutcome { sessions_deleted, devices_deleted, bundles_deleted };
    let reply = DataSubjectErased { tenant_id: r.tenant_id, request_id: r.request_id, outcome };
    let meta = cx.following();
    outbox::enqueue(cx.tx, crate::NAME, &meta, reply.into()).await?;
    Ok(())
}

/// A quiz graded: passed, it completes the lessons of the learner's session holding it.
async fn on_graded(cx: Cx<'_, AppState>, e: AttemptGraded) -> Result<(), HandleError> {
    let meta = cx.following();
    crate::app::quiz_passed(cx.state, cx.tx, &meta, &e)
        .await
        .map_err(|err| HandleError::Transient(anyhow::anyhow!("completing the lessons of quiz {}: {err}", e.quiz_id)))
}

pub fn consumers(state: &AppState) -> Vec<ConsumerSpec> {
    vec![
        ConsumerSpec::new("delivery-quizzes").on_with(&std::sync::Arc::new(state.clone()), on_graded),
        ConsumerSpec::new("delivery-courses").on(on_published),
        ConsumerSpec::new("delivery-packages").on(on_imported),
        ConsumerSpec::new("delivery-media").on(on_asset),
        ConsumerSpec::new("delivery-enrollments").on(on_enrolled).on(on_ended),
        ConsumerSpec::new("delivery-erasures").on(on_erasure),
    ]
}
