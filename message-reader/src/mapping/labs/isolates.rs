//! WinPath microbiology (R4): a culture's organisms and their antibiotic sensitivities.
//!
//! WinPath reports an isolate as several OBX segments with test code `ISOLATE` sharing one
//! sub-id (OBX-4): a coded one naming the organism (OBX-5 `code^name`) and a text one giving
//! its quantity ("Heavy growth of") or, ending in " culture yields:", the culture type. They
//! become one result of mime type `LAB_ISOLATE` carrying a [`LabIsolateMsg`]. The sensitivities
//! of isolate *n* arrive as their own order (OBR-4 `Sensitivities`) whose OBR-26 names the
//! parent result (`ISOLATE^n`): its results (agent in the value, S/R/I in OBX-8) become the
//! isolate's sensitivities and its clinical information the isolate's. A sensitivity order
//! whose isolate is not in the message stays an order of its own, so nothing is lost.

use interchange::lab::{LabIsolateMsg, LabOrderMsg, LabResultMsg, ValueType};
use interchange::value::Iv;
use tracing::warn;

use crate::mapping::MapError;
use crate::mapping::segments::text;

/// The test code of isolate results.
const ISOLATE: &str = "ISOLATE";
/// How a culture type is told from a quantity.
const CULTURE_TYPE_SUFFIX: &str = " culture yields:";

/// The isolate an OBX reports, if its test is `ISOLATE`; `epic` is the order's Epic number. A
/// coded value (CE/CWE) on any other test is refused, as it means a result WinPath never sends.
pub(super) fn isolate(
    obx: &hl7::Segment,
    result: &LabResultMsg,
    epic: &str,
) -> Result<Option<LabIsolateMsg>, MapError> {
    let coded = matches!(obx.value(2, 1, 1).as_deref(), Some("CE" | "CWE"));
    if result.test_item_local_code.as_deref() != Some(ISOLATE) {
        return match coded {
            true => Err(MapError::Inconsistent(
                "a coded WinPath result that is not an isolate",
            )),
            false => Ok(None),
        };
    }
    let mut isolate = LabIsolateMsg {
        epic_care_order_number: Some(epic.to_owned()),
        isolate_id: Some(result.observation_sub_id.clone().unwrap_or_default()),
        ..LabIsolateMsg::default()
    };
    if coded {
        isolate.isolate_code = text(Some(obx), 5, 1, 1).map(|c| c.trim_end().to_owned());
        isolate.isolate_name = text(Some(obx), 5, 1, 2);
    } else {
        let value = result.string_value.saved().cloned().unwrap_or_default();
        match value.strip_suffix(CULTURE_TYPE_SUFFIX) {
            Some(culture) => isolate.culture_type = Iv::from_hl7(Some(culture)),
            None => isolate.quantity = Iv::from_hl7(Some(&value)),
        }
    }
    Ok(Some(isolate))
}

/// R4: the results of one order with each isolate's segments merged into its first, in the
/// order they came. A result with a sub-id must be an isolate.
pub(super) fn merge(
    results: Vec<(LabResultMsg, Option<LabIsolateMsg>)>,
) -> Result<Vec<LabResultMsg>, MapError> {
    let mut out: Vec<LabResultMsg> = Vec::with_capacity(results.len());
    for (mut result, isolate) in results {
        let sub_id = result.observation_sub_id.clone().filter(|s| !s.is_empty());
        let (Some(sub_id), Some(isolate)) = (sub_id, isolate) else {
            if result
                .observation_sub_id
                .as_deref()
                .is_some_and(|s| !s.is_empty())
            {
                return Err(MapError::Inconsistent(
                    "a WinPath result with a sub-id that is not an isolate",
                ));
            }
            out.push(result);
            continue;
        };
        let earlier = out.iter_mut().find(|r| {
            r.lab_isolate.is_some() && r.observation_sub_id.as_deref() == Some(sub_id.as_str())
        });
        match earlier.and_then(|r| r.lab_isolate.as_mut()) {
            Some(existing) => combine(existing, isolate),
            None => {
                result.mime_type = Some(ValueType::LabIsolate);
                result.string_value = Iv::Unknown;
                result.lab_isolate = Some(isolate);
                out.push(result);
            }
        }
    }
    Ok(out)
}

/// What `other` says of the isolate, over what `isolate` said.
fn combine(isolate: &mut LabIsolateMsg, other: LabIsolateMsg) {
    if other.isolate_code.is_some() {
        isolate.isolate_code = other.isolate_code;
    }
    if other.isolate_name.is_some() {
        isolate.isolate_name = other.isolate_name;
    }
    for (mine, theirs) in [
        (&mut isolate.culture_type, other.culture_type),
        (&mut isolate.quantity, other.quantity),
        (
            &mut isolate.clinical_information,
            other.clinical_information,
        ),
    ] {
        if theirs.is_save() {
            *mine = theirs;
        }
    }
}

/// R4: each sensitivity order moved into the isolate it names (OBR-26 test code and sub-id,
/// in the order with its Epic number), its results becoming the isolate's sensitivities; the
/// other orders keep their places.
pub(super) fn reparent(mut orders: Vec<LabOrderMsg>) -> Vec<LabOrderMsg> {
    let mut at = 0;
    while at < orders.len() {
        if orders[at]
            .parent_sub_id
            .as_deref()
            .is_none_or(str::is_empty)
        {
            at += 1;
            continue;
        }
        let child = orders.remove(at);
        match parent_isolate(&mut orders, &child) {
            Some(isolate) => {
                isolate.sensitivities = child.lab_result_msgs;
                isolate.clinical_information = child.clinical_information;
            }
            None => {
                warn!(
                    source_message_id = child.source_message_id.as_deref().unwrap_or_default(),
                    "a WinPath sensitivity order names no isolate in its message; kept as an order"
                );
                orders.insert(at, child);
                at += 1;
            }
        }
    }
    orders
}

/// The isolate `child`'s OBR-26 names among `orders`' results: the result of that test and
/// sub-id in the order with the child's Epic number, or in any order of the message when the
/// child carries no Epic number (WinPath sometimes leaves it out of a sensitivity order).
fn parent_isolate<'a>(
    orders: &'a mut [LabOrderMsg],
    child: &LabOrderMsg,
) -> Option<&'a mut LabIsolateMsg> {
    let epic = child.epic_care_order_number.saved();
    orders
        .iter_mut()
        .flat_map(|order| order.lab_result_msgs.iter_mut())
        .find(|r| {
            r.lab_isolate.is_some()
                && epic.is_none_or(|epic| r.epic_care_order_number.as_ref() == Some(epic))
                && r.test_item_local_code == child.parent_observation_identifier
                && r.observation_sub_id == child.parent_sub_id
        })
        .and_then(|r| r.lab_isolate.as_mut())
}
