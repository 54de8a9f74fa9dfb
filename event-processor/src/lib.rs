//! The event-processor stage: applies `interchange` messages to the bitemporal star schema.
//!
//! It knows no HL7: its only input is the interchange format. [`Processor::process`] applies one
//! message inside the caller's transaction, so a caller can put several messages in one
//! transaction with a savepoint each; a message it must refuse comes back as a [`Rejection`]
//! naming the rule, for the dead-letter table. Rules follow EMAP's (ids such as M1, D2 refer to
//! `shared/reference/emap-behaviour.md` §4); each module names the rules it implements.
//!
//! Built: the ADT family ([`adt`] says which rules each class runs) — identity (M1–M6),
//! demographics (D1–D5), hospital visits (V1–V9), location visits derived from movement facts
//! (L1–L29, S1–S2), planned movements (P1–P3), deletion (X1–X5) and merges (I1–I10), with the
//! generic update rules (G1–G5) — and the [`consumer`] that applies messages from RabbitMQ in
//! batched transactions, in [`lanes`] that read ahead what their messages read first and take a
//! savepoint per message only when a rule refused one. Labs, flowsheets, conditions and the other
//! non-ADT classes are not built yet; they are rejected with rule `NOT-BUILT`, which keeps them
//! visible in `star.dead_letter` for a retry once their rules exist.

mod adt;
pub mod consumer;
mod deletion;
mod demographics;
mod identity;
pub mod lanes;
mod locations;
mod merges;
mod movements;
mod pending;
mod read_ahead;
mod visits;
mod writes;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use interchange::Message;
use sqlx::{PgConnection, PgPool};

use crate::read_ahead::ReadAhead;

/// A message applied in a lane ([`lanes`]): what its wave read ahead, the pool that new
/// places are created on, each committed at once ([`locations::place`]), and, unless the lane
/// takes a savepoint per message, the wave's rows to write when it ends ([`writes`]).
pub(crate) struct InLane<'a> {
    pub read_ahead: &'a mut ReadAhead,
    /// The message's index in its wave.
    pub index: usize,
    pub pool: &'a PgPool,
    pub wave: Option<&'a Mutex<writes::Writes>>,
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

/// What every message the processor applies must have — ADT fields (other classes are not built
/// yet) and a valid-from time — or the rejection it gets before anything is read or written for
/// it. A lane dead-letters such a message in place, with no rollback ([`lanes`]).
pub(crate) fn prerequisites(
    message: &Message,
) -> Result<(&interchange::adt::AdtFields, DateTime<Utc>), Rejection> {
    let Some(adt) = message.adt() else {
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
    Ok((adt, valid_from))
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
    pub source_ids_id: Option<&'a str>,
    /// The message's source system.
    pub source_system: Option<&'a str>,
    /// Whether that source is trusted.
    pub trusted: bool,
    /// The site's trusted sources, to judge where a stored row came from.
    pub trusted_sources: &'a [String],
    /// Location ids already known.
    pub places: &'a locations::PlaceCache,
    /// Where a new place is created and committed by itself, when the message is applied in a
    /// lane; else in the message's transaction.
    pub places_pool: Option<&'a PgPool>,
    /// The wave's rows, written when it ends; without one, a message's rows are written at once.
    pub wave: Option<&'a Mutex<writes::Writes>>,
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
        build: impl FnOnce(&mut writes::Writes),
    ) -> Result<(), sqlx::Error> {
        match self.wave {
            Some(wave) => {
                let mut wave = wave.lock().map_err(writes::poisoned)?;
                build(&mut wave);
                Ok(())
            }
            None => {
                let mut writes = writes::Writes::default();
                build(&mut writes);
                writes.flush(conn).await
            }
        }
    }

    /// Whether `source` is one of the site's trusted sources.
    pub fn is_trusted(&self, source: &str) -> bool {
        self.trusted_sources.iter().any(|t| t == source)
    }
}

/// Applies interchange messages to the star schema.
#[derive(Debug, Clone, Default)]
pub struct Processor {
    config: Config,
    places: locations::PlaceCache,
    /// Which star schema the cache describes: the oid of its `location` table.
    schema: Arc<AtomicU32>,
}

impl Processor {
    /// A processor with these site conventions.
    pub fn new(config: Config) -> Processor {
        Processor {
            config,
            places: locations::PlaceCache::default(),
            schema: Arc::default(),
        }
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
        let (adt, valid_from) = prerequisites(message)?;
        let context = Context {
            valid_from,
            stored_from,
            source_ids_id: message.source_message_id(),
            source_system: message.source_system(),
            trusted: message
                .source_system()
                .is_some_and(|s| self.config.trusted_sources.iter().any(|t| t == s)),
            trusted_sources: &self.config.trusted_sources,
            places: &self.places,
            places_pool: lane.as_ref().map(|lane| lane.pool),
            wave: lane.as_ref().and_then(|lane| lane.wave),
            effects: Mutex::default(),
        };
        let keys = adt::Keys::of(message, adt);
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
        let outcome = adt::apply(conn, message, adt, &keys, found, &context).await;
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
