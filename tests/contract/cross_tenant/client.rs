//! Calling a service as a tenant: the credentials it holds and the replies it gets.

use super::*;

/// The credentials B (or A) calls with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Credential {
    /// The org admin's session, from a password login.
    Jwt,
    /// The org admin's API key, `Authorization: Bearer mk_<id>_<secret>`.
    ApiKeyBearer,
    /// The same key as HTTP Basic (key id, secret), as xAPI clients send it.
    ApiKeyBasic,
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credential::Jwt => "session JWT",
            Credential::ApiKeyBearer => "API key as Bearer",
            Credential::ApiKeyBasic => "API key as HTTP Basic",
        })
    }
}

/// A tenant with its org admin, logged in, and an org-admin API key holding every xAPI scope.
pub(super) struct Tenant {
    pub(super) id: Uuid,
    pub(super) admin_id: Uuid,
    pub(super) admin_membership_id: String,
    pub(super) jwt: String,
    pub(super) key_id: String,
    /// `mk_<id>_<secret>`, for `Authorization: Bearer`.
    pub(super) key_bearer: String,
    /// The secret alone: the HTTP Basic password.
    pub(super) key_password: String,
}

impl Tenant {
    pub(super) fn authorize(&self, req: RequestBuilder, how: Credential) -> RequestBuilder {
        match how {
            Credential::Jwt => req.bearer_auth(&self.jwt),
            Credential::ApiKeyBearer => req.bearer_auth(&self.key_bearer),
            Credential::ApiKeyBasic => req.basic_auth(&self.key_id, Some(&self.key_password)),
        }
    }
}

/// A response, kept as text: a leak is found by searching it.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: String,
    pub(super) body: String,
}

impl Reply {
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| Value::String(self.body.clone()))
    }
}

pub(super) async fn send(
    app: &TestApp,
    who: &Tenant,
    how: Credential,
    method: Method,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Reply {
    let mut req = app.http.request(method, app.url(path));
    if !query.is_empty() {
        req = req.query(query);
    }
    if path.contains("/xapi/") {
        req = req.header("x-experience-api-version", "1.0.3");
    }
    req = who.authorize(req, how);
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let headers: String =
        res.headers().iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or_default())).collect();
    let body = res.text().await.unwrap_or_default();
    Reply { status, headers, body }
}
