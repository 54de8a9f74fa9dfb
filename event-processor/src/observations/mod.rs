//! The observations family: flowsheet rows (`Flowsheet`: pulse, blood pressure, NEWS, weight…)
//! as `visit_observation`, of a `visit_observation_type`, and flowsheet metadata
//! (`FlowsheetMetadata`).
//!
//! A flowsheet row finds its patient through the engine's identity (M1–M6) and its visit,
//! creating a minimal one when not seen yet (C8; a row without a visit number is refused, as it
//! is without an observation time, F1). Then its type ([`types`], F6) and the observation
//! ([`values`], F1–F3). Metadata names types and maps HL7's ids to the EHR's (F5,
//! [`metadata`]). F3's and F4's reader halves (statuses, empty rows) are the reader's.

mod metadata;
mod types;
mod values;

use futures::FutureExt;
use futures::future::BoxFuture;
use interchange::Message;
use interchange::observation::Flowsheet;
use sqlx::PgConnection;

use crate::engine::identity::{Keys, PatientAndVisit};
use crate::engine::read_ahead::Prefetched;
use crate::engine::{Context, Family, ProcessError, reject};

/// The observations family.
pub(crate) struct Observations;

impl Family for Observations {
    fn applies_to(&self, message: &Message) -> bool {
        matches!(
            message,
            Message::Flowsheet(_) | Message::FlowsheetMetadata(_)
        )
    }

    fn keys<'m>(&self, message: &'m Message) -> Keys<'m> {
        match message {
            Message::Flowsheet(m) => {
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
                Message::Flowsheet(m) => apply(conn, m, found, context).await,
                Message::FlowsheetMetadata(m) => metadata::apply(conn, m, context).await,
                _ => Err(reject("NOT-BUILT", "not an observation message")),
            }
        }
        .boxed()
    }
}

/// Applies one flowsheet row.
async fn apply(
    conn: &mut PgConnection,
    m: &Flowsheet,
    found: Option<Box<dyn Prefetched>>,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let id = match (
        m.interface_id.as_deref().filter(|i| !i.is_empty()),
        m.flowsheet_id.as_deref().filter(|i| !i.is_empty()),
    ) {
        (Some(interface), _) => types::Id::Interface(interface),
        (None, Some(application)) => types::Id::Application(application),
        (None, None) => {
            return Err(reject(
                "F5",
                "a flowsheet row naming neither an interface id nor a flowsheet id",
            ));
        }
    };
    let Some(at) = m.observation_time else {
        return Err(reject("F1", "a flowsheet row without an observation time"));
    };
    if m.visit_number.as_deref().is_none_or(str::is_empty) {
        return Err(reject("C8", "a flowsheet row without a visit number"));
    }
    let mut read = PatientAndVisit::of(found);
    let mrn_id = read.live_mrn(conn, m.mrn.as_deref(), context).await?;
    let visit = read
        .visit_or_minimal(conn, mrn_id, m.visit_number.as_deref(), context)
        .await?
        .ok_or_else(|| reject("C8", "a flowsheet row without a visit number"))?;
    let source_type = m.source_observation_type.as_deref().unwrap_or("flowsheet");
    let live = m.is_real_time.unwrap_or(false);
    let kind = types::for_observation(conn, id, source_type, live, context).await?;
    values::observe(conn, visit, kind, at, m, context).await?;
    Ok(())
}
