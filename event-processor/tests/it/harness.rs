//! Messages as a reader would publish them, and applying them as the consumer will.

use chrono::{DateTime, Utc};
use event_processor::{ProcessError, Processor};
use interchange::Message;
use interchange::adt::{AdtFields, UpdatePatientInfo};
use interchange::value::Iv;
use sqlx::PgPool;

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// An A08 for `mrn` from `source` valid from `valid_from`, with a family name.
pub fn update(
    id: &str,
    source: &str,
    mrn: Option<&str>,
    nhs: Option<&str>,
    valid_from: &str,
    family: Iv<String>,
) -> Message {
    UpdatePatientInfo {
        adt: AdtFields {
            source_message_id: Some(id.to_owned()),
            source_system: Some(source.to_owned()),
            recorded_date_time: Some(at(valid_from)),
            mrn: mrn.map(str::to_owned),
            nhs_number: nhs.map(str::to_owned),
            patient_family_name: family,
            patient_sex: Iv::Save("F".to_owned()),
            ..Default::default()
        },
    }
    .into()
}

/// A value the source gave.
pub fn save(text: &str) -> Iv<String> {
    Iv::Save(text.to_owned())
}

/// The common test step: an A08 with an MRN and a family name, valid from `valid_from` and
/// stored one second later, applied; panics if it is rejected.
pub async fn a08(
    pool: &PgPool,
    id: &str,
    source: &str,
    mrn: &str,
    valid_from: &str,
    family: Iv<String>,
) {
    let stored_from = (at(valid_from) + chrono::Duration::seconds(1)).to_rfc3339();
    apply(
        pool,
        &update(id, source, Some(mrn), None, valid_from, family),
        &stored_from,
    )
    .await
    .unwrap();
}

/// Applies one message in its own transaction, as the consumer does.
pub async fn apply(
    pool: &PgPool,
    message: &Message,
    stored_from: &str,
) -> Result<(), ProcessError> {
    let mut tx = pool.begin().await.unwrap();
    let result = Processor::default()
        .process(&mut tx, message, at(stored_from))
        .await;
    if result.is_ok() {
        tx.commit().await.unwrap();
    }
    result
}

pub async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM star.{table}"
    )))
    .fetch_one(pool)
    .await
    .unwrap()
}

pub async fn lastname(pool: &PgPool, mrn: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT d.lastname FROM star.core_demographic d JOIN star.mrn m USING (mrn_id) WHERE m.mrn = $1",
    )
    .bind(mrn)
    .fetch_one(pool)
    .await
    .unwrap()
}
