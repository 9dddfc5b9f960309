//! The OpenSearch engine, through the `opensearch` crate. Documents are written through
//! aliases: one shared alias (`<prefix>-shared`) for most tenants, and one alias of its
//! own (`<prefix>-t-<tenant>`) for each large tenant, so a large tenant's index can be
//! sized, moved or rebuilt on its own (a rebuild writes a new index and swaps the alias).
//! Every query reads `<prefix>-*` and carries the tenant filter: the caller's tenant's
//! documents, or public ones — never another tenant's.
//!
//! Text is indexed twice: `title`/`body` with the standard analyzer (exact words in any
//! language) and `title_<language>`/`body_<language>` with the document's language
//! analyzer (stemming); a query matches both, fuzzily (typos), and highlights with
//! `<mark>` on HTML-escaped text.

use std::collections::HashSet;

use mirai_contracts::ids::{CourseId, TenantId};
use opensearch::{
    BulkParts, DeleteByQueryParts, OpenSearch, SearchParts,
    http::{
        request::JsonBody,
        response::Response,
        transport::{SingleNodeConnectionPool, TransportBuilder},
    },
    indices::{IndicesCreateParts, IndicesExistsAliasParts},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Doc, Hit};
use crate::store::config_for;

/// The language analyzers OpenSearch ships, by our text-search configuration names.
const LANGUAGES: &[&str] = &[
    "english",
    "german",
    "french",
    "spanish",
    "italian",
    "portuguese",
    "dutch",
    "swedish",
    "danish",
    "norwegian",
    "finnish",
    "russian",
];

/// Why OpenSearch did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum OsError {
    #[error("opensearch: {0}")]
    Transport(#[from] opensearch::Error),
    #[error("opensearch answered {status} to {what}: {body}")]
    Status { what: &'static str, status: u16, body: String },
    #[error("opensearch bulk indexing failed for {failed} of {total} documents: {first}")]
    Bulk { failed: usize, total: usize, first: String },
}

pub struct Os {
    client: OpenSearch,
    prefix: String,
    large: HashSet<Uuid>,
}

async fn ok(what: &'static str, res: Response) -> Result<Value, OsError> {
    let status = res.status_code().as_u16();
    if (200..300).contains(&status) {
        Ok(res.json::<Value>().await.unwrap_or(Value::Null))
    } else {
        let body = res.text().await.unwrap_or_default();
        Err(OsError::Status { what, status, body: body.chars().take(500).collect() })
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Os {
    pub fn new(url: &str, prefix: &str, large: HashSet<Uuid>) -> anyhow::Result<Self> {
        let url =
            opensearch::http::Url::parse(url).map_err(|e| anyhow::anyhow!("MIRAI_SEARCH__OPENSEARCH_URL: {e}"))?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Self { client: OpenSearch::new(transport), prefix: prefix.to_owned(), large })
    }

    /// The alias a tenant's documents are written to.
    pub fn alias_for(&self, tenant: TenantId) -> String {
        let t: Uuid = tenant.into();
        if self.large.contains(&t) { format!("{}-t-{t}", self.prefix) } else { format!("{}-shared", self.prefix) }
    }

    fn all(&self) -> String {
        format!("{}-*", self.prefix)
    }

    /// The index settings and mappings: keyword fields for filters, text twice.
    fn mappings() -> Value {
        let templates: Vec<Value> = LANGUAGES
            .iter()
            .map(|l| {
                json!({ format!("text_{l}"): { "match": format!("*_{l}"), "match_mapping_type": "string",
                "mapping": { "type": "text", "analyzer": l } } })
            })
            .collect();
        json!({
            "settings": { "index": { "number_of_shards": 1 } },
            "mappings": {
                "dynamic_templates": templates,
                "properties": {
                    "tenant_id": { "type": "keyword" }, "course_id": { "type": "keyword" },
                    "kind": { "type": "keyword" }, "visibility": { "type": "keyword" },
                    "locale": { "type": "keyword" }, "version": { "type": "integer" },
                    "published_at": { "type": "date" },
                    "title": { "type": "text", "analyzer": "standard" },
                    "body": { "type": "text", "analyzer": "standard" }
                }
            }
        })
    }

    /// Makes sure the shared alias and each large tenant's exist, each over a `-v1` index
    /// with the mappings.
    pub async fn ensure(&self) -> Result<(), OsError> {
        let mut aliases = vec![format!("{}-shared", self.prefix)];
        aliases.extend(self.large.iter().map(|t| format!("{}-t-{t}", self.prefix)));
        for alias in aliases {
            let res = self.client.indices().exists_alias(IndicesExistsAliasParts::Name(&[&alias])).send().await?;
            if res.status_code().as_u16() == 200 {
                continue;
            }
            let index = format!("{alias}-v1");
            let mut body = Self::mappings();
            body["aliases"] = json!({ alias.clone(): {} });
            let res = self.client.indices().create(IndicesCreateParts::Index(&index)).body(body).send().await?;
            // Another replica made it first: fine.
            if res.status_code().as_u16() != 400 {
                ok("create index", res).await?;
            }
        }
        Ok(())
    }

    /// The course's documents, replacing what was indexed of it.
    pub async fn replace_course(&self, tenant: TenantId, course: CourseId, docs: &[Doc]) -> Result<(), OsError> {
        self.delete_course(tenant, course).await?;
        if docs.is_empty() {
            return Ok(());
        }
        let mut body: Vec<JsonBody<Value>> = Vec::with_capacity(docs.len() * 2);
        for d in docs {
            body.push(json!({ "index": { "_id": d.id.to_string() } }).into());
            let mut source = json!({
                "tenant_id": d.tenant_id, "course_id": d.course_id, "kind": d.kind, "visibility": d.visibility,
                "locale": d.locale, "version": d.version, "published_at": d.published_at,
                "title": d.title, "body": d.body,
            });
            let lang = config_for(&d.locale);
            if lang != "simple" {
                source[format!("title_{lang}")] = json!(d.title);
                source[format!("body_{lang}")] = json!(d.body);
            }
            body.push(source.into());
        }
        let alias = self.alias_for(tenant);
        let res = self.client.bulk(BulkParts::Index(&alias)).body(body).send().await?;
        let answer = ok("bulk", res).await?;
        if answer["errors"].as_bool() == Some(true) {
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            let failed: Vec<&Value> = items.iter().filter(|i| i["index"]["error"].is_object()).collect();
            return Err(OsError::Bulk {
                failed: failed.len(),
                total: docs.len(),
                first: failed.first().map(|f| f["index"]["error"].to_string()).unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Removes the course's documents.
    pub async fn delete_course(&self, tenant: TenantId, course: CourseId) -> Result<(), OsError> {
        let alias = self.alias_for(tenant);
        let query = json!({ "query": { "bool": { "filter": [
            { "term": { "tenant_id": tenant } }, { "term": { "course_id": course } }] } } });
        let res = self
            .client
            .delete_by_query(DeleteByQueryParts::Index(&[&alias]))
            .conflicts(opensearch::params::Conflicts::Proceed)
            .body(query)
            .send()
            .await?;
        ok("delete by query", res).await.map(drop)
    }

    /// Empties every index (before a replay rebuilds them from the event streams).
    pub async fn clear(&self) -> Result<(), OsError> {
        let all = self.all();
        let res = self
            .client
            .delete_by_query(DeleteByQueryParts::Index(&[&all]))
            .conflicts(opensearch::params::Conflicts::Proceed)
            .body(json!({ "query": { "match_all": {} } }))
            .send()
            .await?;
        ok("delete by query", res).await.map(drop)
    }

    /// Who may see what: the tenant's own documents, or public ones.
    fn tenant_filter(tenant: TenantId) -> Value {
        json!({ "bool": { "should": [{ "term": { "tenant_id": tenant } }, { "term": { "visibility": "public" } }],
            "minimum_should_match": 1 } })
    }

    /// Documents matching `q` in the query's language and exactly, typos tolerated.
    pub async fn search(
        &self,
        tenant: TenantId,
        q: &str,
        locale: &str,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Hit>, OsError> {
        let lang = config_for(locale);
        let mut fields = vec!["title^2".to_owned(), "body".to_owned()];
        if lang != "simple" {
            fields.extend([format!("title_{lang}^2"), format!("body_{lang}")]);
        }
        let mut filter = vec![Self::tenant_filter(tenant)];
        if let Some(k) = kind {
            filter.push(json!({ "term": { "kind": k } }));
        }
        let body = json!({
            "size": limit,
            "query": { "bool": {
                "must": [{ "multi_match": { "query": q, "fields": fields, "fuzziness": "AUTO", "operator": "and" } }],
                "filter": filter } },
            "highlight": { "encoder": "html", "pre_tags": ["<mark>"], "post_tags": ["</mark>"],
                "fields": { "body": { "number_of_fragments": 2, "fragment_size": 120 }, "title": { "number_of_fragments": 0 } } },
            "_source": ["course_id", "kind", "title", "locale"],
            "sort": ["_score", { "published_at": "desc" }]
        });
        let all = self.all();
        let res = self.client.search(SearchParts::Index(&[&all])).body(body).send().await?;
        let answer = ok("search", res).await?;
        let hits = answer["hits"]["hits"].as_array().cloned().unwrap_or_default();
        Ok(hits
            .iter()
            .filter_map(|h| {
                let src = &h["_source"];
                let title = src["title"].as_str()?.to_owned();
                let body: Vec<&str> = h["highlight"]["body"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let highlight = if !body.is_empty() {
                    body.join(" … ")
                } else {
                    h["highlight"]["title"][0].as_str().map_or_else(|| html_escape(&title), str::to_owned)
                };
                Some(Hit {
                    id: h["_id"].as_str()?.parse().ok()?,
                    course_id: src["course_id"].as_str()?.parse::<Uuid>().ok()?.into(),
                    kind: src["kind"].as_str()?.to_owned(),
                    title,
                    locale: src["locale"].as_str().unwrap_or_default().to_owned(),
                    highlight,
                    score: h["_score"].as_f64().unwrap_or_default() as f32,
                })
            })
            .collect())
    }

    /// Titles starting with (or containing a word starting with) `prefix`.
    pub async fn suggest(&self, tenant: TenantId, prefix: &str, limit: i64) -> Result<Vec<String>, OsError> {
        let body = json!({
            "size": limit * 3,
            "query": { "bool": {
                "must": [{ "match_phrase_prefix": { "title": { "query": prefix } } }],
                "filter": [Self::tenant_filter(tenant)] } },
            "_source": ["title"]
        });
        let all = self.all();
        let res = self.client.search(SearchParts::Index(&[&all])).body(body).send().await?;
        let answer = ok("suggest", res).await?;
        let mut seen = HashSet::new();
        Ok(answer["hits"]["hits"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["_source"]["title"].as_str())
            .filter(|t| seen.insert(t.to_lowercase()))
            .take(limit as usize)
            .map(str::to_owned)
            .collect())
    }
}
