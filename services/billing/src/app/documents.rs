//! Receipts and credit notes. A successful payment gets a receipt, and each refund a
//! credit note, issued by a job: once per payment or refund, with `tenant_id` set. Each
//! is numbered `<prefix>-<8 digits>` from the issuer's sequence, taken under the
//! sequence row's lock in the issuing transaction, so numbers have no gaps and never
//! repeat. The issuer is the platform as merchant of record (`MIRAI_BILLING__ISSUER_NAME`,
//! `…ISSUER_PREFIX`). The buyer reads them as JSON or as an HTML document to print.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use mirai_contracts::{
    events::billing::DocumentIssued,
    ids::{DocumentId, OrderId, PaymentId, RefundId, TenantId},
};
use mirai_events::{
    HandleError,
    jobs::{Job, JobHandler},
    outbox,
};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{AppState, app::payments, store};

pub const ISSUE_JOB: &str = "issue-document";

/// Who reads a tenant's receipts: the buyer's admins.
const READERS: &[Role] = &[Role::OrgAdmin];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Line {
    pub description: String,
    pub quantity: i32,
    /// Minor units.
    pub unit_amount: i64,
    /// Minor units.
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Document {
    #[schema(value_type = uuid::Uuid)]
    pub id: DocumentId,
    /// `receipt` or `credit_note`.
    pub kind: String,
    /// The issuer's number, e.g. `MIR-00000042`.
    pub number: String,
    /// The legal entity that issued it.
    pub issuer_name: String,
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub payment_id: PaymentId,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub refund_id: Option<RefundId>,
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    pub lines: Vec<Line>,
    pub issued_at: DateTime<Utc>,
}

impl From<store::DocumentRow> for Document {
    fn from(r: store::DocumentRow) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            number: r.number,
            issuer_name: r.issuer_name,
            tenant_id: r.tenant_id,
            payment_id: r.payment_id,
            refund_id: r.refund_id,
            order_id: r.order_id,
            amount: r.amount,
            currency: r.currency,
            lines: r.lines.0,
            issued_at: r.issued_at,
        }
    }
}

/// The job that issues a receipt (`refund_id` absent) or a credit note.
pub fn job(tenant: TenantId, payment: PaymentId, refund: Option<RefundId>) -> mirai_events::jobs::NewJob {
    let key = match refund {
        Some(r) => format!("document:credit_note:{r}"),
        None => format!("document:receipt:{payment}"),
    };
    payments::job(ISSUE_JOB, tenant, serde_json::json!({ "payment_id": payment, "refund_id": refund }), key)
}

/// Issues one document.
pub struct Issue {
    pub state: AppState,
}

impl Issue {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        #[derive(Deserialize)]
        struct Target {
            payment_id: PaymentId,
            refund_id: Option<RefundId>,
        }
        let t: Target = serde_json::from_value(job.payload.clone())
            .map_err(|e| HandleError::Permanent(format!("a document job without its payment: {e}")))?;
        let Some(p) = store::payment_get(tx, t.payment_id, true).await? else {
            return Err(HandleError::Permanent(format!("no payment {}", t.payment_id)));
        };
        let kind = if t.refund_id.is_some() { "credit_note" } else { "receipt" };
        if store::document_exists(tx, p.id, t.refund_id).await? {
            return Ok(());
        }
        let lines = match t.refund_id {
            None => {
                let bought = store::payment_lines(tx, p.id).await?;
                let what = match (bought.pricing.as_deref(), bought.billing_interval.as_deref()) {
                    (Some("subscription"), Some(i)) => format!("seat, one {i}"),
                    _ => "seat".to_owned(),
                };
                let course = bought.course_id.map(|c| format!(" of course {c}")).unwrap_or_default();
                match (bought.seats, bought.unit_amount) {
                    (Some(n), Some(unit)) if i64::from(n) * unit == p.amount => vec![Line {
                        description: format!("Course license: {what}{course} (order {})", p.order_id),
                        quantity: n,
                        unit_amount: unit,
                        amount: p.amount,
                    }],
                    _ => vec![Line {
                        description: format!("Course license{course} (order {})", p.order_id),
                        quantity: 1,
                        unit_amount: p.amount,
                        amount: p.amount,
                    }],
                }
            }
            Some(refund) => {
                let amount = store::refund_amount(tx, refund)
                    .await?
                    .filter(|a| *a > 0)
                    .ok_or_else(|| HandleError::Permanent(format!("refund {refund} has no amount refunded")))?;
                let receipt = store::receipt_number(tx, p.id).await?.unwrap_or_else(|| "the payment".into());
                vec![Line {
                    description: format!("Refund of {receipt} (order {})", p.order_id),
                    quantity: 1,
                    unit_amount: amount,
                    amount,
                }]
            }
        };
        let amount: i64 = lines.iter().map(|l| l.amount).sum();
        let issuer = &self.state.settings.issuer_prefix;
        let seq = store::document_next(tx, issuer).await?;
        let row = store::DocumentRow {
            id: DocumentId::new(),
            tenant_id: p.tenant_id,
            kind: kind.into(),
            issuer: issuer.clone(),
            issuer_name: self.state.settings.issuer_name.clone(),
            seq,
            number: format!("{issuer}-{seq:08}"),
            payment_id: p.id,
            refund_id: t.refund_id,
            order_id: p.order_id,
            amount,
            currency: p.currency.clone(),
            lines: sqlx::types::Json(lines),
            issued_at: Utc::now(),
        };
        let row = store::document_insert(tx, &row).await?;
        let ev = DocumentIssued {
            tenant_id: row.tenant_id,
            document_id: row.id,
            kind: row.kind.clone(),
            number: row.number.clone(),
            payment_id: row.payment_id,
            order_id: row.order_id,
            amount: row.amount,
            currency: row.currency.clone(),
            at: row.issued_at,
        };
        outbox::enqueue(tx, crate::NAME, &payments::system("billing"), ev.into()).await?;
        Ok(())
    }
}

impl JobHandler for Issue {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Issue::run(self, tx, job))
    }
}

// ---- the API -------------------------------------------------------------------------

pub async fn list(state: &AppState, p: &Principal, page: PageParams) -> Result<Page<Document>, AppError> {
    let tenant = p.own_tenant(READERS)?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::documents_list(&mut tx, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.issued_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

pub async fn get(state: &AppState, p: &Principal, id: DocumentId) -> Result<Document, AppError> {
    let tenant = p.own_tenant(READERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::document_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("document", id))?;
    tx.commit().await?;
    Ok(row.into())
}

static TEMPLATE: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("document.html", include_str!("../../templates/document.html"))
        .expect("the document template parses");
    env
});

/// The digits after the decimal point of a currency's minor unit (ISO 4217, as Stripe
/// counts them).
fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "MGA" | "PYG" | "RWF" | "UGX" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `12345` EUR → `123.45 EUR`.
pub fn money(minor: i64, currency: &str) -> String {
    let e = exponent(currency);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if e == 0 {
        return format!("{sign}{abs} {currency}");
    }
    let unit = 10u64.pow(e);
    format!("{sign}{}.{:0width$} {currency}", abs / unit, abs % unit, width = e as usize)
}

/// The document as HTML to print or save as PDF (autoescaped).
pub fn render(d: &Document) -> Result<String, AppError> {
    let lines: Vec<serde_json::Value> = d
        .lines
        .iter()
        .map(|l| {
            serde_json::json!({ "description": l.description, "quantity": l.quantity,
                "unit": money(l.unit_amount, &d.currency), "amount": money(l.amount, &d.currency) })
        })
        .collect();
    let vars = serde_json::json!({
        "title": if d.kind == "receipt" { "Receipt" } else { "Credit note" },
        "number": d.number, "issuer": d.issuer_name, "issued": d.issued_at.format("%Y-%m-%d").to_string(),
        "buyer": d.tenant_id.to_string(), "order": d.order_id.to_string(), "payment": d.payment_id.to_string(),
        "lines": lines, "total": money(d.amount, &d.currency),
    });
    TEMPLATE
        .get_template("document.html")
        .and_then(|t| t.render(vars))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering {}: {e}", d.number)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_in_the_currencys_minor_unit() {
        assert_eq!(money(24500, "EUR"), "245.00 EUR");
        assert_eq!(money(5, "USD"), "0.05 USD");
        assert_eq!(money(1200, "JPY"), "1200 JPY");
        assert_eq!(money(1234, "KWD"), "1.234 KWD");
        assert_eq!(money(-150, "EUR"), "-1.50 EUR");
    }

    #[test]
    fn a_document_renders_escaped() {
        let d = Document {
            id: DocumentId::new(),
            kind: "receipt".into(),
            number: "MIR-00000001".into(),
            issuer_name: "Mirai <Learning>".into(),
            tenant_id: TenantId::new(),
            payment_id: PaymentId::new(),
            refund_id: None,
            order_id: OrderId::new(),
            amount: 9800,
            currency: "EUR".into(),
            lines: vec![Line { description: "2 × seat".into(), quantity: 2, unit_amount: 4900, amount: 9800 }],
            issued_at: Utc::now(),
        };
        let html = render(&d).unwrap();
        assert!(html.contains("MIR-00000001") && html.contains("98.00 EUR") && html.contains("49.00 EUR"), "{html}");
        assert!(html.contains("Mirai &lt;Learning&gt;"), "{html}");
    }
}
