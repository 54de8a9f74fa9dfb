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
        (
            "ids-listener",
            &["interchange", "lapin", "broker", "event-processor"],
        ),
        // The broker crate is transport: no database, no HL7, no stage.
        (
            "broker",
            &["sqlx", "hl7", "message-reader", "event-processor"],
        ),
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

/// The message families of the event-processor: its module folders other than `engine`.
fn processor_families() -> Vec<String> {
    let src = root().join("event-processor/src");
    let mut families: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "engine")
        .collect();
    families.sort();
    families
}

/// The paths a file names a module by, as written: `crate::x`, `super::x` (one level up from a
/// folder's module is the crate root) and `crate::{x, …}`.
fn names_module(text: &str, module: &str, in_folder_root: bool) -> bool {
    let direct = [
        format!("crate::{module}"),
        format!("super::super::{module}"),
    ];
    if direct
        .iter()
        .any(|d| text.contains(&format!("{d}::")) || text.contains(&format!("{d};")))
    {
        return true;
    }
    if in_folder_root && text.contains(&format!("super::{module}")) {
        return true;
    }
    text.split("crate::{").skip(1).any(|rest| {
        let list = rest.split('}').next().unwrap_or_default();
        list.split(',')
            .any(|item| item.trim().split("::").next() == Some(module))
    })
}

#[test]
fn the_processor_engine_names_no_family_and_families_name_only_the_engine() {
    let src = root().join("event-processor/src");
    let families = processor_families();
    assert!(families.contains(&"adt".to_owned()), "{families:?}");
    let mut engine = Vec::new();
    rust_files(&src.join("engine"), &mut engine);
    assert!(engine.len() >= 5);
    for file in &engine {
        let text = std::fs::read_to_string(file).unwrap();
        let folder_root = file.ends_with("mod.rs");
        for family in &families {
            assert!(
                !names_module(&text, family, folder_root),
                "{} names the {family} family: the engine must dispatch through its Family table",
                file.display()
            );
        }
    }
    for family in &families {
        let mut files = Vec::new();
        rust_files(&src.join(family), &mut files);
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let folder_root = file.ends_with("mod.rs");
            for other in families.iter().filter(|f| *f != family) {
                assert!(
                    !names_module(&text, other, folder_root),
                    "{} (family {family}) names the {other} family",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn the_family_check_sees_every_way_of_naming_a_module() {
    assert!(names_module("use crate::adt::Keys;", "adt", false));
    assert!(names_module("use crate::{Context, adt};", "adt", false));
    assert!(names_module("crate::adt::apply(x)", "adt", false));
    assert!(names_module("use super::super::adt::tables;", "adt", false));
    assert!(names_module("use super::adt::tables;", "adt", true));
    assert!(!names_module("use super::adt::tables;", "adt", false));
    assert!(!names_module("use crate::engine::identity;", "adt", false));
    assert!(!names_module("// an adt message", "adt", true));
}
