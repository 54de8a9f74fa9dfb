//! Lab samples (LB3): one per (live MRN, specimen number). Each value is set when the row has
//! none or the message is not older than the row. EMAP sets collection time and method only
//! when the sample is new or the message newer, so a late older message that carries the only
//! collection time is lost and the outcome depends on arrival order; Ward lets an older message
//! fill what the row lacks (never replace what it holds), so every order gives the same sample.
//! A change is audited first (G3); a message that changes nothing writes nothing (G2).

use chrono::{DateTime, Utc};
use interchange::lab::LabOrderMsg;
use interchange::value::Iv;
use sqlx::PgConnection;

use crate::engine::Context;
use crate::engine::fill;

/// A sample's values.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Sample {
    receipt_at_lab_datetime: Option<DateTime<Utc>>,
    sample_collection_datetime: Option<DateTime<Utc>>,
    specimen_type: Option<String>,
    sample_site: Option<String>,
    collection_method: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Stored {
    lab_sample_id: i64,
    valid_from: DateTime<Utc>,
    #[sqlx(flatten)]
    sample: Sample,
}

impl Sample {
    /// What `m` makes of `current` (none: a new sample); `newer` when `m` is not older than it.
    fn from_message(m: &LabOrderMsg, current: Option<Sample>, newer: bool) -> Sample {
        let c = current.unwrap_or(Sample {
            receipt_at_lab_datetime: None,
            sample_collection_datetime: None,
            specimen_type: None,
            sample_site: None,
            collection_method: None,
        });
        let collected = m.collection_date_time.map_or(Iv::Unknown, Iv::Save);
        Sample {
            receipt_at_lab_datetime: fill(
                &m.sample_received_time,
                c.receipt_at_lab_datetime,
                newer,
            ),
            sample_collection_datetime: fill(&collected, c.sample_collection_datetime, newer),
            specimen_type: fill(&m.specimen_type, c.specimen_type, newer),
            sample_site: fill(&m.sample_site, c.sample_site, newer),
            collection_method: fill(&m.collection_method, c.collection_method, newer),
        }
    }
}

/// The sample `specimen` of patient `mrn_id`, created or updated from `m` (LB3); its id.
pub(crate) async fn sample(
    conn: &mut PgConnection,
    mrn_id: i64,
    specimen: &str,
    m: &LabOrderMsg,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let stored: Option<Stored> = sqlx::query_as(
        "SELECT lab_sample_id, valid_from, receipt_at_lab_datetime, sample_collection_datetime,
                specimen_type, sample_site, collection_method
         FROM lab_sample WHERE mrn_id = $1 AND external_lab_number = $2 FOR UPDATE",
    )
    .bind(mrn_id)
    .bind(specimen)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(stored) = stored else {
        let new = Sample::from_message(m, None, true);
        return sqlx::query_scalar(
            "INSERT INTO lab_sample (mrn_id, external_lab_number, receipt_at_lab_datetime,
                 sample_collection_datetime, specimen_type, sample_site, collection_method,
                 valid_from, stored_from, source_ids_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING lab_sample_id",
        )
        .bind(mrn_id)
        .bind(specimen)
        .bind(new.receipt_at_lab_datetime)
        .bind(new.sample_collection_datetime)
        .bind(new.specimen_type)
        .bind(new.sample_site)
        .bind(new.collection_method)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .fetch_one(&mut *conn)
        .await;
    };
    let newer = context.valid_from >= stored.valid_from;
    let new = Sample::from_message(m, Some(stored.sample.clone()), newer);
    if new != stored.sample {
        update(conn, stored.lab_sample_id, &new, context).await?;
    }
    Ok(stored.lab_sample_id)
}

/// The sample takes `new`, its previous state audited (G3).
async fn update(
    conn: &mut PgConnection,
    id: i64,
    new: &Sample,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH audited AS (
             INSERT INTO lab_sample_audit (lab_sample_id, mrn_id, external_lab_number,
                 receipt_at_lab_datetime, sample_collection_datetime, specimen_type, sample_site,
                 collection_method, valid_from, valid_until, stored_from, stored_until,
                 source_ids_id)
             SELECT lab_sample_id, mrn_id, external_lab_number, receipt_at_lab_datetime,
                    sample_collection_datetime, specimen_type, sample_site, collection_method,
                    valid_from, greatest(valid_from, $7), stored_from, $8, source_ids_id
             FROM lab_sample WHERE lab_sample_id = $1)
         UPDATE lab_sample SET receipt_at_lab_datetime = $2, sample_collection_datetime = $3,
             specimen_type = $4, sample_site = $5, collection_method = $6,
             valid_from = greatest(valid_from, $7), stored_from = $8, source_ids_id = $9
         WHERE lab_sample_id = $1",
    )
    .bind(id)
    .bind(new.receipt_at_lab_datetime)
    .bind(new.sample_collection_datetime)
    .bind(&new.specimen_type)
    .bind(&new.sample_site)
    .bind(&new.collection_method)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
