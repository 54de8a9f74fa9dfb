//! Patient conditions: infections, problems (problem list) and allergies.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::value::Iv;
use crate::wire::record;

/// What a condition message does (HL7 table 0287: AD, UP, DE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConditionAction {
    /// Add the condition.
    Add,
    /// Update the condition.
    Update,
    /// Delete the condition.
    Delete,
}

record!(
    /// Fields every condition message has (EMAP's `PatientConditionMessage`).
    ConditionFields {
        /// Id of the message in its source (the IDS id for HL7).
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// The patient's MRN.
        mrn: Option<String> = "Option::is_none",
        /// Condition status (e.g. Active, Resolved).
        status: Iv<String> = "Iv::is_unknown",
        /// Hospital visit number.
        visit_number: Iv<String> = "Iv::is_unknown",
        /// Condition code.
        condition_code: Option<String> = "Option::is_none",
        /// Condition name.
        condition_name: Iv<String> = "Iv::is_unknown",
        /// When the condition was last updated: the message's valid-from.
        updated_date_time: Option<DateTime<Utc>> = "Option::is_none",
        /// When the condition was added.
        added_datetime: Option<DateTime<Utc>> = "Option::is_none",
        /// Onset date.
        onset_date: Iv<NaiveDate> = "Iv::is_unknown",
        /// Add, update or delete.
        action: Option<ConditionAction> = "Option::is_none",
        /// Epic's id of the condition.
        epic_condition_id: Iv<i64> = "Iv::is_unknown",
        /// Comment.
        comment: Iv<String> = "Iv::is_unknown",
        /// Sub-type.
        sub_type: Iv<String> = "Iv::is_unknown",
        /// Severity.
        severity: Iv<String> = "Iv::is_unknown",
    }
);

/// Declares a condition message: the shared fields flattened, plus its own.
macro_rules! condition_message {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $skip:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, rename_all = "camelCase")]
        pub struct $name {
            /// The fields every condition message has.
            #[serde(flatten)]
            pub condition: ConditionFields,
            $(
                $(#[$fdoc])*
                #[serde(skip_serializing_if = $skip)]
                pub $field: $ty,
            )*
        }
    };
}

condition_message!(
    /// An infection flag (HL7 A05 ZIF segment, or source tables).
    PatientInfection {
        /// When the infection was resolved.
        resolved_datetime: Iv<DateTime<Utc>> = "Iv::is_unknown",
    }
);
condition_message!(
    /// A problem-list entry (HL7 PPR^PC1/2/3, or source tables).
    PatientProblem {
        /// When the problem was added.
        added_date: Option<NaiveDate> = "Option::is_none",
        /// When the problem was resolved.
        resolved_date: Option<NaiveDate> = "Option::is_none",
    }
);
condition_message!(
    /// An allergy (HL7 A60 IAM segments).
    PatientAllergy {
        /// Reactions.
        reactions: Vec<String> = "Vec::is_empty",
    }
);
