//! Typed HTTP clients for the fleet's services, generated at build time by progenitor from
//! the committed OpenAPI documents (`schemas/openapi/<service>.json`, lowered from 3.1 to
//! 3.0 by `build.rs`). A response that does not match its document fails to deserialize, so
//! a test that calls a service through these clients fails when the document lies.
//!
//! Each module holds the service's `Client` (one async method per operation, named by its
//! `operationId`) and its `types`. A documented error comes back as
//! `Error::ErrorResponse` holding the typed problem document; an undocumented status as
//! `Error::UnexpectedResponse`.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, InvalidHeaderValue};

/// `/api/v1/identity`: users, sessions, signing keys, API keys and OAuth2 client credentials.
#[allow(clippy::all)]
pub mod identity {
    include!(concat!(env!("OUT_DIR"), "/identity.rs"));
}

/// `/api/v1/tenant`: tenants, memberships, invitations, org units, settings, secrets.
#[allow(clippy::all)]
pub mod tenant {
    include!(concat!(env!("OUT_DIR"), "/tenant.rs"));
}

/// `/api/v1/lrs`: the xAPI Learning Record Store. Its xAPI operations need an
/// `X-Experience-API-Version` header, which its document does not declare: pass it to
/// [`Clients::with_headers`].
#[allow(clippy::all)]
pub mod lrs {
    include!(concat!(env!("OUT_DIR"), "/lrs.rs"));
}

/// `/api/v1/authoring`: course drafts (If-Match on every write), published versions, history.
#[allow(clippy::all)]
pub mod authoring {
    include!(concat!(env!("OUT_DIR"), "/authoring.rs"));
}

/// `/api/v1/catalog`: published courses, public and the tenant's own.
#[allow(clippy::all)]
pub mod catalog {
    include!(concat!(env!("OUT_DIR"), "/catalog.rs"));
}

/// `/api/v1/search`: full-text search and autocomplete over published courses.
#[allow(clippy::all)]
pub mod search {
    include!(concat!(env!("OUT_DIR"), "/search.rs"));
}

/// `/api/v1/media`: uploads and downloads through signed URLs.
#[allow(clippy::all)]
pub mod media {
    include!(concat!(env!("OUT_DIR"), "/media.rs"));
}

/// `/api/v1/content`: SCORM and cmi5 packages in, SCORM 1.2 out.
#[allow(clippy::all)]
pub mod content {
    include!(concat!(env!("OUT_DIR"), "/content.rs"));
}

/// `/api/v1/ai-gateway`: model calls (chat, SSE chat, structured generation, embeddings),
/// the prompt registry, and a tenant's providers, routes, budgets and safety policy.
#[allow(clippy::all)]
pub mod ai_gateway {
    include!(concat!(env!("OUT_DIR"), "/ai-gateway.rs"));
}

/// `/api/v1/notification`: a tenant's webhook endpoints (Standard Webhooks), the delivery
/// log, redelivery and replay.
#[allow(clippy::all)]
pub mod notification {
    include!(concat!(env!("OUT_DIR"), "/notification.rs"));
}

/// `/api/v1/marketplace`: listings of published courses, orders (paid through billing) and
/// the licenses they grant.
#[allow(clippy::all)]
pub mod marketplace {
    include!(concat!(env!("OUT_DIR"), "/marketplace.rs"));
}

/// `/api/v1/billing`: the payments of orders, the payment provider's webhook,
/// reconciliation and the ledger.
#[allow(clippy::all)]
pub mod billing {
    include!(concat!(env!("OUT_DIR"), "/billing.rs"));
}

/// `/api/v1/enrollment`: seat pools per license and the enrollments that hold their
/// seats.
#[allow(clippy::all)]
pub mod enrollment {
    include!(concat!(env!("OUT_DIR"), "/enrollment.rs"));
}

/// `/api/v1/assignment`: courses assigned with due dates and recertification, reminders,
/// escalation, and the compliance report (typed as its JSON page; `format=csv` answers
/// `text/csv`, which the typed method cannot read: fetch the CSV with plain HTTP).
#[allow(clippy::all)]
pub mod assignment {
    include!(concat!(env!("OUT_DIR"), "/assignment.rs"));
}

/// `/api/v1/delivery`: the player (launch a course, its lessons, resume, complete).
#[allow(clippy::all)]
pub mod delivery {
    include!(concat!(env!("OUT_DIR"), "/delivery.rs"));
}

/// `/api/v1/assessment`: item banks, quizzes and attempts (graded on the server).
#[allow(clippy::all)]
pub mod assessment {
    include!(concat!(env!("OUT_DIR"), "/assessment.rs"));
}

/// A request that hangs fails instead of hanging its caller.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One client per service, all acting as one principal against one fleet origin.
#[derive(Clone, Debug)]
pub struct Clients {
    pub identity: identity::Client,
    pub tenant: tenant::Client,
    pub lrs: lrs::Client,
    pub authoring: authoring::Client,
    pub catalog: catalog::Client,
    pub search: search::Client,
    pub media: media::Client,
    pub content: content::Client,
    pub ai_gateway: ai_gateway::Client,
    pub notification: notification::Client,
    pub marketplace: marketplace::Client,
    pub billing: billing::Client,
    pub enrollment: enrollment::Client,
    pub assignment: assignment::Client,
    pub delivery: delivery::Client,
    pub assessment: assessment::Client,
}

impl Clients {
    /// Clients that send no credential. `base_url` is the fleet's origin, e.g.
    /// `http://127.0.0.1:8080`: the documents' paths carry the `/api/v1/<service>` prefix.
    pub fn anonymous(base_url: &str) -> Result<Self, BuildError> {
        Self::with_headers(base_url, HeaderMap::new())
    }

    /// Clients that send `Authorization: Bearer <token>`: an access token, or an API key's
    /// `secret`.
    pub fn bearer(base_url: &str, token: &str) -> Result<Self, BuildError> {
        let mut credential = HeaderValue::from_str(&format!("Bearer {token}"))?;
        credential.set_sensitive(true);
        Self::with_headers(base_url, HeaderMap::from_iter([(AUTHORIZATION, credential)]))
    }

    /// Clients that send `headers` with every request.
    pub fn with_headers(base_url: &str, headers: HeaderMap) -> Result<Self, BuildError> {
        let http = reqwest::Client::builder().default_headers(headers).timeout(TIMEOUT).build()?;
        Ok(Self {
            identity: identity::Client::new_with_client(base_url, http.clone()),
            tenant: tenant::Client::new_with_client(base_url, http.clone()),
            lrs: lrs::Client::new_with_client(base_url, http.clone()),
            authoring: authoring::Client::new_with_client(base_url, http.clone()),
            catalog: catalog::Client::new_with_client(base_url, http.clone()),
            search: search::Client::new_with_client(base_url, http.clone()),
            media: media::Client::new_with_client(base_url, http.clone()),
            content: content::Client::new_with_client(base_url, http.clone()),
            ai_gateway: ai_gateway::Client::new_with_client(base_url, http.clone()),
            notification: notification::Client::new_with_client(base_url, http.clone()),
            marketplace: marketplace::Client::new_with_client(base_url, http.clone()),
            billing: billing::Client::new_with_client(base_url, http.clone()),
            enrollment: enrollment::Client::new_with_client(base_url, http.clone()),
            assignment: assignment::Client::new_with_client(base_url, http.clone()),
            delivery: delivery::Client::new_with_client(base_url, http.clone()),
            assessment: assessment::Client::new_with_client(base_url, http),
        })
    }
}

/// Why [`Clients`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the credential cannot be sent as a header value")]
    Credential(#[from] InvalidHeaderValue),
    #[error("building the HTTP client")]
    Http(#[from] reqwest::Error),
}
