//! search's documents and queries (the Postgres engine). Reads run in the caller's tenant
//! transaction: the tenant policy shows its own documents, the public policy the rest.

use mirai_contracts::ids::CourseId;
use sqlx::PgConnection;

use crate::engine::{Doc, Hit};
use uuid::Uuid;

/// The text-search configuration for a locale: its language's stemmer, or `simple`.
pub fn config_for(locale: &str) -> &'static str {
    match locale.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase().as_str() {
        "en" => "english",
        "de" => "german",
        "fr" => "french",
        "es" => "spanish",
        "it" => "italian",
        "pt" => "portuguese",
        "nl" => "dutch",
        "sv" => "swedish",
        "da" => "danish",
        "nb" | "nn" | "no" => "norwegian",
        "fi" => "finnish",
        "ru" => "russian",
        _ => "simple",
    }
}

pub async fn documents_delete(tx: &mut PgConnection, course: CourseId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM documents WHERE course_id = $1").bind(course).execute(tx).await.map(|_| ())
}

/// Claims the external engine's epoch: true when this transaction started it (the table
/// was empty), and the engine must be emptied before anything is written to it. A
/// concurrent claimer waits for this one's commit and then sees the row.
pub async fn epoch_claim(tx: &mut PgConnection) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("INSERT INTO index_epoch (id) VALUES (1) ON CONFLICT DO NOTHING").execute(tx).await?.rows_affected()
        == 1)
}

/// Indexes the documents (of one course).
pub async fn documents_insert(tx: &mut PgConnection, docs: &[Doc]) -> Result<(), sqlx::Error> {
    let Some(first) = docs.first() else { return Ok(()) };
    let ids: Vec<Uuid> = docs.iter().map(|d| d.id).collect();
    let kinds: Vec<&str> = docs.iter().map(|d| d.kind).collect();
    let titles: Vec<&str> = docs.iter().map(|d| d.title.as_str()).collect();
    let bodies: Vec<&str> = docs.iter().map(|d| d.body.as_str()).collect();
    sqlx::query(
        "INSERT INTO documents (id, tenant_id, course_id, kind, locale, config, visibility, title, body, version, published_at) \
         SELECT d.id, $1, $2, d.kind, $3, $4::regconfig, $5, d.title, d.body, $6, $7 \
         FROM unnest($8::uuid[], $9::text[], $10::text[], $11::text[]) AS d(id, kind, title, body)",
    )
    .bind(first.tenant_id)
    .bind(first.course_id)
    .bind(&first.locale)
    .bind(config_for(&first.locale))
    .bind(&first.visibility)
    .bind(first.version)
    .bind(first.published_at)
    .bind(&ids)
    .bind(&kinds)
    .bind(&titles)
    .bind(&bodies)
    .execute(tx)
    .await
    .map(|_| ())
}

/// Documents matching `q`, best first: full text in the query's language and in
/// `simple` (exact words of any language), ranked by text rank; and typos: each query
/// word that is no word of the index brings its closest words of the index (trigram
/// similarity on the distinct words, not on every body), which match too, ranked at a
/// tenth. One pass over the full-text index either way. Highlights are made for the
/// page's documents only, where the text matched (every word of the query and of its
/// corrections, HTML-escaped around the `<mark>`s).
pub async fn search(
    tx: &mut PgConnection,
    q: &str,
    config: &str,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<Hit>, sqlx::Error> {
    let corrected = corrections(tx, q).await?;
    let corrected = (!corrected.is_empty()).then(|| corrected.join(" or "));
    sqlx::query_as(
        "WITH q0 AS (SELECT websearch_to_tsquery($2::regconfig, $1) AS lang, websearch_to_tsquery('simple', $1) AS simple, \
                      CASE WHEN $5::text IS NULL THEN NULL \
                           ELSE websearch_to_tsquery($2::regconfig, $5) || websearch_to_tsquery('simple', $5) END AS fixed), \
              q AS (SELECT lang, simple, fixed, \
                      replace((lang || simple || coalesce(fixed, ''::tsquery))::text, ' & ', ' | ')::tsquery AS marks FROM q0), \
              top AS (SELECT d.id, ts_rank(d.tsv, q.lang || q.simple) \
                        + CASE WHEN q.fixed IS NULL THEN 0 ELSE 0.1 * ts_rank(d.tsv, q.fixed) END AS score \
                FROM documents d, q \
                WHERE (d.tsv @@ q.lang OR d.tsv @@ q.simple OR (q.fixed IS NOT NULL AND d.tsv @@ q.fixed)) \
                  AND ($3::text IS NULL OR d.kind = $3) \
                ORDER BY score DESC, d.published_at DESC, d.id LIMIT $4) \
         SELECT d.id, d.course_id, d.kind, d.title, d.locale, \
           ts_headline(d.config, replace(replace(replace(d.body, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), q.marks, \
             'StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MaxWords=18, MinWords=6, FragmentDelimiter= … ') AS highlight, \
           top.score::real AS score \
         FROM top JOIN documents d ON d.id = top.id, q ORDER BY top.score DESC, d.published_at DESC, d.id",
    )
    .bind(q)
    .bind(config)
    .bind(kind)
    .bind(limit)
    .bind(corrected)
    .fetch_all(&mut *tx)
    .await
}

/// For each word of `q` (three letters or more) that no visible document has, its closest
/// words (up to three, trigram similarity at least 0.3) among those the caller can see:
/// candidates from the lexicon's trigram index, kept when `words` (under RLS) has them.
async fn corrections(tx: &mut PgConnection, q: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH qw AS (SELECT DISTINCT w FROM unnest(tsvector_to_array(to_tsvector('simple', $1))) w WHERE length(w) >= 3), \
              missing AS (SELECT w FROM qw WHERE NOT EXISTS (SELECT 1 FROM words x WHERE x.word = qw.w)) \
         SELECT DISTINCT c.word FROM missing m CROSS JOIN LATERAL ( \
             SELECT l.word FROM lexicon l WHERE l.word OPERATOR(public.%) m.w \
               AND EXISTS (SELECT 1 FROM words x WHERE x.word = l.word) \
             ORDER BY public.similarity(l.word, m.w) DESC, l.word LIMIT 3) c",
    )
    .bind(q)
    .fetch_all(tx)
    .await
}

/// Records the words of the documents (of one course), for typo corrections: in the
/// tenant's `words` and in the lexicon.
pub async fn words_insert(tx: &mut PgConnection, docs: &[Doc]) -> Result<(), sqlx::Error> {
    let Some(first) = docs.first() else { return Ok(()) };
    let text: Vec<String> = docs.iter().map(|d| format!("{} {}", d.title, d.body)).collect();
    sqlx::query(
        "WITH w AS (SELECT DISTINCT w FROM unnest($3::text[]) t, unnest(tsvector_to_array(to_tsvector('simple', t))) w \
                    WHERE length(w) BETWEEN 3 AND 40), \
              lex AS (INSERT INTO lexicon (word) SELECT w FROM w ON CONFLICT DO NOTHING) \
         INSERT INTO words (tenant_id, visibility, word) SELECT $1::uuid, $2::text, w FROM w ON CONFLICT DO NOTHING",
    )
    .bind(first.tenant_id)
    .bind(&first.visibility)
    .bind(&text)
    .execute(tx)
    .await
    .map(drop)
}

/// Titles completing `prefix` (or close to it), most similar first.
pub async fn suggest(tx: &mut PgConnection, prefix: &str, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT title FROM (SELECT DISTINCT ON (lower(title)) title, \
                  (lower(title) LIKE lower($2) || '%') AS starts, public.word_similarity($1, title) AS sim \
                FROM documents WHERE lower(title) LIKE '%' || lower($2) || '%' OR $1 OPERATOR(public.<%) title \
                ORDER BY lower(title), sim DESC) t \
         ORDER BY starts DESC, sim DESC, title LIMIT $3",
    )
    .bind(prefix)
    .bind(prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
    .bind(limit)
    .fetch_all(tx)
    .await
}

// ---- semantic ----------------------------------------------------------------------

/// Stores the documents' vectors (one per document, in order).
pub async fn vectors_insert(tx: &mut PgConnection, docs: &[Doc], vectors: &[Vec<f32>]) -> Result<(), sqlx::Error> {
    for (d, v) in docs.iter().zip(vectors) {
        let snippet: String = d.body.chars().take(240).collect();
        sqlx::query(
            "INSERT INTO vectors (id, tenant_id, course_id, kind, locale, visibility, title, snippet, model, embedding) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::public.vector) \
             ON CONFLICT (id) DO UPDATE SET course_id = EXCLUDED.course_id, kind = EXCLUDED.kind, \
               locale = EXCLUDED.locale, visibility = EXCLUDED.visibility, title = EXCLUDED.title, \
               snippet = EXCLUDED.snippet, model = EXCLUDED.model, embedding = EXCLUDED.embedding",
        )
        .bind(d.id)
        .bind(d.tenant_id)
        .bind(d.course_id)
        .bind(d.kind)
        .bind(&d.locale)
        .bind(&d.visibility)
        .bind(&d.title)
        .bind(snippet)
        .bind(mirai_embed::MODEL)
        .bind(mirai_embed::to_pg(v))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub async fn vectors_delete(tx: &mut PgConnection, course: CourseId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM vectors WHERE course_id = $1").bind(course).execute(tx).await.map(|_| ())
}

/// The documents nearest to `vector` that the caller may see (RLS: its tenant's and the
/// public ones), with an escaped snippet for a highlight and the cosine as the score.
pub async fn nearest(
    tx: &mut PgConnection,
    vector: &str,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<Hit>, sqlx::Error> {
    sqlx::query("SET LOCAL hnsw.iterative_scan = relaxed_order").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL hnsw.ef_search = 100").execute(&mut *tx).await?;
    sqlx::query_as(
        "SELECT id, course_id, kind, title, locale, \
           replace(replace(replace(snippet, '&', '&amp;'), '<', '&lt;'), '>', '&gt;') AS highlight, \
           (1 - (embedding OPERATOR(public.<=>) $1::public.vector))::real AS score \
         FROM vectors WHERE model = $2 AND ($3::text IS NULL OR kind = $3) \
         ORDER BY embedding OPERATOR(public.<=>) $1::public.vector LIMIT $4",
    )
    .bind(vector)
    .bind(mirai_embed::MODEL)
    .bind(kind)
    .bind(limit)
    .fetch_all(tx)
    .await
}
