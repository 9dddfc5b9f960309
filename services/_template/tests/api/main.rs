//! template's black-box test: the template next to tenant (whose events it consumes), on
//! port 0 with a database and NATS prefix of its own. A new service copies this too.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

async fn tenant(app: &TestApp, slug: &str) -> Uuid {
    let body = json!({ "kind": "org", "name": slug, "slug": slug });
    let (s, t) = app.post("/api/v1/tenant/tenants", Some(&app.platform_admin()), body).await;
    assert_eq!(s, 201, "{t}");
    t["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn notes_are_written_once_per_key_read_in_their_tenant_only_and_announced() {
    let app = TestApp::spawn(&[mirai_tenant::service(), mirai_template::service()]).await;
    let (a, b) = (tenant(&app, "tpl-a").await, tenant(&app, "tpl-b").await);
    let admin_a = app.token(Some(a), &[Role::OrgAdmin]);
    let admin_b = app.token(Some(b), &[Role::OrgAdmin]);
    let notes = format!("/api/v1/template/tenants/{a}/notes");

    // The consumer projects tenant.tenant.created.v1; until it has, the tenant is unknown.
    wait_until("template knows tenant A", Duration::from_secs(10), || known(&app, a)).await;
    let missing = app.call(Method::GET, &format!("{notes}/{}", Uuid::now_v7()), Some(&admin_a), None).await;
    assert_problem(&missing, 404, "not-found");

    // Validation happens once, in the handler, with a field-level problem.
    let res = app.post(&notes, Some(&admin_a), json!({ "title": "  " })).await;
    assert_problem(&res, 422, "validation");

    // A retry with the same Idempotency-Key gets the first answer; one note, one event.
    let post = || {
        app.http
            .post(app.url(&notes))
            .bearer_auth(&admin_a)
            .header("idempotency-key", "note-1")
            .json(&json!({ "title": "Fire drill on Friday" }))
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = post().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let id = first["id"].as_str().unwrap().to_owned();
    let event = app
        .wait_for_event("template.note.created.v1", Duration::from_secs(10), |e| {
            e.subject.as_deref() == Some(id.as_str())
        })
        .await;
    assert_eq!(event.tenantid, Some(a));
    assert_eq!(event.data["title"], "Fire drill on Friday");
    let mut db = PgConnection::connect(&mirai_testkit::url_for_db(&app.database)).await.unwrap();
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM template.outbox WHERE subject = 'template.note.created.v1'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(events, 1, "the retry wrote no second note and no second event");

    // Read in its tenant; with the other tenant's credentials it does not exist.
    let (s, note) = app.get(&format!("{notes}/{id}"), &admin_a).await;
    assert_eq!((s.as_u16(), note["title"].as_str()), (200, Some("Fire drill on Friday")));
    assert_problem(&app.get(&format!("{notes}/{id}"), &admin_b).await, 404, "not-found");
    assert_problem(&app.get(&format!("/api/v1/template/tenants/{b}/notes/{id}"), &admin_b).await, 404, "not-found");
    let res = app.post(&notes, Some(&admin_b), json!({ "title": "planted" })).await;
    assert_problem(&res, 404, "not-found");
    // A learner reads but does not write.
    let learner = app.token(Some(a), &[Role::Learner]);
    assert_eq!(app.get(&format!("{notes}/{id}"), &learner).await.0, 200);
    assert_problem(&app.post(&notes, Some(&learner), json!({ "title": "x" })).await, 403, "forbidden");
    // Authorization comes before validation: an invalid title from a learner is still 403.
    assert_problem(&app.post(&notes, Some(&learner), json!({ "title": " " })).await, 403, "forbidden");

    // Its OpenAPI document has full paths and every `$ref` names a component it carries.
    let (s, doc) = app.call(Method::GET, "/api/v1/template/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/template/tenants/{tenant_id}/notes/{note_id}"]["get"].is_object(), "{doc}");
    let text = doc.to_string();
    for r in text.split("\"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref to {name}");
    }
    app.stop().await;
}

async fn known(app: &TestApp, tenant: Uuid) -> bool {
    let mut db = PgConnection::connect(&mirai_testkit::url_for_db(&app.database)).await.unwrap();
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM template.known_tenants WHERE tenant_id = $1)")
        .bind(tenant)
        .fetch_one(&mut db)
        .await
        .unwrap()
}
