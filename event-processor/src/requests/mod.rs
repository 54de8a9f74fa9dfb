//! The requests family: consultation requests (`ConsultRequest`) in `consultation_request`, of a
//! `consultation_type`, and advance decisions (`AdvanceDecisionMessage`, Q4, [`decisions`]) in
//! `advance_decision`, of an `advance_decision_type`, and the answers to the questions asked on
//! them (Q5, `engine::questions`).
//!
//! A request finds its patient through the engine's identity, created when unknown, and its
//! visit, created minimally when not stored (C9); a request without a visit number or Epic number
//! is refused (C9, Q1). Its type is a reference row by code ([`consults`]). Q1: the newest message
//! by status change time (ties to the later IDS id) gives the request its values, an older one
//! only fills notes or a scheduled time the row lacks; the status change time moves only when something else
//! changed. Q2 (cancelled, or closed by discharge) is the reader's; the processor stores the
//! flags.

mod consults;
mod decisions;

use futures::FutureExt;
use futures::future::BoxFuture;
use interchange::Message;
use sqlx::PgConnection;

use crate::engine::identity::{Keys, PatientAndVisit};
use crate::engine::questions;
use crate::engine::read_ahead::Prefetched;
use crate::engine::{Context, Family, ProcessError, reject};

/// The requests family.
pub(crate) struct Requests;

impl Family for Requests {
    fn applies_to(&self, message: &Message) -> bool {
        matches!(
            message,
            Message::ConsultRequest(_)
                | Message::ConsultMetadata(_)
                | Message::AdvanceDecisionMessage(_)
        )
    }

    fn keys<'m>(&self, message: &'m Message) -> Keys<'m> {
        match message {
            Message::ConsultRequest(m) => {
                Keys::patient_and_visit(m.mrn.as_deref(), m.visit_number.as_deref())
            }
            Message::AdvanceDecisionMessage(m) => {
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
            if let Message::ConsultMetadata(m) = message {
                return consults::metadata(conn, m, context).await;
            }
            let (mrn, visit_number) = match message {
                Message::ConsultRequest(m) => (m.mrn.as_deref(), m.visit_number.as_deref()),
                Message::AdvanceDecisionMessage(m) => (m.mrn.as_deref(), m.visit_number.as_deref()),
                _ => return Err(reject("NOT-BUILT", "not a request message")),
            };
            let (number, code) = match message {
                Message::ConsultRequest(m) => (m.epic_consult_id, m.consultation_type.as_deref()),
                Message::AdvanceDecisionMessage(m) => {
                    (m.advance_decision_number, m.advance_care_code.as_deref())
                }
                _ => (None, None),
            };
            let (Some(epic), Some(code)) = (number, code.filter(|c| !c.is_empty())) else {
                return Err(reject("Q1", "a request without its Epic number or type"));
            };
            if visit_number.is_none_or(str::is_empty) {
                return Err(reject("C9", "a request without a visit number"));
            }
            let mut read = PatientAndVisit::of(found);
            let mrn_id = read.live_mrn(conn, mrn, context).await?;
            let visit = read
                .visit_or_minimal(conn, mrn_id, visit_number, context)
                .await?
                .ok_or_else(|| reject("C9", "a request without a visit number"))?;
            match message {
                Message::AdvanceDecisionMessage(m) => {
                    let name = m.advance_decision_type_name.as_deref();
                    let kind = decisions::decision_type(conn, code, name, context).await?;
                    let id = decisions::decision(conn, kind, visit, epic, m, context).await?;
                    let parent = questions::Parent::AdvanceDecision(id);
                    questions::answers(conn, parent, &m.questions, context).await?;
                }
                Message::ConsultRequest(m) => {
                    let kind = consults::consultation_type(conn, code, context).await?;
                    let id = consults::request(conn, kind, visit, epic, m, context).await?;
                    let parent = questions::Parent::ConsultRequest(id);
                    questions::answers(conn, parent, &m.questions, context).await?;
                }
                _ => {}
            }
            Ok(())
        }
        .boxed()
    }
}
