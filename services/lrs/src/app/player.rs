//! Statements the platform recorded: the player's (delivery, `delivery.statements.recorded.v1`)
//! and a quiz attempt's (assessment, `assessment.statements.recorded.v1`), stored in the
//! consumer's transaction under the same rules as a POST, with the platform's player as
//! their authority. The producer mints each statement's id, so a redelivered event
//! stores nothing twice (an identical resend changes nothing).

use std::sync::Arc;

use mirai_contracts::{
    events::{assessment, delivery::StatementsRecorded},
    ids::{TenantId, UserId},
    xapi,
};
use mirai_events::{ConsumerSpec, Cx, HandleError};
use mirai_kit::AppError;
use serde_json::Value;

use super::{
    statement::{VOIDED_VERB, XapiVersion},
    statements::{self, Caller},
};
use crate::AppState;

async fn on_recorded(cx: Cx<'_, AppState>, e: StatementsRecorded) -> Result<(), HandleError> {
    let registration = e.registration.map_or_else(|| e.session_id.to_string(), |r| r.to_string());
    store(cx, e.tenant_id, e.user_id, &registration, e.statements).await
}

async fn on_assessed(cx: Cx<'_, AppState>, e: assessment::StatementsRecorded) -> Result<(), HandleError> {
    store(cx, e.tenant_id, e.user_id, &e.attempt_id.to_string(), e.statements).await
}

/// Stores a producer's statements about one learner and one registration.
async fn store(
    cx: Cx<'_, AppState>,
    tenant: TenantId,
    user: UserId,
    registration: &str,
    statements: Vec<Value>,
) -> Result<(), HandleError> {
    let learner = xapi::account_ifi(&cx.state.ctx.public_url, user);
    // The producer speaks only for the registration it names: its learner (the caller's
    // reach, below), its registration, and never to void.
    for (i, s) in statements.iter().enumerate() {
        if s["context"]["registration"].as_str() != Some(registration) {
            return Err(HandleError::Permanent(format!("statement {i}: not of the event's registration")));
        }
        if s["verb"]["id"].as_str() == Some(VOIDED_VERB) {
            return Err(HandleError::Permanent(format!("statement {i}: the platform does not void")));
        }
    }
    let caller = Caller::player(cx.state, tenant, learner, cx.following());
    match statements::store_in(cx.state, cx.tx, &caller, XapiVersion::V103, statements, None, vec![]).await {
        Ok(_) => Ok(()),
        // Refused by the xAPI rules or a different statement under the same id: no retry
        // will change that.
        Err(
            e @ (AppError::Client { .. } | AppError::Conflict(_) | AppError::Invalid { .. } | AppError::Forbidden(_)),
        ) => Err(HandleError::Permanent(e.to_string())),
        Err(e) => Err(HandleError::Transient(anyhow::anyhow!("storing the platform's statements: {e}"))),
    }
}

pub fn consumer(state: &AppState) -> ConsumerSpec {
    ConsumerSpec::new("lrs-player").on_with(&Arc::new(state.clone()), on_recorded)
}

pub fn assessment_consumer(state: &AppState) -> ConsumerSpec {
    ConsumerSpec::new("lrs-assessment").on_with(&Arc::new(state.clone()), on_assessed)
}
