//! Orders that are not labs: consultation requests and advance decisions (e.g. DNACPR), and
//! consultation type metadata.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::value::Iv;
use crate::wire::record;

record!(
    /// A request for a consultation by another team.
    ConsultRequest {
        /// Id of the message in its source (the IDS id for HL7).
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// Epic's consultation id.
        epic_consult_id: Option<i64> = "Option::is_none",
        /// The patient's MRN.
        mrn: Option<String> = "Option::is_none",
        /// Hospital visit number.
        visit_number: Option<String> = "Option::is_none",
        /// Consultation type code.
        consultation_type: Option<String> = "Option::is_none",
        /// When the request's status last changed: the message's valid-from.
        status_change_datetime: Option<DateTime<Utc>> = "Option::is_none",
        /// When the consultation is scheduled.
        scheduled_datetime: Option<DateTime<Utc>> = "Option::is_none",
        /// Questions and answers.
        questions: BTreeMap<String, String> = "BTreeMap::is_empty",
        /// Notes.
        notes: Iv<String> = "Iv::is_unknown",
        /// The request was cancelled.
        cancelled: bool,
        /// The request was closed because the patient was discharged.
        closed_due_to_discharge: bool,
    }
);

record!(
    /// A consultation type's definition (from source tables).
    ConsultMetadata {
        /// Id of the message in its source.
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// Consultation type code.
        code: Option<String> = "Option::is_none",
        /// Name.
        name: Option<String> = "Option::is_none",
        /// When it was last updated: the message's valid-from.
        last_updated_date: Option<DateTime<Utc>> = "Option::is_none",
    }
);

record!(
    /// An advance decision such as DNACPR.
    AdvanceDecisionMessage {
        /// Id of the message in its source (the IDS id for HL7).
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// Epic's advance decision number.
        advance_decision_number: Option<i64> = "Option::is_none",
        /// The patient's MRN.
        mrn: Option<String> = "Option::is_none",
        /// Hospital visit number.
        visit_number: Option<String> = "Option::is_none",
        /// Advance care code.
        advance_care_code: Option<String> = "Option::is_none",
        /// Advance decision type name.
        advance_decision_type_name: Option<String> = "Option::is_none",
        /// Questions and answers.
        questions: BTreeMap<String, String> = "BTreeMap::is_empty",
        /// When the decision's status last changed: the message's valid-from.
        status_change_datetime: Option<DateTime<Utc>> = "Option::is_none",
        /// When it was requested.
        requested_datetime: Option<DateTime<Utc>> = "Option::is_none",
        /// The decision was cancelled.
        cancelled: bool,
        /// The decision was closed because the patient was discharged.
        closed_due_to_discharge: bool,
    }
);
