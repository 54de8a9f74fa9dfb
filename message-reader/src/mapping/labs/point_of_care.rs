//! Point-of-care analysers: BIO-CONNECT (glucose meters, ORU^R01) and ABL90 FLEX blood gas
//! analysers (ORU^R30), as EMAP reads them. Their one time is when the sample was tested
//! (OBR-14, else ORC-9): the order time, the time the lab received it and the status change
//! time at once; OBR-7 is the collection time, which an ABL90 result must have. The battery is
//! OBR-4.1 and the specimen number OBR-2 (BIO-CONNECT) or OBR-3 (ABL90). Results are read as
//! any lab's, an ABL90's text values as numbers where they are; a flag `N` (normal) is no flag.
//! R7: ABL90 proficiency testing and calibration samples (OBR-15) are ignored.

use chrono::{DateTime, Utc};
use interchange::Message;
use interchange::lab::{LabOrderMsg, LabResultMsg, ValueType};
use interchange::value::Iv;

use super::{Group, Outcome, results};
use crate::mapping::MapError;
use crate::mapping::segments::{Context, subcomponent, text};

/// Which analyser sent the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Analyser {
    BioConnect,
    Abl90,
}

/// Specimen types (OBR-15.1) of ABL90 samples that are no patient's (R7).
const NOT_PATIENT_SAMPLES: [&str; 2] = ["Proficiency Testing", "Calibration"];

/// Every order of the message.
pub(super) fn orders(
    context: &Context<'_>,
    analyser: Analyser,
    groups: &[Group<'_>],
) -> Result<Outcome, MapError> {
    let mut out = Vec::new();
    for group in groups {
        let specimen_type = subcomponent(context.hl7, Some(group.obr), 15, 1, 1);
        if analyser == Analyser::Abl90
            && specimen_type
                .as_deref()
                .is_some_and(|t| NOT_PATIENT_SAMPLES.contains(&t))
        {
            return Ok(Outcome::Ignored(
                "an ABL90 proficiency testing or calibration sample (R7)",
            ));
        }
        out.push(Message::from(order(
            context,
            analyser,
            group,
            specimen_type,
        )?));
    }
    Ok(Outcome::Orders(out))
}

fn order(
    context: &Context<'_>,
    analyser: Analyser,
    group: &Group<'_>,
    specimen_type: Option<String>,
) -> Result<LabOrderMsg, MapError> {
    let (orc, obr) = (group.orc, Some(group.obr));
    let tested = match context.instant(obr, 14, "OBR-14 specimen received time")? {
        Some(t) => Some(t),
        None => context.instant(orc, 9, "ORC-9 transaction time")?,
    };
    let collected = context.instant(obr, 7, "OBR-7 collection time")?;
    if analyser == Analyser::Abl90 && collected.is_none() {
        return Err(MapError::Inconsistent(
            "an ABL90 result without its collection time (OBR-7)",
        ));
    }
    let (coding, item_coding) = match analyser {
        Analyser::BioConnect => ("BIO_CONNECT", "BIO-CONNECT"),
        Analyser::Abl90 => ("ABL90_FLEX_PLUS", "ABL90 FLEX Plus"),
    };
    let at = |t: Option<DateTime<Utc>>| t.map_or(Iv::Unknown, Iv::Save);
    let pid = context.hl7.segment("PID");
    let results = group
        .results
        .iter()
        .map(|(obx, notes)| {
            let mut result = results::result(obx, notes);
            if analyser == Analyser::Abl90 {
                numeric_if_it_is(&mut result);
            }
            if result.abnormal_flag.saved().map(String::as_str) == Some("N") {
                result.abnormal_flag = Iv::delete();
            }
            LabResultMsg {
                test_item_coding_system: Some(item_coding.to_owned()),
                result_time: context
                    .instant(Some(obx), 14, "OBX-14 observation time")
                    .ok()
                    .flatten()
                    .or(tested),
                ..result
            }
        })
        .collect();
    let msh = context.hl7.segment("MSH");
    Ok(LabOrderMsg {
        source_message_id: Some(context.source_message_id.to_owned()),
        source_system: Some(text(msh, 3, 1, 1).unwrap_or_else(|| "Not in Message".to_owned())),
        order_control_id: text(orc, 1, 1, 1),
        epic_care_order_number: Iv::from_hl7(text(orc, 2, 1, 1).as_deref()),
        lab_specimen_number: match analyser {
            Analyser::BioConnect => text(obr, 2, 1, 1),
            Analyser::Abl90 => text(obr, 3, 1, 1),
        },
        specimen_type: specimen_type.map_or(Iv::Unknown, Iv::Save),
        collection_date_time: collected,
        status_change_time: tested,
        order_date_time: at(tested),
        sample_received_time: at(tested),
        lab_department: text(obr, 24, 1, 1),
        order_status: text(orc, 5, 1, 1),
        result_status: text(obr, 25, 1, 1),
        mrn: text(pid, 3, 1, 1),
        visit_number: text(context.hl7.segment("PV1"), 19, 1, 1).or_else(|| text(pid, 18, 1, 1)),
        test_battery_local_code: text(obr, 4, 1, 1),
        test_battery_coding_system: Some(coding.to_owned()),
        lab_result_msgs: results,
        ..LabOrderMsg::default()
    })
}

/// An ABL90 sends numbers as text (ST): a value that reads as a number is numeric.
fn numeric_if_it_is(result: &mut LabResultMsg) {
    let Some(value) = result.string_value.saved().cloned() else {
        return;
    };
    if let (Iv::Save(number), operator) = results::numeric(&value) {
        result.mime_type = Some(ValueType::Numeric);
        result.numeric_value = Iv::Save(number);
        result.result_operator = operator;
    }
}
