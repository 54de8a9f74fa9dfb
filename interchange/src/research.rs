//! Research opt-outs: patients who declined the use of their data for research.

use chrono::{DateTime, Utc};

use crate::wire::record;

record!(
    /// A patient's research opt-out (from source tables).
    ResearchOptOut {
        /// Id of the message in its source.
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// NHS number.
        nhs_number: Option<String> = "Option::is_none",
        /// The patient's MRN.
        mrn: Option<String> = "Option::is_none",
        /// When the opt-out was last updated: the message's valid-from.
        last_updated: Option<DateTime<Utc>> = "Option::is_none",
        /// Whether the opt-out is in force.
        active: bool,
    }
);
