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
//! filled-in forms, their answers and definitions; `location_metadata`: departments, rooms, beds
//! and their states). [`FAMILIES`] is the one table that joins them; every interchange class has
//! its family. A message no family applies (a class a newer reader sends before the processor
//! knows it) is rejected with rule `NOT-BUILT`, which keeps it visible in `star.dead_letter` for a
//! retry once its family exists.

mod adt;
mod conditions;
mod engine;
mod forms;
mod labs;
mod location_metadata;
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
    &location_metadata::LocationMetadataFamily,
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

#[cfg(test)]
mod tests {
    use interchange::Message;

    use super::{Config, FAMILIES, Processor};

    /// Every class the interchange defines is applied by a family: none is left `NOT-BUILT`.
    #[test]
    fn every_interchange_class_has_a_family() {
        for class in Message::CLASS_NAMES {
            let json = serde_json::json!({
                "@class": class,
                "active": false,
                "cancelled": false,
                "closedDueToDischarge": false,
            });
            let message = match Message::from_json(json.to_string().as_bytes()) {
                Ok(message) => message,
                Err(e) => panic!("{class}: {e:?}"),
            };
            let families = FAMILIES.iter().filter(|f| f.applies_to(&message)).count();
            assert_eq!(families, 1, "{class} is applied by {families} families");
        }
    }

    /// A class no family knows (one a newer reader sends first) is refused visibly, before
    /// anything is read or written for it.
    #[test]
    fn a_class_no_family_applies_is_refused_as_not_built() {
        let processor = Processor::with_families(Config::default(), &[]);
        let message: Message = interchange::form::FormMsg::default().into();
        match processor.prerequisites(&message) {
            Err(rejection) => assert_eq!(rejection.rule, "NOT-BUILT"),
            Ok(_) => panic!("a processor without families applied {message:?}"),
        }
    }
}
