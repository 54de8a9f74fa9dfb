//! Conditions: EMAP's PatientInfection, PatientAllergies and ProblemList pairs compared as
//! EMAP's tests compare them (the infections of the message; its first allergy; its first
//! problem), field by field through the typed model, and the reader's condition rules.

use interchange::Message;
use interchange::condition::ConditionAction;
use interchange::value::Iv;
use message_reader::{Mapped, SiteConfig, map_message};
use serde_json::Value;

use crate::pairs::{comparable, differences, emap};

fn mapped(path: &str) -> Vec<Message> {
    let bytes = std::fs::read(emap().join(path)).unwrap();
    match map_message(&bytes, "42", &SiteConfig::default()) {
        Ok(Mapped::Messages(messages)) => messages,
        other => panic!("{path}: expected messages, got {other:?}"),
    }
}

fn file(name: &str) -> String {
    format!("hl7-reader/src/test/resources/{name}")
}

#[test]
fn every_emap_condition_pair_maps_to_the_expected_conditions() {
    let table = std::fs::read_to_string(emap().join("hl7_to_interchange_yaml.tsv")).unwrap();
    let pairs: Vec<Vec<&str>> = table
        .lines()
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .filter(|cols| {
            cols[0].starts_with("testPatient") || cols[0].starts_with("testMinimalPatient")
        })
        .collect();
    assert_eq!(pairs.len(), 6, "EMAP's condition pairs");
    let mut failures = Vec::new();
    for pair in &pairs {
        let text = std::fs::read_to_string(emap().join(pair[2])).unwrap();
        let expected: Vec<Value> = match serde_yaml::from_str::<Value>(&text).unwrap() {
            Value::Array(items) => items,
            one => vec![one],
        }
        .into_iter()
        .map(|item| comparable(&serde_json::from_value::<Message>(item).unwrap()))
        .collect();
        let mut actual: Vec<Value> = mapped(pair[1])
            .iter()
            .filter(|m| !matches!(m, Message::ImpliedAdtMessage(_)))
            .map(comparable)
            .collect();
        // EMAP's allergy and problem tests compare the first message only.
        if pair[4].starts_with("first") {
            actual.truncate(1);
        }
        if actual.len() != expected.len() {
            failures.push(format!(
                "{}: {} messages, expected {}",
                pair[1],
                actual.len(),
                expected.len()
            ));
            continue;
        }
        for (e, a) in expected.iter().zip(&actual) {
            failures.extend(
                differences(e, a)
                    .into_iter()
                    .map(|d| format!("{}: {d}", pair[1])),
            );
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_problem_list_gives_a_problem_per_prb_with_its_notes_and_resolution() {
    let problems: Vec<_> = mapped(&file("ProblemList/multiple_problem_lists.txt"))
        .into_iter()
        .filter_map(|m| match m {
            Message::PatientProblem(p) => Some(p),
            _ => None,
        })
        .collect();
    let codes: Vec<_> = problems
        .iter()
        .filter_map(|p| p.condition.condition_code.as_deref())
        .collect();
    assert_eq!(codes, ["K64.9", "C90.0", "M54.9"]);
    let notes = match &mapped(&file("ProblemList/problem_list_notes.txt"))[0] {
        Message::PatientProblem(p) => p.condition.comment.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        notes,
        Iv::Save(
            "- Screened and started on meds\nand some other meds\n- CRP 0.6-->4.9-->4.1\n\
             - Blood cultures negative"
                .to_owned()
        )
    );
    let resolved = match &mapped(&file("ProblemList/problem_list_resolved.txt"))[0] {
        Message::PatientProblem(p) => p.resolved_date,
        other => panic!("{other:?}"),
    };
    assert_eq!(resolved, chrono::NaiveDate::from_ymd_opt(2020, 3, 2));
}

#[test]
fn each_zif_repetition_is_an_infection_with_its_resolution() {
    let infections: Vec<_> = mapped(&file("PatientInfection/multiple_infections.txt"))
        .into_iter()
        .filter_map(|m| match m {
            Message::PatientInfection(i) => Some(i),
            _ => None,
        })
        .collect();
    let names: Vec<_> = infections
        .iter()
        .filter_map(|i| i.condition.condition_code.as_deref())
        .collect();
    assert_eq!(names, ["?COVID-19", "MRSA"]);
    assert!(matches!(infections[0].resolved_datetime, Iv::Save(_)));
    assert_eq!(infections[1].resolved_datetime, Iv::Unknown);
}

#[test]
fn an_allergy_from_an_untrusted_sender_is_ignored_and_a_delete_is_read() {
    let text =
        std::fs::read_to_string(emap().join(file("PatientAllergies/minimal_allergy.txt"))).unwrap();
    let untrusted = text.replacen("|EPIC|", "|OTHER|", 1);
    assert!(matches!(
        map_message(untrusted.as_bytes(), "1", &SiteConfig::default()),
        Ok(Mapped::Ignored(_))
    ));
    let deleted = text.replacen("|||A|1|", "|||D|1|", 1);
    match map_message(deleted.as_bytes(), "1", &SiteConfig::default()) {
        Ok(Mapped::Messages(messages)) => match &messages[0] {
            Message::PatientAllergy(a) => {
                assert_eq!(a.condition.action, Some(ConditionAction::Delete))
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}
