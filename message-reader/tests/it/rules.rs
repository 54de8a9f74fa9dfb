//! The reader's share of EMAP's processing rules (`shared/reference/emap-behaviour.md` §4):
//! C1 (implied ADT from results and orders), D3 (death), D4 (ethnic group names) and V10 (A04
//! `ENC_CREATE` ignored). The processor's rules are tested in `event-processor`.

use interchange::Message;
use interchange::value::Iv;
use message_reader::{Mapped, SiteConfig, map_message};

/// A PID segment with the given fields set (1-based field numbers).
fn pid(fields: &[(usize, &str)]) -> String {
    let mut values = vec![String::new(); 31];
    values[1] = "1".to_owned();
    values[3] = "MRN1^^^UCLH^MRN".to_owned();
    values[5] = "Smith^John".to_owned();
    for (i, v) in fields {
        values[*i] = (*v).to_owned();
    }
    format!("PID|{}", values[1..].join("|"))
}

fn message(kind: &str, evn4: &str, pid: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|EPIC|UCLH|WARD|UCLH|20240101100000||{kind}|CTRL1|P|2.4\r\
         EVN|A01|20240101100000||{evn4}\r\
         {pid}\r\
         PV1|1|I|WARD^BAY^BED||||||||||||||||123412341234\r"
    )
    .into_bytes()
}

fn mapped(bytes: &[u8]) -> Mapped {
    map_message(bytes, "1", &SiteConfig::default()).unwrap()
}

fn only_adt(bytes: &[u8]) -> interchange::adt::AdtFields {
    match mapped(bytes) {
        Mapped::Messages(messages) => messages
            .iter()
            .find_map(Message::adt)
            .cloned()
            .expect("an ADT message"),
        Mapped::Ignored(ignored) => panic!("ignored: {ignored:?}"),
    }
}

#[test]
fn c1_a_result_with_patient_and_visit_segments_implies_adt_context() {
    let bytes = format!(
        "MSH|^~\\&|WinPath|UCLH|WARD|UCLH|20240101100000||ORU^R01|CTRL2|P|2.4\r{}\r\
         PV1|1|I|WARD^BAY^BED||||||||||||||||123412341234\r\
         OBR|1|ORD1|LAB1|FBC^Full blood count\r\
         OBX|1|NM|HB^Haemoglobin||130|g/L\r",
        pid(&[])
    );
    let Mapped::Messages(messages) = mapped(bytes.as_bytes()) else {
        panic!("the result should map");
    };
    let implied = messages
        .iter()
        .find(|m| matches!(m, Message::ImpliedAdtMessage(_)))
        .expect("an implied ADT message");
    let adt = implied.adt().unwrap();
    assert_eq!(adt.mrn.as_deref(), Some("MRN1"));
    assert_eq!(adt.visit_number.as_deref(), Some("123412341234"));
}

#[test]
fn d3_the_death_indicator_sets_alive_and_the_death_time_is_kept_either_way() {
    let dead = only_adt(&message(
        "ADT^A08",
        "",
        &pid(&[(29, "20240102100000"), (30, "Y")]),
    ));
    assert_eq!(dead.patient_is_alive, Iv::Save(false));
    assert!(dead.patient_death_date_time.is_save());
    let alive = only_adt(&message(
        "ADT^A08",
        "",
        &pid(&[(29, "20240102100000"), (30, "N")]),
    ));
    assert_eq!(alive.patient_is_alive, Iv::Save(true));
    assert!(alive.patient_death_date_time.is_save());
    let unknown = only_adt(&message("ADT^A08", "", &pid(&[(30, "X")])));
    assert!(!unknown.patient_is_alive.is_save());
}

#[test]
fn d4_ethnic_group_codes_read_as_names_and_unknown_codes_pass_through() {
    let known = only_adt(&message("ADT^A08", "", &pid(&[(22, "A")])));
    assert_eq!(known.ethnic_group, Iv::Save("White British".to_owned()));
    let unknown = only_adt(&message("ADT^A08", "", &pid(&[(22, "ZZ")])));
    assert_eq!(unknown.ethnic_group, Iv::Save("ZZ".to_owned()));
}

#[test]
fn v10_a_registration_that_only_creates_an_encounter_is_ignored() {
    assert!(matches!(
        mapped(&message("ADT^A04", "ENC_CREATE", &pid(&[]))),
        Mapped::Ignored(_)
    ));
    assert!(matches!(
        mapped(&message("ADT^A04", "", &pid(&[]))),
        Mapped::Messages(_)
    ));
}
