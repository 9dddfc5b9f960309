//! The alternate request syntax of xAPI 1.0.3 (Communication 1.3): a POST with
//! `?method=GET|PUT|POST|DELETE` whose form body carries the headers (Authorization,
//! X-Experience-API-Version, Content-Type, If-Match, If-None-Match), the resource
//! parameters, and the `content`. It is rewritten into the request it stands for before
//! routing. The form's header fields are the request's headers: one that contradicts
//! a real header is a 400, as is an unsupported version in either; content without a
//! Content-Type field is JSON. xAPI 2.0 dropped the syntax: under 2.0 it is a 400.

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderName, HeaderValue, Method, Uri, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use mirai_kit::AppError;

use super::version::VERSION;
use crate::{
    AppState,
    app::{self, statement::XapiVersion},
};

const FORM_HEADERS: &[&str] =
    &["authorization", "x-experience-api-version", "content-type", "if-match", "if-none-match"];

fn bad(detail: &str) -> Response {
    app::bad(detail).into_response()
}

pub async fn rewrite(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let statements = req.uri().path().ends_with("/xapi/statements");
    let mut res = rewritten(state, req, next).await;
    // A request refused here never reached the version layer: it is answered in the
    // newest version this LRS speaks, as any request without a usable version is.
    if !res.headers().contains_key(&VERSION) {
        res.headers_mut().insert(VERSION, HeaderValue::from_static(XapiVersion::NEWEST.as_str()));
    }
    if statements {
        super::version::ensure_consistent_through(&mut res);
    }
    res
}

async fn rewritten(state: AppState, req: Request, next: Next) -> Response {
    let query = req.uri().query().unwrap_or("");
    let Some(method) = query.split('&').find_map(|kv| kv.strip_prefix("method=")).map(str::to_uppercase) else {
        return next.run(req).await;
    };
    if req.method() != Method::POST {
        return bad("the alternate request syntax is a POST with ?method=");
    }
    if query.split('&').any(|kv| !kv.is_empty() && !kv.starts_with("method=")) {
        return bad("with ?method=, every other parameter goes in the form body");
    }
    let method = match method.as_str() {
        "GET" => Method::GET,
        "PUT" => Method::PUT,
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        "HEAD" => Method::HEAD,
        other => return bad(&format!("method `{other}` is not GET, PUT, POST, DELETE or HEAD")),
    };
    let (parts, body) = req.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return bad("the alternate request syntax sends application/x-www-form-urlencoded");
    }
    let Ok(bytes) = to_bytes(body, 16 * 1024 * 1024).await else {
        return bad("the form body could not be read");
    };
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes) else {
        return bad("the form body is not application/x-www-form-urlencoded");
    };
    let mut headers = parts.headers.clone();
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
    let mut params = vec![];
    let mut content = String::new();
    let mut content_length = None;
    for (k, v) in form {
        let lower = k.to_ascii_lowercase();
        if lower == "content-length" {
            content_length = Some(v);
        } else if FORM_HEADERS.contains(&lower.as_str()) {
            let (Ok(name), Ok(value)) = (HeaderName::try_from(lower.as_str()), HeaderValue::try_from(v.as_str()))
            else {
                return bad(&format!("form field `{k}` is not a valid header"));
            };
            if name == VERSION && XapiVersion::parse(&v).is_none() {
                return bad(&format!(
                    "X-Experience-API-Version `{v}` is not supported; this LRS speaks 2.0.0 and 1.0.3"
                ));
            }
            // The form's fields ARE the request's headers (1.3: "The LRS MUST treat the form
            // parameters listed above as header parameters"), so a real header saying
            // otherwise makes two values for one header: refused, not resolved by
            // precedence. The real Content-Type describes the form itself, and the form's
            // field the content, so those two are expected to differ.
            if name != header::CONTENT_TYPE
                && let Some(real) = parts.headers.get(&name)
                && real != value
            {
                return bad(&format!("{k} is sent twice with different values, as a header and as a form field"));
            }
            headers.insert(name, value);
        } else if lower == "content" {
            content = v;
        } else {
            params.push((k, v));
        }
    }
    // The form's Content-Length is the content's (1.3.s3.b12): in bytes, or in the
    // characters a JavaScript client counts.
    if let Some(len) = content_length
        && !len.trim().parse::<usize>().is_ok_and(|n| n == content.len() || n == content.chars().count())
    {
        return bad(&format!("the form's Content-Length `{len}` is not the content's length ({})", content.len()));
    }
    // The content is JSON unless the form says otherwise (a statement, or a JSON document).
    if !content.is_empty() && !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let version = headers.get("x-experience-api-version").and_then(|v| v.to_str().ok()).and_then(XapiVersion::parse);
    if version != Some(XapiVersion::V103) {
        return bad("the alternate request syntax exists in xAPI 1.0.3 only");
    }
    let path = parts.uri.path().to_owned();
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let Ok(uri) = Uri::try_from(if query.is_empty() { path } else { format!("{path}?{query}") }) else {
        return bad("the form's parameters do not form a valid query");
    };
    let mut rewritten = Request::new(Body::from(content));
    *rewritten.method_mut() = method;
    *rewritten.uri_mut() = uri;
    *rewritten.headers_mut() = headers;
    *rewritten.extensions_mut() = parts.extensions;
    // The fleet's authentication read the real headers; the credential is in the form.
    if let Some(auth) = rewritten.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        match state.ctx.keys.verify_header(auth) {
            Ok(p) => {
                rewritten.extensions_mut().insert(p);
            }
            Err(e) => return AppError::Unauthenticated(e.to_string()).into_response(),
        }
    }
    next.run(rewritten).await
}
