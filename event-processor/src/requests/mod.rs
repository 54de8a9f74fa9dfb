//! The requests family: consultation requests (`ConsultRequest`) in `consultation_request`, of a
//! `consultation_type`. (Advance decisions and their questions' answers come next; until then
//! they stay `NOT-BUILT` dead letters.)
//!
//! A request finds its patient through the engine's identity, created when unknown, and its
//! visit, created minimally when not stored (C9); a request without a visit number or Epic number
//! is refused (C9, Q1). Its type is a reference row by code ([`consults`]). Q1: the newest message
//! by status change time (ties to the later IDS id) gives the request its values, an older one
//! only fills notes or a scheduled time the row lacks; the status change time moves only when something else
//! changed. Q2 (cancelled, or closed by discharge) is the reader's; the processor stores the
//! flags.

mod consults;

use futures::FutureExt;
use futures::future::BoxFuture;
use interchange::Message;
use sqlx::PgConnection;

use crate::engine::identity::{Keys, PatientAndVisit};
use crate::engine::read_ahead::Prefetched;
use crate::engine::{Context, Family, ProcessError, reject};

/// The requests family.
pub(crate) struct Requests;

impl Family for Requests {
    fn applies_to(&self, message: &Message) -> bool {
        matches!(message, Message::ConsultRequest(_))
    }

    fn keys<'m>(&self, message: &'m Message) -> Keys<'m> {
        match message {
            Message::ConsultRequest(m) => {
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
            let Message::ConsultRequest(m) = message else {
                return Err(reject("NOT-BUILT", "not a request message"));
            };
            let Some(epic) = m.epic_consult_id else {
                return Err(reject(
                    "Q1",
                    "a consultation request without its Epic number",
                ));
            };
            let Some(code) = m.consultation_type.as_deref().filter(|c| !c.is_empty()) else {
                return Err(reject("Q1", "a consultation request without its type"));
            };
            if m.visit_number.as_deref().is_none_or(str::is_empty) {
                return Err(reject(
                    "C9",
                    "a consultation request without a visit number",
                ));
            }
            let mut read = PatientAndVisit::of(found);
            let mrn_id = read.live_mrn(conn, m.mrn.as_deref(), context).await?;
            let visit = read
                .visit_or_minimal(conn, mrn_id, m.visit_number.as_deref(), context)
                .await?
                .ok_or_else(|| reject("C9", "a consultation request without a visit number"))?;
            let kind = consults::consultation_type(conn, code, context).await?;
            consults::request(conn, kind, visit, epic, m, context).await?;
            Ok(())
        }
        .boxed()
    }
}
