-- Invariant: an analyst never splits a location string. A location's department, room and bed
-- as HL7 writes them (PV1-3.1 to 3.3) are generated from its string, NULL where the string has
-- no such part or says `null` (as EMAP writes a missing part), so they are there from the
-- first ADT message, before or without location metadata, and cannot disagree with the string.
-- department_id, room_id and bed_id still name the metadata's rows once it arrives.

ALTER TABLE star.location
    ADD COLUMN department_code text GENERATED ALWAYS AS
        (nullif(nullif(split_part(location_string, '^', 1), ''), 'null')) STORED,
    ADD COLUMN room_code text GENERATED ALWAYS AS
        (nullif(nullif(split_part(location_string, '^', 2), ''), 'null')) STORED,
    ADD COLUMN bed_code text GENERATED ALWAYS AS
        (nullif(nullif(split_part(location_string, '^', 3), ''), 'null')) STORED;

CREATE INDEX location_department_code_idx ON star.location (department_code);

COMMENT ON COLUMN star.location.department_code IS 'The department (ward, clinic, unit) as HL7 writes it: the string''s first part (PV1-3.1), NULL if absent. Group by this for "patients per ward".';
COMMENT ON COLUMN star.location.room_code IS 'The room or bay as HL7 writes it: the string''s second part (PV1-3.2), NULL if absent.';
COMMENT ON COLUMN star.location.bed_code IS 'The bed as HL7 writes it: the string''s third part (PV1-3.3), NULL if absent.';
