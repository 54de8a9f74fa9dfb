//! The interchange format: the typed messages readers publish and the event processor consumes.
//!
//! This crate is the only contract between the readers (message-reader, table-reader) and the
//! event-processor: the processor knows no HL7 and the readers know no star schema. Each EMAP
//! interchange class is a Rust type here, and [`Message`] is the set of top-level ones, tagged on
//! the wire by EMAP's Java class name in `@class`; JSON is the only encoding, field for field
//! EMAP's, so EMAP's fixtures are our conformance suite and EMAP components can be swapped one at
//! a time. Fields whose source may say "nothing", "cleared" or "this" are [`Iv`].
//!
//! Compatibility: [`FORMAT_VERSION`] travels in the AMQP header [`VERSION_HEADER`]. Within a
//! major version changes are additive only (new optional fields, new message classes); readers
//! of the format ignore fields they do not know. Removing or retyping a field is a new major
//! version. This crate depends on no database or broker client.
#![deny(missing_docs)]

pub mod adt;
pub mod condition;
pub mod form;
pub mod lab;
pub mod location;
pub mod observation;
pub mod order;
pub mod research;
pub mod value;
mod wire;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use value::Iv;
pub use wire::Binary;

use adt::*;
use condition::*;
use form::*;
use lab::*;
use location::*;
use observation::*;
use order::*;
use research::*;

/// The interchange format version this crate reads and writes (`major.minor`).
pub const FORMAT_VERSION: &str = "1.0";

/// The AMQP message header that carries [`FORMAT_VERSION`].
pub const VERSION_HEADER: &str = "x-ward-interchange-version";

/// Declares [`Message`] with one variant per top-level class and its Java class name.
macro_rules! messages {
    ($($variant:ident => $class:literal),* $(,)?) => {
        /// Every top-level interchange message, tagged by EMAP's Java class name in `@class`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "@class")]
        #[non_exhaustive]
        pub enum Message {
            $(
                #[doc = concat!("`", $class, "`")]
                #[serde(rename = $class)]
                $variant($variant),
            )*
        }

        impl Message {
            /// EMAP's Java class name of this message.
            pub fn class_name(&self) -> &'static str {
                match self {
                    $(Message::$variant(_) => $class,)*
                }
            }

            /// Every top-level class name, in declaration order.
            pub const CLASS_NAMES: &'static [&'static str] = &[$($class),*];

            /// Reads the class named `class` from `value`, keeping the path of any error (the
            /// derived, internally tagged reading buffers the content and loses it).
            fn decode_class(
                class: &str,
                value: &serde_json::Value,
            ) -> Option<Result<Message, serde_path_to_error::Error<serde_json::Error>>> {
                match class {
                    $($class => Some(serde_path_to_error::deserialize(value).map(Message::$variant)),)*
                    _ => None,
                }
            }
        }

        $(
            impl From<$variant> for Message {
                fn from(message: $variant) -> Message {
                    Message::$variant(message)
                }
            }
        )*
    };
}

messages! {
    AdmitPatient => "uk.ac.ucl.rits.inform.interchange.adt.AdmitPatient",
    TransferPatient => "uk.ac.ucl.rits.inform.interchange.adt.TransferPatient",
    DischargePatient => "uk.ac.ucl.rits.inform.interchange.adt.DischargePatient",
    RegisterPatient => "uk.ac.ucl.rits.inform.interchange.adt.RegisterPatient",
    UpdatePatientInfo => "uk.ac.ucl.rits.inform.interchange.adt.UpdatePatientInfo",
    ImpliedAdtMessage => "uk.ac.ucl.rits.inform.interchange.adt.ImpliedAdtMessage",
    CancelAdmitPatient => "uk.ac.ucl.rits.inform.interchange.adt.CancelAdmitPatient",
    CancelTransferPatient => "uk.ac.ucl.rits.inform.interchange.adt.CancelTransferPatient",
    CancelDischargePatient => "uk.ac.ucl.rits.inform.interchange.adt.CancelDischargePatient",
    PendingTransfer => "uk.ac.ucl.rits.inform.interchange.adt.PendingTransfer",
    CancelPendingTransfer => "uk.ac.ucl.rits.inform.interchange.adt.CancelPendingTransfer",
    SwapLocations => "uk.ac.ucl.rits.inform.interchange.adt.SwapLocations",
    DeletePersonInformation => "uk.ac.ucl.rits.inform.interchange.adt.DeletePersonInformation",
    MergePatient => "uk.ac.ucl.rits.inform.interchange.adt.MergePatient",
    MoveVisitInformation => "uk.ac.ucl.rits.inform.interchange.adt.MoveVisitInformation",
    ChangePatientIdentifiers => "uk.ac.ucl.rits.inform.interchange.adt.ChangePatientIdentifiers",
    LabOrderMsg => "uk.ac.ucl.rits.inform.interchange.lab.LabOrderMsg",
    LabMetadataMsg => "uk.ac.ucl.rits.inform.interchange.lab.LabMetadataMsg",
    Flowsheet => "uk.ac.ucl.rits.inform.interchange.visit_observations.Flowsheet",
    FlowsheetMetadata => "uk.ac.ucl.rits.inform.interchange.visit_observations.FlowsheetMetadata",
    PatientInfection => "uk.ac.ucl.rits.inform.interchange.PatientInfection",
    PatientProblem => "uk.ac.ucl.rits.inform.interchange.PatientProblem",
    PatientAllergy => "uk.ac.ucl.rits.inform.interchange.PatientAllergy",
    ConsultRequest => "uk.ac.ucl.rits.inform.interchange.ConsultRequest",
    ConsultMetadata => "uk.ac.ucl.rits.inform.interchange.ConsultMetadata",
    AdvanceDecisionMessage => "uk.ac.ucl.rits.inform.interchange.AdvanceDecisionMessage",
    LocationMetadata => "uk.ac.ucl.rits.inform.interchange.location.LocationMetadata",
    DepartmentMetadata => "uk.ac.ucl.rits.inform.interchange.location.DepartmentMetadata",
    FormMsg => "uk.ac.ucl.rits.inform.interchange.form.FormMsg",
    FormMetadataMsg => "uk.ac.ucl.rits.inform.interchange.form.FormMetadataMsg",
    FormQuestionMetadataMsg => "uk.ac.ucl.rits.inform.interchange.form.FormQuestionMetadataMsg",
    ResearchOptOut => "uk.ac.ucl.rits.inform.interchange.ResearchOptOut",
}

/// Which messages must be processed in order relative to each other.
///
/// Messages about one patient go to one partition, in order. A merge or swap names two patients:
/// whoever partitions work must order it after earlier messages of both. Metadata that concerns
/// no patient goes to a lane of its own kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartitionKey {
    /// The patient, by MRN (or NHS number when a message has no MRN).
    Patient(String),
    /// Two patients: the message's own, then the other (previous MRN, or the other bed's).
    Patients(String, String),
    /// No patient: reference data, ordered within its kind.
    Reference(&'static str),
}

impl PartitionKey {
    /// The key to route on: the (first) patient, or the reference lane.
    pub fn routing_key(&self) -> &str {
        match self {
            PartitionKey::Patient(key) | PartitionKey::Patients(key, _) => key,
            PartitionKey::Reference(lane) => lane,
        }
    }
}

impl Message {
    /// The ADT fields of an ADT-family message.
    pub fn adt(&self) -> Option<&AdtFields> {
        Some(match self {
            Message::AdmitPatient(m) => &m.adt,
            Message::TransferPatient(m) => &m.adt,
            Message::DischargePatient(m) => &m.adt,
            Message::RegisterPatient(m) => &m.adt,
            Message::UpdatePatientInfo(m) => &m.adt,
            Message::ImpliedAdtMessage(m) => &m.adt,
            Message::CancelAdmitPatient(m) => &m.adt,
            Message::CancelTransferPatient(m) => &m.adt,
            Message::CancelDischargePatient(m) => &m.adt,
            Message::PendingTransfer(m) => &m.adt,
            Message::CancelPendingTransfer(m) => &m.adt,
            Message::SwapLocations(m) => &m.adt,
            Message::DeletePersonInformation(m) => &m.adt,
            Message::MergePatient(m) => &m.adt,
            Message::MoveVisitInformation(m) => &m.adt,
            Message::ChangePatientIdentifiers(m) => &m.adt,
            _ => return None,
        })
    }

    fn condition(&self) -> Option<&ConditionFields> {
        Some(match self {
            Message::PatientInfection(m) => &m.condition,
            Message::PatientProblem(m) => &m.condition,
            Message::PatientAllergy(m) => &m.condition,
            _ => return None,
        })
    }

    /// `(source system, source message id)` of every message.
    fn envelope(&self) -> (Option<&str>, Option<&str>) {
        if let Some(adt) = self.adt() {
            return (
                adt.source_system.as_deref(),
                adt.source_message_id.as_deref(),
            );
        }
        if let Some(c) = self.condition() {
            return (c.source_system.as_deref(), c.source_message_id.as_deref());
        }
        let (system, id) = match self {
            Message::LabOrderMsg(m) => (&m.source_system, &m.source_message_id),
            Message::LabMetadataMsg(m) => (&m.source_system, &m.source_message_id),
            Message::Flowsheet(m) => (&m.source_system, &m.source_message_id),
            Message::FlowsheetMetadata(m) => (&m.source_system, &m.source_message_id),
            Message::ConsultRequest(m) => (&m.source_system, &m.source_message_id),
            Message::ConsultMetadata(m) => (&m.source_system, &m.source_message_id),
            Message::AdvanceDecisionMessage(m) => (&m.source_system, &m.source_message_id),
            Message::LocationMetadata(m) => (&m.source_system, &m.source_message_id),
            Message::DepartmentMetadata(m) => (&m.source_system, &m.source_message_id),
            Message::FormMsg(m) => (&m.source_system, &m.source_message_id),
            Message::FormMetadataMsg(m) => (&m.source_system, &m.source_message_id),
            Message::FormQuestionMetadataMsg(m) => (&m.source_system, &m.source_message_id),
            Message::ResearchOptOut(m) => (&m.source_system, &m.source_message_id),
            _ => (&None, &None),
        };
        (system.as_deref(), id.as_deref())
    }

    /// The system the message came from (MSH-3 for HL7; `clarity`, `caboodle` for tables).
    pub fn source_system(&self) -> Option<&str> {
        self.envelope().0
    }

    /// The message's id in its source: the IDS id for HL7-derived messages.
    pub fn source_message_id(&self) -> Option<&str> {
        self.envelope().1
    }

    /// When what the message says became true in its source: the time its effects are valid
    /// from in the star schema.
    pub fn valid_from(&self) -> Option<DateTime<Utc>> {
        if let Some(adt) = self.adt() {
            // EMAP's "msg time" for ADT: when the event occurred (EVN-6), else when it was
            // recorded (EVN-2, which the reader already falls back to MSH-7 for).
            return adt.event_occurred_date_time.or(adt.recorded_date_time);
        }
        if let Some(c) = self.condition() {
            return c.updated_date_time;
        }
        match self {
            Message::LabOrderMsg(m) => m.status_change_time,
            Message::LabMetadataMsg(m) => m.valid_from,
            Message::Flowsheet(m) => m.updated_time,
            Message::FlowsheetMetadata(m) => m.last_updated_instant,
            Message::ConsultRequest(m) => m.status_change_datetime,
            Message::ConsultMetadata(m) => m.last_updated_date,
            Message::AdvanceDecisionMessage(m) => m.status_change_datetime,
            // A department-only location states nothing that changes: what the string is
            // holds for all time.
            Message::LocationMetadata(m) => m
                .bed_metadata
                .as_ref()
                .and_then(|b| b.bed_contact_date)
                .or_else(|| m.room_metadata.as_ref().and_then(|r| r.room_contact_date))
                .or(Some(DateTime::UNIX_EPOCH)),
            Message::DepartmentMetadata(m) => m.combined_update.or(m.department_contact_date),
            Message::FormMsg(m) => m.first_filed_datetime,
            Message::FormMetadataMsg(m) => m.valid_from,
            Message::FormQuestionMetadataMsg(m) => m.valid_from,
            Message::ResearchOptOut(m) => m.last_updated,
            _ => None,
        }
    }

    /// Which messages this one must be ordered with; see [`PartitionKey`].
    pub fn partition_key(&self) -> PartitionKey {
        fn patient(mrn: &Option<String>, nhs: &Option<String>, lane: &'static str) -> PartitionKey {
            match (mrn, nhs) {
                (Some(mrn), _) => PartitionKey::Patient(mrn.clone()),
                (None, Some(nhs)) => PartitionKey::Patient(format!("nhs:{nhs}")),
                (None, None) => PartitionKey::Reference(lane),
            }
        }
        let pair = |adt: &AdtFields, other: &Option<String>| match (&adt.mrn, other) {
            (Some(mrn), Some(other)) => PartitionKey::Patients(mrn.clone(), other.clone()),
            _ => patient(&adt.mrn, &adt.nhs_number, "no-patient"),
        };
        match self {
            Message::MergePatient(m) => pair(&m.adt, &m.previous_mrn),
            Message::MoveVisitInformation(m) => pair(&m.adt, &m.previous_mrn),
            Message::ChangePatientIdentifiers(m) => pair(&m.adt, &m.previous_mrn),
            Message::SwapLocations(m) => pair(&m.adt, &m.other_mrn),
            Message::LabOrderMsg(m) => patient(&m.mrn, &None, "no-patient"),
            Message::Flowsheet(m) => patient(&m.mrn, &None, "no-patient"),
            Message::ConsultRequest(m) => patient(&m.mrn, &None, "no-patient"),
            Message::AdvanceDecisionMessage(m) => patient(&m.mrn, &None, "no-patient"),
            Message::FormMsg(m) => patient(&m.mrn, &None, "no-patient"),
            Message::ResearchOptOut(m) => patient(&m.mrn, &m.nhs_number, "no-patient"),
            Message::LabMetadataMsg(_) => PartitionKey::Reference("lab-metadata"),
            Message::FlowsheetMetadata(_) => PartitionKey::Reference("flowsheet-metadata"),
            Message::ConsultMetadata(_) => PartitionKey::Reference("consult-metadata"),
            Message::LocationMetadata(_) | Message::DepartmentMetadata(_) => {
                PartitionKey::Reference("location-metadata")
            }
            Message::FormMetadataMsg(_) | Message::FormQuestionMetadataMsg(_) => {
                PartitionKey::Reference("form-metadata")
            }
            other => match (other.adt(), other.condition()) {
                (Some(adt), _) => patient(&adt.mrn, &adt.nhs_number, "no-patient"),
                (None, Some(c)) => patient(&c.mrn, &None, "no-patient"),
                (None, None) => PartitionKey::Reference("no-patient"),
            },
        }
    }

    /// Reads a message from its JSON wire form.
    pub fn from_json(bytes: &[u8]) -> Result<Message, DecodeError> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| DecodeError {
            path: String::from("."),
            message: e.to_string(),
        })?;
        Message::from_value(&value)
    }

    /// Reads a message from its JSON wire form already parsed (as a table-reader builds it).
    pub fn from_value(value: &serde_json::Value) -> Result<Message, DecodeError> {
        let class = value
            .get("@class")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| DecodeError {
                path: String::from("@class"),
                message: String::from("missing @class naming the message's class"),
            })?;
        match Message::decode_class(class, value) {
            None => Err(DecodeError {
                path: String::from("@class"),
                message: format!("unknown message class {class}"),
            }),
            Some(Ok(message)) => Ok(message),
            Some(Err(error)) => {
                // Errors inside flattened shared fields lose their path; reading the shared part
                // alone finds it.
                let shared = if class.contains(".adt.") {
                    serde_path_to_error::deserialize::<_, AdtFields>(value).err()
                } else {
                    serde_path_to_error::deserialize::<_, ConditionFields>(value).err()
                };
                let error = match shared {
                    Some(shared) if error.path().iter().next().is_none() => shared,
                    _ => error,
                };
                Err(DecodeError {
                    path: error.path().to_string(),
                    message: error.inner().to_string(),
                })
            }
        }
    }

    /// Writes the message's JSON wire form.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising these types cannot fail: every map key is a string and no Serialize impl
        // returns an error.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Why bytes are not an interchange message; names the field where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid interchange message at `{path}`: {message}")]
pub struct DecodeError {
    /// Where in the JSON the error is (`.` for the top level).
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

/// The JSON Schema of [`Message`], for consumers that do not use this crate.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Message)).unwrap_or_default()
}
