//! CoPath (histopathology) orders and reports, field by field as EMAP reads them.
//!
//! CoPath renames an order's battery as it goes (Epic orders `UH`, CoPath answers `H`), but a
//! request has one specimen number, so every CoPath order is stored under the site's one CoPath
//! battery ([`crate::SiteConfig::copath_battery`]). The specimen number is ORC-3, else ORC-4;
//! ORC-2 is Epic's order number unless it only repeats the specimen number (CoPath's own
//! messages carry the lab number everywhere). The status change time is OBR-22, else ORC-9;
//! ORC-9 is also the order time of NW and SN, and the time the lab received the sample of an SC
//! still in progress (OBR-25 `I`). The collection method is OBR-15.3. Questions are NTEs
//! `question->answer`. A report's OBX segments are grouped by value type: text lines (TX/ST/FT)
//! joined into one TEXT result, an encapsulated MIME document (ED) decoded into one PDF result.

use base64::Engine as _;
use interchange::Binary;
use interchange::lab::{LabOrderMsg, LabResultMsg, LabResultStatus, ValueType};
use interchange::value::Iv;
use tracing::warn;

use super::{CONTROLS, Group, simple_questions};
use crate::mapping::MapError;
use crate::mapping::segments::{Context, subcomponent, text};

/// The order of one ORC/OBR group, `None` for an order control CoPath orders do not carry.
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
    let specimen = text(orc, 3, 1, 1).or_else(|| text(orc, 4, 1, 1));
    let epic = match text(orc, 2, 1, 1) {
        Some(n) if Some(&n) == specimen.as_ref() => Iv::Unknown,
        Some(n) if matches!(control.as_str(), "CA" | "CR" | "OC") => Iv::Delete(Some(n)),
        Some(n) => Iv::Save(n),
        None => Iv::Unknown,
    };
    let transaction = context.instant(orc, 9, "ORC-9 transaction time")?;
    let result_time = context.instant(obr, 22, "OBR-22 status change time")?;
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(Iv::Unknown, Iv::Save);
    let in_progress = text(obr, 25, 1, 1).as_deref() == Some("I");
    let results = match message_type {
        "ORU" => report(context, group, result_time),
        _ => Vec::new(),
    };
    let msh = context.hl7.segment("MSH");
    Ok(Some(LabOrderMsg {
        source_message_id: Some(context.source_message_id.to_owned()),
        source_system: Some(text(msh, 3, 1, 1).unwrap_or_else(|| "Not in Message".to_owned())),
        order_control_id: Some(control.clone()),
        epic_care_order_number: epic,
        lab_specimen_number: specimen,
        specimen_type: subcomponent(context.hl7, obr, 15, 1, 1).map_or(Iv::Unknown, Iv::Save),
        collection_method: Iv::from_hl7(text(obr, 15, 1, 3).as_deref()),
        collection_date_time: context.instant(obr, 7, "OBR-7 collection time")?,
        status_change_time: result_time.or(transaction),
        order_date_time: match control.as_str() {
            "NW" | "SN" => at(transaction),
            _ => Iv::Unknown,
        },
        sample_received_time: match control.as_str() {
            "SC" if in_progress => at(transaction),
            _ => Iv::Unknown,
        },
        requested_date_time: at(context.instant(obr, 6, "OBR-6 requested time")?),
        lab_department: text(obr, 24, 1, 1),
        order_status: Some(text(orc, 5, 1, 1).unwrap_or_default()),
        result_status: Some(text(obr, 25, 1, 1).unwrap_or_default()),
        mrn: text(context.hl7.segment("PID"), 3, 1, 1),
        visit_number: Some(text(context.hl7.segment("PV1"), 19, 1, 1).unwrap_or_default()),
        test_battery_local_code: Some(context.site.copath_battery.clone()),
        test_battery_coding_system: Some("CO_PATH".to_owned()),
        parent_observation_identifier: Some(
            subcomponent(context.hl7, obr, 26, 1, 1).unwrap_or_default(),
        ),
        parent_sub_id: Some(text(obr, 26, 1, 2).unwrap_or_default()),
        clinical_information: Iv::from_hl7(text(obr, 13, 1, 1).as_deref()),
        questions: simple_questions(&group.notes, "->"),
        lab_result_msgs: results,
        ..LabOrderMsg::default()
    }))
}

/// The report's results: one per value type, in the order the types first appear.
fn report(
    context: &Context<'_>,
    group: &Group<'_>,
    result_time: Option<chrono::DateTime<chrono::Utc>>,
) -> Vec<LabResultMsg> {
    let mut kinds: Vec<(String, Vec<&hl7::Segment>)> = Vec::new();
    for (obx, _) in &group.results {
        let kind = obx.value(2, 1, 1).unwrap_or_default();
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, segments)) => segments.push(obx),
            None => kinds.push((kind, vec![obx])),
        }
    }
    let mut out = Vec::new();
    for (kind, segments) in kinds {
        let first = segments.first().copied();
        let result = LabResultMsg {
            test_item_coding_system: Some("CO_PATH".to_owned()),
            observation_sub_id: text(first, 4, 1, 1),
            result_status: LabResultStatus::from_hl7(&text(first, 11, 1, 1).unwrap_or_default()),
            result_time,
            ..LabResultMsg::default()
        };
        match kind.as_str() {
            "TX" | "ST" | "FT" => out.push(LabResultMsg {
                mime_type: Some(ValueType::Text),
                test_item_local_code: Some("TEXT".to_owned()),
                string_value: Iv::Save(lines(&segments).join("\n")),
                ..result
            }),
            "ED" => match document(&segments) {
                Ok(bytes) => out.push(LabResultMsg {
                    mime_type: Some(ValueType::Pdf),
                    test_item_local_code: Some("PDF".to_owned()),
                    byte_value: Iv::Save(Binary(bytes)),
                    ..result
                }),
                Err(why) => warn!(
                    source_message_id = context.source_message_id,
                    why, "a CoPath report's document is left out"
                ),
            },
            other => warn!(
                source_message_id = context.source_message_id,
                value_type = other,
                "a CoPath result of an unknown value type is left out"
            ),
        }
    }
    out
}

/// OBX-5 of each segment, an empty value as an empty line.
fn lines(segments: &[&hl7::Segment]) -> Vec<String> {
    segments
        .iter()
        .map(|obx| obx.value(5, 1, 1).unwrap_or_default())
        .collect()
}

/// The bytes of a MIME document sent line by line: headers (`Content-…`) up to an empty line,
/// then the base64 body.
fn document(segments: &[&hl7::Segment]) -> Result<Vec<u8>, &'static str> {
    let lines = lines(segments);
    let body_starts = lines
        .iter()
        .position(String::is_empty)
        .ok_or("no empty line ends the MIME headers")?;
    let headers = &lines[..body_starts];
    if !headers
        .iter()
        .any(|h| h.to_ascii_lowercase().replace(' ', "") == "content-transfer-encoding:base64")
    {
        return Err("the document is not base64 encoded");
    }
    let body: String = lines[body_starts..].concat();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|_| "the document's base64 does not decode")
}
