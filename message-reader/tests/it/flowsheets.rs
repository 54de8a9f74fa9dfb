//! Flowsheets: EMAP's VitalSigns pair (each expected row overlaid with `hl7_defaults.yaml`, as
//! EMAP's test builds it, compared field by field through the typed model, the implied ADT left
//! out) and the reader's flowsheet rules F3 (statuses), F4 (rows without value or comment),
//! several OBR groups, dates across the clocks change, and the flowsheet sender as
//! configuration.

use chrono::NaiveDate;
use interchange::Message;
use interchange::lab::ValueType;
use interchange::observation::Flowsheet;
use interchange::value::Iv;
use message_reader::{Mapped, SiteConfig, map_message};
use serde_json::Value;

use crate::pairs::{comparable, differences, emap};

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(emap().join(path)).unwrap()).unwrap()
}

fn rows(bytes: &[u8], site: &SiteConfig) -> Vec<Flowsheet> {
    match map_message(bytes, "42", site) {
        Ok(Mapped::Messages(messages)) => messages
            .into_iter()
            .filter_map(|m| match m {
                Message::Flowsheet(f) => Some(f),
                _ => None,
            })
            .collect(),
        other => panic!("expected flowsheet rows, got {other:?}"),
    }
}

fn vital_signs(name: &str) -> Vec<u8> {
    std::fs::read(emap().join(format!("hl7-reader/src/test/resources/VitalSigns/{name}"))).unwrap()
}

#[test]
fn the_emap_vital_signs_pair_maps_to_the_expected_flowsheets() {
    let table = std::fs::read_to_string(emap().join("hl7_to_interchange_yaml.tsv")).unwrap();
    let pair: Vec<&str> = table
        .lines()
        .find(|line| line.starts_with("testVitalSigns\t"))
        .unwrap()
        .split('\t')
        .collect();
    let defaults = yaml(pair[3]);
    let expected: Vec<Value> = match yaml(pair[2]) {
        Value::Array(items) => items
            .into_iter()
            .map(|mut item| {
                let object = item.as_object_mut().unwrap();
                for (k, v) in defaults.as_object().unwrap() {
                    object.insert(k.clone(), v.clone());
                }
                comparable(&serde_json::from_value::<Message>(item).unwrap())
            })
            .collect(),
        other => panic!("expected a list, got {other:?}"),
    };
    let bytes = std::fs::read(emap().join(pair[1])).unwrap();
    let actual: Vec<Value> = match map_message(&bytes, "42", &SiteConfig::default()) {
        Ok(Mapped::Messages(messages)) => messages
            .iter()
            .filter(|m| !matches!(m, Message::ImpliedAdtMessage(_)))
            .map(comparable)
            .collect(),
        other => panic!("expected messages, got {other:?}"),
    };
    assert_eq!(actual.len(), expected.len(), "{actual:#?}");
    let failures: Vec<String> = expected
        .iter()
        .zip(&actual)
        .enumerate()
        .flat_map(|(n, (e, a))| {
            differences(e, a)
                .into_iter()
                .map(move |d| format!("row {n}: {d}"))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn f3_only_final_corrected_and_deleted_rows_are_read_and_deleted_rows_clear_their_value() {
    let rows = rows(&vital_signs("MixedHL7Message.txt"), &SiteConfig::default());
    let ids: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.interface_id.as_deref())
        .collect();
    // OBX 9 has no status and OBX 10 an unexpected one.
    assert!(!ids.contains(&"9"), "{ids:?}");
    assert!(
        !rows
            .iter()
            .any(|r| r.interface_id.as_deref() == Some("8") && r.comment.is_unknown())
    );
    let news = rows
        .iter()
        .find(|r| r.interface_id.as_deref() == Some("28315"))
        .unwrap();
    assert_eq!(news.string_value, Iv::delete());
    let consciousness = rows
        .iter()
        .find(|r| r.interface_id.as_deref() == Some("6466"))
        .unwrap();
    assert_eq!(consciousness.string_value, Iv::Save("A".to_owned()));
}

#[test]
fn f4_rows_without_a_value_or_comment_are_dropped() {
    let rows = rows(&vital_signs("MixedHL7Message.txt"), &SiteConfig::default());
    for empty in ["6600", "666", "6666"] {
        assert!(
            !rows
                .iter()
                .any(|r| r.interface_id.as_deref() == Some(empty)),
            "{empty}"
        );
    }
    assert_eq!(rows.len(), 9);
}

#[test]
fn each_obr_group_gives_its_rows_with_their_own_observation_times() {
    let rows = rows(&vital_signs("MultiOBR.txt"), &SiteConfig::default());
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.interface_id.clone().unwrap(),
                r.observation_time.unwrap().to_rfc3339(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("5", "2020-01-22T14:03:00+00:00"),
            ("6", "2020-01-22T14:03:00+00:00"),
            ("5", "2020-01-22T14:53:00+00:00"),
            ("6", "2020-01-22T14:53:00+00:00"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(rows[3].numeric_value, Iv::Save(101.2));
    assert!(rows.iter().all(|r| r.mrn.as_deref() == Some("21014099")));
}

#[test]
fn date_values_are_calendar_dates_in_summer_and_winter() {
    let rows = rows(&vital_signs("datetime_parsing.txt"), &SiteConfig::default());
    let dates: Vec<Iv<NaiveDate>> = rows.iter().map(|r| r.date_value.clone()).collect();
    assert_eq!(
        dates,
        [
            Iv::Save(NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()),
            Iv::Save(NaiveDate::from_ymd_opt(2020, 6, 1).unwrap()),
        ]
    );
    assert!(rows.iter().all(|r| r.value_type == Some(ValueType::Date)));
}

#[test]
fn a_numeric_row_whose_value_is_no_number_keeps_it_as_text() {
    let bytes = b"MSH|^~\\&|EPIC|Vitals|||20200122140618||ORU^R01|46|T|2.4\r\
        EVN|R01|20200122140615\r\
        PID|1||40800000^^^MRENTR^MEDREC\r\
        PV1|1|I|T11E^BY02^BY02-17|||||||||||||||||123412341234\r\
        OBR|1||348||||20200122140300\r\
        OBX|1|NM|8^Pulse^FDCEMAP||irregular||||||F|||20200122140300\r\
        OBX|2|TM|9^Time^FDCEMAP||1430||||||F|||20200122140300\r";
    let rows = rows(bytes, &SiteConfig::default());
    assert_eq!(rows[0].value_type, Some(ValueType::Text));
    assert_eq!(rows[0].string_value, Iv::Save("irregular".to_owned()));
    assert_eq!(rows[0].numeric_value, Iv::Unknown);
    assert_eq!(
        rows[1].time_value,
        Iv::Save(chrono::NaiveTime::from_hms_opt(14, 30, 0).unwrap())
    );
}

#[test]
fn the_flowsheet_facility_is_configuration() {
    let bytes = vital_signs("MultiOBR.txt");
    let site = SiteConfig {
        flowsheet_facilities: vec!["Obs".to_owned()],
        ..SiteConfig::default()
    };
    match map_message(&bytes, "42", &site) {
        Ok(Mapped::Messages(messages)) => assert!(
            !messages.iter().any(|m| matches!(m, Message::Flowsheet(_))),
            "{messages:?}"
        ),
        Ok(Mapped::Ignored(_)) => {}
        Err(error) => panic!("{error}"),
    }
    let renamed = String::from_utf8(bytes)
        .unwrap()
        .replacen("|EPIC|Vitals|", "|EPIC|Obs|", 1);
    assert_eq!(rows(renamed.as_bytes(), &site).len(), 4);
}
