-- Patient conditions (EMAP's names and columns): problem-list entries, infection flags and
-- allergies, each of a condition_type (reference data: a function of the set of messages naming
-- it, as lab batteries are; its name is the latest message's). A condition is keyed by its
-- patient, type and Epic id, or (an HL7 infection, which has none) its added time (K1); it is
-- audited as in 0001. condition_visits records each visit a condition was seen in (K5);
-- allergen_reaction holds an allergy's latest set of reactions (K6), replaced ones audited.

CREATE TABLE star.condition_type (
    condition_type_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    data_type               text NOT NULL,
    internal_code           text NOT NULL,
    name                    text,
    name_valid_from         timestamptz,
    sub_type                text,
    standardised_code       text,
    standardised_vocabulary text,
    valid_from              timestamptz NOT NULL,
    stored_from             timestamptz NOT NULL,
    source_ids_id           text,
    UNIQUE (data_type, internal_code)
);
COMMENT ON TABLE star.condition_type IS 'A kind of condition: a problem (ICD-10 code), an infection flag or an allergen.';
COMMENT ON COLUMN star.condition_type.condition_type_id IS 'Surrogate key.';
COMMENT ON COLUMN star.condition_type.data_type IS 'PROBLEM_LIST, PATIENT_INFECTION or PATIENT_ALLERGY.';
COMMENT ON COLUMN star.condition_type.internal_code IS 'The code the source gives it (an ICD-10 code, an infection''s name, an allergen).';
COMMENT ON COLUMN star.condition_type.name IS 'Its name, from the latest message naming it.';
COMMENT ON COLUMN star.condition_type.name_valid_from IS 'Hospital time of the message that gave name.';
COMMENT ON COLUMN star.condition_type.sub_type IS 'An allergy''s allergen type (e.g. DRUG INGREDI), from the latest message naming one.';
COMMENT ON COLUMN star.condition_type.standardised_code IS 'A standard code for it, when known.';
COMMENT ON COLUMN star.condition_type.standardised_vocabulary IS 'The vocabulary of standardised_code.';
COMMENT ON COLUMN star.condition_type.valid_from IS 'Hospital time of the earliest message that named it.';
COMMENT ON COLUMN star.condition_type.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.condition_type.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.patient_condition (
    patient_condition_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    condition_type_id    bigint NOT NULL REFERENCES star.condition_type (condition_type_id),
    internal_id          bigint,
    mrn_id               bigint NOT NULL REFERENCES star.mrn (mrn_id),
    hospital_visit_id    bigint REFERENCES star.hospital_visit (hospital_visit_id),
    added_datetime       timestamptz,
    added_date           date,
    resolution_datetime  timestamptz,
    resolution_date      date,
    onset_date           date,
    classification       text,
    status               text,
    priority             text,
    is_deleted           boolean NOT NULL DEFAULT false,
    comment              text,
    severity             text,
    valid_from           timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    source_ids_id        text
);
CREATE UNIQUE INDEX patient_condition_internal_idx
    ON star.patient_condition (mrn_id, condition_type_id, internal_id)
    WHERE internal_id IS NOT NULL;
CREATE UNIQUE INDEX patient_condition_added_idx
    ON star.patient_condition (mrn_id, condition_type_id, added_datetime)
    WHERE internal_id IS NULL;
CREATE INDEX patient_condition_type_idx ON star.patient_condition (condition_type_id);
CREATE INDEX patient_condition_visit_idx ON star.patient_condition (hospital_visit_id);
COMMENT ON TABLE star.patient_condition IS 'A condition of a patient: a problem-list entry, an infection flag or an allergy, as last reported.';
COMMENT ON COLUMN star.patient_condition.patient_condition_id IS 'Surrogate key.';
COMMENT ON COLUMN star.patient_condition.condition_type_id IS 'What the condition is.';
COMMENT ON COLUMN star.patient_condition.internal_id IS 'Epic''s id of the problem or allergy; null for an HL7 infection flag (keyed by its added time).';
COMMENT ON COLUMN star.patient_condition.mrn_id IS 'The patient (MRN) it belongs to.';
COMMENT ON COLUMN star.patient_condition.hospital_visit_id IS 'The visit of the latest message about it, if any (every visit is in condition_visits).';
COMMENT ON COLUMN star.patient_condition.added_datetime IS 'When it was added (infections, allergies).';
COMMENT ON COLUMN star.patient_condition.added_date IS 'When it was added (problems: PRB-7).';
COMMENT ON COLUMN star.patient_condition.resolution_datetime IS 'When it was resolved (infections).';
COMMENT ON COLUMN star.patient_condition.resolution_date IS 'When it was resolved (problems: PRB-9).';
COMMENT ON COLUMN star.patient_condition.onset_date IS 'When it began.';
COMMENT ON COLUMN star.patient_condition.classification IS 'Its classification, when the source gives one.';
COMMENT ON COLUMN star.patient_condition.status IS 'Its status as the source writes it (e.g. ACTIVE, Resolved).';
COMMENT ON COLUMN star.patient_condition.priority IS 'Its priority, when the source gives one.';
COMMENT ON COLUMN star.patient_condition.is_deleted IS 'Whether the source deleted it (K2, K4, K6): a deleted row is kept, flagged.';
COMMENT ON COLUMN star.patient_condition.comment IS 'Comments (a problem''s NTEs), one per line.';
COMMENT ON COLUMN star.patient_condition.severity IS 'An allergy''s severity.';
COMMENT ON COLUMN star.patient_condition.valid_from IS 'Hospital time of the newest message about it.';
COMMENT ON COLUMN star.patient_condition.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.patient_condition.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.patient_condition_audit (
    patient_condition_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_condition_id bigint NOT NULL,
    condition_type_id    bigint NOT NULL,
    internal_id          bigint,
    mrn_id               bigint NOT NULL,
    hospital_visit_id    bigint,
    added_datetime       timestamptz,
    added_date           date,
    resolution_datetime  timestamptz,
    resolution_date      date,
    onset_date           date,
    classification       text,
    status               text,
    priority             text,
    is_deleted           boolean NOT NULL,
    comment              text,
    severity             text,
    valid_from           timestamptz NOT NULL,
    valid_until          timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    stored_until         timestamptz NOT NULL,
    source_ids_id        text
);
CREATE INDEX patient_condition_audit_id_idx ON star.patient_condition_audit (patient_condition_id);
COMMENT ON TABLE star.patient_condition_audit IS 'Earlier states of patient_condition rows.';
COMMENT ON COLUMN star.patient_condition_audit.patient_condition_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.patient_condition_audit.patient_condition_id IS 'The condition this was a state of.';
COMMENT ON COLUMN star.patient_condition_audit.condition_type_id IS 'As patient_condition.condition_type_id, then.';
COMMENT ON COLUMN star.patient_condition_audit.internal_id IS 'As patient_condition.internal_id, then.';
COMMENT ON COLUMN star.patient_condition_audit.mrn_id IS 'As patient_condition.mrn_id, then.';
COMMENT ON COLUMN star.patient_condition_audit.hospital_visit_id IS 'As patient_condition.hospital_visit_id, then.';
COMMENT ON COLUMN star.patient_condition_audit.added_datetime IS 'As patient_condition.added_datetime, then.';
COMMENT ON COLUMN star.patient_condition_audit.added_date IS 'As patient_condition.added_date, then.';
COMMENT ON COLUMN star.patient_condition_audit.resolution_datetime IS 'As patient_condition.resolution_datetime, then.';
COMMENT ON COLUMN star.patient_condition_audit.resolution_date IS 'As patient_condition.resolution_date, then.';
COMMENT ON COLUMN star.patient_condition_audit.onset_date IS 'As patient_condition.onset_date, then.';
COMMENT ON COLUMN star.patient_condition_audit.classification IS 'As patient_condition.classification, then.';
COMMENT ON COLUMN star.patient_condition_audit.status IS 'As patient_condition.status, then.';
COMMENT ON COLUMN star.patient_condition_audit.priority IS 'As patient_condition.priority, then.';
COMMENT ON COLUMN star.patient_condition_audit.is_deleted IS 'As patient_condition.is_deleted, then.';
COMMENT ON COLUMN star.patient_condition_audit.comment IS 'As patient_condition.comment, then.';
COMMENT ON COLUMN star.patient_condition_audit.severity IS 'As patient_condition.severity, then.';
COMMENT ON COLUMN star.patient_condition_audit.valid_from IS 'Hospital time this state became true.';
COMMENT ON COLUMN star.patient_condition_audit.valid_until IS 'Hospital time this state stopped being true.';
COMMENT ON COLUMN star.patient_condition_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.patient_condition_audit.stored_until IS 'When the warehouse replaced or deleted this state.';
COMMENT ON COLUMN star.patient_condition_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

CREATE TABLE star.condition_visits (
    condition_visits_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_condition_id bigint NOT NULL REFERENCES star.patient_condition (patient_condition_id),
    hospital_visit_id    bigint NOT NULL REFERENCES star.hospital_visit (hospital_visit_id),
    valid_from           timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    source_ids_id        text,
    UNIQUE (patient_condition_id, hospital_visit_id)
);
CREATE INDEX condition_visits_visit_idx ON star.condition_visits (hospital_visit_id);
COMMENT ON TABLE star.condition_visits IS 'Each visit a condition was reported in, once (K5).';
COMMENT ON COLUMN star.condition_visits.condition_visits_id IS 'Surrogate key.';
COMMENT ON COLUMN star.condition_visits.patient_condition_id IS 'The condition.';
COMMENT ON COLUMN star.condition_visits.hospital_visit_id IS 'A visit it was reported in.';
COMMENT ON COLUMN star.condition_visits.valid_from IS 'Hospital time of the earliest message reporting it in this visit.';
COMMENT ON COLUMN star.condition_visits.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.condition_visits.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.allergen_reaction (
    allergen_reaction_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_condition_id bigint NOT NULL REFERENCES star.patient_condition (patient_condition_id),
    name                 text NOT NULL,
    valid_from           timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    source_ids_id        text,
    UNIQUE (patient_condition_id, name)
);
COMMENT ON TABLE star.allergen_reaction IS 'The reactions of an allergy, as its latest message lists them (K6).';
COMMENT ON COLUMN star.allergen_reaction.allergen_reaction_id IS 'Surrogate key.';
COMMENT ON COLUMN star.allergen_reaction.patient_condition_id IS 'The allergy.';
COMMENT ON COLUMN star.allergen_reaction.name IS 'The reaction (e.g. Rash).';
COMMENT ON COLUMN star.allergen_reaction.valid_from IS 'Hospital time of the message that listed it.';
COMMENT ON COLUMN star.allergen_reaction.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.allergen_reaction.source_ids_id IS 'The message (IDS id) that listed it.';

CREATE TABLE star.allergen_reaction_audit (
    allergen_reaction_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    allergen_reaction_id bigint NOT NULL,
    patient_condition_id bigint NOT NULL,
    name                 text NOT NULL,
    valid_from           timestamptz NOT NULL,
    valid_until          timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    stored_until         timestamptz NOT NULL,
    source_ids_id        text
);
CREATE INDEX allergen_reaction_audit_id_idx ON star.allergen_reaction_audit (allergen_reaction_id);
COMMENT ON TABLE star.allergen_reaction_audit IS 'Reactions a later message of their allergy no longer listed.';
COMMENT ON COLUMN star.allergen_reaction_audit.allergen_reaction_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.allergen_reaction_audit.allergen_reaction_id IS 'The reaction row this was.';
COMMENT ON COLUMN star.allergen_reaction_audit.patient_condition_id IS 'The allergy.';
COMMENT ON COLUMN star.allergen_reaction_audit.name IS 'The reaction.';
COMMENT ON COLUMN star.allergen_reaction_audit.valid_from IS 'Hospital time it was listed.';
COMMENT ON COLUMN star.allergen_reaction_audit.valid_until IS 'Hospital time of the message that no longer listed it.';
COMMENT ON COLUMN star.allergen_reaction_audit.stored_from IS 'When the warehouse stored it.';
COMMENT ON COLUMN star.allergen_reaction_audit.stored_until IS 'When the warehouse removed it.';
COMMENT ON COLUMN star.allergen_reaction_audit.source_ids_id IS 'The message (IDS id) that listed it.';

-- What the warehouse believed about conditions at a stored time, as for lab results (0009).
CREATE FUNCTION star.patient_condition_as_of(believed_at timestamptz)
RETURNS TABLE (patient_condition_id bigint, condition_type_id bigint, internal_id bigint,
               mrn_id bigint, hospital_visit_id bigint, added_datetime timestamptz,
               added_date date, resolution_datetime timestamptz, resolution_date date,
               onset_date date, status text, is_deleted boolean, comment text, severity text,
               valid_from timestamptz, stored_from timestamptz, source_ids_id text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT c.patient_condition_id, c.condition_type_id, c.internal_id, c.mrn_id,
           c.hospital_visit_id, c.added_datetime, c.added_date, c.resolution_datetime,
           c.resolution_date, c.onset_date, c.status, c.is_deleted, c.comment, c.severity,
           c.valid_from, c.stored_from, c.source_ids_id
    FROM star.patient_condition c WHERE c.stored_from <= believed_at
    UNION ALL
    SELECT a.patient_condition_id, a.condition_type_id, a.internal_id, a.mrn_id,
           a.hospital_visit_id, a.added_datetime, a.added_date, a.resolution_datetime,
           a.resolution_date, a.onset_date, a.status, a.is_deleted, a.comment, a.severity,
           a.valid_from, a.stored_from, a.source_ids_id
    FROM star.patient_condition_audit a
    WHERE a.stored_from <= believed_at AND believed_at < a.stored_until;
END;
COMMENT ON FUNCTION star.patient_condition_as_of(timestamptz) IS 'Patient conditions as the warehouse held them at a stored time (believed_at): a problem shows as active before its resolution was stored.';
