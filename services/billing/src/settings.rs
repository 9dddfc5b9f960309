//! billing's own settings (`MIRAI_BILLING__*`).

use std::time::Duration;

use mirai_kit::config::{Config, ConfigError};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `PROVIDER`: `stripe` or `manual` (invoices paid outside, marked paid by a platform
    /// admin); default `stripe` when `STRIPE_SECRET_KEY` is set, else `manual`.
    pub provider: String,
    /// `STRIPE_API_BASE`: default `https://api.stripe.com` (tests and `make run` point it
    /// at localstripe).
    pub stripe_api_base: String,
    /// `STRIPE_SECRET_KEY`: `sk_…`.
    pub stripe_secret_key: Option<SecretString>,
    /// `STRIPE_WEBHOOK_SECRETS`: the endpoint's signing secrets (`whsec_…`), comma
    /// separated: during a rotation both the old and the new one verify.
    pub webhook_secrets: Vec<SecretString>,
    /// `WEBHOOK_TOLERANCE_SECS`: how old (or early) a signed timestamp may be, default 300.
    pub webhook_tolerance: Duration,
    /// `RECONCILE_EVERY_SECS`: how often reconciliation runs (once across replicas),
    /// default 900.
    pub reconcile_every: Duration,
    /// `RECONCILE_WINDOW_HOURS`: how far back it asks the provider, default 72.
    pub reconcile_window: Duration,
    /// `UNPAID_GRACE_SECS`: how long a provisioned order may wait for its payment before
    /// reconciliation asks the provider, default 300.
    pub unpaid_grace: Duration,
    /// `TIMEOUT_MS`: one call to the provider, default 20000.
    pub timeout: Duration,
    /// `ISSUER_NAME`: the legal entity receipts and credit notes are issued by (the
    /// platform, as merchant of record), default `Mirai Learning`.
    pub issuer_name: String,
    /// `ISSUER_PREFIX`: the issuer's number prefix (1 to 16 letters and digits, default
    /// `MIR`): numbers run `<prefix>-00000001` on without gaps.
    pub issuer_prefix: String,
    /// `RENEWAL_LEAD_SECS`: how long before a `manual` subscription's paid period ends its
    /// next invoice is raised, default 7 days (Stripe invoices its subscriptions itself).
    pub renewal_lead: Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let s = |key: &str| config.setting(crate::NAME, key).filter(|v| !v.is_empty());
        let num = |key: &str, default: u64| config.setting_num(crate::NAME, key, default);
        let key = s("STRIPE_SECRET_KEY");
        let provider = s("PROVIDER").unwrap_or_else(|| if key.is_some() { "stripe".into() } else { "manual".into() });
        if !matches!(provider.as_str(), "stripe" | "manual") {
            return Err(ConfigError {
                var: "MIRAI_BILLING__PROVIDER".into(),
                message: format!("`{provider}` is not stripe or manual"),
            });
        }
        if provider == "stripe" && key.is_none() {
            return Err(ConfigError {
                var: "MIRAI_BILLING__STRIPE_SECRET_KEY".into(),
                message: "the stripe provider needs a secret key".into(),
            });
        }
        let webhook_secrets: Vec<SecretString> = s("STRIPE_WEBHOOK_SECRETS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(|x| SecretString::from(x.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let issuer_prefix = s("ISSUER_PREFIX").unwrap_or_else(|| "MIR".into());
        if issuer_prefix.len() > 16 || !issuer_prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConfigError {
                var: "MIRAI_BILLING__ISSUER_PREFIX".into(),
                message: "must be 1 to 16 letters and digits".into(),
            });
        }
        Ok(Self {
            issuer_name: s("ISSUER_NAME").unwrap_or_else(|| "Mirai Learning".into()),
            issuer_prefix,
            provider,
            stripe_api_base: s("STRIPE_API_BASE")
                .unwrap_or_else(|| "https://api.stripe.com".into())
                .trim_end_matches('/')
                .into(),
            stripe_secret_key: key.map(SecretString::from),
            webhook_secrets,
            webhook_tolerance: Duration::from_secs(num("WEBHOOK_TOLERANCE_SECS", 300)?),
            reconcile_every: Duration::from_secs(num("RECONCILE_EVERY_SECS", 900)?.max(1)),
            reconcile_window: Duration::from_secs(num("RECONCILE_WINDOW_HOURS", 72)? * 3600),
            unpaid_grace: Duration::from_secs(num("UNPAID_GRACE_SECS", 300)?),
            timeout: Duration::from_millis(num("TIMEOUT_MS", 20_000)?),
            renewal_lead: Duration::from_secs(num("RENEWAL_LEAD_SECS", 7 * 86_400)?),
        })
    }
}
