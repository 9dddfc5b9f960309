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

/// The response is recorded in the effect's own transaction: when recording fails, the
/// effect is not committed either (503), so the retry under the same key applies it once
/// and a further retry replays that answer. Before, the effect committed first and a
/// failed record let the retry create a second key.
#[tokio::test]
async fn the_record_commits_with_the_effect_or_neither_does() {
    let app = spawn().await;
    let tenant = Uuid::now_v7();
    let token = app.token(Some(tenant), &[Role::OrgAdmin]);
    let post = || {
        app.http
            .post(app.url("/api/v1/identity/api-keys"))
            .bearer_auth(&token)
            .header("idempotency-key", "atomic-1")
            .json(&json!({ "name": "atomic" }))
            .send()
    };
    let count = || async { app.get("/api/v1/identity/api-keys", &token).await.1["data"].as_array().unwrap().len() };
    // Recording a response fails, as a crash between the effect and the record would.
    let mut db = PgConnection::connect(&mirai_testkit::url_for_db(&app.database)).await.unwrap();
    for sql in [
        "CREATE FUNCTION identity.refuse_record() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'recording refused'; END $$",
        "CREATE TRIGGER refuse_record BEFORE UPDATE ON identity.idempotency_keys \
         FOR EACH ROW WHEN (NEW.state = 'done') EXECUTE FUNCTION identity.refuse_record()",
    ] {
        sqlx::query(sql).execute(&mut db).await.unwrap();
    }
    let res = post().await.unwrap();
    let res = (res.status(), res.json::<serde_json::Value>().await.unwrap());
    assert_problem(&res, 503, "unavailable");
    assert_eq!(count().await, 0, "the effect rolled back with its record");

    sqlx::query("DROP TRIGGER refuse_record ON identity.idempotency_keys").execute(&mut db).await.unwrap();
    let first = post().await.unwrap();
    assert_eq!(first.status(), 201, "the retry runs the request");
    let first: serde_json::Value = first.json().await.unwrap();
    let again = post().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<serde_json::Value>().await.unwrap(), first);
    assert_eq!(count().await, 1, "applied exactly once");
    app.stop().await;
}
