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
use crate::wire::{Binary, class_tag, string_or_number};

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

/// A lab order and the results it carries.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LabOrderMsg {
    /// Id of the message in its source (the IDS id for HL7).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub source_message_id: Option<String>,
    /// Source system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_system: Option<String>,
    /// ORC-1 (NW, SC, CA, RE, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_control_id: Option<String>,
    /// Epic's order number; a DELETE with a value identifies a cancelled order.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub epic_care_order_number: Iv<String>,
    /// The lab's specimen number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lab_specimen_number: Option<String>,
    /// Specimen type.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub specimen_type: Iv<String>,
    /// Collection method.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub collection_method: Iv<String>,
    /// Sample site.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub sample_site: Iv<String>,
    /// When the sample was collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_date_time: Option<DateTime<Utc>>,
    /// When the order's status last changed: the message's valid-from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_change_time: Option<DateTime<Utc>>,
    /// When the order was placed.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub order_date_time: Iv<DateTime<Utc>>,
    /// When the lab received the sample.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub sample_received_time: Iv<DateTime<Utc>>,
    /// When the test was requested for.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub requested_date_time: Iv<DateTime<Utc>>,
    /// Lab department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lab_department: Option<String>,
    /// ORC-5 order status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_status: Option<String>,
    /// OBR-25 result status (HL7 code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_status: Option<String>,
    /// The patient's MRN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrn: Option<String>,
    /// Hospital visit number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit_number: Option<String>,
    /// Battery code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_battery_local_code: Option<String>,
    /// Battery coding system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_battery_coding_system: Option<String>,
    /// Parent observation (for reflex orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_observation_identifier: Option<String>,
    /// Parent observation sub-id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_sub_id: Option<String>,
    /// Clinical information given with the order.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub clinical_information: Iv<String>,
    /// Order questions and their answers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub questions: BTreeMap<String, String>,
    /// The results this message carries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lab_result_msgs: Vec<LabResultMsg>,
}

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

/// A microbiology isolate and its antibiotic sensitivities.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LabIsolateMsg {
    /// Always `…lab.LabIsolateMsg`.
    #[serde(rename = "@class")]
    pub class: LabIsolateTag,
    /// Epic's order number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epic_care_order_number: Option<String>,
    /// The lab's isolate id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolate_id: Option<String>,
    /// Organism code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolate_code: Option<String>,
    /// Organism name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolate_name: Option<String>,
    /// Culture type.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub culture_type: Iv<String>,
    /// Quantity.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub quantity: Iv<String>,
    /// Clinical information.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub clinical_information: Iv<String>,
    /// Sensitivities: agent in `string_value`, S/R/I in `abnormal_flag`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sensitivities: Vec<LabResultMsg>,
}

/// A lab test or battery definition (from source tables).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LabMetadataMsg {
    /// Id of the message in its source.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub source_message_id: Option<String>,
    /// Source system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_system: Option<String>,
    /// Test or battery code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_code: Option<String>,
    /// Coding system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coding_system: Option<OrderCodingSystem>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Test or battery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labs_metadata_type: Option<LabsMetadataType>,
    /// Valid from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
}
