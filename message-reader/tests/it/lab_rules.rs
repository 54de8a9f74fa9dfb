//! The reader's lab rules (`shared/reference/emap-behaviour.md` §4.17): R2 (a refused implied
//! ADT does not hold back the orders), R3 (WinPath order numbers, specimen numbers and order
//! controls), R4 (isolates and their sensitivities), R7 (ABL90 samples that are no patient's)
//! and R8 (one order per OBR group), and the point-of-care and blood bank systems. R5 and R6
//! are unit tests of `mapping::labs::results`.

use interchange::Message;
use interchange::lab::{LabOrderMsg, ValueType};
use message_reader::{MapError, Mapped, SiteConfig, map_message};

/// A WinPath ORU with the given patient class and order segments.
fn oru(class: &str, orders: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|WinPath|UCH|EPIC|UCH|20240101100000||ORU^R01|C1|P|2.3\r\
         PID|||44444444^^^MRENTR^MEDREC\r\
         PV1||{class}|WARD^BAY^BED||||||||||||||||123412341234^^^VISITID\r\
         {orders}"
    )
    .into_bytes()
}

/// An ORC/OBR pair of the WinPath battery `battery`, Epic number `epic`, OBR-26 `parent`.
fn order(control: &str, epic: &str, battery: &str, parent: &str) -> String {
    format!(
        "ORC|{control}|{epic}|20V042424XYZ|20V0424245|CM\r\
         OBR|1|{epic}|20V042424|{battery}^WinPath||202401010900|202401010800||||||Notes||MSU^Urine|||||||202401011000||MC|F|{parent}\r"
    )
}

fn lab_orders(bytes: &[u8]) -> Vec<LabOrderMsg> {
    match map_message(bytes, "7", &SiteConfig::default()) {
        Ok(Mapped::Messages(messages)) => messages
            .into_iter()
            .filter_map(|m| match m {
                Message::LabOrderMsg(order) => Some(order),
                _ => None,
            })
            .collect(),
        other => panic!("expected lab orders, got {other:?}"),
    }
}

#[test]
fn r2_an_unknown_patient_class_drops_only_the_implied_adt() {
    let bytes = oru(
        "ZZ",
        &format!(
            "{}OBX|1|NM|HB^Hb^WinPath||130|g/L\r",
            order("RE", "E1", "FBC^Full blood count", "")
        ),
    );
    let Ok(Mapped::Messages(messages)) = map_message(&bytes, "7", &SiteConfig::default()) else {
        panic!("the orders should map");
    };
    assert!(
        !messages
            .iter()
            .any(|m| matches!(m, Message::ImpliedAdtMessage(_)))
    );
    assert_eq!(lab_orders(&bytes)[0].lab_result_msgs.len(), 1);
}

#[test]
fn r3_order_numbers_must_agree_specimens_are_cut_and_unknown_controls_are_left_out() {
    let mismatched = oru(
        "I",
        &order("RE", "E1", "FBC^Full blood count", "").replacen("OBR|1|E1", "OBR|1|E2", 1),
    );
    assert!(matches!(
        map_message(&mismatched, "7", &SiteConfig::default()),
        Err(MapError::Inconsistent(_))
    ));
    let orders = lab_orders(&oru(
        "I",
        &format!(
            "{}{}",
            order("RE", "E1", "FBC^Full blood count", ""),
            order("XO", "E3", "UE^Electrolytes", "")
        ),
    ));
    assert_eq!(orders.len(), 1, "the XO order is left out");
    assert_eq!(orders[0].lab_specimen_number.as_deref(), Some("20V042424"));
}

#[test]
fn r4_isolate_segments_merge_and_sensitivities_move_into_their_isolate() {
    let culture = format!(
        "{}OBX|1|ST|ISOLATE^ISOLATE^Winpath|1|Heavy growth of|||A|||F\r\
         OBX|2|CE|ISOLATE^ISOLATE^Winpath|1|STAAUR ^Staphylococcus aureus|||A|||F\r\
         OBX|3|ST|ISOLATE^ISOLATE^Winpath|2|Blood culture yields:|||A|||F\r\
         OBX|4|FT|FSTA^STATUS^Winpath||COMPLETE||||||F\r\
         {}OBX|1|ST|VF^Flucloxacillin^Winpath||VF|||S|||F\r\
         {}OBX|1|ST|VM^Amoxicillin^Winpath||VM|||R|||F\r",
        order("RE", "E1", "BC^Blood culture", ""),
        order("RE", "E1", "Micro^Sensitivities", "ISOLATE&&Winpath^1"),
        order("RE", "E1", "Micro^Sensitivities", "ISOLATE&&Winpath^9"),
    );
    let orders = lab_orders(&oru("I", &culture));
    assert_eq!(
        orders.len(),
        2,
        "one sensitivity order names no isolate and stays: {orders:#?}"
    );
    let results = &orders[0].lab_result_msgs;
    assert_eq!(results.len(), 3, "two isolates and the status");
    let first = results[0].lab_isolate.as_ref().unwrap();
    assert_eq!(results[0].mime_type, Some(ValueType::LabIsolate));
    assert!(results[0].string_value.is_unknown());
    assert_eq!(first.isolate_id.as_deref(), Some("1"));
    assert_eq!(first.isolate_code.as_deref(), Some("STAAUR"));
    assert_eq!(first.isolate_name.as_deref(), Some("Staphylococcus aureus"));
    assert_eq!(
        first.quantity.saved().map(String::as_str),
        Some("Heavy growth of")
    );
    assert_eq!(first.sensitivities.len(), 1);
    assert_eq!(
        first.sensitivities[0]
            .string_value
            .saved()
            .map(String::as_str),
        Some("VF")
    );
    assert_eq!(
        first.sensitivities[0]
            .abnormal_flag
            .saved()
            .map(String::as_str),
        Some("S")
    );
    assert_eq!(
        first.clinical_information.saved().map(String::as_str),
        Some("Notes")
    );
    let second = results[1].lab_isolate.as_ref().unwrap();
    assert_eq!(
        second.culture_type.saved().map(String::as_str),
        Some("Blood")
    );
    assert!(second.sensitivities.is_empty());
    assert_eq!(orders[1].parent_sub_id.as_deref(), Some("9"));
    assert_eq!(
        orders[1].parent_observation_identifier.as_deref(),
        Some("ISOLATE")
    );
}

#[test]
fn r4_a_coded_value_or_a_sub_id_on_a_test_that_is_no_isolate_is_refused() {
    for obx in [
        "OBX|1|CE|HB^Hb^WinPath||X^Coded|||A|||F\r",
        "OBX|1|NM|HB^Hb^WinPath|1|130|||A|||F\r",
    ] {
        let bytes = oru(
            "I",
            &format!("{}{obx}", order("RE", "E1", "FBC^Full blood count", "")),
        );
        assert!(
            matches!(
                map_message(&bytes, "7", &SiteConfig::default()),
                Err(MapError::Inconsistent(_))
            ),
            "{obx}"
        );
    }
}

#[test]
fn r8_each_obr_group_is_its_own_order() {
    let bytes = oru(
        "I",
        &format!(
            "{}OBX|1|NM|HB^Hb^WinPath||130|g/L\r{}OBX|1|NM|NA^Sodium^WinPath||140|mmol/L\r",
            order("RE", "E1", "FBC^Full blood count", ""),
            order("RE", "E2", "UE^Electrolytes", "")
        ),
    );
    let orders = lab_orders(&bytes);
    let batteries: Vec<_> = orders
        .iter()
        .map(|o| o.test_battery_local_code.clone().unwrap())
        .collect();
    assert_eq!(batteries, ["FBC", "UE"]);
    assert_eq!(
        orders[1].lab_result_msgs[0].test_item_local_code.as_deref(),
        Some("NA")
    );
}

/// The lab orders (and whether anything else was mapped) of one of EMAP's lab HL7 files.
fn emap_file(file: &str) -> Result<Mapped, MapError> {
    let bytes = std::fs::read(crate::pairs::emap().join(format!(
        "hl7-reader/src/test/resources/LabOrders/{file}.txt"
    )))
    .unwrap();
    map_message(&bytes, "7", &SiteConfig::default())
}

#[test]
fn r7_abl90_blood_gases_are_read_and_proficiency_samples_ignored() {
    let orders = lab_orders(
        &std::fs::read(
            crate::pairs::emap()
                .join("hl7-reader/src/test/resources/LabOrders/abl90_flex/unit.txt"),
        )
        .unwrap(),
    );
    let order = &orders[0];
    // EMAP's venous_order_defaults.yaml, field by field.
    assert_eq!(order.test_battery_local_code.as_deref(), Some("VBG"));
    assert_eq!(
        order.test_battery_coding_system.as_deref(),
        Some("ABL90_FLEX_PLUS")
    );
    assert_eq!(
        order.lab_specimen_number.as_deref(),
        Some("12345006210113012345")
    );
    assert_eq!(order.source_system.as_deref(), Some("ABL90 FLEX Plus"));
    assert_eq!(order.visit_number.as_deref(), Some("123412341234"));
    assert_eq!(
        order.specimen_type.saved().map(String::as_str),
        Some("Venous")
    );
    let at: chrono::DateTime<chrono::Utc> = "2013-02-11T10:00:52Z".parse().unwrap();
    assert_eq!(order.status_change_time, Some(at));
    assert_eq!(order.sample_received_time.saved(), Some(&at));
    assert_eq!(order.collection_date_time, Some(at));
    let ph = &order.lab_result_msgs[0];
    assert_eq!(ph.mime_type, Some(ValueType::Numeric));
    assert_eq!(ph.numeric_value, interchange::value::Iv::Save(7.415));
    assert_eq!(ph.result_operator.as_deref(), Some("="));
    assert!(ph.abnormal_flag.is_delete(), "N is normal: no flag");
    assert_eq!(
        ph.test_item_coding_system.as_deref(),
        Some("ABL90 FLEX Plus")
    );
    let po2 = &order.lab_result_msgs[2];
    assert_eq!(po2.abnormal_flag.saved().map(String::as_str), Some("L"));
    assert_eq!(
        po2.notes.saved().map(String::as_str),
        Some("Value below reference range")
    );
    let unparseable = &order.lab_result_msgs[3];
    assert_eq!(unparseable.mime_type, Some(ValueType::Text));
    assert_eq!(
        unparseable.string_value.saved().map(String::as_str),
        Some("....")
    );
    assert!(matches!(
        emap_file("abl90_flex/ignored"),
        Ok(Mapped::Ignored(_))
    ));
    assert!(matches!(
        emap_file("abl90_flex/no_collection_time"),
        Err(MapError::Inconsistent(_))
    ));
}

#[test]
fn bio_connect_and_bank_manager_results_are_read_with_their_own_conventions() {
    let Ok(Mapped::Messages(messages)) = emap_file("bio_connect/glucose") else {
        panic!("BIO-CONNECT should map");
    };
    let Some(Message::LabOrderMsg(glucose)) = messages.last() else {
        panic!("a lab order last");
    };
    // EMAP's glucose_order_defaults.yaml and glucose_result_defaults.yaml.
    assert_eq!(glucose.lab_specimen_number.as_deref(), Some("9876543"));
    assert_eq!(
        glucose.test_battery_coding_system.as_deref(),
        Some("BIO_CONNECT")
    );
    assert_eq!(glucose.visit_number.as_deref(), Some("1039274827"));
    assert_eq!(glucose.order_control_id.as_deref(), Some("NW"));
    let result = &glucose.lab_result_msgs[0];
    assert_eq!(
        result.result_status,
        Some(interchange::lab::LabResultStatus::InvalidResult)
    );
    assert_eq!(result.observation_sub_id.as_deref(), Some("1"));
    assert_eq!(result.abnormal_flag.saved().map(String::as_str), Some("H"));
    assert_eq!(result.reference_high, interchange::value::Iv::Save(7.0));

    let Ok(Mapped::Messages(messages)) = emap_file("bank_manager/oru_r01_result_comment") else {
        panic!("Bank Manager should map");
    };
    let Some(Message::LabOrderMsg(screen)) = messages.last() else {
        panic!("a lab order last");
    };
    assert_eq!(screen.test_battery_local_code.as_deref(), Some("GPS"));
    assert_eq!(screen.lab_specimen_number.as_deref(), Some("19B44444"));
    assert!(
        screen
            .clinical_information
            .saved()
            .is_some_and(|c| c.starts_with("Probable"))
    );
    let values: Vec<_> = screen
        .lab_result_msgs
        .iter()
        .map(|r| r.string_value.saved().cloned().unwrap_or_default())
        .collect();
    assert_eq!(values, ["O NEG", "Positive"]);
    assert_eq!(
        screen.lab_result_msgs[1].notes.saved().map(String::as_str),
        Some("Anti-D")
    );
    let Ok(Mapped::Messages(messages)) = emap_file("bank_manager/oru_r01_cancel") else {
        panic!("a Bank Manager cancellation should map");
    };
    assert!(messages.iter().any(|m| matches!(m,
        Message::LabOrderMsg(o) if o.order_control_id.as_deref() == Some("OC"))));
}
