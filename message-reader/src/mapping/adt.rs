//! ADT mapping, field by field as EMAP's reader does it (PID, PV1, PV2, EVN, MRG).
//!
//! One shared builder fills [`AdtFields`] from the patient and visit segments; each trigger adds
//! its own fields. Rules (EMAP ids in `shared/reference/emap-behaviour.md` §4.17 and §5):
//! ADT from a sender not in the site's trusted list is ignored (R1); an unknown PV1-2 class fails
//! the ADT message (R2) but only drops an implied one; A04 with EVN-4 `ENC_CREATE` is ignored;
//! empty fields are unknown and the HL7 null `""` is a delete.

use hl7::{Dtm, Segment};
use interchange::Message;
use interchange::adt::*;
use interchange::value::Iv;

use super::segments::{Context, iv_location, iv_text, location_string, text};
use super::{Ignored, MapError, Mapped};

/// The fields every ADT message has, from MSH, EVN, the first PID, PV1 and PV2.
fn common(
    context: &Context<'_>,
    pid: Option<&Segment>,
    pv1: Option<&Segment>,
) -> Result<AdtFields, MapError> {
    let hl7 = context.hl7;
    let msh = hl7.segment("MSH");
    let evn = hl7.segment("EVN");
    let pv2 = hl7.segment("PV2");
    let recorded = match context.instant(evn, 2, "EVN-2 recorded time")? {
        Some(t) => Some(t),
        None => context.instant(msh, 7, "MSH-7 message time")?,
    };
    let birth = match text(pid, 7, 1, 1) {
        None => (Iv::Unknown, Iv::Unknown),
        Some(t) if t == "\"\"" => (Iv::delete(), Iv::delete()),
        Some(t) => {
            let dtm = Dtm::parse(&t).map_err(|error| MapError::BadDateTime {
                field: "PID-7 birth date",
                error,
            })?;
            // A birth date without a time names a calendar date, not a moment in the site's
            // zone: EMAP gives it as midnight UTC of that date (`Adt/birth_date_*` tests).
            let instant = if dtm.precision <= hl7::dtm::Precision::Day {
                dtm.local.and_utc()
            } else {
                dtm.to_instant(context.site.time_zone)
            };
            (Iv::Save(dtm.local.date()), Iv::Save(instant))
        }
    };
    let patient_class = match text(pv1, 2, 1, 1) {
        None => Iv::Unknown,
        Some(t) if t == "\"\"" => Iv::delete(),
        Some(code) => Iv::Save(PatientClass::from_hl7(&code).ok_or(MapError::UnknownValue {
            field: "PV1-2 patient class",
        })?),
    };
    let patient_is_alive = match text(pid, 30, 1, 1).as_deref() {
        Some("Y") => Iv::Save(false),
        Some("N") => Iv::Save(true),
        _ => Iv::Unknown,
    };
    let ethnic_group = iv_text(pid, 22, 1).map(|code| {
        context
            .site
            .ethnic_groups
            .get(&code)
            .cloned()
            .unwrap_or(code)
    });
    Ok(AdtFields {
        source_message_id: Some(context.source_message_id.to_owned()),
        source_system: text(msh, 3, 1, 1),
        recorded_date_time: recorded,
        event_reason_code: text(evn, 4, 1, 1),
        event_occurred_date_time: context.instant(evn, 6, "EVN-6 event occurred")?,
        mrn: text(pid, 3, 1, 1),
        nhs_number: text(pid, 3, 2, 1),
        visit_number: pv1.map(|pv1| pv1.value(19, 1, 1).unwrap_or_default()),
        mode_of_arrival: iv_text(pv2, 38, 1),
        ethnic_group,
        full_location_string: iv_location(pv1, 3),
        previous_location_string: iv_location(pv1, 6),
        patient_birth_date: birth.0,
        patient_birth_date_time: birth.1,
        patient_class,
        patient_death_date_time: context.iv_instant(pid, 29, "PID-29 death time")?,
        patient_is_alive,
        patient_family_name: iv_text(pid, 5, 1),
        patient_given_name: iv_text(pid, 5, 2),
        patient_middle_name: iv_text(pid, 5, 3),
        patient_religion: iv_text(pid, 17, 1),
        patient_sex: iv_text(pid, 8, 1),
        patient_title: iv_text(pid, 5, 5),
        patient_zip_or_postal_code: iv_text(pid, 11, 5),
    })
}

/// The ADT context implied by a non-ADT message, or `None` when it names no patient.
pub(super) fn implied(context: &Context<'_>) -> Result<Option<Message>, MapError> {
    let pid = context.hl7.segment("PID");
    if text(pid, 3, 1, 1).is_none() {
        return Ok(None);
    }
    let adt = common(context, pid, context.hl7.segment("PV1"))?;
    Ok(Some(ImpliedAdtMessage { adt }.into()))
}

/// Maps an ADT message by trigger.
pub(super) fn map_adt(
    context: &Context<'_>,
    trigger: &str,
    kind: &str,
) -> Result<Mapped, MapError> {
    let ignored = |reason: &str| {
        Ok(Mapped::Ignored(Ignored {
            kind: kind.to_owned(),
            reason: reason.to_owned(),
        }))
    };
    let sender = context
        .hl7
        .segment("MSH")
        .and_then(|m| m.value(3, 1, 1))
        .unwrap_or_default();
    if !context.site.trusted_adt_senders.contains(&sender) {
        return ignored("ADT from a sender not in the trusted ADT senders");
    }
    let hl7 = context.hl7;
    let pid = hl7.segment("PID");
    if pid.is_none() {
        return Err(MapError::MissingSegment("PID"));
    }
    let pv1 = hl7.segment("PV1");
    let evn = hl7.segment("EVN");
    let mrg = hl7.segment("MRG");
    let adt = common(context, pid, pv1)?;
    let message: Message = match trigger {
        "A01" => AdmitPatient {
            admission_date_time: context.iv_instant(pv1, 44, "PV1-44 admit time")?,
            adt,
        }
        .into(),
        "A02" | "A06" | "A07" => TransferPatient {
            admission_date_time: context.iv_instant(pv1, 44, "PV1-44 admit time")?,
            adt,
        }
        .into(),
        "A03" => DischargePatient {
            admission_date_time: context.iv_instant(pv1, 44, "PV1-44 admit time")?,
            discharge_date_time: context.instant(pv1, 45, "PV1-45 discharge time")?,
            discharge_disposition: text(pv1, 36, 1, 1),
            discharge_location: text(pv1, 37, 1, 1),
            adt,
        }
        .into(),
        "A04" if text(evn, 4, 1, 1).as_deref() == Some("ENC_CREATE") => {
            return ignored("A04 with EVN-4 ENC_CREATE only creates an encounter");
        }
        "A04" => RegisterPatient {
            presentation_date_time: context.iv_instant(pv1, 44, "PV1-44 admit time")?,
            adt,
        }
        .into(),
        "A08" | "A28" | "A31" => UpdatePatientInfo { adt }.into(),
        "A11" => CancelAdmitPatient {
            cancelled_date_time: adt.event_occurred_date_time,
            adt,
        }
        .into(),
        "A12" => CancelTransferPatient {
            cancelled_date_time: adt.event_occurred_date_time,
            cancelled_location: location_string(pv1, 6),
            adt,
        }
        .into(),
        "A13" => CancelDischargePatient {
            cancelled_date_time: adt.event_occurred_date_time,
            adt,
        }
        .into(),
        "A15" => PendingTransfer {
            pending_event_type: PendingType::Transfer,
            pending_destination: iv_location(pv1, 42),
            adt,
        }
        .into(),
        "A26" => CancelPendingTransfer {
            pending_event_type: PendingType::Transfer,
            pending_destination: iv_location(pv1, 42),
            cancelled_date_time: adt.event_occurred_date_time,
            adt,
        }
        .into(),
        "A17" => {
            let other_pid = hl7
                .segments_named("PID")
                .nth(1)
                .ok_or(MapError::MissingSegment("second PID"))?;
            let other_pv1 = hl7.segments_named("PV1").nth(1);
            SwapLocations {
                other_mrn: other_pid.value(3, 1, 1),
                other_nhs_number: other_pid.value(3, 2, 1),
                other_visit_number: other_pv1.and_then(|p| p.value(19, 1, 1)),
                other_full_location_string: iv_location(other_pv1, 3),
                adt,
            }
            .into()
        }
        "A29" => DeletePersonInformation { adt }.into(),
        "A40" => MergePatient {
            previous_mrn: text(mrg, 1, 1, 1),
            previous_nhs_number: text(mrg, 1, 2, 1),
            adt,
        }
        .into(),
        "A45" => MoveVisitInformation {
            previous_mrn: text(mrg, 1, 1, 1),
            previous_nhs_number: text(mrg, 1, 2, 1),
            previous_visit_number: text(mrg, 5, 1, 1),
            adt,
        }
        .into(),
        "A47" => ChangePatientIdentifiers {
            previous_mrn: text(mrg, 1, 1, 1),
            previous_nhs_number: text(mrg, 1, 2, 1),
            adt,
        }
        .into(),
        "A14" | "A38" => return ignored("scheduling triggers are not implemented"),
        "A60" => return ignored("allergies are not mapped yet (planned)"),
        _ => return ignored("ADT trigger not handled by Ward"),
    };
    Ok(Mapped::Messages(vec![message]))
}
