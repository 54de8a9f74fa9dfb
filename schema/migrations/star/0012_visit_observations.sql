-- Visit observations (EMAP's names and columns): flowsheet rows such as pulse, blood pressure,
-- NEWS and weight, each of a type. A type is reference data shared by every patient: HL7 names
-- it by interface id, source tables by the EHR's own id (id_in_application); a mapping message
-- carrying both merges the two into one row (F5), re-pointing observations (audited). Like lab
-- batteries, a type's provenance is the earliest message that named it and its flags only ever
-- turn on (is_real_time, has_visit_observation), so it does not depend on the order in which
-- patients' messages reach it; changes made by metadata (which the processor applies between
-- patients' messages, never beside them) are audited in visit_observation_type_audit.
-- An observation is keyed by (visit, type, observation time) (F1) and audited as in 0001.

CREATE TABLE star.visit_observation_type (
    visit_observation_type_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    interface_id              text,
    id_in_application         text,
    source_observation_type   text NOT NULL,
    name                      text,
    display_name              text,
    description               text,
    primary_data_type         text,
    unit                      text,
    creation_datetime         timestamptz,
    standardised_code         text,
    standardised_vocabulary   text,
    is_real_time              boolean NOT NULL DEFAULT false,
    has_visit_observation     boolean NOT NULL DEFAULT false,
    name_valid_from           timestamptz,
    valid_from                timestamptz NOT NULL,
    stored_from               timestamptz NOT NULL,
    source_ids_id             text,
    CHECK (interface_id IS NOT NULL OR id_in_application IS NOT NULL)
);
CREATE UNIQUE INDEX visit_observation_type_interface_idx
    ON star.visit_observation_type (source_observation_type, interface_id)
    WHERE interface_id IS NOT NULL;
CREATE UNIQUE INDEX visit_observation_type_application_idx
    ON star.visit_observation_type (source_observation_type, id_in_application)
    WHERE id_in_application IS NOT NULL;
COMMENT ON TABLE star.visit_observation_type IS 'What a visit observation measures (a flowsheet row such as pulse or NEWS), named by HL7''s interface id, the EHR''s own id, or both once a mapping has been received.';
COMMENT ON COLUMN star.visit_observation_type.visit_observation_type_id IS 'Surrogate key.';
COMMENT ON COLUMN star.visit_observation_type.interface_id IS 'The id HL7 messages give it (OBX-3.1); null if seen only in source tables.';
COMMENT ON COLUMN star.visit_observation_type.id_in_application IS 'The EHR''s own id (Epic flowsheet row id); null until a mapping or metadata names it.';
COMMENT ON COLUMN star.visit_observation_type.source_observation_type IS 'What kind of observation: flowsheet.';
COMMENT ON COLUMN star.visit_observation_type.name IS 'Name, from metadata (the latest metadata wins).';
COMMENT ON COLUMN star.visit_observation_type.display_name IS 'Name shown to clinicians, from metadata.';
COMMENT ON COLUMN star.visit_observation_type.description IS 'Description, from metadata.';
COMMENT ON COLUMN star.visit_observation_type.primary_data_type IS 'The source''s value type name (e.g. Numeric Type), from metadata.';
COMMENT ON COLUMN star.visit_observation_type.unit IS 'Unit the source defines for it, from metadata (each observation also carries its own).';
COMMENT ON COLUMN star.visit_observation_type.creation_datetime IS 'When the source created the row, from metadata.';
COMMENT ON COLUMN star.visit_observation_type.standardised_code IS 'A standard code (e.g. LOINC) for it, when known.';
COMMENT ON COLUMN star.visit_observation_type.standardised_vocabulary IS 'The vocabulary of standardised_code.';
COMMENT ON COLUMN star.visit_observation_type.is_real_time IS 'Whether it has been seen in the live HL7 feed (turns on, never off: F6).';
COMMENT ON COLUMN star.visit_observation_type.has_visit_observation IS 'Whether any observation of this type has been received (F6).';
COMMENT ON COLUMN star.visit_observation_type.name_valid_from IS 'Hospital time of the metadata that gave the names.';
COMMENT ON COLUMN star.visit_observation_type.valid_from IS 'Hospital time of the earliest message that named it.';
COMMENT ON COLUMN star.visit_observation_type.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.visit_observation_type.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.visit_observation_type_audit (
    visit_observation_type_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_observation_type_id bigint NOT NULL,
    interface_id              text,
    id_in_application         text,
    source_observation_type   text NOT NULL,
    name                      text,
    display_name              text,
    description               text,
    primary_data_type         text,
    unit                      text,
    creation_datetime         timestamptz,
    standardised_code         text,
    standardised_vocabulary   text,
    is_real_time              boolean NOT NULL,
    has_visit_observation     boolean NOT NULL,
    name_valid_from           timestamptz,
    valid_from                timestamptz NOT NULL,
    valid_until               timestamptz NOT NULL,
    stored_from               timestamptz NOT NULL,
    stored_until              timestamptz NOT NULL,
    source_ids_id             text
);
CREATE INDEX visit_observation_type_audit_id_idx
    ON star.visit_observation_type_audit (visit_observation_type_id);
COMMENT ON TABLE star.visit_observation_type_audit IS 'Earlier states of visit_observation_type rows, changed by metadata or merged away by a mapping (F5).';
COMMENT ON COLUMN star.visit_observation_type_audit.visit_observation_type_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.visit_observation_type_audit.visit_observation_type_id IS 'The type this was a state of.';
COMMENT ON COLUMN star.visit_observation_type_audit.interface_id IS 'As visit_observation_type.interface_id, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.id_in_application IS 'As visit_observation_type.id_in_application, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.source_observation_type IS 'As visit_observation_type.source_observation_type, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.name IS 'As visit_observation_type.name, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.display_name IS 'As visit_observation_type.display_name, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.description IS 'As visit_observation_type.description, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.primary_data_type IS 'As visit_observation_type.primary_data_type, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.unit IS 'As visit_observation_type.unit, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.creation_datetime IS 'As visit_observation_type.creation_datetime, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.standardised_code IS 'As visit_observation_type.standardised_code, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.standardised_vocabulary IS 'As visit_observation_type.standardised_vocabulary, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.is_real_time IS 'As visit_observation_type.is_real_time, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.has_visit_observation IS 'As visit_observation_type.has_visit_observation, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.name_valid_from IS 'As visit_observation_type.name_valid_from, then.';
COMMENT ON COLUMN star.visit_observation_type_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.visit_observation_type_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.visit_observation_type_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.visit_observation_type_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.visit_observation_type_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

CREATE TABLE star.visit_observation (
    visit_observation_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_observation_type_id bigint NOT NULL REFERENCES star.visit_observation_type (visit_observation_type_id),
    hospital_visit_id         bigint NOT NULL REFERENCES star.hospital_visit (hospital_visit_id),
    observation_datetime      timestamptz NOT NULL,
    value_as_text             text,
    value_as_real             double precision,
    value_as_date             date,
    value_as_time             time,
    unit                      text,
    comment                   text,
    source_system             text NOT NULL,
    valid_from                timestamptz NOT NULL,
    stored_from               timestamptz NOT NULL,
    source_ids_id             text,
    UNIQUE (hospital_visit_id, visit_observation_type_id, observation_datetime)
);
CREATE INDEX visit_observation_type_idx ON star.visit_observation (visit_observation_type_id);
CREATE INDEX visit_observation_datetime_idx ON star.visit_observation (observation_datetime);
COMMENT ON TABLE star.visit_observation IS 'One observation of a visit: a flowsheet value (pulse, blood pressure, NEWS…) taken at a time, as last reported (F1, F2).';
COMMENT ON COLUMN star.visit_observation.visit_observation_id IS 'Surrogate key.';
COMMENT ON COLUMN star.visit_observation.visit_observation_type_id IS 'What was observed.';
COMMENT ON COLUMN star.visit_observation.hospital_visit_id IS 'The visit it was observed in.';
COMMENT ON COLUMN star.visit_observation.observation_datetime IS 'When it was observed (OBX-14).';
COMMENT ON COLUMN star.visit_observation.value_as_text IS 'A text value (e.g. blood pressure 140/90); null when deleted (F3) or not text.';
COMMENT ON COLUMN star.visit_observation.value_as_real IS 'A numeric value; null when deleted (F3) or not numeric.';
COMMENT ON COLUMN star.visit_observation.value_as_date IS 'A date value (e.g. date of symptom onset).';
COMMENT ON COLUMN star.visit_observation.value_as_time IS 'A time-of-day value (Ward''s addition; EMAP has none).';
COMMENT ON COLUMN star.visit_observation.unit IS 'Unit of the value (OBX-6).';
COMMENT ON COLUMN star.visit_observation.comment IS 'Comments entered with it (the NTEs after its OBX), one per line.';
COMMENT ON COLUMN star.visit_observation.source_system IS 'The system that reported it.';
COMMENT ON COLUMN star.visit_observation.valid_from IS 'Hospital time of the newest message reporting it.';
COMMENT ON COLUMN star.visit_observation.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.visit_observation.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.visit_observation_audit (
    visit_observation_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_observation_id      bigint NOT NULL,
    visit_observation_type_id bigint NOT NULL,
    hospital_visit_id         bigint NOT NULL,
    observation_datetime      timestamptz NOT NULL,
    value_as_text             text,
    value_as_real             double precision,
    value_as_date             date,
    value_as_time             time,
    unit                      text,
    comment                   text,
    source_system             text NOT NULL,
    valid_from                timestamptz NOT NULL,
    valid_until               timestamptz NOT NULL,
    stored_from               timestamptz NOT NULL,
    stored_until              timestamptz NOT NULL,
    source_ids_id             text
);
CREATE INDEX visit_observation_audit_id_idx ON star.visit_observation_audit (visit_observation_id);
COMMENT ON TABLE star.visit_observation_audit IS 'Earlier states of visit_observation rows: a corrected or deleted value''s previous state.';
COMMENT ON COLUMN star.visit_observation_audit.visit_observation_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.visit_observation_audit.visit_observation_id IS 'The observation this was a state of.';
COMMENT ON COLUMN star.visit_observation_audit.visit_observation_type_id IS 'As visit_observation.visit_observation_type_id, then.';
COMMENT ON COLUMN star.visit_observation_audit.hospital_visit_id IS 'As visit_observation.hospital_visit_id, then.';
COMMENT ON COLUMN star.visit_observation_audit.observation_datetime IS 'As visit_observation.observation_datetime, then.';
COMMENT ON COLUMN star.visit_observation_audit.value_as_text IS 'As visit_observation.value_as_text, then.';
COMMENT ON COLUMN star.visit_observation_audit.value_as_real IS 'As visit_observation.value_as_real, then.';
COMMENT ON COLUMN star.visit_observation_audit.value_as_date IS 'As visit_observation.value_as_date, then.';
COMMENT ON COLUMN star.visit_observation_audit.value_as_time IS 'As visit_observation.value_as_time, then.';
COMMENT ON COLUMN star.visit_observation_audit.unit IS 'As visit_observation.unit, then.';
COMMENT ON COLUMN star.visit_observation_audit.comment IS 'As visit_observation.comment, then.';
COMMENT ON COLUMN star.visit_observation_audit.source_system IS 'As visit_observation.source_system, then.';
COMMENT ON COLUMN star.visit_observation_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.visit_observation_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.visit_observation_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.visit_observation_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.visit_observation_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

-- What the warehouse believed about observations at a stored time, as for lab results (0009).
CREATE FUNCTION star.visit_observation_as_of(believed_at timestamptz)
RETURNS TABLE (visit_observation_id bigint, visit_observation_type_id bigint,
               hospital_visit_id bigint, observation_datetime timestamptz, value_as_text text,
               value_as_real double precision, value_as_date date, value_as_time time,
               unit text, comment text, source_system text, valid_from timestamptz,
               stored_from timestamptz, source_ids_id text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT o.visit_observation_id, o.visit_observation_type_id, o.hospital_visit_id,
           o.observation_datetime, o.value_as_text, o.value_as_real, o.value_as_date,
           o.value_as_time, o.unit, o.comment, o.source_system, o.valid_from, o.stored_from,
           o.source_ids_id
    FROM star.visit_observation o WHERE o.stored_from <= believed_at
    UNION ALL
    SELECT a.visit_observation_id, a.visit_observation_type_id, a.hospital_visit_id,
           a.observation_datetime, a.value_as_text, a.value_as_real, a.value_as_date,
           a.value_as_time, a.unit, a.comment, a.source_system, a.valid_from, a.stored_from,
           a.source_ids_id
    FROM star.visit_observation_audit a
    WHERE a.stored_from <= believed_at AND believed_at < a.stored_until;
END;
COMMENT ON FUNCTION star.visit_observation_as_of(timestamptz) IS 'Visit observations as the warehouse held them at a stored time (believed_at): a corrected value shows its earlier value before the correction was stored.';
