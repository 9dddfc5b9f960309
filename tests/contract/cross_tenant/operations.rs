//! The documented operations, read from every service's committed OpenAPI document.

use super::*;

/// One documented operation.
pub(super) struct Operation {
    pub(super) method: Method,
    pub(super) template: String,
    pub(super) operation_id: String,
    /// The query parameters it requires.
    pub(super) required_query: Vec<String>,
    /// A minimal body built from its request schema, for operations `Plan::body` does not know.
    pub(super) schema_body: Option<Value>,
}

impl Operation {
    pub(super) fn is(&self, method: &str, template: &str) -> bool {
        self.method.as_str() == method && self.template == template
    }
}

/// Every operation of every service's committed OpenAPI document.
pub(super) fn operations() -> Vec<Operation> {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
    let mut out = vec![];
    for service in mirai::services() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi").join(format!("{}.json", service.name));
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let paths = doc["paths"].as_object().unwrap_or_else(|| panic!("{} has no paths", file.display()));
        for (template, item) in paths {
            for (method, spec) in item.as_object().into_iter().flatten() {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let required_query = spec["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query" && p["required"] == true)
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect();
                let schema_body = spec["requestBody"]["content"]
                    .as_object()
                    .and_then(|c| c.get("application/json").or_else(|| c.values().next()))
                    .map(|media| minimal(&doc, &media["schema"]));
                out.push(Operation {
                    method: Method::from_bytes(method.to_uppercase().as_bytes()).expect("an HTTP method"),
                    template: template.clone(),
                    operation_id: spec["operationId"].as_str().unwrap_or_default().to_owned(),
                    required_query,
                    schema_body,
                });
            }
        }
    }
    out
}

/// A minimal instance of `schema`: its required properties, plausibly filled.
fn minimal(doc: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return minimal(doc, &doc["components"]["schemas"][name]);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = serde_json::Map::new();
        for part in parts {
            if let Value::Object(fields) = minimal(doc, part) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    if let Some(first) = schema["oneOf"].get(0).or_else(|| schema["anyOf"].get(0)) {
        return minimal(doc, first);
    }
    if let Some(first) = schema["enum"].get(0) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match kind {
        "object" => Value::Object(
            schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|name| (name.to_owned(), minimal(doc, &schema["properties"][name])))
                .collect(),
        ),
        "array" => json!([]),
        "string" => match schema["format"].as_str() {
            Some("uuid") => json!(Uuid::now_v7()),
            Some("date-time") => json!("2099-01-01T00:00:00Z"),
            _ => json!("cross-tenant-walk"),
        },
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        _ => Value::Null,
    }
}

/// The `{name}`s of a path template.
pub(super) fn placeholders(template: &str) -> Vec<&str> {
    template.split('{').skip(1).filter_map(|s| s.split_once('}')).map(|(name, _)| name).collect()
}
