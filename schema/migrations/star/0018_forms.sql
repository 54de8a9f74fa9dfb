-- Forms (EMAP's names and columns, from source tables: FormMsg, FormMetadataMsg,
-- FormQuestionMetadataMsg). A form definition and a question are reference data by their source
-- ids, created bare by the first form naming them and named by metadata (the latest metadata
-- wins, ties by name, so any arrival order gives the same row; the processor applies metadata
-- between patients' messages). A filled-in form belongs to a patient (and a visit when named, C9)
-- and is keyed by its instance id; an answer is keyed by (form, question): the newest answer by
-- filed time (ties to the later message) gives all its values (an answer is reported whole), an
-- older one changes nothing. A29 deletes a patient's forms and answers (X2, X3), audited as in 0001.

CREATE TABLE star.form_definition (
    form_definition_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    internal_id text NOT NULL UNIQUE,
    name text,
    patient_friendly_name text,
    name_valid_from timestamptz,
    valid_from timestamptz NOT NULL,
    stored_from timestamptz NOT NULL,
    source_ids_id text
);
COMMENT ON TABLE star.form_definition IS 'A kind of form (an Epic Smart Data Element form), by its source id.';
COMMENT ON COLUMN star.form_definition.form_definition_id IS 'Surrogate key.';
COMMENT ON COLUMN star.form_definition.internal_id IS 'The source''s id for the form (FormMsg.formId, FormMetadataMsg.sourceMessageId).';
COMMENT ON COLUMN star.form_definition.name IS 'Its name, from form metadata (the latest wins).';
COMMENT ON COLUMN star.form_definition.patient_friendly_name IS 'Its name as patients see it, from form metadata.';
COMMENT ON COLUMN star.form_definition.name_valid_from IS 'Hospital time of the metadata that gave the names.';
COMMENT ON COLUMN star.form_definition.valid_from IS 'Hospital time of the earliest message that named it.';
COMMENT ON COLUMN star.form_definition.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.form_definition.source_ids_id IS 'The message (IDS id, or source id) of valid_from.';

CREATE TABLE star.form_definition_audit (
    form_definition_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_definition_id bigint NOT NULL,
    internal_id text NOT NULL,
    name text,
    patient_friendly_name text,
    name_valid_from timestamptz,
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    stored_from timestamptz NOT NULL,
    stored_until timestamptz NOT NULL,
    source_ids_id text
);
CREATE INDEX form_definition_audit_id_idx ON star.form_definition_audit (form_definition_id);
COMMENT ON TABLE star.form_definition_audit IS 'Earlier states of form_definition rows.';
COMMENT ON COLUMN star.form_definition_audit.form_definition_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.form_definition_audit.form_definition_id IS 'The row this was a state of.';
COMMENT ON COLUMN star.form_definition_audit.internal_id IS 'As form_definition.internal_id, then.';
COMMENT ON COLUMN star.form_definition_audit.name IS 'As form_definition.name, then.';
COMMENT ON COLUMN star.form_definition_audit.patient_friendly_name IS 'As form_definition.patient_friendly_name, then.';
COMMENT ON COLUMN star.form_definition_audit.name_valid_from IS 'As form_definition.name_valid_from, then.';
COMMENT ON COLUMN star.form_definition_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.form_definition_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.form_definition_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.form_definition_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.form_definition_audit.source_ids_id IS 'The message that produced this state.';

CREATE TABLE star.form_question (
    form_question_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    internal_id text NOT NULL UNIQUE,
    concept_name text,
    concept_abbrev_name text,
    description text,
    internal_value_type text,
    name_valid_from timestamptz,
    valid_from timestamptz NOT NULL,
    stored_from timestamptz NOT NULL,
    source_ids_id text
);
COMMENT ON TABLE star.form_question IS 'A question forms ask (an Epic Smart Data Element), by its source id.';
COMMENT ON COLUMN star.form_question.form_question_id IS 'Surrogate key.';
COMMENT ON COLUMN star.form_question.internal_id IS 'The source''s id for the question (e.g. UCLH#1205).';
COMMENT ON COLUMN star.form_question.concept_name IS 'Its name, from question metadata (the latest wins).';
COMMENT ON COLUMN star.form_question.concept_abbrev_name IS 'Its abbreviated name, from question metadata.';
COMMENT ON COLUMN star.form_question.description IS 'Its description, from question metadata.';
COMMENT ON COLUMN star.form_question.internal_value_type IS 'The source''s value type for answers, when known.';
COMMENT ON COLUMN star.form_question.name_valid_from IS 'Hospital time of the metadata that gave the names.';
COMMENT ON COLUMN star.form_question.valid_from IS 'Hospital time of the earliest message that named it.';
COMMENT ON COLUMN star.form_question.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.form_question.source_ids_id IS 'The message (IDS id, or source id) of valid_from.';

CREATE TABLE star.form_question_audit (
    form_question_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_question_id bigint NOT NULL,
    internal_id text NOT NULL,
    concept_name text,
    concept_abbrev_name text,
    description text,
    internal_value_type text,
    name_valid_from timestamptz,
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    stored_from timestamptz NOT NULL,
    stored_until timestamptz NOT NULL,
    source_ids_id text
);
CREATE INDEX form_question_audit_id_idx ON star.form_question_audit (form_question_id);
COMMENT ON TABLE star.form_question_audit IS 'Earlier states of form_question rows.';
COMMENT ON COLUMN star.form_question_audit.form_question_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.form_question_audit.form_question_id IS 'The row this was a state of.';
COMMENT ON COLUMN star.form_question_audit.internal_id IS 'As form_question.internal_id, then.';
COMMENT ON COLUMN star.form_question_audit.concept_name IS 'As form_question.concept_name, then.';
COMMENT ON COLUMN star.form_question_audit.concept_abbrev_name IS 'As form_question.concept_abbrev_name, then.';
COMMENT ON COLUMN star.form_question_audit.description IS 'As form_question.description, then.';
COMMENT ON COLUMN star.form_question_audit.internal_value_type IS 'As form_question.internal_value_type, then.';
COMMENT ON COLUMN star.form_question_audit.name_valid_from IS 'As form_question.name_valid_from, then.';
COMMENT ON COLUMN star.form_question_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.form_question_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.form_question_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.form_question_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.form_question_audit.source_ids_id IS 'The message that produced this state.';

CREATE TABLE star.form (
    form_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_definition_id bigint NOT NULL REFERENCES star.form_definition (form_definition_id),
    mrn_id bigint NOT NULL REFERENCES star.mrn (mrn_id),
    hospital_visit_id bigint REFERENCES star.hospital_visit (hospital_visit_id),
    internal_id text NOT NULL UNIQUE,
    note_id bigint,
    first_filed_datetime timestamptz,
    valid_from timestamptz NOT NULL,
    stored_from timestamptz NOT NULL,
    source_ids_id text
);
CREATE INDEX form_mrn_idx ON star.form (mrn_id);
CREATE INDEX form_visit_idx ON star.form (hospital_visit_id);
COMMENT ON TABLE star.form IS 'One filled-in form of a patient, in a visit when the source names one.';
COMMENT ON COLUMN star.form.form_id IS 'Surrogate key.';
COMMENT ON COLUMN star.form.form_definition_id IS 'What kind of form.';
COMMENT ON COLUMN star.form.mrn_id IS 'The patient (their live MRN when the form arrived).';
COMMENT ON COLUMN star.form.hospital_visit_id IS 'The visit it was filed in; null when the source names none.';
COMMENT ON COLUMN star.form.internal_id IS 'The source''s id for this filled-in form (FormMsg.formInstanceId); when the source gives none, Ward''s own: form id, first filed time and visit (else MRN), as form_id@time/visit.';
COMMENT ON COLUMN star.form.note_id IS 'The clinical note the form was filed in, when the source gives it.';
COMMENT ON COLUMN star.form.first_filed_datetime IS 'When the form was first filed.';
COMMENT ON COLUMN star.form.valid_from IS 'Hospital time of the earliest message about it (when it was first filed).';
COMMENT ON COLUMN star.form.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.form.source_ids_id IS 'The message (IDS id, or source id) of valid_from.';

CREATE TABLE star.form_audit (
    form_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_id bigint NOT NULL,
    form_definition_id bigint NOT NULL,
    mrn_id bigint NOT NULL,
    hospital_visit_id bigint,
    internal_id text NOT NULL,
    note_id bigint,
    first_filed_datetime timestamptz,
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    stored_from timestamptz NOT NULL,
    stored_until timestamptz NOT NULL,
    source_ids_id text
);
CREATE INDEX form_audit_id_idx ON star.form_audit (form_id);
COMMENT ON TABLE star.form_audit IS 'Earlier states of form rows.';
COMMENT ON COLUMN star.form_audit.form_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.form_audit.form_id IS 'The row this was a state of.';
COMMENT ON COLUMN star.form_audit.form_definition_id IS 'As form.form_definition_id, then.';
COMMENT ON COLUMN star.form_audit.mrn_id IS 'As form.mrn_id, then.';
COMMENT ON COLUMN star.form_audit.hospital_visit_id IS 'As form.hospital_visit_id, then.';
COMMENT ON COLUMN star.form_audit.internal_id IS 'As form.internal_id, then.';
COMMENT ON COLUMN star.form_audit.note_id IS 'As form.note_id, then.';
COMMENT ON COLUMN star.form_audit.first_filed_datetime IS 'As form.first_filed_datetime, then.';
COMMENT ON COLUMN star.form_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.form_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.form_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.form_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.form_audit.source_ids_id IS 'The message that produced this state.';

CREATE TABLE star.form_answer (
    form_answer_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_id bigint NOT NULL REFERENCES star.form (form_id),
    form_question_id bigint NOT NULL REFERENCES star.form_question (form_question_id),
    internal_id text,
    filed_datetime timestamptz,
    context text,
    value_as_text text,
    value_as_number double precision,
    value_as_boolean boolean,
    value_as_datetime timestamptz,
    value_as_date date,
    valid_from timestamptz NOT NULL,
    stored_from timestamptz NOT NULL,
    source_ids_id text,
    UNIQUE (form_id, form_question_id)
);
CREATE INDEX form_answer_question_idx ON star.form_answer (form_question_id);
COMMENT ON TABLE star.form_answer IS 'The answer a form gives to one question, as last reported.';
COMMENT ON COLUMN star.form_answer.form_answer_id IS 'Surrogate key.';
COMMENT ON COLUMN star.form_answer.form_id IS 'The form.';
COMMENT ON COLUMN star.form_answer.form_question_id IS 'The question answered.';
COMMENT ON COLUMN star.form_answer.internal_id IS 'The source''s id for the answer.';
COMMENT ON COLUMN star.form_answer.filed_datetime IS 'When the answer was filed.';
COMMENT ON COLUMN star.form_answer.context IS 'Where the answer was given (e.g. NOTE).';
COMMENT ON COLUMN star.form_answer.value_as_text IS 'The answer as text (every answer has one).';
COMMENT ON COLUMN star.form_answer.value_as_number IS 'A numeric answer.';
COMMENT ON COLUMN star.form_answer.value_as_boolean IS 'A yes/no answer.';
COMMENT ON COLUMN star.form_answer.value_as_datetime IS 'An instant answer.';
COMMENT ON COLUMN star.form_answer.value_as_date IS 'A date answer.';
COMMENT ON COLUMN star.form_answer.valid_from IS 'Hospital time of the newest answer that gave its values.';
COMMENT ON COLUMN star.form_answer.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.form_answer.source_ids_id IS 'The message (IDS id, or source id) of valid_from.';

CREATE TABLE star.form_answer_audit (
    form_answer_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_answer_id bigint NOT NULL,
    form_id bigint NOT NULL,
    form_question_id bigint NOT NULL,
    internal_id text,
    filed_datetime timestamptz,
    context text,
    value_as_text text,
    value_as_number double precision,
    value_as_boolean boolean,
    value_as_datetime timestamptz,
    value_as_date date,
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    stored_from timestamptz NOT NULL,
    stored_until timestamptz NOT NULL,
    source_ids_id text
);
CREATE INDEX form_answer_audit_id_idx ON star.form_answer_audit (form_answer_id);
COMMENT ON TABLE star.form_answer_audit IS 'Earlier states of form_answer rows.';
COMMENT ON COLUMN star.form_answer_audit.form_answer_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.form_answer_audit.form_answer_id IS 'The row this was a state of.';
COMMENT ON COLUMN star.form_answer_audit.form_id IS 'As form_answer.form_id, then.';
COMMENT ON COLUMN star.form_answer_audit.form_question_id IS 'As form_answer.form_question_id, then.';
COMMENT ON COLUMN star.form_answer_audit.internal_id IS 'As form_answer.internal_id, then.';
COMMENT ON COLUMN star.form_answer_audit.filed_datetime IS 'As form_answer.filed_datetime, then.';
COMMENT ON COLUMN star.form_answer_audit.context IS 'As form_answer.context, then.';
COMMENT ON COLUMN star.form_answer_audit.value_as_text IS 'As form_answer.value_as_text, then.';
COMMENT ON COLUMN star.form_answer_audit.value_as_number IS 'As form_answer.value_as_number, then.';
COMMENT ON COLUMN star.form_answer_audit.value_as_boolean IS 'As form_answer.value_as_boolean, then.';
COMMENT ON COLUMN star.form_answer_audit.value_as_datetime IS 'As form_answer.value_as_datetime, then.';
COMMENT ON COLUMN star.form_answer_audit.value_as_date IS 'As form_answer.value_as_date, then.';
COMMENT ON COLUMN star.form_answer_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.form_answer_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.form_answer_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.form_answer_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.form_answer_audit.source_ids_id IS 'The message that produced this state.';
