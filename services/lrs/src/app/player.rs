//! Statements the player (delivery) recorded: stored from `delivery.statements.recorded.v1`
//! in the consumer's transaction, under the same rules as a POST, with the player as their
//! authority. The player mints each statement's id, so a redelivered event stores
//! nothing twice (an identical resend changes nothing).

use std::sync::Arc;

use mirai_contracts::{events::delivery::StatementsRecorded, xapi};
use mirai_events::{ConsumerSpec, Cx, HandleError};
use mirai_kit::AppError;

use super::{
    statement::{VOIDED_VERB, XapiVersion},
    statements::{self, Caller},
};
use crate::AppState;

async fn on_recorded(cx: Cx<'_, AppState>, e: StatementsRecorded) -> Result<(), HandleError> {
    let learner = xapi::account_ifi(&cx.state.ctx.public_url, e.user_id);
    // The player speaks only for the session it names: its learner (the caller's reach,
    // below), its registration, and never to void.
    let registration = e.session_id.to_string();
    for (i, s) in e.statements.iter().enumerate() {
        if s["context"]["registration"].as_str() != Some(registration.as_str()) {
            return Err(HandleError::Permanent(format!("statement {i}: not of the event's session")));
        }
        if s["verb"]["id"].as_str() == Some(VOIDED_VERB) {
            return Err(HandleError::Permanent(format!("statement {i}: the player does not void")));
        }
    }
    let caller = Caller::player(cx.state, e.tenant_id, learner, cx.following());
    match statements::store_in(cx.state, cx.tx, &caller, XapiVersion::V103, e.statements, None, vec![]).await {
        Ok(_) => Ok(()),
        // Refused by the xAPI rules or a different statement under the same id: no retry
        // will change that.
        Err(
            e @ (AppError::Client { .. } | AppError::Conflict(_) | AppError::Invalid { .. } | AppError::Forbidden(_)),
        ) => Err(HandleError::Permanent(e.to_string())),
        Err(e) => Err(HandleError::Transient(anyhow::anyhow!("storing the player's statements: {e}"))),
    }
}

pub fn consumer(state: &AppState) -> ConsumerSpec {
    ConsumerSpec::new("lrs-player").on_with(&Arc::new(state.clone()), on_recorded)
}
