//! Patient conditions, as EMAP reads them: problem-list entries (PPR^PC1/PC2/PC3, one
//! `PatientProblem` per PRB with the NTEs after it as its comment), infection flags (ADT^A05, one
//! `PatientInfection` per ZIF repetition: name, added and resolved times) and allergies
//! (ADT^A60, one `PatientAllergy` per IAM: type, allergen, severity, reactions, action, Epic id,
//! onset, reported time). A problem's visit is PV1-19, else PID-18. The message's time is EVN-2 (else MSH-7); a problem's is its PRB-2
//! action time when given.
//!
//! EMAP's reader also drops infections added before the latest one it has already emitted
//! (K8, kept in memory since start-up). Decided: Ward emits every one. Mapping stays a function
//! of the message alone, so a replay from any IDS id maps exactly as the live reader did; the
//! processor keys an HL7 infection by its added time, so the ZIF list repeated in each A05 changes
//! nothing; and a flag the EHR's tables have since superseded cannot come back, because the
//! processor refuses HL7 flags no newer than the patient's Clarity infections (K7). EMAP's
//! filter would also drop the resolution of an older flag once a newer one had been emitted.

use chrono::{DateTime, NaiveDate, Utc};
use hl7::Segment;
use interchange::Message;
use interchange::condition::{
    ConditionAction, ConditionFields, PatientAllergy, PatientInfection, PatientProblem,
};
use interchange::value::Iv;

use super::MapError;
use super::segments::{Context, text};

/// The fields every condition of this message shares.
fn common(context: &Context<'_>) -> Result<ConditionFields, MapError> {
    let hl7 = context.hl7;
    let msh = hl7.segment("MSH");
    let updated = match context.instant(hl7.segment("EVN"), 2, "EVN-2 recorded time")? {
        Some(at) => Some(at),
        None => context.instant(msh, 7, "MSH-7 message time")?,
    };
    Ok(ConditionFields {
        source_message_id: Some(context.source_message_id.to_owned()),
        source_system: text(msh, 3, 1, 1),
        mrn: text(hl7.segment("PID"), 3, 1, 1),
        updated_date_time: updated,
        ..ConditionFields::default()
    })
}

fn date(
    segment: Option<&Segment>,
    n: usize,
    field: &'static str,
) -> Result<Option<NaiveDate>, MapError> {
    match text(segment, n, 1, 1) {
        None => Ok(None),
        Some(value) => {
            let day = value.get(..8).unwrap_or(&value);
            NaiveDate::parse_from_str(day, "%Y%m%d")
                .map(Some)
                .map_err(|_| MapError::UnknownValue { field })
        }
    }
}

fn saved<T>(value: Option<T>) -> Iv<T> {
    value.map_or(Iv::Unknown, Iv::Save)
}

/// An Epic id as EMAP reads it: a number, or not given.
fn epic_id(segment: Option<&Segment>, n: usize, field: &'static str) -> Result<Iv<i64>, MapError> {
    match text(segment, n, 1, 1) {
        None => Ok(Iv::Unknown),
        Some(id) => id
            .trim()
            .parse()
            .map(Iv::Save)
            .map_err(|_| MapError::UnknownValue { field }),
    }
}

/// The problem-list entries of a PPR message, in PRB order.
pub(super) fn problems(context: &Context<'_>) -> Result<Vec<Message>, MapError> {
    let base = common(context)?;
    // The visit: PV1-19, else the account number (PID-18), as EMAP reads it.
    let visit = text(context.hl7.segment("PV1"), 19, 1, 1)
        .or_else(|| text(context.hl7.segment("PID"), 18, 1, 1));
    let mut groups: Vec<(&Segment, Vec<String>)> = Vec::new();
    for segment in context.hl7.segments() {
        match segment.id() {
            "PRB" => groups.push((segment, Vec::new())),
            "NTE" => {
                if let Some((_, notes)) = groups.last_mut() {
                    notes.extend(text(Some(segment), 3, 1, 1));
                }
            }
            _ => {}
        }
    }
    groups
        .into_iter()
        .map(|(prb, notes)| {
            let prb = Some(prb);
            let action = match text(prb, 1, 1, 1).as_deref() {
                Some("AD") => ConditionAction::Add,
                Some("UP") => ConditionAction::Update,
                Some("DE") => ConditionAction::Delete,
                _ => {
                    return Err(MapError::UnknownValue {
                        field: "PRB-1 action code",
                    });
                }
            };
            let updated = context
                .instant(prb, 2, "PRB-2 action time")?
                .or(base.updated_date_time);
            Ok(PatientProblem {
                condition: ConditionFields {
                    action: Some(action),
                    updated_date_time: updated,
                    condition_code: text(prb, 3, 1, 1),
                    condition_name: saved(text(prb, 3, 1, 2)),
                    epic_condition_id: epic_id(prb, 4, "PRB-4 problem instance id")?,
                    status: saved(text(prb, 13, 1, 1)),
                    onset_date: saved(date(prb, 16, "PRB-16 onset date")?),
                    visit_number: saved(visit.clone()),
                    comment: saved((!notes.is_empty()).then(|| notes.join("\n"))),
                    ..base.clone()
                },
                added_date: date(prb, 7, "PRB-7 established date")?,
                resolved_date: date(prb, 9, "PRB-9 resolution date")?,
            }
            .into())
        })
        .collect()
}

/// The infection flags of an A05's ZIF segments, one per repetition.
pub(super) fn infections(context: &Context<'_>) -> Result<Vec<Message>, MapError> {
    let base = common(context)?;
    let mut out = Vec::new();
    for zif in context.hl7.segments_named("ZIF") {
        for rep in 1..=zif.repetitions(1) {
            let Some(name) = zif.value(1, rep, 1) else {
                continue;
            };
            let at =
                |comp: usize, field: &'static str| -> Result<Option<DateTime<Utc>>, MapError> {
                    match zif.value(1, rep, comp) {
                        None => Ok(None),
                        Some(value) => hl7::Dtm::parse(&value)
                            .map(|t| Some(t.to_instant(context.site.time_zone)))
                            .map_err(|error| MapError::BadDateTime { field, error }),
                    }
                };
            out.push(
                PatientInfection {
                    condition: ConditionFields {
                        condition_code: Some(name),
                        added_datetime: at(2, "ZIF-1.2 added time")?,
                        ..base.clone()
                    },
                    resolved_datetime: saved(at(3, "ZIF-1.3 resolved time")?),
                }
                .into(),
            );
        }
    }
    Ok(out)
}

/// The allergies of an A60's IAM segments.
pub(super) fn allergies(context: &Context<'_>) -> Result<Vec<Message>, MapError> {
    let base = common(context)?;
    context
        .hl7
        .segments_named("IAM")
        .map(|iam| {
            let iam = Some(iam);
            let action = match text(iam, 6, 1, 1).as_deref() {
                Some("A") | None => ConditionAction::Add,
                Some("U") | Some("X") => ConditionAction::Update,
                Some("D") => ConditionAction::Delete,
                Some(_) => {
                    return Err(MapError::UnknownValue {
                        field: "IAM-6 action code",
                    });
                }
            };
            let code = text(iam, 3, 1, 1).or_else(|| text(iam, 3, 1, 2));
            let reactions = iam
                .map(|s| {
                    (1..=s.repetitions(5))
                        .filter_map(|rep| s.value(5, rep, 2).or_else(|| s.value(5, rep, 1)))
                        .collect()
                })
                .unwrap_or_default();
            Ok(PatientAllergy {
                condition: ConditionFields {
                    action: Some(action),
                    sub_type: saved(text(iam, 2, 1, 1)),
                    condition_code: code,
                    condition_name: saved(text(iam, 3, 1, 2)),
                    severity: saved(text(iam, 4, 1, 1)),
                    epic_condition_id: epic_id(iam, 7, "IAM-7 allergy unique id")?,
                    onset_date: saved(date(iam, 11, "IAM-11 onset date")?),
                    added_datetime: context.instant(iam, 13, "IAM-13 reported time")?,
                    status: saved(text(iam, 17, 1, 1)),
                    ..base.clone()
                },
                reactions,
            }
            .into())
        })
        .collect()
}
