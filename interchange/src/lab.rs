//! Lab orders and results (with microbiology isolates and their sensitivities), and lab test
//! metadata.
//!
//! A [`LabOrderMsg`] is the unit a lab message becomes: one order (battery) with the results it
//! carries. Results and isolates are embedded, each with its own `@class` as in EMAP's JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::value::Iv;
use crate::wire::{Binary, class_tag, record};

/// The kind of value a result or observation holds (EMAP's `ValueType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValueType {
    /// A number.
    Numeric,
    /// Text.
    Text,
    /// A date.
    Date,
    /// A time of day.
    Time,
    /// An instant.
    Instant,
    /// True or false.
    Boolean,
    /// A PDF document (bytes).
    Pdf,
    /// A microbiology isolate.
    LabIsolate,
}

/// HL7 result status of one result (EMAP's `LabResultStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LabResultStatus {
    /// `F`.
    Final,
    /// `C`.
    Corrected,
    /// `P`.
    Preliminary,
    /// `I`.
    Incomplete,
    /// `X`.
    ResultNotAvailable,
    /// `D`.
    Deleted,
    /// `W`.
    InvalidResult,
    /// `Z`.
    NonstandardValue,
    /// Empty.
    Unknown,
}

impl LabResultStatus {
    /// The status for an HL7 OBX-11 code.
    pub fn from_hl7(code: &str) -> Option<LabResultStatus> {
        Some(match code {
            "F" => LabResultStatus::Final,
            "C" => LabResultStatus::Corrected,
            "P" => LabResultStatus::Preliminary,
            "I" => LabResultStatus::Incomplete,
            "X" => LabResultStatus::ResultNotAvailable,
            "D" => LabResultStatus::Deleted,
            "W" => LabResultStatus::InvalidResult,
            "Z" => LabResultStatus::NonstandardValue,
            "" => LabResultStatus::Unknown,
            _ => return None,
        })
    }
}

/// Which system coded an order, a test or an observation (EMAP's `OrderCodingSystem`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderCodingSystem {
    /// WinPath labs.
    WinPath,
    /// ABL90 FLEX PLUS blood gas analysers.
    #[serde(rename = "ABL90_FLEX_PLUS")]
    Abl90FlexPlus,
    /// BIO-CONNECT point of care.
    BioConnect,
    /// CoPath (and CoPathPlus).
    CoPath,
    /// Bank Manager (blood bank).
    BankManager,
    /// Imaging results (earlier name).
    Imaging,
    /// Imaging results from PACS.
    Pacs,
    /// Bank Manager blood products.
    BloodProducts,
    /// Flowsheets.
    Flowsheet,
    /// Consultation orders.
    ConsultOrder,
    /// Advance decision orders.
    AdvancedDecisionOrder,
}

/// Whether lab metadata describes a test or a battery (EMAP's `LabsMetadataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LabsMetadataType {
    /// A single test.
    LabsMetadataTest,
    /// A battery of tests.
    LabsMetadataBattery,
}

class_tag!(
    /// `@class` of [`LabResultMsg`].
    LabResultTag = "uk.ac.ucl.rits.inform.interchange.lab.LabResultMsg"
);
class_tag!(
    /// `@class` of [`LabIsolateMsg`].
    LabIsolateTag = "uk.ac.ucl.rits.inform.interchange.lab.LabIsolateMsg"
);

record!(
    /// A lab order and the results it carries.
    LabOrderMsg {
        /// Id of the message in its source (the IDS id for HL7).
        #[serde(deserialize_with = "crate::wire::string_or_number")]
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// ORC-1 (NW, SC, CA, RE, …).
        order_control_id: Option<String> = "Option::is_none",
        /// Epic's order number; a DELETE with a value identifies a cancelled order.
        epic_care_order_number: Iv<String> = "Iv::is_unknown",
        /// The lab's specimen number.
        lab_specimen_number: Option<String> = "Option::is_none",
        /// Specimen type.
        specimen_type: Iv<String> = "Iv::is_unknown",
        /// Collection method.
        collection_method: Iv<String> = "Iv::is_unknown",
        /// Sample site.
        sample_site: Iv<String> = "Iv::is_unknown",
        /// When the sample was collected.
        collection_date_time: Option<DateTime<Utc>> = "Option::is_none",
        /// When the order's status last changed: the message's valid-from.
        status_change_time: Option<DateTime<Utc>> = "Option::is_none",
        /// When the order was placed.
        order_date_time: Iv<DateTime<Utc>> = "Iv::is_unknown",
        /// When the lab received the sample.
        sample_received_time: Iv<DateTime<Utc>> = "Iv::is_unknown",
        /// When the test was requested for.
        requested_date_time: Iv<DateTime<Utc>> = "Iv::is_unknown",
        /// Lab department.
        lab_department: Option<String> = "Option::is_none",
        /// ORC-5 order status.
        order_status: Option<String> = "Option::is_none",
        /// OBR-25 result status (HL7 code).
        result_status: Option<String> = "Option::is_none",
        /// The patient's MRN.
        mrn: Option<String> = "Option::is_none",
        /// Hospital visit number.
        visit_number: Option<String> = "Option::is_none",
        /// Battery code.
        test_battery_local_code: Option<String> = "Option::is_none",
        /// Battery coding system.
        test_battery_coding_system: Option<String> = "Option::is_none",
        /// Parent observation (for reflex orders).
        parent_observation_identifier: Option<String> = "Option::is_none",
        /// Parent observation sub-id.
        parent_sub_id: Option<String> = "Option::is_none",
        /// Clinical information given with the order.
        clinical_information: Iv<String> = "Iv::is_unknown",
        /// Order questions and their answers.
        questions: BTreeMap<String, String> = "BTreeMap::is_empty",
        /// The results this message carries.
        lab_result_msgs: Vec<LabResultMsg> = "Vec::is_empty",
    }
);

/// One result of a lab order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LabResultMsg {
    /// Always `…lab.LabResultMsg`.
    #[serde(rename = "@class")]
    pub class: LabResultTag,
    /// The kind of value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<ValueType>,
    /// Test code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_item_local_code: Option<String>,
    /// Test coding system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_item_coding_system: Option<String>,
    /// OBX-4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation_sub_id: Option<String>,
    /// Numeric value.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub numeric_value: Iv<f64>,
    /// Text value.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub string_value: Iv<String>,
    /// Binary value (e.g. a PDF report).
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub byte_value: Iv<Binary>,
    /// Units.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub units: Iv<String>,
    /// Lower reference limit.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub reference_low: Iv<f64>,
    /// Upper reference limit.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub reference_high: Iv<f64>,
    /// Abnormal flag. Unlike other fields it defaults to DELETE: a result without a flag clears
    /// a flag an earlier version of the result had. Written whenever it is not a plain DELETE.
    #[serde(skip_serializing_if = "Iv::is_plain_delete")]
    pub abnormal_flag: Iv<String>,
    /// `=`, `<` or `>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_operator: Option<String>,
    /// Result status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_status: Option<LabResultStatus>,
    /// When the result was produced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_time: Option<DateTime<Utc>>,
    /// Notes.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub notes: Iv<String>,
    /// The isolate, for microbiology results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lab_isolate: Option<LabIsolateMsg>,
    /// Epic's order number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epic_care_order_number: Option<String>,
}

impl Default for LabResultMsg {
    fn default() -> Self {
        LabResultMsg {
            class: LabResultTag,
            mime_type: None,
            test_item_local_code: None,
            test_item_coding_system: None,
            observation_sub_id: None,
            numeric_value: Iv::Unknown,
            string_value: Iv::Unknown,
            byte_value: Iv::Unknown,
            units: Iv::Unknown,
            reference_low: Iv::Unknown,
            reference_high: Iv::Unknown,
            abnormal_flag: Iv::delete(),
            result_operator: None,
            result_status: None,
            result_time: None,
            notes: Iv::Unknown,
            lab_isolate: None,
            epic_care_order_number: None,
        }
    }
}

record!(
    /// A microbiology isolate and its antibiotic sensitivities.
    LabIsolateMsg {
        /// Always `…lab.LabIsolateMsg`.
        #[serde(rename = "@class")]
        class: LabIsolateTag,
        /// Epic's order number.
        epic_care_order_number: Option<String> = "Option::is_none",
        /// The lab's isolate id.
        isolate_id: Option<String> = "Option::is_none",
        /// Organism code.
        isolate_code: Option<String> = "Option::is_none",
        /// Organism name.
        isolate_name: Option<String> = "Option::is_none",
        /// Culture type.
        culture_type: Iv<String> = "Iv::is_unknown",
        /// Quantity.
        quantity: Iv<String> = "Iv::is_unknown",
        /// Clinical information.
        clinical_information: Iv<String> = "Iv::is_unknown",
        /// Sensitivities: agent in `string_value`, S/R/I in `abnormal_flag`.
        sensitivities: Vec<LabResultMsg> = "Vec::is_empty",
    }
);

record!(
    /// A lab test or battery definition (from source tables).
    LabMetadataMsg {
        /// Id of the message in its source.
        #[serde(deserialize_with = "crate::wire::string_or_number")]
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// Test or battery code.
        short_code: Option<String> = "Option::is_none",
        /// Coding system.
        coding_system: Option<OrderCodingSystem> = "Option::is_none",
        /// Name.
        name: Option<String> = "Option::is_none",
        /// Test or battery.
        labs_metadata_type: Option<LabsMetadataType> = "Option::is_none",
        /// Valid from.
        valid_from: Option<DateTime<Utc>> = "Option::is_none",
    }
);
