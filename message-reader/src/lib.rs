//! The message-reader stage: follows the Immutable Data Store in id order, parses each HL7v2
//! message with the `hl7` crate, maps it to `interchange` messages and publishes them to RabbitMQ
//! with publisher confirms, advancing its durable position only after the broker confirmed.
//!
//! [`mapping`] is the HL7 → interchange conversion, usable without any database or broker
//! (`ward convert`). The reader reads the IDS and never writes to it, and knows nothing of the
//! star schema.

pub mod mapping;

pub use mapping::{Ignored, MapError, Mapped, SiteConfig, map_message};
