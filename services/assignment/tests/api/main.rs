//! assignment with tenant, authoring, marketplace, enrollment and the LRS: an org unit and
//! a person assigned, seats taken through enrollment (and refused when none is left), a
//! later member of the unit assigned too, completions from the LRS on time and voided,
//! the manager's report scoped to their units and its CSV; reminders, overdue, escalation
//! to the unit's manager, a late completion, and a recertification that lapses.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, poll};
use serde_json::{Value, json};
use sqlx::Connection;
use uuid::Uuid;

struct Org {
    app: TestApp,
    tenant: Uuid,
    admin: String,
    /// Plant ⊃ Line A; the manager is in Plant.
    plant: String,
    line_a: String,
    manager: Uuid,
    course: String,
}

async fn org(seats: i32) -> Org {
    let app = TestApp::spawn(&[
        mirai_tenant::service(),
        mirai_authoring::service(),
        mirai_marketplace::service(),
        mirai_enrollment::service(),
        mirai_lrs::service(),
        mirai_assignment::service(),
    ])
    .await;
    let tenant = app.create_tenant("org", "Acme").await;
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    let unit = |name: &'static str, parent: Option<String>| {
        let (app, admin) = (&app, &admin);
        async move {
            let (s, u) = app
                .post(
                    &format!("/api/v1/tenant/tenants/{tenant}/org-units"),
                    Some(admin),
                    json!({ "name": name, "parent_id": parent }),
                )
                .await;
            assert_eq!(s, 201, "{u}");
            u["id"].as_str().unwrap().to_owned()
        }
    };
    let plant = unit("Plant", None).await;
    let line_a = unit("Line A", Some(plant.clone())).await;
    let manager = Uuid::now_v7();
    member(&app, tenant, manager, "org_manager", Some(&plant)).await;
    let course = app.licensed_course(tenant, seats).await;
    // Enrollment has the license's pool before anything is assigned (an assignee added
    // earlier waits for it on the bus's retries, whose backoff can outlast a test's wait).
    poll("enrollment has the license's pool", Duration::from_secs(20), || async {
        let (_, p) = app.get("/api/v1/enrollment/pools", &admin).await;
        p["data"].as_array().filter(|d| !d.is_empty()).map(drop)
    })
    .await;
    Org { app, tenant, admin, plant, line_a, manager, course }
}

async fn member(app: &TestApp, tenant: Uuid, user: Uuid, role: &str, unit: Option<&str>) {
    app.add_member(tenant, user, &[role], unit).await;
}

fn as_user(app: &TestApp, tenant: Uuid, user: Uuid, role: Role) -> String {
    app.user_token(tenant, user, &[role])
}

/// The learner's statement about the course, as Mirai's player writes it (with a
/// credential of its own, not the learner's).
async fn statement(o: &Org, user: Uuid, verb: &str, at: chrono::DateTime<Utc>) -> String {
    let key = o.app.api_key(o.tenant, &[Role::Learner], &["all"]);
    statement_by(o, user, verb, at, |r| r.basic_auth(&key.0, Some(&key.1))).await
}

async fn statement_by(
    o: &Org,
    user: Uuid,
    verb: &str,
    at: chrono::DateTime<Utc>,
    auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> String {
    let id = Uuid::now_v7();
    // The fleet's public URL is the account's home page and the course's IRI's base.
    let url = &o.app.url;
    let body = json!({ "id": id, "actor": { "account": { "homePage": url, "name": user.to_string() } },
        "verb": { "id": format!("http://adlnet.gov/expapi/verbs/{verb}") },
        "object": { "id": format!("{url}/courses/{}", o.course) },
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true) });
    let res = auth(o.app.http.post(o.app.url("/api/v1/lrs/xapi/statements")))
        .header("x-experience-api-version", "1.0.3")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    id.to_string()
}

/// The report line of `user` on `assignment`, once it satisfies `pred`.
async fn line(o: &Org, assignment: &str, user: Uuid, pred: impl Fn(&Value) -> bool) -> Value {
    poll("the report line", Duration::from_secs(60), || async {
        let (_, r) = o
            .app
            .get(&format!("/api/v1/assignment/reports/compliance?assignment_id={assignment}&user_id={user}"), &o.admin)
            .await;
        r["data"].get(0).filter(|l| pred(l)).cloned()
    })
    .await
}

/// The course is assignable once the license reached assignment.
async fn assign(o: &Org, body: Value) -> Value {
    poll("assignment knows the license", Duration::from_secs(20), || async {
        let (s, a) = o.app.post("/api/v1/assignment/assignments", Some(&o.admin), body.clone()).await;
        match s.as_u16() {
            201 => Some(a),
            // The license or the members have not reached assignment yet.
            409 | 422 => None,
            _ => panic!("{s} {a}"),
        }
    })
    .await
}

#[tokio::test]
async fn a_unit_and_a_person_assigned_get_seats_complete_on_time_and_show_in_the_managers_report() {
    let o = org(3).await;
    let (l1, l2, l3, late_joiner) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    member(&o.app, o.tenant, l1, "learner", Some(&o.line_a)).await;
    member(&o.app, o.tenant, l2, "learner", Some(&o.line_a)).await;
    member(&o.app, o.tenant, l3, "learner", None).await;

    // Bad input is a problem, not a 500; a learner cannot assign.
    let (s, p) = o
        .app
        .post(
            "/api/v1/assignment/assignments",
            Some(&o.admin),
            json!({ "course_id": o.course, "title": "Ladder safety", "users": [l1], "due_days": 0 }),
        )
        .await;
    assert_problem(&(s, p), 422, "validation");
    let learner = as_user(&o.app, o.tenant, l1, Role::Learner);
    let (s, _) = o
        .app
        .post(
            "/api/v1/assignment/assignments",
            Some(&learner),
            json!({ "course_id": o.course, "title": "x", "users": [l1], "due_days": 5 }),
        )
        .await;
    assert_eq!(s, 403);
    let (s, p) = o
        .app
        .post(
            "/api/v1/assignment/assignments",
            Some(&o.admin),
            json!({ "course_id": Uuid::now_v7(), "title": "x", "users": [l1], "due_days": 5 }),
        )
        .await;
    assert_problem(&(s, p), 409, "no-license");

    // Line A (two people) and one more person: three seats, three people.
    let due = Utc::now() + chrono::Duration::days(14);
    let a = assign(
        &o,
        json!({ "course_id": o.course, "title": "Ladder safety 2027", "org_units": [o.line_a], "users": [l3],
                "due_at": due, "remind_days_before": [7, 1] }),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_owned();
    for u in [l1, l2, l3] {
        let l = line(&o, &id, u, |l| l["enrollment"] == "enrolled").await;
        assert_eq!(l["status"], "not_started");
    }
    let (_, pools) = o.app.get("/api/v1/enrollment/pools", &o.admin).await;
    assert_eq!((pools["data"][0]["seats"].as_i64(), pools["data"][0]["in_use"].as_i64()), (Some(3), Some(3)));
    // Reminders wait on the job table: 7 and 1 days before, and the due date.
    let mut db = sqlx::PgConnection::connect(&mirai_testkit::url_for_db(&o.app.database)).await.unwrap();
    let jobs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM assignment.jobs WHERE payload->>'assignment_id' = $1 AND payload->>'user_id' = $2",
    )
    .bind(&id)
    .bind(l1.to_string())
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(jobs, 3);

    // Someone who joins Line A later is assigned too; no seat is left for them, and the
    // report says so.
    member(&o.app, o.tenant, late_joiner, "learner", Some(&o.line_a)).await;
    let l = line(&o, &id, late_joiner, |l| l["enrollment"] == "refused").await;
    assert!(l["enrollment_detail"].as_str().unwrap().contains("no seat left"), "{l}");
    // They wait for one: when a seat is given back, it is theirs.
    let (_, l2s) = o.app.get(&format!("/api/v1/enrollment/enrollments?user_id={l2}"), &o.admin).await;
    let l2_enrollment = l2s["data"][0]["id"].as_str().unwrap().to_owned();
    let (s, w) = o
        .app
        .post(&format!("/api/v1/enrollment/enrollments/{l2_enrollment}/withdraw"), Some(&o.admin), json!({}))
        .await;
    assert_eq!(s, 200, "{w}");
    line(&o, &id, late_joiner, |l| l["enrollment"] == "enrolled").await;
    line(&o, &id, l2, |l| l["enrollment"] == "ended").await;

    // Progress and completion come from the LRS, by the statement's own time.
    statement(&o, l2, "experienced", Utc::now()).await;
    let done = statement(&o, l1, "completed", Utc::now()).await;
    line(&o, &id, l2, |l| l["status"] == "in_progress").await;
    let l = line(&o, &id, l1, |l| l["status"] == "completed_on_time").await;
    assert!(l["completed_at"].is_string() && l["expires_at"].is_null(), "{l}");
    let completed = o
        .app
        .wait_for_event("assignment.assignee.completed.v1", Duration::from_secs(10), |e| {
            e.data["user_id"] == l1.to_string()
        })
        .await;
    assert_eq!(completed.data["statement_id"], done.as_str());
    // The learner's own session records progress, but a learner cannot certify themself.
    let own = as_user(&o.app, o.tenant, l3, Role::Learner);
    statement_by(&o, l3, "completed", Utc::now(), |r| r.bearer_auth(&own)).await;
    let l = line(&o, &id, l3, |l| l["status"] == "in_progress").await;
    assert!(l["completed_at"].is_null(), "{l}");
    // A second completion changes nothing while the first stands.
    let second = statement(&o, l1, "passed", Utc::now()).await;
    let (_, one) = o.app.get(&format!("/api/v1/assignment/assignments/{id}"), &o.admin).await;
    assert_eq!(one["summary"]["completed_on_time"], 1, "{one}");

    // The learner sees their own.
    let (_, mine) = o.app.get("/api/v1/assignment/me/assignments", &learner).await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine["data"][0]["status"], "completed_on_time");

    // The manager of Plant sees Line A's people, not the person outside any unit; the
    // admin sees all four. Filters are checked.
    let manager = as_user(&o.app, o.tenant, o.manager, Role::OrgManager);
    let (s, r) = o.app.get(&format!("/api/v1/assignment/reports/compliance?assignment_id={id}"), &manager).await;
    assert_eq!(s, 200, "{r}");
    let seen: Vec<&str> = r["data"].as_array().unwrap().iter().map(|l| l["user_id"].as_str().unwrap()).collect();
    assert_eq!(seen.len(), 3, "{r}");
    assert!(!seen.contains(&l3.to_string().as_str()));
    let (_, r) = o.app.get(&format!("/api/v1/assignment/reports/compliance?assignment_id={id}"), &o.admin).await;
    assert_eq!(r["data"].as_array().unwrap().len(), 4);
    // The Plant manager sees the assignment without the person outside their units; the
    // manager of another unit does not see it at all.
    let (s, seen) = o.app.get(&format!("/api/v1/assignment/assignments/{id}"), &manager).await;
    assert_eq!(s, 200, "{seen}");
    assert_eq!((seen["users"].clone(), seen["summary"]["completed_on_time"].clone()), (json!([]), json!(1)));
    let (s, w) = o
        .app
        .post(&format!("/api/v1/tenant/tenants/{}/org-units", o.tenant), Some(&o.admin), json!({ "name": "Warehouse" }))
        .await;
    assert_eq!(s, 201, "{w}");
    let other_manager = Uuid::now_v7();
    member(&o.app, o.tenant, other_manager, "org_manager", w["id"].as_str()).await;
    let other_manager = as_user(&o.app, o.tenant, other_manager, Role::OrgManager);
    poll("assignment knows the other manager", Duration::from_secs(20), || async {
        let (s, _) = o.app.get(&format!("/api/v1/assignment/assignments/{id}"), &other_manager).await;
        (s == 404).then_some(())
    })
    .await;
    let (_, none) = o.app.get("/api/v1/assignment/assignments", &other_manager).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0, "{none}");
    let (_, none) = o.app.get("/api/v1/assignment/reports/compliance", &other_manager).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0, "{none}");
    let (s, p) = o.app.get("/api/v1/assignment/reports/compliance?status=done", &o.admin).await;
    assert_problem(&(s, p), 422, "validation");
    let (_, r) = o
        .app
        .get(&format!("/api/v1/assignment/reports/compliance?status=in_progress&org_unit_id={}", o.plant), &o.admin)
        .await;
    assert_eq!(r["data"][0]["user_id"], l2.to_string());

    // The CSV: a header and a line per person, with the statuses.
    let res = o
        .app
        .http
        .get(o.app.url(&format!("/api/v1/assignment/reports/compliance?assignment_id={id}&format=csv")))
        .bearer_auth(&o.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("assignment_id,title,course_id,user_id,org_unit_id,status"), "{csv}");
    let l1_line = lines.iter().find(|l| l.contains(&l1.to_string())).unwrap();
    assert!(l1_line.contains(",completed_on_time,") && l1_line.contains("Ladder safety 2027"), "{l1_line}");

    // Voiding the completion undoes it, and the `passed` after it (kept while the first
    // stood) completes the assignment instead; voiding that one too leaves it undone.
    let key = o.app.api_key(o.tenant, &[Role::Learner], &["all"]);
    let void = |target: String| {
        let (o, key) = (&o, &key);
        async move {
            let void = json!({ "actor": { "account": { "homePage": o.app.url, "name": l1.to_string() } },
                "verb": { "id": "http://adlnet.gov/expapi/verbs/voided" },
                "object": { "objectType": "StatementRef", "id": target } });
            let res = o
                .app
                .http
                .post(o.app.url("/api/v1/lrs/xapi/statements"))
                .basic_auth(&key.0, Some(&key.1))
                .header("x-experience-api-version", "1.0.3")
                .json(&void)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        }
    };
    void(done.clone()).await;
    let again = o
        .app
        .wait_for_event("assignment.assignee.completed.v1", Duration::from_secs(10), |e| {
            e.data["statement_id"] == second.as_str()
        })
        .await;
    assert_eq!(again.data["status"], "completed_on_time");
    line(&o, &id, l1, |l| l["status"] == "completed_on_time" && l["completed_at"] != completed.data["completed_at"])
        .await;
    void(second.clone()).await;
    line(&o, &id, l1, |l| l["status"] == "in_progress" && l["completed_at"].is_null()).await;

    // Cancel: no more reminders; another tenant sees nothing of it.
    let other = o.app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let (s, _) = o.app.get(&format!("/api/v1/assignment/assignments/{id}"), &other).await;
    assert_eq!(s, 404);
    let (s, _) = o.app.post(&format!("/api/v1/assignment/assignments/{id}/cancel"), Some(&other), json!({})).await;
    assert_eq!(s, 404);
    let (s, c) = o.app.post(&format!("/api/v1/assignment/assignments/{id}/cancel"), Some(&o.admin), json!({})).await;
    assert_eq!((s.as_u16(), c["status"].as_str()), (200, Some("canceled")));

    // A group: its members now, and who joins it later, are assigned.
    let tenant_api = format!("/api/v1/tenant/tenants/{}", o.tenant);
    let (s, g) =
        o.app.post(&format!("{tenant_api}/groups"), Some(&o.admin), json!({ "name": "Forklift drivers" })).await;
    assert_eq!(s, 201, "{g}");
    let group = g["id"].as_str().unwrap().to_owned();
    let put = |user: Uuid| {
        let (o, path) = (&o, format!("{tenant_api}/groups/{group}/members/{user}"));
        async move { o.app.call(reqwest::Method::PUT, &path, Some(&o.admin), None).await }
    };
    let (s, g) = put(l3).await;
    assert_eq!((s.as_u16(), g["members"].as_i64()), (200, Some(1)), "{g}");
    let (s, p) = put(Uuid::now_v7()).await;
    assert_problem(&(s, p), 422, "validation");
    let by_group =
        assign(&o, json!({ "course_id": o.course, "title": "Forklift refresher", "groups": [group], "due_days": 10 }))
            .await;
    assert_eq!(by_group["groups"], json!([group]));
    let gid = by_group["id"].as_str().unwrap().to_owned();
    line(&o, &gid, l3, |l| l["enrollment"] == "enrolled").await;
    put(l2).await;
    line(&o, &gid, l2, |l| l["status"] == "not_started").await;
    // A manager does not assign groups (they span the organization).
    let (s, _) = o
        .app
        .post(
            "/api/v1/assignment/assignments",
            Some(&manager),
            json!({ "course_id": o.course, "title": "x", "groups": [group], "due_days": 10 }),
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn reminders_overdue_escalation_to_the_units_manager_late_completion_and_a_lapsed_recertification() {
    let o = org(5).await;
    let (l1, l2) = (Uuid::now_v7(), Uuid::now_v7());
    member(&o.app, o.tenant, l1, "learner", Some(&o.line_a)).await;
    member(&o.app, o.tenant, l2, "learner", Some(&o.line_a)).await;

    // Due in a day and three seconds, reminded a day before: the reminder comes now.
    let soon = Utc::now() + chrono::Duration::days(1) + chrono::Duration::seconds(3);
    let a = assign(
        &o,
        json!({ "course_id": o.course, "title": "Reminded", "users": [l2], "due_at": soon, "remind_days_before": [1] }),
    )
    .await;
    let reminded = o
        .app
        .wait_for_event("assignment.assignee.reminded.v1", Duration::from_secs(30), |e| {
            e.data["assignment_id"] == a["id"]
        })
        .await;
    assert_eq!(
        (reminded.data["days_left"].as_i64(), reminded.data["user_id"].as_str()),
        (Some(1), Some(&*l2.to_string()))
    );

    // Due in three seconds, escalated at once: overdue, then the manager of Plant (the
    // nearest unit up from Line A with a manager) hears of it.
    let a = assign(
        &o,
        json!({ "course_id": o.course, "title": "Overdue", "users": [l1],
                "due_at": Utc::now() + chrono::Duration::seconds(3), "escalate_after_days": 0 }),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_owned();
    let l = line(&o, &id, l1, |l| l["status"] == "overdue" && l["escalated_at"].is_string()).await;
    assert_eq!(l["enrollment"], "enrolled");
    let escalated = o
        .app
        .wait_for_event("assignment.assignee.escalated.v1", Duration::from_secs(10), |e| {
            e.data["assignment_id"] == id.as_str()
        })
        .await;
    assert_eq!(escalated.data["managers"], json!([o.manager.to_string()]));
    o.app
        .wait_for_event("assignment.assignee.overdue.v1", Duration::from_secs(10), |e| {
            e.data["assignment_id"] == id.as_str()
        })
        .await;
    // Completed after the due date: late.
    statement(&o, l1, "completed", Utc::now()).await;
    line(&o, &id, l1, |l| l["status"] == "completed_late").await;

    // Recertification every 12 months: completed on time, due again when it lapses.
    let a = assign(
        &o,
        json!({ "course_id": o.course, "title": "Yearly", "users": [l2], "due_days": 30, "recurrence_months": 12 }),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_owned();
    line(&o, &id, l2, |l| l["enrollment"] == "enrolled").await;
    statement(&o, l2, "passed", Utc::now()).await;
    let l = line(&o, &id, l2, |l| l["status"] == "completed_on_time").await;
    let expires: chrono::DateTime<Utc> = l["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires > Utc::now() + chrono::Duration::days(360), "{l}");
    assert_eq!(l["due_at"], l["expires_at"]);
    // A year passes (the job table's clock is moved, not the test's): the completion
    // lapses and the course is due again.
    let mut db = sqlx::PgConnection::connect(&mirai_testkit::url_for_db(&o.app.database)).await.unwrap();
    let moved = sqlx::query(
        "UPDATE assignment.jobs SET run_at = now() WHERE kind = 'assignment.due' \
         AND payload->>'assignment_id' = $1 AND (payload->>'cycle')::int = 1",
    )
    .bind(&id)
    .execute(&mut db)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(moved, 1);
    line(&o, &id, l2, |l| l["status"] == "expired").await;
    let expired = o
        .app
        .wait_for_event("assignment.assignee.expired.v1", Duration::from_secs(10), |e| {
            e.data["assignment_id"] == id.as_str()
        })
        .await;
    assert_eq!(expired.data["user_id"], l2.to_string());
    // Completing again starts the next cycle.
    statement(&o, l2, "completed", Utc::now()).await;
    let l = line(&o, &id, l2, |l| l["status"].as_str().is_some_and(|s| s.starts_with("completed"))).await;
    let again: chrono::DateTime<Utc> = l["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(again > expires, "{l}");
}
