//! Postgres: per-service schema and roles, migrations, and the only ways request code gets
//! a transaction — `tenant_tx` (sets `app.tenant_id` for the transaction, so RLS applies)
//! or `platform_tx` (for the few tables that are not tenant-scoped).

use std::{str::FromStr, time::Duration};

use anyhow::Context as _;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use sqlx::{
    Connection, Executor, PgConnection, PgPool, Postgres, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use uuid::Uuid;

use crate::config::Config;

/// One schema migration, embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// A service's migrations, embedded from `migrations/<service>/` at build time (empty
/// for a service without that directory).
/// Serializes whoever holds `key` until the transaction ends (a transaction-level
/// advisory lock): e.g. `media:<tenant>` around a tenant's quota check and insert.
pub async fn xact_lock(tx: &mut sqlx::PgConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(key).execute(tx).await.map(drop)
}

pub fn migrations(service: &str) -> &'static [Migration] {
    EMBEDDED.iter().find(|(s, _)| *s == service).map(|(_, m)| *m).unwrap_or(&[])
}

/// The tables every service has: outbox, inbox, idempotency keys. Applied before the
/// service's own migrations, with version 0.
pub const KIT_MIGRATION: Migration = Migration { version: 0, name: "kit", sql: include_str!("kit.sql") };

/// The owner role (runs migrations, owns tables) and runtime role (DML only, RLS applies).
pub fn roles(service: &str) -> (String, String) {
    let s = service.replace('-', "_");
    (format!("mirai_{s}_owner"), format!("mirai_{s}"))
}

pub fn schema(service: &str) -> String {
    service.replace('-', "_")
}

/// A checksum over a service's migrations (the test template database is keyed by it).
pub fn checksum(migrations: &[Migration]) -> String {
    let mut h = Sha256::new();
    for m in std::iter::once(&KIT_MIGRATION).chain(migrations) {
        h.update(m.version.to_be_bytes());
        h.update(m.sql.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Creates (idempotently) the service's roles and schema, then applies pending migrations
/// as the owner role. Safe to run from many replicas at once (advisory lock).
pub async fn migrate(
    admin_url: &str,
    service: &str,
    migrations: &[Migration],
    app_password: &str,
) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(admin_url).await.context("DATABASE_URL: cannot connect to Postgres")?;
    let (owner, app) = roles(service);
    let schema = schema(service);
    sqlx::query("SELECT pg_advisory_lock(hashtext('mirai-migrate'))").execute(&mut conn).await?;
    let result = async {
        ensure_roles(&mut conn, &owner, &app, app_password).await?;
        conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {owner}").as_str()).await?;
        conn.execute(format!("REVOKE ALL ON SCHEMA {schema} FROM PUBLIC").as_str()).await?;
        conn.execute(format!("GRANT USAGE ON SCHEMA {schema} TO {app}").as_str()).await?;
        // Also set on the role, so a pooler that does not forward the startup option
        // (PgBouncer) still lands the runtime role in its schema.
        conn.execute(format!("ALTER ROLE {app} SET search_path = {schema}").as_str()).await?;
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC").await?;
        // Extensions the services share, created by the admin (a service's owner role may
        // not): pg_trgm for typo-tolerant search. Its objects live in `public`, so a
        // service names them qualified (`public.gin_trgm_ops`, `OPERATOR(public.<%)`).
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public").await?;
        // pgvector for embeddings (`public.vector`, `OPERATOR(public.<=>)`), for the
        // services that keep vectors: a Postgres without it still runs the others.
        if migrations.iter().any(|m| m.sql.contains("public.vector")) {
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public").await?;
        }
        conn.execute(
            format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}"
            )
            .as_str(),
        )
        .await?;
        conn.execute(
            format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {app}"
            )
            .as_str(),
        )
        .await?;
        conn.execute(
            format!(
                "CREATE TABLE IF NOT EXISTS {schema}._migrations (
                   version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"
            )
            .as_str(),
        )
        .await?;
        conn.execute(format!("ALTER TABLE {schema}._migrations OWNER TO {owner}").as_str()).await?;
        // Readiness reads it as the runtime role.
        conn.execute(format!("GRANT SELECT ON {schema}._migrations TO {app}").as_str()).await?;
        for m in std::iter::once(&KIT_MIGRATION).chain(migrations) {
            let sum = hex::encode(Sha256::digest(m.sql.as_bytes()));
            let applied: Option<String> =
                sqlx::query_scalar(&format!("SELECT checksum FROM {schema}._migrations WHERE version = $1"))
                    .bind(m.version)
                    .fetch_optional(&mut conn)
                    .await?;
            match applied {
                Some(s) if s == sum => continue,
                Some(_) => {
                    anyhow::bail!("migration {service}/{:04}_{} changed after it was applied", m.version, m.name)
                }
                None => {}
            }
            let mut tx = conn.begin().await?;
            tx.execute(format!("SET LOCAL ROLE {owner}").as_str()).await?;
            tx.execute(format!("SET LOCAL search_path = {schema}").as_str()).await?;
            tx.execute(m.sql.replace("{schema}", &schema).as_str())
                .await
                .with_context(|| format!("applying migration {service}/{:04}_{}", m.version, m.name))?;
            sqlx::query(&format!("INSERT INTO {schema}._migrations (version, name, checksum) VALUES ($1, $2, $3)"))
                .bind(m.version)
                .bind(m.name)
                .bind(&sum)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        anyhow::Ok(())
    }
    .await;
    let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext('mirai-migrate'))").execute(&mut conn).await;
    result
}

/// Creates the owner and runtime roles if missing and sets the runtime password. Roles are
/// cluster-wide while advisory locks are per database, so migrations of two databases on
/// one server (test templates, say) can collide here: such collisions are retried.
async fn ensure_roles(conn: &mut PgConnection, owner: &str, app: &str, app_password: &str) -> anyhow::Result<()> {
    let statements = [
        format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{owner}') THEN
                 CREATE ROLE {owner} NOLOGIN;
               END IF;
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{app}') THEN
                 CREATE ROLE {app} LOGIN NOBYPASSRLS;
               END IF;
             END $$;"
        ),
        format!("ALTER ROLE {app} LOGIN NOBYPASSRLS NOSUPERUSER PASSWORD {}", quote_literal(app_password)),
    ];
    for sql in &statements {
        let mut attempt = 0;
        loop {
            match conn.execute(sql.as_str()).await {
                Ok(_) => break,
                Err(sqlx::Error::Database(e))
                    if attempt < 20
                        && matches!(e.code().as_deref(), Some("XX000" | "40001" | "40P01" | "23505" | "42710")) =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                Err(e) => return Err(e).context("creating the service's roles"),
            }
        }
    }
    // A non-superuser admin (CREATEROLE) needs membership to act as the owner.
    let _ = conn.execute(format!("GRANT {owner} TO CURRENT_USER").as_str()).await;
    Ok(())
}

/// A service's connection pool: logs in as the runtime role, search_path = its schema.
pub async fn connect(config: &Config, service: &str) -> anyhow::Result<PgPool> {
    let var = format!("MIRAI_{}__DATABASE_URL", service.to_uppercase().replace('-', "_"));
    let opts = match Config::service_var(service, "DATABASE_URL") {
        Some(url) => PgConnectOptions::from_str(&url).with_context(|| format!("{var}: not a postgres URL"))?,
        None => {
            let (_, app) = roles(service);
            PgConnectOptions::from_str(config.admin_url())
                .context("DATABASE_URL: not a postgres URL")?
                .username(&app)
                .password(config.db_password(service).expose_secret())
        }
    }
    .options([("search_path", schema(service).as_str())])
    .application_name(&format!("mirai-{service}"));
    PgPoolOptions::new()
        .max_connections(config.db_pool_size)
        .acquire_timeout(config.db_acquire_timeout)
        .connect_with(opts)
        .await
        .with_context(|| format!("{var} (or DATABASE_URL): cannot connect as the {service} runtime role"))
}

/// A request's transaction: derefs to the connection, so store functions take `&mut tx`.
/// Inside a request that carries an `Idempotency-Key`, `commit` hands the transaction to
/// the idempotency layer, which records the response in it and commits both at once: a
/// crash can never leave the effect committed and the key unrecorded.
pub struct Tx(pub(crate) Transaction<'static, Postgres>);

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tx")
    }
}

impl std::ops::Deref for Tx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

impl Tx {
    /// Commits, or, in an idempotent request, leaves the commit to the idempotency layer
    /// (which commits before the response is sent, or answers 503 when it cannot).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        crate::idempotency::commit_or_park(self.0).await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.0.rollback().await
    }
}

/// A service's database handle. Request code gets transactions only through it.
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
    schema: String,
    expected_migrations: i64,
}

impl Db {
    pub fn new(pool: PgPool, service: &str, migrations: &[Migration]) -> Self {
        Self { pool, schema: schema(service), expected_migrations: migrations.len() as i64 + 1 }
    }

    /// A transaction in which RLS shows and accepts only `tenant`'s rows.
    pub async fn tenant_tx(&self, tenant: Uuid) -> Result<Tx, sqlx::Error> {
        let mut tx = self.platform_tx().await?;
        mirai_events::tenancy::set_tenant(&mut tx, Some(tenant)).await?;
        Ok(tx)
    }

    /// A transaction with no tenant: tenant tables show nothing and refuse writes.
    /// For platform tables (users, tenants, outbox) only.
    pub async fn platform_tx(&self) -> Result<Tx, sqlx::Error> {
        // What the request committed before stays visible to what it does next.
        crate::idempotency::flush_parked().await?;
        Ok(Tx(self.pool.begin().await?))
    }

    /// The raw pool, for infrastructure (relay, consumers, readiness), not request code.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Ready = reachable and every embedded migration applied.
    pub async fn ready(&self) -> Result<(), String> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _migrations")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| format!("{}: {e}", self.schema))?;
        if n < self.expected_migrations {
            return Err(format!("{}: {n} of {} migrations applied", self.schema, self.expected_migrations));
        }
        Ok(())
    }
}
