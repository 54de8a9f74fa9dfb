-- Location metadata (EMAP's names and columns, from source tables: LocationMetadata,
-- DepartmentMetadata): what a location string is — its department, room and bed — and the
-- states those held over time. Departments, rooms and beds are reference data: a department by
-- Epic's id, a room by (department, HL7 name), a bed by (room, HL7 name). A location string's
-- department, room and bed are set once (LM1: a message that would change one is refused);
-- a room's name never changes (LM2). States hold from their contact date until the next state
-- of the same department, room or bed, whatever order they arrive in (EMAP refuses a state
-- older than the latest; Ward places it in the chain). Room and bed states are keyed by CSN;
-- pool beds (LM3) share one state per (bed, contact date), counting their CSNs once each so a
-- replayed message counts nothing twice. A department's speciality change (LM4) is a new state
-- from its change time, the previous speciality holding before it; a department with an HL7
-- name gets its department-only location `<dept>^null^null`. When a state is closed by a later
-- one, stored_until says when the warehouse learnt that (as EMAP records it).
-- location.department_id, room_id and bed_id (0003) name these rows; they have no foreign keys
-- so a replay can load locations first (replay::deferred).

CREATE TABLE star.department (
    department_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    internal_id     text NOT NULL UNIQUE,
    hl7_string      text,
    name            text,
    name_valid_from timestamptz,
    stored_from     timestamptz NOT NULL,
    source_ids_id   text
);
COMMENT ON TABLE star.department IS 'A hospital department (ward, clinic, unit), by Epic''s department id.';
COMMENT ON COLUMN star.department.department_id IS 'Surrogate key.';
COMMENT ON COLUMN star.department.internal_id IS 'Epic''s department id.';
COMMENT ON COLUMN star.department.hl7_string IS 'The department as HL7 location strings write it (PV1-3.1).';
COMMENT ON COLUMN star.department.name IS 'Its name, from the newest department metadata.';
COMMENT ON COLUMN star.department.name_valid_from IS 'Hospital time of the metadata that gave hl7_string and name.';
COMMENT ON COLUMN star.department.stored_from IS 'When the warehouse first stored this row.';
COMMENT ON COLUMN star.department.source_ids_id IS 'The message that first named it.';

CREATE TABLE star.department_state (
    department_state_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    department_id       bigint NOT NULL REFERENCES star.department (department_id),
    status              text,
    speciality          text,
    valid_from          timestamptz NOT NULL,
    valid_until         timestamptz,
    stored_from         timestamptz NOT NULL,
    stored_until        timestamptz,
    source_ids_id       text,
    UNIQUE (department_id, valid_from)
);
COMMENT ON TABLE star.department_state IS 'A department''s record status and speciality over time: each row holds from valid_from until the next row''s.';
COMMENT ON COLUMN star.department_state.department_state_id IS 'Surrogate key.';
COMMENT ON COLUMN star.department_state.department_id IS 'The department.';
COMMENT ON COLUMN star.department_state.status IS 'Epic''s record status (ACTIVE, INACTIVE, DELETED, HIDDEN and their combinations).';
COMMENT ON COLUMN star.department_state.speciality IS 'The department''s speciality (LM4: a change starts a new state).';
COMMENT ON COLUMN star.department_state.valid_from IS 'Hospital time the state began (contact date, or the speciality change).';
COMMENT ON COLUMN star.department_state.valid_until IS 'Hospital time the next state began; null while current.';
COMMENT ON COLUMN star.department_state.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.department_state.stored_until IS 'When the warehouse learnt of the state that closed it; null while current.';
COMMENT ON COLUMN star.department_state.source_ids_id IS 'The message that gave this state.';

CREATE TABLE star.room (
    room_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    department_id bigint NOT NULL REFERENCES star.department (department_id),
    hl7_string    text NOT NULL,
    name          text,
    stored_from   timestamptz NOT NULL,
    source_ids_id text,
    UNIQUE (department_id, hl7_string)
);
COMMENT ON TABLE star.room IS 'A room (or bay) of a department, by its HL7 name.';
COMMENT ON COLUMN star.room.room_id IS 'Surrogate key.';
COMMENT ON COLUMN star.room.department_id IS 'The department it is in.';
COMMENT ON COLUMN star.room.hl7_string IS 'The room as HL7 location strings write it (PV1-3.2).';
COMMENT ON COLUMN star.room.name IS 'Its name (never changes, LM2).';
COMMENT ON COLUMN star.room.stored_from IS 'When the warehouse first stored this row.';
COMMENT ON COLUMN star.room.source_ids_id IS 'The message that first named it.';

CREATE TABLE star.room_state (
    room_state_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id       bigint NOT NULL REFERENCES star.room (room_id),
    csn           bigint NOT NULL UNIQUE,
    status        text,
    is_ready      boolean,
    valid_from    timestamptz NOT NULL,
    valid_until   timestamptz,
    stored_from   timestamptz NOT NULL,
    stored_until  timestamptz,
    source_ids_id text
);
CREATE INDEX room_state_room_idx ON star.room_state (room_id);
COMMENT ON TABLE star.room_state IS 'A room''s record over time, one row per Epic contact (CSN): each holds from valid_from until the next.';
COMMENT ON COLUMN star.room_state.room_state_id IS 'Surrogate key.';
COMMENT ON COLUMN star.room_state.room_id IS 'The room.';
COMMENT ON COLUMN star.room_state.csn IS 'Epic''s contact serial number of this record.';
COMMENT ON COLUMN star.room_state.status IS 'Epic''s record status.';
COMMENT ON COLUMN star.room_state.is_ready IS 'Whether the room was ready for use.';
COMMENT ON COLUMN star.room_state.valid_from IS 'The contact date: when this record began.';
COMMENT ON COLUMN star.room_state.valid_until IS 'When the next record began; null while current.';
COMMENT ON COLUMN star.room_state.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.room_state.stored_until IS 'When the warehouse learnt of the state that closed it; null while current.';
COMMENT ON COLUMN star.room_state.source_ids_id IS 'The message that gave this state.';

CREATE TABLE star.bed (
    bed_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id       bigint NOT NULL REFERENCES star.room (room_id),
    hl7_string    text NOT NULL,
    stored_from   timestamptz NOT NULL,
    source_ids_id text,
    UNIQUE (room_id, hl7_string)
);
COMMENT ON TABLE star.bed IS 'A bed (or a pool of beds) in a room, by its HL7 name.';
COMMENT ON COLUMN star.bed.bed_id IS 'Surrogate key.';
COMMENT ON COLUMN star.bed.room_id IS 'The room it is in.';
COMMENT ON COLUMN star.bed.hl7_string IS 'The bed as HL7 location strings write it (PV1-3.3).';
COMMENT ON COLUMN star.bed.stored_from IS 'When the warehouse first stored this row.';
COMMENT ON COLUMN star.bed.source_ids_id IS 'The message that first named it.';

CREATE TABLE star.bed_state (
    bed_state_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bed_id         bigint NOT NULL REFERENCES star.bed (bed_id),
    csn            bigint NOT NULL UNIQUE,
    is_in_census   boolean,
    is_bunk        boolean,
    status         text,
    pool_bed_count integer,
    pool_csns      bigint[],
    valid_from     timestamptz NOT NULL,
    valid_until    timestamptz,
    stored_from    timestamptz NOT NULL,
    stored_until   timestamptz,
    source_ids_id  text
);
CREATE INDEX bed_state_bed_idx ON star.bed_state (bed_id);
COMMENT ON TABLE star.bed_state IS 'A bed''s record over time, one row per Epic contact (CSN), or per contact date for a pool bed (LM3): each holds from valid_from until the next.';
COMMENT ON COLUMN star.bed_state.bed_state_id IS 'Surrogate key.';
COMMENT ON COLUMN star.bed_state.bed_id IS 'The bed.';
COMMENT ON COLUMN star.bed_state.csn IS 'Epic''s contact serial number of this record (a pool bed''s smallest).';
COMMENT ON COLUMN star.bed_state.is_in_census IS 'Whether the bed counts in the bed census.';
COMMENT ON COLUMN star.bed_state.is_bunk IS 'Whether it is a bunk bed.';
COMMENT ON COLUMN star.bed_state.status IS 'Epic''s record status.';
COMMENT ON COLUMN star.bed_state.pool_bed_count IS 'For a pool bed, how many beds the pool held at this contact date (LM3); null for a physical bed.';
COMMENT ON COLUMN star.bed_state.pool_csns IS 'For a pool bed, the CSNs counted in pool_bed_count (each once, so a repeated message counts nothing twice).';
COMMENT ON COLUMN star.bed_state.valid_from IS 'The contact date: when this record began.';
COMMENT ON COLUMN star.bed_state.valid_until IS 'When the next record began; null while current.';
COMMENT ON COLUMN star.bed_state.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.bed_state.stored_until IS 'When the warehouse learnt of the state that closed it; null while current.';
COMMENT ON COLUMN star.bed_state.source_ids_id IS 'The message that gave this state.';

CREATE TABLE star.bed_facility (
    bed_facility_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bed_state_id    bigint NOT NULL REFERENCES star.bed_state (bed_state_id),
    type            text NOT NULL,
    UNIQUE (bed_state_id, type)
);
COMMENT ON TABLE star.bed_facility IS 'What a bed offers in one of its states (e.g. Cot).';
COMMENT ON COLUMN star.bed_facility.bed_facility_id IS 'Surrogate key.';
COMMENT ON COLUMN star.bed_facility.bed_state_id IS 'The bed state.';
COMMENT ON COLUMN star.bed_facility.type IS 'The facility.';
