//! Settings, feature flags (AI off by default) and envelope-encrypted secrets.

use mirai_kit::Role;
use mirai_testkit::{assert_problem, url_for_db};
use reqwest::Method;
use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::{spawn, tenant};

#[tokio::test]
async fn settings_and_flags() {
    let app = spawn().await;
    let t = tenant(&app, "flags").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let learner = app.token(Some(t), &[Role::Learner]);
    let (_, flags) = app.get(&format!("/api/v1/tenant/tenants/{t}/feature-flags"), &learner).await;
    for f in flags.as_array().unwrap().iter().filter(|f| f["key"].as_str().unwrap().starts_with("ai.")) {
        assert_eq!(f["enabled"], false, "AI features default off: {f}");
    }
    let flag = format!("/api/v1/tenant/tenants/{t}/feature-flags/ai.authoring");
    assert_problem(
        &app.call(Method::PUT, &flag, Some(&learner), Some(json!({ "enabled": true }))).await,
        403,
        "forbidden",
    );
    let (s, f) = app.call(Method::PUT, &flag, Some(&admin), Some(json!({ "enabled": true }))).await;
    assert_eq!(s, 200, "{f}");
    assert_eq!(f["enabled"], true);
    assert_problem(
        &app.call(
            Method::PUT,
            &format!("/api/v1/tenant/tenants/{t}/feature-flags/no.such"),
            Some(&admin),
            Some(json!({ "enabled": true })),
        )
        .await,
        404,
        "not-found",
    );

    let path = format!("/api/v1/tenant/tenants/{t}/settings");
    assert_eq!(app.get(&path, &learner).await.1["revision"], 0);
    let (s, st) = app.call(Method::PUT, &path, Some(&admin), Some(json!({ "settings": { "locale": "de-DE" } }))).await;
    assert_eq!((s.as_u16(), st["revision"].as_i64()), (200, Some(1)));
    assert_eq!(app.get(&path, &learner).await.1["settings"]["locale"], "de-DE");
    assert_problem(
        &app.call(Method::PUT, &path, Some(&admin), Some(json!({ "settings": [1, 2] }))).await,
        422,
        "validation",
    );
    app.stop().await;
}

#[tokio::test]
async fn secrets_are_envelope_encrypted_and_tenant_bound() {
    let app = spawn().await;
    let t = tenant(&app, "vault").await;
    let other = tenant(&app, "other-vault").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let path = format!("/api/v1/tenant/tenants/{t}/secrets/smtp.password");
    let (s, meta) = app.call(Method::PUT, &path, Some(&admin), Some(json!({ "value": "hunter2-very-secret" }))).await;
    assert_eq!(s, 200, "{meta}");
    assert_eq!(meta["version"], 1);
    let (_, list) = app.get(&format!("/api/v1/tenant/tenants/{t}/secrets"), &admin).await;
    assert_eq!(list[0]["name"], "smtp.password");
    assert!(list[0].get("value").is_none(), "lists never carry values");
    let (s, got) = app.get(&path, &admin).await;
    assert_eq!((s.as_u16(), got["value"].as_str()), (200, Some("hunter2-very-secret")));

    // At rest: ciphertext only, and the data key only wrapped.
    let mut db = PgConnection::connect(&url_for_db(&app.database)).await.unwrap();
    let (ct,): (Vec<u8>,) =
        sqlx::query_as("SELECT ciphertext FROM tenant.tenant_secrets").fetch_one(&mut db).await.unwrap();
    assert!(!ct.windows(7).any(|w| w == b"hunter2"), "not stored in the clear");
    let (kek_id,): (String,) =
        sqlx::query_as("SELECT kek_id FROM tenant.tenant_data_keys").fetch_one(&mut db).await.unwrap();
    assert!(kek_id.starts_with("local:"));

    // A ciphertext moved to another tenant's row does not decrypt there.
    sqlx::query("INSERT INTO tenant.tenant_secrets (tenant_id, name, nonce, ciphertext, updated_by) SELECT $1, name, nonce, ciphertext, 'x' FROM tenant.tenant_secrets WHERE tenant_id = $2")
        .bind(other)
        .bind(t)
        .execute(&mut db)
        .await
        .unwrap();
    let other_admin = app.token(Some(other), &[Role::OrgAdmin]);
    let res = app.get(&format!("/api/v1/tenant/tenants/{other}/secrets/smtp.password"), &other_admin).await;
    assert_eq!(res.0, 500, "tampering is detected, not decrypted: {}", res.1);
    assert!(!res.1.to_string().contains("hunter2"));

    assert_problem(&app.get(&path, &app.token(Some(t), &[Role::Learner])).await, 403, "forbidden");
    assert_problem(&app.get(&path, &other_admin).await, 404, "not-found");
    assert_problem(
        &app.call(
            Method::PUT,
            &format!("/api/v1/tenant/tenants/{t}/secrets/bad%20name"),
            Some(&admin),
            Some(json!({ "value": "x" })),
        )
        .await,
        422,
        "validation",
    );
    assert_eq!(app.call(Method::DELETE, &path, Some(&admin), None).await.0, 204);
    assert_problem(&app.get(&path, &admin).await, 404, "not-found");
    app.stop().await;
}
