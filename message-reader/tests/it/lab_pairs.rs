//! Conformance with EMAP's reader for labs: EMAP's WinPath, CoPath and imaging pairs in
//! `hl7_to_interchange_yaml.tsv` map to exactly the expected `LabOrderMsg`s, each expected
//! order being EMAP's order defaults overlaid with the listed fields and each result the result
//! defaults overlaid with its own (as EMAP's tests build them), compared field by field through
//! the typed model, ignoring `sourceMessageId` and the implied ADT as EMAP's tests do.

use interchange::Message;
use message_reader::{Mapped, SiteConfig, map_message};
use serde_json::Value;

use crate::pairs::{comparable, differences, emap};

struct Pair {
    hl7: String,
    yaml: String,
    overlays: Vec<String>,
}

/// EMAP's lab pairs: WinPath, CoPath and imaging.
fn lab_pairs() -> Vec<Pair> {
    let table = std::fs::read_to_string(emap().join("hl7_to_interchange_yaml.tsv")).unwrap();
    table
        .lines()
        .skip(1)
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .filter(|cols| cols[1].contains("/LabOrders/"))
        .map(|cols| Pair {
            hl7: cols[1].to_owned(),
            yaml: cols[2].to_owned(),
            overlays: match cols[3] {
                "-" => Vec::new(),
                list => list.split(',').map(str::to_owned).collect(),
            },
        })
        .collect()
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(emap().join(path)).unwrap()).unwrap()
}

/// `base` with `over`'s top-level fields replacing its own.
fn overlay(base: &Value, over: &Value) -> Value {
    let mut out = base.clone();
    if let (Some(out), Some(over)) = (out.as_object_mut(), over.as_object()) {
        for (k, v) in over {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// The pair's defaults file ending in `suffix` (and not in `not`), parsed.
fn defaults(pair: &Pair, suffix: &str, not: Option<&str>) -> Option<Value> {
    pair.overlays
        .iter()
        .find(|p| p.ends_with(suffix) && not.is_none_or(|n| !p.ends_with(n)))
        .map(|p| yaml(p))
}

/// The orders EMAP expects, built as EMAP's test factory builds them: a sequence step is its
/// file over `orm_defaults` (the file wins); a result file's order, each of its results and
/// each isolate and sensitivity is *read over* by its defaults (Jackson's reader for updating:
/// the defaults win), each result first taking its order's Epic number and status change time.
fn expected(pair: &Pair) -> Vec<Value> {
    let listed = yaml(&pair.yaml);
    let items = match listed {
        Value::Array(items) => items,
        one => vec![one],
    };
    let orm = defaults(pair, "orm_defaults.yaml", None);
    let order_defaults = defaults(pair, "_order_defaults.yaml", None);
    let result_defaults = defaults(
        pair,
        "_result_defaults.yaml",
        Some("_micro_result_defaults.yaml"),
    );
    let isolate_defaults = defaults(pair, "_micro_isolate_defaults.yaml", None);
    let sensitivity_defaults = defaults(pair, "_micro_result_defaults.yaml", None);
    items
        .iter()
        .map(|item| {
            let mut order = match (&orm, &order_defaults) {
                (Some(orm), _) => overlay(orm, item),
                (None, Some(defaults)) => overlay(item, defaults),
                (None, None) => item.clone(),
            };
            let epic = match order.get("epicCareOrderNumber") {
                Some(iv) if iv.get("status") == Some(&Value::from("SAVE")) => {
                    iv.get("value").cloned()
                }
                _ => None,
            };
            let at = order.get("statusChangeTime").cloned();
            if let (Some(defaults), Some(results)) = (
                &result_defaults,
                order.get_mut("labResultMsgs").and_then(Value::as_array_mut),
            ) {
                for result in results.iter_mut() {
                    if let (Some(object), true) =
                        (result.as_object_mut(), epic.is_some() || at.is_some())
                    {
                        for (key, value) in [("epicCareOrderNumber", &epic), ("resultTime", &at)] {
                            match value {
                                Some(v) => object.insert(key.to_owned(), v.clone()),
                                None => object.remove(key),
                            };
                        }
                    }
                    *result = overlay(result, defaults);
                    if let (Some(isolate), Some(defaults)) =
                        (result.get_mut("labIsolate"), &isolate_defaults)
                    {
                        *isolate = overlay(isolate, defaults);
                        if let (Some(sensitivities), Some(defaults)) = (
                            isolate
                                .get_mut("sensitivities")
                                .and_then(Value::as_array_mut),
                            &sensitivity_defaults,
                        ) {
                            for sensitivity in sensitivities.iter_mut() {
                                *sensitivity = overlay(sensitivity, defaults);
                            }
                        }
                    }
                }
            }
            as_set(comparable(
                &serde_json::from_value::<Message>(order).unwrap(),
            ))
        })
        .collect()
}

/// What the reader maps the file to, its implied ADT left out.
fn actual(pair: &Pair) -> Result<Vec<Value>, String> {
    let bytes = std::fs::read(emap().join(&pair.hl7)).unwrap();
    let mut messages = hl7::split_messages(&bytes);
    if messages.is_empty() {
        messages.push(&bytes);
    }
    let mut out = Vec::new();
    for message in messages {
        match map_message(message, "42", &SiteConfig::default()) {
            Ok(Mapped::Messages(list)) => out.extend(
                list.iter()
                    .filter(|m| !matches!(m, Message::ImpliedAdtMessage(_)))
                    .map(|m| as_set(comparable(m))),
            ),
            Ok(Mapped::Ignored(ignored)) => return Err(format!("ignored: {}", ignored.reason)),
            Err(error) => return Err(format!("error: {error}")),
        }
    }
    Ok(out)
}

/// The order with its results sorted: they are a set (each becomes its own row), and EMAP's
/// imaging reader lists them in hash order.
fn as_set(mut order: Value) -> Value {
    if let Some(results) = order.get_mut("labResultMsgs").and_then(Value::as_array_mut) {
        results.sort_by_key(|r| r.to_string());
    }
    order
}

#[test]
fn every_emap_lab_pair_maps_to_the_expected_lab_orders() {
    let pairs = lab_pairs();
    assert_eq!(pairs.len(), 28, "EMAP's lab pairs");
    let mut failures = Vec::new();
    for pair in &pairs {
        let name = pair.hl7.rsplit("resources/").next().unwrap().to_owned();
        let expected = expected(pair);
        match actual(pair) {
            Err(why) => failures.push(format!("{name}: {why}")),
            Ok(actual) if actual.len() != expected.len() => failures.push(format!(
                "{name}: {} orders, expected {}",
                actual.len(),
                expected.len()
            )),
            Ok(actual) => {
                for (n, (e, a)) in expected.iter().zip(&actual).enumerate() {
                    for difference in differences(e, a) {
                        failures.push(format!("{name} order {n}: {difference}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences: {failures:#?}",
        failures.len()
    );
}
