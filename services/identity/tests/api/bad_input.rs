//! Bad input is a 4xx problem, never a 500.

use mirai_kit::Role;
use mirai_testkit::assert_problem;
use uuid::Uuid;

use crate::helpers::spawn;

#[tokio::test]
async fn malformed_requests_get_problems() {
    let app = spawn().await;
    let token = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let send = |req: reqwest::RequestBuilder| async move {
        let res = req.send().await.unwrap();
        let status = res.status();
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        (status, res.json::<serde_json::Value>().await.unwrap())
    };
    let url = app.url("/api/v1/identity/api-keys");

    let res =
        send(app.http.post(&url).bearer_auth(&token).header("content-type", "application/json").body("{\"name\":"))
            .await;
    assert_problem(&res, 400, "malformed-json");
    let res = send(app.http.post(&url).bearer_auth(&token).header("content-type", "text/plain").body("{}")).await;
    assert_problem(&res, 415, "unsupported-media-type");
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let res = send(app.http.post(&url).bearer_auth(&token).header("content-type", "application/json").body(big)).await;
    assert_problem(&res, 413, "payload-too-large");
    let res =
        send(app.http.post(&url).bearer_auth(&token).json(&serde_json::json!({ "name": "x", "colour": "red" }))).await;
    assert_problem(&res, 422, "validation");
    assert!(res.1["detail"].as_str().unwrap().contains("colour"), "names the unknown field: {}", res.1);
    let res = send(app.http.post(&url).bearer_auth(&token).json(&serde_json::json!({ "name": 42 }))).await;
    assert_problem(&res, 422, "validation");
    let res = send(app.http.get(app.url("/api/v1/identity/users/not-a-uuid")).bearer_auth(&token)).await;
    assert_problem(&res, 400, "invalid-path-parameter");
    let res = send(app.http.get(format!("{url}?limit=100000")).bearer_auth(&token)).await;
    assert_problem(&res, 422, "validation");
    let res = send(app.http.get(format!("{url}?cursor=%%%")).bearer_auth(&token)).await;
    assert!(res.0.is_client_error());
    let res = send(app.http.get(format!("{url}?cursor=bm9wZQ")).bearer_auth(&token)).await;
    assert_problem(&res, 422, "validation");
    let res = send(app.http.get(format!("{url}?bogus=1")).bearer_auth(&token)).await;
    assert_problem(&res, 400, "invalid-query-parameter");
    let res = send(app.http.get(app.url("/api/v1/identity/nothing-here"))).await;
    assert_problem(&res, 404, "not-found");
    let res = send(app.http.patch(app.url("/api/v1/identity/login"))).await;
    assert_problem(&res, 405, "method-not-allowed");
    app.stop().await;
}

#[tokio::test]
async fn text_the_database_cannot_store_is_a_client_error() {
    let app = spawn().await;
    let token = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let res = app.post("/api/v1/identity/api-keys", Some(&token), serde_json::json!({ "name": "nul\u{0}byte" })).await;
    assert_problem(&res, 400, "unstorable-input");
    let res = app
        .post(
            "/api/v1/identity/login",
            None,
            serde_json::json!({ "email": "a\u{0}@b.c", "password": "whatever-it-is" }),
        )
        .await;
    assert_problem(&res, 400, "unstorable-input");
    app.stop().await;
}
