//! Contracts: every published subject has a schema and a golden example that validates;
//! each service's committed OpenAPI matches the code; services never depend on each other.

use std::{collections::BTreeSet, fs, path::Path};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Subject literals (`"<context>.<aggregate>.<event>.vN"`) in service, kit and contract sources.
fn published_subjects() -> BTreeSet<String> {
    let mut files = vec![];
    for d in ["services", "libs/kit/src", "libs/contracts/src"] {
        rust_files(&root().join(d), &mut files);
    }
    let mut out = BTreeSet::new();
    for f in files.iter().filter(|f| !f.to_string_lossy().contains("/tests/")) {
        let text = fs::read_to_string(f).unwrap();
        for lit in text.split('"').skip(1).step_by(2) {
            let parts: Vec<&str> = lit.split('.').collect();
            let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            if parts.len() == 4
                && word(parts[0])
                && word(parts[1])
                && word(parts[2])
                && parts[3].strip_prefix('v').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            {
                out.insert(lit.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_subject_has_a_schema_and_a_valid_golden_example() {
    let registered: BTreeSet<String> = mirai_contracts::subjects().map(|c| c.subject.to_owned()).collect();
    let used = published_subjects();
    assert!(used.len() >= 10, "found the subjects in code: {used:?}");
    let missing: Vec<_> = used.difference(&registered).collect();
    assert!(missing.is_empty(), "subjects without a schema in schemas/events: {missing:?}");
    for c in mirai_contracts::subjects() {
        let example = c.example.as_ref().unwrap_or_else(|| panic!("{} has no schemas/examples/{0}.json", c.subject));
        mirai_contracts::validate_envelope(example).unwrap_or_else(|e| panic!("{} example envelope: {e}", c.subject));
        assert_eq!(example["type"], c.subject, "example type");
        assert_eq!(example["dataschema"], mirai_contracts::schema_id(c.subject));
        assert_eq!(c.schema["$id"], mirai_contracts::schema_id(c.subject), "schema $id");
        c.validate(&example["data"]).unwrap_or_else(|e| panic!("{} example data: {e}", c.subject));
        let mut broken = example["data"].clone();
        broken["unexpected_property"] = serde_json::json!(1);
        assert!(c.validate(&broken).is_err(), "{} refuses unknown properties", c.subject);
    }
}

#[test]
fn committed_openapi_matches_the_code() {
    let update = std::env::var("MIRAI_UPDATE_OPENAPI").is_ok();
    for s in mirai::services() {
        let spec = serde_json::to_string_pretty(&s.openapi_document()).unwrap() + "\n";
        let path = root().join(format!("schemas/openapi/{}.json", s.name));
        if update {
            fs::write(&path, &spec).unwrap();
            continue;
        }
        let committed = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == spec,
            "schemas/openapi/{}.json is out of date; run `make openapi` (or MIRAI_UPDATE_OPENAPI=1 make test)",
            s.name
        );
        let v: serde_json::Value = serde_json::from_str(&spec).unwrap();
        assert!(v["openapi"].as_str().unwrap().starts_with("3.1"), "OpenAPI 3.1");
        let prefix = format!("/api/v1/{}/", s.name);
        for p in v["paths"].as_object().unwrap().keys() {
            assert!(p.starts_with(&prefix), "{} path {p} is under {prefix}", s.name);
        }
    }
}

/// The typed client (clients/mirai-client) is generated for every service in the binary.
#[test]
fn the_generated_client_covers_every_service() {
    let build = fs::read_to_string(root().join("clients/mirai-client/build.rs")).unwrap();
    let lib = fs::read_to_string(root().join("clients/mirai-client/src/lib.rs")).unwrap();
    for s in mirai::services() {
        assert!(build.contains(&format!("\"{}\"", s.name)), "clients/mirai-client/build.rs: SERVICES lacks {}", s.name);
        let module = s.name.replace('-', "_");
        assert!(
            lib.contains(&format!("pub mod {module} ")),
            "clients/mirai-client/src/lib.rs lacks `pub mod {module}`"
        );
    }
}

/// Services talk through events and HTTP only. A test may start another service next to
/// the one it tests (a producer of the events it consumes), so dev-dependencies may.
#[test]
fn no_service_depends_on_another_service() {
    let services: Vec<String> = fs::read_dir(root().join("services"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().trim_start_matches('_').to_owned())
        .collect();
    for s in &services {
        let dir = if s == "template" { "_template".to_owned() } else { s.clone() };
        let manifest = fs::read_to_string(root().join(format!("services/{dir}/Cargo.toml"))).unwrap();
        let manifest = manifest.split("[dev-dependencies]").next().unwrap();
        for other in services.iter().filter(|o| *o != s) {
            assert!(!manifest.contains(&format!("mirai-{other}")), "services/{s} depends on mirai-{other}");
        }
    }
}

#[test]
fn kong_routes_cover_every_service_and_nothing_else() {
    let kong: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&fs::read_to_string(root().join("deploy/kong/kong.yml")).unwrap()).unwrap();
    let services = mirai::services();
    let mut routed: BTreeSet<String> = BTreeSet::new();
    for ks in kong["services"].as_sequence().unwrap() {
        let kong_name = ks["name"].as_str().unwrap();
        // A Kong service is a Mirai service by name, or a second one of it named
        // `<service>-<what>` (`lrs-xapi`: an alias path for xAPI clients). Names may hold
        // hyphens themselves (`ai-gateway`), so the longest matching service wins.
        let name = services
            .iter()
            .map(|s| s.name)
            .filter(|n| kong_name == *n || kong_name.starts_with(&format!("{n}-")))
            .max_by_key(|n| n.len())
            .unwrap_or_else(|| panic!("Kong service `{kong_name}` is not a Mirai service"));
        let url = ks["url"].as_str().unwrap();
        assert!(url.contains(&format!("mirai-{name}.")), "Kong service `{kong_name}` points at its Deployment");
        let upstream_path = url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
        for route in ks["routes"].as_sequence().unwrap() {
            let strip = route["strip_path"].as_bool().unwrap_or(true);
            for p in route["paths"].as_sequence().unwrap() {
                let p = p.as_str().unwrap();
                // What reaches the service: the route's path, or the upstream path when stripped.
                let reaches = if strip { upstream_path.clone() } else { p.to_owned() };
                assert!(
                    reaches.starts_with(&format!("/api/v1/{name}")),
                    "route {p} of `{kong_name}` reaches {reaches}"
                );
                if !strip {
                    routed.insert(p.to_owned());
                }
            }
        }
    }
    for s in &services {
        let prefix = format!("/api/v1/{}", s.name);
        assert!(routed.contains(&prefix), "no Kong route for {prefix}");
        let spec = s.openapi_document();
        for path in spec["paths"].as_object().unwrap().keys() {
            assert!(routed.iter().any(|r| path.starts_with(r.as_str())), "OpenAPI path {path} has no Kong route");
        }
    }
}

/// One list of services (`mirai::services()`) drives the binary; the Helm values, the
/// dashboard and the migrations must name exactly those services, hyphenated names too.
#[test]
fn helm_values_dashboard_and_migrations_name_exactly_the_services_in_code() {
    let code: BTreeSet<String> = mirai::services().iter().map(|s| s.name.to_owned()).collect();
    let values: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&fs::read_to_string(root().join("deploy/helm/mirai/values.yaml")).unwrap()).unwrap();
    let helm: BTreeSet<String> =
        values["services"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()).collect();
    assert_eq!(helm, code, "deploy/helm/mirai/values.yaml `services:` must list every service, and only those");
    let dashboard = fs::read_to_string(root().join("deploy/grafana/mirai-fleet.json")).unwrap();
    let rows: BTreeSet<String> = serde_json::from_str::<serde_json::Value>(&dashboard).unwrap()["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["title"].as_str()?.strip_prefix("Service: ").map(str::to_owned))
        .collect();
    assert_eq!(rows, code, "deploy/grafana: one `Service: <name>` row per service (deploy/grafana/generate.py)");
    for s in mirai::services() {
        assert!(!s.migrations.is_empty(), "migrations/{}/ holds the service's migrations", s.name);
    }
}

/// The NATS permissions the local server and the chart run with are the ones the code
/// declares (`Service::CONSUMERS`, `Service::SUBSCRIBES`): regenerate with `make nats-auth`.
#[test]
fn committed_nats_permissions_match_the_code() {
    use mirai_kit::nats_auth::{Mode, render};
    let dev = render(&[mirai::services(), mirai::example_services()].concat(), Mode::Dev);
    let prod = render(&mirai::services(), Mode::Prod);
    for (path, want) in [("deploy/nats/auth.dev.conf", dev), ("deploy/helm/mirai/files/nats-auth.conf", prod)] {
        let got = fs::read_to_string(root().join(path)).unwrap_or_default();
        assert_eq!(got, want, "{path} is stale: run `make nats-auth`");
    }
}
