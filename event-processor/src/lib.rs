//! The event-processor stage: consumes `interchange` messages and keeps the bitemporal star
//! schema current, inferring context from bystander data, tolerating out-of-order delivery and
//! following MRN merges.
//!
//! It knows no HL7: its only input is the interchange format. Not built yet: `ward process` is
//! absent until it is.
