//! Bank Manager (blood bank) group-and-screen orders and results (ORU^R01, OBR-4.4 `Profiles`).
//! The specimen number is OBR-3, the battery OBR-4.1, the status change time OBR-22, Epic's
//! order number ORC-2 (a cancellation, ORC-1 OC, sends none: its battery and sample identify
//! the order). The blood bank's comment on the order (NTE-4 `BMCOMMENT`) is its clinical
//! information; results are read as any lab's.

use chrono::{DateTime, Utc};
use interchange::lab::{LabOrderMsg, LabResultMsg};
use interchange::value::Iv;

use super::{Group, results};
use crate::mapping::MapError;
use crate::mapping::segments::{Context, subcomponent, text};

/// The order of one ORC/OBR group (of any message type).
pub(super) fn order(
    context: &Context<'_>,
    _message_type: &str,
    group: &Group<'_>,
) -> Result<Option<LabOrderMsg>, MapError> {
    let (orc, obr) = (group.orc, Some(group.obr));
    let control = text(orc, 1, 1, 1).unwrap_or_default();
    let status_change = match context.instant(obr, 22, "OBR-22 status change time")? {
        Some(t) => Some(t),
        None => context.instant(orc, 9, "ORC-9 transaction time")?,
    };
    let at = |t: Option<DateTime<Utc>>| t.map_or(Iv::Unknown, Iv::Save);
    let epic = match text(orc, 2, 1, 1) {
        Some(n) if control == "OC" => Iv::Delete(Some(n)),
        other => Iv::from_hl7(other.as_deref()),
    };
    let comments: Vec<&str> = group.notes.iter().map(String::as_str).collect();
    let results = group
        .results
        .iter()
        .map(|(obx, notes)| LabResultMsg {
            test_item_coding_system: Some("BANK_MANAGER".to_owned()),
            result_time: context
                .instant(Some(obx), 14, "OBX-14 observation time")
                .ok()
                .flatten()
                .or(status_change),
            ..results::result(obx, notes)
        })
        .collect();
    let msh = context.hl7.segment("MSH");
    Ok(Some(LabOrderMsg {
        source_message_id: Some(context.source_message_id.to_owned()),
        source_system: Some(text(msh, 3, 1, 1).unwrap_or_else(|| "Not in Message".to_owned())),
        order_control_id: Some(control),
        epic_care_order_number: epic,
        lab_specimen_number: text(obr, 3, 1, 1),
        specimen_type: subcomponent(context.hl7, obr, 15, 1, 1).map_or(Iv::Unknown, Iv::Save),
        collection_date_time: context.instant(obr, 7, "OBR-7 collection time")?,
        status_change_time: status_change,
        requested_date_time: at(context.instant(obr, 6, "OBR-6 requested time")?),
        order_status: text(orc, 5, 1, 1),
        result_status: text(obr, 25, 1, 1),
        mrn: text(context.hl7.segment("PID"), 3, 1, 1),
        visit_number: text(context.hl7.segment("PV1"), 19, 1, 1),
        test_battery_local_code: text(obr, 4, 1, 1),
        test_battery_coding_system: Some("BANK_MANAGER".to_owned()),
        clinical_information: match comments.is_empty() {
            true => Iv::Unknown,
            false => Iv::Save(comments.join("\n")),
        },
        lab_result_msgs: results,
        ..LabOrderMsg::default()
    }))
}
