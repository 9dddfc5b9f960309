//! The payment port: what billing asks of a payment provider, and its two adapters.
//! **Stripe** speaks Stripe's API (form-encoded requests, `Idempotency-Key` on every
//! write so a retried job never pays or refunds twice, PaymentIntents, Customers,
//! Refunds, and the Events list reconciliation reads). **Manual** takes nothing online:
//! the payment waits until a platform admin marks the invoice paid.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::settings::Settings;

/// What the provider says of a payment.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// The money is taken.
    Succeeded,
    /// The buyer still has to act (confirm with the client secret, 3-D Secure), or the
    /// provider is processing.
    Pending,
    /// Declined; the buyer may try again with another method.
    Declined(String),
    Canceled,
}

/// A payment as created at the provider.
#[derive(Debug, Clone)]
pub struct Created {
    pub provider_ref: String,
    pub client_secret: Option<String>,
    pub state: State,
}

/// A payment the provider reports as succeeded (for reconciliation).
#[derive(Debug, Clone)]
pub struct Paid {
    pub provider_ref: String,
    pub payment_id: Option<uuid::Uuid>,
    pub tenant_id: Option<uuid::Uuid>,
}

/// What a call to the provider can end in.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Worth retrying: the network, a timeout, 429, 5xx.
    #[error("payment provider unavailable: {0}")]
    Transient(String),
    /// The provider refused the request as such (4xx other than a decline).
    #[error("payment provider refused: {0}")]
    Refused(String),
}

/// What to create.
pub struct NewPayment<'a> {
    pub payment_id: uuid::Uuid,
    pub order_id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub amount: i64,
    pub currency: &'a str,
    pub customer: Option<&'a str>,
    pub payment_method: Option<&'a str>,
}

#[derive(Clone)]
pub enum Gateway {
    Stripe(Stripe),
    Manual,
}

impl Gateway {
    pub fn from_settings(s: &Settings) -> anyhow::Result<Self> {
        Ok(match (s.provider.as_str(), &s.stripe_secret_key) {
            ("stripe", Some(key)) => Gateway::Stripe(Stripe::new(&s.stripe_api_base, key.clone(), s.timeout)?),
            _ => Gateway::Manual,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Gateway::Stripe(_) => "stripe",
            Gateway::Manual => "manual",
        }
    }
}

#[derive(Clone)]
pub struct Stripe {
    base: String,
    key: SecretString,
    http: reqwest::Client,
}

type Form = Vec<(String, String)>;

/// The Stripe API version billing speaks.
pub const STRIPE_VERSION: &str = "2024-06-20";

impl Stripe {
    pub fn new(base: &str, key: SecretString, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Mirai-Billing/1.0")
            .build()?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), key, http })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &Form,
        idempotency: Option<&str>,
    ) -> Result<Value, GatewayError> {
        let url = format!("{}{path}", self.base);
        // Pinned: the fields read here (`invoice.payment_intent`, `invoice.subscription`)
        // are this version's, whatever the account's default is.
        let mut req = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(self.key.expose_secret())
            .header("Stripe-Version", STRIPE_VERSION);
        if method == reqwest::Method::GET {
            req = req.query(form);
        } else {
            let body = serde_urlencoded::to_string(form).map_err(|e| GatewayError::Refused(e.to_string()))?;
            req = req.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
        }
        if let Some(key) = idempotency {
            req = req.header("Idempotency-Key", key);
        }
        let res = req.send().await.map_err(|e| GatewayError::Transient(format!("{path}: {e}")))?;
        let status = res.status();
        let body: Value =
            res.json().await.map_err(|e| GatewayError::Transient(format!("{path}: unreadable answer: {e}")))?;
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"]["message"].as_str().unwrap_or("no message").to_owned();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(GatewayError::Transient(format!("{path}: HTTP {status}: {message}")));
        }
        // A card error on a confirmation still created the PaymentIntent: its state is
        // in the error (`error.payment_intent`), and it is a decline, not a refusal.
        if status.as_u16() == 402 || body["error"]["type"] == "card_error" {
            return Ok(serde_json::json!({ "declined": message, "payment_intent": body["error"]["payment_intent"] }));
        }
        Err(GatewayError::Refused(format!("{path}: HTTP {status}: {message}")))
    }

    /// The customer for a tenant, created once (the caller stores it).
    pub async fn create_customer(&self, tenant: uuid::Uuid) -> Result<String, GatewayError> {
        let form: Form = vec![("metadata[mirai_tenant_id]".into(), tenant.to_string())];
        let v = self.call(reqwest::Method::POST, "/v1/customers", &form, Some(&format!("customer-{tenant}"))).await?;
        id_of(&v)
    }

    pub async fn create_payment(&self, p: &NewPayment<'_>) -> Result<Created, GatewayError> {
        let mut form: Form = vec![
            ("amount".into(), p.amount.to_string()),
            ("currency".into(), p.currency.to_ascii_lowercase()),
            ("metadata[mirai_payment_id]".into(), p.payment_id.to_string()),
            ("metadata[mirai_order_id]".into(), p.order_id.to_string()),
            ("metadata[mirai_tenant_id]".into(), p.tenant_id.to_string()),
        ];
        if let Some(c) = p.customer {
            form.push(("customer".into(), c.into()));
        }
        if let Some(pm) = p.payment_method {
            form.push(("payment_method".into(), pm.into()));
            form.push(("confirm".into(), "true".into()));
        }
        let v = self
            .call(reqwest::Method::POST, "/v1/payment_intents", &form, Some(&format!("payment-{}", p.payment_id)))
            .await?;
        if let Some(message) = v["declined"].as_str() {
            let pi = &v["payment_intent"];
            return Ok(Created {
                provider_ref: pi["id"].as_str().unwrap_or_default().to_owned(),
                client_secret: pi["client_secret"].as_str().map(str::to_owned),
                state: State::Declined(message.to_owned()),
            });
        }
        Ok(Created {
            provider_ref: id_of(&v)?,
            client_secret: v["client_secret"].as_str().map(str::to_owned),
            state: state_of(&v),
        })
    }

    pub async fn retrieve(&self, provider_ref: &str) -> Result<State, GatewayError> {
        let v = self
            .call(reqwest::Method::GET, &format!("/v1/payment_intents/{}", path_safe(provider_ref)?), &vec![], None)
            .await?;
        Ok(state_of(&v))
    }

    pub async fn cancel(&self, provider_ref: &str) -> Result<State, GatewayError> {
        let path = format!("/v1/payment_intents/{}/cancel", path_safe(provider_ref)?);
        match self.call(reqwest::Method::POST, &path, &vec![], Some(&format!("cancel-{provider_ref}"))).await {
            Ok(v) => Ok(state_of(&v)),
            // Succeeded (or canceled) already: say what it is now.
            Err(GatewayError::Refused(_)) => self.retrieve(provider_ref).await,
            Err(e) => Err(e),
        }
    }

    /// Refunds `amount` of a payment; the idempotency key is the refund's id.
    pub async fn refund(&self, provider_ref: &str, amount: i64, key: &str) -> Result<String, GatewayError> {
        let form: Form = vec![
            ("payment_intent".into(), provider_ref.into()),
            ("amount".into(), amount.to_string()),
            // Marks it as billing's own: a refund without it was made at Stripe.
            ("metadata[mirai_refund_id]".into(), key.into()),
        ];
        let v = self.call(reqwest::Method::POST, "/v1/refunds", &form, Some(&format!("refund-{key}"))).await?;
        if v.get("declined").is_some() {
            return Err(GatewayError::Refused(format!("refund of {provider_ref} refused")));
        }
        id_of(&v)
    }

    /// Transfers `amount` to a connected account (Stripe Connect); the payout's id is the
    /// idempotency key, so a retried job transfers once.
    pub async fn transfer(
        &self,
        amount: i64,
        currency: &str,
        destination: &str,
        key: &str,
        group: &str,
    ) -> Result<String, GatewayError> {
        let form: Form = vec![
            ("amount".into(), amount.to_string()),
            ("currency".into(), currency.to_ascii_lowercase()),
            ("destination".into(), destination.into()),
            ("transfer_group".into(), group.into()),
            ("metadata[mirai_payout_id]".into(), key.into()),
        ];
        let v = self.call(reqwest::Method::POST, "/v1/transfers", &form, Some(&format!("payout-{key}"))).await?;
        if let Some(m) = v["declined"].as_str() {
            return Err(GatewayError::Refused(m.to_owned()));
        }
        id_of(&v)
    }
}

/// A refund as the provider has it.
#[derive(Debug, Clone)]
pub struct RefundAt {
    pub id: String,
    pub amount: i64,
    pub status: String,
    /// Made by billing (`metadata[mirai_refund_id]`).
    pub ours: bool,
}

/// A subscription to create at the provider: the order's seats at the listing's price,
/// each `interval`, charged to `payment_method` (made the customer's default).
pub struct NewSubscription<'a> {
    pub subscription_id: uuid::Uuid,
    pub payment_id: uuid::Uuid,
    pub order_id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub customer: &'a str,
    pub payment_method: &'a str,
    pub course_id: uuid::Uuid,
    pub seats: i32,
    pub unit_amount: i64,
    pub currency: &'a str,
    pub interval: &'a str,
}

/// A subscription as the provider has it.
#[derive(Debug, Clone)]
pub struct SubscriptionAt {
    pub provider_ref: String,
    /// Stripe's status: `incomplete`, `active`, `past_due`, `canceled`, …
    pub status: String,
    pub cancel_at_period_end: bool,
    pub latest_invoice: Option<String>,
    pub tenant_id: Option<uuid::Uuid>,
    pub subscription_id: Option<uuid::Uuid>,
    pub customer: Option<String>,
    /// The subscription item (`si_…`) the seats are the quantity of.
    pub item: Option<String>,
}

/// An invoice as the provider has it.
#[derive(Debug, Clone)]
pub struct InvoiceAt {
    pub id: String,
    pub subscription: Option<String>,
    /// `draft`, `open`, `paid`, `void` or `uncollectible`.
    pub status: String,
    pub amount_paid: i64,
    pub currency: String,
    pub payment_intent: Option<String>,
    /// Stripe's reason (`subscription_create`, `subscription_cycle`, …), when it says.
    pub billing_reason: Option<String>,
}

impl SubscriptionAt {
    fn of(v: &Value) -> Result<Self, GatewayError> {
        let meta = |k: &str| v["metadata"][k].as_str().and_then(|s| s.parse().ok());
        Ok(Self {
            provider_ref: id_of(v)?,
            status: v["status"].as_str().unwrap_or("incomplete").to_owned(),
            cancel_at_period_end: v["cancel_at_period_end"] == true,
            latest_invoice: v["latest_invoice"]
                .as_str()
                .or_else(|| v["latest_invoice"]["id"].as_str())
                .map(str::to_owned),
            tenant_id: meta("mirai_tenant_id"),
            subscription_id: meta("mirai_subscription_id"),
            customer: v["customer"].as_str().or_else(|| v["customer"]["id"].as_str()).map(str::to_owned),
            item: v["items"]["data"][0]["id"].as_str().map(str::to_owned),
        })
    }
}

impl InvoiceAt {
    fn of(v: &Value) -> Result<Self, GatewayError> {
        let id_or_obj = |x: &Value| x.as_str().or_else(|| x["id"].as_str()).map(str::to_owned);
        // Older API versions name the subscription on the invoice; newer ones under `parent`.
        let subscription =
            id_or_obj(&v["subscription"]).or_else(|| id_or_obj(&v["parent"]["subscription_details"]["subscription"]));
        Ok(Self {
            id: id_of(v)?,
            subscription,
            status: v["status"].as_str().unwrap_or("open").to_owned(),
            amount_paid: v["amount_paid"].as_i64().unwrap_or(0),
            currency: v["currency"].as_str().unwrap_or_default().to_ascii_uppercase(),
            payment_intent: id_or_obj(&v["payment_intent"]),
            billing_reason: v["billing_reason"].as_str().map(str::to_owned),
        })
    }
}

impl Stripe {
    /// Makes `pm` the customer's default payment method for invoices (attaching it).
    async fn default_payment_method(&self, customer: &str, pm: &str) -> Result<(), GatewayError> {
        let attach = format!("/v1/payment_methods/{}/attach", path_safe(pm)?);
        let form: Form = vec![("customer".into(), customer.into())];
        let v = self.call(reqwest::Method::POST, &attach, &form, Some(&format!("attach-{pm}-{customer}"))).await?;
        if let Some(m) = v["declined"].as_str() {
            return Err(GatewayError::Refused(format!("the payment method was declined: {m}")));
        }
        let form: Form = vec![("invoice_settings[default_payment_method]".into(), pm.into())];
        self.call(reqwest::Method::POST, &format!("/v1/customers/{}", path_safe(customer)?), &form, None).await?;
        Ok(())
    }

    /// The plan for a course's seat at a price and interval, created once (its id says
    /// all of that, so every order at that price shares it).
    async fn plan(&self, s: &NewSubscription<'_>) -> Result<String, GatewayError> {
        let id = format!(
            "mirai_{}_{}_{}_{}",
            s.course_id.simple(),
            s.currency.to_ascii_lowercase(),
            s.interval,
            s.unit_amount
        );
        match self.call(reqwest::Method::GET, &format!("/v1/plans/{id}"), &vec![], None).await {
            Ok(_) => return Ok(id),
            Err(GatewayError::Refused(_)) => {}
            Err(e) => return Err(e),
        }
        let form: Form = vec![
            ("id".into(), id.clone()),
            ("amount".into(), s.unit_amount.to_string()),
            ("currency".into(), s.currency.to_ascii_lowercase()),
            ("interval".into(), s.interval.into()),
            ("product[name]".into(), format!("Mirai course {} seat", s.course_id)),
            ("metadata[mirai_course_id]".into(), s.course_id.to_string()),
        ];
        match self.call(reqwest::Method::POST, "/v1/plans", &form, Some(&format!("plan-{id}"))).await {
            Ok(_) => Ok(id),
            // Created meanwhile by another order's job.
            Err(GatewayError::Refused(m)) if m.contains("already exists") => Ok(id),
            Err(e) => Err(e),
        }
    }

    /// Subscribes the customer (once: the subscription's id is the idempotency key); the
    /// provider invoices and charges the first period at once.
    pub async fn create_subscription(&self, s: &NewSubscription<'_>) -> Result<SubscriptionAt, GatewayError> {
        self.default_payment_method(s.customer, s.payment_method).await?;
        let plan = self.plan(s).await?;
        let form: Form = vec![
            ("customer".into(), s.customer.into()),
            ("items[0][plan]".into(), plan),
            ("items[0][quantity]".into(), s.seats.to_string()),
            ("payment_behavior".into(), "allow_incomplete".into()),
            ("metadata[mirai_subscription_id]".into(), s.subscription_id.to_string()),
            ("metadata[mirai_payment_id]".into(), s.payment_id.to_string()),
            ("metadata[mirai_order_id]".into(), s.order_id.to_string()),
            ("metadata[mirai_tenant_id]".into(), s.tenant_id.to_string()),
        ];
        let key = format!("subscription-{}", s.subscription_id);
        let v = self.call(reqwest::Method::POST, "/v1/subscriptions", &form, Some(&key)).await?;
        if let Some(m) = v["declined"].as_str() {
            return Err(GatewayError::Refused(format!("the first period was declined: {m}")));
        }
        SubscriptionAt::of(&v)
    }

    pub async fn subscription(&self, provider_ref: &str) -> Result<SubscriptionAt, GatewayError> {
        let v = self
            .call(reqwest::Method::GET, &format!("/v1/subscriptions/{}", path_safe(provider_ref)?), &vec![], None)
            .await?;
        SubscriptionAt::of(&v)
    }

    pub async fn invoice(&self, id: &str) -> Result<InvoiceAt, GatewayError> {
        let v = self.call(reqwest::Method::GET, &format!("/v1/invoices/{}", path_safe(id)?), &vec![], None).await?;
        InvoiceAt::of(&v)
    }

    /// Stops (or resumes) renewal at the end of the period paid.
    pub async fn set_cancel_at_period_end(
        &self,
        provider_ref: &str,
        cancel: bool,
        key: &str,
    ) -> Result<SubscriptionAt, GatewayError> {
        let form: Form = vec![("cancel_at_period_end".into(), cancel.to_string())];
        let path = format!("/v1/subscriptions/{}", path_safe(provider_ref)?);
        let v = self.call(reqwest::Method::POST, &path, &form, Some(&format!("renewal-{key}"))).await?;
        SubscriptionAt::of(&v)
    }

    /// Ends a subscription now (its license was revoked).
    pub async fn cancel_subscription(&self, provider_ref: &str) -> Result<(), GatewayError> {
        let path = format!("/v1/subscriptions/{}", path_safe(provider_ref)?);
        match self.call(reqwest::Method::DELETE, &path, &vec![], None).await {
            Ok(_) => Ok(()),
            // Gone already; any other refusal (a bad key, a locked account) is an error.
            Err(GatewayError::Refused(m)) if m.contains("HTTP 404") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sets the seats charged from the next period on (no proration: seats taken back
    /// are refunded for the current period by the refund itself).
    pub async fn set_quantity(&self, provider_ref: &str, seats: i32, key: &str) -> Result<(), GatewayError> {
        let at = self.subscription(provider_ref).await?;
        let Some(item) = at.item else {
            return Err(GatewayError::Refused(format!("subscription {provider_ref} has no item")));
        };
        let form: Form = vec![
            ("items[0][id]".into(), item),
            ("items[0][quantity]".into(), seats.to_string()),
            ("proration_behavior".into(), "none".into()),
        ];
        let path = format!("/v1/subscriptions/{}", path_safe(provider_ref)?);
        self.call(reqwest::Method::POST, &path, &form, Some(&format!("quantity-{key}"))).await.map(drop)
    }

    /// The tenant a PaymentIntent was made for: its own metadata (a one-off payment), or
    /// its invoice's subscription's (a period of a subscription); none when not ours.
    pub async fn owner_of(&self, pi: &str) -> Result<Option<uuid::Uuid>, GatewayError> {
        let v =
            self.call(reqwest::Method::GET, &format!("/v1/payment_intents/{}", path_safe(pi)?), &vec![], None).await?;
        if let Some(t) = v["metadata"]["mirai_tenant_id"].as_str().and_then(|s| s.parse().ok()) {
            return Ok(Some(t));
        }
        let Some(invoice) = v["invoice"].as_str().or_else(|| v["invoice"]["id"].as_str()) else { return Ok(None) };
        let Some(sub) = self.invoice(invoice).await?.subscription else { return Ok(None) };
        Ok(self.subscription(&sub).await?.tenant_id)
    }

    /// What Stripe kept of a PaymentIntent's charge (its balance transaction's fee), and
    /// in which currency; none until the charge has settled into one.
    pub async fn processor_fee(&self, pi: &str) -> Result<Option<(i64, String)>, GatewayError> {
        let id_or_obj = |x: &Value| x.as_str().or_else(|| x["id"].as_str()).map(str::to_owned);
        let v =
            self.call(reqwest::Method::GET, &format!("/v1/payment_intents/{}", path_safe(pi)?), &vec![], None).await?;
        let Some(charge) = id_or_obj(&v["latest_charge"]) else { return Ok(None) };
        let c = self.call(reqwest::Method::GET, &format!("/v1/charges/{}", path_safe(&charge)?), &vec![], None).await?;
        let Some(txn) = id_or_obj(&c["balance_transaction"]) else { return Ok(None) };
        let txn = path_safe(&txn)?;
        let b = match self.call(reqwest::Method::GET, &format!("/v1/balance_transactions/{txn}"), &vec![], None).await {
            Ok(b) => b,
            // The older path of the same resource (the one localstripe serves).
            Err(GatewayError::Refused(m)) if m.contains("HTTP 404") => {
                self.call(reqwest::Method::GET, &format!("/v1/balance/history/{txn}"), &vec![], None).await?
            }
            Err(e) => return Err(e),
        };
        let fee = b["fee"].as_i64().unwrap_or(0);
        Ok(Some((fee, b["currency"].as_str().unwrap_or_default().to_ascii_uppercase())))
    }

    /// A PaymentIntent's refunds at the provider (the latest 100).
    pub async fn refunds_of(&self, pi: &str) -> Result<Vec<RefundAt>, GatewayError> {
        let form: Form = vec![("payment_intent".into(), pi.into()), ("limit".into(), "100".into())];
        let v = self.call(reqwest::Method::GET, "/v1/refunds", &form, None).await?;
        Ok(v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some(RefundAt {
                    id: r["id"].as_str()?.to_owned(),
                    amount: r["amount"].as_i64()?,
                    status: r["status"].as_str().unwrap_or_default().to_owned(),
                    ours: r["metadata"]["mirai_refund_id"].is_string(),
                })
            })
            .collect())
    }

    /// The objects of the provider's events of `kind` since `since` (unix seconds), from
    /// its event log page by page, each kept if `keep` makes something of it; at most
    /// `max` of them.
    async fn events_since<T>(
        &self,
        kind: &str,
        since: i64,
        max: usize,
        keep: impl Fn(&Value) -> Option<T>,
    ) -> Result<Vec<T>, GatewayError> {
        let mut out = vec![];
        let mut after: Option<String> = None;
        loop {
            let mut form: Form = vec![
                ("type".into(), kind.into()),
                ("created[gte]".into(), since.to_string()),
                ("limit".into(), "100".into()),
            ];
            if let Some(a) = &after {
                form.push(("starting_after".into(), a.clone()));
            }
            let v = self.call(reqwest::Method::GET, "/v1/events", &form, None).await?;
            let data = v["data"].as_array().cloned().unwrap_or_default();
            out.extend(data.iter().filter_map(|ev| keep(&ev["data"]["object"])));
            after = data.last().and_then(|e| e["id"].as_str()).map(str::to_owned);
            if v["has_more"] != true || after.is_none() || out.len() >= max {
                return Ok(out);
            }
        }
    }

    /// Every subscription invoice paid since `since` (unix seconds), from the provider's
    /// event log (`invoice.payment_succeeded`); at most `max` of them.
    pub async fn invoices_paid_since(&self, since: i64, max: usize) -> Result<Vec<InvoiceAt>, GatewayError> {
        self.events_since("invoice.payment_succeeded", since, max, |o| {
            InvoiceAt::of(o).ok().filter(|inv| inv.subscription.is_some())
        })
        .await
    }

    /// Every payment that succeeded since `since` (unix seconds), from the provider's
    /// event log (`payment_intent.succeeded`), page by page; at most `max` of them.
    pub async fn succeeded_since(&self, since: i64, max: usize) -> Result<Vec<Paid>, GatewayError> {
        self.events_since("payment_intent.succeeded", since, max, |pi| {
            let meta = |k: &str| pi["metadata"][k].as_str().and_then(|s| s.parse().ok());
            Some(Paid {
                provider_ref: pi["id"].as_str()?.to_owned(),
                payment_id: meta("mirai_payment_id"),
                tenant_id: meta("mirai_tenant_id"),
            })
        })
        .await
    }
}

fn id_of(v: &Value) -> Result<String, GatewayError> {
    v["id"].as_str().map(str::to_owned).ok_or_else(|| GatewayError::Transient("the answer has no id".into()))
}

/// A PaymentIntent's status as the port's state.
pub fn state_of(pi: &Value) -> State {
    match pi["status"].as_str() {
        Some("succeeded") => State::Succeeded,
        Some("canceled") => State::Canceled,
        // After a failed attempt Stripe goes back to requires_payment_method and says why.
        Some("requires_payment_method") if pi["last_payment_error"].is_object() => {
            State::Declined(pi["last_payment_error"]["message"].as_str().unwrap_or("declined").to_owned())
        }
        _ => State::Pending,
    }
}

/// A provider id goes into a URL path: letters, digits and `_` only.
fn path_safe(id: &str) -> Result<&str, GatewayError> {
    if !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(GatewayError::Refused(format!("`{id}` is not a provider id")))
    }
}
