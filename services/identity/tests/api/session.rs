//! Login, refresh rotation and reuse detection, logout, throttling, bootstrap, discovery,
//! signing-key rotation.

use mirai_testkit::assert_problem;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{admin_session, spawn};

async fn token_form(app: &mirai_testkit::TestApp, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let res = app.http.post(app.url("/api/v1/identity/token")).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn bootstrap_once_then_login_and_me() {
    let app = spawn().await;
    let (email, _, token) = admin_session(&app).await;
    let ctx = app.fleet().service("identity").unwrap();
    assert!(
        mirai_identity::bootstrap(ctx, "other@example.com").await.unwrap().is_none(),
        "second bootstrap creates nothing"
    );
    let (status, me) = app.get("/api/v1/identity/me", &token).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], email);
    assert_eq!(me["roles"], json!(["platform_admin"]));
    assert!(me["tenant_id"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn().await;
    let (email, password, _) = admin_session(&app).await;
    let (_, login) = app.post("/api/v1/identity/login", None, json!({ "email": email, "password": password })).await;
    let r1 = login["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(login["expires_in"], 900, "15-minute access tokens");

    let (status, second) = token_form(&app, &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "refresh tokens rotate");
    assert_eq!(app.get("/api/v1/identity/me", second["access_token"].as_str().unwrap()).await.0, 200);

    // Replaying the used token: refused, and the whole family dies, r2 included.
    let (status, body) = token_form(&app, &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "https://mirai.dev/problems/invalid-grant");
    let (status, _) = token_form(&app, &[("grant_type", "refresh_token"), ("refresh_token", &r2)]).await;
    assert_eq!(status, 400, "the newest token of a reused family is revoked too");

    // Logout ends another session's family.
    let (_, login) = app.post("/api/v1/identity/login", None, json!({ "email": email, "password": password })).await;
    let r3 = login["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.post("/api/v1/identity/logout", None, json!({ "refresh_token": r3 })).await.0, 204);
    assert_eq!(token_form(&app, &[("grant_type", "refresh_token"), ("refresh_token", &r3)]).await.0, 400);

    let (status, body) = token_form(&app, &[("grant_type", "password")]).await;
    assert_eq!(status, 400);
    assert_eq!(body["type"], "https://mirai.dev/problems/unsupported-grant-type");
    app.stop().await;
}

#[tokio::test]
async fn wrong_passwords_are_throttled_per_account() {
    let app = spawn().await;
    let (email, password, _) = admin_session(&app).await;
    for _ in 0..5 {
        let res =
            app.post("/api/v1/identity/login", None, json!({ "email": email, "password": "wrong-password-123" })).await;
        assert_problem(&res, 401, "unauthenticated");
    }
    let res = app
        .http
        .post(app.url("/api/v1/identity/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "even the right password waits once the account is throttled");
    assert!(res.headers().get("retry-after").is_some());
    // An unknown account answers like a wrong password.
    let res = app
        .post("/api/v1/identity/login", None, json!({ "email": "nobody@example.com", "password": "whatever-123456" }))
        .await;
    assert_problem(&res, 401, "unauthenticated");
    app.stop().await;
}

/// Behind Kong every peer is Kong: the per-address throttle must key on the client the
/// trusted proxy saw (rightmost untrusted `X-Forwarded-For` hop), so one attacker's 50
/// failures lock out that attacker, not everyone; and a client that is not a trusted
/// proxy cannot dodge the throttle by sending `X-Forwarded-For` itself.
#[tokio::test]
async fn behind_a_trusted_proxy_the_throttle_keys_on_the_client_not_the_proxy() {
    let app = mirai_testkit::TestApp::spawn_with(&[mirai_identity::service()], |c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    .unwrap();
    let (email, password, _) = admin_session(&app).await;
    let login = |xff: &'static str, email: String, password: String| {
        let req = app.http.post(app.url("/api/v1/identity/login")).header("x-forwarded-for", xff);
        async move { req.json(&json!({ "email": email, "password": password })).send().await.unwrap().status().as_u16() }
    };
    // 50 failures from one client address, each on a different account (so no account
    // throttle is involved): the next attempt from that address waits.
    for i in 0..50 {
        let status = login("6.6.6.6, 203.0.113.9", format!("victim{i}@example.com"), "wrong-password-123".into()).await;
        assert_eq!(status, 401);
    }
    assert_eq!(login("203.0.113.9", "other@example.com".into(), "wrong-password-123".into()).await, 429);
    // Everyone else behind the same proxy still logs in; a forged leftmost hop changes nothing.
    assert_eq!(login("198.51.100.7", email.clone(), password.clone()).await, 200);
    assert_eq!(login("203.0.113.9, 198.51.100.8", email.clone(), password.clone()).await, 200);
    app.stop().await;

    // Without trusted proxies the header is ignored: the peer is the client.
    let app = spawn().await;
    for i in 0..50 {
        let xff = format!("10.0.0.{i}");
        let res = app
            .http
            .post(app.url("/api/v1/identity/login"))
            .header("x-forwarded-for", xff)
            .json(&json!({ "email": format!("victim{i}@example.com"), "password": "wrong-password-123" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = app
        .http
        .post(app.url("/api/v1/identity/login"))
        .header("x-forwarded-for", "10.9.9.9")
        .json(&json!({ "email": "someone@example.com", "password": "wrong-password-123" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "a spoofed X-Forwarded-For does not escape the throttle");
    app.stop().await;
}

#[tokio::test]
async fn discovery_jwks_and_rotation_publish_before_signing() {
    let app = spawn().await;
    let (email, password, admin) = admin_session(&app).await;
    let (_, disco) = app.call(Method::GET, "/api/v1/identity/.well-known/openid-configuration", None, None).await;
    assert_eq!(disco["issuer"], format!("{}/api/v1/identity", app.url));
    assert_eq!(disco["jwks_uri"], format!("{}/api/v1/identity/jwks.json", app.url));
    let (_, jwks) = app.call(Method::GET, "/api/v1/identity/jwks.json", None, None).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let old_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();

    let (status, rotated) = app.post("/api/v1/identity/signing-keys/rotate", Some(&admin), json!({})).await;
    assert_eq!(status, 202, "{rotated}");
    let new_kid = rotated["kid"].as_str().unwrap();
    let (_, jwks) = app.call(Method::GET, "/api/v1/identity/jwks.json", None, None).await;
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&new_kid) && kids.contains(&old_kid.as_str()), "both keys are published: {kids:?}");

    // Until the publish delay passes, tokens are still signed by the old key, and verify.
    let (_, login) = app.post("/api/v1/identity/login", None, json!({ "email": email, "password": password })).await;
    let token = login["access_token"].as_str().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], old_kid.as_str());
    assert_eq!(header["alg"], "ES256");
    assert_eq!(app.get("/api/v1/identity/me", token).await.0, 200);

    let learner = app.token(None, &[mirai_kit::Role::Learner]);
    assert_problem(
        &app.post("/api/v1/identity/signing-keys/rotate", Some(&learner), json!({})).await,
        403,
        "forbidden",
    );
    app.stop().await;
}

#[tokio::test]
async fn private_signing_keys_are_sealed_at_rest() {
    use p256::pkcs8::DecodePrivateKey;
    use sqlx::Connection;
    let app = spawn().await;
    let mut db = sqlx::PgConnection::connect(&mirai_testkit::url_for_db(&app.database)).await.unwrap();
    let (kek_id, sealed): (String, Vec<u8>) =
        sqlx::query_as("SELECT kek_id, sealed_key FROM identity.signing_keys").fetch_one(&mut db).await.unwrap();
    assert!(kek_id.starts_with("local:"), "{kek_id}");
    assert!(p256::ecdsa::SigningKey::from_pkcs8_der(&sealed).is_err(), "the stored bytes are not a usable key");
    // And the sealed key still signs: a login works.
    admin_session(&app).await;
    app.stop().await;
}
