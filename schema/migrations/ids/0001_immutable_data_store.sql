-- Invariant: the Immutable Data Store is insert-only. Every HL7v2 payload Ward ever received is
-- kept here as the exact bytes received; no role, not even the owner, may UPDATE, DELETE or
-- TRUNCATE it. Everything downstream (interchange, star schema) can be rebuilt from it.

CREATE SCHEMA IF NOT EXISTS ids;
COMMENT ON SCHEMA ids IS 'The Immutable Data Store: every message Ward received, as received. Insert-only.';

CREATE TABLE ids.message (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    payload               bytea NOT NULL,
    payload_sha256        bytea NOT NULL CHECK (octet_length(payload_sha256) = 32),
    transport             text NOT NULL,
    peer_address          text,
    sending_application   text,
    sending_facility      text,
    receiving_application text,
    receiving_facility    text,
    message_type          text,
    trigger_event         text,
    message_structure     text,
    control_id            text,
    processing_id         text,
    version_id            text,
    accept_ack_type       text,
    application_ack_type  text,
    message_datetime_text text,
    message_datetime      timestamptz,
    character_set         text,
    duplicate_of          bigint REFERENCES ids.message (id),
    header_error          text,
    CHECK (duplicate_of IS NULL OR duplicate_of < id)
);

COMMENT ON TABLE ids.message IS 'One row per HL7v2 message received, stored before it was acknowledged. Insert-only: a trigger refuses UPDATE, DELETE and TRUNCATE.';
COMMENT ON COLUMN ids.message.id IS 'Position in the store; readers follow the store in this order.';
COMMENT ON COLUMN ids.message.received_at IS 'When Ward stored the message (database server clock).';
COMMENT ON COLUMN ids.message.payload IS 'The exact bytes received inside the MLLP frame: no newline, charset or whitespace normalisation.';
COMMENT ON COLUMN ids.message.payload_sha256 IS 'SHA-256 of payload; with sender and control id it identifies a resent duplicate.';
COMMENT ON COLUMN ids.message.transport IS 'How the message arrived: mllp, mllp+tls.';
COMMENT ON COLUMN ids.message.peer_address IS 'Address and port of the sending system.';
COMMENT ON COLUMN ids.message.sending_application IS 'MSH-3.1, the sending application.';
COMMENT ON COLUMN ids.message.sending_facility IS 'MSH-4.1, the sending facility.';
COMMENT ON COLUMN ids.message.receiving_application IS 'MSH-5.1, the receiving application.';
COMMENT ON COLUMN ids.message.receiving_facility IS 'MSH-6.1, the receiving facility.';
COMMENT ON COLUMN ids.message.message_type IS 'MSH-9.1, e.g. ADT, ORU.';
COMMENT ON COLUMN ids.message.trigger_event IS 'MSH-9.2, e.g. A01, R01.';
COMMENT ON COLUMN ids.message.message_structure IS 'MSH-9.3, e.g. ADT_A01.';
COMMENT ON COLUMN ids.message.control_id IS 'MSH-10, the sender''s message control id (echoed in MSA-2 of our ACK).';
COMMENT ON COLUMN ids.message.processing_id IS 'MSH-11.1: P production, T training, D debugging.';
COMMENT ON COLUMN ids.message.version_id IS 'MSH-12.1, the HL7 version, e.g. 2.4.';
COMMENT ON COLUMN ids.message.accept_ack_type IS 'MSH-15, accept acknowledgement type (enhanced mode when set).';
COMMENT ON COLUMN ids.message.application_ack_type IS 'MSH-16, application acknowledgement type.';
COMMENT ON COLUMN ids.message.message_datetime_text IS 'MSH-7.1 exactly as sent.';
COMMENT ON COLUMN ids.message.message_datetime IS 'MSH-7 as an instant (site time zone when the sender gave no offset); NULL when it does not parse.';
COMMENT ON COLUMN ids.message.character_set IS 'MSH-18, the character set the sender declared (payload is stored undecoded).';
COMMENT ON COLUMN ids.message.duplicate_of IS 'The earlier message with the same sender, control id and payload that this one resends; readers skip duplicates.';
COMMENT ON COLUMN ids.message.header_error IS 'Why the MSH segment could not be read; such messages are kept and were answered AR when possible.';

CREATE INDEX message_type_idx ON ids.message (message_type, trigger_event);
CREATE INDEX message_sender_idx ON ids.message (sending_application, sending_facility);
-- Serves both control-id look-ups and the listener's duplicate check.
CREATE INDEX message_control_id_idx ON ids.message (control_id, sending_application, sending_facility, payload_sha256);
-- The store only grows in received order, so a BRIN index covers time ranges at almost no cost.
CREATE INDEX message_received_at_idx ON ids.message USING brin (received_at);
CREATE INDEX message_header_error_idx ON ids.message (id) WHERE header_error IS NOT NULL;

-- Immutability, enforced by the database for every role including the owner.
CREATE FUNCTION ids.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the Immutable Data Store is insert-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER message_insert_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ids.message
    FOR EACH STATEMENT EXECUTE FUNCTION ids.refuse_change();

-- Readers wake on this channel; a hint only (notifications can be lost), delivered at commit.
CREATE FUNCTION ids.notify_new_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ward_ids_new', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER message_notify
    AFTER INSERT ON ids.message
    FOR EACH STATEMENT EXECUTE FUNCTION ids.notify_new_messages();

-- Least-privilege roles (cluster-wide, so created only when missing; concurrent migrations of
-- different databases may race to create them, which is harmless).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ward_listener') THEN
        CREATE ROLE ward_listener NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ward_reader') THEN
        CREATE ROLE ward_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

REVOKE ALL ON ids.message FROM PUBLIC;
GRANT USAGE ON SCHEMA ids TO ward_listener, ward_reader;
-- The listener inserts, and reads what duplicate detection needs. It takes ids from the sequence
-- itself (in arrival order, before inserting a batch), hence the sequence grant.
GRANT INSERT, SELECT ON ids.message TO ward_listener;
GRANT USAGE ON SEQUENCE ids.message_id_seq TO ward_listener;
GRANT SELECT ON ids.message TO ward_reader;
