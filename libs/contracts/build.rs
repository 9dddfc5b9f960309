//! Embeds every JSON Schema under `schemas/events/` (and its golden example under
//! `schemas/examples/`) into the binary, so the registry is fixed at build time.
use std::{env, fs, path::PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../schemas");
    let events = root.join("events");
    println!("cargo:rerun-if-changed={}", root.display());
    println!("cargo:rerun-if-changed={}", events.display());
    let mut entries: Vec<_> = fs::read_dir(&events)
        .expect("schemas/events exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    let mut out = String::from("pub(crate) static EVENT_SCHEMAS: &[(&str, &str, Option<&str>)] = &[\n");
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let subject = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let example = root.join("examples").join(format!("{subject}.json"));
        println!("cargo:rerun-if-changed={}", example.display());
        let example = if example.exists() {
            format!("Some(include_str!({:?}))", example.canonicalize().unwrap())
        } else {
            "None".to_owned()
        };
        out.push_str(&format!("    ({subject:?}, include_str!({:?}), {example}),\n", path.canonicalize().unwrap()));
    }
    out.push_str("];\n");
    let envelope = root.join("envelope.v1.json").canonicalize().expect("schemas/envelope.v1.json");
    println!("cargo:rerun-if-changed={}", envelope.display());
    out.push_str(&format!("pub(crate) static ENVELOPE_SCHEMA: &str = include_str!({envelope:?});\n"));
    fs::write(PathBuf::from(env::var("OUT_DIR").unwrap()).join("schemas.rs"), out).unwrap();
}
