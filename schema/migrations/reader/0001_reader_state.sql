-- Invariant: a reader's position only moves forward, and only after the broker confirmed every
-- message derived from the IDS rows up to it. Rows a reader could not map are recorded here with
-- the reason; nothing is skipped silently.

CREATE SCHEMA IF NOT EXISTS reader;
COMMENT ON SCHEMA reader IS 'State of the readers that turn the IDS into interchange messages.';

CREATE TABLE reader.progress (
    reader      text PRIMARY KEY,
    last_ids_id bigint NOT NULL CHECK (last_ids_id >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE reader.progress IS 'How far each reader has got: every IDS row up to last_ids_id is published, ignored by design or recorded in reader.error.';
COMMENT ON COLUMN reader.progress.reader IS 'Reader name, e.g. hl7 (one row per reader instance set).';
COMMENT ON COLUMN reader.progress.last_ids_id IS 'Highest IDS id handled; the reader resumes after it.';
COMMENT ON COLUMN reader.progress.updated_at IS 'When the position last moved.';

CREATE TABLE reader.error (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ids_id         bigint NOT NULL REFERENCES ids.message (id),
    reader         text NOT NULL,
    reader_version text NOT NULL,
    error          text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX error_ids_id_idx ON reader.error (ids_id);
COMMENT ON TABLE reader.error IS 'IDS messages a reader could not turn into interchange messages, with why. Fix and re-read them with ward read-ids --reprocess.';
COMMENT ON COLUMN reader.error.ids_id IS 'The message in the IDS.';
COMMENT ON COLUMN reader.error.reader IS 'Which reader failed.';
COMMENT ON COLUMN reader.error.reader_version IS 'Version of Ward that failed, so a fixed version can be told apart.';
COMMENT ON COLUMN reader.error.error IS 'Why (never patient data).';
COMMENT ON COLUMN reader.error.recorded_at IS 'When.';

GRANT USAGE ON SCHEMA reader TO ward_reader;
GRANT SELECT, INSERT, UPDATE ON reader.progress TO ward_reader;
GRANT SELECT, INSERT ON reader.error TO ward_reader;
