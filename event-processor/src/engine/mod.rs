//! The processor's own machinery, which knows no message family: the [`Processor`] that
//! dispatches each message to the [`Family`] that applies it, the [`consumer`] of RabbitMQ
//! batches, [`lanes`] and their waves, the [`read_ahead`], the set-wise [`writes`], the
//! [`dead_letters`], patient [`identity`] (M1–M6, which every family needs), [`places`] (G4),
//! the [`questions`] asked on requests (Q5) and the [`reference`] rows every patient shares. A
//! family depends on this module; nothing here names a family (`crate::FAMILIES` is the one
//! table that lists them).
//!
//! Rules that belong to no family live here too: G3's requirement of a valid-from time, and the
//! `NOT-BUILT` rejection of a message no family applies, which keeps it visible in
//! `star.dead_letter` for a retry once its family exists.

pub mod consumer;
pub(crate) mod dead_letters;
pub(crate) mod identity;
pub mod lanes;
pub(crate) mod places;
pub(crate) mod questions;
pub(crate) mod read_ahead;
pub(crate) mod reference;
pub(crate) mod writes;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use interchange::Message;
use sqlx::{PgConnection, PgPool};

use self::identity::Keys;
use self::places::PlaceCache;
use self::read_ahead::{Prefetched, ReadAhead};
use self::writes::Wave;

/// A message family (ADT, labs, …): which messages it applies and how. The engine holds the
/// families as a table and asks each message's family for its keys, its read-ahead and its
/// effects; a family's rules live in its own module folder.
pub(crate) trait Family: Sync {
    /// Whether this family applies `message`.
    fn applies_to(&self, message: &Message) -> bool;

    /// What `message` names to find its patient and visit, for the read-ahead and for keeping a
    /// read-ahead row from a message whose wave changed it.
    fn keys<'m>(&self, message: &'m Message) -> Keys<'m>;

    /// Keys besides its partition key that `message` names (`visit:…`, `nhs:…`): the lanes put
    /// every patient naming one of them on one connection ([`lanes`]). By default, the visit
    /// its keys name.
    fn also_named(&self, message: &Message) -> Vec<String> {
        self.keys(message).visit_named()
    }

    /// What each of these messages (named by `keys`, each naming one patient) reads first, read
    /// in one statement; one row per key, in order. By default, the patient and visit
    /// ([`identity::read_patient_visits`]).
    fn read_ahead<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        keys: &'a [Keys<'a>],
    ) -> BoxFuture<'a, Result<Vec<Box<dyn Prefetched>>, sqlx::Error>> {
        identity::read_patient_visits(conn, keys)
    }

    /// Applies `message` (which names `keys`) inside the caller's transaction; `found` is its
    /// read-ahead row, if it still holds.
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        message: &'a Message,
        keys: &'a Keys<'a>,
        found: Option<Box<dyn Prefetched>>,
        context: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<(), ProcessError>>;
}

/// The message families, in the order they are asked whether they apply a message.
pub(crate) type Families = &'static [&'static dyn Family];

/// A message applied in a lane ([`lanes`]): what its wave read ahead, the pool that new
/// places are created on, each committed at once ([`places::place`]), and, unless the lane
/// takes a savepoint per message, the wave's rows to write when it ends ([`writes`]).
pub(crate) struct InLane<'a> {
    pub read_ahead: &'a mut ReadAhead,
    /// The message's index in its wave.
    pub index: usize,
    pub pool: &'a PgPool,
    pub wave: Option<&'a Mutex<Wave>>,
}

/// Why a message was not applied: the rule that refused it and why. Never holds patient data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {reason}")]
pub struct Rejection {
    /// The rule id, e.g. `M2`.
    pub rule: &'static str,
    /// Why.
    pub reason: String,
}

/// Why processing failed other than by a rule: the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// A rule refused the message; it goes to the dead-letter table.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The database failed; the message should be retried, not dead-lettered.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The IDS id a message came from, written as provenance (`source_ids_id`) and used to break
/// ties between messages of one hospital time (the later arrival wins), so every arrival order
/// picks the same newest. A source id that is not an IDS id (a source table's key) gives none,
/// which ranks before every IDS message: provenance must join `ids.message`, never mislead.
pub(crate) fn ids_id(source_message_id: Option<&str>) -> Option<i64> {
    source_message_id
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|id| *id > 0)
}

/// `value` applied to `current` when the message is not older than the row, or the row holds
/// nothing yet: an older message fills what a row lacks and never replaces what it holds, so
/// every arrival order gives the same row.
pub(crate) fn fill<T: Clone>(
    value: &interchange::value::Iv<T>,
    current: Option<T>,
    newer: bool,
) -> Option<T> {
    if newer || current.is_none() {
        value.clone().apply_to(current)
    } else {
        current
    }
}

pub(crate) fn reject(rule: &'static str, reason: impl Into<String>) -> ProcessError {
    ProcessError::Rejected(Rejection {
        rule,
        reason: reason.into(),
    })
}

/// Site conventions the rules depend on.
#[derive(Debug, Clone)]
pub struct Config {
    /// Source systems trusted to overwrite identity, demographics and visits (EMAP: `EPIC`).
    pub trusted_sources: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            trusted_sources: vec!["EPIC".to_owned()],
        }
    }
}

/// What processing one message needs to know about it.
pub(crate) struct Context<'a> {
    /// The message's valid-from.
    pub valid_from: DateTime<Utc>,
    /// When this processing run stores rows (shared by every row it writes: G5).
    pub stored_from: DateTime<Utc>,
    /// The message's source id, written as provenance on every row it changes.
    pub source_ids_id: Option<i64>,
    /// The message's source system.
    pub source_system: Option<&'a str>,
    /// Whether that source is trusted.
    pub trusted: bool,
    /// The site's trusted sources, to judge where a stored row came from.
    pub trusted_sources: &'a [String],
    /// Location ids already known.
    pub places: &'a PlaceCache,
    /// Other reference rows already known ([`reference::Cache`]).
    pub reference: &'a reference::Cache,
    /// Where a new reference row (a place, a lab battery) is created and committed by itself,
    /// when the message is applied in a lane; else in the message's transaction ([`reference`]).
    pub places_pool: Option<&'a PgPool>,
    /// The wave's rows, written when it ends; without one, a message's rows are written at once.
    pub wave: Option<&'a Mutex<Wave>>,
    /// What this message created and touched, for the caches.
    pub effects: Mutex<Effects>,
}

/// What a message created and touched: places to forget if it is rolled back, rows that a
/// lane's read-ahead may no longer hold as they were ([`read_ahead`]).
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub created_places: Vec<String>,
    pub touched: Vec<Touched>,
}

/// A row a message read or wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Touched {
    /// An `mrn` row, by id (and so the demographics of a live MRN).
    Mrn(i64),
    /// A `hospital_visit` row, by id (and so its facts and location visits).
    Visit(i64),
}

impl Context<'_> {
    /// Notes that this message read or wrote `row`.
    pub fn touched(&self, row: Touched) {
        if let Ok(mut effects) = self.effects.lock() {
            effects.touched.push(row);
        }
    }

    /// Writes the rows `build` adds: with the wave's, when the message is in one, else at once.
    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        build: impl FnOnce(&mut Wave),
    ) -> Result<(), sqlx::Error> {
        match self.wave {
            Some(wave) => {
                let mut wave = wave.lock().map_err(writes::poisoned)?;
                build(&mut wave);
                Ok(())
            }
            None => {
                let mut rows = Wave::default();
                build(&mut rows);
                rows.flush(conn).await
            }
        }
    }

    /// Whether `source` is one of the site's trusted sources.
    pub fn is_trusted(&self, source: &str) -> bool {
        self.trusted_sources.iter().any(|t| t == source)
    }
}

/// Applies interchange messages to the star schema, each through its family.
#[derive(Clone)]
pub struct Processor {
    config: Config,
    families: Families,
    places: PlaceCache,
    reference: reference::Cache,
    /// Which star schema the cache describes: the oid of its `location` table.
    schema: Arc<AtomicU32>,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("config", &self.config)
            .field("families", &self.families.len())
            .finish_non_exhaustive()
    }
}

impl Processor {
    /// A processor with these site conventions and families.
    pub(crate) fn with_families(config: Config, families: Families) -> Processor {
        Processor {
            config,
            families,
            places: PlaceCache::default(),
            reference: reference::Cache::default(),
            schema: Arc::default(),
        }
    }

    /// The family at `index` of the table.
    pub(crate) fn family(&self, index: usize) -> &'static dyn Family {
        self.families[index]
    }

    /// Which family applies `message` (its index), and what the message names.
    pub(crate) fn keys_of<'m>(&self, message: &'m Message) -> Option<(usize, Keys<'m>)> {
        let index = self.families.iter().position(|f| f.applies_to(message))?;
        Some((index, self.families[index].keys(message)))
    }

    /// What every message must have — a family that applies it and a valid-from time (G3) — or
    /// the rejection it gets before anything is read or written for it. A lane dead-letters
    /// such a message in place, with no rollback ([`lanes`]).
    pub(crate) fn prerequisites(
        &self,
        message: &Message,
    ) -> Result<(&'static dyn Family, DateTime<Utc>), Rejection> {
        let Some(family) = self.families.iter().find(|f| f.applies_to(message)) else {
            return Err(Rejection {
                rule: "NOT-BUILT",
                reason: format!("{} is not processed yet", message.class_name()),
            });
        };
        let Some(valid_from) = message.valid_from() else {
            return Err(Rejection {
                rule: "G3",
                reason: "the message has no valid-from time".to_owned(),
            });
        };
        Ok((*family, valid_from))
    }

    /// Call at the start of each transaction: forgets what was cached when the connection's
    /// star schema is no longer the one cached (after `ward promote` renamed another schema to
    /// `star`, cached location ids would name rows of the retired schema).
    pub async fn begin(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let oid: i64 = sqlx::query_scalar("SELECT coalesce(to_regclass('location')::oid, 0)::int8")
            .fetch_one(&mut *conn)
            .await?;
        self.note_schema(oid);
        Ok(())
    }

    /// [`Processor::begin`] with the star schema's `location` oid already read (a lane's
    /// read-ahead reads it in the same statement).
    pub(crate) fn note_schema(&self, oid: i64) {
        let oid = u32::try_from(oid).unwrap_or_default();
        if self.schema.swap(oid, Ordering::Relaxed) != oid {
            self.forget_cached();
        }
    }

    /// Forgets what this processor cached from the database; call it when a transaction that
    /// processed messages rolls back, since what they created is gone. (A message that fails
    /// forgets what it created by itself.)
    pub fn forget_cached(&self) {
        self.places.clear();
        self.reference.clear();
    }

    /// Applies one message inside the caller's transaction. `stored_from` is the processing time
    /// every written row shares.
    pub async fn process(
        &self,
        conn: &mut PgConnection,
        message: &Message,
        stored_from: DateTime<Utc>,
    ) -> Result<(), ProcessError> {
        self.process_reading_ahead(conn, message, stored_from, None)
            .await
    }

    /// [`Processor::process`] for a message of a lane.
    pub(crate) async fn process_reading_ahead(
        &self,
        conn: &mut PgConnection,
        message: &Message,
        stored_from: DateTime<Utc>,
        lane: Option<InLane<'_>>,
    ) -> Result<(), ProcessError> {
        let (family, valid_from) = self.prerequisites(message)?;
        let context = Context {
            valid_from,
            stored_from,
            source_ids_id: ids_id(message.source_message_id()),
            source_system: message.source_system(),
            trusted: message
                .source_system()
                .is_some_and(|s| self.config.trusted_sources.iter().any(|t| t == s)),
            trusted_sources: &self.config.trusted_sources,
            places: &self.places,
            reference: &self.reference,
            places_pool: lane.as_ref().map(|lane| lane.pool),
            wave: lane.as_ref().and_then(|lane| lane.wave),
            effects: Mutex::default(),
        };
        let keys = family.keys(message);
        let (found, read_ahead) = match lane {
            Some(lane) => (
                lane.read_ahead.take(lane.index, &keys),
                Some(lane.read_ahead),
            ),
            None => (None, None),
        };
        // A message that reads for itself must see what the wave's earlier messages wrote. A
        // wave holds each group of patients once, so none of their rows should be its; written
        // first all the same, so that correctness does not rest on that.
        if found.is_none()
            && let Some(wave) = context.wave
        {
            writes::take(wave)?.flush(conn).await?;
        }
        let outcome = family.apply(conn, message, &keys, found, &context).await;
        let effects = context.effects.into_inner().unwrap_or_default();
        if let Some(ahead) = read_ahead {
            ahead.note(&keys, &effects.touched);
        }
        if outcome.is_err() {
            self.places.forget(&effects.created_places);
        }
        outcome
    }

    /// Applies one message under a savepoint, so that a rejected message rolls back alone and
    /// the caller's transaction (a batch) goes on. `Ok(Err(rejection))` is a rejected message;
    /// `Err` a database failure, after which the transaction should be rolled back.
    pub async fn process_in_savepoint(
        &self,
        conn: &mut PgConnection,
        message: &Message,
        stored_from: DateTime<Utc>,
    ) -> Result<Result<(), Rejection>, sqlx::Error> {
        self.process_in_savepoint_reading_ahead(conn, message, stored_from, None)
            .await
    }

    /// [`Processor::process_in_savepoint`] for a message of a lane.
    pub(crate) async fn process_in_savepoint_reading_ahead(
        &self,
        conn: &mut PgConnection,
        message: &Message,
        stored_from: DateTime<Utc>,
        lane: Option<InLane<'_>>,
    ) -> Result<Result<(), Rejection>, sqlx::Error> {
        // Not released after success: releasing costs a round trip per message and changes
        // nothing (a savepoint's effects commit with the transaction either way, and ROLLBACK TO
        // goes back to the latest savepoint of that name, this message's).
        sqlx::query("SAVEPOINT message").execute(&mut *conn).await?;
        match self
            .process_reading_ahead(conn, message, stored_from, lane)
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(ProcessError::Rejected(rejection)) => {
                sqlx::query("ROLLBACK TO SAVEPOINT message")
                    .execute(&mut *conn)
                    .await?;
                Ok(Err(rejection))
            }
            Err(ProcessError::Database(error)) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ids_id;

    #[test]
    fn provenance_is_an_ids_id_or_none() {
        assert_eq!(ids_id(Some("42")), Some(42));
        assert_eq!(ids_id(Some("0000000042")), Some(42), "zero-padded");
        for not_ids in [
            Some("CON1"),
            Some("0000000042_01"),
            Some("0"),
            Some("-3"),
            None,
        ] {
            assert_eq!(ids_id(not_ids), None, "{not_ids:?}");
        }
    }
}
