//! Tenants and org units.

use mirai_kit::Role;
use mirai_testkit::assert_problem;
use serde_json::json;

use crate::{spawn, tenant};

#[tokio::test]
async fn create_list_page_and_guard_tenants() {
    let app = spawn().await;
    let root = app.platform_admin();
    let a = tenant(&app, "alpha").await;
    for slug in ["beta", "gamma"] {
        tenant(&app, slug).await;
    }
    assert_problem(
        &app.post("/api/v1/tenant/tenants", Some(&root), json!({ "kind": "org", "name": "dup", "slug": "alpha" }))
            .await,
        409,
        "conflict",
    );
    assert_problem(
        &app.post("/api/v1/tenant/tenants", Some(&root), json!({ "kind": "org", "name": "x", "slug": "Bad Slug" }))
            .await,
        422,
        "validation",
    );
    assert_problem(
        &app.post("/api/v1/tenant/tenants", Some(&root), json!({ "kind": "guild", "name": "x", "slug": "guild" }))
            .await,
        422,
        "validation",
    );
    let org_admin = app.token(Some(a), &[Role::OrgAdmin]);
    assert_problem(
        &app.post("/api/v1/tenant/tenants", Some(&org_admin), json!({ "kind": "org", "name": "x", "slug": "xx" }))
            .await,
        403,
        "forbidden",
    );

    // Cursor pagination: two pages of two and one, newest first, no overlap.
    let (_, p1) = app.get("/api/v1/tenant/tenants?limit=2", &root).await;
    assert_eq!(p1["data"].as_array().unwrap().len(), 2);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = app.get(&format!("/api/v1/tenant/tenants?limit=2&cursor={cursor}"), &root).await;
    assert_eq!(p2["data"].as_array().unwrap().len(), 1);
    assert!(p2["next_cursor"].is_null());
    assert_eq!(p2["data"][0]["slug"], "alpha");

    let (s, t) = app.get(&format!("/api/v1/tenant/tenants/{a}"), &org_admin).await;
    assert_eq!((s.as_u16(), t["slug"].as_str()), (200, Some("alpha")));
    app.stop().await;
}

#[tokio::test]
async fn org_units_form_a_tree() {
    let app = spawn().await;
    let t = tenant(&app, "tree").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let path = format!("/api/v1/tenant/tenants/{t}/org-units");
    let (s, root) = app.post(&path, Some(&admin), json!({ "name": "Company" })).await;
    assert_eq!(s, 201);
    let (s, _) = app.post(&path, Some(&admin), json!({ "name": "Engineering", "parent_id": root["id"] })).await;
    assert_eq!(s, 201);
    assert_problem(
        &app.post(&path, Some(&admin), json!({ "name": "Engineering", "parent_id": root["id"] })).await,
        409,
        "conflict",
    );
    assert_problem(
        &app.post(&path, Some(&admin), json!({ "name": "Lost", "parent_id": uuid::Uuid::now_v7() })).await,
        422,
        "validation",
    );
    let learner = app.token(Some(t), &[Role::Learner]);
    assert_problem(&app.post(&path, Some(&learner), json!({ "name": "Nope" })).await, 403, "forbidden");
    let (_, tree) = app.get(&path, &learner).await;
    let names: Vec<&str> = tree.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Company", "Engineering"], "parents first");
    app.stop().await;
}
