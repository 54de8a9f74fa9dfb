//! Workspace hygiene that review alone would miss: every source file says what it is for, no
//! test is hidden, and the crates depend on each other only in the allowed direction.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "testdata" {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_doc_comment() {
    let mut files = Vec::new();
    rust_files(&root(), &mut files);
    assert!(files.len() > 10);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` paragraph: {missing:?}"
    );
}

#[test]
fn no_test_is_hidden() {
    let forbidden = [["#[", "ignore"].concat(), ["#[", "should_panic"].concat()];
    let mut files = Vec::new();
    rust_files(&root(), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for attr in &forbidden {
            assert!(
                !text.contains(attr.as_str()),
                "{attr} in {}",
                file.display()
            );
        }
    }
}

/// The names listed under `[dependencies]` in a crate's manifest.
fn dependencies(krate: &str) -> Vec<String> {
    let manifest = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && let Some((name, _)) = line.split_once('=') {
            out.push(name.trim().to_owned());
        }
    }
    out
}

#[test]
fn crate_dependencies_point_the_allowed_way() {
    let forbidden: &[(&str, &[&str])] = &[
        // The processor knows no HL7: the interchange is its only input.
        (
            "event-processor",
            &["hl7", "message-reader", "ids-listener"],
        ),
        // The listener stores bytes; it knows neither the interchange nor the broker.
        ("ids-listener", &["interchange", "lapin", "event-processor"]),
        // The contract depends on no database or broker client.
        ("interchange", &["sqlx", "lapin", "hl7"]),
        ("hl7", &["sqlx", "lapin", "interchange"]),
    ];
    for (krate, banned) in forbidden {
        let deps = dependencies(krate);
        for dep in *banned {
            assert!(
                !deps.iter().any(|d| d == dep),
                "{krate} must not depend on {dep}"
            );
        }
    }
}
