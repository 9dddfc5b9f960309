//! The bus's authorization (ADR 0006), made from the services' own declarations: each
//! service is a NATS user that may publish only its own subjects (`<name>.>`), its
//! consumers' dead letters and key-use reports; may create, pull from and ack only its own
//! durable consumers (by name) and the key store's ephemeral ones on identity's stream; may look up only its own stream; may create,
//! update or delete no stream at all; and receives replies only on its own inbox prefix.
//! `admin` (operator commands: `mirai migrate` provisions streams) may do everything.
//!
//! `mirai nats-auth` prints the `authorization` block for the server `make setup` starts
//! (dev: literal dev passwords; prefixed test subjects allowed, so stream names cannot be
//! pinned and are wildcards); `mirai nats-auth --prod` prints the chart's (passwords from
//! the server's environment, exact stream names). Both are committed and a test fails
//! when they drift from the code.

use crate::{auth::APIKEY_USAGE_SUBJECT, config, service::ServiceDef};

/// Which server the block is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The local server: dev passwords inline, subjects also under a test prefix.
    Dev,
    /// The chart's server: `$NATS_PASSWORD_<SERVICE>` from its environment, no prefixes.
    Prod,
}

/// The JetStream stream name of a context (as `Bus::stream_name` makes it unprefixed).
fn stream_token(context: &str) -> String {
    context.replace('-', "_").to_uppercase()
}

/// A service's permissions: publish allow and deny lists, subscribe allow list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub publish_allow: Vec<String>,
    pub publish_deny: Vec<String>,
    pub subscribe_allow: Vec<String>,
}

/// The permissions of `def` among `all` services.
///
/// # Panics
/// When a service declares a durable consumer on identity's stream: every key store may
/// pull from that stream's (ephemeral, randomly named) consumers, so a durable there
/// would be readable by all. Such a service needs its own design first.
pub fn permissions(def: &ServiceDef, all: &[ServiceDef], mode: Mode) -> Permissions {
    let subjects = |s: &str| match mode {
        Mode::Dev => vec![s.to_owned(), format!("*.{s}")],
        Mode::Prod => vec![s.to_owned()],
    };
    let stream = |c: &str| match mode {
        Mode::Dev => "*".to_owned(),
        Mode::Prod => stream_token(c),
    };
    let dlq = mirai_events::bus::DLQ_CONTEXT;
    let mut publish = Vec::new();
    publish.extend(subjects(&format!("{}.>", def.name)));
    publish.extend(subjects(APIKEY_USAGE_SUBJECT));
    // The commands it sends (onto the commands' work-queue stream).
    for command in def.sends {
        publish.extend(subjects(command));
    }
    publish.push("$JS.API.INFO".into());
    for own in [def.name, dlq] {
        publish.push(format!("$JS.API.STREAM.INFO.{}", stream(own)));
    }
    // Its durable consumers, by name: create, read, pull, ack, dead-letter. Nothing of
    // another service's consumer on the same stream.
    for (context, consumer) in def.consumers {
        assert!(
            *context != "identity",
            "{}: a durable consumer on identity's stream would be readable by every key store",
            def.name
        );
        let t = stream(context);
        publish.extend([
            format!("$JS.API.STREAM.INFO.{t}"),
            format!("$JS.API.CONSUMER.CREATE.{t}.{consumer}"),
            format!("$JS.API.CONSUMER.CREATE.{t}.{consumer}.>"),
            format!("$JS.API.CONSUMER.DURABLE.CREATE.{t}.{consumer}"),
            format!("$JS.API.CONSUMER.INFO.{t}.{consumer}"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{t}.{consumer}"),
            format!("$JS.ACK.{t}.{consumer}.>"),
        ]);
        publish.extend(subjects(&format!("{dlq}.{consumer}")));
    }
    // Identity's keys, through the key store's ephemeral ordered consumers (no acks).
    let keys = stream("identity");
    publish.extend([
        format!("$JS.API.STREAM.INFO.{keys}"),
        format!("$JS.API.CONSUMER.CREATE.{keys}"),
        format!("$JS.API.CONSUMER.CREATE.{keys}.*"),
        format!("$JS.API.CONSUMER.CREATE.{keys}.*.>"),
        format!("$JS.API.CONSUMER.INFO.{keys}.*"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{keys}.*"),
    ]);
    dedup(&mut publish);
    // In dev the `*.` forms (for test prefixes) would also let `<other>.<own>.x` through
    // into the other context's stream: deny every other context's subjects, and any
    // dead-letter subject that is not one of its consumers'.
    let mut deny = Vec::new();
    if mode == Mode::Dev {
        for other in all.iter().map(|d| d.name).filter(|n| *n != def.name) {
            deny.push(format!("{other}.>"));
            // `*.{other}.>` would also match the commands this service sends `other`
            // (`cmd.{other}.…`), and a deny beats every allow: for a sender, the prefixed
            // forms of `other`'s subjects stay allowed, on this dev server only.
            let sends_to_other = def.sends.iter().any(|c| c.starts_with(&format!("cmd.{other}.")));
            if !sends_to_other {
                deny.push(format!("*.{other}.>"));
            }
        }
        deny.extend([format!("{dlq}.*.>"), format!("*.{dlq}.*.>")]);
    }
    let mut subscribe = vec![format!("{}.>", mirai_events::bus::inbox_prefix(def.name))];
    for s in def.subscribes {
        subscribe.extend(subjects(s));
    }
    dedup(&mut subscribe);
    Permissions { publish_allow: publish, publish_deny: deny, subscribe_allow: subscribe }
}

fn dedup(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|s| seen.insert(s.clone()));
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

fn password(user: &str, mode: Mode) -> String {
    match mode {
        Mode::Dev if user == "admin" => format!("\"{}\"", config::DEV_NATS_ADMIN_PASSWORD),
        Mode::Dev => format!("\"{}\"", config::dev_nats_password(user)),
        Mode::Prod => format!("$NATS_PASSWORD_{}", user.replace('-', "_").to_uppercase()),
    }
}

/// The server's `authorization` block for `services` (see the module docs).
pub fn render(services: &[ServiceDef], mode: Mode) -> String {
    let mut out = String::from(
        "# Generated by `mirai nats-auth` from the services' declarations (ADR 0006): do not edit.\n\
         # A test fails when this file and the code disagree; regenerate with `make nats-auth`.\n\
         authorization {\n  users = [\n",
    );
    for def in services {
        let p = permissions(def, services, mode);
        let deny =
            if p.publish_deny.is_empty() { String::new() } else { format!(", deny: [{}]", list(&p.publish_deny)) };
        out.push_str(&format!(
            "    {{\n      user: \"{}\", password: {}\n      permissions: {{\n        publish: {{ allow: [{}]{deny} }}\n        subscribe: {{ allow: [{}] }}\n      }}\n    }}\n",
            def.name,
            password(def.name, mode),
            list(&p.publish_allow),
            list(&p.subscribe_allow),
        ));
    }
    out.push_str(&format!(
        "    # Operator commands and tests: stream provisioning, cleanup.\n    {{ user: \"admin\", password: {} }}\n  ]\n}}\n",
        password("admin", mode)
    ));
    out
}
