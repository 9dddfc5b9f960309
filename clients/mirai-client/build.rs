//! Generates one typed client per service, `$OUT_DIR/<service>.rs`, from its committed
//! OpenAPI document (`schemas/openapi/<service>.json`) with progenitor.
//!
//! progenitor reads OpenAPI 3.0 through the `openapiv3` crate: a 3.1 `"type": ["string",
//! "null"]` does not even parse, and progenitor refuses any version but 3.0.x. utoipa 5
//! writes 3.1, so each document is lowered to 3.0 first. The lowering translates the 3.1
//! constructs our documents use and fails the build, naming the place, on anything else it
//! does not know: a new construct gets a decision, never a quiet mistranslation that would
//! let the client accept what the document does not say.
use std::{env, fs, path::PathBuf};

use serde_json::{Map, Value, json};

/// The services with a client; each is the module of the same name in `src/lib.rs`.
const SERVICES: &[&str] = &[
    "identity",
    "tenant",
    "lrs",
    "authoring",
    "catalog",
    "search",
    "media",
    "content",
    "ai-gateway",
    "notification",
    "marketplace",
    "billing",
    "enrollment",
    "assignment",
    "delivery",
    "assessment",
];

/// Operations left out of the clients, as (`service.operationId`, why). An operation
/// progenitor cannot generate fails the build until its document changes or it is listed
/// here, with the reason.
const SKIPPED: &[(&str, &str)] = &[];

/// The Schema Object keywords OpenAPI 3.0 knows, `$ref` aside.
const OAS30_KEYWORDS: &[&str] = &[
    "title",
    "description",
    "type",
    "format",
    "nullable",
    "enum",
    "default",
    "example",
    "deprecated",
    "readOnly",
    "writeOnly",
    "multipleOf",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "discriminator",
    "xml",
    "externalDocs",
];

/// What 3.1 may put beside a `$ref` and 3.0 ignores there.
const REF_ANNOTATIONS: &[&str] = &["description", "summary", "title"];

/// The request body media types progenitor can send.
const REQUEST_MEDIA_TYPES: &[&str] =
    &["application/json", "application/x-www-form-urlencoded", "application/octet-stream", "text/plain"];

type Result<T = ()> = std::result::Result<T, String>;

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../schemas/openapi");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let mut unmatched: Vec<&str> = SKIPPED.iter().map(|(id, _)| *id).collect();
    for service in SERVICES {
        let path = dir.join(format!("{service}.json"));
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        lower(service, &mut doc, &mut unmatched).unwrap_or_else(|e| panic!("schemas/openapi/{service}.json: {e}"));
        let spec: openapiv3::OpenAPI = serde_json::from_value(doc)
            .unwrap_or_else(|e| panic!("schemas/openapi/{service}.json, lowered to 3.0, does not parse: {e}"));
        let mut generator = progenitor::Generator::new(&progenitor::GenerationSettings::default());
        let tokens = generator.generate_tokens(&spec).unwrap_or_else(|e| panic!("progenitor, {service}: {e}"));
        let file = syn::parse2(tokens).unwrap_or_else(|e| panic!("progenitor's {service} client does not parse: {e}"));
        fs::write(out.join(format!("{service}.rs")), prettyplease::unparse(&file)).unwrap();
    }
    assert!(unmatched.is_empty(), "SKIPPED names operations no document has: {unmatched:?}");
}

/// Lowers a 3.1 document to the 3.0 progenitor reads, in place, leaving out the operations
/// in SKIPPED (and crossing them off `unmatched`).
fn lower(service: &str, doc: &mut Value, unmatched: &mut Vec<&str>) -> Result {
    let root = doc.as_object_mut().ok_or("not a JSON object")?;
    match root.get("openapi").and_then(Value::as_str) {
        Some(version) if version.starts_with("3.1.") => {}
        other => return Err(format!("expected `openapi: 3.1.x`, found {other:?}")),
    }
    root.insert("openapi".into(), json!("3.0.3"));
    for key in ["webhooks", "jsonSchemaDialect"] {
        if root.contains_key(key) {
            return Err(format!("`{key}` has no 3.0 form"));
        }
    }
    if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
        // 3.1's additions to Info and License are documentation only.
        info.remove("summary");
        if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
            license.remove("identifier");
        }
    }
    for (path, item) in entries(root, "paths") {
        let item = item.as_object_mut().ok_or_else(|| format!("{path}: not an object"))?;
        item.retain(|_, op| {
            let id = format!("{service}.{}", op["operationId"].as_str().unwrap_or_default());
            match unmatched.iter().position(|skipped| *skipped == id) {
                Some(i) => {
                    unmatched.swap_remove(i);
                    false
                }
                None => true,
            }
        });
        for (method, op) in item.iter_mut() {
            let at = format!("{} {path}", method.to_uppercase());
            match method.as_str() {
                "parameters" => lower_parameters(path, op)?,
                "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace" => lower_operation(&at, op)?,
                _ => {}
            }
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        if components.contains_key("pathItems") {
            return Err("`components.pathItems` has no 3.0 form".into());
        }
        for (name, schema) in entries(components, "schemas") {
            lower_schema(&format!("#/components/schemas/{name}"), schema)?;
        }
        for (name, response) in entries(components, "responses") {
            lower_response(&format!("#/components/responses/{name}"), response)?;
        }
        for (name, body) in entries(components, "requestBodies") {
            lower_request_body(&format!("#/components/requestBodies/{name}"), body)?;
        }
        for (name, parameter) in entries(components, "parameters") {
            lower_parameter(&format!("#/components/parameters/{name}"), parameter)?;
        }
        // A header object is a parameter without `name` and `in`.
        for (name, header) in entries(components, "headers") {
            lower_parameter(&format!("#/components/headers/{name}"), header)?;
        }
    }
    Ok(())
}

/// The entries of the object `obj[key]`, if there is one.
fn entries<'a>(obj: &'a mut Map<String, Value>, key: &str) -> impl Iterator<Item = (&'a String, &'a mut Value)> {
    obj.get_mut(key).and_then(Value::as_object_mut).into_iter().flatten()
}

fn lower_operation(at: &str, op: &mut Value) -> Result {
    if let Some(parameters) = op.get_mut("parameters") {
        lower_parameters(at, parameters)?;
    }
    if let Some(body) = op.get_mut("requestBody") {
        lower_request_body(at, body)?;
    }
    let responses = op.get_mut("responses").and_then(Value::as_object_mut).ok_or(format!("{at}: no responses"))?;
    for (status, response) in responses.iter_mut() {
        lower_response(&format!("{at} {status}"), response)?;
    }
    one_body(at, responses, "success", |status| status.starts_with('2') || status == "default")?;
    one_body(at, responses, "error", |status| status.starts_with(['4', '5']) || status == "default")
}

/// progenitor gives an operation one success type and one error type (and asserts so), so
/// its responses of each kind must share a body: one JSON schema, or none.
fn one_body(at: &str, responses: &Map<String, Value>, kind: &str, of_kind: fn(&str) -> bool) -> Result {
    let mut bodies: Vec<Value> = Vec::new();
    for response in responses.iter().filter(|(status, _)| of_kind(status)).map(|(_, response)| response) {
        let body = match response.get("content").and_then(Value::as_object) {
            _ if response.get("$ref").is_some() => response.clone(),
            None => json!("no body"),
            Some(content) if content.is_empty() => json!("no body"),
            Some(content) => match content.iter().find(|(media_type, _)| media_type.starts_with("application/json")) {
                Some((_, media)) => media.get("schema").cloned().unwrap_or_default(),
                None => json!("bytes"),
            },
        };
        if !bodies.contains(&body) {
            bodies.push(body);
        }
    }
    match bodies.len() {
        0 | 1 => Ok(()),
        _ => Err(format!(
            "{at}: its {kind} responses have different bodies ({bodies:?}), and progenitor needs one; \
             give them one schema, or list the operation in SKIPPED"
        )),
    }
}

fn lower_parameters(at: &str, parameters: &mut Value) -> Result {
    for parameter in parameters.as_array_mut().into_iter().flatten() {
        let at = format!("{at} parameter {}", parameter["name"].as_str().unwrap_or("?"));
        lower_parameter(&at, parameter)?;
    }
    Ok(())
}

fn lower_parameter(at: &str, parameter: &mut Value) -> Result {
    if parameter.get("content").is_some() {
        return Err(format!("{at}: a parameter described by `content` (progenitor reads `schema` only)"));
    }
    match parameter.get_mut("schema") {
        Some(schema) => lower_schema(at, schema),
        None => Ok(()),
    }
}

fn lower_request_body(at: &str, body: &mut Value) -> Result {
    let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) else { return Ok(()) };
    if content.len() > 1 {
        let types: Vec<_> = content.keys().collect();
        return Err(format!("{at}: a request body in several media types {types:?}; progenitor sends one"));
    }
    for (media_type, media) in content.iter_mut() {
        let base = media_type.split(';').next().unwrap_or_default().trim();
        if !REQUEST_MEDIA_TYPES.contains(&base) {
            return Err(format!("{at}: progenitor cannot send a `{media_type}` body; list the operation in SKIPPED"));
        }
        let media = media.as_object_mut().ok_or(format!("{at} {media_type}: not an object"))?;
        if base == "application/octet-stream" && media.get("schema").is_none_or(is_utoipa_bytes) {
            // utoipa writes a `Vec<u8>` body as an array of integers; 3.0 (and progenitor,
            // which sends any `Into<reqwest::Body>`) spell raw bytes as a binary string.
            media.insert("schema".into(), json!({ "type": "string", "format": "binary" }));
        } else if let Some(schema) = media.get_mut("schema") {
            lower_schema(&format!("{at} {media_type}"), schema)?;
        }
    }
    Ok(())
}

/// `{"type": "array", "items": {"type": "integer", ...}}`: how utoipa describes `Vec<u8>`.
fn is_utoipa_bytes(schema: &Value) -> bool {
    schema["type"] == "array" && schema["items"]["type"] == "integer"
}

fn lower_response(at: &str, response: &mut Value) -> Result {
    if let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) {
        for (name, header) in headers.iter_mut() {
            lower_parameter(&format!("{at} header {name}"), header)?;
        }
    }
    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else { return Ok(()) };
    // progenitor types `application/json` bodies only and hands anything else back as bytes.
    // A problem document (RFC 9457) is JSON: read as such, an error body is typed and checked
    // against its schema like any other.
    let problems: Vec<String> = content.keys().filter(|t| t.starts_with("application/problem+json")).cloned().collect();
    for media_type in problems {
        let media = content.remove(&media_type).unwrap_or_default();
        if content.insert("application/json".into(), media).is_some() {
            return Err(format!("{at}: both application/json and {media_type}"));
        }
    }
    for (media_type, media) in content.iter_mut() {
        if let Some(schema) = media.get_mut("schema") {
            lower_schema(&format!("{at} {media_type}"), schema)?;
        }
    }
    Ok(())
}

fn lower_schema(at: &str, schema: &mut Value) -> Result {
    let s = schema.as_object_mut().ok_or(format!("{at}: a boolean schema has no 3.0 form"))?;
    if s.contains_key("$ref") {
        // 3.1 lets annotations sit beside a `$ref`; 3.0 ignores them there.
        s.retain(|key, _| key == "$ref" || !REF_ANNOTATIONS.contains(&key.as_str()));
        return match s.len() {
            1 => Ok(()),
            _ => Err(format!("{at}: `$ref` beside {:?} has no 3.0 form", s.keys().collect::<Vec<_>>())),
        };
    }

    // `type: [T, "null"]` is 3.0's `type: T, nullable: true`.
    let types = match s.get("type") {
        Some(Value::Array(types)) => Some(types.clone()),
        _ => None,
    };
    if let Some(types) = types {
        let (nulls, others): (Vec<&Value>, Vec<&Value>) = types.iter().partition(|t| **t == "null");
        let [only] = others.as_slice() else { return Err(format!("{at}: `type: {types:?}` has no 3.0 form")) };
        s.insert("type".into(), (*only).clone());
        if !nulls.is_empty() {
            // An enum that does not list null would refuse the null `nullable` allows.
            if s.get("enum").and_then(Value::as_array).is_some_and(|e| !e.contains(&Value::Null)) {
                return Err(format!("{at}: a nullable `enum` without null has no faithful 3.0 form"));
            }
            s.insert("nullable".into(), Value::Bool(true));
        }
    }
    if s.get("type").is_some_and(|t| t == "null") {
        return Err(format!("{at}: `type: null` outside a nullable oneOf/anyOf has no 3.0 form"));
    }

    // `oneOf: [{type: null}, S]` (utoipa's `Option<T>` for a named T) is 3.0's `nullable`.
    // 3.0 cannot put `nullable` beside a `$ref`, so a lone S is wrapped in `allOf`, 3.0's
    // usual spelling of a nullable reference, which progenitor reads as `Option<T>`.
    let null = json!({ "type": "null" });
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(branches)) = s.get(key) else { continue };
        if !branches.contains(&null) {
            continue;
        }
        let mut rest: Vec<Value> = branches.iter().filter(|b| **b != null).cloned().collect();
        if rest.len() != 1 {
            // `nullable` beside several branches is ignored by progenitor's typify, and
            // the client would then refuse the null the document allows.
            return Err(format!("{at}: `{key}` of null and {} other branches has no faithful 3.0 form", rest.len()));
        }
        s.insert("nullable".into(), Value::Bool(true));
        if rest.len() == 1 && !s.contains_key("allOf") {
            let mut only = rest.remove(0);
            if let Some(description) = only.as_object_mut().and_then(|o| o.remove("description")) {
                s.entry("description").or_insert(description);
            }
            s.remove(key);
            s.insert("allOf".into(), json!([only]));
        } else {
            s.insert(key.into(), Value::Array(rest));
        }
    }

    if let Some(value) = s.remove("const") {
        s.insert("enum".into(), json!([value]));
    }
    if let Some(examples) = s.remove("examples")
        && let Some(first) = examples.as_array().and_then(|e| e.first())
    {
        s.entry("example").or_insert(first.clone());
    }
    for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        if let Some(limit) = s.get(exclusive).filter(|v| v.is_number()).cloned() {
            if s.contains_key(bound) {
                return Err(format!("{at}: both `{bound}` and a numeric `{exclusive}`: lowering would lose one"));
            }
            s.insert(bound.into(), limit);
            s.insert(exclusive.into(), Value::Bool(true));
        }
    }
    // JSON object keys are strings anyway: a `propertyNames` that says only that goes.
    if let Some(names) = s.remove("propertyNames")
        && names != json!({ "type": "string" })
    {
        return Err(format!("{at}: `propertyNames: {names}` has no 3.0 form"));
    }
    if s.get("items").is_some_and(Value::is_array) {
        return Err(format!("{at}: tuple `items` has no 3.0 form"));
    }
    if let Some(key) = s.keys().find(|k| !OAS30_KEYWORDS.contains(&k.as_str()) && !k.starts_with("x-")) {
        return Err(format!("{at}: `{key}` has no 3.0 form"));
    }

    for (name, property) in s.get_mut("properties").and_then(Value::as_object_mut).into_iter().flatten() {
        lower_schema(&format!("{at}/properties/{name}"), property)?;
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = s.get_mut(key).filter(|v| v.is_object()) {
            lower_schema(&format!("{at}/{key}"), sub)?;
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for (i, sub) in s.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten().enumerate() {
            lower_schema(&format!("{at}/{key}/{i}"), sub)?;
        }
    }
    Ok(())
}
