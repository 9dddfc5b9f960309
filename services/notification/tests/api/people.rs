//! Email to a local SMTP sink (`aiosmtpd`, Maildir) and the in-app inbox: a member hears
//! of their membership in their locale, with a one-click unsubscribe that works, and
//! nothing more once they turned a category off.

use std::time::Duration;

use mirai_testkit::{SmtpSink, smtp::unfolded};

use super::*;

#[tokio::test]
async fn a_member_hears_of_their_membership_by_email_and_in_app_and_can_unsubscribe() {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(&[mirai_tenant::service(), mirai_notification::service()], move |c| {
        c.service_settings.insert("MIRAI_NOTIFICATION__SMTP_URL".into(), url);
    })
    .await
    .unwrap();
    let slug = format!("acme-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let root = app.platform_admin();
    let (_, t) = app
        .post("/api/v1/tenant/tenants", Some(&root), json!({ "kind": "org", "name": "Acme & Co", "slug": slug }))
        .await;
    let tenant: Uuid = t["id"].as_str().unwrap().parse().unwrap();
    let email = format!("ann-{}@example.com", Uuid::now_v7().simple());
    let user = Uuid::now_v7();
    let mut claims = app.claims(Some(tenant), &[Role::Learner]);
    claims.sub = format!("user:{user}");
    claims.email = Some(email.clone());
    let ann = app.sign(&claims);
    // Ann has used the app: notification knows the address identity signed into her session.
    let (s, _) = app.get("/api/v1/notification/preferences", &ann).await;
    assert_eq!(s, 200);
    let memberships = format!("/api/v1/tenant/tenants/{tenant}/memberships");
    let (s, _) = app.post(&memberships, Some(&root), json!({ "user_id": user, "roles": ["learner"] })).await;
    assert_eq!(s, 201);

    // The email: to Ann, in English, text and HTML, with RFC 8058 one-click headers.
    let mail = poll("the email arrives", Duration::from_secs(30), || async { smtp.mails().pop() }).await;
    let mail = unfolded(&mail);
    assert!(mail.contains(&format!("To: {email}")), "{mail}");
    assert!(mail.contains("Subject: You now have access to Acme & Co"), "{mail}");
    assert!(
        mail.contains("multipart/alternative") && mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    assert!(mail.contains("Acme &amp; Co"), "HTML is escaped: {mail}");
    assert!(mail.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{mail}");
    let link = mail
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
        .and_then(|l| l.strip_suffix('>'))
        .expect("a List-Unsubscribe header")
        .to_owned();
    assert!(link.contains("/api/v1/notification/unsubscribe/"), "{link}");

    // The inbox, and its live stream.
    let (s, inbox) = app.get("/api/v1/notification/inbox", &ann).await;
    assert_eq!(s, 200, "{inbox}");
    let item = inbox["data"][0].clone();
    assert_eq!(item["title"], "You now have access to Acme & Co");
    assert!(item["read_at"].is_null());
    let res = app.http.get(app.url("/api/v1/notification/inbox/stream")).bearer_auth(&ann).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut res = res;
    let first = tokio::time::timeout(Duration::from_secs(10), res.chunk()).await.unwrap().unwrap().unwrap();
    let first = String::from_utf8_lossy(&first).to_string();
    assert!(first.contains("event: item") && first.contains(item["id"].as_str().unwrap()), "{first}");
    let (s, marked) = app
        .call(
            Method::POST,
            &format!("/api/v1/notification/inbox/{}/read", item["id"].as_str().unwrap()),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!((s.as_u16(), marked["marked"].as_i64()), (200, Some(1)));
    let (_, unread) = app.get("/api/v1/notification/inbox?unread=true", &ann).await;
    assert_eq!(unread["data"], json!([]));
    // Another member of the tenant sees none of Ann's items.
    let (_, other) = app.get("/api/v1/notification/inbox", &app.token(Some(tenant), &[Role::OrgAdmin])).await;
    assert_eq!(other["data"], json!([]));

    // A GET of the link changes nothing; the one-click POST unsubscribes.
    let page = app.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let (_, prefs) = app.get("/api/v1/notification/preferences", &ann).await;
    assert_eq!(prefs["categories"], json!({}), "a GET unsubscribes no one: {prefs}");
    let res = app
        .http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, prefs) = app.get("/api/v1/notification/preferences", &ann).await;
    assert_eq!(prefs["categories"]["account"]["email"], false, "{prefs}");
    let forged = format!("{}x", link);
    assert_eq!(app.http.post(&forged).send().await.unwrap().status(), 404);

    // Unsubscribed from email: the next membership is in the inbox, not the mail.
    let (s, _) = app.post(&memberships, Some(&root), json!({ "user_id": user, "roles": ["author"] })).await;
    assert!(s == 201 || s == 200, "{s}");
    wait_until("the second notice is in the inbox", Duration::from_secs(20), || async {
        app.get("/api/v1/notification/inbox", &ann).await.1["data"].as_array().is_some_and(|d| d.len() == 2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(smtp.mails().len(), 1, "no second email");

    // German, by preference.
    let (s, p) = app
        .call(
            Method::PUT,
            "/api/v1/notification/preferences",
            Some(&ann),
            Some(json!({ "locale": "de", "categories": { "account": { "email": true, "in_app": true } } })),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let (s, _) = app.post(&memberships, Some(&root), json!({ "user_id": user, "roles": ["learner"] })).await;
    assert!(s == 201 || s == 200, "{s}");
    let german = poll("the German email arrives", Duration::from_secs(30), || async {
        smtp.mails().into_iter().find(|m| m.contains("Sie haben jetzt Zugang"))
    })
    .await;
    assert!(unfolded(&german).contains("Sie sind jetzt Mitglied von Acme & Co"), "{german}");
    let (s, _) = app
        .call(
            Method::PUT,
            "/api/v1/notification/preferences",
            Some(&ann),
            Some(json!({ "locale": "xx", "categories": {} })),
        )
        .await;
    assert_eq!(s, 422);
}
