//! enrollment with tenant, authoring and marketplace: a free license of 10 seats, 50
//! managers' enrollments at once, exactly 10 seats taken; seats given back and taken
//! again; marketplace learns the seats in use.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, poll, wait_until};
use serde_json::{Value, json};
use uuid::Uuid;

/// The services an enrollment needs: tenant (members), authoring and marketplace (a
/// licensed course), and enrollment.
async fn spawn() -> TestApp {
    TestApp::spawn(&[
        mirai_tenant::service(),
        mirai_authoring::service(),
        mirai_marketplace::service(),
        mirai_enrollment::service(),
    ])
    .await
}

#[tokio::test]
async fn fifty_concurrent_enrollments_against_ten_seats_take_exactly_ten() {
    let app = spawn().await;
    let tenant = app.create_tenant("org", "Acme").await;
    let members: Vec<Uuid> = (0..52).map(|_| Uuid::now_v7()).collect();
    for m in &members {
        app.add_member(tenant, *m, &["learner"], None).await;
    }
    let course = app.licensed_course(tenant, 10).await;
    let manager = app.token(Some(tenant), &[Role::OrgManager]);
    // Memberships and the pool are projected: the last member can be told "no license"
    // for another course, and the pool shows its seats.
    let last = members[51];
    wait_until("enrollment knows every member", Duration::from_secs(20), || async {
        let (s, p) = app
            .post(
                "/api/v1/enrollment/enrollments",
                Some(&manager),
                json!({ "user_id": last, "course_id": Uuid::now_v7() }),
            )
            .await;
        s == 409 && p["type"].as_str().is_some_and(|t| t.ends_with("no-license"))
    })
    .await;
    let pool = poll("the license is a pool", Duration::from_secs(20), || async {
        let (_, p) = app.get("/api/v1/enrollment/pools", &manager).await;
        p["data"].get(0).cloned()
    })
    .await;
    assert_eq!((pool["seats"].as_i64(), pool["in_use"].as_i64()), (Some(10), Some(0)));
    let license = pool["license_id"].as_str().unwrap().to_owned();

    // A stranger is not enrolled; neither is anyone by a learner.
    let (s, p) = app
        .post(
            "/api/v1/enrollment/enrollments",
            Some(&manager),
            json!({ "user_id": Uuid::now_v7(), "course_id": course }),
        )
        .await;
    assert_problem(&(s, p), 422, "validation");
    let learner = app.token(Some(tenant), &[Role::Learner]);
    let (s, _) = app
        .post("/api/v1/enrollment/enrollments", Some(&learner), json!({ "user_id": members[0], "course_id": course }))
        .await;
    assert_eq!(s, 403);

    // Fifty at once against ten seats.
    let results = futures::future::join_all(members[..50].iter().map(|m| {
        let (app, manager, course) = (&app, &manager, &course);
        async move {
            app.post("/api/v1/enrollment/enrollments", Some(manager), json!({ "user_id": m, "course_id": course }))
                .await
        }
    }))
    .await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<&Value> = results.iter().filter(|(s, _)| *s == 409).map(|(_, p)| p).collect();
    assert_eq!((created, refused.len()), (10, 40), "{results:?}");
    for p in &refused {
        assert!(p["type"].as_str().unwrap().ends_with("seats-exhausted"), "{p}");
        assert!(p["detail"].as_str().unwrap().contains(&license), "the problem names the pool: {p}");
    }
    let (_, pools) = app.get("/api/v1/enrollment/pools", &manager).await;
    assert_eq!(pools["data"][0]["in_use"], 10);
    let (_, active) =
        app.get(&format!("/api/v1/enrollment/enrollments?course_id={course}&active=true&limit=200"), &manager).await;
    assert_eq!(active["data"].as_array().unwrap().len(), 10);

    // Enrolling someone enrolled answers their enrollment.
    let (winner, first) =
        results.iter().find(|(s, _)| *s == 201).map(|(_, e)| (e["user_id"].clone(), e.clone())).unwrap();
    let (s, again) = app
        .post("/api/v1/enrollment/enrollments", Some(&manager), json!({ "user_id": winner, "course_id": course }))
        .await;
    assert_eq!((s.as_u16(), &again["id"]), (200, &first["id"]));
    // The learner sees what they may launch.
    let mut claims = app.claims(Some(tenant), &[Role::Learner]);
    claims.sub = format!("user:{}", winner.as_str().unwrap());
    let (_, mine) = app.get("/api/v1/enrollment/me/enrollments?active=true", &app.sign(&claims)).await;
    assert_eq!(mine["data"][0]["course_id"], course.as_str());

    // Marketplace learns the seats in use (they guard refunds).
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    wait_until("marketplace knows 10 seats are in use", Duration::from_secs(20), || async {
        let (_, l) = app.get("/api/v1/marketplace/licenses", &admin).await;
        l["data"][0]["seats_in_use"] == 10
    })
    .await;

    // A seat given back is a seat for someone else, once.
    let (s, w) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/enrollment/enrollments/{}/withdraw", first["id"].as_str().unwrap()),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!((s.as_u16(), w["status"].as_str(), w["end_reason"].as_str()), (200, Some("ended"), Some("withdrawn")));
    let (s, _) = app
        .post("/api/v1/enrollment/enrollments", Some(&manager), json!({ "user_id": members[50], "course_id": course }))
        .await;
    assert_eq!(s, 201);
    let (s, p) = app
        .post("/api/v1/enrollment/enrollments", Some(&manager), json!({ "user_id": members[51], "course_id": course }))
        .await;
    assert_problem(&(s, p), 409, "seats-exhausted");
    // Another tenant sees none of it.
    let other = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    let (s, _) = app.get(&format!("/api/v1/enrollment/enrollments/{}", first["id"].as_str().unwrap()), &other).await;
    assert_eq!(s, 404);
    let (_, none) = app.get("/api/v1/enrollment/pools", &other).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_individual_buys_one_seat_for_themself_and_may_launch_at_once() {
    let app = spawn().await;
    let tenant = app.create_tenant("individual", "Ada").await;
    let ada = Uuid::now_v7();
    app.add_member(tenant, ada, &["learner"], None).await;
    let me = app.user_token(tenant, ada, &[Role::Learner]);
    let (course, listing) = app.listed_course().await;

    // One seat, for herself (once marketplace knows she is an individual, a learner may buy).
    poll("marketplace knows Ada is an individual", Duration::from_secs(20), || async {
        let (s, p) =
            app.post("/api/v1/marketplace/orders", Some(&me), json!({ "listing_id": listing, "seats": 2 })).await;
        (s == 422).then(|| assert!(p["detail"].as_str().unwrap().contains("one seat"), "{p}"))
    })
    .await;
    let (s, o) = app.post("/api/v1/marketplace/orders", Some(&me), json!({ "listing_id": listing, "seats": 1 })).await;
    assert_eq!((s.as_u16(), o["status"].as_str()), (201, Some("completed")), "{o}");
    let (s, mine) = app.get(&format!("/api/v1/marketplace/orders/{}", o["id"].as_str().unwrap()), &me).await;
    assert_eq!((s.as_u16(), &mine["id"]), (200, &o["id"]));

    // Immediate access: enrolled on her seat with nobody enrolling her.
    let e = poll("Ada may launch the course", Duration::from_secs(20), || async {
        let (_, e) = app.get("/api/v1/enrollment/me/enrollments?active=true", &me).await;
        e["data"].get(0).cloned()
    })
    .await;
    assert_eq!(e["course_id"], course.as_str());
    assert!(e["enrolled_by"].as_str().unwrap().starts_with("order:"), "{e}");
    // An org's learner still cannot buy.
    let org_learner = app.token(Some(Uuid::now_v7()), &[Role::Learner]);
    let (s, _) =
        app.post("/api/v1/marketplace/orders", Some(&org_learner), json!({ "listing_id": listing, "seats": 1 })).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn members_enroll_themselves_where_the_listing_allows_and_the_org_opens_the_pool() {
    let app = spawn().await;
    let tenant = app.create_tenant("org", "Acme").await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for m in [a, b] {
        app.add_member(tenant, m, &["learner"], None).await;
    }
    let learner = |u: Uuid| app.user_token(tenant, u, &[Role::Learner]);
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    let (course, listing) = app.listed_course_with(json!({ "self_enrollment": true })).await;
    let (s, o) =
        app.post("/api/v1/marketplace/orders", Some(&admin), json!({ "listing_id": listing, "seats": 1 })).await;
    assert_eq!((s.as_u16(), o["status"].as_str()), (201, Some("completed")), "{o}");
    let pool = poll("the license is a pool", Duration::from_secs(20), || async {
        let (_, p) = app.get("/api/v1/enrollment/pools", &admin).await;
        p["data"].get(0).cloned()
    })
    .await;
    assert_eq!(
        (pool["self_enrollment_allowed"].as_bool(), pool["self_enrollment_open"].as_bool()),
        (Some(true), Some(false))
    );
    let license = pool["license_id"].as_str().unwrap().to_owned();

    // Closed until the org opens it; then the first member takes the seat, once.
    let me = json!({ "course_id": course });
    let (s, p) = app.post("/api/v1/enrollment/me/enrollments", Some(&learner(a)), me.clone()).await;
    assert_problem(&(s, p), 409, "self-enrollment-closed");
    let open = |v: bool| {
        let (app, admin, path) = (&app, &admin, format!("/api/v1/enrollment/pools/{license}/self-enrollment"));
        async move { app.call(reqwest::Method::PUT, &path, Some(admin), Some(json!({ "open": v }))).await }
    };
    let (s, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/enrollment/pools/{license}/self-enrollment"),
            Some(&learner(a)),
            Some(json!({ "open": true })),
        )
        .await;
    assert_eq!(s, 403, "a learner does not open pools");
    let (s, p) = open(true).await;
    assert_eq!((s.as_u16(), p["self_enrollment_open"].as_bool()), (200, Some(true)), "{p}");
    let (s, e) = app.post("/api/v1/enrollment/me/enrollments", Some(&learner(a)), me.clone()).await;
    assert_eq!((s.as_u16(), e["user_id"].as_str()), (201, Some(&*a.to_string())), "{e}");
    let (s, again) = app.post("/api/v1/enrollment/me/enrollments", Some(&learner(a)), me.clone()).await;
    assert_eq!((s.as_u16(), &again["id"]), (200, &e["id"]));
    let (s, p) = app.post("/api/v1/enrollment/me/enrollments", Some(&learner(b)), me.clone()).await;
    assert_problem(&(s, p), 409, "seats-exhausted");

    // A listing that does not allow it cannot be opened.
    let other = app.licensed_course(tenant, 1).await;
    let closed = poll("the other pool", Duration::from_secs(20), || async {
        let (_, p) = app.get("/api/v1/enrollment/pools", &admin).await;
        p["data"].as_array().and_then(|d| d.iter().find(|p| p["course_id"] == other.as_str()).cloned())
    })
    .await;
    let (s, p) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/enrollment/pools/{}/self-enrollment", closed["license_id"].as_str().unwrap()),
            Some(&admin),
            Some(json!({ "open": true })),
        )
        .await;
    assert_problem(&(s, p), 409, "self-enrollment-not-allowed");
}
