//! HL7v2 reading shared by everything in Ward that looks inside a message.
//!
//! This crate owns the knowledge of HL7v2 syntax: where the MSH segment is, which delimiters a
//! message declares, and how HL7 timestamps are written. The ids-listener uses only
//! [`header::read_header`] (it stores bytes and must not parse bodies on the ACK path); the
//! message-reader will use the parsing facade that grows here. Nothing in this crate knows about
//! databases, queues or the interchange format, and no function here panics on any input.

pub mod dtm;
pub mod header;
pub mod message;

pub use dtm::{Dtm, DtmError};
pub use header::{Delimiters, Header, HeaderError, read_header};
pub use message::{Message, ParseError, Segment, split_messages};
