-- Which sender sent a message, when the link says: under mutual TLS the listener stores the
-- subject of the client certificate the sender presented with every message it sends. Adding
-- a column changes no stored row (the IDS stays insert-only).

ALTER TABLE ids.message ADD COLUMN client_certificate_subject text;

COMMENT ON COLUMN ids.message.client_certificate_subject IS 'The subject of the client certificate the sender presented (mutual TLS, e.g. CN=integration-engine, O=Hospital); NULL over plain MLLP or TLS without a client certificate.';
