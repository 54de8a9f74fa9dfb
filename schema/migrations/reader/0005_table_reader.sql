-- The table-reader's state. Invariant: a query's position moves only after the broker
-- confirmed every message from the rows up to it, in the same transaction that keeps those
-- messages in reader.table_message (what replay re-applies: backfilled rows are not in the IDS)
-- and records the rows that could not be mapped in reader.table_error.

CREATE TABLE reader.table_progress (
    source      text NOT NULL,
    query       text NOT NULL,
    run_window  text NOT NULL DEFAULT '',
    order_kind  text NOT NULL,
    order_value text NOT NULL,
    key_kind    text NOT NULL,
    key_value   text NOT NULL,
    rows_read   bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, query, run_window)
);
COMMENT ON TABLE reader.table_progress IS 'How far the table-reader has read each source query: every row up to (order_value, key_value) is published or in reader.table_error.';
COMMENT ON COLUMN reader.table_progress.source IS 'Source name in the sources file.';
COMMENT ON COLUMN reader.table_progress.query IS 'Query name in the sources file.';
COMMENT ON COLUMN reader.table_progress.run_window IS 'Empty for the continuous read; from..until for a one-off window (--from/--until), which keeps its own position.';
COMMENT ON COLUMN reader.table_progress.order_kind IS 'Type of the ordering value: int, text, date, timestamp or timestamptz.';
COMMENT ON COLUMN reader.table_progress.order_value IS 'Ordering value (order_by column) of the last row handled.';
COMMENT ON COLUMN reader.table_progress.key_kind IS 'Type of the key value.';
COMMENT ON COLUMN reader.table_progress.key_value IS 'Key of the last row handled: rows sharing its ordering value with a greater key come next.';
COMMENT ON COLUMN reader.table_progress.rows_read IS 'Rows handled so far by this query and window.';
COMMENT ON COLUMN reader.table_progress.updated_at IS 'When the position last moved.';

CREATE TABLE reader.table_message (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id   text NOT NULL,
    source       text NOT NULL,
    query        text NOT NULL,
    class        text NOT NULL,
    body         json NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX table_message_message_id_idx ON reader.table_message (message_id);
COMMENT ON TABLE reader.table_message IS 'Every interchange message the table-reader published, in order: backfilled history is not in the IDS, so replay re-applies these.';
COMMENT ON COLUMN reader.table_message.id IS 'Order of publication.';
COMMENT ON COLUMN reader.table_message.message_id IS 'source/query/key of the row: its sourceMessageId.';
COMMENT ON COLUMN reader.table_message.source IS 'Source name.';
COMMENT ON COLUMN reader.table_message.query IS 'Query name.';
COMMENT ON COLUMN reader.table_message.class IS 'Interchange class.';
COMMENT ON COLUMN reader.table_message.body IS 'The interchange JSON published, as published (json, not jsonb: kept verbatim and cheap to write; cast to jsonb to query it). Patient data: readable by the reader and replay roles only.';
COMMENT ON COLUMN reader.table_message.published_at IS 'When the broker confirmed it.';

CREATE TABLE reader.table_error (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source         text NOT NULL,
    query          text NOT NULL,
    message_id     text NOT NULL,
    reader_version text NOT NULL,
    error          text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE reader.table_error IS 'Source rows the table-reader could not turn into interchange messages, with why; the rest of the query goes on.';
COMMENT ON COLUMN reader.table_error.id IS 'Surrogate key.';
COMMENT ON COLUMN reader.table_error.source IS 'Source name.';
COMMENT ON COLUMN reader.table_error.query IS 'Query name.';
COMMENT ON COLUMN reader.table_error.message_id IS 'source/query/key of the row.';
COMMENT ON COLUMN reader.table_error.reader_version IS 'Version of Ward that failed.';
COMMENT ON COLUMN reader.table_error.error IS 'Why: the field and what was wrong (never the value).';
COMMENT ON COLUMN reader.table_error.recorded_at IS 'When.';

-- What was published is kept as published.
CREATE FUNCTION reader.table_message_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reader.table_message is insert-only' USING ERRCODE = '42501';
END $$;
CREATE TRIGGER table_message_insert_only BEFORE UPDATE OR DELETE ON reader.table_message
    FOR EACH ROW EXECUTE FUNCTION reader.table_message_insert_only();
COMMENT ON FUNCTION reader.table_message_insert_only() IS 'Refuses changes to published messages.';

GRANT SELECT, INSERT, UPDATE ON reader.table_progress TO ward_reader;
GRANT SELECT, INSERT ON reader.table_message, reader.table_error TO ward_reader;
GRANT USAGE ON SCHEMA reader TO ward_replay;
GRANT SELECT ON reader.table_message TO ward_replay;
