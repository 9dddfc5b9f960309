//! Fixtures tests of several services share: tenants and their members, a person's
//! token, and a course listed (and licensed) through authoring and marketplace, its
//! lessons authored or made of an imported package.

use std::time::Duration;

use mirai_kit::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::{TestApp, poll};

impl TestApp {
    /// A tenant of `kind` (`org`, `provider`, `individual`) made by the platform admin
    /// through tenant's API, with a unique slug. Needs tenant in the fleet.
    pub async fn create_tenant(&self, kind: &str, name: &str) -> Uuid {
        let slug = format!("{}-{}", kind, &Uuid::now_v7().simple().to_string()[20..]);
        let body = serde_json::json!({ "kind": kind, "name": name, "slug": slug });
        let (s, t) = self.post("/api/v1/tenant/tenants", Some(&self.platform_admin()), body).await;
        assert_eq!(s, 201, "{t}");
        t["id"].as_str().and_then(|id| id.parse().ok()).expect("a tenant id")
    }

    /// Makes `user` a member of `tenant` with `roles` (in `org_unit`, when given), as the
    /// platform admin.
    pub async fn add_member(&self, tenant: Uuid, user: Uuid, roles: &[&str], org_unit: Option<&str>) {
        let body = serde_json::json!({ "user_id": user, "roles": roles, "org_unit_id": org_unit });
        let path = format!("/api/v1/tenant/tenants/{tenant}/memberships");
        let (s, m) = self.post(&path, Some(&self.platform_admin()), body).await;
        assert_eq!(s, 201, "{m}");
    }

    /// A token of `user` (a person) in `tenant` with `roles`, carrying their current
    /// access version as identity's tokens do (when the fleet has heard of one).
    pub fn user_token(&self, tenant: Uuid, user: Uuid, roles: &[Role]) -> String {
        let mut claims = self.claims(Some(tenant), roles);
        claims.sub = format!("user:{user}");
        claims.ver = self.fleet().keys.access_version(user, tenant);
        self.sign(&claims)
    }

    /// A course a provider authored, published and listed free. Needs authoring and
    /// marketplace in the fleet. Returns the course and listing ids.
    pub async fn listed_course(&self) -> (String, String) {
        self.listed_course_with(serde_json::json!({})).await
    }

    /// [`Self::listed_course`] with more of the listing's terms (`{"self_enrollment": true}`).
    pub async fn listed_course_with(&self, terms: Value) -> (String, String) {
        let modules = serde_json::json!([{ "title": "M", "lessons": [{ "title": "L",
            "blocks": [{ "kind": "text", "content": { "markdown": "Three points of contact." } }] }] }]);
        self.listed_course_of(modules, terms).await
    }

    /// [`Self::listed_course_with`] with the course's own `modules` (authoring's shape).
    pub async fn listed_course_of(&self, modules: Value, terms: Value) -> (String, String) {
        self.listed_course_by(Uuid::now_v7(), modules, terms).await
    }

    /// [`Self::listed_course_of`] authored by `provider` (whose assets its blocks may show).
    pub async fn listed_course_by(&self, provider: Uuid, modules: Value, terms: Value) -> (String, String) {
        let seller = self.token(Some(provider), &[Role::ProviderAdmin]);
        let body = serde_json::json!({ "title": "Ladder safety", "summary": "Up and down", "locale": "en", "tags": [],
            "visibility": "public", "modules": modules });
        let (s, c) = self.post("/api/v1/authoring/courses", Some(&seller), body).await;
        assert_eq!(s, 201, "{c}");
        let course = c["id"].as_str().expect("a course id").to_owned();
        let listing = self.publish_listed(provider, &course, 1, terms).await;
        (course, listing)
    }

    /// Publishes `provider`'s draft `course` at `revision` and lists version 1 of it (free,
    /// with more `terms`); returns the listing's id.
    pub async fn publish_listed(&self, provider: Uuid, course: &str, revision: i64, terms: Value) -> String {
        let seller = self.token(Some(provider), &[Role::ProviderAdmin]);
        // Publishable once authoring has learnt its blocks' assets are ready (an event).
        poll("authoring publishes the course", Duration::from_secs(20), || async {
            let res = self
                .http
                .post(self.url(&format!("/api/v1/authoring/courses/{course}/publish")))
                .bearer_auth(&seller)
                .header("if-match", format!("\"{revision}\""))
                .send()
                .await
                .expect("publish");
            let s = res.status().as_u16();
            assert!(matches!(s, 201 | 409 | 422), "publish: {s} {}", res.text().await.unwrap_or_default());
            (s == 201).then_some(())
        })
        .await;
        let mut listing = serde_json::json!({ "course_id": course, "version": 1, "pricing": "free" });
        if let (Some(l), Some(t)) = (listing.as_object_mut(), terms.as_object()) {
            l.extend(t.clone());
        }
        poll("marketplace knows the version", Duration::from_secs(20), || async {
            let (s, l) = self.post("/api/v1/marketplace/listings", Some(&seller), listing.clone()).await;
            (s == 201).then(|| l["id"].as_str().expect("a listing id").to_owned())
        })
        .await
    }

    /// A course listed free ([`Self::listed_course`]) of which `buyer` (an org tenant)
    /// ordered `seats`: the order completed, so the license follows on the bus. Returns
    /// the course id.
    pub async fn licensed_course(&self, buyer: Uuid, seats: i32) -> String {
        let (course, listing) = self.listed_course().await;
        self.order_free(buyer, seats, &listing).await;
        course
    }

    /// [`Self::licensed_course`] of a course with its own `modules` (authoring's shape).
    pub async fn licensed_course_of(&self, buyer: Uuid, seats: i32, modules: Value) -> String {
        let (course, listing) = self.listed_course_of(modules, serde_json::json!({})).await;
        self.order_free(buyer, seats, &listing).await;
        course
    }

    /// A provider's course of a text lesson and the lessons a content package (`zip`, a
    /// SCORM or cmi5 package) makes, published, listed free and ordered by `buyer` (an org
    /// tenant, `seats` seats). Needs content besides authoring, marketplace and enrollment.
    /// Returns the course id; its package's lessons are in the second module.
    pub async fn licensed_package_course(&self, buyer: Uuid, seats: i32, zip: Vec<u8>) -> String {
        let provider = Uuid::now_v7();
        let seller = self.token(Some(provider), &[Role::ProviderAdmin]);
        let body = serde_json::json!({ "title": "Ladder inspection", "summary": "Check before you climb",
            "locale": "en", "tags": [], "visibility": "public", "modules": [{ "title": "Intro", "lessons": [{
                "title": "Why", "blocks": [{ "kind": "text", "content": { "markdown": "Ladders fail at the feet." } }] }] }] });
        let (s, c) = self.post("/api/v1/authoring/courses", Some(&seller), body).await;
        assert_eq!(s, 201, "{c}");
        let course = c["id"].as_str().expect("a course id").to_owned();
        let res = self
            .http
            .post(self.url(&format!("/api/v1/content/packages?course_id={course}")))
            .bearer_auth(&seller)
            .header("content-type", "application/zip")
            .body(zip)
            .send()
            .await
            .expect("import");
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
        let revision = poll("authoring adds the package's lessons", Duration::from_secs(20), || async {
            let (_, c) = self.get(&format!("/api/v1/authoring/courses/{course}"), &seller).await;
            (c["modules"].as_array().is_some_and(|m| m.len() >= 2)).then(|| c["revision"].as_i64().unwrap_or(0))
        })
        .await;
        let res = self
            .http
            .post(self.url(&format!("/api/v1/authoring/courses/{course}/publish")))
            .bearer_auth(&seller)
            .header("if-match", format!("\"{revision}\""))
            .send()
            .await
            .expect("publish");
        assert_eq!(res.status(), 201);
        let listing = serde_json::json!({ "course_id": course, "version": 1, "pricing": "free" });
        let listing = poll("marketplace knows the version", Duration::from_secs(20), || async {
            let (s, l) = self.post("/api/v1/marketplace/listings", Some(&seller), listing.clone()).await;
            (s == 201).then(|| l["id"].as_str().expect("a listing id").to_owned())
        })
        .await;
        self.order_free(buyer, seats, &listing).await;
        course
    }

    /// [`Self::licensed_course_of`] authored by `provider`.
    pub async fn licensed_course_by(&self, provider: Uuid, buyer: Uuid, seats: i32, modules: Value) -> String {
        let (course, listing) = self.listed_course_by(provider, modules, serde_json::json!({})).await;
        self.order_free(buyer, seats, &listing).await;
        course
    }

    /// A media asset of `tenant`, uploaded as an author would (declared, PUT to its signed
    /// URL, completed): ready. Needs media in the fleet. Returns the asset.
    pub async fn ready_asset(&self, tenant: Uuid, filename: &str, content_type: &str, bytes: Vec<u8>) -> Value {
        let author = self.token(Some(tenant), &[Role::Author]);
        let body = serde_json::json!({ "filename": filename, "content_type": content_type, "size": bytes.len() });
        let (s, u) = self.post("/api/v1/media/uploads", Some(&author), body).await;
        assert_eq!(s, 201, "{u}");
        let mut put = self.http.put(u["upload"]["url"].as_str().expect("an upload url"));
        for (k, v) in u["upload"]["headers"].as_object().into_iter().flatten() {
            put = put.header(k, v.as_str().unwrap_or_default());
        }
        let res = put.body(bytes).send().await.expect("upload");
        assert!(res.status().is_success(), "{}", res.status());
        let id = u["asset"]["id"].as_str().expect("an asset id");
        let (s, a) =
            self.post(&format!("/api/v1/media/assets/{id}/complete"), Some(&author), serde_json::json!({})).await;
        assert_eq!(s, 200, "{a}");
        a
    }

    /// Enrolls `user`, a member of `tenant`, in `course` as the tenant's org admin, once
    /// enrollment has learnt the member and the license (both from events). Returns the
    /// enrollment. Needs tenant, marketplace and enrollment in the fleet.
    pub async fn enrolled(&self, tenant: Uuid, user: Uuid, course: &str) -> Value {
        let admin = self.token(Some(tenant), &[Role::OrgAdmin]);
        let body = serde_json::json!({ "user_id": user, "course_id": course });
        poll("enrollment knows the member and the license", Duration::from_secs(30), || async {
            let (s, e) = self.post("/api/v1/enrollment/enrollments", Some(&admin), body.clone()).await;
            (s == 201).then_some(e)
        })
        .await
    }

    pub async fn order_free(&self, buyer: Uuid, seats: i32, listing: &str) {
        let admin = self.token(Some(buyer), &[Role::OrgAdmin]);
        let (s, o) = self
            .post(
                "/api/v1/marketplace/orders",
                Some(&admin),
                serde_json::json!({ "listing_id": listing, "seats": seats }),
            )
            .await;
        assert_eq!((s.as_u16(), o["status"].as_str()), (201, Some("completed")), "{o}");
    }
}
