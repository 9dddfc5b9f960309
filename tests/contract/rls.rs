//! Row-level security and grants: the schemas are walled off from each other's roles,
//! tenant tables are fail-closed without a tenant, and no endpoint crosses tenants.

use mirai_kit::Role;
use mirai_testkit::{assert_problem, url_for_db};
use reqwest::Method;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// Connects to the test database as a service's runtime role.
async fn as_role(database: &str, role: &str) -> PgConnection {
    let url = url_for_db(database).replacen("postgres://postgres@", &format!("postgres://{role}:mirai-dev-only@"), 1);
    PgConnection::connect(&url).await.unwrap_or_else(|e| panic!("connect as {role}: {e}"))
}

fn sqlstate(e: sqlx::Error) -> String {
    e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned()).unwrap_or_default()
}

#[tokio::test]
async fn schemas_grants_and_fail_closed_tenant_tables() {
    let app = crate::spawn_fleet().await;
    let admin = app.platform_admin();
    let (s, t) =
        app.post("/api/v1/tenant/tenants", Some(&admin), json!({ "kind": "org", "name": "A", "slug": "a-corp" })).await;
    assert_eq!(s, 201);
    let tenant_id: Uuid = t["id"].as_str().unwrap().parse().unwrap();
    let (s, _) = app
        .post(
            &format!("/api/v1/tenant/tenants/{tenant_id}/memberships"),
            Some(&admin),
            json!({ "user_id": Uuid::now_v7(), "roles": ["learner"] }),
        )
        .await;
    assert_eq!(s, 201);

    // tenant's runtime role cannot read identity's schema (and vice versa).
    let mut tenant_db = as_role(&app.database, "mirai_tenant").await;
    let err = sqlx::query("SELECT count(*) FROM identity.users").fetch_one(&mut tenant_db).await.unwrap_err();
    assert_eq!(sqlstate(err), "42501", "permission denied");
    let mut identity_db = as_role(&app.database, "mirai_identity").await;
    let err = sqlx::query("SELECT count(*) FROM tenant.tenants").fetch_one(&mut identity_db).await.unwrap_err();
    assert_eq!(sqlstate(err), "42501");

    // With no tenant set, a tenant table shows nothing and refuses inserts.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant.memberships").fetch_one(&mut tenant_db).await.unwrap();
    assert_eq!(n, 0, "no tenant, no rows");
    let err = sqlx::query("INSERT INTO tenant.org_units (id, tenant_id, name) VALUES ($1, $2, 'x')")
        .bind(Uuid::now_v7())
        .bind(tenant_id)
        .execute(&mut tenant_db)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(err), "42501", "new row violates row-level security policy");

    // With the tenant set for the transaction, its rows appear; another tenant's don't.
    let mut tx = tenant_db.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant.memberships").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(n, 1);
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(Uuid::now_v7().to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant.memberships").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(n, 0);
    tx.rollback().await.unwrap();

    // The runtime role cannot switch RLS off for itself.
    let err = sqlx::query("ALTER TABLE tenant.memberships DISABLE ROW LEVEL SECURITY")
        .execute(&mut tenant_db)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(err), "42501");
    app.stop().await;
}

#[tokio::test]
async fn tenant_a_cannot_read_or_change_tenant_b_through_any_endpoint() {
    let app = crate::spawn_fleet().await;
    let root = app.platform_admin();
    let mut ids = vec![];
    for slug in ["tenant-a", "tenant-b"] {
        let (_, t) =
            app.post("/api/v1/tenant/tenants", Some(&root), json!({ "kind": "org", "name": slug, "slug": slug })).await;
        ids.push(t["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    let (a, b) = (ids[0], ids[1]);
    let b_user = Uuid::now_v7();
    let (s, _) = app
        .post(
            &format!("/api/v1/tenant/tenants/{b}/memberships"),
            Some(&root),
            json!({ "user_id": b_user, "roles": ["learner"] }),
        )
        .await;
    assert_eq!(s, 201);
    let a_admin = app.token(Some(a), &[Role::OrgAdmin]);

    assert_problem(&app.get(&format!("/api/v1/tenant/tenants/{b}"), &a_admin).await, 404, "not-found");
    assert_problem(&app.get(&format!("/api/v1/tenant/tenants/{b}/memberships"), &a_admin).await, 404, "not-found");
    assert_problem(&app.get(&format!("/api/v1/tenant/tenants/{b}/org-units"), &a_admin).await, 404, "not-found");
    let grant = json!({ "user_id": Uuid::now_v7(), "roles": ["org_admin"] });
    assert_problem(
        &app.post(&format!("/api/v1/tenant/tenants/{b}/memberships"), Some(&a_admin), grant).await,
        404,
        "not-found",
    );
    assert_problem(
        &app.call(Method::DELETE, &format!("/api/v1/tenant/tenants/{b}/memberships/{b_user}"), Some(&a_admin), None)
            .await,
        404,
        "not-found",
    );
    assert_problem(
        &app.post(&format!("/api/v1/tenant/tenants/{b}/org-units"), Some(&a_admin), json!({ "name": "x" })).await,
        404,
        "not-found",
    );
    assert_problem(
        &app.post(
            &format!("/api/v1/tenant/tenants/{b}/invitations"),
            Some(&a_admin),
            json!({ "email": "x@y.z", "roles": ["learner"] }),
        )
        .await,
        404,
        "not-found",
    );
    let (_, page) = app.get("/api/v1/tenant/tenants", &a_admin).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "A lists only itself: {page}");
    assert_eq!(page["data"][0]["id"], a.to_string());

    // B's membership is untouched.
    let (_, members) = app.get(&format!("/api/v1/tenant/tenants/{b}/memberships"), &root).await;
    assert_eq!(members["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

/// Every table with a non-null `tenant_id`, in every service schema, has fail-closed RLS.
#[tokio::test]
async fn every_tenant_table_has_forced_row_level_security() {
    let db =
        mirai_testkit::scratch_database(&mirai::services().iter().map(|s| (s.name, s.migrations)).collect::<Vec<_>>())
            .await
            .unwrap();
    let mut conn = PgConnection::connect(&url_for_db(&db)).await.unwrap();
    let schemas: Vec<String> = mirai::services().iter().map(|s| mirai_kit::db::schema(s.name)).collect();
    let rows: Vec<(String, String, bool, bool, i64)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text, c.relrowsecurity, c.relforcerowsecurity, \
                (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnotnull \
         WHERE c.relkind = 'r' AND n.nspname = ANY($1)",
    )
    .bind(&schemas)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(rows.len() >= 9, "found the tenant tables: {rows:?}");
    for (schema, table, rls, forced, policies) in rows {
        assert!(
            rls && forced && policies == 1,
            "{schema}.{table}: RLS enabled={rls} forced={forced} policies={policies}"
        );
    }
    drop(conn);
    mirai_testkit::drop_database(&db).await;
}
