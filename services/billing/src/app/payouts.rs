//! Payouts: a platform admin runs them; every provider owed something (a credit balance
//! on its `payable:` account, per currency) gets one payout per currency, booked at once
//! (payable debited, cash credited) and paid by the provider's own method: a Stripe
//! Connect transfer (a job, idempotent on the payout's id; a refusal books the balance
//! back) or a line in the run's CSV for the bank. A run can be repeated safely: what was
//! paid is no longer owed.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use mirai_contracts::{
    events::billing::PayoutChanged,
    ids::{PayoutId, PayoutRunId, TenantId},
};
use mirai_events::{
    HandleError,
    jobs::{self, Job, JobHandler},
    outbox,
};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{
    AppState,
    app::payments::{entries, job, system},
    gateway::GatewayError,
    store::{self, PayoutRow},
};

pub const TRANSFER_JOB: &str = "payout-transfer";

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutAccount {
    /// `stripe_connect` (transfers to `stripe_account`) or `csv` (the bank pays from the
    /// run's CSV; the default).
    pub method: String,
    /// The provider's connected account, `acct_…`.
    pub stripe_account: Option<String>,
}

/// A provider says how it is paid.
pub async fn set_account(state: &AppState, p: &Principal, a: PayoutAccount) -> Result<PayoutAccount, AppError> {
    let tenant = p.own_tenant(&[Role::ProviderAdmin, Role::OrgAdmin])?;
    match (a.method.as_str(), a.stripe_account.as_deref()) {
        ("stripe_connect", Some(acct))
            if acct.starts_with("acct_")
                && acct.len() <= 255
                && acct.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {}
        ("stripe_connect", _) => {
            return Err(AppError::invalid("stripe_account", "a Stripe Connect account id, `acct_…`"));
        }
        ("csv", None) => {}
        ("csv", Some(_)) => return Err(AppError::invalid("stripe_account", "only for stripe_connect")),
        _ => return Err(AppError::invalid("method", "must be stripe_connect or csv")),
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::payout_account_put(&mut tx, tenant, &a.method, a.stripe_account.as_deref(), &p.subject).await?;
    tx.commit().await?;
    Ok(a)
}

/// One payout of a run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunLine {
    #[schema(value_type = uuid::Uuid)]
    pub payout_id: PayoutId,
    #[schema(value_type = uuid::Uuid)]
    pub provider_tenant_id: TenantId,
    pub currency: String,
    /// Minor units.
    pub amount: i64,
    pub method: String,
    pub destination: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutRun {
    #[schema(value_type = uuid::Uuid)]
    pub id: PayoutRunId,
    pub started_by: String,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<RunLine>,
}

/// Pays every provider what it is owed (platform admin).
pub async fn run(state: &AppState, p: &Principal) -> Result<PayoutRun, AppError> {
    p.require_platform_admin()?;
    let id = PayoutRunId::new();
    let (owed, created_at) = {
        let mut tx = state.ctx.db.platform_tx().await?;
        // One run at a time: two would both see the same balances.
        mirai_kit::db::xact_lock(&mut tx, "billing-payout-run").await?;
        let owed = store::payables(&mut tx).await?;
        let at = store::payout_run_insert(&mut tx, id, &p.subject).await?;
        tx.commit().await?;
        (owed, at)
    };
    let cash = format!("cash:{}", state.gateway.name());
    let mut lines = vec![];
    for (provider, currency, amount) in owed {
        let mut tx = state.ctx.db.tenant_tx(provider.into()).await?;
        mirai_kit::db::xact_lock(&mut tx, "billing-payout-run").await?;
        // Still owed (a concurrent run or refund may have changed it)?
        let now_owed = store::payables(&mut tx)
            .await?
            .into_iter()
            .find(|(t, c, _)| *t == provider && *c == currency)
            .map_or(0, |(_, _, n)| n);
        let amount = amount.min(now_owed);
        if amount <= 0 {
            continue;
        }
        let (method, destination) = store::payout_account_get(&mut tx).await?.unwrap_or(("csv".into(), None));
        let status = if method == "csv" { "exported" } else { "pending" };
        let Some(payout) =
            store::payout_insert(&mut tx, provider, id, &currency, amount, &method, destination.as_deref(), status)
                .await?
        else {
            continue;
        };
        let posting = entries([(format!("payable:{provider}"), amount), (cash.clone(), -amount)]);
        store::ledger_post(&mut tx, "payout", &posting, &currency, None, provider).await?;
        if method == "csv" {
            state.ctx.publish(&mut tx, p, changed(&payout)).await?;
        } else {
            let j = job(TRANSFER_JOB, provider, json!({ "payout_id": payout.id }), format!("payout:{}", payout.id));
            jobs::enqueue(&mut tx, j).await?;
        }
        tx.commit().await?;
        lines.push(RunLine {
            payout_id: payout.id,
            provider_tenant_id: provider,
            currency,
            amount,
            method,
            destination,
        });
    }
    let mut tx = state.ctx.db.platform_tx().await?;
    store::payout_run_lines_put(&mut tx, id, &serde_json::to_value(&lines).map_err(|e| AppError::Internal(e.into()))?)
        .await?;
    tx.commit().await?;
    Ok(PayoutRun { id, started_by: p.subject.clone(), created_at, lines })
}

pub async fn get_run(state: &AppState, p: &Principal, id: PayoutRunId) -> Result<PayoutRun, AppError> {
    p.require_platform_admin()?;
    let mut tx = state.ctx.db.platform_tx().await?;
    let (started_by, created_at, lines) =
        store::payout_run_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("payout run", id))?;
    tx.commit().await?;
    let lines = serde_json::from_value(lines).map_err(|e| AppError::Internal(e.into()))?;
    Ok(PayoutRun { id, started_by, created_at, lines })
}

/// The run's bank file: one line per payout the bank makes (method `csv`).
pub async fn run_csv(state: &AppState, p: &Principal, id: PayoutRunId) -> Result<String, AppError> {
    let run = get_run(state, p, id).await?;
    let mut out = String::from("payout_id,provider_tenant_id,currency,amount_minor\r\n");
    for l in run.lines.iter().filter(|l| l.method == "csv") {
        out.push_str(&format!("{},{},{},{}\r\n", l.payout_id, l.provider_tenant_id, l.currency, l.amount));
    }
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Payout {
    #[schema(value_type = uuid::Uuid)]
    pub id: PayoutId,
    #[schema(value_type = uuid::Uuid)]
    pub run_id: PayoutRunId,
    pub currency: String,
    pub amount: i64,
    pub method: String,
    /// `pending`, `paid`, `exported` or `failed`.
    pub status: String,
    pub provider_ref: Option<String>,
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PayoutRow> for Payout {
    fn from(r: PayoutRow) -> Self {
        Self {
            id: r.id,
            run_id: r.run_id,
            currency: r.currency,
            amount: r.amount,
            method: r.method,
            status: r.status,
            provider_ref: r.provider_ref,
            failure: r.failure,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A provider's payouts, newest first.
pub async fn list(state: &AppState, p: &Principal, page: PageParams) -> Result<Page<Payout>, AppError> {
    let tenant = p.own_tenant(&[Role::ProviderAdmin, Role::OrgAdmin])?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::payouts_list(&mut tx, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

fn changed(p: &PayoutRow) -> mirai_events::NewEvent {
    PayoutChanged {
        tenant_id: p.tenant_id,
        payout_id: p.id,
        run_id: p.run_id,
        amount: p.amount,
        currency: p.currency.clone(),
        method: p.method.clone(),
        status: p.status.clone(),
        at: p.updated_at,
    }
    .into()
}

/// Transfers a `stripe_connect` payout.
pub struct Transfer {
    pub state: AppState,
}

impl Transfer {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let id: PayoutId = job.payload["payout_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| HandleError::Permanent("a transfer without a payout_id".into()))?;
        let Some(p) = store::payout_get(tx, id).await? else { return Ok(()) };
        if p.status != "pending" {
            return Ok(());
        }
        let result = match (&self.state.connect, p.destination.as_deref()) {
            (Some(stripe), Some(dest)) => {
                stripe.transfer(p.amount, &p.currency, dest, &id.to_string(), &p.run_id.to_string()).await
            }
            _ => {
                Err(GatewayError::Refused("Stripe Connect is not configured (MIRAI_BILLING__STRIPE_SECRET_KEY)".into()))
            }
        };
        let p = match result {
            Ok(r) => store::payout_set(tx, id, "paid", Some(&r), None).await?,
            Err(GatewayError::Transient(m)) => return Err(HandleError::Transient(anyhow::anyhow!(m))),
            Err(GatewayError::Refused(m)) => {
                // Not paid: the provider is owed it again.
                let cash = format!("cash:{}", self.state.gateway.name());
                let posting = entries([(cash, p.amount), (format!("payable:{}", p.tenant_id), -p.amount)]);
                store::ledger_post(tx, "payout", &posting, &p.currency, None, p.tenant_id).await?;
                let m: String = m.chars().take(500).collect();
                store::payout_set(tx, id, "failed", None, Some(&m)).await?
            }
        };
        outbox::enqueue(tx, crate::NAME, &system("billing"), changed(&p)).await?;
        Ok(())
    }
}

impl JobHandler for Transfer {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Transfer::run(self, tx, job))
    }
}
