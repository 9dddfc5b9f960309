//! The `mirai` binary's library half: which services exist, and the demo seed.

pub mod demo;

use mirai_kit::ServiceDef;

/// Every implemented service, in start-up order.
pub fn services() -> Vec<ServiceDef> {
    vec![
        mirai_identity::service(),
        mirai_tenant::service(),
        mirai_lrs::service(),
        mirai_authoring::service(),
        mirai_catalog::service(),
        mirai_search::service(),
        mirai_media::service(),
        mirai_content::service(),
        mirai_ai_gateway::service(),
        mirai_notification::service(),
        mirai_marketplace::service(),
        mirai_billing::service(),
        mirai_enrollment::service(),
        mirai_assignment::service(),
        mirai_delivery::service(),
        mirai_assessment::service(),
    ]
}

/// Services that exist only to be copied and tested (`services/_template`): not run by
/// the binary, but their tests run under the dev server's NATS permissions.
pub fn example_services() -> Vec<ServiceDef> {
    vec![mirai_template::service()]
}

/// The variables `defs` would fall back to a dev-only (public) secret for: the bus
/// verify keys, identity's bus signing key, media's URL-signing key on a file store,
/// delivery's bundle signing key, each
/// service's NATS and database passwords.
pub fn dev_secrets_in_use(config: &mirai_kit::Config, defs: &[ServiceDef]) -> Vec<String> {
    use mirai_kit::Config;
    let mut missing = Vec::new();
    if config.bus_keys_are_dev {
        missing.push("MIRAI_BUS_VERIFY_KEYS".to_owned());
    }
    // A file store's URLs are signed with this key (S3 signs its own).
    if config.blobs.signing_key_is_dev
        && config.blobs.store.starts_with("file://")
        && defs.iter().any(|d| d.name == "media")
    {
        missing.push("MIRAI_BLOB_SIGNING_KEY".to_owned());
    }
    // Offline bundles are signed with this key; devices trust what it signs.
    if defs.iter().any(|d| d.name == "delivery") && Config::service_var("delivery", "BUNDLE_SIGNING_KEY").is_none() {
        missing.push("MIRAI_DELIVERY__BUNDLE_SIGNING_KEY".to_owned());
    }
    let db_default = std::env::var("MIRAI_DB_APP_PASSWORD").is_err();
    for d in defs {
        let var = |key: &str| format!("MIRAI_{}__{key}", d.name.to_uppercase().replace('-', "_"));
        if d.signs_events && Config::service_var(d.name, "BUS_SIGNING_KEY").is_none() {
            missing.push(var("BUS_SIGNING_KEY"));
        }
        if Config::service_var(d.name, "NATS_PASSWORD").is_none() {
            missing.push(var("NATS_PASSWORD"));
        }
        if db_default
            && Config::service_var(d.name, "DB_PASSWORD").is_none()
            && Config::service_var(d.name, "DATABASE_URL").is_none()
        {
            missing.push(var("DB_PASSWORD"));
        }
    }
    missing
}

/// The named services, or an error naming the unknown one.
pub fn select(names: &[String]) -> anyhow::Result<Vec<ServiceDef>> {
    let all = services();
    names
        .iter()
        .map(|n| {
            all.iter().find(|s| s.name == n).copied().ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown service `{n}`; known: {}",
                    all.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                )
            })
        })
        .collect()
}
