//! The forms family (Epic Smart Data Elements, from source tables): filled-in forms
//! (`FormMsg`) with their answers in `form` and `form_answer` ([`records`]), and the
//! definitions of forms and questions (`FormMetadataMsg`, `FormQuestionMetadataMsg`) in
//! `form_definition` and `form_question` ([`definitions`]).
//!
//! A form finds its patient through the engine's identity, created when unknown, and its visit
//! when it names one, created minimally when not stored (C9); a form without its definition is
//! refused. Metadata names no patient, so the processor applies it between patients' messages,
//! in its own transaction.

mod definitions;
mod records;

use futures::FutureExt;
use futures::future::BoxFuture;
use interchange::Message;
use sqlx::PgConnection;

use crate::engine::identity::{Keys, PatientAndVisit};
use crate::engine::read_ahead::Prefetched;
use crate::engine::{Context, Family, ProcessError, reject};

/// The forms family.
pub(crate) struct Forms;

impl Family for Forms {
    fn applies_to(&self, message: &Message) -> bool {
        matches!(
            message,
            Message::FormMsg(_) | Message::FormMetadataMsg(_) | Message::FormQuestionMetadataMsg(_)
        )
    }

    fn keys<'m>(&self, message: &'m Message) -> Keys<'m> {
        match message {
            Message::FormMsg(m) => {
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
            let m = match message {
                Message::FormMetadataMsg(m) => {
                    return definitions::form_metadata(conn, m, context).await;
                }
                Message::FormQuestionMetadataMsg(m) => {
                    return definitions::question_metadata(conn, m, context).await;
                }
                Message::FormMsg(m) => m,
                _ => return Err(reject("NOT-BUILT", "not a form message")),
            };
            let Some(form_id) = m.form_id.as_deref().filter(|f| !f.is_empty()) else {
                return Err(reject("FORM", "a form without its definition (form id)"));
            };
            let mut read = PatientAndVisit::of(found);
            let mrn_id = read.live_mrn(conn, m.mrn.as_deref(), context).await?;
            let visit = read
                .visit_or_minimal(conn, mrn_id, m.visit_number.as_deref(), context)
                .await?;
            let definition =
                definitions::row(conn, definitions::DEFINITION, form_id, context).await?;
            let internal_id = records::instance_id(m, form_id, context.valid_from);
            let first_filed = m.first_filed_datetime;
            let form = records::form(
                conn,
                definition,
                mrn_id,
                visit,
                &internal_id,
                first_filed,
                context,
            )
            .await?;
            records::answers(conn, form, m, context).await?;
            Ok(())
        }
        .boxed()
    }
}
