//! Communication rules: version headers, About, HEAD, authentication and scopes.

use mirai_testkit::assert_problem;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::{COMPLETED, basic, spawn, statement};

#[tokio::test]
async fn versions_about_and_head() {
    let lrs = spawn().await;
    let about = lrs.app.http.get(lrs.app.url("/api/v1/lrs/xapi/about")).send().await.unwrap();
    assert_eq!(about.status(), 200, "about needs neither a version header nor a credential");
    let body: serde_json::Value = about.json().await.unwrap();
    assert_eq!(body["version"], json!(["1.0.3", "2.0.0"]));

    let res = lrs.req(Method::GET, "statements", None, &lrs.basic).send().await.unwrap();
    assert_eq!(res.status(), 400, "a missing version header is a 400");
    assert_eq!(res.headers()["x-experience-api-version"], "2.0.0", "answered in the newest version it speaks");
    let problem: serde_json::Value = res.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("2.0.0"), "{problem}");
    let res = lrs
        .req(Method::POST, "statements", None, &lrs.basic)
        .json(&statement("v@example.com", COMPLETED, "http://example.com/v"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a 2.0 client that forgot the header is refused too");
    assert_eq!(res.headers()["x-experience-api-version"], "2.0.0");
    let res = lrs.req(Method::GET, "statements", None, &lrs.basic).send().await.unwrap();
    assert!(res.headers().contains_key("x-experience-api-version"), "every response names a version");
    assert!(
        res.headers().contains_key("x-experience-api-consistent-through"),
        "a statement read carries Consistent-Through whatever its status"
    );
    let res = lrs.req(Method::GET, "statements", Some("0.95"), &lrs.basic).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["x-experience-api-version"], "2.0.0");
    let res = lrs.req(Method::GET, "statements", Some("1.0.2"), &lrs.basic).send().await.unwrap();
    assert_eq!(res.status(), 200, "older 1.0.x clients are served as 1.0.3");
    assert_eq!(res.headers()["x-experience-api-version"], "1.0.3");
    assert!(res.headers().contains_key("x-experience-api-consistent-through"));

    let (_, ids) = lrs.post(statement("a@example.com", COMPLETED, "http://example.com/a")).await;
    let id = ids[0].as_str().unwrap();
    let head =
        lrs.req(Method::HEAD, &format!("statements?statementId={id}"), Some("1.0.3"), &lrs.basic).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.headers().contains_key("last-modified"));
    assert!(head.bytes().await.unwrap().is_empty(), "HEAD is a GET without the body");
    lrs.app.stop().await;
}

#[tokio::test]
async fn browser_content_from_any_origin_may_call_the_xapi_endpoints() {
    // No origins configured for the rest of the API (MIRAI_CORS_ORIGINS unset).
    let app = mirai_testkit::TestApp::spawn_with(&[mirai_lrs::service()], |c| c.cors_origins.clear()).await.unwrap();
    let tenant = uuid::Uuid::now_v7();
    let lrs = crate::Lrs { basic: crate::basic(&app, tenant, &["all"]), app, tenant };
    let preflight = |path: &str| {
        lrs.app
            .http
            .request(Method::OPTIONS, lrs.app.url(path))
            .header("origin", "https://content.example.net")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type,x-experience-api-version")
            .send()
    };
    let res = preflight("/api/v1/lrs/xapi/statements").await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], "https://content.example.net");
    let allowed = res.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("x-experience-api-version"), "{allowed}");
    let res = preflight(&format!("/api/v1/lrs/admin/tenants/{}/statements/{}/purge", lrs.tenant, uuid::Uuid::now_v7()))
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"), "only the xAPI paths are open to any origin");

    let res = lrs
        .req(Method::POST, "statements", Some("1.0.3"), &lrs.basic)
        .header("origin", "https://content.example.net")
        .json(&statement("a@example.com", COMPLETED, "http://example.com/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://content.example.net");
    let exposed = res.headers()["access-control-expose-headers"].to_str().unwrap().to_lowercase();
    assert!(exposed.contains("x-experience-api-consistent-through") && exposed.contains("etag"), "{exposed}");
    lrs.app.stop().await;
}

#[tokio::test]
async fn credentials_and_scopes() {
    let lrs = spawn().await;
    let s = statement("a@example.com", COMPLETED, "http://example.com/a");
    let res = lrs
        .app
        .http
        .post(lrs.app.url("/api/v1/lrs/xapi/statements"))
        .header("x-experience-api-version", "1.0.3")
        .json(&s)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let bad = format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "mk_nope:nope"));
    assert_eq!(lrs.post_as(s.clone(), "1.0.3", &bad).await.0, 401);
    let refused = lrs.req(Method::GET, "statements", Some("1.0.3"), &bad).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["x-experience-api-version"], "1.0.3", "even a refusal says its version");
    assert!(refused.headers().contains_key("www-authenticate"));

    let reader = basic(&lrs.app, lrs.tenant, &["statements/read"]);
    let res = lrs.post_as(s.clone(), "1.0.3", &reader).await;
    assert_eq!(res.0, 403, "statements/read cannot write");
    let writer = basic(&lrs.app, lrs.tenant, &["statements/write"]);
    let (status, ids) = lrs.post_as(s.clone(), "1.0.3", &writer).await;
    assert_eq!(status, 200);
    let no_scope = basic(&lrs.app, lrs.tenant, &[]);
    let res = lrs.req(Method::GET, "statements", Some("1.0.3"), &no_scope).send().await.unwrap();
    assert_eq!(res.status(), 403);

    // statements/read/mine sees only what that credential stored.
    let mine = basic(&lrs.app, lrs.tenant, &["statements/read/mine", "statements/write"]);
    let (_, my_ids) = lrs.post_as(statement("b@example.com", COMPLETED, "http://example.com/b"), "1.0.3", &mine).await;
    let res: serde_json::Value =
        lrs.req(Method::GET, "statements", Some("1.0.3"), &mine).send().await.unwrap().json().await.unwrap();
    let seen: Vec<&str> = res["statements"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(seen, [my_ids[0].as_str().unwrap()]);
    let other = lrs
        .req(Method::GET, &format!("statements?statementId={}", ids[0].as_str().unwrap()), Some("1.0.3"), &mine)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    // The authority is the credential, whatever the client claimed.
    let mut claimed = statement("c@example.com", COMPLETED, "http://example.com/c");
    claimed["authority"] = json!({ "mbox": "mailto:boss@example.com" });
    let (_, ids) = lrs.post_as(claimed, "1.0.3", &writer).await;
    let (_, got, _) = lrs.get(&format!("?statementId={}", ids[0].as_str().unwrap())).await;
    assert_eq!(got["authority"]["account"]["homePage"], lrs.app.url.as_str());
    assert!(got["authority"]["account"]["name"].as_str().unwrap().starts_with("mk_"));

    // Another tenant's credential sees nothing of this tenant.
    let stranger = basic(&lrs.app, Uuid::now_v7(), &["all"]);
    let res = lrs
        .req(Method::GET, &format!("statements?statementId={}", ids[0].as_str().unwrap()), Some("1.0.3"), &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = lrs.req(Method::GET, "statements", Some("1.0.3"), "Bearer nonsense").send().await.unwrap();
    let res = (res.status(), res.json().await.unwrap());
    assert_problem(&res, 401, "unauthenticated");
    lrs.app.stop().await;
}

#[tokio::test]
async fn alternate_request_syntax_is_1_0_3_only() {
    let lrs = spawn().await;
    let url = lrs.app.url("/api/v1/lrs/xapi/statements");
    let id = Uuid::now_v7().to_string();
    let content = statement("alt@example.com", COMPLETED, "http://example.com/alt").to_string();
    let form = |version: &str, extra: &[(&str, &str)]| {
        let mut f = vec![
            ("Authorization".to_owned(), lrs.basic.clone()),
            ("X-Experience-API-Version".to_owned(), version.to_owned()),
        ];
        f.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        f
    };
    let put = lrs
        .app
        .http
        .post(format!("{url}?method=PUT"))
        .form(&form("1.0.3", &[("statementId", &id), ("Content-Type", "application/json"), ("content", &content)]))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204, "PUT through the form");
    let get = lrs
        .app
        .http
        .post(format!("{url}?method=GET"))
        .form(&form("1.0.3", &[("statementId", &id)]))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let body: serde_json::Value = get.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    let v2 = lrs.app.http.post(format!("{url}?method=GET")).form(&form("2.0.0", &[])).send().await.unwrap();
    assert_eq!(v2.status(), 400, "xAPI 2.0 has no alternate request syntax");
    // Content without a Content-Type field is JSON; the form's fields are the request's
    // headers, so one contradicting a real header is refused, not overridden.
    let id2 = Uuid::now_v7().to_string();
    let both = |form_version: &'static str, id: String| {
        let content = content.clone();
        let (http, url, auth) = (lrs.app.http.clone(), url.clone(), lrs.basic.clone());
        async move {
            http.post(format!("{url}?method=PUT"))
                .header("authorization", auth)
                .header("x-experience-api-version", "1.0.3")
                .form(&[
                    ("statementId", id.as_str()),
                    ("X-Experience-API-Version", form_version),
                    ("content", &content),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = both("0.8", id2.clone()).await;
    assert_eq!(res.status(), 400, "a form version 0.8 is an unsupported version, whatever the real header says");
    assert_eq!(res.headers()["x-experience-api-version"], "2.0.0", "answered in the newest version");
    assert!(res.headers().contains_key("x-experience-api-consistent-through"), "a Statements response, refused or not");
    assert_eq!(both("2.0.0", id2.clone()).await.status(), 400, "two different versions for one request");
    assert_eq!(both("1.0.3", id2.clone()).await.status(), 204, "the same value twice is one header");
    let auth_twice = lrs
        .app
        .http
        .post(format!("{url}?method=GET"))
        .header("authorization", crate::basic(&lrs.app, lrs.tenant, &["all"]))
        .form(&form("1.0.3", &[("statementId", &id)]))
        .send()
        .await
        .unwrap();
    assert_eq!(auth_twice.status(), 400, "two credentials for one request");
    let length = |n: &str| {
        lrs.app
            .http
            .post(format!("{url}?method=PUT"))
            .form(&form("1.0.3", &[("statementId", &id), ("Content-Length", n), ("content", &content)]))
            .send()
    };
    assert_eq!(length("3").await.unwrap().status(), 400, "a Content-Length field that is not the content's");
    assert_eq!(length(&content.len().to_string()).await.unwrap().status(), 204);
    let mixed = lrs.app.http.post(format!("{url}?method=GET&limit=1")).form(&form("1.0.3", &[])).send().await.unwrap();
    assert_eq!(mixed.status(), 400, "other parameters belong in the form");
    let unauth = lrs
        .app
        .http
        .post(format!("{url}?method=GET"))
        .form(&[("X-Experience-API-Version", "1.0.3")])
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    let nope = lrs.req(Method::GET, "nowhere", Some("1.0.3"), &lrs.basic).send().await.unwrap();
    assert_eq!(nope.status(), 404);
    assert_eq!(nope.headers()["content-type"], "application/problem+json");
    lrs.app.stop().await;
}

#[tokio::test]
async fn every_statements_response_is_consistent_and_unknown_parameters_are_refused() {
    let lrs = spawn().await;
    let s = statement("c@example.com", COMPLETED, "http://example.com/c");
    // Communication 2.1.3: Consistent-Through "on all responses to Statements Resource
    // requests" — writes and refusals too.
    let post = lrs.req(Method::POST, "statements", Some("1.0.3"), &lrs.basic).json(&s).send().await.unwrap();
    assert_eq!(post.status(), 200);
    assert!(post.headers().contains_key("x-experience-api-consistent-through"));
    let put = lrs
        .req(Method::PUT, &format!("statements?statementId={}", Uuid::now_v7()), Some("1.0.3"), &lrs.basic)
        .json(&s)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    assert!(put.headers().contains_key("x-experience-api-consistent-through"));
    // Communication 3.2: a parameter the resource does not take is a 400 (and a POST
    // takes none).
    for path in ["statements?foo=bar", &format!("statements?statementId={}", Uuid::now_v7())] {
        let res = lrs.req(Method::POST, path, Some("1.0.3"), &lrs.basic).json(&s).send().await.unwrap();
        assert_eq!(res.status(), 400, "POST {path}");
        assert!(res.headers().contains_key("x-experience-api-consistent-through"));
    }
    // UUID parameters in the one form xAPI uses.
    let id = Uuid::now_v7();
    for odd in [id.simple().to_string(), format!("{{{id}}}"), format!("urn:uuid:{id}")] {
        let res =
            lrs.req(Method::GET, &format!("statements?statementId={}", crate::enc(&odd)), Some("1.0.3"), &lrs.basic);
        assert_eq!(res.send().await.unwrap().status(), 400, "{odd}");
    }
    // A DELETE takes no `since`: it would widen one delete into all.
    let agent = crate::enc(r#"{"mbox":"mailto:c@example.com"}"#);
    let state = format!("activities/state?activityId={}&agent={agent}", crate::enc("http://example.com/c"));
    let put = lrs.req(Method::PUT, &format!("{state}&stateId=keep"), Some("1.0.3"), &lrs.basic).json(&json!({}));
    assert_eq!(put.send().await.unwrap().status(), 204);
    let del = lrs.req(Method::DELETE, &format!("{state}&since=2020-01-01T00:00:00Z"), Some("1.0.3"), &lrs.basic);
    assert_eq!(del.send().await.unwrap().status(), 400);
    assert_eq!(lrs.get_json(&state).await, json!(["keep"]), "nothing deleted");
    lrs.app.stop().await;
}
