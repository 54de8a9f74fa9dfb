//! The wire format's edges: bad input gives typed errors naming the field, the JSON Schema covers
//! every class, and `docs/interchange.md` shows the format as this crate writes it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use interchange::{Message, adt};

#[test]
fn malformed_json_is_a_typed_error() {
    let error = Message::from_json(b"{not json").unwrap_err();
    assert!(!error.message.is_empty());
    let error = Message::from_json(b"").unwrap_err();
    assert!(error.to_string().starts_with("invalid interchange message"));
}

#[test]
fn an_unknown_class_is_a_typed_error_naming_it() {
    let error = Message::from_json(br#"{"@class": "uk.example.Nope", "mrn": "1"}"#).unwrap_err();
    assert!(error.message.contains("uk.example.Nope"), "{error}");
    let error = Message::from_json(br#"{"mrn": "1"}"#).unwrap_err();
    assert!(error.message.contains("@class"), "{error}");
}

#[test]
fn a_bad_field_is_named_by_its_path() {
    let json = br#"{"@class": "uk.ac.ucl.rits.inform.interchange.lab.LabOrderMsg",
        "labResultMsgs": [{"@class": "uk.ac.ucl.rits.inform.interchange.lab.LabResultMsg",
                           "numericValue": {"status": "SAVE", "value": "not a number"}}]}"#;
    let error = Message::from_json(json).unwrap_err();
    assert!(error.path.contains("labResultMsgs"), "{error}");
    assert!(error.path.contains("numericValue"), "{error}");
    let json = br#"{"@class": "uk.ac.ucl.rits.inform.interchange.adt.AdmitPatient",
                    "recordedDateTime": "yesterday"}"#;
    let error = Message::from_json(json).unwrap_err();
    assert!(error.path.contains("recordedDateTime"), "{error}");
}

#[test]
fn unknown_fields_are_tolerated_and_defaults_apply() {
    let json = br#"{"@class": "uk.ac.ucl.rits.inform.interchange.adt.AdmitPatient",
                    "mrn": "1", "someFutureField": {"x": 1}}"#;
    let Message::AdmitPatient(admit) = Message::from_json(json).unwrap() else {
        panic!("an AdmitPatient");
    };
    assert_eq!(admit.adt.mrn.as_deref(), Some("1"));
    assert!(admit.admission_date_time.is_unknown());
    // LabResultMsg.abnormalFlag alone defaults to DELETE.
    let result: interchange::lab::LabResultMsg = serde_json::from_str("{}").unwrap();
    assert!(result.abnormal_flag.is_plain_delete());
    assert!(result.units.is_unknown());
}

#[test]
fn messages_round_trip_through_bytes() {
    let admit = adt::AdmitPatient {
        adt: adt::AdtFields {
            source_message_id: Some("42".into()),
            source_system: Some("EPIC".into()),
            mrn: Some("40800000".into()),
            patient_family_name: interchange::Iv::delete(),
            ..Default::default()
        },
        ..Default::default()
    };
    let message = Message::from(admit);
    let bytes = message.to_json();
    assert_eq!(Message::from_json(&bytes).unwrap(), message);
    assert_eq!(message.source_message_id(), Some("42"));
}

#[test]
fn the_json_schema_covers_every_class() {
    let schema = serde_json::to_string(&interchange::json_schema()).unwrap();
    for class in Message::CLASS_NAMES {
        assert!(schema.contains(class), "{class} missing from the schema");
    }
    assert!(schema.contains("InterchangeValue"));
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One example per class: the first EMAP fixture of that class, as this crate writes it.
fn examples() -> BTreeMap<&'static str, String> {
    let root = repo_root().join("testdata/UCLH-DHCT__emap/emap-interchange/src/test/resources");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.to_string_lossy().contains("_defaults") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = BTreeMap::new();
    for file in files {
        let value: serde_json::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let items = match value {
            serde_json::Value::Array(items) => items,
            single => vec![single],
        };
        for item in items {
            if let Ok(message) = serde_json::from_value::<Message>(item) {
                out.entry(message.class_name())
                    .or_insert_with(|| serde_json::to_string_pretty(&message).unwrap());
            }
        }
    }
    let implied = Message::from(adt::ImpliedAdtMessage {
        adt: adt::AdtFields {
            source_message_id: Some("1234".into()),
            source_system: Some("WinPath".into()),
            mrn: Some("40800000".into()),
            visit_number: Some("123412341234".into()),
            ..Default::default()
        },
    });
    out.insert(
        implied.class_name(),
        serde_json::to_string_pretty(&implied).unwrap(),
    );
    out
}

#[test]
fn docs_show_one_current_example_per_class() {
    let path = repo_root().join("docs/interchange.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let marker = "<!-- examples: generated by `UPDATE_EXPECT=1 cargo test -p interchange --test wire`; do not edit below -->";
    let head = text
        .split(marker)
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned();
    let mut generated = format!("{head}\n\n{marker}\n");
    let examples = examples();
    assert_eq!(
        examples.len(),
        Message::CLASS_NAMES.len(),
        "an example for every class"
    );
    for class in Message::CLASS_NAMES {
        let short = class.rsplit('.').next().unwrap();
        generated.push_str(&format!(
            "\n### {short}\n\n```json\n{}\n```\n",
            examples[class]
        ));
    }
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &generated).unwrap();
    } else {
        assert!(
            text == generated,
            "docs/interchange.md is out of date: run UPDATE_EXPECT=1 cargo test -p interchange --test wire"
        );
    }
}
