//! Conformance with EMAP: every one of EMAP's 171 interchange YAML fixtures reads into the typed
//! model, and writes back without losing anything.
//!
//! The fixtures live in `testdata/UCLH-DHCT__emap/emap-interchange/src/test/resources`. Some are
//! partial and only mean something combined, as EMAP's tests combine them (the `_defaults`
//! overlay rule in `testdata/MANIFEST.md`):
//! - `<stem>.yaml` lists of lab orders are updated with `<stem>_order_defaults.yaml` (orders),
//!   `_result_defaults` (results), `_micro_isolate_defaults` (isolates) and
//!   `_micro_result_defaults` (sensitivities); flowsheet lists with `<stem>_defaults.yaml`.
//!   An update overwrites the fields it names (Jackson's `readerForUpdating`).
//! - Order steps `NN_<name>.yaml` without `@class` are `orm_defaults.yaml` overridden by the step.
//! - Every defaults file is also read on its own, as the class it gives defaults for.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::DateTime;
use interchange::Message;
use interchange::lab::{LabIsolateMsg, LabOrderMsg, LabResultMsg};
use interchange::observation::Flowsheet;
use serde_json::Value;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/UCLH-DHCT__emap/emap-interchange/src/test/resources")
}

fn all_fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixtures_root(), &mut out);
    out.sort();
    out
}

fn load(path: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Jackson's `readerForUpdating`: the update's fields replace the target's.
fn update(target: &mut Value, with: &Value) {
    if let (Some(target), Some(with)) = (target.as_object_mut(), with.as_object()) {
        for (key, value) in with {
            target.insert(key.clone(), value.clone());
        }
    }
}

fn sibling(path: &Path, name: &str) -> PathBuf {
    path.with_file_name(name)
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Reads a file of partial defaults as the class it gives defaults for.
fn check_defaults_alone(path: &Path) -> Result<(), String> {
    let value = load(path);
    let name = stem(path);
    let result = if name.ends_with("micro_isolate_defaults") {
        serde_json::from_value::<LabIsolateMsg>(value).map(|_| ())
    } else if name.ends_with("result_defaults") {
        serde_json::from_value::<LabResultMsg>(value).map(|_| ())
    } else if name.ends_with("order_defaults") || name == "orm_defaults" {
        serde_json::from_value::<LabOrderMsg>(strip_class(value)).map(|_| ())
    } else if path.parent().is_some_and(|p| p.ends_with("Flowsheets")) {
        serde_json::from_value::<Flowsheet>(value).map(|_| ())
    } else {
        return Err(format!("no rule for defaults file {name}"));
    };
    result.map_err(|e| e.to_string())
}

fn strip_class(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("@class");
    }
    value
}

/// The complete messages a fixture stands for, after applying EMAP's overlay rules; `None` for
/// a defaults file (checked alone).
fn messages_of(path: &Path) -> Option<Vec<Value>> {
    let name = stem(path);
    if name.ends_with("_defaults") {
        return None;
    }
    let raw = load(path);
    // An order step: orm_defaults overridden by the step.
    if raw.is_object() && raw.get("@class").is_none() {
        let mut base = load(&sibling(path, "orm_defaults.yaml"));
        update(&mut base, &raw);
        return Some(vec![base]);
    }
    let mut items = match raw {
        Value::Array(items) => items,
        single => vec![single],
    };
    let overlay = |suffix: &str| {
        let file = sibling(path, &format!("{name}_{suffix}.yaml"));
        file.exists().then(|| load(&file))
    };
    let (orders, results, isolates, sensitivities, flowsheets) = (
        overlay("order_defaults"),
        overlay("result_defaults"),
        overlay("micro_isolate_defaults"),
        overlay("micro_result_defaults"),
        overlay("defaults"),
    );
    for item in &mut items {
        if let Some(defaults) = &flowsheets {
            update(item, defaults);
        }
        if let Some(defaults) = &orders {
            update(item, defaults);
        }
        let Some(lab_results) = item.get_mut("labResultMsgs").and_then(Value::as_array_mut) else {
            continue;
        };
        for result in lab_results {
            if let Some(defaults) = &results {
                update(result, defaults);
            }
            let Some(isolate) = result.get_mut("labIsolate").filter(|v| v.is_object()) else {
                continue;
            };
            if let Some(defaults) = &isolates {
                update(isolate, defaults);
            }
            if let Some(list) = isolate
                .get_mut("sensitivities")
                .and_then(Value::as_array_mut)
            {
                for sensitivity in list {
                    if let Some(defaults) = &sensitivities {
                        update(sensitivity, defaults);
                    }
                }
            }
        }
    }
    Some(items)
}

/// Whether everything `input` says is said by `output` too: nulls, IGNORE values and empty
/// collections may be left out, numbers compare as numbers, instants as instants, ids written
/// as numbers may come back as strings, and byte lists may come back as base64.
fn covers(input: &Value, output: Option<&Value>, path: &str, problems: &mut Vec<String>) {
    let says_nothing = match input {
        Value::Null => true,
        Value::Object(o) => {
            o.get("status").and_then(Value::as_str) == Some("IGNORE")
                || (o.is_empty())
                || (path.ends_with("abnormalFlag")
                    && o.get("status").and_then(Value::as_str) == Some("DELETE")
                    && o.get("value").is_none_or(Value::is_null))
        }
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    let Some(output) = output else {
        if !says_nothing {
            problems.push(format!("{path}: lost"));
        }
        return;
    };
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (key, value) in i {
                covers(value, o.get(key), &format!("{path}.{key}"), problems);
            }
        }
        (Value::Array(i), Value::Array(o)) if i.len() == o.len() => {
            for (n, (a, b)) in i.iter().zip(o).enumerate() {
                covers(a, Some(b), &format!("{path}[{n}]"), problems);
            }
        }
        (Value::Array(i), Value::String(b64)) => {
            let bytes: Vec<u8> = i.iter().map(|v| v.as_i64().unwrap_or(0) as u8).collect();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default();
            if bytes != decoded {
                problems.push(format!("{path}: bytes differ"));
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (Value::Number(a), Value::String(b)) if a.to_string() == *b => {}
        (Value::String(a), Value::String(b)) if a == b => {}
        (Value::String(a), Value::String(b)) => {
            match (
                DateTime::parse_from_rfc3339(a),
                DateTime::parse_from_rfc3339(b),
            ) {
                (Ok(x), Ok(y)) if x == y => {}
                _ => problems.push(format!("{path}: {a:?} became {b:?}")),
            }
        }
        (a, b) if a == b => {}
        (a, b) => problems.push(format!("{path}: {a} became {b}")),
    }
}

#[test]
fn all_171_emap_fixtures_read_and_round_trip() {
    let fixtures = all_fixtures();
    assert_eq!(fixtures.len(), 171, "EMAP's fixture set is complete");
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut messages_checked = 0;
    let mut classes_seen = std::collections::BTreeSet::new();
    for path in &fixtures {
        let name = path
            .strip_prefix(fixtures_root())
            .unwrap()
            .display()
            .to_string();
        let mut problems = Vec::new();
        match messages_of(path) {
            None => {
                if let Err(e) = check_defaults_alone(path) {
                    problems.push(e);
                }
            }
            Some(messages) => {
                assert!(!messages.is_empty(), "{name} holds messages");
                for (n, json) in messages.iter().enumerate() {
                    let typed: Message = match serde_json::from_value(json.clone()) {
                        Ok(typed) => typed,
                        Err(e) => {
                            problems.push(format!("[{n}] does not read: {e}"));
                            continue;
                        }
                    };
                    match Message::from_json(&serde_json::to_vec(json).unwrap()) {
                        Ok(from_bytes) if from_bytes == typed => {}
                        other => problems.push(format!("[{n}] from_json disagrees: {other:?}")),
                    }
                    classes_seen.insert(typed.class_name());
                    let written = serde_json::to_value(&typed).unwrap();
                    let again: Message = serde_json::from_value(written.clone()).unwrap();
                    if again != typed {
                        problems.push(format!("[{n}] typed → JSON → typed differs"));
                    }
                    if serde_json::to_value(&again).unwrap() != written {
                        problems.push(format!("[{n}] JSON → typed → JSON is not stable"));
                    }
                    covers(json, Some(&written), &format!("[{n}]"), &mut problems);
                    messages_checked += 1;
                }
            }
        }
        if !problems.is_empty() {
            failures.insert(name, problems);
        }
    }
    assert!(failures.is_empty(), "fixtures failing: {failures:#?}");
    assert!(
        messages_checked > 150,
        "{messages_checked} messages checked"
    );
    // Every top-level class appears in EMAP's fixtures except the implied ADT message, which
    // EMAP's tests only ever produce and drop (no fixture carries it).
    let missing: Vec<_> = Message::CLASS_NAMES
        .iter()
        .filter(|c| !classes_seen.contains(*c))
        .collect();
    assert_eq!(
        missing,
        [&"uk.ac.ucl.rits.inform.interchange.adt.ImpliedAdtMessage"]
    );
}

#[test]
fn field_values_land_where_emap_puts_them() {
    let json = load(&fixtures_root().join("AdtMessages/generic/A02.yaml"));
    let Message::TransferPatient(transfer) = serde_json::from_value(json).unwrap() else {
        panic!("A02 is a TransferPatient");
    };
    assert_eq!(transfer.adt.mrn.as_deref(), Some("40800000"));
    assert_eq!(transfer.adt.visit_number.as_deref(), Some("123412341234"));
    assert_eq!(
        transfer
            .adt
            .full_location_string
            .saved()
            .map(String::as_str),
        Some("T12S^T12S BY05^BY05-33")
    );
    assert_eq!(
        transfer.adt.patient_class.saved(),
        Some(&interchange::adt::PatientClass::Inpatient)
    );
    assert_eq!(
        transfer.adt.recorded_date_time.unwrap().to_rfc3339(),
        "2013-03-12T11:44:20+00:00"
    );
    assert!(transfer.adt.patient_death_date_time.is_unknown());
    let message = Message::TransferPatient(transfer);
    assert_eq!(message.source_system(), Some("EPIC"));
    assert_eq!(
        message.partition_key(),
        interchange::PartitionKey::Patient("40800000".into())
    );
    // EVN-6 (event occurred, 11:44:19) wins over EVN-2 (recorded, 11:44:20).
    assert_eq!(
        message.valid_from().unwrap().to_rfc3339(),
        "2013-03-12T11:44:19+00:00"
    );
}

#[test]
fn merges_and_swaps_name_both_patients() {
    let json = load(&fixtures_root().join("AdtMessages/generic/A40.yaml"));
    let message: Message = serde_json::from_value(json).unwrap();
    let interchange::PartitionKey::Patients(survivor, retired) = message.partition_key() else {
        panic!("a merge names two patients");
    };
    assert_ne!(survivor, retired);
}
