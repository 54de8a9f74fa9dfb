//! Applying a run of messages on several connections at once, keeping each patient's order.
//!
//! One connection applies messages one round trip at a time, and round trips, not PostgreSQL's
//! work, bound it (`shared/reference/machine-limits.md`: ~1.2k msg/s per worker, ~3.4k with four).
//! So a run is cut into lanes by the interchange partition key — every message of a patient in
//! the same lane, in order — and the lanes run concurrently, each in its own transaction. A
//! message that names two patients (merges, identifier changes, swaps) or none (reference data)
//! is a barrier: the lanes before it finish, it is applied alone, then the lanes go on. A lane
//! is applied without savepoints first and, only if a rule refuses one of its messages, again
//! with a savepoint per message ([`apply_lane`]). A lane whose transaction fails (two lanes
//! creating the same location can deadlock) is retried alone after the others committed; since
//! processing is idempotent and the lane's patients are untouched by the other lanes, the result
//! is the same.

use chrono::Utc;
use interchange::{Message, PartitionKey};
use sqlx::{PgConnection, PgPool};

use crate::consumer::{apply_message_reading_ahead, dead_letter_rejected};
use crate::read_ahead::ReadAhead;
use crate::{ProcessError, Processor};

/// What applying a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Messages applied.
    pub applied: u64,
    /// Messages rejected into the dead-letter table.
    pub dead_lettered: u64,
}

/// Applies `messages` in order per patient on up to `lanes` connections of `pool`. On `Err` some
/// lanes may have committed; applying the same run again is safe (processing is idempotent).
pub async fn apply_run(
    processor: &Processor,
    pool: &PgPool,
    messages: &[Message],
    lanes: usize,
) -> Result<Applied, sqlx::Error> {
    let lanes = lanes.max(1);
    let mut total = Applied::default();
    let mut segment: Vec<&Message> = Vec::new();
    for message in messages {
        match message.partition_key() {
            PartitionKey::Patient(_) => segment.push(message),
            PartitionKey::Patients(..) | PartitionKey::Reference(_) => {
                add(
                    &mut total,
                    apply_segment(processor, pool, &segment, lanes).await?,
                );
                segment.clear();
                add(&mut total, apply_lane(processor, pool, &[message]).await?);
            }
        }
    }
    add(
        &mut total,
        apply_segment(processor, pool, &segment, lanes).await?,
    );
    Ok(total)
}

fn add(total: &mut Applied, more: Applied) {
    total.applied += more.applied;
    total.dead_lettered += more.dead_lettered;
}

/// The lane of a single-patient message.
fn lane_of(message: &Message, lanes: usize) -> usize {
    // FNV-1a: stable across runs and builds (std's hasher is randomly seeded).
    let key = message.partition_key();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.routing_key().bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    (hash % lanes as u64) as usize
}

async fn apply_segment(
    processor: &Processor,
    pool: &PgPool,
    segment: &[&Message],
    lanes: usize,
) -> Result<Applied, sqlx::Error> {
    if segment.is_empty() {
        return Ok(Applied::default());
    }
    let mut split: Vec<Vec<&Message>> = vec![Vec::new(); lanes];
    for message in segment {
        split[lane_of(message, lanes)].push(message);
    }
    split.retain(|lane| !lane.is_empty());
    let outcomes =
        futures::future::join_all(split.iter().map(|lane| apply_lane(processor, pool, lane))).await;
    let mut total = Applied::default();
    for (lane, outcome) in split.iter().zip(outcomes) {
        let done = match outcome {
            Ok(done) => done,
            Err(error) => {
                tracing::debug!(error = %error, "A lane failed; retrying it alone");
                processor.forget_cached();
                apply_lane(processor, pool, lane).await?
            }
        };
        add(&mut total, done);
    }
    Ok(total)
}

/// One lane: its messages in order in one transaction, what they read first read ahead, all at
/// once ([`ReadAhead`]). Most lanes hold no message a rule refuses, so the lane is first applied
/// without savepoints (a savepoint per message is a round trip and a subtransaction each, and
/// more than 64 subtransactions slow every other connection's snapshots). A message refused
/// before it read or wrote anything is dead-lettered in place. If a rule refuses a message
/// after that, the attempt is rolled back and the lane applied again with a savepoint per
/// message, so that the refused message alone is rolled back and dead-lettered.
async fn apply_lane(
    processor: &Processor,
    pool: &PgPool,
    lane: &[&Message],
) -> Result<Applied, sqlx::Error> {
    if let Some(done) = apply_lane_at_once(processor, pool, lane).await? {
        return Ok(done);
    }
    apply_lane_carefully(processor, pool, lane).await
}

/// The lane without savepoints; `Ok(None)`, having rolled back, if a rule refused a message.
async fn apply_lane_at_once(
    processor: &Processor,
    pool: &PgPool,
    lane: &[&Message],
) -> Result<Option<Applied>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut read_ahead = begin_reading_ahead(processor, &mut tx, lane).await?;
    let mut done = Applied::default();
    for (index, message) in lane.iter().enumerate() {
        // Refused before it read or wrote anything (e.g. a class not built yet): recorded in
        // place, nothing to roll back.
        if let Err(rejection) = crate::prerequisites(message) {
            dead_letter_rejected(&mut tx, message, &rejection).await?;
            done.dead_lettered += 1;
            continue;
        }
        let read_ahead = Some((&mut read_ahead, index));
        match processor
            .process_reading_ahead(&mut tx, message, Utc::now(), read_ahead)
            .await
        {
            Ok(()) => done.applied += 1,
            Err(ProcessError::Rejected(_)) => {
                tx.rollback().await?;
                // Places the lane's earlier messages created are gone with the rollback.
                processor.forget_cached();
                return Ok(None);
            }
            Err(ProcessError::Database(error)) => return Err(error),
        }
    }
    tx.commit().await?;
    Ok(Some(done))
}

/// The lane with a savepoint per message: a refused message is rolled back alone and
/// dead-lettered, the others applied.
async fn apply_lane_carefully(
    processor: &Processor,
    pool: &PgPool,
    lane: &[&Message],
) -> Result<Applied, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut read_ahead = begin_reading_ahead(processor, &mut tx, lane).await?;
    let mut done = Applied::default();
    for (index, message) in lane.iter().enumerate() {
        let read_ahead = Some((&mut read_ahead, index));
        if apply_message_reading_ahead(processor, &mut tx, message, read_ahead).await? {
            done.applied += 1;
        } else {
            done.dead_lettered += 1;
        }
    }
    tx.commit().await?;
    Ok(done)
}

/// The lane's read-ahead, which also tells the processor which star schema the transaction
/// writes to ([`Processor::begin`]); asked separately only if nothing was read ahead.
async fn begin_reading_ahead(
    processor: &Processor,
    tx: &mut PgConnection,
    lane: &[&Message],
) -> Result<ReadAhead, sqlx::Error> {
    let read_ahead = ReadAhead::read(&mut *tx, lane).await?;
    match read_ahead.schema_oid() {
        Some(oid) => processor.note_schema(oid),
        None => processor.begin(&mut *tx).await?,
    }
    Ok(read_ahead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use interchange::adt::{AdtFields, UpdatePatientInfo};

    fn update(mrn: &str) -> Message {
        UpdatePatientInfo {
            adt: AdtFields {
                mrn: Some(mrn.to_owned()),
                ..AdtFields::default()
            },
        }
        .into()
    }

    #[test]
    fn a_patient_always_has_the_same_lane_and_patients_spread() {
        let lanes: Vec<usize> = (0..100)
            .map(|n| lane_of(&update(&format!("{n:08}")), 4))
            .collect();
        for (n, lane) in lanes.iter().enumerate() {
            assert_eq!(*lane, lane_of(&update(&format!("{n:08}")), 4));
        }
        for lane in 0..4 {
            assert!(
                lanes.iter().filter(|l| **l == lane).count() > 10,
                "lane {lane} unused"
            );
        }
    }
}
