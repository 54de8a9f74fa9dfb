//! The message-reader stage: follows the Immutable Data Store in id order, parses each HL7v2
//! message with the `hl7` crate, maps it to `interchange` messages and publishes them to RabbitMQ
//! with publisher confirms, advancing its durable position only after the broker confirmed.
//!
//! The parts: [`mapping`] (HL7 → interchange, usable without database or broker, as
//! `ward convert` does), [`watermark`] (never skipping a row that commits late) and [`reader`]
//! (the loop, its durable position and error table); publishing, confirmed and ordered with
//! back-off and reconnection, is the `broker` crate's. The reader reads the IDS and never writes to it, and knows
//! nothing of the star schema.

pub mod mapping;
pub mod reader;
pub mod watermark;

pub use mapping::{Ignored, MapError, Mapped, SiteConfig, map_message};
pub use reader::{Config, ReaderExposition, Resources, Stats, reprocess, run};
