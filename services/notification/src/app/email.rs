//! Sending an email: a job per message (retried with backoff, failed visibly after its
//! last try). The address is looked up when it is sent (identity's user event may arrive
//! after the event that asked for the email); the message is multipart (text and HTML)
//! with RFC 8058 one-click unsubscribe headers, sent over SMTP (`lettre`) to
//! `SMTP_URL`. No transaction is open while the server answers.

use lettre::{
    AsyncTransport, Message,
    message::{
        Mailbox, MultiPart,
        header::{Header, HeaderName, HeaderValue},
    },
};
use mirai_contracts::ids::TenantId;
use mirai_events::{
    HandleError,
    jobs::{Job, JobHandler},
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::notify;
use crate::{AppState, store};

#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

pub struct SendEmail {
    pub state: AppState,
}

impl SendEmail {
    async fn send(&self, job: &Job) -> Result<(), HandleError> {
        let id: Uuid = serde_json::from_value(job.payload["email_id"].clone())
            .map_err(|e| HandleError::Permanent(format!("email_id: {e}")))?;
        let tenant: TenantId =
            job.tenant_id.ok_or_else(|| HandleError::Permanent("an email job has a tenant".into()))?.into();
        let db = &self.state.ctx.db;
        let last = job.attempts >= job.max_attempts;
        let (email, person) = {
            let mut tx = db.tenant_tx(tenant.into()).await?;
            let Some(email) = store::email_get(&mut tx, id).await? else { return Ok(()) };
            if email.status != "pending" {
                return Ok(());
            }
            let person = store::person_get(&mut tx, email.user_id).await?;
            if person.is_none() && last {
                store::email_set(&mut tx, id, "failed", email.attempts, Some("the person has no known address"), None)
                    .await?;
                tx.commit().await?;
                return Ok(());
            }
            tx.commit().await?;
            (email, person)
        };
        let Some(smtp) = &self.state.smtp else {
            // Nothing to retry against: the email fails now, with the reason.
            let mut tx = db.tenant_tx(tenant.into()).await?;
            let why = "no SMTP server is configured (MIRAI_NOTIFICATION__SMTP_URL)";
            store::email_set(&mut tx, id, "failed", email.attempts, Some(why), None).await?;
            tx.commit().await?;
            return Ok(());
        };
        let Some(person) = person else {
            return Err(HandleError::Transient(anyhow::anyhow!("no address known yet for {}", email.user_id)));
        };
        let settings = &self.state.settings;
        let unsubscribe = notify::unsubscribe_url(&self.state, tenant, email.user_id, &email.category);
        let message = person.email.parse().map_err(|e| format!("the address: {e}")).and_then(|address| {
            Message::builder()
                .from(settings.from.clone())
                .to(Mailbox::new(person.display_name.clone(), address))
                .subject(&email.subject)
                .message_id(Some(format!("<{id}@{}>", settings.from.email.domain())))
                .header(ListUnsubscribe(format!("<{unsubscribe}>")))
                .header(ListUnsubscribePost)
                .multipart(MultiPart::alternative_plain_html(email.text_body.clone(), email.html_body.clone()))
                .map_err(|e| format!("the message: {e}"))
        });
        let message = match message {
            Ok(m) => m,
            Err(why) => {
                // Nothing a retry would change.
                let mut tx = db.tenant_tx(tenant.into()).await?;
                store::email_set(&mut tx, id, "failed", email.attempts, Some(&why), None).await?;
                tx.commit().await?;
                return Ok(());
            }
        };
        let outcome = smtp.send(message).await.map(drop).map_err(|e| (e.to_string(), e.is_permanent()));
        let mut tx = db.tenant_tx(tenant.into()).await?;
        match outcome {
            Ok(()) => {
                store::email_set(&mut tx, id, "sent", email.attempts + 1, None, Some(&person.email)).await?;
                tx.commit().await?;
                Ok(())
            }
            Err((why, permanent)) => {
                // A permanent rejection (5xx: no such mailbox…) is not asked again.
                let end = last || permanent;
                let status = if end { "failed" } else { "pending" };
                store::email_set(&mut tx, id, status, email.attempts + 1, Some(&why), Some(&person.email)).await?;
                tx.commit().await?;
                if end {
                    tracing::warn!(email = %id, error = %why, "email failed");
                    Ok(())
                } else {
                    Err(HandleError::Transient(anyhow::anyhow!(why)))
                }
            }
        }
    }
}

impl JobHandler for SendEmail {
    fn run<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
        job: &'a Job,
    ) -> futures::future::BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(self.send(job))
    }
}
