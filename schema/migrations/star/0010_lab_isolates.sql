-- Microbiology (LB11): the organisms a culture grew (lab_isolate, one per result and the lab's
-- isolate id) and how each responded to antibiotics (lab_sensitivity, one per isolate and
-- agent), each with its _audit twin as the other per-patient tables have.

CREATE TABLE star.lab_isolate (
    lab_isolate_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_result_id        bigint NOT NULL REFERENCES star.lab_result (lab_result_id),
    lab_internal_id      text NOT NULL,
    isolate_code         text,
    isolate_name         text,
    culture_type         text,
    quantity             text,
    clinical_information text,
    valid_from           timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    source_ids_id        text,
    UNIQUE (lab_result_id, lab_internal_id)
);
COMMENT ON TABLE star.lab_isolate IS 'An organism grown by a culture: one per isolate result (mime_type LAB_ISOLATE) and isolate id; its latest state (earlier ones in lab_isolate_audit).';
COMMENT ON COLUMN star.lab_isolate.lab_isolate_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_isolate.lab_result_id IS 'The isolate result (lab_result.mime_type = LAB_ISOLATE) it belongs to.';
COMMENT ON COLUMN star.lab_isolate.lab_internal_id IS 'The lab''s id of the isolate within its culture (OBX-4 sub-id), stable while the organism''s name may change.';
COMMENT ON COLUMN star.lab_isolate.isolate_code IS 'The organism''s code, e.g. STAAUR.';
COMMENT ON COLUMN star.lab_isolate.isolate_name IS 'The organism''s name, e.g. Staphylococcus aureus.';
COMMENT ON COLUMN star.lab_isolate.culture_type IS 'The kind of culture that grew it, when the lab says (e.g. Blood).';
COMMENT ON COLUMN star.lab_isolate.quantity IS 'How much grew, as the lab writes it (e.g. Heavy growth of, 10,000 - 100,000 CFU/mL).';
COMMENT ON COLUMN star.lab_isolate.clinical_information IS 'Clinical notes the lab gives with the isolate''s sensitivities.';
COMMENT ON COLUMN star.lab_isolate.valid_from IS 'Hospital time of the message that last changed this row.';
COMMENT ON COLUMN star.lab_isolate.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_isolate.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.lab_isolate_audit (
    lab_isolate_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_isolate_id       bigint NOT NULL,
    lab_result_id        bigint NOT NULL,
    lab_internal_id      text NOT NULL,
    isolate_code         text,
    isolate_name         text,
    culture_type         text,
    quantity             text,
    clinical_information text,
    valid_from           timestamptz NOT NULL,
    valid_until          timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    stored_until         timestamptz NOT NULL,
    source_ids_id        text
);
CREATE INDEX lab_isolate_audit_id_idx ON star.lab_isolate_audit (lab_isolate_id);
COMMENT ON TABLE star.lab_isolate_audit IS 'Previous states of lab_isolate rows.';
COMMENT ON COLUMN star.lab_isolate_audit.lab_isolate_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_isolate_audit.lab_isolate_id IS 'The lab_isolate row this was a state of.';
COMMENT ON COLUMN star.lab_isolate_audit.lab_result_id IS 'As in lab_isolate.';
COMMENT ON COLUMN star.lab_isolate_audit.lab_internal_id IS 'As in lab_isolate.';
COMMENT ON COLUMN star.lab_isolate_audit.isolate_code IS 'As in lab_isolate.';
COMMENT ON COLUMN star.lab_isolate_audit.isolate_name IS 'As in lab_isolate.';
COMMENT ON COLUMN star.lab_isolate_audit.culture_type IS 'As in lab_isolate.';
COMMENT ON COLUMN star.lab_isolate_audit.quantity IS 'As in lab_isolate.';
COMMENT ON COLUMN star.lab_isolate_audit.clinical_information IS 'As in lab_isolate.';
COMMENT ON COLUMN star.lab_isolate_audit.valid_from IS 'Hospital time from which this state held.';
COMMENT ON COLUMN star.lab_isolate_audit.valid_until IS 'Hospital time of the message that replaced it.';
COMMENT ON COLUMN star.lab_isolate_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_isolate_audit.stored_until IS 'When the warehouse replaced it.';
COMMENT ON COLUMN star.lab_isolate_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

CREATE TABLE star.lab_sensitivity (
    lab_sensitivity_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_isolate_id       bigint NOT NULL REFERENCES star.lab_isolate (lab_isolate_id),
    agent                text NOT NULL,
    sensitivity          text,
    reporting_datetime   timestamptz,
    valid_from           timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    source_ids_id        text,
    UNIQUE (lab_isolate_id, agent)
);
COMMENT ON TABLE star.lab_sensitivity IS 'How an isolate responded to one antibiotic; its latest state (earlier ones in lab_sensitivity_audit).';
COMMENT ON COLUMN star.lab_sensitivity.lab_sensitivity_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_sensitivity.lab_isolate_id IS 'The isolate tested.';
COMMENT ON COLUMN star.lab_sensitivity.agent IS 'The antibiotic''s code in the lab system, e.g. VM (amoxicillin).';
COMMENT ON COLUMN star.lab_sensitivity.sensitivity IS 'S (sensitive), R (resistant) or I (intermediate), as the lab flags it (OBX-8).';
COMMENT ON COLUMN star.lab_sensitivity.reporting_datetime IS 'When the lab reported this sensitivity value: it moves only when the value changes (an older message with the same value moves it earlier).';
COMMENT ON COLUMN star.lab_sensitivity.valid_from IS 'Hospital time of the message that last changed this row.';
COMMENT ON COLUMN star.lab_sensitivity.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_sensitivity.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.lab_sensitivity_audit (
    lab_sensitivity_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_sensitivity_id   bigint NOT NULL,
    lab_isolate_id       bigint NOT NULL,
    agent                text NOT NULL,
    sensitivity          text,
    reporting_datetime   timestamptz,
    valid_from           timestamptz NOT NULL,
    valid_until          timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    stored_until         timestamptz NOT NULL,
    source_ids_id        text
);
CREATE INDEX lab_sensitivity_audit_id_idx ON star.lab_sensitivity_audit (lab_sensitivity_id);
COMMENT ON TABLE star.lab_sensitivity_audit IS 'Previous states of lab_sensitivity rows.';
COMMENT ON COLUMN star.lab_sensitivity_audit.lab_sensitivity_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_sensitivity_audit.lab_sensitivity_id IS 'The lab_sensitivity row this was a state of.';
COMMENT ON COLUMN star.lab_sensitivity_audit.lab_isolate_id IS 'As in lab_sensitivity.';
COMMENT ON COLUMN star.lab_sensitivity_audit.agent IS 'As in lab_sensitivity.';
COMMENT ON COLUMN star.lab_sensitivity_audit.sensitivity IS 'As in lab_sensitivity.';
COMMENT ON COLUMN star.lab_sensitivity_audit.reporting_datetime IS 'As in lab_sensitivity.';
COMMENT ON COLUMN star.lab_sensitivity_audit.valid_from IS 'Hospital time from which this state held.';
COMMENT ON COLUMN star.lab_sensitivity_audit.valid_until IS 'Hospital time of the message that replaced it.';
COMMENT ON COLUMN star.lab_sensitivity_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_sensitivity_audit.stored_until IS 'When the warehouse replaced it.';
COMMENT ON COLUMN star.lab_sensitivity_audit.source_ids_id IS 'The message (IDS id) that produced this state.';
