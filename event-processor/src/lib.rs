//! The event-processor stage: applies `interchange` messages to the bitemporal star schema.
//!
//! It knows no HL7: its only input is the interchange format. [`Processor::process`] applies one
//! message inside the caller's transaction, so a caller can put several messages in one
//! transaction with a savepoint each; a message it must refuse comes back as a [`Rejection`]
//! naming the rule, for the dead-letter table. Rules follow EMAP's (ids such as M1, D2 refer to
//! `shared/reference/emap-behaviour.md` §4); each module names the rules it implements.
//!
//! Built so far: identity (M1–M6) and demographics (D1, D2, D5) with the generic update rules
//! (G1–G3, G5), and the [`consumer`] that applies messages from RabbitMQ in batched transactions
//! with a savepoint per message. Hospital visits, locations, cancellations and merges are not
//! built yet; messages of other classes are rejected with rule `NOT-BUILT`, which keeps them
//! visible in `star.dead_letter` for a retry once their rules exist.

pub mod consumer;
mod demographics;
mod identity;

use chrono::{DateTime, Utc};
use interchange::Message;
use sqlx::PgConnection;

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
}

/// Applies interchange messages to the star schema.
#[derive(Debug, Clone, Default)]
pub struct Processor {
    config: Config,
}

impl Processor {
    /// A processor with these site conventions.
    pub fn new(config: Config) -> Processor {
        Processor { config }
    }

    /// Applies one message inside the caller's transaction. `stored_from` is the processing time
    /// every written row shares.
    pub async fn process(
        &self,
        conn: &mut PgConnection,
        message: &Message,
        stored_from: DateTime<Utc>,
    ) -> Result<(), ProcessError> {
        let Some(adt) = message.adt() else {
            return Err(reject(
                "NOT-BUILT",
                format!("{} is not processed yet", message.class_name()),
            ));
        };
        let valid_from = message
            .valid_from()
            .ok_or_else(|| reject("G3", "the message has no valid-from time"))?;
        let context = Context {
            valid_from,
            stored_from,
            source_ids_id: message.source_message_id(),
            source_system: message.source_system(),
            trusted: message
                .source_system()
                .is_some_and(|s| self.config.trusted_sources.iter().any(|t| t == s)),
        };
        let live_mrn_id = identity::live_mrn(
            conn,
            adt.mrn.as_deref(),
            adt.nhs_number.as_deref(),
            &context,
        )
        .await?;
        demographics::update(conn, live_mrn_id, adt, &context).await?;
        Ok(())
    }
}
