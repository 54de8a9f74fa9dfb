//! Integration tests of the ids-listener over real sockets against a real PostgreSQL.
//!
//! Each test starts its own listener on port 0 with its own database (see `harness`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod harness;
mod mllp;
mod resilience;
mod storage;
mod tls;
