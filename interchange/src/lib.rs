//! The interchange format: the typed messages readers publish and the event processor consumes.
//!
//! This crate is the only contract between the readers (message-reader, table-reader) and the
//! event-processor: the processor knows no HL7 and the readers know no star schema. It will hold
//! one Rust type per EMAP interchange class, wire-compatible with EMAP's JSON, and must never
//! depend on a database or broker client. The types arrive with the interchange issue; until then
//! this crate is intentionally empty so that nothing can depend on a half-made contract.
