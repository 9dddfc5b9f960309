//! The LRS's black-box tests, by xAPI section: communication (versions, about, auth),
//! statement data rules, the Statements resource (store, conflict, void, query, paging).

mod access;
mod attachments;
mod communication;
mod data;
mod documents;
mod resource;
mod signed;

use base64::Engine;
use mirai_kit::Role;
use mirai_testkit::TestApp;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct Lrs {
    pub app: TestApp,
    pub tenant: Uuid,
    /// HTTP Basic with a key holding the `all` scope.
    pub basic: String,
}

pub async fn spawn() -> Lrs {
    let app = TestApp::spawn(&[mirai_lrs::service()]).await;
    let tenant = Uuid::now_v7();
    let basic = basic(&app, tenant, &["all"]);
    Lrs { app, tenant, basic }
}

pub fn basic(app: &TestApp, tenant: Uuid, scopes: &[&str]) -> String {
    let (id, secret) = app.api_key(tenant, &[Role::Learner], scopes);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

impl Lrs {
    pub fn req(&self, method: Method, path_and_query: &str, version: Option<&str>, auth: &str) -> RequestBuilder {
        let mut r = self
            .app
            .http
            .request(method, self.app.url(&format!("/api/v1/lrs/xapi/{path_and_query}")))
            .header("authorization", auth);
        if let Some(v) = version {
            r = r.header("x-experience-api-version", v);
        }
        r
    }

    pub async fn post(&self, body: Value) -> (u16, Value) {
        self.post_as(body, "1.0.3", &self.basic.clone()).await
    }

    pub async fn post_as(&self, body: Value, version: &str, auth: &str) -> (u16, Value) {
        let res = self.req(Method::POST, "statements", Some(version), auth).json(&body).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// GETs an xAPI resource (1.0.3, the `all` key) and parses its JSON body.
    pub async fn get_json(&self, path_and_query: &str) -> Value {
        self.req(Method::GET, path_and_query, Some("1.0.3"), &self.basic).send().await.unwrap().json().await.unwrap()
    }

    pub async fn get(&self, query: &str) -> (u16, Value, reqwest::header::HeaderMap) {
        let res =
            self.req(Method::GET, &format!("statements{query}"), Some("1.0.3"), &self.basic).send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, res.json().await.unwrap_or(Value::Null), headers)
    }
}

/// A minimal valid statement.
pub fn statement(actor: &str, verb: &str, activity: &str) -> Value {
    json!({
        "actor": { "objectType": "Agent", "mbox": format!("mailto:{actor}") },
        "verb": { "id": verb, "display": { "en-US": "did" } },
        "object": { "objectType": "Activity", "id": activity },
    })
}

pub const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
pub const ATTEMPTED: &str = "http://adlnet.gov/expapi/verbs/attempted";

pub use mirai_testkit::percent_encode as enc;
