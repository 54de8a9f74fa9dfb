//! The ADT family: admissions, transfers, discharges, registrations, updates, cancellations,
//! pending transfers, swaps, deletions, merges and identifier changes, plus the implied ADT
//! context that lab and other messages carry.
//!
//! Every ADT class shares [`AdtFields`] (who, which visit, where, and the demographics the message
//! told us). Field names and Java class names are EMAP's, so EMAP's JSON reads and writes as is.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::value::Iv;
use crate::wire::string_or_number;

/// HL7 table 0004 patient class, with Epic's extra codes (EMAP's `PatientClass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatientClass {
    /// HL7 `E`.
    Emergency,
    /// HL7 `I`.
    Inpatient,
    /// HL7 `O`.
    Outpatient,
    /// HL7 `P`.
    PreAdmit,
    /// Epic `DAY CASE`.
    DayCase,
    /// Epic `SURG ADMIT`.
    SurgicalAdmission,
    /// HL7 `B` (obstetrics) as Epic uses it for newborns.
    NewBorn,
    /// HL7 `N`.
    NotApplicable,
}

impl PatientClass {
    /// The class an HL7 PV1-2 code stands for, if it is one EMAP knows.
    pub fn from_hl7(code: &str) -> Option<PatientClass> {
        Some(match code {
            "E" => PatientClass::Emergency,
            "I" => PatientClass::Inpatient,
            "O" => PatientClass::Outpatient,
            "P" => PatientClass::PreAdmit,
            "DAY CASE" => PatientClass::DayCase,
            "SURG ADMIT" => PatientClass::SurgicalAdmission,
            "B" => PatientClass::NewBorn,
            "N" => PatientClass::NotApplicable,
            _ => return None,
        })
    }

    /// EMAP's name for the class (as serialized, and as `hospital_visit.patient_class` holds it).
    pub fn as_str(self) -> &'static str {
        match self {
            PatientClass::Emergency => "EMERGENCY",
            PatientClass::Inpatient => "INPATIENT",
            PatientClass::Outpatient => "OUTPATIENT",
            PatientClass::PreAdmit => "PRE_ADMIT",
            PatientClass::DayCase => "DAY_CASE",
            PatientClass::SurgicalAdmission => "SURGICAL_ADMISSION",
            PatientClass::NewBorn => "NEW_BORN",
            PatientClass::NotApplicable => "NOT_APPLICABLE",
        }
    }
}

/// What a pending event is pending (EMAP's `PendingType`; HL7 only produces transfers, so a
/// missing value means a transfer, as in EMAP where the classes fix it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PendingType {
    /// A pending admission.
    Admit,
    /// A pending transfer (A15/A26).
    #[default]
    Transfer,
    /// A pending discharge.
    Discharge,
}

/// Fields every ADT message has (EMAP's abstract `AdtMessage` and `EmapOperationMessage`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AdtFields {
    /// Id of the message in its source (the IDS id for HL7).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub source_message_id: Option<String>,
    /// Source system (MSH-3 for HL7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_system: Option<String>,
    /// When the event was recorded (EVN-2, else MSH-7); the valid-from when EVN-6 is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_date_time: Option<DateTime<Utc>>,
    /// EVN-4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_reason_code: Option<String>,
    /// EVN-6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_occurred_date_time: Option<DateTime<Utc>>,
    /// The patient's MRN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrn: Option<String>,
    /// NHS number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nhs_number: Option<String>,
    /// Hospital visit (encounter) number, PV1-19.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit_number: Option<String>,
    /// PV2-38.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub mode_of_arrival: Iv<String>,
    /// PID-22.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub ethnic_group: Iv<String>,
    /// PV1-3 as `dept^room^bed`.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub full_location_string: Iv<String>,
    /// PV1-6 as `dept^room^bed`.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub previous_location_string: Iv<String>,
    /// PID-7 as a date.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_birth_date: Iv<NaiveDate>,
    /// PID-7 as an instant.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_birth_date_time: Iv<DateTime<Utc>>,
    /// PV1-2.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_class: Iv<PatientClass>,
    /// PID-29.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_death_date_time: Iv<DateTime<Utc>>,
    /// From PID-30.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_is_alive: Iv<bool>,
    /// PID-5.1.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_family_name: Iv<String>,
    /// PID-5.2.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_given_name: Iv<String>,
    /// PID-5.3.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_middle_name: Iv<String>,
    /// PID-17.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_religion: Iv<String>,
    /// PID-8.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_sex: Iv<String>,
    /// PID-5.5.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_title: Iv<String>,
    /// PID-11.5.
    #[serde(skip_serializing_if = "Iv::is_unknown")]
    pub patient_zip_or_postal_code: Iv<String>,
}

/// Declares an ADT message: the shared fields flattened, plus its own.
macro_rules! adt_message {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty $(= $skip:literal)?),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, rename_all = "camelCase")]
        pub struct $name {
            /// The fields every ADT message has.
            #[serde(flatten)]
            pub adt: AdtFields,
            $(
                $(#[$fdoc])*
                $(#[serde(skip_serializing_if = $skip)])?
                pub $field: $ty,
            )*
        }
    };
}

adt_message!(
    /// A01: the patient was admitted.
    AdmitPatient {
        /// PV1-44.
        admission_date_time: Iv<DateTime<Utc>> = "Iv::is_unknown",
    }
);
adt_message!(
    /// A02, A06, A07: the patient moved (or changed class).
    TransferPatient {
        /// PV1-44.
        admission_date_time: Iv<DateTime<Utc>> = "Iv::is_unknown",
    }
);
adt_message!(
    /// A03: the patient was discharged.
    DischargePatient {
        /// PV1-44.
        admission_date_time: Iv<DateTime<Utc>> = "Iv::is_unknown",
        /// PV1-45.
        discharge_date_time: Option<DateTime<Utc>> = "Option::is_none",
        /// PV1-36.
        discharge_disposition: Option<String> = "Option::is_none",
        /// PV1-37.
        discharge_location: Option<String> = "Option::is_none",
    }
);
adt_message!(
    /// A04: the patient was registered (e.g. arrived in ED or clinic).
    RegisterPatient {
        /// When the patient presented.
        presentation_date_time: Iv<DateTime<Utc>> = "Iv::is_unknown",
    }
);
adt_message!(
    /// A08, A28, A31: patient or visit information changed.
    UpdatePatientInfo {}
);
adt_message!(
    /// Context implied by a non-ADT message (lab order/result, A05 infection, …).
    ImpliedAdtMessage {}
);
adt_message!(
    /// A11: an admission was cancelled.
    CancelAdmitPatient {
        /// When the cancelled event had happened.
        cancelled_date_time: Option<DateTime<Utc>> = "Option::is_none",
    }
);
adt_message!(
    /// A12: a transfer was cancelled.
    CancelTransferPatient {
        /// When the cancelled transfer had happened.
        cancelled_date_time: Option<DateTime<Utc>> = "Option::is_none",
        /// Where the cancelled transfer had gone.
        cancelled_location: Option<String> = "Option::is_none",
    }
);
adt_message!(
    /// A13: a discharge was cancelled.
    CancelDischargePatient {
        /// When the cancelled discharge had happened.
        cancelled_date_time: Option<DateTime<Utc>> = "Option::is_none",
    }
);
adt_message!(
    /// A15: a transfer is pending.
    PendingTransfer {
        /// Always a transfer from HL7.
        pending_event_type: PendingType,
        /// PV2-1, where the patient is to go.
        pending_destination: Iv<String> = "Iv::is_unknown",
    }
);
adt_message!(
    /// A26: a pending transfer was cancelled.
    CancelPendingTransfer {
        /// Always a transfer from HL7.
        pending_event_type: PendingType,
        /// PV2-1.
        pending_destination: Iv<String> = "Iv::is_unknown",
        /// When the cancelled pending transfer had been requested.
        cancelled_date_time: Option<DateTime<Utc>> = "Option::is_none",
    }
);
adt_message!(
    /// A17: two patients swapped locations.
    SwapLocations {
        /// The other patient's MRN.
        other_mrn: Option<String> = "Option::is_none",
        /// The other patient's NHS number.
        other_nhs_number: Option<String> = "Option::is_none",
        /// The other patient's visit number.
        other_visit_number: Option<String> = "Option::is_none",
        /// The other patient's new location.
        other_full_location_string: Iv<String> = "Iv::is_unknown",
    }
);
adt_message!(
    /// A29: a person's information is to be deleted.
    DeletePersonInformation {}
);
adt_message!(
    /// A40: two patient records were merged; `adt.mrn` survives.
    MergePatient {
        /// The retired MRN.
        previous_mrn: Option<String> = "Option::is_none",
        /// The retired NHS number.
        previous_nhs_number: Option<String> = "Option::is_none",
    }
);
adt_message!(
    /// A45: a visit moved from one patient to another.
    MoveVisitInformation {
        /// The MRN the visit belonged to.
        previous_mrn: Option<String> = "Option::is_none",
        /// The NHS number the visit belonged to.
        previous_nhs_number: Option<String> = "Option::is_none",
        /// The visit's previous number.
        previous_visit_number: Option<String> = "Option::is_none",
    }
);
adt_message!(
    /// A47: a patient's identifier changed.
    ChangePatientIdentifiers {
        /// The MRN before the change.
        previous_mrn: Option<String> = "Option::is_none",
        /// The NHS number before the change.
        previous_nhs_number: Option<String> = "Option::is_none",
    }
);
