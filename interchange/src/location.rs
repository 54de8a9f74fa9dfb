//! Location and department metadata from source tables: what a `dept^room^bed` string is.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::wire::{class_tag, record};

/// Epic record states (EMAP's `EpicRecordStatus`, by Java constant name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EpicRecordStatus {
    /// Active.
    Active,
    /// Inactive.
    Inactive,
    /// Deleted.
    Deleted,
    /// Inactive and deleted.
    InactiveAndDeleted,
    /// Hidden.
    Hidden,
    /// Inactive and hidden.
    InactiveAndHidden,
    /// Deleted and hidden.
    DeletedAndHidden,
    /// Inactive, deleted and hidden.
    InactiveDeletedAndHidden,
}

class_tag!(
    /// `@class` of [`RoomMetadata`].
    RoomMetadataTag = "uk.ac.ucl.rits.inform.interchange.location.RoomMetadata"
);
class_tag!(
    /// `@class` of [`BedMetadata`].
    BedMetadataTag = "uk.ac.ucl.rits.inform.interchange.location.BedMetadata"
);

record!(
    /// What one location string (`dept^room^bed`) is, with its room and bed records.
    LocationMetadata {
        /// Id of the message in its source.
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// The location as HL7 writes it.
        hl7_string: Option<String> = "Option::is_none",
        /// Epic's department id.
        department_id: Option<String> = "Option::is_none",
        /// The room record.
        room_metadata: Option<RoomMetadata> = "Option::is_none",
        /// The bed record.
        bed_metadata: Option<BedMetadata> = "Option::is_none",
    }
);

record!(
    /// A room's record.
    RoomMetadata {
        /// Always `…location.RoomMetadata`.
        #[serde(rename = "@class")]
        class: RoomMetadataTag,
        /// Epic's room contact serial number.
        room_csn: Option<i64> = "Option::is_none",
        /// Whether the room is ready.
        is_room_ready: Option<bool> = "Option::is_none",
        /// When the record was valid from.
        room_contact_date: Option<DateTime<Utc>> = "Option::is_none",
        /// Record state.
        room_record_state: Option<EpicRecordStatus> = "Option::is_none",
        /// The room as HL7 writes it.
        room_hl7: Option<String> = "Option::is_none",
        /// Name.
        room_name: Option<String> = "Option::is_none",
    }
);

record!(
    /// A bed's record.
    BedMetadata {
        /// Always `…location.BedMetadata`.
        #[serde(rename = "@class")]
        class: BedMetadataTag,
        /// Epic's bed contact serial number.
        bed_csn: Option<i64> = "Option::is_none",
        /// The bed as HL7 writes it.
        bed_hl7: Option<String> = "Option::is_none",
        /// When the record was valid from.
        bed_contact_date: Option<DateTime<Utc>> = "Option::is_none",
        /// Record state.
        bed_record_state: Option<EpicRecordStatus> = "Option::is_none",
        /// A pool bed (not a physical bed).
        is_pool_bed: Option<bool> = "Option::is_none",
        /// A bunk bed.
        is_bunk_bed: Option<bool> = "Option::is_none",
        /// Counted in the bed census.
        bed_is_in_census: Option<bool> = "Option::is_none",
        /// The facility.
        bed_facility: Option<String> = "Option::is_none",
    }
);

record!(
    /// A department's record.
    DepartmentMetadata {
        /// Id of the message in its source.
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// The department as HL7 writes it.
        department_hl7: Option<String> = "Option::is_none",
        /// Record state.
        department_record_status: Option<EpicRecordStatus> = "Option::is_none",
        /// When the record was valid from.
        department_contact_date: Option<DateTime<Utc>> = "Option::is_none",
        /// Name.
        department_name: Option<String> = "Option::is_none",
        /// Epic's department id.
        department_id: Option<String> = "Option::is_none",
        /// Speciality.
        department_speciality: Option<String> = "Option::is_none",
        /// When the speciality changed.
        speciality_update: Option<DateTime<Utc>> = "Option::is_none",
        /// The speciality before that change.
        previous_department_speciality: Option<String> = "Option::is_none",
        /// The later of the contact date and speciality change: the message's valid-from.
        combined_update: Option<DateTime<Utc>> = "Option::is_none",
    }
);
