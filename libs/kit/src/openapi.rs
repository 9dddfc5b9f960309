//! What every service's OpenAPI document carries besides its operations: the servers,
//! the security schemes (an ES256 JWT or a per-tenant API key as a bearer token, HTTP
//! Basic where xAPI clients use it, and a cmi5 AU session's token), the API-key alternative on every bearer operation,
//! and the 401 problem every authenticated operation can return. Operations declare
//! their own requirement (`security(("bearer" = []))`, or `security(())` when public);
//! `redocly lint` in `make lint` fails a document where one forgot.

use serde_json::{Value, json};

/// The finished document of a service, as served and committed.
pub fn finish(doc: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).expect("OpenAPI documents serialize");
    doc["servers"] = json!([{
        "url": "/",
        "description": "The fleet's origin: Kong in production, http://127.0.0.1:8080 under `mirai dev`."
    }]);
    let (mut uses_basic, mut uses_cmi5) = (false, false);
    if let Some(paths) = doc["paths"].as_object_mut() {
        for op in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|m| m.values_mut()) {
            let Some(security) = op.get_mut("security").and_then(Value::as_array_mut) else { continue };
            let named = |s: &Value, name: &str| s.as_object().is_some_and(|o| o.contains_key(name));
            uses_basic |= security.iter().any(|s| named(s, "basic"));
            uses_cmi5 |= security.iter().any(|s| named(s, "cmi5"));
            if !security.iter().any(|s| named(s, "bearer")) {
                continue;
            }
            if !security.iter().any(|s| named(s, "apiKey")) {
                security.push(json!({ "apiKey": [] }));
            }
            let responses = &mut op["responses"];
            if responses.get("401").is_none() {
                responses["401"] = json!({
                    "description": "No credential, or one that is invalid, expired or revoked",
                    "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
                });
            }
        }
    }
    let mut schemes = json!({
        "bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "An ES256 access token from `/api/v1/identity/login` or `/api/v1/identity/token`."
        },
        "apiKey": {
            "type": "http", "scheme": "bearer", "bearerFormat": "mk_<key id>_<secret>",
            "description": "A per-tenant API key from `/api/v1/identity/api-keys`, sent as a bearer token."
        }
    });
    if uses_basic {
        schemes["basic"] = json!({
            "type": "http", "scheme": "basic",
            "description": "xAPI clients: an API key's id as the user name, its `basic_password` as the password."
        });
    }
    if uses_cmi5 {
        schemes["cmi5"] = json!({
            "type": "http", "scheme": "basic",
            "description": "A cmi5 AU session: `Authorization: Basic <auth-token>`, the token its one-time fetch URL answered."
        });
    }
    doc["components"]["securitySchemes"] = schemes;
    doc
}
