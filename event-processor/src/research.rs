//! Research opt-outs (`ResearchOptOut`, from source tables): a patient who declined the use of
//! their data for research, or withdrew that. The flag is `mrn.research_opt_out`, set on every
//! MRN of the patient's merged set (as a merge spreads it, I4), so a query through any of them
//! sees it. The newest message by hospital time gives the flag its value and time; at the same
//! time an opt-out beats a withdrawal, so every arrival order ends with the same rows. A change
//! is audited in `mrn_audit`. An unknown patient is created (M3), so an opt-out that precedes
//! every other message about its patient is not lost.

use futures::FutureExt;
use futures::future::BoxFuture;
use interchange::Message;
use sqlx::PgConnection;

use crate::engine::identity::{self, Keys};
use crate::engine::read_ahead::Prefetched;
use crate::engine::{Context, Family, ProcessError, reject};

/// The research opt-out family.
pub(crate) struct Research;

impl Family for Research {
    fn applies_to(&self, message: &Message) -> bool {
        matches!(message, Message::ResearchOptOut(_))
    }

    fn keys<'m>(&self, message: &'m Message) -> Keys<'m> {
        match message {
            Message::ResearchOptOut(m) => Keys {
                one_patient: true,
                mrn: m.mrn.as_deref().filter(|v| !v.is_empty()),
                nhs_number: m.nhs_number.as_deref().filter(|v| !v.is_empty()),
                encounter: None,
            },
            _ => Keys::default(),
        }
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        message: &'a Message,
        keys: &'a Keys<'a>,
        _found: Option<Box<dyn Prefetched>>,
        context: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<(), ProcessError>> {
        async move {
            let Message::ResearchOptOut(m) = message else {
                return Err(reject("NOT-BUILT", "not a research opt-out"));
            };
            let live = identity::live_mrn(conn, keys.mrn, keys.nhs_number, context).await?;
            opt_out(conn, live, m.active, context).await?;
            Ok(())
        }
        .boxed()
    }
}

/// Sets the opt-out of every MRN merged into `live` to `active`, where the message is newer.
async fn opt_out(
    conn: &mut PgConnection,
    live: i64,
    active: bool,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH changing AS (
             SELECT m.mrn_id FROM mrn m
             WHERE m.mrn_id = ANY(ARRAY(SELECT mrn_id FROM mrn_to_live WHERE live_mrn_id = $1))
               AND (m.research_opt_out_valid_from IS NULL
                    OR (m.research_opt_out_valid_from, m.research_opt_out) < ($2, $3))
             FOR UPDATE),
         audited AS (
             INSERT INTO mrn_audit (mrn_id, mrn, nhs_number, research_opt_out,
                 research_opt_out_valid_from, source_system, stored_from, stored_until,
                 source_ids_id)
             SELECT m.mrn_id, m.mrn, m.nhs_number, m.research_opt_out,
                    m.research_opt_out_valid_from, m.source_system, m.stored_from, $4,
                    m.source_ids_id
             FROM mrn m WHERE m.mrn_id = ANY(ARRAY(SELECT mrn_id FROM changing))
               -- A row this message created has no earlier state to keep.
               AND NOT (m.stored_from = $4 AND m.source_ids_id IS NOT DISTINCT FROM $5))
         UPDATE mrn m SET research_opt_out = $3, research_opt_out_valid_from = $2,
             stored_from = $4, source_ids_id = $5
         WHERE m.mrn_id = ANY(ARRAY(SELECT mrn_id FROM changing))",
    )
    .bind(live)
    .bind(context.valid_from)
    .bind(active)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
