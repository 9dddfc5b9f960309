//! Shared helpers for identity's tests.

use mirai_testkit::TestApp;

pub async fn spawn() -> TestApp {
    TestApp::spawn(&[mirai_identity::service()]).await
}

/// Bootstraps the platform admin and logs in; returns (email, password, access token).
pub async fn admin_session(app: &TestApp) -> (String, String, String) {
    let ctx = app.fleet().service("identity").unwrap();
    let cred = mirai_identity::bootstrap(ctx, "root@example.com").await.unwrap().expect("first bootstrap creates");
    let (status, body) = app
        .post("/api/v1/identity/login", None, serde_json::json!({ "email": cred.email, "password": cred.password }))
        .await;
    assert_eq!(status, 200, "{body}");
    (cred.email, cred.password, body["access_token"].as_str().unwrap().to_owned())
}
