-- Questions asked on requests and their answers (EMAP's names and columns, Q5). A question is
-- reference data shared by every patient, by its text (earliest provenance). An answer belongs
-- to one request: a consultation request, an advance decision or a lab sample, named by
-- (parent_table, parent_id) as EMAP does; it is keyed by (question, parent table, parent id) —
-- EMAP keys it by (question, parent id) alone, so a consult and a sample with the same surrogate
-- id would share answers; Ward does not. The newest message (hospital time, ties to the later
-- IDS id) gives an answer its text; a change is audited as in 0001.

CREATE TABLE star.question (
    question_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    question      text NOT NULL UNIQUE,
    valid_from    timestamptz NOT NULL,
    stored_from   timestamptz NOT NULL,
    source_ids_id text
);
COMMENT ON TABLE star.question IS 'A question asked when something is requested (e.g. "Reason for consult?"), by its text.';
COMMENT ON COLUMN star.question.question_id IS 'Surrogate key.';
COMMENT ON COLUMN star.question.question IS 'The question as the request''s form asks it.';
COMMENT ON COLUMN star.question.valid_from IS 'Hospital time of the earliest message that asked it.';
COMMENT ON COLUMN star.question.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.question.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.request_answer (
    request_answer_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    question_id       bigint NOT NULL REFERENCES star.question (question_id),
    parent_table      text NOT NULL
        CHECK (parent_table IN ('CONSULT_REQUEST', 'ADVANCE_DECISION', 'LAB_SAMPLE')),
    parent_id         bigint NOT NULL,
    answer            text,
    valid_from        timestamptz NOT NULL,
    stored_from       timestamptz NOT NULL,
    source_ids_id     text,
    UNIQUE (parent_table, parent_id, question_id)
);
COMMENT ON TABLE star.request_answer IS 'The answer given to a question on one request, as last reported.';
COMMENT ON COLUMN star.request_answer.request_answer_id IS 'Surrogate key.';
COMMENT ON COLUMN star.request_answer.question_id IS 'The question answered.';
COMMENT ON COLUMN star.request_answer.parent_table IS 'What was requested: CONSULT_REQUEST (consultation_request), ADVANCE_DECISION (advance_decision) or LAB_SAMPLE (lab_sample).';
COMMENT ON COLUMN star.request_answer.parent_id IS 'The requested row''s key in the table parent_table names.';
COMMENT ON COLUMN star.request_answer.answer IS 'The answer.';
COMMENT ON COLUMN star.request_answer.valid_from IS 'Hospital time of the newest message that gave the answer.';
COMMENT ON COLUMN star.request_answer.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.request_answer.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.request_answer_audit (
    request_answer_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_answer_id bigint NOT NULL,
    question_id       bigint NOT NULL,
    parent_table      text NOT NULL,
    parent_id         bigint NOT NULL,
    answer            text,
    valid_from        timestamptz NOT NULL,
    valid_until       timestamptz NOT NULL,
    stored_from       timestamptz NOT NULL,
    stored_until      timestamptz NOT NULL,
    source_ids_id     text
);
CREATE INDEX request_answer_audit_id_idx ON star.request_answer_audit (request_answer_id);
COMMENT ON TABLE star.request_answer_audit IS 'Earlier states of request_answer rows.';
COMMENT ON COLUMN star.request_answer_audit.request_answer_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.request_answer_audit.request_answer_id IS 'The answer this was a state of.';
COMMENT ON COLUMN star.request_answer_audit.question_id IS 'As request_answer.question_id, then.';
COMMENT ON COLUMN star.request_answer_audit.parent_table IS 'As request_answer.parent_table, then.';
COMMENT ON COLUMN star.request_answer_audit.parent_id IS 'As request_answer.parent_id, then.';
COMMENT ON COLUMN star.request_answer_audit.answer IS 'As request_answer.answer, then.';
COMMENT ON COLUMN star.request_answer_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.request_answer_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.request_answer_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.request_answer_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.request_answer_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

-- Consult metadata (Q3) renames consultation types; their earlier states are kept as every
-- other audited table's are.
CREATE TABLE star.consultation_type_audit (
    consultation_type_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consultation_type_id bigint NOT NULL,
    code                 text NOT NULL,
    name                 text,
    name_valid_from      timestamptz,
    valid_from           timestamptz NOT NULL,
    valid_until          timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    stored_until         timestamptz NOT NULL,
    source_ids_id        text
);
CREATE INDEX consultation_type_audit_id_idx ON star.consultation_type_audit (consultation_type_id);
COMMENT ON TABLE star.consultation_type_audit IS 'Earlier states of consultation_type rows (names before consult metadata renamed them).';
COMMENT ON COLUMN star.consultation_type_audit.consultation_type_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.consultation_type_audit.consultation_type_id IS 'The type this was a state of.';
COMMENT ON COLUMN star.consultation_type_audit.code IS 'As consultation_type.code, then.';
COMMENT ON COLUMN star.consultation_type_audit.name IS 'As consultation_type.name, then.';
COMMENT ON COLUMN star.consultation_type_audit.name_valid_from IS 'As consultation_type.name_valid_from, then.';
COMMENT ON COLUMN star.consultation_type_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.consultation_type_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.consultation_type_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.consultation_type_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.consultation_type_audit.source_ids_id IS 'The message (IDS id) that produced this state.';
