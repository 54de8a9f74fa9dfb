//! The message-reader stage: follows the Immutable Data Store in id order, parses each HL7v2
//! message with the `hl7` crate, maps it to `interchange` messages and publishes them to RabbitMQ
//! with publisher confirms, advancing its durable position only after the broker confirmed.
//!
//! It reads the IDS and never writes to it, and it knows nothing of the star schema. Not built
//! yet: `ward read-ids` is absent until it is.
