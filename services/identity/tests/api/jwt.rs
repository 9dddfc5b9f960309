//! Token verification: every malformed or misdirected JWT is a 401 problem.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use hmac::{Hmac, KeyInit, Mac};
use mirai_kit::{Role, auth::jwt::Audience};
use mirai_testkit::assert_problem;
use sha2::Sha256;

use crate::helpers::spawn;

fn forge(header: serde_json::Value, claims: &mirai_testkit::Claims, sign: impl Fn(&str) -> String) -> String {
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(serde_json::to_vec(claims).unwrap()));
    let sig = sign(&input);
    format!("{input}.{sig}")
}

#[tokio::test]
async fn rejects_expired_early_unknown_kid_none_hs256_wrong_key_and_wrong_audience() {
    let app = spawn().await;
    let me = "/api/v1/identity/me";

    let good = app.token(None, &[Role::Learner]);
    assert_eq!(app.get(me, &good).await.0, 200, "a valid token passes");

    let mut expired = app.claims(None, &[Role::Learner]);
    expired.exp -= 3600;
    expired.iat -= 3600;
    let res = app.get(me, &app.sign(&expired)).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("expired"));

    let mut aud = app.claims(None, &[Role::Learner]);
    aud.aud = "someone-else".into();
    let res = app.get(me, &app.sign(&aud)).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("audience"));

    // `aud` may be an array (RFC 7519 §4.1.3): accepted when it names us, refused otherwise.
    let mut many = app.claims(None, &[Role::Learner]);
    many.aud = Audience::Many(vec!["someone-else".into(), "mirai".into()]);
    assert_eq!(app.get(me, &app.sign(&many)).await.0, 200, "an audience array that names us passes");
    many.aud = Audience::Many(vec!["someone-else".into(), "another".into()]);
    let res = app.get(me, &app.sign(&many)).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("audience"));

    // Not before: a token whose `nbf` (or `iat`) lies beyond the clock skew is not valid yet.
    let mut early = app.claims(None, &[Role::Learner]);
    early.nbf = Some(early.iat + 600);
    let res = app.get(me, &app.sign(&early)).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("not valid yet"));
    let mut skew = app.claims(None, &[Role::Learner]);
    skew.nbf = Some(skew.iat + 10);
    assert_eq!(app.get(me, &app.sign(&skew)).await.0, 200, "an nbf within the clock skew passes");
    let mut future = app.claims(None, &[Role::Learner]);
    future.iat += 600;
    let res = app.get(me, &app.sign(&future)).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("not valid yet"));

    // ES256 signed by a key that is not the one its `kid` names.
    let stranger = <p256::ecdsa::SigningKey as p256::elliptic_curve::Generate>::generate();
    let wrong_key = mirai_kit::auth::jwt::sign(&stranger, mirai_testkit::TEST_KID, &app.claims(None, &[Role::Learner]));
    let res = app.get(me, &wrong_key).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("signature"));

    let mut iss = app.claims(None, &[Role::Learner]);
    iss.iss = "https://evil.example/api/v1/identity".into();
    assert_problem(&app.get(me, &app.sign(&iss)).await, 401, "unauthenticated");

    let claims = app.claims(None, &[Role::PlatformAdmin]);
    let unknown_kid = forge(serde_json::json!({"alg": "ES256", "kid": "nope"}), &claims, |_| B64.encode([0u8; 64]));
    let res = app.get(me, &unknown_kid).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("unknown"));

    let none = forge(serde_json::json!({"alg": "none", "kid": mirai_testkit::TEST_KID}), &claims, |_| String::new());
    let res = app.get(me, &none).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("none"));

    // The classic confusion: HS256 keyed with the server's public key.
    let jwks = app.call(reqwest::Method::GET, "/api/v1/identity/jwks.json", None, None).await.1;
    let public = jwks["keys"][0].to_string();
    let hs = forge(serde_json::json!({"alg": "HS256", "kid": jwks["keys"][0]["kid"]}), &claims, |input| {
        let mut mac = Hmac::<Sha256>::new_from_slice(public.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    });
    let res = app.get(me, &hs).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("HS256"));

    // A valid signature over tampered claims fails.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = B64.encode(serde_json::to_vec(&app.claims(None, &[Role::PlatformAdmin])).unwrap());
    assert_problem(&app.get(me, &parts.join(".")).await, 401, "unauthenticated");

    assert_problem(&app.get(me, "garbage").await, 401, "unauthenticated");
    let res = app.call(reqwest::Method::GET, me, None, None).await;
    assert_problem(&res, 401, "unauthenticated");
    app.stop().await;
}
