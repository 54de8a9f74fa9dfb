//! Replay: rebuilds a star schema from a range of the Immutable Data Store with the reader's
//! mapping and the processor's rules unchanged, so researchers can reproduce what the live
//! pipeline produced at any point.
//!
//! Not built yet: `ward replay` is absent until it is.
