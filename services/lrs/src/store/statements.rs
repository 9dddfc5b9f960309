//! `statements` (tenant rows, RLS): the body as returned, the submission as received, and
//! normalized columns for the xAPI filters.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{StatementId, TenantId};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder, types::Json};
use uuid::Uuid;

use super::{key, keys};
use crate::app::statement::Normalized;

#[derive(Debug, FromRow)]
pub struct StoredRow {
    /// The actor's and authority's [`key`]s.
    pub actor: String,
    pub authority: String,
    pub body: Json<Value>,
    pub stored: DateTime<Utc>,
    pub seq: i64,
    pub voided: bool,
}

#[tracing::instrument(level = "debug", skip_all, fields(statement = %id))]
pub async fn statement_get(tx: &mut PgConnection, id: StatementId) -> Result<Option<StoredRow>, sqlx::Error> {
    sqlx::query_as("SELECT actor, authority, body, stored, seq, voided FROM statements WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// The submitted form of whichever of `ids` are stored already.
#[tracing::instrument(level = "debug", skip_all, fields(n = ids.len()))]
pub async fn statements_submitted(
    tx: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<(StatementId, Json<Value>)>, sqlx::Error> {
    sqlx::query_as("SELECT id, submitted FROM statements WHERE id = ANY($1)").bind(ids).fetch_all(tx).await
}

/// One statement to insert: its indexed fields, and both JSON copies.
pub struct NewRow<'a> {
    pub n: &'a Normalized,
    pub body: &'a Value,
    pub submitted: &'a Value,
}

/// Rows per INSERT: 19 parameters each stay under the protocol's 65,535.
const INSERT_CHUNK: usize = 1000;

/// Inserts the batch in multi-row statements, every indexed value in its [`key`] form,
/// in id order (so two batches sharing ids wait for each other instead of deadlocking),
/// while `seq` keeps the order the batch came in (its numbers are taken in that order):
/// statements of one `stored` read back as they were sent, which cmi5 relies on (an AU's
/// `completed` before the LMS's `satisfied`). A row whose id was taken meanwhile (a
/// concurrent store of the same id) is skipped; returns the ids inserted.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, n = rows.len()))]
pub async fn statements_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    version: &str,
    authority: &str,
    stored: DateTime<Utc>,
    rows: &mut [NewRow<'_>],
) -> Result<Vec<StatementId>, sqlx::Error> {
    let authority = key(authority);
    let mut seqs: Vec<i64> =
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('statements', 'seq')) FROM generate_series(1, $1)")
            .bind(rows.len() as i64)
            .fetch_all(&mut *tx)
            .await?;
    seqs.sort_unstable();
    let mut numbered: Vec<(i64, &NewRow<'_>)> = seqs.into_iter().zip(rows.iter()).collect();
    numbered.sort_by_key(|(_, r)| r.n.id);
    let mut inserted = Vec::with_capacity(numbered.len());
    for chunk in numbered.chunks(INSERT_CHUNK) {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO statements (tenant_id, id, stored, ts, version, actor, verb, object_activity, object_agent, \
               object_statement, registration, authority, voids, agents, activities, members, body, submitted, seq) \
               OVERRIDING SYSTEM VALUE ",
        );
        q.push_values(chunk, |mut b, (seq, r)| {
            let n = r.n;
            b.push_bind(tenant)
                .push_bind(n.id)
                .push_bind(stored)
                .push_bind(n.timestamp)
                .push_bind(version)
                .push_bind(key(&n.actor))
                .push_bind(key(&n.verb))
                .push_bind(n.object_activity.as_deref().map(key))
                .push_bind(n.object_agent.as_deref().map(key))
                .push_bind(n.object_statement)
                .push_bind(n.registration)
                .push_bind(authority.clone())
                .push_bind(n.voids)
                .push_bind(keys(&n.agents))
                .push_bind(keys(&n.activities))
                .push_bind((!n.members.is_empty()).then(|| keys(&n.members)))
                .push_bind(Json(r.body))
                .push_bind(Json(r.submitted))
                .push_bind(*seq);
        });
        q.push(" ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id");
        inserted.extend(q.build_query_scalar::<StatementId>().fetch_all(&mut *tx).await?);
    }
    Ok(inserted)
}

/// Why a batch's voiding statements cannot void their targets.
pub enum VoidRefused {
    /// The target is itself a voiding statement.
    Voiding(StatementId),
    /// The target was stored by another authority than `only_authority` allows.
    NotYours(StatementId),
}

/// Marks `targets` voided and returns those that were (a target not stored yet voids
/// nothing). With `only_authority`, every stored target must have been stored under that
/// authority.
#[tracing::instrument(level = "debug", skip_all, fields(n = targets.len()))]
pub async fn statements_void(
    tx: &mut PgConnection,
    targets: &[Uuid],
    only_authority: Option<&str>,
) -> Result<Result<Vec<StatementId>, VoidRefused>, sqlx::Error> {
    let found: Vec<(StatementId, bool, String)> = sqlx::query_as(
        "SELECT id, voids IS NOT NULL, authority FROM statements WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(targets)
    .fetch_all(&mut *tx)
    .await?;
    if let Some((id, ..)) = found.iter().find(|(_, voiding, _)| *voiding) {
        return Ok(Err(VoidRefused::Voiding(*id)));
    }
    if let Some(a) = only_authority.map(key)
        && let Some((id, ..)) = found.iter().find(|(.., authority)| *authority != a)
    {
        return Ok(Err(VoidRefused::NotYours(*id)));
    }
    let ids: Vec<Uuid> = found.iter().map(|(id, ..)| id.into_uuid()).collect();
    sqlx::query("UPDATE statements SET voided = true WHERE id = ANY($1)").bind(&ids).execute(tx).await?;
    Ok(Ok(found.into_iter().map(|(id, ..)| id).collect()))
}

/// `application_name` of a transaction that stores statements, while it is open.
pub const STORING: &str = "mirai-lrs-store";

/// Marks this transaction as storing statements, before it assigns any `stored`, so
/// readers can tell how far back statements may still appear ([`consistent_through`]),
/// and bounds it to `timeout_secs` (the most it can hold Consistent-Through back). Returns
/// the `stored` instant of its statements, at the millisecond precision it is reported
/// with, so `since` and `until` compare exactly what clients saw; `seq` orders statements
/// within a millisecond. Evaluated after the marks, in one round trip.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn begin_storing(tx: &mut PgConnection, timeout_secs: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    // A target list is evaluated in order: the marks are in place (and the application
    // name visible in pg_stat_activity) before the clock is read.
    let (_, _, stored): (String, String, DateTime<Utc>) = sqlx::query_as(
        "SELECT set_config('transaction_timeout', $1, true), set_config('application_name', $2, true), \
                date_trunc('milliseconds', clock_timestamp())",
    )
    .bind(format!("{timeout_secs}s"))
    .bind(STORING)
    .fetch_one(tx)
    .await?;
    Ok(stored)
}

/// The latest instant through which every statement is visible: just before the start
/// of the oldest transaction still storing statements (its `stored` values can only be
/// later), or just before now when none is. A transaction that has not marked itself
/// yet assigns `stored` after this moment. Statements are `stored` at ms precision, so
/// the instant is one millisecond before the truncated start.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn consistent_through(tx: &mut PgConnection) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT date_trunc('milliseconds', COALESCE( \
           (SELECT min(xact_start) FROM pg_stat_activity \
            WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()), \
           clock_timestamp())) - interval '1 millisecond'",
    )
    .bind(STORING)
    .fetch_one(tx)
    .await
}

/// The filters of a statement query (already canonicalized).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub agent: Option<String>,
    pub related_agents: bool,
    pub verb: Option<String>,
    pub activity: Option<String>,
    pub related_activities: bool,
    pub registration: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only the caller's own statements (`statements/read/mine`, a learner's session).
    pub mine: Option<Mine>,
    pub ascending: bool,
    /// Continue after this (stored, seq).
    pub after: Option<(DateTime<Utc>, i64)>,
    /// Only statements stored at or before this (the response's Consistent-Through).
    pub through: Option<DateTime<Utc>>,
}

/// Which part of an `agent` filter a query arm matches ([`Filter::arms`]).
#[derive(Debug, Clone, Copy)]
enum AgentArm {
    Any,
    Actor,
    Object,
    Member,
}

/// A caller's own statements: stored under its authority, or with one of its
/// identifiers as actor.
#[derive(Debug, Default, Clone)]
pub struct Mine {
    pub authority: String,
    pub actors: Vec<String>,
}

impl Filter {
    /// Whether a filter other than time, order and scope is set: only those reach
    /// through StatementRefs.
    fn matches_content(&self) -> bool {
        self.agent.is_some() || self.verb.is_some() || self.activity.is_some() || self.registration.is_some()
    }

    /// The arms a direct match is split into, each driven by its own index: for an
    /// `agent` (not related), the actor, the object, and a member of either Group —
    /// disjoint, so their union lists each statement once. One OR over three columns
    /// would leave the planner walking `stored` order instead.
    fn arms(&self) -> &'static [AgentArm] {
        if self.agent.is_some() && !self.related_agents {
            &[AgentArm::Actor, AgentArm::Object, AgentArm::Member]
        } else {
            &[AgentArm::Any]
        }
    }

    /// The content filters on the statement aliased `t`, as one boolean expression; the
    /// `agent` filter limited to `arm`.
    fn push_match(&self, q: &mut QueryBuilder<Postgres>, t: &str, arm: AgentArm) {
        q.push("(TRUE");
        if let Some(a) = &self.agent {
            let a = key(a);
            if self.related_agents {
                q.push(format!(" AND {t}.agents @> ARRAY[")).push_bind(a).push("]::text[]");
            } else {
                match arm {
                    // The actor or object, or a member of the actor or object Group.
                    AgentArm::Any => {
                        q.push(format!(" AND ({t}.actor = ")).push_bind(a.clone());
                        q.push(format!(" OR {t}.object_agent = ")).push_bind(a.clone());
                        q.push(format!(" OR {t}.members @> ARRAY[")).push_bind(a).push("]::text[])");
                    }
                    AgentArm::Actor => {
                        q.push(format!(" AND {t}.actor = ")).push_bind(a);
                    }
                    AgentArm::Object => {
                        q.push(format!(" AND {t}.object_agent = ")).push_bind(a.clone());
                        q.push(format!(" AND {t}.actor <> ")).push_bind(a);
                    }
                    AgentArm::Member => {
                        // Spelled out so that a generic plan, too, sees how rare Group
                        // statements are (the column's null fraction) and takes the
                        // partial index instead of walking `stored` order.
                        q.push(format!(" AND {t}.members IS NOT NULL AND {t}.members @> ARRAY["));
                        q.push_bind(a.clone()).push("]::text[]");
                        q.push(format!(" AND {t}.actor <> ")).push_bind(a.clone());
                        q.push(format!(" AND {t}.object_agent IS DISTINCT FROM ")).push_bind(a);
                    }
                }
            }
        }
        if let Some(v) = &self.verb {
            q.push(format!(" AND {t}.verb = ")).push_bind(key(v));
        }
        if let Some(a) = &self.activity {
            if self.related_activities {
                q.push(format!(" AND {t}.activities @> ARRAY[")).push_bind(key(a)).push("]::text[]");
            } else {
                q.push(format!(" AND {t}.object_activity = ")).push_bind(key(a));
            }
        }
        if let Some(r) = self.registration {
            q.push(format!(" AND {t}.registration = ")).push_bind(r);
        }
        q.push(")");
    }

    /// Time window, paging position and scope of the listed statement `s`.
    fn push_window(&self, q: &mut QueryBuilder<Postgres>) {
        q.push(" NOT s.voided");
        if let Some(since) = self.since {
            q.push(" AND s.stored > ").push_bind(since);
        }
        if let Some(u) = self.until {
            q.push(" AND s.stored <= ").push_bind(u);
        }
        if let Some(m) = &self.mine {
            q.push(" AND (s.authority = ").push_bind(key(&m.authority));
            q.push(" OR s.actor = ANY(").push_bind(keys(&m.actors)).push("))");
        }
        if let Some(t) = self.through {
            q.push(" AND s.stored <= ").push_bind(t);
        }
        if let Some((stored, seq)) = self.after {
            q.push(if self.ascending { " AND (s.stored, s.seq) > (" } else { " AND (s.stored, s.seq) < (" });
            q.push_bind(stored).push(", ").push_bind(seq).push(")");
        }
    }

    fn order(&self, alias: &str) -> String {
        let dir = if self.ascending { "" } else { " DESC" };
        format!(" ORDER BY {alias}stored{dir}, {alias}seq{dir}")
    }
}

const ROW: &str = "s.actor, s.authority, s.body, s.stored, s.seq, s.voided";

/// A page of statements matching `f`. Per Communication 2.1.3 ("Filter Conditions for
/// StatementRefs"), a statement whose object is a StatementRef also matches when the
/// statement it targets does (voided or not, through chains of references), except for
/// the time, order and scope parameters. Both halves are index-driven and limited: the
/// direct matches through the filter's index, the referring statements through the
/// partial index of statements that have a StatementRef object, each checked by
/// `statement_ref_matches_within` (migration 0006) along its chain of targets, within the
/// caller's reach.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn statement_query(tx: &mut PgConnection, f: &Filter, limit: i64) -> Result<Vec<StoredRow>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("");
    if !f.matches_content() {
        q.push(format!("SELECT {ROW} FROM statements s WHERE"));
        f.push_window(&mut q);
        q.push(f.order("s.")).push(" LIMIT ").push_bind(limit + 1);
        return q.build_query_as().fetch_all(tx).await;
    }
    q.push("SELECT actor, authority, body, stored, seq, voided FROM (");
    for (i, arm) in f.arms().iter().enumerate() {
        if i > 0 {
            q.push(" UNION ALL ");
        }
        q.push(format!("(SELECT {ROW} FROM statements s WHERE"));
        f.push_window(&mut q);
        q.push(" AND ");
        f.push_match(&mut q, "s", *arm);
        q.push(f.order("s.")).push(" LIMIT ").push_bind(limit + 1).push(")");
    }
    q.push(format!(" UNION ALL (SELECT {ROW} FROM statements s WHERE"));
    f.push_window(&mut q);
    q.push(" AND s.object_statement IS NOT NULL AND NOT COALESCE(");
    f.push_match(&mut q, "s", AgentArm::Any);
    q.push(", false) AND statement_ref_matches_within(s.object_statement, ");
    q.push_bind(f.agent.as_deref().map(key)).push(", ").push_bind(f.related_agents).push(", ");
    q.push_bind(f.verb.as_deref().map(key)).push(", ").push_bind(f.activity.as_deref().map(key)).push(", ");
    q.push_bind(f.related_activities).push(", ").push_bind(f.registration).push(", ");
    // A caller who reads only their own statements learns nothing through a reference
    // to one they may not read.
    q.push_bind(f.mine.as_ref().map(|m| key(&m.authority))).push(", ");
    q.push_bind(f.mine.as_ref().map(|m| keys(&m.actors)).unwrap_or_default()).push(")");
    q.push(f.order("s.")).push(" LIMIT ").push_bind(limit + 1);
    q.push(")) r");
    q.push(f.order("r.")).push(" LIMIT ").push_bind(limit + 1);
    q.build_query_as().fetch_all(tx).await
}

/// Removes a statement for good (an operator's purge); returns whether it existed.
#[tracing::instrument(level = "debug", skip_all, fields(statement = %id))]
pub async fn statement_purge(tx: &mut PgConnection, id: StatementId) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM statements WHERE id = $1").bind(id).execute(tx).await.map(|r| r.rows_affected() == 1)
}

/// A statement that names one of an erased person's identifiers.
#[derive(Debug, FromRow)]
pub struct ErasureRow {
    pub id: StatementId,
    pub version: String,
    /// The actor's and authority's [`key`]s.
    pub actor: String,
    pub authority: String,
    pub body: Json<Value>,
    pub submitted: Json<Value>,
}

/// Every statement naming one of `ifis` anywhere (actor, object, context, members) or
/// stored under it as authority, locked for rewriting.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn statements_naming(tx: &mut PgConnection, ifis: &[String]) -> Result<Vec<ErasureRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, version, actor, authority, body, submitted FROM statements \
         WHERE agents && $1::text[] OR authority = ANY($1) ORDER BY stored, seq FOR UPDATE",
    )
    .bind(keys(ifis))
    .fetch_all(tx)
    .await
}

/// Rewrites a statement's content and agent columns (erasure only: statements are
/// otherwise immutable).
#[tracing::instrument(level = "debug", skip_all, fields(statement = %n.id))]
pub async fn statement_rewrite(
    tx: &mut PgConnection,
    n: &Normalized,
    authority_key: &str,
    body: &Value,
    submitted: &Value,
) -> Result<(), sqlx::Error> {
    // Related agents include the authority, as on insert.
    let mut agents = keys(&n.agents);
    if !agents.iter().any(|a| a == authority_key) {
        agents.push(authority_key.to_owned());
        agents.sort();
    }
    sqlx::query(
        "UPDATE statements SET actor = $2, object_agent = $3, agents = $4, authority = $5, body = $6, submitted = $7, \
           members = $8 WHERE id = $1",
    )
    .bind(n.id)
    .bind(key(&n.actor))
    .bind(n.object_agent.as_deref().map(key))
    .bind(agents)
    .bind(authority_key)
    .bind(Json(body))
    .bind(Json(submitted))
    .bind((!n.members.is_empty()).then(|| keys(&n.members)))
    .execute(tx)
    .await
    .map(|_| ())
}

/// The names the actor `ifi` was given in its latest 1,000 statements (at most 20, most
/// used first).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn actor_names(tx: &mut PgConnection, ifi: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT n FROM (SELECT body -> 'actor' ->> 'name' AS n FROM statements WHERE actor = $1 \
           ORDER BY stored DESC, seq DESC LIMIT 1000) s \
         WHERE n IS NOT NULL GROUP BY n ORDER BY count(*) DESC, n LIMIT 20",
    )
    .bind(key(ifi))
    .fetch_all(tx)
    .await
}
