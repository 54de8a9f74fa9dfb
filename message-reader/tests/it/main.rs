//! Integration tests of the message-reader: its mapping against EMAP's expectations, and the
//! reader against a real PostgreSQL and RabbitMQ, each test with its own database and queues.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod conditions;
mod flowsheets;
mod following;
mod harness;
mod lab_pairs;
mod lab_rules;
mod mapping;
mod pairs;
mod requests;
mod rules;
