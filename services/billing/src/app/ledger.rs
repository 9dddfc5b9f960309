//! The ledger as platform admins and providers read it.

use std::collections::BTreeMap;

use mirai_kit::{AppError, Principal, Role};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{AppState, store};

#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    pub account: String,
    pub currency: String,
    /// Debits positive, credits negative, minor units.
    pub balance: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Balances {
    pub accounts: Vec<Balance>,
    /// The sum of every account per currency: zero when the books balance.
    #[schema(value_type = Object)]
    pub totals: BTreeMap<String, i64>,
}

/// Every account (platform admin).
pub async fn balances(state: &AppState, p: &Principal) -> Result<Balances, AppError> {
    p.require_platform_admin()?;
    let mut tx = state.ctx.db.platform_tx().await?;
    let rows = store::ledger_balances(&mut tx, None).await?;
    tx.commit().await?;
    let mut totals = BTreeMap::new();
    for r in &rows {
        *totals.entry(r.currency.clone()).or_insert(0) += r.balance;
    }
    let accounts =
        rows.into_iter().map(|r| Balance { account: r.account, currency: r.currency, balance: r.balance }).collect();
    Ok(Balances { accounts, totals })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Owed {
    /// What the platform owes the caller's tenant for its sales, by currency (minor units).
    #[schema(value_type = Object)]
    pub owed: BTreeMap<String, i64>,
}

/// What the platform owes a provider (its own tenant's account).
pub async fn owed(state: &AppState, p: &Principal) -> Result<Owed, AppError> {
    let tenant = p.own_tenant(&[Role::ProviderAdmin, Role::OrgAdmin])?;
    let account = format!("payable:{tenant}");
    let mut tx = state.ctx.db.platform_tx().await?;
    let rows = store::ledger_balances(&mut tx, Some(&account)).await?;
    tx.commit().await?;
    Ok(Owed { owed: rows.into_iter().map(|r| (r.currency, -r.balance)).collect() })
}
