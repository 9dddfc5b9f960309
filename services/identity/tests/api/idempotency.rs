//! `Idempotency-Key`: same key and body → the first response; different body → 422;
//! still in flight → 409.

use mirai_kit::Role;
use mirai_testkit::assert_problem;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::helpers::spawn;

#[tokio::test]
async fn replay_mismatch_and_in_flight() {
    let app = spawn().await;
    let tenant = Uuid::now_v7();
    let claims = app.claims(Some(tenant), &[Role::OrgAdmin]);
    let token = app.sign(&claims);
    let post = |key: &str, body: serde_json::Value| {
        app.http
            .post(app.url("/api/v1/identity/api-keys"))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };

    let first = post("k-1", json!({ "name": "one" })).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = post("k-1", json!({ "name": "one" })).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again, first, "a retry gets the first response, the same key and secret");
    assert_eq!(
        app.get("/api/v1/identity/api-keys", &token).await.1["data"].as_array().unwrap().len(),
        1,
        "created once"
    );

    let res = post("k-1", json!({ "name": "two" })).await.unwrap();
    let res = (res.status(), res.json::<serde_json::Value>().await.unwrap());
    assert_problem(&res, 422, "idempotency-key-reused");

    // A request under this key is mid-flight: its claim row exists, with no response yet.
    let fp: String = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"POST /api/v1/identity/api-keys\n");
        h.update(serde_json::to_vec(&json!({ "name": "x" })).unwrap());
        hex::encode(h.finalize())
    };
    let mut db = PgConnection::connect(&mirai_testkit::url_for_db(&app.database)).await.unwrap();
    sqlx::query("INSERT INTO identity.idempotency_keys (tenant_id, principal, key, fingerprint, state) VALUES ($1, $2, 'k-2', $3, 'in_flight')")
        .bind(tenant)
        .bind(&claims.sub)
        .bind(&fp)
        .execute(&mut db)
        .await
        .unwrap();
    let res = post("k-2", json!({ "name": "x" })).await.unwrap();
    let res = (res.status(), res.json::<serde_json::Value>().await.unwrap());
    assert_problem(&res, 409, "idempotency-key-in-flight");

    let res = post("", json!({ "name": "x" })).await.unwrap();
    let res = (res.status(), res.json::<serde_json::Value>().await.unwrap());
    assert_problem(&res, 400, "invalid-idempotency-key");
    app.stop().await;
}
