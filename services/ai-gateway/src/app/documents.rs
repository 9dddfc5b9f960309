//! Grounding a generation in documents. Media's ready assets of a readable type (PDF,
//! plain text, Markdown) are known from `media.asset.ready.v1` (`documents`). The first
//! generation that names one reads it from the object store, checks its bytes against the
//! SHA-256 media recorded, extracts its text (page by page for a PDF, with `lopdf`, capped
//! in pages, decompressed bytes and excerpts), cuts it into chunks and embeds them with
//! the local model into the vector store (source type `document`, never answered by
//! `/similar`: a document is its authors', not every member's). Later generations reuse
//! the chunks until the bytes or the model change.
//!
//! A generation's excerpts are the chunks nearest to what it asks for (its topic, goals,
//! lesson), the best of each document first; they join the prompt's `sources` as
//! `media:<asset_id>#<chunk>` with the file (and page) they come from, and the answer must
//! cite the ones it used: the citations reach the draft's `ai_provenance`.

use axum::http::StatusCode;
use mirai_blobs::object_store::{ObjectStoreExt, path::Path};
use mirai_contracts::ids::TenantId;
use mirai_kit::AppError;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::vectors::{NewChunk, chunk};
use crate::{
    AppState,
    store::{self, DocumentRow},
};

/// What can be read.
pub const TYPES: &[&str] = &["application/pdf", "text/plain", "text/markdown"];
/// The largest document read, in bytes.
pub const MAX_BYTES: i64 = 32 << 20;
/// The most pages of a PDF read.
const MAX_PAGES: usize = 1000;
/// The most bytes one object stream (loading) or one page's content (extracting) may
/// decompress to: a zip bomb stops here.
const MAX_DECOMPRESSED: usize = 4 << 20;
/// The most characters of text a document may hold (about 300k words).
const MAX_CHARS: usize = 2_000_000;
/// The most characters in one chunk: text without spaces is cut here.
const MAX_CHUNK_CHARS: usize = 1500;
/// The most chunks a document may have.
const MAX_CHUNKS: usize = 2400;
/// Excerpts added to a prompt (at least each document's best, when more are named).
const EXCERPTS: usize = 12;
/// The prompts take at most this many sources in all.
const MAX_SOURCES: usize = 40;
/// The most characters of one source the prompts take.
const MAX_SOURCE_CHARS: usize = 4000;

/// One page of extracted text (`None`: a text file has no pages).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub number: Option<u32>,
    pub text: String,
}

/// Why a document cannot ground a generation.
#[derive(Debug)]
pub enum Unusable {
    /// Not a ready asset of the tenant (or deleted).
    Missing(Uuid),
    /// Not readable: its type, its bytes, no text in it.
    Unreadable(Uuid, String),
    /// Past a limit.
    TooLarge(Uuid, String),
}

impl From<Unusable> for AppError {
    fn from(u: Unusable) -> Self {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match u {
            Unusable::Missing(id) => AppError::client(
                unprocessable,
                "document-not-found",
                "Document not found",
                format!("media asset {id} is not a ready document of this tenant"),
            ),
            Unusable::Unreadable(id, why) => {
                AppError::client(unprocessable, "document-unreadable", "Document unreadable", format!("{id}: {why}"))
            }
            Unusable::TooLarge(id, why) => {
                AppError::client(unprocessable, "document-too-large", "Document too large", format!("{id}: {why}"))
            }
        }
    }
}

/// The text of a document's bytes (on a blocking thread), or why it cannot be used.
pub fn extract(content_type: &str, bytes: &[u8]) -> Result<Vec<Page>, Refusal> {
    let pages = match content_type {
        "application/pdf" => pdf_pages(bytes)?,
        "text/plain" | "text/markdown" => {
            let text =
                std::str::from_utf8(bytes).map_err(|_| Refusal::Unreadable("the file is not UTF-8 text".into()))?;
            if text.chars().count() > MAX_CHARS {
                return Err(Refusal::TooLarge(format!("more than {MAX_CHARS} characters of text")));
            }
            vec![Page { number: None, text: text.trim_start_matches('\u{feff}').to_owned() }]
        }
        other => return Err(Refusal::Unreadable(format!("`{other}` is not a PDF, text or Markdown file"))),
    };
    let pages: Vec<Page> = pages.into_iter().filter(|p| !p.text.trim().is_empty()).collect();
    if pages.is_empty() {
        return Err(Refusal::Unreadable("it has no text to read (a scanned PDF needs OCR first)".into()));
    }
    Ok(pages)
}

/// Why a document's bytes cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    Unreadable(String),
    TooLarge(String),
}

fn pdf_pages(bytes: &[u8]) -> Result<Vec<Page>, Refusal> {
    let options = lopdf::LoadOptions::with_max_decompressed_size(MAX_DECOMPRESSED);
    let doc = lopdf::Document::load_mem_with_options(bytes, options)
        .map_err(|e| Refusal::Unreadable(format!("not a readable PDF ({e})")))?;
    if doc.is_encrypted() && doc.encryption_state.is_none() {
        return Err(Refusal::Unreadable("the PDF is encrypted with a password".into()));
    }
    let numbers: Vec<u32> = doc.get_pages().into_keys().collect();
    if numbers.len() > MAX_PAGES {
        return Err(Refusal::TooLarge(format!("more than {MAX_PAGES} pages")));
    }
    let mut pages = Vec::with_capacity(numbers.len());
    let (mut failed, mut chars) = (0, 0);
    for n in numbers {
        match doc.extract_text_with_limit(&[n], MAX_DECOMPRESSED) {
            Ok(text) => {
                chars += text.chars().count();
                // Stop as soon as the text is too long, not after reading every page.
                if chars > MAX_CHARS {
                    return Err(Refusal::TooLarge(format!("more than {MAX_CHARS} characters of text")));
                }
                pages.push(Page { number: Some(n), text });
            }
            // A page lopdf cannot decode is skipped; a document of such pages is refused.
            Err(_) => failed += 1,
        }
    }
    if pages.is_empty() && failed > 0 {
        return Err(Refusal::Unreadable(format!("none of its {failed} pages could be decoded")));
    }
    Ok(pages)
}

/// The chunks of a document's pages, numbered through the document; each titled with the
/// file and its page, none longer than `MAX_CHUNK_CHARS` (text without spaces is cut).
pub fn document_chunks(asset: Uuid, filename: &str, pages: &[Page]) -> Result<Vec<NewChunk>, Refusal> {
    let mut out = Vec::new();
    for page in pages {
        let title = match page.number {
            Some(n) => format!("{filename}, p. {n}"),
            None => filename.to_owned(),
        };
        for text in chunk(&page.text) {
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.chunks(MAX_CHUNK_CHARS) {
                if out.len() >= MAX_CHUNKS {
                    return Err(Refusal::TooLarge(format!("more than {MAX_CHUNKS} excerpts of text")));
                }
                let text = piece.iter().collect();
                out.push(NewChunk { source_id: asset, chunk: out.len() as i32, title: title.clone(), text });
            }
        }
    }
    Ok(out)
}

/// The bytes checked against media's hash, read and cut into chunks (a blocking thread).
fn read(doc: &DocumentRow, bytes: &[u8]) -> Result<(Vec<NewChunk>, Option<i32>), Refusal> {
    if format!("sha256:{}", hex::encode(Sha256::digest(bytes))) != doc.sha256 {
        return Err(Refusal::Unreadable("its bytes are not the ones media checked".into()));
    }
    let pages = extract(&doc.content_type, bytes)?;
    let chunks = document_chunks(doc.asset_id, &doc.filename, &pages)?;
    Ok((chunks, pages.iter().filter_map(|p| p.number).max().map(|n| n as i32)))
}

fn unavailable(e: impl std::fmt::Display) -> AppError {
    AppError::Unavailable(format!("the object store: {e}"))
}

/// Reads, extracts, chunks and embeds a document unless its chunks are current.
async fn index(state: &AppState, tenant: TenantId, doc: &DocumentRow) -> Result<(), AppError> {
    let current = |d: &DocumentRow| {
        d.indexed_sha256.as_deref() == Some(d.sha256.as_str()) && d.indexed_model.as_deref() == Some(mirai_embed::MODEL)
    };
    if current(doc) {
        return Ok(());
    }
    let id = doc.asset_id;
    // Media keeps a tenant's files under its prefix; anything else is not this tenant's.
    if !doc.object_key.starts_with(&format!("tenants/{tenant}/")) {
        return Err(Unusable::Missing(id).into());
    }
    let bytes = match state.blobs.store().get(&Path::from(doc.object_key.as_str())).await {
        Ok(got) => got.bytes().await.map_err(unavailable)?,
        Err(mirai_blobs::object_store::Error::NotFound { .. }) => {
            return Err(Unusable::Unreadable(id, "its file is no longer in the store".into()).into());
        }
        Err(e) => return Err(unavailable(e)),
    };
    let row = doc.clone();
    let (chunks, page_count) = tokio::task::spawn_blocking(move || read(&row, &bytes))
        .await
        // A parser panic on a hostile file is that file's problem, not the gateway's.
        .map_err(|_| Unusable::Unreadable(id, "the file could not be parsed".into()))?
        .map_err(|r| match r {
            Refusal::Unreadable(why) => Unusable::Unreadable(id, why),
            Refusal::TooLarge(why) => Unusable::TooLarge(id, why),
        })?;
    let texts = chunks.iter().map(|c| format!("{}\n{}", c.title, c.text)).collect();
    let vectors = mirai_embed::embed(texts).await.map_err(|e| AppError::Upstream {
        status: StatusCode::SERVICE_UNAVAILABLE,
        slug: "ai-unavailable",
        title: "The local embedding model is unavailable",
        detail: e,
        retry_after_secs: Some(30),
    })?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    // Two generations reading the same document write its chunks one after the other.
    mirai_kit::db::xact_lock(&mut tx, &format!("ai-gateway.document:{id}")).await?;
    match store::document_get(&mut tx, id).await? {
        Some(now) if !now.deleted && now.sha256 == doc.sha256 => {
            if current(&now) {
                return Ok(());
            }
        }
        _ => return Err(Unusable::Missing(id).into()),
    }
    store::chunks_delete_source(&mut tx, "document", id).await?;
    for (c, v) in chunks.iter().zip(&vectors) {
        store::chunk_insert(&mut tx, tenant, "document", c, None, mirai_embed::MODEL, &mirai_embed::to_pg(v)).await?;
    }
    store::document_indexed(&mut tx, id, &doc.sha256, mirai_embed::MODEL, page_count, chunks.len() as i32).await?;
    tx.commit().await?;
    tracing::info!(document = %id, chunks = chunks.len(), "document indexed");
    Ok(())
}

/// What a generation asks for, as a similarity query: the input's text but its sources,
/// its topic and title first (the embedding model reads 256 tokens).
fn query_text(input: &Value) -> String {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => {
                o.iter().filter(|(k, _)| !matches!(k.as_str(), "sources" | "locale")).for_each(|(_, x)| walk(x, out))
            }
            _ => {}
        }
    }
    let mut parts = Vec::new();
    const FIRST: [&str; 4] = ["topic", "lesson_title", "title", "goals"];
    for key in FIRST {
        if let Some(v) = input.get(key) {
            walk(v, &mut parts);
        }
    }
    if let Value::Object(o) = input {
        let rest =
            o.iter().filter(|(k, _)| !FIRST.contains(&k.as_str()) && !matches!(k.as_str(), "sources" | "locale"));
        for (_, v) in rest {
            walk(v, &mut parts);
        }
    }
    parts.join("\n").chars().take(2000).collect()
}

/// Adds to `input["sources"]` the excerpts of `documents` nearest to what it asks for.
pub async fn ground(state: &AppState, tenant: TenantId, documents: &[Uuid], input: &mut Value) -> Result<(), AppError> {
    let rows = {
        let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
        let rows = store::documents_get(&mut tx, documents).await?;
        tx.commit().await?;
        rows
    };
    for id in documents {
        let Some(doc) = rows.iter().find(|d| d.asset_id == *id && !d.deleted) else {
            return Err(Unusable::Missing(*id).into());
        };
        if !TYPES.contains(&doc.content_type.as_str()) {
            let why = format!("`{}` is not a PDF, text or Markdown file", doc.content_type);
            return Err(Unusable::Unreadable(*id, why).into());
        }
        if doc.size > MAX_BYTES {
            return Err(Unusable::TooLarge(*id, format!("larger than {MAX_BYTES} bytes")).into());
        }
        index(state, tenant, doc).await?;
    }
    let query = query_text(input);
    let vector = mirai_embed::embed(vec![query]).await.map_err(|e| AppError::Upstream {
        status: StatusCode::SERVICE_UNAVAILABLE,
        slug: "ai-unavailable",
        title: "The local embedding model is unavailable",
        detail: e,
        retry_after_secs: Some(30),
    })?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let per_document = (EXCERPTS / documents.len()).max(2) as i64;
    let limit = EXCERPTS.max(documents.len()) as i64;
    let mut excerpts = store::document_excerpts(
        &mut tx,
        &mirai_embed::to_pg(&vector[0]),
        mirai_embed::MODEL,
        documents,
        per_document,
        limit,
    )
    .await?;
    tx.commit().await?;
    let mut sources = input.get("sources").and_then(Value::as_array).cloned().unwrap_or_default();
    // The best excerpts keep their places when the prompt is full (each document's best
    // first, as ranked), then go in reading order: the documents as named, page by page.
    excerpts.truncate(MAX_SOURCES.saturating_sub(sources.len()));
    excerpts.sort_by_key(|e| (documents.iter().position(|d| *d == e.source_id), e.chunk));
    for e in excerpts {
        let text: String = format!("({}) {}", e.title, e.text).chars().take(MAX_SOURCE_CHARS).collect();
        sources.push(json!({ "id": format!("media:{}#{}", e.source_id, e.chunk), "text": text }));
    }
    input["sources"] = Value::Array(sources);
    Ok(())
}

#[cfg(test)]
mod tests {
    use mirai_testkit::pdf;

    use super::*;

    #[test]
    fn a_pdf_is_read_page_by_page_and_its_chunks_name_the_page() {
        let bytes = pdf(&["Leave by the nearest marked exit.", "", "Gather at the car park assembly point."]);
        let pages = extract("application/pdf", &bytes).unwrap();
        assert_eq!(pages.len(), 2, "the empty page is dropped: {pages:?}");
        assert_eq!(pages[0].number, Some(1));
        assert!(pages[0].text.contains("nearest marked exit"), "{pages:?}");
        assert_eq!(pages[1].number, Some(3));
        let asset = Uuid::now_v7();
        let chunks = document_chunks(asset, "policy.pdf", &pages).unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[0].chunk, chunks[0].title.as_str()), (0, "policy.pdf, p. 1"));
        assert_eq!((chunks[1].chunk, chunks[1].title.as_str()), (1, "policy.pdf, p. 3"));
    }

    #[test]
    fn text_is_read_as_utf8_and_what_cannot_be_read_says_why() {
        let pages = extract("text/markdown", "\u{feff}# Exits\n\nUse the stairs.".as_bytes()).unwrap();
        assert_eq!(pages, vec![Page { number: None, text: "# Exits\n\nUse the stairs.".into() }]);
        let why = |r: Result<Vec<Page>, Refusal>| match r.unwrap_err() {
            Refusal::Unreadable(w) | Refusal::TooLarge(w) => w,
        };
        assert!(why(extract("text/plain", b"\xff\xfe\x00")).contains("UTF-8"));
        assert!(why(extract("text/plain", b"  \n ")).contains("no text"));
        assert!(why(extract("image/png", b"\x89PNG")).contains("not a PDF"));
        assert!(why(extract("application/pdf", b"%PDF-1.4 garbage")).contains("not a readable PDF"));
        // Truncated halfway: refused, not a panic.
        let whole = pdf(&["Some text."]);
        assert!(extract("application/pdf", &whole[..whole.len() / 2]).is_err());
    }

    #[test]
    fn hostile_text_is_bounded() {
        // No spaces: cut into pieces, not one giant chunk.
        let long = "a".repeat(10_000);
        let pages = extract("text/plain", long.as_bytes()).unwrap();
        let chunks = document_chunks(Uuid::now_v7(), "x.txt", &pages).unwrap();
        assert_eq!(chunks.len(), 7);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= MAX_CHUNK_CHARS));
        // Too much text, or too many excerpts: refused as too large.
        let huge = "word ".repeat(MAX_CHARS / 5 + 1);
        assert!(matches!(extract("text/plain", huge.as_bytes()), Err(Refusal::TooLarge(_))));
        let many = "a ".repeat(120 * (MAX_CHUNKS + 10));
        let pages = extract("text/plain", many.as_bytes()).unwrap();
        assert!(matches!(document_chunks(Uuid::now_v7(), "x.txt", &pages), Err(Refusal::TooLarge(_))));
    }

    #[test]
    fn the_query_is_what_the_input_asks_for_without_its_sources() {
        let q = query_text(&json!({ "topic": "Fire safety", "goals": ["evacuate"], "locale": "en", "minutes": 30,
            "sources": [{ "id": "x", "text": "not this" }] }));
        assert!(q.starts_with("Fire safety\nevacuate"), "the topic first: {q}");
        assert!(!q.contains("not this") && !q.contains("en\n"));
    }
}
