-- Advance decisions (EMAP's names and columns): DNACPR and other treatment-escalation decisions
-- in a visit, of an advance_decision_type by care code (Q4). A type is reference data named by
-- the earliest message (EMAP fixes the name at creation); a decision is keyed by its Epic number
-- and audited as in 0001.

CREATE TABLE star.advance_decision_type (
    advance_decision_type_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    care_code                text NOT NULL UNIQUE,
    name                     text,
    valid_from               timestamptz NOT NULL,
    stored_from              timestamptz NOT NULL,
    source_ids_id            text
);
COMMENT ON TABLE star.advance_decision_type IS 'A kind of advance decision (e.g. DNACPR), by Epic care code.';
COMMENT ON COLUMN star.advance_decision_type.advance_decision_type_id IS 'Surrogate key.';
COMMENT ON COLUMN star.advance_decision_type.care_code IS 'Epic''s care code (OBR-44).';
COMMENT ON COLUMN star.advance_decision_type.name IS 'Its name (OBR-4.5) as the earliest message gave it.';
COMMENT ON COLUMN star.advance_decision_type.valid_from IS 'Hospital time of the earliest message that named it.';
COMMENT ON COLUMN star.advance_decision_type.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.advance_decision_type.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.advance_decision (
    advance_decision_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advance_decision_type_id bigint NOT NULL REFERENCES star.advance_decision_type (advance_decision_type_id),
    hospital_visit_id        bigint NOT NULL REFERENCES star.hospital_visit (hospital_visit_id),
    internal_id              bigint NOT NULL UNIQUE,
    closed_due_to_discharge  boolean NOT NULL,
    cancelled                boolean NOT NULL,
    status_change_datetime   timestamptz,
    requested_datetime       timestamptz,
    valid_from               timestamptz NOT NULL,
    stored_from              timestamptz NOT NULL,
    source_ids_id            text
);
CREATE INDEX advance_decision_visit_idx ON star.advance_decision (hospital_visit_id);
COMMENT ON TABLE star.advance_decision IS 'An advance decision (e.g. DNACPR) recorded in a visit, as last reported.';
COMMENT ON COLUMN star.advance_decision.advance_decision_id IS 'Surrogate key.';
COMMENT ON COLUMN star.advance_decision.advance_decision_type_id IS 'What kind of decision.';
COMMENT ON COLUMN star.advance_decision.hospital_visit_id IS 'The visit it was recorded in.';
COMMENT ON COLUMN star.advance_decision.internal_id IS 'Epic''s number for the decision (ORC-2).';
COMMENT ON COLUMN star.advance_decision.closed_due_to_discharge IS 'Closed because the patient was discharged (Q2).';
COMMENT ON COLUMN star.advance_decision.cancelled IS 'Cancelled (ORC-1 OC, Q2).';
COMMENT ON COLUMN star.advance_decision.status_change_datetime IS 'When its status last changed (ORC-9).';
COMMENT ON COLUMN star.advance_decision.requested_datetime IS 'When it was requested (OBR-6).';
COMMENT ON COLUMN star.advance_decision.valid_from IS 'Hospital time of the newest message about it.';
COMMENT ON COLUMN star.advance_decision.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.advance_decision.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.advance_decision_audit (
    advance_decision_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advance_decision_id      bigint NOT NULL,
    advance_decision_type_id bigint NOT NULL,
    hospital_visit_id        bigint NOT NULL,
    internal_id              bigint NOT NULL,
    closed_due_to_discharge  boolean NOT NULL,
    cancelled                boolean NOT NULL,
    status_change_datetime   timestamptz,
    requested_datetime       timestamptz,
    valid_from               timestamptz NOT NULL,
    valid_until              timestamptz NOT NULL,
    stored_from              timestamptz NOT NULL,
    stored_until             timestamptz NOT NULL,
    source_ids_id            text
);
CREATE INDEX advance_decision_audit_id_idx ON star.advance_decision_audit (advance_decision_id);
COMMENT ON TABLE star.advance_decision_audit IS 'Earlier states of advance_decision rows.';
COMMENT ON COLUMN star.advance_decision_audit.advance_decision_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.advance_decision_audit.advance_decision_id IS 'The decision this was a state of.';
COMMENT ON COLUMN star.advance_decision_audit.advance_decision_type_id IS 'As advance_decision.advance_decision_type_id, then.';
COMMENT ON COLUMN star.advance_decision_audit.hospital_visit_id IS 'As advance_decision.hospital_visit_id, then.';
COMMENT ON COLUMN star.advance_decision_audit.internal_id IS 'As advance_decision.internal_id, then.';
COMMENT ON COLUMN star.advance_decision_audit.closed_due_to_discharge IS 'As advance_decision.closed_due_to_discharge, then.';
COMMENT ON COLUMN star.advance_decision_audit.cancelled IS 'As advance_decision.cancelled, then.';
COMMENT ON COLUMN star.advance_decision_audit.status_change_datetime IS 'As advance_decision.status_change_datetime, then.';
COMMENT ON COLUMN star.advance_decision_audit.requested_datetime IS 'As advance_decision.requested_datetime, then.';
COMMENT ON COLUMN star.advance_decision_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.advance_decision_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.advance_decision_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.advance_decision_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.advance_decision_audit.source_ids_id IS 'The message (IDS id) that produced this state.';
