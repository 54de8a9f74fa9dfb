//! Applying a run of messages on several connections at once, keeping each patient's order.
//!
//! One connection applies messages one round trip at a time, and round trips, not PostgreSQL's
//! work, bound it (`shared/reference/machine-limits.md`: ~1.2k msg/s per worker, ~3.4k with four).
//! So a run is cut into lanes by patient — every message of a patient in the same lane, in
//! order — and the lanes run concurrently, each in its own transaction. A patient here is a group
//! of MRNs (`Groups`): those a message of the run names together (merges, identifier changes,
//! visit moves, swaps), and every MRN already merged into one of them, so whatever a merge
//! touches is ordered with the merge in one lane and no lane waits for another. A message that
//! names no patient (reference data) is a barrier: the lanes before it finish, it is applied
//! alone, then the lanes go on. Within its transaction a lane is applied in waves (`waves`):
//! each patient's first message, then each one's second, and so on, so that what a wave's
//! messages read first is read ahead in one statement ([`ReadAhead`]) and what they write from
//! rows is written in one statement when the wave ends ([`Wave`]). A lane is applied
//! without savepoints first and, only if a rule refuses one of its messages, again with a
//! savepoint per message ([`apply_lane`]). A new place is created and committed on a
//! connection of its own before the lane names it, so lanes never wait for each other's places.
//! A lane whose transaction fails is retried alone after the others committed; since
//! processing is idempotent and the lane's patients are untouched by the other lanes, the result
//! is the same.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Utc;
use interchange::{Message, PartitionKey};
use sqlx::{PgConnection, PgPool};

use super::dead_letters::{apply_message_reading_ahead, dead_letter_rejected};
use super::read_ahead::ReadAhead;
use super::writes::{self, Wave};
use super::{InLane, ProcessError, Processor};

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
    let groups = Groups::of(processor, pool, messages).await?;
    let mut total = Applied::default();
    let mut segment: Vec<&Message> = Vec::new();
    for message in messages {
        match message.partition_key() {
            PartitionKey::Patient(_) | PartitionKey::Patients(..) => segment.push(message),
            PartitionKey::Reference(_) => {
                add(
                    &mut total,
                    apply_segment(processor, pool, &groups, &segment, lanes).await?,
                );
                segment.clear();
                add(
                    &mut total,
                    apply_lane(processor, pool, &groups, &[message]).await?,
                );
            }
        }
    }
    add(
        &mut total,
        apply_segment(processor, pool, &groups, &segment, lanes).await?,
    );
    Ok(total)
}

/// Which patient keys of a run must share a lane: a union-find over the keys, each group named
/// by one of its keys. Two keys are joined when a message names both (two patients, or a patient
/// and a visit or NHS number another MRN's message also names), or when one MRN is already
/// merged into the other's live MRN (read once per run: merges change that mapping, and a run's
/// merges are all in its lanes, joined). So no two lanes ever write the same patient's or
/// visit's rows, and the outcome does not hang on which lane takes a row lock first.
#[derive(Debug, Default)]
struct Groups {
    parent: HashMap<String, String>,
}

impl Groups {
    /// The groups of `messages`' keys, with the live MRNs the database knows for them.
    async fn of(
        processor: &Processor,
        pool: &PgPool,
        messages: &[Message],
    ) -> Result<Groups, sqlx::Error> {
        let (mut groups, mut mrns) = Groups::named(processor, messages);
        mrns.retain(|key| !key.starts_with("nhs:"));
        mrns.sort_unstable();
        mrns.dedup();
        if mrns.is_empty() {
            return Ok(groups);
        }
        // Key by key through the unique indexes (a join on `= ANY` may scan every MRN).
        let merged: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT k.mrn, coalesce(live.mrn, 'nhs:' || live.nhs_number)
             FROM unnest($1::text[]) AS k (mrn)
             JOIN LATERAL (SELECT mrn_id FROM mrn WHERE mrn = k.mrn) m ON true
             JOIN LATERAL (SELECT live_mrn_id FROM mrn_to_live WHERE mrn_id = m.mrn_id) t ON true
             JOIN LATERAL (SELECT mrn, nhs_number FROM mrn WHERE mrn_id = t.live_mrn_id) live
                 ON true
             WHERE t.live_mrn_id <> m.mrn_id",
        )
        .bind(&mrns)
        .fetch_all(pool)
        .await?;
        for (mrn, live) in merged {
            if let Some(live) = live {
                groups.join(&mrn, &live);
            }
        }
        Ok(groups)
    }

    /// The groups the messages' own keys make, and the patient keys they name.
    fn named(processor: &Processor, messages: &[Message]) -> (Groups, Vec<String>) {
        let mut groups = Groups::default();
        let mut mrns: Vec<String> = Vec::new();
        for message in messages {
            let key = match message.partition_key() {
                PartitionKey::Patient(key) => key,
                PartitionKey::Patients(first, second) => {
                    groups.join(&first, &second);
                    mrns.push(second);
                    first
                }
                PartitionKey::Reference(_) => continue,
            };
            let named = processor
                .keys_of(message)
                .map(|(family, _)| processor.family(family).also_named(message));
            for other in named.into_iter().flatten() {
                groups.join(&key, &other);
            }
            mrns.push(key);
        }
        (groups, mrns)
    }

    /// The key naming `key`'s group (itself when it was never joined).
    fn root<'a>(&'a self, mut key: &'a str) -> &'a str {
        while let Some(parent) = self.parent.get(key) {
            key = parent;
        }
        key
    }

    fn join(&mut self, a: &str, b: &str) {
        let (a, b) = (self.root(a).to_owned(), self.root(b).to_owned());
        if a != b {
            // The smaller key names the group, so the grouping does not depend on the order
            // the joins came in.
            let (low, high) = if a < b { (a, b) } else { (b, a) };
            self.parent.insert(high, low);
        }
    }

    /// The group of a message's patients, as a number (equal groups, equal numbers).
    fn group_of(&self, message: &Message) -> u64 {
        hash(self.root(message.partition_key().routing_key()))
    }

    /// The lane of a message naming one or two patients.
    fn lane_of(&self, message: &Message, lanes: usize) -> usize {
        (self.group_of(message) % lanes as u64) as usize
    }
}

fn add(total: &mut Applied, more: Applied) {
    total.applied += more.applied;
    total.dead_lettered += more.dead_lettered;
}

/// FNV-1a: stable across runs and builds (std's hasher is randomly seeded), so a patient keeps
/// its lane.
fn hash(key: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

async fn apply_segment(
    processor: &Processor,
    pool: &PgPool,
    groups: &Groups,
    segment: &[&Message],
    lanes: usize,
) -> Result<Applied, sqlx::Error> {
    if segment.is_empty() {
        return Ok(Applied::default());
    }
    let mut split: Vec<Vec<&Message>> = vec![Vec::new(); lanes];
    for message in segment {
        split[groups.lane_of(message, lanes)].push(message);
    }
    split.retain(|lane| !lane.is_empty());
    let outcomes = futures::future::join_all(
        split
            .iter()
            .map(|lane| apply_lane(processor, pool, groups, lane)),
    )
    .await;
    let mut total = Applied::default();
    for (lane, outcome) in split.iter().zip(outcomes) {
        let done = match outcome {
            Ok(done) => done,
            Err(error) => {
                tracing::debug!(error = %error, "A lane failed; retrying it alone");
                processor.forget_cached();
                apply_lane(processor, pool, groups, lane).await?
            }
        };
        add(&mut total, done);
    }
    Ok(total)
}

/// One lane: its messages in one transaction, wave by wave, what each wave's messages read
/// first read ahead at once ([`ReadAhead`]). Most lanes hold no message a rule refuses, so the lane is first applied
/// without savepoints (a savepoint per message is a round trip and a subtransaction each, and
/// more than 64 subtransactions slow every other connection's snapshots). A message refused
/// before it read or wrote anything is dead-lettered in place. If a rule refuses a message
/// after that, the attempt is rolled back and the lane applied again with a savepoint per
/// message, so that the refused message alone is rolled back and dead-lettered.
async fn apply_lane(
    processor: &Processor,
    pool: &PgPool,
    groups: &Groups,
    lane: &[&Message],
) -> Result<Applied, sqlx::Error> {
    if let Some(done) = apply_lane_at_once(processor, pool, groups, lane).await? {
        return Ok(done);
    }
    apply_lane_carefully(processor, pool, groups, lane).await
}

/// The lane without savepoints; `Ok(None)`, having rolled back, if a rule refused a message.
async fn apply_lane_at_once(
    processor: &Processor,
    pool: &PgPool,
    groups: &Groups,
    lane: &[&Message],
) -> Result<Option<Applied>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut done = Applied::default();
    let rows = Mutex::new(Wave::default());
    for (n, wave) in waves(groups, lane).iter().enumerate() {
        let mut read_ahead = read_wave(processor, &mut tx, wave, n == 0).await?;
        for (index, message) in wave.iter().enumerate() {
            // Refused before it read or wrote anything (e.g. a class not built yet): recorded
            // in place, nothing to roll back.
            if let Err(rejection) = processor.prerequisites(message) {
                dead_letter_rejected(&mut tx, message, &rejection).await?;
                done.dead_lettered += 1;
                continue;
            }
            let lane = InLane {
                read_ahead: &mut read_ahead,
                index,
                pool,
                wave: Some(&rows),
            };
            match processor
                .process_reading_ahead(&mut tx, message, Utc::now(), Some(lane))
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
        // The wave's rows, before the next wave reads.
        writes::take(&rows)?.flush(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(Some(done))
}

/// The lane with a savepoint per message: a refused message is rolled back alone and
/// dead-lettered, the others applied.
async fn apply_lane_carefully(
    processor: &Processor,
    pool: &PgPool,
    groups: &Groups,
    lane: &[&Message],
) -> Result<Applied, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut done = Applied::default();
    for (n, wave) in waves(groups, lane).iter().enumerate() {
        let mut read_ahead = read_wave(processor, &mut tx, wave, n == 0).await?;
        for (index, message) in wave.iter().enumerate() {
            // Each message's rows written at once, so its savepoint holds them.
            let lane = InLane {
                read_ahead: &mut read_ahead,
                index,
                pool,
                wave: None,
            };
            if apply_message_reading_ahead(processor, &mut tx, message, Some(lane)).await? {
                done.applied += 1;
            } else {
                done.dead_lettered += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(done)
}

/// A lane's messages in waves: the n-th message of each group of patients in wave n, in lane
/// order within a wave. Each patient's messages keep their order (one per wave, waves in
/// order), and a wave's first reads are read ahead at once, after the earlier waves wrote what
/// they change, instead of one round trip for each message whose patient came earlier.
fn waves<'m>(groups: &Groups, lane: &[&'m Message]) -> Vec<Vec<&'m Message>> {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let mut waves: Vec<Vec<&Message>> = Vec::new();
    for message in lane {
        let n = seen.entry(groups.group_of(message)).or_default();
        if waves.len() <= *n {
            waves.push(Vec::new());
        }
        waves[*n].push(message);
        *n += 1;
    }
    waves
}

/// What a wave's messages read first, read ahead. The lane's first read also tells the
/// processor which star schema the transaction writes to ([`Processor::begin`]), asked
/// separately only if nothing was read ahead.
async fn read_wave(
    processor: &Processor,
    tx: &mut PgConnection,
    wave: &[&Message],
    first: bool,
) -> Result<ReadAhead, sqlx::Error> {
    let read_ahead = ReadAhead::read(processor, &mut *tx, wave).await?;
    if first {
        match read_ahead.schema_oid() {
            Some(oid) => processor.note_schema(oid),
            None => processor.begin(&mut *tx).await?,
        }
    }
    Ok(read_ahead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use interchange::adt::{AdtFields, MergePatient, UpdatePatientInfo};

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
        let groups = Groups::default();
        let lanes: Vec<usize> = (0..100)
            .map(|n| groups.lane_of(&update(&format!("{n:08}")), 4))
            .collect();
        for (n, lane) in lanes.iter().enumerate() {
            assert_eq!(*lane, groups.lane_of(&update(&format!("{n:08}")), 4));
        }
        for lane in 0..4 {
            assert!(
                lanes.iter().filter(|l| **l == lane).count() > 10,
                "lane {lane} unused"
            );
        }
    }

    fn merge(mrn: &str, previous: &str) -> Message {
        MergePatient {
            adt: AdtFields {
                mrn: Some(mrn.to_owned()),
                ..AdtFields::default()
            },
            previous_mrn: Some(previous.to_owned()),
            previous_nhs_number: None,
        }
        .into()
    }

    #[test]
    fn keys_named_together_share_a_lane_whatever_order_they_were_joined_in() {
        let mut groups = Groups::default();
        groups.join("00000003", "00000001");
        groups.join("00000002", "00000003");
        let mut other = Groups::default();
        other.join("00000002", "00000001");
        other.join("00000001", "00000003");
        for lanes in [2, 4, 7] {
            let lane = groups.lane_of(&update("00000001"), lanes);
            for key in ["00000002", "00000003"] {
                assert_eq!(groups.lane_of(&update(key), lanes), lane);
                assert_eq!(other.lane_of(&update(key), lanes), lane);
            }
            // The merge itself goes where both of its patients go.
            assert_eq!(groups.lane_of(&merge("00000002", "00000003"), lanes), lane);
        }
        assert_eq!(groups.root("00000003"), "00000001");
        assert_eq!(groups.root("00000009"), "00000009");
    }

    fn with(mrn: Option<&str>, visit: Option<&str>, nhs: Option<&str>) -> Message {
        UpdatePatientInfo {
            adt: AdtFields {
                mrn: mrn.map(str::to_owned),
                visit_number: visit.map(str::to_owned),
                nhs_number: nhs.map(str::to_owned),
                ..AdtFields::default()
            },
        }
        .into()
    }

    #[test]
    fn mrns_naming_the_same_visit_or_nhs_number_share_a_group() {
        let run = [
            // A visit admitted under a duplicate record, then named under the other MRN
            // before the merge arrives.
            with(Some("R"), Some("V1"), None),
            with(Some("S"), Some("V1"), None),
            // A message with no MRN, known by its NHS number only.
            with(Some("T"), None, Some("999")),
            with(None, None, Some("999")),
            with(Some("U"), Some("V2"), Some("888")),
        ];
        let (groups, mrns) = Groups::named(&crate::Processor::default(), &run);
        assert_eq!(groups.group_of(&run[0]), groups.group_of(&run[1]));
        assert_eq!(groups.group_of(&run[2]), groups.group_of(&run[3]));
        assert_ne!(groups.group_of(&run[0]), groups.group_of(&run[2]));
        assert_ne!(groups.group_of(&run[4]), groups.group_of(&run[0]));
        assert_ne!(groups.group_of(&run[4]), groups.group_of(&run[2]));
        assert_eq!(mrns, ["R", "S", "T", "nhs:999", "U"]);
    }

    #[test]
    fn a_lane_is_cut_into_waves_holding_each_group_once_in_order() {
        let (p1, q1, p2, r1, p3, q2) = (
            update("P"),
            update("Q"),
            update("P"),
            update("R"),
            update("P"),
            update("Q"),
        );
        let lane = [&p1, &q1, &p2, &r1, &p3, &q2];
        let names = |waves: Vec<Vec<&Message>>| -> Vec<Vec<String>> {
            waves
                .iter()
                .map(|wave| {
                    wave.iter()
                        .map(|m| m.partition_key().routing_key().to_owned())
                        .collect()
                })
                .collect()
        };
        assert_eq!(
            names(waves(&Groups::default(), &lane)),
            [vec!["P", "Q", "R"], vec!["P", "Q"], vec!["P"]]
        );
        // Each wave keeps lane order, so a patient's messages stay in order.
        let waves_of_p: Vec<*const Message> = waves(&Groups::default(), &lane)
            .into_iter()
            .flatten()
            .filter(|m| m.partition_key().routing_key() == "P")
            .map(|m| m as *const Message)
            .collect();
        assert_eq!(
            waves_of_p,
            [
                &p1 as *const Message,
                &p2 as *const Message,
                &p3 as *const Message
            ]
        );
        // Joined keys are one group: Q waits for P's message before it.
        let mut joined = Groups::default();
        joined.join("P", "Q");
        assert_eq!(
            names(waves(&joined, &lane)),
            [vec!["P", "R"], vec!["Q"], vec!["P"], vec!["P"], vec!["Q"]]
        );
    }
}
