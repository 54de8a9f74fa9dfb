//! The labs family: lab orders and the results they carry (`LabOrderMsg`), from any lab system,
//! and the lab systems' catalogue (`LabMetadataMsg`).
//!
//! A lab message finds its patient through the engine's identity (M1–M6: an unknown MRN is
//! created, as the message's implied ADT also does) and the visit it names (its context, C7,
//! usually arrives as its own implied ADT message; a minimal visit is created when that ADT was
//! refused or comes later). Then: the battery (LB2,
//! [`definitions`]), the sample (LB3, [`samples`]), the order or its cancellation (LB4–LB7,
//! [`orders`]), each result with its test definition (LB2, LB8–LB10, [`results`]) and its
//! microbiology isolate with their sensitivities (LB11, [`isolates`]). LB1 (a message without
//! a status change time is refused) is the engine's G3: the status change time is the
//! message's valid-from. Lab metadata names batteries and tests (LB13, [`metadata`]).

mod definitions;
mod isolates;
mod metadata;
mod orders;
mod results;
mod samples;

use futures::FutureExt;
use futures::future::BoxFuture;
use interchange::Message;
use interchange::lab::{LabOrderMsg, LabResultMsg};
use sqlx::PgConnection;

use crate::engine::identity::{Keys, PatientAndVisit};
use crate::engine::questions;
use crate::engine::read_ahead::Prefetched;
use crate::engine::{Context, Family, ProcessError, reject};

/// The labs family.
pub(crate) struct Labs;

impl Family for Labs {
    fn applies_to(&self, message: &Message) -> bool {
        matches!(
            message,
            Message::LabOrderMsg(_) | Message::LabMetadataMsg(_)
        )
    }

    fn keys<'m>(&self, message: &'m Message) -> Keys<'m> {
        match message {
            Message::LabOrderMsg(m) => {
                Keys::patient_and_visit(m.mrn.as_deref(), m.visit_number.as_deref())
            }
            _ => Keys::default(),
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
            match message {
                Message::LabOrderMsg(m) => apply(conn, m, found, context).await,
                Message::LabMetadataMsg(m) => metadata::apply(conn, m, context).await,
                _ => Err(reject("NOT-BUILT", "not a lab message")),
            }
        }
        .boxed()
    }
}

/// Applies a lab order with its results.
async fn apply(
    conn: &mut PgConnection,
    m: &LabOrderMsg,
    found: Option<Box<dyn Prefetched>>,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let mut read = PatientAndVisit::of(found);
    let mrn_id = read.live_mrn(conn, m.mrn.as_deref(), context).await?;
    let specimen = m
        .lab_specimen_number
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| reject("LB3", "a lab message without a specimen number"))?;
    let (Some(code), Some(provider)) = (
        m.test_battery_local_code
            .as_deref()
            .filter(|c| !c.is_empty()),
        m.test_battery_coding_system
            .as_deref()
            .filter(|c| !c.is_empty()),
    ) else {
        return Err(reject(
            "LB2",
            "a lab message without its battery and lab system",
        ));
    };
    let battery = definitions::battery(conn, code, provider, context).await?;
    let sample = samples::sample(conn, mrn_id, specimen, m, context).await?;
    // Q5: a sample's questions (CoPath's) are stored as a request's are.
    let parent = questions::Parent::LabSample(sample);
    questions::answers(conn, parent, &m.questions, context).await?;
    let key = orders::Key { battery, sample };
    if orders::is_cancellation(m) {
        return orders::cancel(conn, key, m, context).await;
    }
    let visit = read
        .visit_or_minimal(conn, mrn_id, m.visit_number.as_deref(), context)
        .await?;
    let order = orders::order(conn, key, visit, m, context).await?;
    // A test belongs to its order's lab system (LB2), as lab metadata names it: the OBX's own
    // coding system is the lab's spelling (`Winpath`), not the system.
    let reported: Vec<&LabResultMsg> = m
        .lab_result_msgs
        .iter()
        .filter(|r| {
            r.test_item_local_code
                .as_deref()
                .is_some_and(|c| !c.is_empty())
        })
        .collect();
    let codes: Vec<&str> = reported
        .iter()
        .filter_map(|r| r.test_item_local_code.as_deref())
        .collect();
    let department = m.lab_department.as_deref();
    let tests = definitions::tests(conn, battery, provider, &codes, department, context).await?;
    let tested: Vec<(i64, &LabResultMsg)> = tests.into_iter().zip(reported).collect();
    let ids = results::results(conn, order, &tested, context).await?;
    for ((_, r), result) in tested.iter().zip(ids) {
        if let Some(isolate) = &r.lab_isolate {
            isolates::isolate(conn, result, isolate, results::at(r, context), context).await?;
        }
    }
    Ok(())
}
