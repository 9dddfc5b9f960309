//! Graceful shutdown: in-flight requests finish, new connections are refused, and the
//! outbox relays flush what committed before the fleet stops.

use std::time::Duration;

use serde_json::json;
use sqlx::Connection;

#[tokio::test]
async fn shutdown_finishes_in_flight_work_and_flushes_the_outbox() {
    let mut app = crate::spawn_fleet().await;
    let ctx = app.fleet().service("identity").unwrap();
    let cred = mirai_identity::bootstrap(ctx, "root@example.com").await.unwrap().unwrap();
    let admin = app.platform_admin();
    // Writes whose events sit in the outbox as shutdown begins.
    for i in 0..20 {
        let (s, _) = app
            .post(
                "/api/v1/tenant/tenants",
                Some(&admin),
                json!({ "kind": "org", "name": "t", "slug": format!("shut-{i}") }),
            )
            .await;
        assert_eq!(s, 201);
    }
    // A login (argon2: tens of milliseconds) in flight when shutdown starts.
    let http = app.http.clone();
    let url = app.url("/api/v1/identity/login");
    let in_flight = tokio::spawn(async move {
        http.post(url)
            .json(&json!({ "email": cred.email, "password": cred.password }))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    let fleet = app.fleet.take().unwrap();
    let bus = mirai_testkit::bus(&app.prefix).await;
    fleet.shutdown().await;
    assert_eq!(in_flight.await.unwrap().unwrap(), 200, "the in-flight request completed");
    assert!(app.http.get(app.url("/healthz")).send().await.is_err(), "no longer accepting connections");

    let mut db = sqlx::PgConnection::connect(&mirai_testkit::url_for_db(&app.database)).await.unwrap();
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant.outbox WHERE published_at IS NULL")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(pending, 0, "the relay flushed before stopping");
    let published: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant.outbox").fetch_one(&mut db).await.unwrap();
    assert_eq!(published, 20);
    let _ = bus.delete_prefixed_streams().await;
    mirai_testkit::drop_database(&app.database).await;
}
