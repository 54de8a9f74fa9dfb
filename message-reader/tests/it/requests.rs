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

/// EMAP's NotesParser fixtures for consults: each NTE a question (`question->answer`) or a note.
#[test]
fn notes_parser_fixtures_give_emaps_questions_and_keep_other_lines_as_notes() {
    let consult = |file: &str| {
        let path = format!("hl7-reader/src/test/resources/NotesParser/{file}.txt");
        match mapped(&path, &SiteConfig::default()).as_slice() {
            [Message::ConsultRequest(c)] => c.clone(),
            other => panic!("{file}: {other:?}"),
        }
    };
    let pairs = |c: &interchange::order::ConsultRequest| -> Vec<(String, String)> {
        c.questions
            .iter()
            .map(|(q, a)| (q.clone(), a.clone()))
            .collect()
    };
    let owned = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(q, a)| ((*q).to_owned(), (*a).to_owned()))
            .collect()
    };
    let c = consult("comment_and_questions");
    assert_eq!(
        pairs(&c),
        owned(&[
            ("Did you contact the team?", "No"),
            (
                "Reason for Consult?",
                "frail, delirium, ? cognitive decline"
            ),
            ("Your contact details? (Name, Tel/Bleep)", "1232"),
        ])
    );
    assert_eq!(
        c.notes,
        interchange::value::Iv::Save(
            "Admitted with delirium vs cognitive decline\nLives alone".to_owned()
        )
    );
    // A line without a question is a note, not part of the answer before it.
    let c = consult("multiline_answer");
    assert_eq!(
        c.questions
            .get("Did you contact the team?")
            .map(String::as_str),
        Some("No")
    );
    assert_eq!(
        c.notes,
        interchange::value::Iv::Save("*** attempted 3x".to_owned())
    );
    // A question asked again keeps its last answer; an empty NTE is no note.
    let c = consult("repeat_question");
    assert_eq!(
        c.questions.get("Reason for Consult:").map(String::as_str),
        Some("Milk supply issues")
    );
    assert_eq!(c.questions.len(), 2, "{:?}", c.questions);
    assert_eq!(
        c.notes,
        interchange::value::Iv::Save(
            "Mum suffered 4L PPH\nBaby has been mostly formula fed so far".to_owned()
        )
    );
}

/// NTE-3 is read whole: its repetitions joined by line breaks, a `^` kept in the answer.
#[test]
fn a_consult_note_is_read_whole_with_its_repetitions_and_components() {
    let text = "MSH|^~\\&|EPIC|Consult Orders|||20130212120000||ORM^O01|1|P|2.4\r\
        PID|1||M1^^^MRENTR^MEDREC\rPV1||I|T01^B^1||||||||||||||||V1\r\
        ORC|NW|77^EPC|||||||20130212120000\r\
        OBR|1|77^EPC||^^^^IP CON FRAILTY|||||||||||||||||||||||||||||||||||||||CON255\r\
        NTE|1||Reason for Consult?->falls^syncope~and confusion\r";
    match map_message(text.as_bytes(), "7", &SiteConfig::default()) {
        Ok(Mapped::Messages(messages)) => {
            let consult = messages.iter().find_map(|m| match m {
                Message::ConsultRequest(c) => Some(c),
                _ => None,
            });
            let reason = consult.and_then(|c| c.questions.get("Reason for Consult?"));
            assert_eq!(
                reason.map(String::as_str),
                Some("falls^syncope\nand confusion")
            );
        }
        other => panic!("{other:?}"),
    }
}
