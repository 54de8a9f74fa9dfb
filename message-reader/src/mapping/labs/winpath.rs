//! WinPath orders and results (chemistry, haematology, microbiology), field by field as EMAP
//! reads them. The meaning of ORC-9 depends on ORC-1: the order time for NW and SN, the time the
//! lab received the sample for SC, the status change time of every order message (an ORU's is
//! OBR-22). R3: ORC-2 must equal OBR-2 or the message is refused; the specimen number is the
//! first 9 characters of ORC-3 (else ORC-4); orders with an order control outside RE, NW, SC,
//! SN, NA, CA, CR and OC are left out. A cancellation (CA, CR, OC) sends Epic's order number as
//! a delete. Only ORU messages carry results; microbiology isolates and their sensitivities
//! are gathered as [`isolates`] describes (R4).

use chrono::{DateTime, Utc};
use interchange::lab::{LabOrderMsg, LabResultMsg};
use interchange::value::Iv;

use super::{CONTROLS, Group, isolates, results};
use crate::mapping::MapError;
use crate::mapping::segments::{Context, subcomponent, text};

/// The order of one ORC/OBR group, `None` for an order control WinPath orders do not carry.
pub(super) fn order(
    context: &Context<'_>,
    message_type: &str,
    group: &Group<'_>,
) -> Result<Option<LabOrderMsg>, MapError> {
    let (orc, obr) = (group.orc, Some(group.obr));
    let control = text(orc, 1, 1, 1).unwrap_or_default();
    if !CONTROLS.contains(&control.as_str()) {
        return Ok(None);
    }
    let placer = text(orc, 2, 1, 1);
    if placer.is_some() && text(obr, 2, 1, 1).is_some() && placer != text(obr, 2, 1, 1) {
        return Err(MapError::Inconsistent(
            "ORC-2 and OBR-2 name different orders",
        ));
    }
    let transaction = context.instant(orc, 9, "ORC-9 transaction time")?;
    let status_change = match message_type {
        "ORU" => context.instant(obr, 22, "OBR-22 status change time")?,
        _ => transaction,
    };
    let at = |t: Option<DateTime<Utc>>| t.map_or(Iv::Unknown, Iv::Save);
    let cancels = matches!(control.as_str(), "CA" | "CR" | "OC");
    let msh = context.hl7.segment("MSH");
    let result_time = context.instant(obr, 22, "OBR-22 status change time")?;
    let results = if message_type == "ORU" {
        let epic = text(obr, 2, 1, 1).unwrap_or_default();
        let mut read = Vec::with_capacity(group.results.len());
        for (obx, notes) in &group.results {
            let result = LabResultMsg {
                // Each result names its order, so sensitivities can find their isolate.
                epic_care_order_number: Some(epic.clone()),
                result_time,
                ..results::result(obx, notes)
            };
            let isolate = isolates::isolate(obx, &result, &epic)?;
            read.push((result, isolate));
        }
        isolates::merge(read)?
    } else {
        Vec::new()
    };
    Ok(Some(LabOrderMsg {
        source_message_id: Some(context.source_message_id.to_owned()),
        source_system: Some(text(msh, 3, 1, 1).unwrap_or_else(|| "Not in Message".to_owned())),
        order_control_id: Some(control.clone()),
        epic_care_order_number: match placer {
            Some(n) if cancels => Iv::Delete(Some(n)),
            Some(n) => Iv::Save(n),
            None => Iv::Unknown,
        },
        lab_specimen_number: specimen(orc),
        specimen_type: subcomponent(context.hl7, obr, 15, 1, 1).map_or(Iv::Unknown, Iv::Save),
        collection_date_time: context.instant(obr, 7, "OBR-7 collection time")?,
        status_change_time: status_change,
        order_date_time: match control.as_str() {
            "NW" | "SN" => at(transaction),
            _ => Iv::Unknown,
        },
        sample_received_time: match control.as_str() {
            "SC" => at(transaction),
            _ => at(context.instant(obr, 14, "OBR-14 specimen received time")?),
        },
        requested_date_time: at(context.instant(obr, 6, "OBR-6 requested time")?),
        lab_department: text(obr, 24, 1, 1),
        order_status: Some(text(orc, 5, 1, 1).unwrap_or_default()),
        result_status: Some(text(obr, 25, 1, 1).unwrap_or_default()),
        mrn: text(context.hl7.segment("PID"), 3, 1, 1),
        visit_number: visit_number(context),
        test_battery_local_code: text(obr, 4, 1, 1),
        test_battery_coding_system: Some("WIN_PATH".to_owned()),
        parent_observation_identifier: Some(
            subcomponent(context.hl7, obr, 26, 1, 1).unwrap_or_default(),
        ),
        parent_sub_id: Some(text(obr, 26, 1, 2).unwrap_or_default()),
        clinical_information: text(obr, 13, 1, 1)
            .or_else(|| text(obr, 31, 1, 2))
            .or_else(|| text(obr, 31, 1, 1))
            .map_or(Iv::Unknown, Iv::Save),
        questions: super::questions(&group.notes),
        lab_result_msgs: results,
        ..LabOrderMsg::default()
    }))
}

/// R3: the first 9 characters of ORC-3, else of ORC-4.
fn specimen(orc: Option<&hl7::Segment>) -> Option<String> {
    text(orc, 3, 1, 1)
        .or_else(|| text(orc, 4, 1, 1))
        .map(|s| s.chars().take(9).collect())
}

/// PV1-19, else the account number PID-18 (an ORR has no PV1).
fn visit_number(context: &Context<'_>) -> Option<String> {
    text(context.hl7.segment("PV1"), 19, 1, 1)
        .or_else(|| text(context.hl7.segment("PID"), 18, 1, 1))
}
