//! Consultation requests and advance decisions: EMAP's ConsultRequest and AdvanceDecision pairs
//! compared field by field through the typed model (the implied ADT left out, as EMAP's tests
//! do), and Q2 (a cancellation by discharge closes the request instead).

use interchange::Message;
use message_reader::{Mapped, SiteConfig, map_message};
use serde_json::Value;

use crate::pairs::{comparable, differences, emap};

fn mapped(path: &str, site: &SiteConfig) -> Vec<Message> {
    let bytes = std::fs::read(emap().join(path)).unwrap();
    match map_message(&bytes, "42", site) {
        Ok(Mapped::Messages(messages)) => messages
            .into_iter()
            .filter(|m| !matches!(m, Message::ImpliedAdtMessage(_)))
            .collect(),
        other => panic!("{path}: expected messages, got {other:?}"),
    }
}

#[test]
fn every_emap_consult_and_advance_decision_pair_maps_to_the_expected_request() {
    let table = std::fs::read_to_string(emap().join("hl7_to_interchange_yaml.tsv")).unwrap();
    let pairs: Vec<Vec<&str>> = table
        .lines()
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .filter(|cols| {
            [
                "checkConsultMatchesInterchange",
                "checkAdvanceDecisionMatchesInterchange",
            ]
            .contains(&cols[0])
        })
        .collect();
    assert_eq!(pairs.len(), 8, "EMAP's consult and advance decision pairs");
    let mut failures = Vec::new();
    for pair in &pairs {
        let text = std::fs::read_to_string(emap().join(pair[2])).unwrap();
        let expected: Value = serde_yaml::from_str(&text).unwrap();
        let expected = comparable(&serde_json::from_value::<Message>(expected).unwrap());
        let actual: Vec<Value> = mapped(pair[1], &SiteConfig::default())
            .iter()
            .map(comparable)
            .collect();
        match actual.as_slice() {
            [one] => failures.extend(
                differences(&expected, one)
                    .into_iter()
                    .map(|d| format!("{}: {d}", pair[1])),
            ),
            other => failures.push(format!("{}: {} requests", pair[1], other.len())),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn q2_a_cancellation_by_discharge_closes_the_request() {
    let consult = |file: &str| match &mapped(
        &format!("hl7-reader/src/test/resources/ConsultRequest/{file}"),
        &SiteConfig::default(),
    )[0]
    {
        Message::ConsultRequest(c) => (c.cancelled, c.closed_due_to_discharge),
        other => panic!("{other:?}"),
    };
    assert_eq!(consult("cancelled.txt"), (true, false));
    assert_eq!(consult("closed_at_discharge.txt"), (false, true));
    assert_eq!(consult("minimal.txt"), (false, false));
}

#[test]
fn request_facilities_are_configuration() {
    let site = SiteConfig {
        consult_facilities: vec!["Referrals".to_owned()],
        ..SiteConfig::default()
    };
    let bytes =
        std::fs::read(emap().join("hl7-reader/src/test/resources/ConsultRequest/minimal.txt"))
            .unwrap();
    let requests = |bytes: &[u8]| match map_message(bytes, "1", &site) {
        Ok(Mapped::Messages(messages)) => messages
            .iter()
            .filter(|m| matches!(m, Message::ConsultRequest(_)))
            .count(),
        _ => 0,
    };
    assert_eq!(requests(&bytes), 0);
    let renamed = String::from_utf8(bytes)
        .unwrap()
        .replacen("|Consult Orders|", "|Referrals|", 1);
    assert_eq!(requests(renamed.as_bytes()), 1);
}
