-- Invariant: every change to a patient's identity or demographics is kept. Live tables hold what
-- the warehouse believes now; each `<table>_audit` row is a previous state, with the valid and
-- stored intervals it held. Every row names the IDS message that produced it (source_ids_id).
-- Table and column names are UCLH EMAP's (emap-star), so analysts' EMAP SQL runs unchanged.

CREATE SCHEMA IF NOT EXISTS star;
COMMENT ON SCHEMA star IS 'The star schema: patients, visits and what happened to them, kept current from the interchange messages, with full history in the _audit tables.';

CREATE TABLE star.mrn (
    mrn_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mrn               text UNIQUE,
    nhs_number        text,
    research_opt_out  boolean NOT NULL DEFAULT false,
    source_system     text,
    stored_from       timestamptz NOT NULL,
    source_ids_id     text,
    CHECK (mrn IS NOT NULL OR nhs_number IS NOT NULL)
);
CREATE INDEX mrn_nhs_number_idx ON star.mrn (nhs_number);
COMMENT ON TABLE star.mrn IS 'One row per hospital number (MRN) ever seen, or per NHS number seen without an MRN. A merged MRN keeps its row; mrn_to_live says which MRN survives.';
COMMENT ON COLUMN star.mrn.mrn_id IS 'Surrogate key.';
COMMENT ON COLUMN star.mrn.mrn IS 'Hospital number (PID-3, first repetition).';
COMMENT ON COLUMN star.mrn.nhs_number IS 'NHS number (PID-3, second repetition).';
COMMENT ON COLUMN star.mrn.research_opt_out IS 'The patient opted out of research use of their data.';
COMMENT ON COLUMN star.mrn.source_system IS 'The system that first reported this MRN.';
COMMENT ON COLUMN star.mrn.stored_from IS 'When the warehouse first stored this row.';
COMMENT ON COLUMN star.mrn.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.mrn_audit (
    mrn_audit_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mrn_id            bigint NOT NULL,
    mrn               text,
    nhs_number        text,
    research_opt_out  boolean NOT NULL,
    source_system     text,
    stored_from       timestamptz NOT NULL,
    stored_until      timestamptz NOT NULL,
    source_ids_id     text
);
CREATE INDEX mrn_audit_mrn_id_idx ON star.mrn_audit (mrn_id);
COMMENT ON TABLE star.mrn_audit IS 'Previous identifiers of an mrn row (EMAP keeps none): each row is a state that held from stored_from until stored_until.';
COMMENT ON COLUMN star.mrn_audit.stored_until IS 'When the warehouse replaced this state.';

CREATE TABLE star.mrn_to_live (
    mrn_to_live_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mrn_id            bigint NOT NULL UNIQUE REFERENCES star.mrn (mrn_id),
    live_mrn_id       bigint NOT NULL REFERENCES star.mrn (mrn_id),
    valid_from        timestamptz NOT NULL,
    stored_from       timestamptz NOT NULL,
    source_ids_id     text
);
CREATE INDEX mrn_to_live_live_mrn_id_idx ON star.mrn_to_live (live_mrn_id);
COMMENT ON TABLE star.mrn_to_live IS 'For every MRN, the MRN that represents the patient now (itself unless merged). Join through it to find a person''s live identity.';
COMMENT ON COLUMN star.mrn_to_live.mrn_id IS 'An MRN.';
COMMENT ON COLUMN star.mrn_to_live.live_mrn_id IS 'The MRN that survives for it.';
COMMENT ON COLUMN star.mrn_to_live.valid_from IS 'When this mapping became true in the hospital record.';
COMMENT ON COLUMN star.mrn_to_live.stored_from IS 'When the warehouse stored this mapping.';
COMMENT ON COLUMN star.mrn_to_live.source_ids_id IS 'The message (IDS id) that produced this row.';

CREATE TABLE star.mrn_to_live_audit (
    mrn_to_live_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mrn_to_live_id    bigint NOT NULL,
    mrn_id            bigint NOT NULL,
    live_mrn_id       bigint NOT NULL,
    valid_from        timestamptz NOT NULL,
    valid_until       timestamptz NOT NULL,
    stored_from       timestamptz NOT NULL,
    stored_until      timestamptz NOT NULL,
    source_ids_id     text
);
CREATE INDEX mrn_to_live_audit_id_idx ON star.mrn_to_live_audit (mrn_to_live_id);
COMMENT ON TABLE star.mrn_to_live_audit IS 'Previous live-MRN mappings, each with the valid and stored intervals it held.';

CREATE TABLE star.core_demographic (
    core_demographic_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mrn_id            bigint NOT NULL UNIQUE REFERENCES star.mrn (mrn_id),
    firstname         text,
    middlename        text,
    lastname          text,
    date_of_birth     date,
    date_of_death     date,
    datetime_of_birth timestamptz,
    datetime_of_death timestamptz,
    alive             boolean,
    home_postcode     text,
    sex               text,
    ethnicity         text,
    valid_from        timestamptz NOT NULL,
    stored_from       timestamptz NOT NULL,
    source_ids_id     text
);
COMMENT ON TABLE star.core_demographic IS 'A patient''s current demographics, one row per MRN. History is in core_demographic_audit.';
COMMENT ON COLUMN star.core_demographic.mrn_id IS 'Whose demographics (per MRN, not per person: join mrn_to_live for the person).';
COMMENT ON COLUMN star.core_demographic.firstname IS 'Given name (PID-5.2).';
COMMENT ON COLUMN star.core_demographic.middlename IS 'Middle name (PID-5.3).';
COMMENT ON COLUMN star.core_demographic.lastname IS 'Family name (PID-5.1).';
COMMENT ON COLUMN star.core_demographic.date_of_birth IS 'Date of birth.';
COMMENT ON COLUMN star.core_demographic.date_of_death IS 'Date of death (UTC date of the death time).';
COMMENT ON COLUMN star.core_demographic.datetime_of_birth IS 'Birth as an instant, when the source gave a time.';
COMMENT ON COLUMN star.core_demographic.datetime_of_death IS 'Death as an instant (PID-29).';
COMMENT ON COLUMN star.core_demographic.alive IS 'Alive per the death indicator (PID-30); null when unknown.';
COMMENT ON COLUMN star.core_demographic.home_postcode IS 'Home postcode (PID-11.5).';
COMMENT ON COLUMN star.core_demographic.sex IS 'Administrative sex (PID-8).';
COMMENT ON COLUMN star.core_demographic.ethnicity IS 'Ethnic group, translated from its code.';
COMMENT ON COLUMN star.core_demographic.valid_from IS 'When these values became true in the hospital record.';
COMMENT ON COLUMN star.core_demographic.stored_from IS 'When the warehouse stored them.';
COMMENT ON COLUMN star.core_demographic.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.core_demographic_audit (
    core_demographic_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    core_demographic_id bigint NOT NULL,
    mrn_id            bigint NOT NULL,
    firstname         text,
    middlename        text,
    lastname          text,
    date_of_birth     date,
    date_of_death     date,
    datetime_of_birth timestamptz,
    datetime_of_death timestamptz,
    alive             boolean,
    home_postcode     text,
    sex               text,
    ethnicity         text,
    valid_from        timestamptz NOT NULL,
    valid_until       timestamptz NOT NULL,
    stored_from       timestamptz NOT NULL,
    stored_until      timestamptz NOT NULL,
    source_ids_id     text
);
CREATE INDEX core_demographic_audit_id_idx ON star.core_demographic_audit (core_demographic_id);
COMMENT ON TABLE star.core_demographic_audit IS 'Previous demographics: each row is a state that was valid from valid_from until valid_until and believed from stored_from until stored_until.';

CREATE TABLE star.dead_letter (
    dead_letter_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_message_id text,
    message_class     text NOT NULL,
    rule              text NOT NULL,
    error             text NOT NULL,
    message           jsonb NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    retried_at        timestamptz
);
CREATE INDEX dead_letter_pending_idx ON star.dead_letter (dead_letter_id) WHERE retried_at IS NULL;
COMMENT ON TABLE star.dead_letter IS 'Interchange messages the processor rejected, with the rule that rejected them; ward process --retry-dead-letters reprocesses them.';
COMMENT ON COLUMN star.dead_letter.source_message_id IS 'The message''s source id (the IDS id for HL7).';
COMMENT ON COLUMN star.dead_letter.rule IS 'The processing rule that rejected it (e.g. M2: no patient identifier).';
COMMENT ON COLUMN star.dead_letter.error IS 'Why.';
COMMENT ON COLUMN star.dead_letter.message IS 'The interchange message as received.';
COMMENT ON COLUMN star.dead_letter.retried_at IS 'When it was last retried; null while pending.';
