//! Imaging reports (PACS) as lab orders, field by field as EMAP reads them: only results (ORC-1
//! `RE`) are mapped. The battery is the exam code (OBR-4.1), the specimen number the accession
//! number (ORC-3), Epic's order number ORC-2, questions NTEs `question=answer`. A coded OBX
//! (e.g. `INDICATIONS`) is a result of its own; the report's lines (OBX-3 `&GDT`) are one
//! `NARRATIVE` result up to the line `Signed by:` and one `SIGNATURE` result from it.

use chrono::{DateTime, Utc};
use interchange::lab::{LabOrderMsg, LabResultMsg, LabResultStatus, ValueType};
use interchange::value::Iv;

use super::{Group, simple_questions};
use crate::mapping::MapError;
use crate::mapping::segments::{Context, subcomponent, text};

/// Where a report's signature starts.
const SIGNED: &str = "Signed by:";

/// The report of one ORC/OBR group, `None` unless it is a result (ORU, ORC-1 `RE`).
pub(super) fn order(
    context: &Context<'_>,
    message_type: &str,
    group: &Group<'_>,
) -> Result<Option<LabOrderMsg>, MapError> {
    let (orc, obr) = (group.orc, Some(group.obr));
    let control = text(orc, 1, 1, 1).unwrap_or_default();
    if message_type != "ORU" || control != "RE" {
        return Ok(None);
    }
    let result_time = context.instant(obr, 22, "OBR-22 status change time")?;
    let at = |t: Option<DateTime<Utc>>| t.map_or(Iv::Unknown, Iv::Save);
    let msh = context.hl7.segment("MSH");
    Ok(Some(LabOrderMsg {
        source_message_id: Some(context.source_message_id.to_owned()),
        source_system: Some(text(msh, 3, 1, 1).unwrap_or_else(|| "Not in Message".to_owned())),
        order_control_id: Some(control),
        epic_care_order_number: Iv::from_hl7(text(orc, 2, 1, 1).as_deref()),
        lab_specimen_number: text(orc, 3, 1, 1),
        collection_date_time: context.instant(obr, 7, "OBR-7 collection time")?,
        status_change_time: result_time,
        requested_date_time: at(context.instant(obr, 6, "OBR-6 requested time")?),
        lab_department: text(obr, 24, 1, 1),
        order_status: Some(text(orc, 5, 1, 1).unwrap_or_default()),
        result_status: Some(text(obr, 25, 1, 1).unwrap_or_default()),
        mrn: text(context.hl7.segment("PID"), 3, 1, 1),
        visit_number: text(context.hl7.segment("PV1"), 19, 1, 1),
        test_battery_local_code: text(obr, 4, 1, 1),
        test_battery_coding_system: Some("PACS".to_owned()),
        parent_observation_identifier: Some(
            subcomponent(context.hl7, obr, 26, 1, 1).unwrap_or_default(),
        ),
        parent_sub_id: Some(text(obr, 26, 1, 2).unwrap_or_default()),
        clinical_information: text(obr, 13, 1, 1)
            .or_else(|| text(obr, 31, 1, 2))
            .or_else(|| text(obr, 31, 1, 1))
            .map_or(Iv::Unknown, Iv::Save),
        questions: simple_questions(&group.notes, "="),
        lab_result_msgs: results(group, result_time),
        ..LabOrderMsg::default()
    }))
}

/// The report's results: each coded OBX on its own, the report lines split at the signature.
fn results(group: &Group<'_>, result_time: Option<DateTime<Utc>>) -> Vec<LabResultMsg> {
    let mut out = Vec::new();
    let mut narrative: Option<(LabResultMsg, Vec<String>)> = None;
    let mut signature: Option<(LabResultMsg, Vec<String>)> = None;
    for (obx, _) in &group.results {
        let obx = Some(*obx);
        let result = LabResultMsg {
            mime_type: Some(ValueType::Text),
            test_item_coding_system: Some("PACS".to_owned()),
            observation_sub_id: Some(text(obx, 4, 1, 1).unwrap_or_default()),
            result_status: LabResultStatus::from_hl7(&text(obx, 11, 1, 1).unwrap_or_default()),
            result_time,
            ..LabResultMsg::default()
        };
        let line = text(obx, 5, 1, 1).unwrap_or_default();
        match text(obx, 3, 1, 1).filter(|code| !code.starts_with('&')) {
            Some(code) => out.push(LabResultMsg {
                test_item_local_code: Some(code),
                string_value: Iv::from_hl7(Some(&line)),
                ..result
            }),
            None => {
                let (part, code) = if signature.is_some() || line.starts_with(SIGNED) {
                    (&mut signature, "SIGNATURE")
                } else {
                    (&mut narrative, "NARRATIVE")
                };
                part.get_or_insert_with(|| {
                    (
                        LabResultMsg {
                            test_item_local_code: Some(code.to_owned()),
                            ..result
                        },
                        Vec::new(),
                    )
                })
                .1
                .push(line);
            }
        }
    }
    for (mut result, lines) in [narrative, signature].into_iter().flatten() {
        result.string_value = Iv::Save(lines.join("\n"));
        out.push(result);
    }
    out
}
