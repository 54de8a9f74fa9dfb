//! Integration tests of the event-processor's rules against a real PostgreSQL, each test in its
//! own database. Tests are named after the EMAP rule they pin (`shared/reference/emap-behaviour.md`
//! §4: G generic, C context, M identity, D demographics, V visits, L locations, S swaps, P
//! pending, X deletion, I merges).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod as_of;
mod backfill;
mod conditions;
mod deletion;
mod demographics;
mod forms;
mod harness;
mod identity;
mod labs;
mod lanes;
mod location_metadata;
mod locations;
mod merges;
mod observations;
mod pending;
mod permutations;
mod requests;
mod research;
mod visits;
