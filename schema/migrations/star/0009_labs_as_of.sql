-- What the warehouse believed about lab orders and results at a stored time, as for visits
-- (0006): the live rows stored by then, and the audit rows that were current then (a
-- cancelled order's last state is in lab_order_audit until its cancellation was stored).

CREATE FUNCTION star.lab_order_as_of(believed_at timestamptz)
RETURNS TABLE (lab_order_id bigint, lab_sample_id bigint, hospital_visit_id bigint,
               lab_battery_id bigint, order_datetime timestamptz, request_datetime timestamptz,
               clinical_information text, internal_lab_number text, source_system text,
               valid_from timestamptz, stored_from timestamptz, source_ids_id text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT o.lab_order_id, o.lab_sample_id, o.hospital_visit_id, o.lab_battery_id,
           o.order_datetime, o.request_datetime, o.clinical_information, o.internal_lab_number,
           o.source_system, o.valid_from, o.stored_from, o.source_ids_id
    FROM star.lab_order o WHERE o.stored_from <= believed_at
    UNION ALL
    SELECT a.lab_order_id, a.lab_sample_id, a.hospital_visit_id, a.lab_battery_id,
           a.order_datetime, a.request_datetime, a.clinical_information, a.internal_lab_number,
           a.source_system, a.valid_from, a.stored_from, a.source_ids_id
    FROM star.lab_order_audit a WHERE a.stored_from <= believed_at AND believed_at < a.stored_until;
END;
COMMENT ON FUNCTION star.lab_order_as_of(timestamptz) IS 'Lab orders as the warehouse held them at a stored time (believed_at), cancelled ones included until their cancellation was stored.';

CREATE FUNCTION star.lab_result_as_of(believed_at timestamptz)
RETURNS TABLE (lab_result_id bigint, lab_order_id bigint, lab_test_definition_id bigint,
               result_last_modified_datetime timestamptz, abnormal_flag text, mime_type text,
               value_as_text text, value_as_real double precision, value_as_bytes bytea,
               result_operator text, range_high double precision, range_low double precision,
               result_status text, units text, comment text,
               valid_from timestamptz, stored_from timestamptz, source_ids_id text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT r.lab_result_id, r.lab_order_id, r.lab_test_definition_id,
           r.result_last_modified_datetime, r.abnormal_flag, r.mime_type, r.value_as_text,
           r.value_as_real, r.value_as_bytes, r.result_operator, r.range_high, r.range_low,
           r.result_status, r.units, r.comment, r.valid_from, r.stored_from, r.source_ids_id
    FROM star.lab_result r WHERE r.stored_from <= believed_at
    UNION ALL
    SELECT a.lab_result_id, a.lab_order_id, a.lab_test_definition_id,
           a.result_last_modified_datetime, a.abnormal_flag, a.mime_type, a.value_as_text,
           a.value_as_real, a.value_as_bytes, a.result_operator, a.range_high, a.range_low,
           a.result_status, a.units, a.comment, a.valid_from, a.stored_from, a.source_ids_id
    FROM star.lab_result_audit a WHERE a.stored_from <= believed_at AND believed_at < a.stored_until;
END;
COMMENT ON FUNCTION star.lab_result_as_of(timestamptz) IS 'Lab results as the warehouse held them at a stored time (believed_at): a corrected result shows its earlier value before the correction was stored.';
