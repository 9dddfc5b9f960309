//! Notifications to people: an event that concerns a member (a membership granted; a course
//! assigned, due soon, overdue, escalated to their managers or lapsed; certificates as they
//! land) becomes an in-app inbox item and an email, each unless the member turned that
//! category off. Text comes from templates per event and locale (minijinja; subject, text
//! and HTML parts; HTML autoescaped). An email carries a one-click unsubscribe (RFC 8058:
//! `List-Unsubscribe` with an HTTPS URL holding a signed token, and
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click`).

use std::sync::LazyLock;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use mirai_contracts::ids::{TenantId, UserId};
use mirai_events::jobs::{self, NewJob};
use mirai_kit::{AppError, Principal, Role};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{AppState, store};

/// The categories a member can turn off, with what they cover.
pub const CATEGORIES: &[(&str, &str)] =
    &[("account", "memberships and access"), ("assignments", "assigned courses, reminders and escalations")];

/// The locales templates exist in; others fall back to `en`.
pub const LOCALES: &[&str] = &["en", "de"];

pub const EMAIL_JOB: &str = "notification.email";

macro_rules! template {
    ($name:literal, $locale:literal) => {
        [
            (
                concat!($name, ".", $locale, ".subject"),
                include_str!(concat!("../../templates/", $name, "/", $locale, "/subject.txt")),
            ),
            (
                concat!($name, ".", $locale, ".txt"),
                include_str!(concat!("../../templates/", $name, "/", $locale, "/body.txt")),
            ),
            (
                concat!($name, ".", $locale, ".html"),
                include_str!(concat!("../../templates/", $name, "/", $locale, "/body.html")),
            ),
        ]
    };
}

static TEMPLATES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for set in [
        template!("membership-granted", "en"),
        template!("membership-granted", "de"),
        template!("assignment-added", "en"),
        template!("assignment-added", "de"),
        template!("assignment-reminder", "en"),
        template!("assignment-reminder", "de"),
        template!("assignment-overdue", "en"),
        template!("assignment-overdue", "de"),
        template!("assignment-escalated", "en"),
        template!("assignment-escalated", "de"),
        template!("assignment-expired", "en"),
        template!("assignment-expired", "de"),
    ] {
        for (name, source) in set {
            env.add_template(name, source).expect("a notification template parses");
        }
    }
    env
});

/// A rendered message: subject, text and HTML.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `template` in `locale` (else English) with `vars`.
pub fn render(template: &str, locale: &str, vars: &Value) -> Result<Rendered, minijinja::Error> {
    let locale = if LOCALES.contains(&locale) { locale } else { "en" };
    let get = |part: &str| TEMPLATES.get_template(&format!("{template}.{locale}.{part}"))?.render(vars);
    Ok(Rendered { subject: get("subject")?.trim().to_owned(), text: get("txt")?, html: get("html")? })
}

/// The signed token of a one-click unsubscribe from one category.
pub fn unsubscribe_token(key: &[u8], tenant: TenantId, user: UserId, category: &str) -> String {
    let what = format!("{tenant}:{user}:{category}");
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(what.as_bytes());
    format!("{}.{}", URL_SAFE_NO_PAD.encode(what), URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// What a token unsubscribes, if it is ours.
pub fn read_token(key: &[u8], token: &str) -> Option<(TenantId, UserId, String)> {
    let (what, sig) = token.split_once('.')?;
    let what = String::from_utf8(URL_SAFE_NO_PAD.decode(what).ok()?).ok()?;
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(what.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(sig).ok()?).ok()?;
    let mut parts = what.splitn(3, ':');
    let tenant = parts.next()?.parse::<Uuid>().ok()?.into();
    let user = parts.next()?.parse::<Uuid>().ok()?.into();
    let category = parts.next()?.to_owned();
    CATEGORIES.iter().any(|(c, _)| *c == category).then_some((tenant, user, category))
}

pub fn unsubscribe_url(state: &AppState, tenant: TenantId, user: UserId, category: &str) -> String {
    let token = unsubscribe_token(state.unsubscribe_key.expose_secret(), tenant, user, category);
    format!("{}/api/v1/notification/unsubscribe/{token}", state.settings.public_url)
}

/// The key unsubscribe links are signed with: made on the first start, sealed by the
/// service's KEK in `service_keys`, the same for every replica (never a configured or
/// default value that could be public).
pub async fn unsubscribe_key(
    ctx: &mirai_kit::ServiceCtx,
    kms: &dyn mirai_kit::kms::Kms,
) -> anyhow::Result<SecretSlice<u8>> {
    const NAME: &str = "unsubscribe";
    const CONTEXT: &[u8] = b"mirai-notification/unsubscribe-key";
    let mut tx = ctx.db.platform_tx().await?;
    let get = "SELECT kek_id, sealed FROM service_keys WHERE name = $1";
    let stored: Option<(String, Vec<u8>)> = sqlx::query_as(get).bind(NAME).fetch_optional(&mut *tx).await?;
    let (kek_id, sealed) = match stored {
        Some(row) => row,
        None => {
            let mut key = [0u8; 32];
            rand::Rng::fill_bytes(&mut rand::rng(), &mut key);
            let (kek_id, sealed) = kms.seal(&key, CONTEXT)?;
            sqlx::query(
                "INSERT INTO service_keys (name, kek_id, sealed) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(NAME)
            .bind(&kek_id)
            .bind(&sealed)
            .execute(&mut *tx)
            .await?;
            // Another replica may have won the race: use what is stored.
            sqlx::query_as(get).bind(NAME).fetch_one(&mut *tx).await?
        }
    };
    tx.commit().await?;
    Ok(SecretSlice::from(kms.open(&kek_id, &sealed, CONTEXT)?))
}

/// The live inbox streams of one replica: at most `max` in all, 3 per member.
#[derive(Clone)]
pub struct Streams {
    all: std::sync::Arc<tokio::sync::Semaphore>,
    per_member: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<UserId, usize>>>,
}

/// A stream's place, given back when it ends.
pub struct StreamSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    user: UserId,
    per_member: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<UserId, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut m = self.per_member.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.user);
            }
        }
    }
}

impl Streams {
    pub fn new(max: usize) -> Self {
        Self { all: std::sync::Arc::new(tokio::sync::Semaphore::new(max.max(1))), per_member: Default::default() }
    }

    pub fn open(&self, user: UserId) -> Result<StreamSlot, AppError> {
        const PER_MEMBER: usize = 3;
        let permit = self.all.clone().try_acquire_owned().map_err(|_| AppError::Upstream {
            status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
            slug: "unavailable",
            title: "Too many live streams here",
            detail: "this replica serves as many live streams as it can; retry, or read the inbox".into(),
            retry_after_secs: Some(10),
        })?;
        let mut m = self.per_member.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(user).or_insert(0);
        if *n >= PER_MEMBER {
            return Err(AppError::client(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "too-many-streams",
                "Too many live streams",
                format!("a member may follow their inbox live {PER_MEMBER} times at once; close one"),
            ));
        }
        *n += 1;
        Ok(StreamSlot { _permit: permit, user, per_member: self.per_member.clone() })
    }
}

/// Whether a member wants a category by email and in-app (both on unless turned off).
fn wants(categories: &Value, category: &str) -> (bool, bool) {
    let c = &categories[category];
    (c["email"].as_bool().unwrap_or(true), c["in_app"].as_bool().unwrap_or(true))
}

/// Something to tell a member.
pub struct Notice<'a> {
    pub tenant: TenantId,
    pub user: UserId,
    pub category: &'static str,
    pub template: &'static str,
    pub vars: Value,
    pub link: Option<&'a str>,
}

/// Queues a notice (in the caller's transaction): an inbox item and an email, as the
/// member wants.
pub async fn notify(tx: &mut PgConnection, state: &AppState, n: Notice<'_>) -> anyhow::Result<()> {
    let settings = &state.settings;
    let (locale, categories) = store::preferences_get(tx, n.user).await?.unwrap_or_else(|| ("en".into(), json!({})));
    let (email, in_app) = wants(&categories, n.category);
    if !email && !in_app {
        return Ok(());
    }
    let mut vars = n.vars;
    vars["app_url"] = json!(settings.app_url);
    vars["unsubscribe_url"] = json!(unsubscribe_url(state, n.tenant, n.user, n.category));
    let person = store::person_get(tx, n.user).await?;
    vars["name"] = json!(person.as_ref().and_then(|p| p.display_name.clone()).unwrap_or_else(|| "there".into()));
    let r = render(n.template, &locale, &vars)?;
    if in_app {
        let first = r.text.split("\n\n").nth(1).unwrap_or(&r.text).trim().to_owned();
        store::inbox_insert(tx, n.tenant, n.user, n.category, &r.subject, &first, n.link).await?;
    }
    if email {
        let id = store::email_insert(tx, n.tenant, n.user, n.category, &r).await?;
        let mut job = NewJob::new(EMAIL_JOB, json!({ "email_id": id }));
        job.tenant_id = Some(n.tenant.into());
        // The runner's backoff doubles to an hour: 30 tries span about 19 hours, time for
        // the member to be seen (their address) or the SMTP server to come back.
        job.max_attempts = 30;
        jobs::enqueue(tx, job).await?;
    }
    Ok(())
}

// ---- the member's own: preferences and inbox -----------------------------------------

/// A member's preferences in their tenant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// `en` or `de` (others read as `en`).
    pub locale: String,
    /// Per category (`account`, …): `{"email": bool, "in_app": bool}`; a category not named
    /// is on.
    #[schema(value_type = Object)]
    pub categories: Value,
}

fn member(p: &Principal) -> Result<(TenantId, UserId), AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let user = p.user_id.ok_or_else(|| AppError::Forbidden("notifications are a person's own".into()))?;
    Ok((tenant, user.into()))
}

/// Records the address identity signed into the member's session, for their emails.
async fn seen(tx: &mut PgConnection, p: &Principal, user: UserId) -> Result<(), AppError> {
    if let Some(email) = p.email.as_deref().filter(|e| e.contains('@') && e.len() <= 320) {
        store::person_seen(tx, user, email).await?;
    }
    Ok(())
}

pub async fn preferences(state: &AppState, p: &Principal) -> Result<Preferences, AppError> {
    let (tenant, user) = member(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    seen(&mut tx, p, user).await?;
    let (locale, categories) = store::preferences_get(&mut tx, user).await?.unwrap_or_else(|| ("en".into(), json!({})));
    tx.commit().await?;
    Ok(Preferences { locale, categories })
}

pub async fn set_preferences(state: &AppState, p: &Principal, input: Preferences) -> Result<Preferences, AppError> {
    let (tenant, user) = member(p)?;
    if !LOCALES.contains(&input.locale.as_str()) {
        return Err(AppError::invalid("locale", format!("one of {}", LOCALES.join(", "))));
    }
    let Value::Object(cats) = &input.categories else {
        return Err(AppError::invalid("categories", "an object of categories"));
    };
    for (name, v) in cats {
        if !CATEGORIES.iter().any(|(c, _)| c == name) {
            return Err(AppError::invalid(&format!("categories/{name}"), "not a category"));
        }
        let ok = v
            .as_object()
            .is_some_and(|o| o.iter().all(|(k, b)| matches!(k.as_str(), "email" | "in_app") && b.is_boolean()));
        if !ok {
            return Err(AppError::invalid(&format!("categories/{name}"), "`{\"email\": bool, \"in_app\": bool}`"));
        }
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    seen(&mut tx, p, user).await?;
    store::preferences_put(&mut tx, tenant, user, &input.locale, &input.categories).await?;
    tx.commit().await?;
    Ok(input)
}

/// One item of a member's inbox.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct InboxItem {
    pub id: Uuid,
    pub category: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

pub async fn inbox(
    state: &AppState,
    p: &Principal,
    unread: bool,
    page: mirai_kit::pagination::PageParams,
) -> Result<mirai_kit::pagination::Page<InboxItem>, AppError> {
    let (tenant, user) = member(p)?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    seen(&mut tx, p, user).await?;
    let rows = store::inbox_list(&mut tx, user, unread, page.cursor()?, limit).await?;
    tx.commit().await?;
    Ok(mirai_kit::pagination::Page::from_rows(rows, limit, |r| mirai_kit::pagination::Cursor {
        created_at: r.created_at,
        id: r.id,
    }))
}

/// Items after `after` (newest last), for the live stream.
pub async fn inbox_since(
    state: &AppState,
    tenant: TenantId,
    user: UserId,
    after: Option<Uuid>,
) -> Result<Vec<InboxItem>, AppError> {
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::inbox_after(&mut tx, user, after).await?;
    tx.commit().await?;
    Ok(rows)
}

pub fn stream_member(p: &Principal) -> Result<(TenantId, UserId), AppError> {
    member(p)
}

/// Marks items read: one, or all.
pub async fn mark_read(state: &AppState, p: &Principal, item: Option<Uuid>) -> Result<u64, AppError> {
    let (tenant, user) = member(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let n = store::inbox_read(&mut tx, user, item).await?;
    if item.is_some() && n == 0 && !store::inbox_exists(&mut tx, user, item.unwrap_or_default()).await? {
        return Err(AppError::not_found("inbox item", item.unwrap_or_default()));
    }
    tx.commit().await?;
    Ok(n)
}

/// A one-click unsubscribe (RFC 8058): the token is the authority.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<String, AppError> {
    let (tenant, user, category) = read_token(state.unsubscribe_key.expose_secret(), token)
        .ok_or_else(|| AppError::not_found("unsubscribe link", token.chars().take(16).collect::<String>()))?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let (locale, mut categories) =
        store::preferences_get(&mut tx, user).await?.unwrap_or_else(|| ("en".into(), json!({})));
    categories[&category]["email"] = json!(false);
    store::preferences_put(&mut tx, tenant, user, &locale, &categories).await?;
    tx.commit().await?;
    Ok(category)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_per_locale_and_escape_html() {
        let vars = json!({ "tenant": "<Acme & Co>", "roles": ["learner"], "name": "Ann", "app_url": "https://a", "unsubscribe_url": "https://u" });
        let en = render("membership-granted", "en", &vars).unwrap();
        assert_eq!(en.subject, "You now have access to <Acme & Co>");
        assert!(en.text.contains("member of <Acme & Co> (learner)"), "{}", en.text);
        assert!(en.html.contains("&lt;Acme &amp; Co&gt;") && !en.html.contains("<Acme"), "{}", en.html);
        let de = render("membership-granted", "de", &vars).unwrap();
        assert!(de.subject.starts_with("Sie haben jetzt Zugang"));
        assert_eq!(render("membership-granted", "fr", &vars).unwrap(), en, "unknown locales read English");
        assert!(render("membership-granted", "en", &json!({})).is_err(), "a missing variable is an error");
    }

    #[test]
    fn assignment_templates_render_in_every_locale_with_the_vars_events_pass() {
        // What `notify` adds, the tenant's name, and what each handler in `events` passes.
        let base = json!({ "tenant": "Acme", "name": "Ann", "app_url": "https://a", "unsubscribe_url": "https://u",
                           "title": "Safety <101>" });
        let due = "2027-02-03";
        let extra = [
            ("assignment-added", json!({ "due_at": due })),
            ("assignment-reminder", json!({ "due_at": due, "days_left": 7 })),
            ("assignment-overdue", json!({ "due_at": due })),
            ("assignment-escalated", json!({ "due_at": due, "days_overdue": 7, "learner": "Bob" })),
            ("assignment-expired", json!({ "expired_at": "2028-01-20" })),
        ];
        for (template, extra) in extra {
            let mut vars = base.clone();
            for (k, v) in extra.as_object().unwrap() {
                vars[k] = v.clone();
            }
            for locale in LOCALES {
                let r = render(template, locale, &vars).unwrap_or_else(|e| panic!("{template}.{locale}: {e}"));
                assert!(r.subject.contains("Safety <101>"), "{template}.{locale}: {}", r.subject);
                assert!(r.text.contains("https://u"), "{template}.{locale}: {}", r.text);
                assert!(r.html.contains("Safety &lt;101&gt;"), "{template}.{locale}: {}", r.html);
            }
        }
    }

    #[test]
    fn unsubscribe_tokens_are_signed_and_scoped() {
        let (t, u) = (TenantId::new(), UserId::new());
        let token = unsubscribe_token(b"k", t, u, "account");
        assert_eq!(read_token(b"k", &token), Some((t, u, "account".to_owned())));
        assert_eq!(read_token(b"other", &token), None);
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(format!("{t}:{}:account", UserId::new())),
            token.split('.').nth(1).unwrap()
        );
        assert_eq!(read_token(b"k", &forged), None);
    }
}
