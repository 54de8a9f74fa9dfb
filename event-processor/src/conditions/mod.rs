//! The conditions family: a patient's problem-list entries (`PatientProblem`), infection flags
//! (`PatientInfection`) and allergies (`PatientAllergy`), as `patient_condition` rows of a
//! `condition_type`, with `condition_visits` and an allergy's `allergen_reaction`s.
//!
//! A condition finds its patient through the engine's identity, created when unknown, and the
//! visit it names, created minimally when not stored (C9). Its type is a reference row
//! ([`types`]); the condition itself follows K1–K6 ([`records`]). A condition without its code,
//! or without both an Epic id and an added time (K1), or a problem deleted without a status
//! (K2), is refused. K7: a Clarity infection (one with an Epic id, from source tables) deletes
//! the patient's HL7 infection flags valid from no later than it, audited, and an HL7 flag that
//! arrives after it but is no newer is refused — so either arrival order ends the same. EMAP
//! deletes every patient's HL7 flags; Ward only the message's patient's.

mod records;
mod types;

use futures::FutureExt;
use futures::future::BoxFuture;
use interchange::Message;
use interchange::condition::{ConditionAction, ConditionFields};
use interchange::value::Iv;
use sqlx::PgConnection;

use crate::engine::identity::{Keys, PatientAndVisit};
use crate::engine::read_ahead::Prefetched;
use crate::engine::{Context, Family, ProcessError, reject};
use records::{Key, Reported};

/// The conditions family.
pub(crate) struct Conditions;

/// The shared fields of a condition message.
fn fields(message: &Message) -> Option<&ConditionFields> {
    match message {
        Message::PatientProblem(m) => Some(&m.condition),
        Message::PatientInfection(m) => Some(&m.condition),
        Message::PatientAllergy(m) => Some(&m.condition),
        _ => None,
    }
}

fn visit_number(f: &ConditionFields) -> Option<&str> {
    match &f.visit_number {
        Iv::Save(v) => Some(v.as_str()),
        _ => None,
    }
}

impl Family for Conditions {
    fn applies_to(&self, message: &Message) -> bool {
        fields(message).is_some()
    }

    fn keys<'m>(&self, message: &'m Message) -> Keys<'m> {
        match fields(message) {
            Some(f) => Keys::patient_and_visit(f.mrn.as_deref(), visit_number(f)),
            None => Keys::default(),
        }
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        message: &'a Message,
        _keys: &'a Keys<'a>,
        found: Option<Box<dyn Prefetched>>,
        context: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<(), ProcessError>> {
        async move {
            let (data_type, reported, reactions) = match message {
                Message::PatientProblem(m) => (
                    "PROBLEM_LIST",
                    Reported {
                        fields: &m.condition,
                        added_date: m.added_date,
                        resolution_date: m.resolved_date,
                        resolution_datetime: Iv::Unknown,
                        delete_needs_active: true,
                    },
                    None,
                ),
                Message::PatientInfection(m) => (
                    "PATIENT_INFECTION",
                    Reported {
                        fields: &m.condition,
                        added_date: None,
                        resolution_date: None,
                        resolution_datetime: m.resolved_datetime.clone(),
                        delete_needs_active: false,
                    },
                    None,
                ),
                Message::PatientAllergy(m) => (
                    "PATIENT_ALLERGY",
                    Reported {
                        fields: &m.condition,
                        added_date: None,
                        resolution_date: None,
                        resolution_datetime: Iv::Unknown,
                        delete_needs_active: false,
                    },
                    Some(m.reactions.as_slice()),
                ),
                _ => return Err(reject("NOT-BUILT", "not a condition message")),
            };
            apply(conn, data_type, &reported, reactions, found, context).await
        }
        .boxed()
    }
}

/// Applies one condition message.
async fn apply(
    conn: &mut PgConnection,
    data_type: &str,
    r: &Reported<'_>,
    reactions: Option<&[String]>,
    found: Option<Box<dyn Prefetched>>,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let f = r.fields;
    let Some(code) = f.condition_code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(reject("K1", "a condition without its code"));
    };
    let key = match (&f.epic_condition_id, f.added_datetime) {
        (Iv::Save(id), _) => Key::Epic(*id),
        (_, Some(at)) => Key::Added(at),
        _ => {
            return Err(reject(
                "K1",
                "a condition with neither an Epic id nor an added time",
            ));
        }
    };
    if r.delete_needs_active
        && f.action == Some(ConditionAction::Delete)
        && !matches!(f.status, Iv::Save(_))
    {
        return Err(reject("K2", "a problem deleted without a status"));
    }
    let mut read = PatientAndVisit::of(found);
    let mrn_id = read.live_mrn(conn, f.mrn.as_deref(), context).await?;
    let visit = read
        .visit_or_minimal(conn, mrn_id, visit_number(f), context)
        .await?;
    let name = match &f.condition_name {
        Iv::Save(name) => Some(name.as_str()),
        _ => None,
    };
    let sub_type = match &f.sub_type {
        Iv::Save(s) => Some(s.as_str()),
        _ => None,
    };
    let infection = data_type == "PATIENT_INFECTION";
    if infection
        && matches!(key, Key::Added(_))
        && records::superseded_by_clarity(conn, mrn_id, context.valid_from).await?
    {
        return Err(reject(
            "K7",
            "an HL7 infection flag older than the patient's Clarity infections",
        ));
    }
    let kind = types::condition_type(conn, data_type, code, name, sub_type, context).await?;
    let (id, newest) = records::record(conn, mrn_id, kind, key, visit, r, context).await?;
    if infection && matches!(key, Key::Epic(_)) {
        records::delete_hl7_infections(conn, mrn_id, context).await?;
    }
    if let Some(visit) = visit {
        records::seen_in(conn, id, visit, context).await?;
    }
    if let (Some(names), true) = (reactions, newest) {
        records::reactions(conn, id, names, context).await?;
    }
    Ok(())
}
