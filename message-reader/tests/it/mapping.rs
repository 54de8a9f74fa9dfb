//! Conformance with EMAP's reader: every ADT pair in EMAP's `hl7_to_interchange_yaml.tsv` (46
//! pairs) maps to exactly the expected interchange message, compared field by field (every
//! scalar and every tri-state status and value), ignoring `sourceMessageId` as EMAP does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use interchange::Message;
use message_reader::{Mapped, SiteConfig, map_message};
use serde_json::Value;

use crate::pairs::{comparable, differences, emap};

struct Pair {
    hl7: String,
    yaml: String,
    exactly_one: bool,
}

fn adt_pairs() -> Vec<Pair> {
    let table = std::fs::read_to_string(emap().join("hl7_to_interchange_yaml.tsv")).unwrap();
    table
        .lines()
        .skip(1)
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .filter(|cols| cols[1].contains("/resources/Adt/"))
        .map(|cols| Pair {
            hl7: cols[1].to_owned(),
            yaml: cols[2].to_owned(),
            exactly_one: cols[4].contains("exactly 1"),
        })
        .collect()
}

#[test]
fn every_emap_adt_pair_maps_to_the_expected_interchange_message() {
    let pairs = adt_pairs();
    assert_eq!(pairs.len(), 46, "EMAP's 46 ADT pairs");
    let site = SiteConfig::default();
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in &pairs {
        let bytes = std::fs::read(emap().join(&pair.hl7)).unwrap();
        let expected_json: Value =
            serde_yaml::from_str(&std::fs::read_to_string(emap().join(&pair.yaml)).unwrap())
                .unwrap();
        let expected: Message = serde_json::from_value(expected_json).unwrap();
        let name = pair.hl7.rsplit("resources/").next().unwrap().to_owned();
        let problems = match map_message(&bytes, "42", &site) {
            Err(error) => vec![format!("error: {error}")],
            Ok(Mapped::Ignored(ignored)) => vec![format!("ignored: {}", ignored.reason)],
            Ok(Mapped::Messages(messages)) if pair.exactly_one && messages.len() != 1 => {
                vec![format!("{} messages, expected exactly 1", messages.len())]
            }
            Ok(Mapped::Messages(messages)) => match messages.first() {
                None => vec!["no message".to_owned()],
                Some(actual) => {
                    assert_eq!(actual.source_message_id(), Some("42"));
                    differences(&comparable(&expected), &comparable(actual))
                }
            },
        };
        if !problems.is_empty() {
            failures.insert(name, problems);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 46 pairs differ: {failures:#?}",
        failures.len()
    );
}

/// Every HL7 file in `testdata/`, walked for the no-panic guarantee.
fn all_testdata_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "md" | "tsv" | "pdf")
            ) {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn every_testdata_message_maps_or_is_ignored_or_is_an_error() {
    let site = SiteConfig::default();
    let (mut mapped, mut ignored, mut errors) = (0, 0, 0);
    for file in all_testdata_files() {
        let bytes = std::fs::read(&file).unwrap();
        let mut messages = hl7::split_messages(&bytes);
        if messages.is_empty() {
            messages.push(&bytes);
        }
        for message in messages {
            match map_message(message, "1", &site) {
                Ok(Mapped::Messages(list)) => {
                    assert!(!list.is_empty(), "{}", file.display());
                    for m in &list {
                        // What the reader publishes must read back as the same message.
                        assert_eq!(&Message::from_json(&m.to_json()).unwrap(), m);
                    }
                    mapped += 1;
                }
                Ok(Mapped::Ignored(reason)) => {
                    assert!(!reason.reason.is_empty());
                    ignored += 1;
                }
                Err(error) => {
                    assert!(!error.to_string().is_empty());
                    errors += 1;
                }
            }
        }
    }
    assert!(mapped > 150, "mapped {mapped}");
    assert!(ignored > 100, "ignored {ignored}");
    assert!(errors > 10, "errors {errors}: the corpus has broken inputs");
}
