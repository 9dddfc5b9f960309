//! The `mirai` binary's library half: which services exist, and the demo seed.

pub mod demo;

use mirai_kit::ServiceDef;

/// Every implemented service, in start-up order.
pub fn services() -> Vec<ServiceDef> {
    vec![mirai_identity::service(), mirai_tenant::service(), mirai_lrs::service()]
}

/// Services that exist only to be copied and tested (`services/_template`): not run by
/// the binary, but their tests run under the dev server's NATS permissions.
pub fn example_services() -> Vec<ServiceDef> {
    vec![mirai_template::service()]
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
