//! What assignment consumes: tenant's members, org units and groups (who an assignment reaches,
//! who their managers are), marketplace's licenses (what may be assigned), enrollment's
//! answers (whether an assignee got a seat) and the LRS's statements (progress and
//! completions).

use mirai_contracts::events::lrs::StatementPurged;
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::{AppState, app::track};

pub const CONSUMERS: &[(&str, &str)] = &[
    ("tenant", "assignment-tenant"),
    ("marketplace", "assignment-licenses"),
    ("enrollment", "assignment-enrollment"),
    ("lrs", "assignment-statements"),
];

/// A purged statement is gone for good: a completion it showed is undone like a void.
async fn on_purged(cx: Cx<'_>, e: StatementPurged) -> Result<(), HandleError> {
    let voided = mirai_contracts::events::lrs::StatementVoided {
        tenant_id: e.tenant_id,
        statement_id: e.statement_id,
        voided_by: e.statement_id,
    };
    track::on_voided(cx, voided).await
}

pub fn consumers(state: &AppState) -> Vec<ConsumerSpec> {
    let state = std::sync::Arc::new(state.clone());
    vec![
        ConsumerSpec::new("assignment-tenant")
            .on(track::on_org_unit)
            .on(track::on_member)
            .on(track::on_member_gone)
            .on(track::on_group)
            .on(track::on_group_member)
            .on(track::on_group_member_gone),
        ConsumerSpec::new("assignment-licenses").on(track::on_license).on(track::on_license_changed),
        ConsumerSpec::new("assignment-enrollment")
            .on(track::on_enrolled)
            .on(track::on_refused)
            .on(track::on_enrollment_ended),
        ConsumerSpec::new("assignment-statements")
            .on_with(&state, track::on_statements)
            .on(track::on_voided)
            .on(on_purged),
    ]
}
