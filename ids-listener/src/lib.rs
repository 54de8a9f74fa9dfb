//! The ids-listener stage: the integration engine's only contact with Ward.
//!
//! It receives HL7v2 messages over MLLP, stores each one's exact bytes with its header metadata
//! in the Immutable Data Store, and acknowledges only after that insert has committed. It reads
//! nothing but the MSH header (with `hl7::read_header`) and knows neither the interchange format
//! nor the star schema. Not built yet: `ward listen` is absent until it is.
