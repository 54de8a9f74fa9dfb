-- Invariant: while a replay loads an empty schema it may drop the foreign keys and the audit
-- tables' secondary indexes (checking and maintaining them row by row was a third of its cost)
-- and re-creates every one, validated, in the transaction that marks the replay finished, as
-- pg_restore does. What is dropped is written here first, so an interrupted replay restores it
-- when resumed; a finished replay leaves this table empty.

CREATE TABLE star.replay_deferred (
    replay_deferred_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name         text NOT NULL,
    name               text NOT NULL,
    definition         text NOT NULL
);
COMMENT ON TABLE star.replay_deferred IS 'Foreign keys and indexes a running (or interrupted) ward replay dropped while loading this schema, re-created when it finishes; empty otherwise.';
COMMENT ON COLUMN star.replay_deferred.replay_deferred_id IS 'Surrogate key.';
COMMENT ON COLUMN star.replay_deferred.table_name IS 'The table the constraint or index belongs to.';
COMMENT ON COLUMN star.replay_deferred.name IS 'The constraint''s or index''s name.';
COMMENT ON COLUMN star.replay_deferred.definition IS 'The statement that re-creates it.';
