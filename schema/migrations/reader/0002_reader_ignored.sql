-- Messages a reader leaves out by design (an untrusted ADT sender, a type Ward does not handle,
-- an analyser's calibration sample) are recorded with why, so that "why is this message not in
-- star?" has an answer in SQL, as errors have in reader.error.

CREATE TABLE reader.ignored (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ids_id         bigint NOT NULL REFERENCES ids.message (id),
    reader         text NOT NULL,
    reader_version text NOT NULL,
    kind           text NOT NULL,
    reason         text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ids_id, reader, reader_version)
);
COMMENT ON TABLE reader.ignored IS 'IDS messages a reader left out by design, with why (once per message, reader and version).';
COMMENT ON COLUMN reader.ignored.ids_id IS 'The message in the IDS.';
COMMENT ON COLUMN reader.ignored.reader IS 'Which reader left it out.';
COMMENT ON COLUMN reader.ignored.reader_version IS 'Version of Ward that left it out: a later version may map it (ward read-ids --reprocess).';
COMMENT ON COLUMN reader.ignored.kind IS 'TYPE^TRIGGER of the message, e.g. SIU^S12.';
COMMENT ON COLUMN reader.ignored.reason IS 'Why (never patient data).';
COMMENT ON COLUMN reader.ignored.recorded_at IS 'When.';

GRANT SELECT, INSERT ON reader.ignored TO ward_reader;
