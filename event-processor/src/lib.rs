//! The event-processor stage: applies `interchange` messages to the bitemporal star schema.
//!
//! It knows no HL7: its only input is the interchange format. [`Processor::process`] applies one
//! message inside the caller's transaction, so a caller can put several messages in one
//! transaction with a savepoint each; a message it must refuse comes back as a [`Rejection`]
//! naming the rule, for the dead-letter table. Rules follow EMAP's (ids such as M1, D2 refer to
//! `shared/reference/emap-behaviour.md` §4); each module names the rules it implements.
//!
//! Two halves: [`engine`] is the machinery every family shares — the [`consumer`] of RabbitMQ
//! batches, [`lanes`] and waves, the read-ahead, set-wise writes, dead letters, identity
//! (M1–M6) and places — and knows no family; each message family is a module folder of its
//! own that builds on it (`adt`: demographics, visits, locations, movements, pending
//! transfers, merges, deletion; `labs`: batteries, samples, orders, results; `observations`:
//! flowsheet rows and their types; `conditions`: problems, infections, allergies; `requests`:
//! consultation requests, advance decisions, their questions; `research`: opt-outs; `forms`:
//! filled-in forms, their answers and definitions). [`FAMILIES`] is the one table that joins
//! them. A message no family applies (location metadata, for now) is rejected with
//! rule `NOT-BUILT`, which keeps it visible in `star.dead_letter` for a retry once its family
//! exists.

mod adt;
mod conditions;
mod engine;
mod forms;
mod labs;
mod observations;
mod requests;
mod research;

pub use engine::{Config, ProcessError, Processor, Rejection, consumer, lanes};

/// Every message family, asked in this order whether it applies a message.
static FAMILIES: engine::Families = &[
    &adt::Adt,
    &labs::Labs,
    &observations::Observations,
    &conditions::Conditions,
    &requests::Requests,
    &research::Research,
    &forms::Forms,
];

impl Processor {
    /// A processor with these site conventions, applying every family in [`FAMILIES`].
    pub fn new(config: Config) -> Processor {
        Processor::with_families(config, FAMILIES)
    }
}

impl Default for Processor {
    fn default() -> Self {
        Processor::new(Config::default())
    }
}
