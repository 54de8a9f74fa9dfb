//! The table-reader stage: publishes `interchange` messages built from source database tables,
//! the history from before a feed went live, to a backfill queue the processor drains after live
//! traffic.
//!
//! Like the message-reader it knows nothing of the star schema. Not built yet: `ward read-tables`
//! is absent until it is.
