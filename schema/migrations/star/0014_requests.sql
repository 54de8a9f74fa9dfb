-- Consultation requests and advance decisions (EMAP's names and columns), with the questions
-- asked on them and their answers. Types and questions are reference data shared by every
-- patient and a function of the set of messages naming them (earliest provenance; a type's
-- name the latest metadata's, else the earliest message's). A request or decision is keyed by
-- its Epic number (Q1, Q4) and an answer by (question, the request it answers) (Q5); each is
-- audited as in 0001.

CREATE TABLE star.consultation_type (
    consultation_type_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                 text NOT NULL UNIQUE,
    name                 text,
    name_valid_from      timestamptz,
    valid_from           timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    source_ids_id        text
);
COMMENT ON TABLE star.consultation_type IS 'A kind of consultation that can be requested (e.g. CON255, frailty).';
COMMENT ON COLUMN star.consultation_type.consultation_type_id IS 'Surrogate key.';
COMMENT ON COLUMN star.consultation_type.code IS 'Epic''s code for it (OBR-44).';
COMMENT ON COLUMN star.consultation_type.name IS 'Its name, from consult metadata (the latest wins, Q3).';
COMMENT ON COLUMN star.consultation_type.name_valid_from IS 'Hospital time of the metadata that gave name.';
COMMENT ON COLUMN star.consultation_type.valid_from IS 'Hospital time of the earliest message that named it.';
COMMENT ON COLUMN star.consultation_type.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.consultation_type.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.consultation_request (
    consultation_request_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consultation_type_id    bigint NOT NULL REFERENCES star.consultation_type (consultation_type_id),
    hospital_visit_id       bigint NOT NULL REFERENCES star.hospital_visit (hospital_visit_id),
    internal_id             bigint NOT NULL UNIQUE,
    closed_due_to_discharge boolean NOT NULL,
    cancelled               boolean NOT NULL,
    comments                text,
    status_change_datetime  timestamptz,
    scheduled_datetime      timestamptz,
    valid_from              timestamptz NOT NULL,
    stored_from             timestamptz NOT NULL,
    source_ids_id           text
);
CREATE INDEX consultation_request_visit_idx ON star.consultation_request (hospital_visit_id);
COMMENT ON TABLE star.consultation_request IS 'A request for a consultation (e.g. a frailty review) in a visit, as last reported.';
COMMENT ON COLUMN star.consultation_request.consultation_request_id IS 'Surrogate key.';
COMMENT ON COLUMN star.consultation_request.consultation_type_id IS 'What kind of consultation.';
COMMENT ON COLUMN star.consultation_request.hospital_visit_id IS 'The visit it was requested in.';
COMMENT ON COLUMN star.consultation_request.internal_id IS 'Epic''s number for the request (ORC-2).';
COMMENT ON COLUMN star.consultation_request.closed_due_to_discharge IS 'Closed because the patient was discharged (Q2).';
COMMENT ON COLUMN star.consultation_request.cancelled IS 'Cancelled (ORC-1 OC, Q2).';
COMMENT ON COLUMN star.consultation_request.comments IS 'Notes entered with the request, one per line (its questions are in request_answer).';
COMMENT ON COLUMN star.consultation_request.status_change_datetime IS 'When its status last changed (ORC-9); moves only when something else changed (Q1).';
COMMENT ON COLUMN star.consultation_request.scheduled_datetime IS 'When it is scheduled for.';
COMMENT ON COLUMN star.consultation_request.valid_from IS 'Hospital time of the newest message about it.';
COMMENT ON COLUMN star.consultation_request.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.consultation_request.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.consultation_request_audit (
    consultation_request_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consultation_request_id bigint NOT NULL,
    consultation_type_id    bigint NOT NULL,
    hospital_visit_id       bigint NOT NULL,
    internal_id             bigint NOT NULL,
    closed_due_to_discharge boolean NOT NULL,
    cancelled               boolean NOT NULL,
    comments                text,
    status_change_datetime  timestamptz,
    scheduled_datetime      timestamptz,
    valid_from              timestamptz NOT NULL,
    valid_until             timestamptz NOT NULL,
    stored_from             timestamptz NOT NULL,
    stored_until            timestamptz NOT NULL,
    source_ids_id           text
);
CREATE INDEX consultation_request_audit_id_idx
    ON star.consultation_request_audit (consultation_request_id);
COMMENT ON TABLE star.consultation_request_audit IS 'Earlier states of consultation_request rows.';
COMMENT ON COLUMN star.consultation_request_audit.consultation_request_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.consultation_request_audit.consultation_request_id IS 'The request this was a state of.';
COMMENT ON COLUMN star.consultation_request_audit.consultation_type_id IS 'As consultation_request.consultation_type_id, then.';
COMMENT ON COLUMN star.consultation_request_audit.hospital_visit_id IS 'As consultation_request.hospital_visit_id, then.';
COMMENT ON COLUMN star.consultation_request_audit.internal_id IS 'As consultation_request.internal_id, then.';
COMMENT ON COLUMN star.consultation_request_audit.closed_due_to_discharge IS 'As consultation_request.closed_due_to_discharge, then.';
COMMENT ON COLUMN star.consultation_request_audit.cancelled IS 'As consultation_request.cancelled, then.';
COMMENT ON COLUMN star.consultation_request_audit.comments IS 'As consultation_request.comments, then.';
COMMENT ON COLUMN star.consultation_request_audit.status_change_datetime IS 'As consultation_request.status_change_datetime, then.';
COMMENT ON COLUMN star.consultation_request_audit.scheduled_datetime IS 'As consultation_request.scheduled_datetime, then.';
COMMENT ON COLUMN star.consultation_request_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.consultation_request_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.consultation_request_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.consultation_request_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.consultation_request_audit.source_ids_id IS 'The message (IDS id) that produced this state.';
