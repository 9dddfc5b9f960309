//! Embeds every service's migrations from `migrations/<service>/NNNN_<name>.sql`, so a
//! service names only itself (`db::migrations("tenant")`) and a new migration is a new
//! file, never a hand-edited list. Versions come from the file names and must count up
//! from 1 without gaps.
use std::{env, fs, path::PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../migrations");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut services: Vec<_> = fs::read_dir(&root)
        .expect("migrations/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    services.sort();
    let mut out = String::from("pub(crate) static EMBEDDED: &[(&str, &[Migration])] = &[\n");
    for dir in services {
        println!("cargo:rerun-if-changed={}", dir.display());
        let service = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        out.push_str(&format!("    ({service:?}, &[\n"));
        for (i, path) in files.iter().enumerate() {
            println!("cargo:rerun-if-changed={}", path.display());
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let (number, name) = stem
                .split_once('_')
                .unwrap_or_else(|| panic!("migrations/{service}/{stem}.sql: name it NNNN_<what>.sql"));
            let version: i32 =
                number.parse().unwrap_or_else(|_| panic!("migrations/{service}/{stem}.sql: NNNN must be a number"));
            assert_eq!(version, i as i32 + 1, "migrations/{service}: versions count up from 1 without gaps ({stem})");
            out.push_str(&format!(
                "        Migration {{ version: {version}, name: {name:?}, sql: include_str!({:?}) }},\n",
                path.canonicalize().unwrap()
            ));
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n");
    fs::write(PathBuf::from(env::var("OUT_DIR").unwrap()).join("migrations.rs"), out).unwrap();
}
