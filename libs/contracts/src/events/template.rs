//! Payloads the template service publishes (`services/_template`, the service to copy).
//! A new service copies this file under its own name with its own subjects.

use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{NoteId, TenantId},
};

/// A note was written in a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteCreated {
    /// The new note.
    pub note_id: NoteId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Its title.
    pub title: String,
}

event!(NoteCreated, "template.note.created.v1", aggregate = note_id, tenant = tenant_id);
