//! Walks every HL7 file in `testdata/` through the header reader.
//!
//! `testdata/index.tsv` (from the shared corpus) says, per file, which message types and versions
//! it holds and what is odd about it. Every file must be read without a panic; every message in a
//! file the index describes as having a standard header must yield its control id, message type
//! and version; every deliberately broken nHapi input must be refused or read without a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

struct Row {
    path: String,
    types: BTreeSet<String>,
    versions: BTreeSet<String>,
    messages: usize,
    notes: String,
}

fn index() -> Vec<Row> {
    let text = std::fs::read_to_string(testdata().join("index.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 9, "index row: {line}");
            let set = |s: &str| s.split(',').map(str::to_owned).collect::<BTreeSet<_>>();
            Row {
                path: cols[0].to_owned(),
                types: set(cols[2]),
                versions: set(cols[3]),
                messages: cols[4].parse().unwrap(),
                notes: cols[8].to_owned(),
            }
        })
        .collect()
}

/// A file the index says holds only ordinary messages with a standard `|^~\&` header.
fn has_standard_header(row: &Row) -> bool {
    row.messages > 0
        && !row.path.contains("BadInputs")
        && !row
            .types
            .iter()
            .any(|t| t.starts_with('(') || !t.is_ascii())
        && !["MSH-2=", "MSH-1!=|", "non-segment-lines", "[SOM]"]
            .iter()
            .any(|odd| row.notes.contains(odd))
}

/// Splits a file into messages at each segment that starts with `MSH`.
fn messages(bytes: &[u8]) -> Vec<&[u8]> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut starts: Vec<usize> = Vec::new();
    for (i, _) in bytes.iter().enumerate() {
        let at_line_start = i == 0 || bytes[i - 1] == b'\r' || bytes[i - 1] == b'\n';
        if at_line_start && bytes[i..].starts_with(b"MSH") {
            starts.push(i);
        }
    }
    let mut out = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(bytes.len());
        out.push(&bytes[start..end]);
    }
    out
}

/// MSH-10 read the naive way (split the first line on `|`), to check the reader against.
fn naive_control_id(message: &[u8]) -> Option<String> {
    let line = message.split(|b| *b == b'\r' || *b == b'\n').next()?;
    let field = line.split(|b| *b == b'|').nth(9)?;
    Some(String::from_utf8_lossy(field).into_owned()).filter(|f| !f.is_empty())
}

#[test]
fn every_indexed_file_is_read_without_panic_and_standard_headers_are_right() {
    let rows = index();
    assert!(rows.len() > 600, "the whole index is present");
    let mut checked_messages = 0;
    for row in &rows {
        let bytes = std::fs::read(testdata().join(&row.path)).unwrap();
        let _ = hl7::read_header(&bytes);
        if !has_standard_header(row) {
            continue;
        }
        let found = messages(&bytes);
        assert_eq!(found.len(), row.messages, "{}: message count", row.path);
        for message in found {
            let header = hl7::read_header(message).unwrap_or_else(|e| panic!("{}: {e}", row.path));
            let kind = match (&header.message_type, &header.trigger_event) {
                (Some(t), Some(e)) => format!("{t}^{e}"),
                (Some(t), None) => t.clone(),
                _ => String::from("(empty MSH-9)"),
            };
            assert!(row.types.contains(&kind), "{}: type {kind}", row.path);
            let version = header
                .version_id
                .clone()
                .unwrap_or_else(|| "(empty)".into());
            assert!(
                row.versions.contains(&version) || row.versions.contains("-"),
                "{}: version {version}",
                row.path
            );
            assert_eq!(header.control_id, naive_control_id(message), "{}", row.path);
            checked_messages += 1;
        }
    }
    assert!(
        checked_messages > 650,
        "checked {checked_messages} messages"
    );
}

#[test]
fn every_emap_message_yields_its_header() {
    let rows = index();
    let emap: Vec<&Row> = rows
        .iter()
        .filter(|r| r.path.starts_with("UCLH-DHCT__emap/"))
        .collect();
    assert_eq!(emap.len(), 197);
    for row in emap {
        let bytes = std::fs::read(testdata().join(&row.path)).unwrap();
        for message in messages(&bytes) {
            let header = hl7::read_header(message).unwrap_or_else(|e| panic!("{}: {e}", row.path));
            assert!(header.message_type.is_some(), "{}", row.path);
            assert!(header.control_id.is_some(), "{}", row.path);
            assert!(header.version_id.is_some(), "{}", row.path);
        }
    }
}

#[test]
fn every_file_in_testdata_is_read_without_panic() {
    fn walk(dir: &Path, seen: &mut usize) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, seen);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let _ = hl7::read_header(&bytes);
                for message in messages(&bytes) {
                    let _ = hl7::read_header(message);
                }
                *seen += 1;
            }
        }
    }
    let mut seen = 0;
    walk(&testdata(), &mut seen);
    assert!(seen > 700, "walked {seen} files");
}

#[test]
fn nhapi_bad_inputs_are_refused_or_read_without_panic() {
    let rows = index();
    let bad: Vec<&Row> = rows
        .iter()
        .filter(|r| r.path.contains("nHapi") && r.path.contains("BadInputs"))
        .collect();
    assert!(bad.len() > 20);
    let mut refused = 0;
    for row in &bad {
        let bytes = std::fs::read(testdata().join(&row.path)).unwrap();
        match hl7::read_header(&bytes) {
            Err(_) => refused += 1,
            // A readable MSH in a broken message: the body's problems are the parser's to find.
            Ok(header) => assert!(header.delimiters.field.is_ascii_punctuation()),
        }
    }
    // Those whose MSH-2 is digits or empty cannot be read; the index names them.
    let unreadable = bad
        .iter()
        .filter(|r| {
            r.notes.contains("MSH-2=0")
                || r.notes.ends_with("MSH-2=")
                || r.notes.contains("MSH-2=;")
                || r.messages == 0
        })
        .count();
    assert!(
        refused >= unreadable,
        "refused {refused} of {unreadable} unreadable"
    );
}
