//! `mirai dev --demo`: seeds a demo tenant idempotently — a platform admin, one user per
//! tenant role with a password, and an API key with the org admin's rights — through the
//! public API where one exists, and writes the credentials to `.dev/demo.json`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use mirai_kit::{Role, fleet::Fleet};
use serde_json::{Value, json};

const DOMAIN: &str = "demo.mirai.local";

/// Where `mirai dev --demo` writes the credentials.
pub fn default_path() -> PathBuf {
    PathBuf::from(".dev").join("demo.json")
}

/// Passwords survive re-seeding so a running client's saved credentials keep working.
fn previous(path: &Path) -> Value {
    std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null)
}

fn password_for(prev: &Value, email: &str) -> String {
    prev["users"]
        .as_array()
        .and_then(|us| us.iter().find(|u| u["email"] == email))
        .and_then(|u| u["password"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("demo-{}", uuid::Uuid::new_v4().simple()))
}

/// Seeds the demo tenant and writes its credentials to `path` (JSON).
pub async fn seed(fleet: &Fleet, path: &Path) -> anyhow::Result<()> {
    let identity = fleet.service("identity").context("the demo needs identity")?;
    let base = fleet.public_url.clone();
    let http = reqwest::Client::new();
    let prev = previous(path);

    let admin_email = format!("platform-admin@{DOMAIN}");
    let admin_password = password_for(&prev, &admin_email);
    mirai_identity::seed_user(identity, &admin_email, &admin_password, true).await?;
    let admin = login(&http, &base, &admin_email, &admin_password, None).await?;

    let tenant_id = match call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/api/v1/tenant/tenants"),
        &admin,
        json!({ "kind": "org", "name": "Demo Org", "slug": "demo" }),
    )
    .await?
    {
        (201, t) => t["id"].as_str().context("tenant id")?.to_owned(),
        (409, _) => {
            let (_, page) = call(
                &http,
                reqwest::Method::GET,
                &format!("{base}/api/v1/tenant/tenants?limit=200"),
                &admin,
                Value::Null,
            )
            .await?;
            page["data"]
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["slug"] == "demo"))
                .and_then(|t| t["id"].as_str())
                .context("demo tenant")?
                .to_owned()
        }
        (s, body) => bail!("creating the demo tenant: {s} {body}"),
    };

    let mut users = vec![json!({ "email": admin_email, "password": admin_password, "roles": ["platform_admin"] })];
    let mut ids = std::collections::HashMap::new();
    for role in Role::ALL.into_iter().filter(|r| *r != Role::PlatformAdmin) {
        let email = format!("{}@{DOMAIN}", role.as_str().replace('_', "-"));
        let password = password_for(&prev, &email);
        let user_id = mirai_identity::seed_user(identity, &email, &password, false).await?;
        ids.insert(role, (user_id, email.clone(), password.clone()));
        let (s, body) = call(
            &http,
            reqwest::Method::POST,
            &format!("{base}/api/v1/tenant/tenants/{tenant_id}/memberships"),
            &admin,
            json!({ "user_id": user_id, "roles": [role.as_str()] }),
        )
        .await?;
        if s != 201 {
            bail!("granting {role:?}: {s} {body}");
        }
        users.push(json!({ "email": email, "password": password, "roles": [role.as_str()] }));
    }

    // The org admin's roles reach identity as an event; wait until login sees them.
    let org_admin_email = format!("org-admin@{DOMAIN}");
    let org_admin_password = users
        .iter()
        .find(|u| u["email"] == org_admin_email.as_str())
        .and_then(|u| u["password"].as_str())
        .context("org admin seeded")?
        .to_owned();
    let tid: uuid::Uuid = tenant_id.parse()?;
    let mut org_admin = None;
    for _ in 0..100 {
        if let Ok(t) = login(&http, &base, &org_admin_email, &org_admin_password, Some(tid)).await {
            org_admin = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let org_admin = org_admin.context("the org admin's membership did not reach identity")?;

    // Keep a previous key if it still works; otherwise make a new one.
    let api_key = match prev["api_key"].as_str() {
        Some(k)
            if call(&http, reqwest::Method::GET, &format!("{base}/api/v1/identity/me"), k, Value::Null).await?.0
                == 200 =>
        {
            k.to_owned()
        }
        _ => {
            let (s, body) = call(
                &http,
                reqwest::Method::POST,
                &format!("{base}/api/v1/identity/api-keys"),
                &org_admin,
                json!({ "name": "demo", "roles": ["org_admin"] }),
            )
            .await?;
            if s != 201 {
                bail!("creating the demo API key: {s} {body}");
            }
            body["secret"].as_str().context("secret")?.to_owned()
        }
    };

    // LRS credentials for standard xAPI clients: HTTP Basic key:secret, scope `all`.
    let lrs_endpoint = format!("{base}/api/v1/lrs/xapi/");
    let lrs = match (prev["lrs"]["key"].as_str(), prev["lrs"]["secret"].as_str()) {
        (Some(k), Some(s)) if lrs_works(&http, &lrs_endpoint, k, s).await => prev["lrs"].clone(),
        _ => {
            let (s, body) = call(
                &http,
                reqwest::Method::POST,
                &format!("{base}/api/v1/identity/api-keys"),
                &org_admin,
                json!({ "name": "demo-lrs", "roles": ["org_admin"], "scopes": ["all"] }),
            )
            .await?;
            if s != 201 {
                bail!("creating the demo LRS key: {s} {body}");
            }
            json!({ "endpoint": lrs_endpoint, "key": body["id"], "secret": body["basic_password"] })
        }
    };
    let course_id = seed_course(&http, &base, &org_admin).await.context("the demo course")?;
    let commerce =
        seed_commerce(&http, &base, &admin, &org_admin, tid, &ids).await.context("the demo's marketplace")?;
    let doc = json!({ "fleet_url": base, "tenant_id": tenant_id, "users": users, "api_key": api_key, "lrs": lrs,
        "demo_course_id": course_id, "marketplace": commerce });
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_vec_pretty(&doc)?)?;
    Ok(())
}

const DEMO_COURSE: &str = "Welcome to Mirai";
const SOLD_COURSE: &str = "Fire safety essentials";

/// Where the demo's webhook endpoint points (`MIRAI_DEMO_WEBHOOK_URL`; the README's
/// walkthrough starts a receiver there).
pub fn webhook_url() -> String {
    std::env::var("MIRAI_DEMO_WEBHOOK_URL").unwrap_or_else(|_| "http://127.0.0.1:8099/webhooks".into())
}

/// Polls `f` every 100 ms for up to 20 s.
async fn until<T, F, Fut>(what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    for _ in 0..200 {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what} did not happen within 20 s")
}

/// The value stream, seeded once: a provider (Demo Academy, whose admin is the demo's
/// provider admin) lists a course at 49 € a seat; the demo org buys 5 seats, invoiced
/// (billing runs `manual` without a Stripe key) and marked paid by the platform admin;
/// the course is assigned to the demo learner, due in 30 days, and enrollment gives them one
/// of the seats; and the org has a webhook endpoint at
/// `webhook_url()`. Each step looks for what an earlier run made first.
async fn seed_commerce(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    org_admin: &str,
    org: uuid::Uuid,
    ids: &std::collections::HashMap<Role, (uuid::Uuid, String, String)>,
) -> anyhow::Result<Value> {
    let api = |path: &str| format!("{base}/api/v1/{path}");
    let get =
        |url: String, token: String| async move { call(http, reqwest::Method::GET, &url, &token, Value::Null).await };
    let academy = match call(
        http,
        reqwest::Method::POST,
        &api("tenant/tenants"),
        admin,
        json!({ "kind": "provider", "name": "Demo Academy", "slug": "demo-academy" }),
    )
    .await?
    {
        (201, t) => t["id"].as_str().context("tenant id")?.parse::<uuid::Uuid>()?,
        (409, _) => {
            let (_, page) = get(api("tenant/tenants?limit=200"), admin.to_owned()).await?;
            page["data"]
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["slug"] == "demo-academy"))
                .and_then(|t| t["id"].as_str())
                .context("the academy")?
                .parse()?
        }
        (s, body) => bail!("creating the academy: {s} {body}"),
    };
    let (provider_id, provider_email, provider_password) =
        ids.get(&Role::ProviderAdmin).context("the provider admin")?;
    let (s, body) = call(
        http,
        reqwest::Method::POST,
        &api(&format!("tenant/tenants/{academy}/memberships")),
        admin,
        json!({ "user_id": provider_id, "roles": ["provider_admin"] }),
    )
    .await?;
    if !(200..300).contains(&s) && s != 409 {
        bail!("making the provider admin the academy's: {s} {body}");
    }
    // A token from the very moment the membership changed access can be refused as older
    // than the change: keep logging in until one works.
    let seller = until("the academy's admin can log in", || async {
        let Ok(token) = login(http, base, provider_email, provider_password, Some(academy)).await else {
            return Ok(None);
        };
        let (s, _) = get(api("authoring/courses?limit=1"), token.clone()).await?;
        Ok((s == 200).then_some(token))
    })
    .await?;

    // The academy's listing (one course, published once).
    let (_, mine) = get(api("marketplace/listings?mine=true"), seller.clone()).await?;
    let listing = match mine["data"].as_array().and_then(|l| l.iter().find(|l| l["status"] == "active")) {
        Some(l) => l.clone(),
        None => {
            let (_, page) = get(api("authoring/courses?limit=200"), seller.clone()).await?;
            let existing =
                page["data"].as_array().and_then(|cs| cs.iter().find(|c| c["title"] == SOLD_COURSE)).cloned();
            let course = match existing {
                Some(c) => c["id"].as_str().context("course id")?.to_owned(),
                None => {
                    let body = json!({ "title": SOLD_COURSE, "summary": "Alarms, exits and extinguishers in twenty minutes.",
                        "locale": "en", "tags": ["safety", "compliance"], "visibility": "public", "modules": [{ "title": "Fire safety",
                        "lessons": [{ "title": "When the alarm sounds", "blocks": [{ "kind": "text", "content": { "markdown":
                        "Leave by the nearest exit, close doors behind you and meet at the assembly point." } }] }] }] });
                    let (s, c) = call(http, reqwest::Method::POST, &api("authoring/courses"), &seller, body).await?;
                    if s != 201 {
                        bail!("creating the academy's course: {s} {c}");
                    }
                    c["id"].as_str().context("course id")?.to_owned()
                }
            };
            // Its second lesson is a SCORM 1.2 fire drill (the SCORM runtime plays it).
            let res = http
                .post(api(&format!("content/packages?course_id={course}")))
                .bearer_auth(&seller)
                .header("content-type", "application/zip")
                .body(sco_package(DRILL)?)
                .send()
                .await?;
            if !res.status().is_success() {
                bail!("importing the academy's drill: {} {}", res.status(), res.text().await.unwrap_or_default());
            }
            let revision = until("the drill reaches the academy's draft", || async {
                let (_, c) = get(api(&format!("authoring/courses/{course}")), seller.clone()).await?;
                Ok(c["modules"].as_array().filter(|m| m.len() >= 2).and(c["revision"].as_i64()))
            })
            .await?;
            let res = http
                .post(api(&format!("authoring/courses/{course}/publish")))
                .bearer_auth(&seller)
                .header("if-match", format!("\"{revision}\""))
                .send()
                .await?;
            if !res.status().is_success() && res.status() != 409 && res.status() != 412 {
                bail!("publishing the academy's course: {}", res.status());
            }
            let body = json!({ "course_id": course, "version": 1, "pricing": "one_time", "prices": { "EUR": 4900, "USD": 5400 },
                "seat_packs": [1, 5, 10, 50], "description": "Everything a workplace needs before its first drill." });
            until("marketplace knows the academy's course", || async {
                let (s, l) =
                    call(http, reqwest::Method::POST, &api("marketplace/listings"), &seller, body.clone()).await?;
                Ok((s == 201).then_some(l))
            })
            .await?
        }
    };
    let listing_id = listing["id"].as_str().context("listing id")?.to_owned();
    let course_id = listing["course_id"].as_str().context("listing course")?.to_owned();

    // Five seats for the demo org, invoiced and paid.
    let (_, owned) = get(api("marketplace/licenses"), org_admin.to_owned()).await?;
    let license = match owned["data"].as_array().and_then(|l| l.iter().find(|l| l["listing_id"] == listing_id.as_str()))
    {
        Some(l) => l.clone(),
        None => {
            let (s, o) = call(
                http,
                reqwest::Method::POST,
                &api("marketplace/orders"),
                org_admin,
                json!({ "listing_id": listing_id, "seats": 5, "currency": "EUR" }),
            )
            .await?;
            if s != 201 {
                bail!("ordering 5 seats: {s} {o}");
            }
            let order = o["id"].as_str().context("order id")?.to_owned();
            let payment = until("billing invoices the order", || async {
                let (_, p) = get(api(&format!("billing/payments?order_id={order}")), org_admin.to_owned()).await?;
                Ok(p["data"].get(0).filter(|p| p["status"] == "requires_action" || p["status"] == "succeeded").cloned())
            })
            .await?;
            if payment["status"] == "requires_action" {
                let pid = payment["id"].as_str().context("payment id")?;
                let (s, p) = call(
                    http,
                    reqwest::Method::POST,
                    &api(&format!("billing/tenants/{org}/payments/{pid}/mark-paid")),
                    admin,
                    Value::Null,
                )
                .await?;
                if s != 200 {
                    bail!("marking the invoice paid: {s} {p}");
                }
            }
            until("the order is licensed", || async {
                let (_, l) = get(api("marketplace/licenses"), org_admin.to_owned()).await?;
                Ok(l["data"]
                    .as_array()
                    .and_then(|l| l.iter().find(|l| l["listing_id"] == listing_id.as_str()))
                    .cloned())
            })
            .await?
        }
    };

    // The course assigned to the demo learner, due in 30 days: enrollment gives them one
    // of the seats.
    let (learner, _, _) = ids.get(&Role::Learner).context("the learner")?;
    let (_, existing) =
        get(api(&format!("assignment/assignments?course_id={course_id}")), org_admin.to_owned()).await?;
    let assignment = match existing["data"].get(0) {
        Some(a) => a.clone(),
        None => {
            until("the course is assigned", || async {
                let (s, a) = call(
                    http,
                    reqwest::Method::POST,
                    &api("assignment/assignments"),
                    org_admin,
                    json!({ "course_id": course_id, "title": "Fire safety for new starters", "users": [learner],
                            "due_days": 30 }),
                )
                .await?;
                // 409/422: the license or the member has not reached assignment yet.
                if !matches!(s, 201 | 409 | 422) {
                    bail!("assigning the demo course: {s} {a}");
                }
                Ok((s == 201).then_some(a))
            })
            .await?
        }
    };
    let enrollment = until("the learner is enrolled", || async {
        let (_, e) = get(
            api(&format!("enrollment/enrollments?user_id={learner}&course_id={course_id}&active=true")),
            org_admin.to_owned(),
        )
        .await?;
        Ok(e["data"].get(0).cloned())
    })
    .await?;

    // A webhook endpoint the README's walkthrough can receive on.
    let url = webhook_url();
    let (_, eps) = get(api("notification/endpoints"), org_admin.to_owned()).await?;
    let endpoint = match eps["data"].as_array().and_then(|e| e.iter().find(|e| e["url"] == url.as_str())) {
        Some(e) => e.clone(),
        None => {
            let (s, e) = call(
                http,
                reqwest::Method::POST,
                &api("notification/endpoints"),
                org_admin,
                json!({ "url": url, "description": "the demo's local receiver" }),
            )
            .await?;
            if s != 201 {
                bail!("registering the demo webhook endpoint: {s} {e}");
            }
            e
        }
    };
    let (_, secret) = get(
        api(&format!("notification/endpoints/{}/secret", endpoint["id"].as_str().unwrap_or_default())),
        org_admin.to_owned(),
    )
    .await?;
    Ok(json!({ "provider_tenant_id": academy, "listing_id": listing_id, "course_id": course_id,
        "license_id": license["id"], "assignment_id": assignment["id"], "enrollment_id": enrollment["id"],
        "webhook": { "endpoint_id": endpoint["id"], "url": url, "secret": secret["secret"] } }))
}

/// A 1×1 PNG: the demo lesson's image.
const PIXEL_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

/// A one-SCO SCORM 1.2 package: identifier, title, and what its page says.
struct Sco {
    id: &'static str,
    title: &'static str,
    text: &'static str,
}

/// The demo course's tour.
const TOUR: Sco = Sco {
    id: "mirai-demo-orientation",
    title: "A tour of the building",
    text: "Reception, the library, the meeting rooms.",
};
/// The academy's fire drill.
const DRILL: Sco = Sco {
    id: "demo-academy-fire-drill",
    title: "Fire drill",
    text: "Walk to the nearest exit, close the doors behind you, meet at the assembly point.",
};

/// The demo's SCORM 1.2 packages: one SCO that, once opened, finds the LMS's API the way
/// ADL's wrapper does, records the learner's acknowledgement as an interaction, a score
/// of 100 and `passed` (committed at once), and finishes when the page closes.
fn sco_package(sco: Sco) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="{id}" version="1" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="org"><organization identifier="org"><title>{title}</title>
    <item identifier="sco" identifierref="sco_res"><title>{title}</title></item>
  </organization></organizations>
  <resources><resource identifier="sco_res" type="webcontent" adlcp:scormtype="sco" href="sco/index.html">
    <file href="sco/index.html"/></resource></resources>
</manifest>"#,
        id = sco.id,
        title = sco.title
    );
    let page = format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title><script>
function api(w){{var n=0;while(w&&!w.API&&w.parent&&w.parent!==w&&n++<7)w=w.parent;return w&&w.API}}
var API=api(window)||(window.opener&&api(window.opener));
if(API){{API.LMSInitialize("");API.LMSSetValue("cmi.interactions.0.id","acknowledged");
API.LMSSetValue("cmi.interactions.0.type","true-false");API.LMSSetValue("cmi.interactions.0.student_response","t");
API.LMSSetValue("cmi.interactions.0.result","correct");API.LMSSetValue("cmi.core.score.min","0");
API.LMSSetValue("cmi.core.score.max","100");API.LMSSetValue("cmi.core.score.raw","100");
API.LMSSetValue("cmi.core.lesson_status","passed");API.LMSSetValue("cmi.core.session_time","00:00:05");API.LMSCommit("");}}
window.addEventListener("pagehide",function(){{if(API)API.LMSFinish("");}});
</script></head><body><h1>{title}</h1><p>{text}</p></body></html>"#,
        title = sco.title,
        text = sco.text
    );
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    z.start_file("imsmanifest.xml", o)?;
    z.write_all(manifest.as_bytes())?;
    z.start_file("sco/index.html", o)?;
    z.write_all(page.as_bytes())?;
    Ok(z.finish()?.into_inner())
}

/// The demo course, published once: two lessons (text, and text with an image uploaded
/// through media's signed URL) and a third imported from a SCORM 1.2 package. Each step
/// is safe to repeat: an existing course is found by its title, the package import is
/// idempotent by its bytes, and a published course is left alone.
async fn seed_course(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    use base64::Engine as _;
    let api = |path: &str| format!("{base}/api/v1/{path}");
    let (_, page) = call(http, reqwest::Method::GET, &api("authoring/courses?limit=200"), token, Value::Null).await?;
    let existing = page["data"].as_array().and_then(|cs| cs.iter().find(|c| c["title"] == DEMO_COURSE)).cloned();
    let id = match existing {
        Some(c) if !c["latest_version"].is_null() => return Ok(c["id"].as_str().context("course id")?.to_owned()),
        Some(c) => c["id"].as_str().context("course id")?.to_owned(),
        None => {
            let png = base64::engine::general_purpose::STANDARD.decode(PIXEL_PNG)?;
            let (s, up) = call(
                http,
                reqwest::Method::POST,
                &api("media/uploads"),
                token,
                json!({ "filename": "campus-map.png", "content_type": "image/png", "size": png.len() }),
            )
            .await?;
            if s != 201 {
                bail!("declaring the demo image: {s} {up}");
            }
            let put = http.put(up["upload"]["url"].as_str().context("upload url")?).header("content-type", "image/png");
            let res = put.body(png).send().await?;
            if !res.status().is_success() {
                bail!("uploading the demo image: {}", res.status());
            }
            let asset = up["asset"]["id"].as_str().context("asset id")?;
            let (s, done) =
                call(http, reqwest::Method::POST, &api(&format!("media/assets/{asset}/complete")), token, Value::Null)
                    .await?;
            if s != 200 {
                bail!("completing the demo image: {s} {done}");
            }
            let course = json!({ "title": DEMO_COURSE, "summary": "Your first course: how Mirai works, with a map and a tour.",
                "locale": "en", "tags": ["onboarding"], "visibility": "tenant", "modules": [{ "title": "Getting started", "lessons": [
                    { "title": "How learning works here", "blocks": [{ "kind": "text", "content": { "markdown":
                        "Courses are made of **modules** and **lessons**. Your progress is recorded as you learn, online or offline." } }] },
                    { "title": "Finding your way", "blocks": [
                        { "kind": "text", "content": { "markdown": "The campus map shows the library, the cafeteria and the exits." } },
                        { "kind": "image", "content": { "media_id": asset, "alt": "Campus map" } }] }] }] });
            let (s, c) = call(http, reqwest::Method::POST, &api("authoring/courses"), token, course).await?;
            if s != 201 {
                bail!("creating the demo course: {s} {c}");
            }
            c["id"].as_str().context("course id")?.to_owned()
        }
    };
    let res = http
        .post(api(&format!("content/packages?course_id={id}")))
        .bearer_auth(token)
        .header("content-type", "application/zip")
        .body(sco_package(TOUR)?)
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("importing the demo package: {} {}", res.status(), res.text().await.unwrap_or_default());
    }
    // Authoring adds the package's lesson from content's event: wait for it.
    let mut revision = None;
    for _ in 0..200 {
        let (_, c) =
            call(http, reqwest::Method::GET, &api(&format!("authoring/courses/{id}")), token, Value::Null).await?;
        if c["modules"].as_array().is_some_and(|m| m.len() >= 2) {
            revision = c["revision"].as_i64();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let revision = revision.context("the demo package's lesson did not reach the draft")?;
    // Publishable once authoring has learnt the image is a ready asset (an event too).
    let mut last = String::new();
    for _ in 0..200 {
        let res = http
            .post(api(&format!("authoring/courses/{id}/publish")))
            .bearer_auth(token)
            .header("if-match", format!("\"{revision}\""))
            .send()
            .await?;
        if res.status().is_success() {
            return Ok(id);
        }
        last = format!("{} {}", res.status(), res.text().await.unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("publishing the demo course: {last}")
}

async fn lrs_works(http: &reqwest::Client, endpoint: &str, key: &str, secret: &str) -> bool {
    http.get(format!("{endpoint}statements?limit=1"))
        .basic_auth(key, Some(secret))
        .header("x-experience-api-version", "1.0.3")
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
    tenant: Option<uuid::Uuid>,
) -> anyhow::Result<String> {
    let res = http
        .post(format!("{base}/api/v1/identity/login"))
        .json(&json!({ "email": email, "password": password, "tenant_id": tenant }))
        .send()
        .await?;
    let status = res.status();
    let body: Value = res.json().await?;
    if !status.is_success() || (tenant.is_some() && body["tenant_id"].is_null()) {
        bail!("login as {email}: {status} {body}");
    }
    Ok(body["access_token"].as_str().context("access_token")?.to_owned())
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let mut req = http.request(method, url).bearer_auth(token);
    if !body.is_null() {
        req = req.json(&body);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}
