//! `mirai`: one binary, many roles — `serve <service>...`, `dev`, `migrate`, `admin`.

use clap::{Parser, Subcommand};
use mirai_kit::{Config, fleet};

#[derive(Parser)]
#[command(name = "mirai", version, about = "Mirai learning platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rebuild a service's read model (catalog, search) by replaying its consumers from
    /// the start of their streams; the running service picks the replay up by itself.
    Rebuild { service: String },
    /// Run the named services in this process (production runs one per Deployment).
    Serve {
        #[arg(required = true)]
        services: Vec<String>,
        /// Apply migrations first (production runs `mirai migrate` as a Job instead).
        #[arg(long)]
        migrate: bool,
    },
    /// Run the whole fleet on one port (default 127.0.0.1:8080), migrating first.
    Dev {
        /// Seed a demo tenant and write its credentials to .dev/demo.json.
        #[arg(long)]
        demo: bool,
    },
    /// Create roles and schemas and apply migrations (all services, or the named ones).
    Migrate { services: Vec<String> },
    /// Operator tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print a service's OpenAPI document.
    Openapi { service: String },
    /// List the implemented services.
    Services,
    /// Print the NATS server's `authorization` block: one user per service, allowed only
    /// its own subjects and the streams it reads (ADR 0006).
    NatsAuth {
        /// The chart's block: passwords from `$NATS_PASSWORD_<SERVICE>`, exact stream names.
        #[arg(long)]
        prod: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the platform-admin account once and print its credential once.
    Bootstrap {
        #[arg(long, default_value = "admin@mirai.local")]
        email: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mirai: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Openapi { service } = &cli.command {
        let def = mirai::select(std::slice::from_ref(service))?.remove(0);
        println!("{}", serde_json::to_string_pretty(&def.openapi_document())?);
        return Ok(());
    }
    if let Command::Services = &cli.command {
        for s in mirai::services() {
            println!("{}", s.name);
        }
        return Ok(());
    }
    if let Command::NatsAuth { prod } = &cli.command {
        use mirai_kit::nats_auth::{Mode, render};
        let out = if *prod {
            render(&mirai::services(), Mode::Prod)
        } else {
            render(&[mirai::services(), mirai::example_services()].concat(), Mode::Dev)
        };
        print!("{out}");
        return Ok(());
    }
    let config = Config::from_env()?;
    match cli.command {
        Command::Serve { services, migrate } => {
            let defs = mirai::select(&services)?;
            // `serve` is how production runs: no dev-only secret (in the source, so public)
            // is used there unless a local run says so explicitly.
            if std::env::var("MIRAI_ALLOW_DEV_SECRETS").as_deref() != Ok("1") {
                let missing = mirai::dev_secrets_in_use(&config, &defs);
                if !missing.is_empty() {
                    anyhow::bail!(
                        "{}: must be set for `mirai serve` (their dev defaults are public); for a local run \
                         set MIRAI_ALLOW_DEV_SECRETS=1 or use `mirai dev`",
                        missing.join(", ")
                    );
                }
            }
            let f = fleet::start(config, &defs, migrate).await?;
            fleet::shutdown_signal().await;
            f.shutdown().await;
        }
        Command::Dev { demo } => {
            let defs = mirai::services();
            let f = fleet::start(config, &defs, true).await?;
            println!("mirai dev: the fleet is listening on {}", f.public_url);
            if demo {
                let path = mirai::demo::default_path();
                mirai::demo::seed(&f, &path).await?;
                println!("mirai dev: demo credentials written to {}", path.display());
            }
            fleet::shutdown_signal().await;
            f.shutdown().await;
        }
        Command::Rebuild { service } => {
            let def = mirai::select(std::slice::from_ref(&service))?.remove(0);
            fleet::rebuild(&config, &def).await?;
            println!("{service}: read model emptied; its consumers replay from the start of their streams");
        }
        Command::Migrate { services } => {
            let defs = if services.is_empty() { mirai::services() } else { mirai::select(&services)? };
            fleet::migrate(&config, &defs).await?;
            println!("migrated: {}", defs.iter().map(|d| d.name).collect::<Vec<_>>().join(", "));
        }
        Command::Admin { command: AdminCommand::Bootstrap { email } } => {
            let defs = mirai::select(&["identity".into()])?;
            fleet::migrate(&config, &defs).await?;
            match mirai_identity::bootstrap_with_config(&config, &email).await? {
                Some(c) => {
                    println!("Platform admin created. This password is shown once:");
                    println!("  email:    {}", c.email);
                    println!("  password: {}", c.password);
                }
                None => println!("A platform admin already exists; nothing was changed."),
            }
        }
        Command::Openapi { .. } | Command::Services | Command::NatsAuth { .. } => unreachable!("handled above"),
    }
    Ok(())
}
