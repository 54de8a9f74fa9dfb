-- Invariant: a star schema rebuilt by `ward replay` says which IDS range it holds and how far the
-- rebuild got, committed with the rows it wrote, so an interrupted replay resumes exactly where
-- it stopped. The live schema has no row here unless it was built by a replay.

CREATE TABLE star.replay (
    replay_id      boolean PRIMARY KEY DEFAULT true CHECK (replay_id),
    from_ids_id    bigint NOT NULL,
    to_ids_id      bigint NOT NULL,
    mrn            text,
    last_ids_id    bigint NOT NULL,
    messages       bigint NOT NULL DEFAULT 0,
    started_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    ward_version   text NOT NULL
);
COMMENT ON TABLE star.replay IS 'How this schema was rebuilt from the IDS by ward replay (one row; none for a schema kept live from the start).';
COMMENT ON COLUMN star.replay.replay_id IS 'Always true: a schema holds at most one replay.';
COMMENT ON COLUMN star.replay.from_ids_id IS 'First IDS id of the replayed range.';
COMMENT ON COLUMN star.replay.to_ids_id IS 'Last IDS id of the replayed range.';
COMMENT ON COLUMN star.replay.mrn IS 'When only one patient was replayed, the MRN asked for (messages of MRNs merged with it included); null for a full replay.';
COMMENT ON COLUMN star.replay.last_ids_id IS 'The last IDS id applied; a resumed replay goes on after it.';
COMMENT ON COLUMN star.replay.messages IS 'IDS messages read so far.';
COMMENT ON COLUMN star.replay.started_at IS 'When the replay began.';
COMMENT ON COLUMN star.replay.updated_at IS 'When the replay last committed.';
COMMENT ON COLUMN star.replay.finished_at IS 'When the whole range had been applied; null while unfinished.';
COMMENT ON COLUMN star.replay.ward_version IS 'The Ward version whose rules rebuilt the schema.';
