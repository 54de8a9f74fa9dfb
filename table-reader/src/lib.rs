//! The table-reader stage: publishes `interchange` messages built from source database tables
//! — the history from before a feed went live, and the reference data HL7 never carries — to
//! the backfill queue, which the processor drains only while live traffic leaves it room.
//!
//! Sources are configuration ([`config`]): per query, its SQL, the class its rows become, how
//! columns fill fields and which columns order the rows. [`source`] pages through PostgreSQL
//! and MySQL/MariaDB behind one trait; [`cell`] is a row's values whatever the database;
//! [`mapping`] turns a row into a message; [`progress`] keeps each query's position, what was
//! published and what could not be mapped; [`reader`] is the loop. Like the message-reader it
//! knows nothing of the star schema.

pub mod cell;
pub mod config;
pub mod mapping;
pub mod progress;
pub mod reader;
pub mod source;

pub use config::{ConfigError, Sources};
pub use reader::{Config, Resources, Stats, TableReaderError, dry_run, run};
