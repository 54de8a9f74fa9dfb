//! `ward simulate`'s engine: a seeded synthetic hospital ADT feed ([`feed`]), with WinPath lab
//! orders and results (`labs`), vital signs charted on flowsheets (`vitals`), allergies,
//! problems and infection flags (`conditions`) and consultation requests and advance decisions
//! (`requests`) if asked, sent over MLLP on
//! several connections waiting for each ACK ([`send`]) or written to a file.
//!
//! It exists so that a newcomer sees Ward working on realistic traffic, the determinism test has
//! out-of-order, resent, cancelled and merged messages to replay, and the end-to-end benchmark
//! has a feed to push. It knows HL7 only as text it writes; nothing here is used by Ward's stages.

mod conditions;
pub mod feed;
mod labs;
mod requests;
pub mod rng;
pub mod send;
mod vitals;

pub use feed::{Config, SimMessage, generate};
