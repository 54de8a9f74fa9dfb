-- Labs (EMAP's names and columns): batteries and test definitions (reference data, shared by
-- every patient), samples per patient, orders of a battery on a sample, results of a test in an
-- order. Every per-patient temporal table has its _audit twin as in 0001. Reference rows are
-- a function of the set of messages naming them, not of their arrival order (patients' messages
-- are applied in parallel, so the order across patients is not fixed): each keeps the earliest
-- message that named it as its provenance, and a test its latest department; they have no
-- audit twin, since their history would depend on that order. An order cancelled before it was
-- seen is kept in lab_order_cancellation (not as a fake audit row, as movement_cancellation
-- does for visits), so that a later copy of the cancelled order is refused (LB5, LB6).

CREATE TABLE star.lab_battery (
    lab_battery_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    battery_code    text NOT NULL,
    battery_name    text,
    lab_provider    text NOT NULL,
    valid_from      timestamptz NOT NULL,
    stored_from     timestamptz NOT NULL,
    source_ids_id   text,
    UNIQUE (battery_code, lab_provider)
);
COMMENT ON TABLE star.lab_battery IS 'A battery (panel) of lab tests that can be ordered, per lab system: e.g. FBC from WinPath.';
COMMENT ON COLUMN star.lab_battery.lab_battery_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_battery.battery_code IS 'The battery''s code in its lab system (OBR-4.1).';
COMMENT ON COLUMN star.lab_battery.battery_name IS 'Its name, from lab metadata when received.';
COMMENT ON COLUMN star.lab_battery.lab_provider IS 'The lab system (coding system) the code belongs to, e.g. WIN_PATH.';
COMMENT ON COLUMN star.lab_battery.valid_from IS 'Hospital time of the earliest message that named it (so the row is the same whatever order messages arrive in).';
COMMENT ON COLUMN star.lab_battery.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_battery.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.lab_test_definition (
    lab_test_definition_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_provider            text NOT NULL,
    lab_department          text,
    lab_department_valid_from timestamptz,
    test_lab_code           text NOT NULL,
    test_standard_code      text,
    standardised_vocabulary text,
    name                    text,
    valid_from              timestamptz NOT NULL,
    stored_from             timestamptz NOT NULL,
    source_ids_id           text,
    UNIQUE (lab_provider, test_lab_code)
);
COMMENT ON TABLE star.lab_test_definition IS 'A lab test whose results are reported, per lab system: e.g. HB from WinPath.';
COMMENT ON COLUMN star.lab_test_definition.lab_test_definition_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_test_definition.lab_provider IS 'The lab system (coding system) the code belongs to.';
COMMENT ON COLUMN star.lab_test_definition.lab_department IS 'The lab department (OBR-24) of the latest message, by hospital time, that named one.';
COMMENT ON COLUMN star.lab_test_definition.lab_department_valid_from IS 'Hospital time of that message. Not in EMAP, which keeps the department of whichever message arrived last, so its value depended on arrival order.';
COMMENT ON COLUMN star.lab_test_definition.test_lab_code IS 'The test''s code in its lab system (OBX-3.1).';
COMMENT ON COLUMN star.lab_test_definition.test_standard_code IS 'A standard code for the test (e.g. LOINC) when known.';
COMMENT ON COLUMN star.lab_test_definition.standardised_vocabulary IS 'The vocabulary of test_standard_code.';
COMMENT ON COLUMN star.lab_test_definition.name IS 'Its name, from lab metadata when received.';
COMMENT ON COLUMN star.lab_test_definition.valid_from IS 'Hospital time of the earliest message that named it.';
COMMENT ON COLUMN star.lab_test_definition.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_test_definition.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.lab_battery_element (
    lab_battery_element_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_battery_id          bigint NOT NULL REFERENCES star.lab_battery (lab_battery_id),
    lab_test_definition_id  bigint NOT NULL REFERENCES star.lab_test_definition (lab_test_definition_id),
    valid_from              timestamptz NOT NULL,
    stored_from             timestamptz NOT NULL,
    source_ids_id           text,
    UNIQUE (lab_battery_id, lab_test_definition_id)
);
CREATE INDEX lab_battery_element_test_idx ON star.lab_battery_element (lab_test_definition_id);
COMMENT ON TABLE star.lab_battery_element IS 'Which tests a battery has been seen to report (a result of the test in an order of the battery).';
COMMENT ON COLUMN star.lab_battery_element.lab_battery_element_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_battery_element.lab_battery_id IS 'The battery.';
COMMENT ON COLUMN star.lab_battery_element.lab_test_definition_id IS 'A test it reports.';
COMMENT ON COLUMN star.lab_battery_element.valid_from IS 'Hospital time of the earliest message that linked them.';
COMMENT ON COLUMN star.lab_battery_element.stored_from IS 'When the warehouse stored it.';
COMMENT ON COLUMN star.lab_battery_element.source_ids_id IS 'The message (IDS id) of valid_from.';

CREATE TABLE star.lab_sample (
    lab_sample_id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mrn_id                     bigint NOT NULL REFERENCES star.mrn (mrn_id),
    external_lab_number        text NOT NULL,
    receipt_at_lab_datetime    timestamptz,
    sample_collection_datetime timestamptz,
    specimen_type              text,
    sample_site                text,
    collection_method          text,
    valid_from                 timestamptz NOT NULL,
    stored_from                timestamptz NOT NULL,
    source_ids_id              text,
    UNIQUE (mrn_id, external_lab_number)
);
COMMENT ON TABLE star.lab_sample IS 'A sample taken from a patient and sent to a lab, by its specimen number; orders name it.';
COMMENT ON COLUMN star.lab_sample.lab_sample_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_sample.mrn_id IS 'The live MRN of the patient when the sample was first seen.';
COMMENT ON COLUMN star.lab_sample.external_lab_number IS 'The lab''s specimen number (for WinPath the first 9 characters of ORC-3).';
COMMENT ON COLUMN star.lab_sample.receipt_at_lab_datetime IS 'When the lab received it.';
COMMENT ON COLUMN star.lab_sample.sample_collection_datetime IS 'When it was collected.';
COMMENT ON COLUMN star.lab_sample.specimen_type IS 'What it is, e.g. blood, urine.';
COMMENT ON COLUMN star.lab_sample.sample_site IS 'Where on the body it was taken.';
COMMENT ON COLUMN star.lab_sample.collection_method IS 'How it was collected.';
COMMENT ON COLUMN star.lab_sample.valid_from IS 'Hospital time of the message that last changed this row.';
COMMENT ON COLUMN star.lab_sample.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_sample.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.lab_sample_audit (
    lab_sample_audit_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_sample_id              bigint NOT NULL,
    mrn_id                     bigint NOT NULL,
    external_lab_number        text NOT NULL,
    receipt_at_lab_datetime    timestamptz,
    sample_collection_datetime timestamptz,
    specimen_type              text,
    sample_site                text,
    collection_method          text,
    valid_from                 timestamptz NOT NULL,
    valid_until                timestamptz NOT NULL,
    stored_from                timestamptz NOT NULL,
    stored_until               timestamptz NOT NULL,
    source_ids_id              text
);
CREATE INDEX lab_sample_audit_id_idx ON star.lab_sample_audit (lab_sample_id);
COMMENT ON TABLE star.lab_sample_audit IS 'Previous states of lab_sample rows.';
COMMENT ON COLUMN star.lab_sample_audit.lab_sample_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_sample_audit.lab_sample_id IS 'The lab_sample row this was a state of.';
COMMENT ON COLUMN star.lab_sample_audit.mrn_id IS 'As in lab_sample.';
COMMENT ON COLUMN star.lab_sample_audit.external_lab_number IS 'As in lab_sample.';
COMMENT ON COLUMN star.lab_sample_audit.receipt_at_lab_datetime IS 'As in lab_sample.';
COMMENT ON COLUMN star.lab_sample_audit.sample_collection_datetime IS 'As in lab_sample.';
COMMENT ON COLUMN star.lab_sample_audit.specimen_type IS 'As in lab_sample.';
COMMENT ON COLUMN star.lab_sample_audit.sample_site IS 'As in lab_sample.';
COMMENT ON COLUMN star.lab_sample_audit.collection_method IS 'As in lab_sample.';
COMMENT ON COLUMN star.lab_sample_audit.valid_from IS 'Hospital time from which this state held.';
COMMENT ON COLUMN star.lab_sample_audit.valid_until IS 'Hospital time of the message that replaced it.';
COMMENT ON COLUMN star.lab_sample_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_sample_audit.stored_until IS 'When the warehouse replaced it.';
COMMENT ON COLUMN star.lab_sample_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

CREATE TABLE star.lab_order (
    lab_order_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_sample_id        bigint NOT NULL REFERENCES star.lab_sample (lab_sample_id),
    hospital_visit_id    bigint REFERENCES star.hospital_visit (hospital_visit_id),
    lab_battery_id       bigint NOT NULL REFERENCES star.lab_battery (lab_battery_id),
    order_datetime       timestamptz,
    request_datetime     timestamptz,
    clinical_information text,
    internal_lab_number  text,
    source_system        text,
    valid_from           timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    source_ids_id        text,
    UNIQUE (lab_battery_id, lab_sample_id)
);
CREATE INDEX lab_order_lab_sample_id_idx ON star.lab_order (lab_sample_id);
CREATE INDEX lab_order_hospital_visit_id_idx ON star.lab_order (hospital_visit_id);
COMMENT ON TABLE star.lab_order IS 'A battery ordered on a sample: one row per (battery, sample).';
COMMENT ON COLUMN star.lab_order.lab_order_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_order.lab_sample_id IS 'The sample.';
COMMENT ON COLUMN star.lab_order.hospital_visit_id IS 'The visit it was ordered in, when known (set once).';
COMMENT ON COLUMN star.lab_order.lab_battery_id IS 'The battery ordered.';
COMMENT ON COLUMN star.lab_order.order_datetime IS 'When it was ordered.';
COMMENT ON COLUMN star.lab_order.request_datetime IS 'When the test was requested for.';
COMMENT ON COLUMN star.lab_order.clinical_information IS 'Clinical information given with the order.';
COMMENT ON COLUMN star.lab_order.internal_lab_number IS 'Epic''s order number.';
COMMENT ON COLUMN star.lab_order.source_system IS 'The system whose message last set the order''s details.';
COMMENT ON COLUMN star.lab_order.valid_from IS 'Hospital time (status change time) of the message that last changed this row.';
COMMENT ON COLUMN star.lab_order.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_order.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.lab_order_audit (
    lab_order_audit_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_order_id         bigint NOT NULL,
    lab_sample_id        bigint NOT NULL,
    hospital_visit_id    bigint,
    lab_battery_id       bigint NOT NULL,
    order_datetime       timestamptz,
    request_datetime     timestamptz,
    clinical_information text,
    internal_lab_number  text,
    source_system        text,
    valid_from           timestamptz NOT NULL,
    valid_until          timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    stored_until         timestamptz NOT NULL,
    source_ids_id        text
);
CREATE INDEX lab_order_audit_id_idx ON star.lab_order_audit (lab_order_id);
COMMENT ON TABLE star.lab_order_audit IS 'Previous states of lab_order rows (changed, or deleted by a cancellation).';
COMMENT ON COLUMN star.lab_order_audit.lab_order_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_order_audit.lab_order_id IS 'The lab_order row this was a state of.';
COMMENT ON COLUMN star.lab_order_audit.lab_sample_id IS 'As in lab_order.';
COMMENT ON COLUMN star.lab_order_audit.hospital_visit_id IS 'As in lab_order.';
COMMENT ON COLUMN star.lab_order_audit.lab_battery_id IS 'As in lab_order.';
COMMENT ON COLUMN star.lab_order_audit.order_datetime IS 'As in lab_order.';
COMMENT ON COLUMN star.lab_order_audit.request_datetime IS 'As in lab_order.';
COMMENT ON COLUMN star.lab_order_audit.clinical_information IS 'As in lab_order.';
COMMENT ON COLUMN star.lab_order_audit.internal_lab_number IS 'As in lab_order.';
COMMENT ON COLUMN star.lab_order_audit.source_system IS 'As in lab_order.';
COMMENT ON COLUMN star.lab_order_audit.valid_from IS 'Hospital time from which this state held.';
COMMENT ON COLUMN star.lab_order_audit.valid_until IS 'Hospital time of the message that replaced or removed it.';
COMMENT ON COLUMN star.lab_order_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_order_audit.stored_until IS 'When the warehouse replaced or removed it.';
COMMENT ON COLUMN star.lab_order_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

CREATE TABLE star.lab_order_cancellation (
    lab_order_cancellation_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_battery_id       bigint NOT NULL REFERENCES star.lab_battery (lab_battery_id),
    lab_sample_id        bigint NOT NULL REFERENCES star.lab_sample (lab_sample_id),
    internal_lab_number  text,
    order_datetime       timestamptz,
    valid_from           timestamptz NOT NULL,
    stored_from          timestamptz NOT NULL,
    source_ids_id        text,
    UNIQUE NULLS NOT DISTINCT (lab_battery_id, lab_sample_id, internal_lab_number, order_datetime)
);
COMMENT ON TABLE star.lab_order_cancellation IS 'Every lab order cancellation received (ORC-1 CA, CR, OC), once each, whether or not the order was seen; an order matching one is never re-created (LB6). Not in EMAP, which writes an audit row for an order it never stored.';
COMMENT ON COLUMN star.lab_order_cancellation.lab_order_cancellation_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_order_cancellation.lab_battery_id IS 'The battery of the cancelled order.';
COMMENT ON COLUMN star.lab_order_cancellation.lab_sample_id IS 'The sample of the cancelled order.';
COMMENT ON COLUMN star.lab_order_cancellation.internal_lab_number IS 'Epic''s number of the cancelled order.';
COMMENT ON COLUMN star.lab_order_cancellation.order_datetime IS 'When the cancelled order had been placed.';
COMMENT ON COLUMN star.lab_order_cancellation.valid_from IS 'Hospital time (status change time) of the cancelling message.';
COMMENT ON COLUMN star.lab_order_cancellation.stored_from IS 'When the warehouse stored it.';
COMMENT ON COLUMN star.lab_order_cancellation.source_ids_id IS 'The message (IDS id) it came from.';

CREATE TABLE star.lab_result (
    lab_result_id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_order_id                  bigint NOT NULL REFERENCES star.lab_order (lab_order_id),
    lab_test_definition_id        bigint NOT NULL REFERENCES star.lab_test_definition (lab_test_definition_id),
    result_last_modified_datetime timestamptz NOT NULL,
    abnormal_flag                 text,
    mime_type                     text,
    value_as_text                 text,
    value_as_real                 double precision,
    value_as_bytes                bytea,
    result_operator               text,
    range_high                    double precision,
    range_low                     double precision,
    result_status                 text,
    units                         text,
    comment                       text,
    valid_from                    timestamptz NOT NULL,
    stored_from                   timestamptz NOT NULL,
    source_ids_id                 text,
    UNIQUE (lab_order_id, lab_test_definition_id)
);
CREATE INDEX lab_result_test_idx ON star.lab_result (lab_test_definition_id);
COMMENT ON TABLE star.lab_result IS 'The result of one test in one order: its latest state (earlier ones in lab_result_audit).';
COMMENT ON COLUMN star.lab_result.lab_result_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_result.lab_order_id IS 'The order.';
COMMENT ON COLUMN star.lab_result.lab_test_definition_id IS 'The test.';
COMMENT ON COLUMN star.lab_result.result_last_modified_datetime IS 'When the lab last changed the result (OBX-14, else the status change time); an older result never overwrites a newer one (LB8).';
COMMENT ON COLUMN star.lab_result.abnormal_flag IS 'OBX-8, e.g. H or L; null when normal.';
COMMENT ON COLUMN star.lab_result.mime_type IS 'Which value column holds the result: NUMERIC (value_as_real), TEXT (value_as_text), PDF (value_as_bytes), LAB_ISOLATE (isolates).';
COMMENT ON COLUMN star.lab_result.value_as_text IS 'A text result.';
COMMENT ON COLUMN star.lab_result.value_as_real IS 'A numeric result.';
COMMENT ON COLUMN star.lab_result.value_as_bytes IS 'A binary result (a PDF report).';
COMMENT ON COLUMN star.lab_result.result_operator IS '= for an exact numeric value, < or > for one beyond the measurable range.';
COMMENT ON COLUMN star.lab_result.range_high IS 'Upper reference limit.';
COMMENT ON COLUMN star.lab_result.range_low IS 'Lower reference limit.';
COMMENT ON COLUMN star.lab_result.result_status IS 'FINAL, PRELIMINARY, CORRECTED, … (OBX-11).';
COMMENT ON COLUMN star.lab_result.units IS 'Units of the numeric value.';
COMMENT ON COLUMN star.lab_result.comment IS 'Notes given with the result (NTE).';
COMMENT ON COLUMN star.lab_result.valid_from IS 'Hospital time of the message that last changed this row.';
COMMENT ON COLUMN star.lab_result.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_result.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.lab_result_audit (
    lab_result_audit_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_result_id                 bigint NOT NULL,
    lab_order_id                  bigint NOT NULL,
    lab_test_definition_id        bigint NOT NULL,
    result_last_modified_datetime timestamptz NOT NULL,
    abnormal_flag                 text,
    mime_type                     text,
    value_as_text                 text,
    value_as_real                 double precision,
    value_as_bytes                bytea,
    result_operator               text,
    range_high                    double precision,
    range_low                     double precision,
    result_status                 text,
    units                         text,
    comment                       text,
    valid_from                    timestamptz NOT NULL,
    valid_until                   timestamptz NOT NULL,
    stored_from                   timestamptz NOT NULL,
    stored_until                  timestamptz NOT NULL,
    source_ids_id                 text
);
CREATE INDEX lab_result_audit_id_idx ON star.lab_result_audit (lab_result_id);
COMMENT ON TABLE star.lab_result_audit IS 'Previous states of lab_result rows.';
COMMENT ON COLUMN star.lab_result_audit.lab_result_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.lab_result_audit.lab_result_id IS 'The lab_result row this was a state of.';
COMMENT ON COLUMN star.lab_result_audit.lab_order_id IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.lab_test_definition_id IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.result_last_modified_datetime IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.abnormal_flag IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.mime_type IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.value_as_text IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.value_as_real IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.value_as_bytes IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.result_operator IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.range_high IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.range_low IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.result_status IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.units IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.comment IS 'As in lab_result.';
COMMENT ON COLUMN star.lab_result_audit.valid_from IS 'Hospital time from which this state held.';
COMMENT ON COLUMN star.lab_result_audit.valid_until IS 'Hospital time of the message that replaced it.';
COMMENT ON COLUMN star.lab_result_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.lab_result_audit.stored_until IS 'When the warehouse replaced it.';
COMMENT ON COLUMN star.lab_result_audit.source_ids_id IS 'The message (IDS id) that produced this state.';
