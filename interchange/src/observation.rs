//! Visit observations: flowsheet rows (vital signs and the like) and their metadata.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::lab::ValueType;
use crate::value::Iv;
use crate::wire::record;

record!(
    /// One flowsheet observation for a patient's visit.
    Flowsheet {
        /// Id of the message in its source (the IDS id for HL7).
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// Always `flowsheet` so far.
        source_observation_type: Option<String> = "Option::is_none",
        /// The patient's MRN.
        mrn: Option<String> = "Option::is_none",
        /// Hospital visit number.
        visit_number: Option<String> = "Option::is_none",
        /// The HL7 interface id (OBX-3).
        interface_id: Option<String> = "Option::is_none",
        /// Epic's flowsheet row id (from source tables).
        flowsheet_id: Option<String> = "Option::is_none",
        /// The application the observation came from.
        source_application: Option<String> = "Option::is_none",
        /// `true` for live HL7, `false` for backfill.
        is_real_time: Option<bool> = "Option::is_none",
        /// The kind of value.
        value_type: Option<ValueType> = "Option::is_none",
        /// Numeric value.
        numeric_value: Iv<f64> = "Iv::is_unknown",
        /// Text value.
        string_value: Iv<String> = "Iv::is_unknown",
        /// Date value.
        date_value: Iv<NaiveDate> = "Iv::is_unknown",
        /// Time value.
        time_value: Iv<NaiveTime> = "Iv::is_unknown",
        /// Comment.
        comment: Iv<String> = "Iv::is_unknown",
        /// Unit.
        unit: Iv<String> = "Iv::is_unknown",
        /// When it was observed.
        observation_time: Option<DateTime<Utc>> = "Option::is_none",
        /// When it was last changed: the message's valid-from.
        updated_time: Option<DateTime<Utc>> = "Option::is_none",
    }
);

record!(
    /// A flowsheet row's definition, or (with both ids) a mapping from interface id to row id.
    FlowsheetMetadata {
        /// Id of the message in its source.
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// Always `flowsheet` so far.
        source_observation_type: Option<String> = "Option::is_none",
        /// The HL7 interface id.
        interface_id: Option<String> = "Option::is_none",
        /// Epic's flowsheet row id.
        flowsheet_id: Option<String> = "Option::is_none",
        /// Name.
        name: Option<String> = "Option::is_none",
        /// Display name.
        display_name: Option<String> = "Option::is_none",
        /// The source's own value type name (e.g. `Numeric Type`).
        value_type: Option<String> = "Option::is_none",
        /// Unit.
        unit: Option<String> = "Option::is_none",
        /// Description.
        description: Option<String> = "Option::is_none",
        /// When the row was created in the source.
        creation_instant: Option<DateTime<Utc>> = "Option::is_none",
        /// When the row was last updated: the message's valid-from.
        last_updated_instant: Option<DateTime<Utc>> = "Option::is_none",
    }
);
