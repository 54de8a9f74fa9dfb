-- Invariant: provenance joins the IDS. Every star row's source_ids_id is the bigint id of the
-- `ids.message` that produced it, so "trace a fact to its HL7 message" is a plain join
-- (`JOIN ids.message m ON m.id = t.source_ids_id`) and ties between messages of one hospital
-- time are broken by IDS id as a number (as text, '9' sorted after '10'). Rows written from a
-- source that is not the IDS have none.
--
-- The as-of functions return the column, so they are dropped and created again around the
-- change, with the same bodies and comments.

DROP FUNCTION star.hospital_visit_as_of(timestamptz);
DROP FUNCTION star.location_visit_as_of(timestamptz);
DROP FUNCTION star.lab_order_as_of(timestamptz);
DROP FUNCTION star.lab_result_as_of(timestamptz);
DROP FUNCTION star.visit_observation_as_of(timestamptz);
DROP FUNCTION star.patient_condition_as_of(timestamptz);

ALTER TABLE star.advance_decision ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.advance_decision_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.advance_decision_type ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.allergen_reaction ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.allergen_reaction_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.bed ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.bed_state ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.condition_type ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.condition_visits ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.consultation_request ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.consultation_request_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.consultation_type ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.consultation_type_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.core_demographic ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.core_demographic_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.department ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.department_state ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.form ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.form_answer ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.form_answer_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.form_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.form_definition ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.form_definition_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.form_question ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.form_question_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.hospital_visit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.hospital_visit_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_battery ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_battery_element ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_isolate ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_isolate_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_order ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_order_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_order_cancellation ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_result ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_result_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_sample ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_sample_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_sensitivity ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_sensitivity_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.lab_test_definition ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.location_visit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.location_visit_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.movement_cancellation ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.mrn ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.mrn_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.mrn_to_live ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.mrn_to_live_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.patient_condition ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.patient_condition_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.planned_movement ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.planned_movement_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.question ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.request_answer ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.request_answer_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.room ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.room_state ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.visit_movement ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.visit_observation ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.visit_observation_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.visit_observation_type ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;
ALTER TABLE star.visit_observation_type_audit ALTER COLUMN source_ids_id TYPE bigint
    USING CASE WHEN source_ids_id ~ '^[0-9]{1,18}$' THEN source_ids_id::bigint END;

CREATE FUNCTION star.hospital_visit_as_of(believed_at timestamptz)
RETURNS TABLE (hospital_visit_id bigint, mrn_id bigint, encounter text, source_system text,
               presentation_datetime timestamptz, admission_datetime timestamptz,
               discharge_datetime timestamptz, patient_class text, arrival_method text,
               discharge_destination text, discharge_disposition text,
               valid_from timestamptz, stored_from timestamptz, source_ids_id bigint)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT v.hospital_visit_id, v.mrn_id, v.encounter, v.source_system, v.presentation_datetime,
           v.admission_datetime, v.discharge_datetime, v.patient_class, v.arrival_method,
           v.discharge_destination, v.discharge_disposition, v.valid_from, v.stored_from,
           v.source_ids_id
    FROM star.hospital_visit v WHERE v.stored_from <= believed_at
    UNION ALL
    SELECT a.hospital_visit_id, a.mrn_id, a.encounter, a.source_system, a.presentation_datetime,
           a.admission_datetime, a.discharge_datetime, a.patient_class, a.arrival_method,
           a.discharge_destination, a.discharge_disposition, a.valid_from, a.stored_from,
           a.source_ids_id
    FROM star.hospital_visit_audit a WHERE a.stored_from <= believed_at AND believed_at < a.stored_until;
END;
COMMENT ON FUNCTION star.hospital_visit_as_of(timestamptz) IS 'The hospital_visit rows as the warehouse held them at the given moment (stored time): SELECT * FROM star.hospital_visit_as_of(''2024-03-01 12:00+00'').';

CREATE FUNCTION star.location_visit_as_of(believed_at timestamptz)
RETURNS TABLE (location_visit_id bigint, hospital_visit_id bigint, location_id bigint,
               admission_datetime timestamptz, discharge_datetime timestamptz,
               inferred_admission boolean, inferred_discharge boolean,
               valid_from timestamptz, stored_from timestamptz, source_ids_id bigint)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT v.location_visit_id, v.hospital_visit_id, v.location_id, v.admission_datetime,
           v.discharge_datetime, v.inferred_admission, v.inferred_discharge, v.valid_from,
           v.stored_from, v.source_ids_id
    FROM star.location_visit v WHERE v.stored_from <= believed_at
    UNION ALL
    SELECT a.location_visit_id, a.hospital_visit_id, a.location_id, a.admission_datetime,
           a.discharge_datetime, a.inferred_admission, a.inferred_discharge, a.valid_from,
           a.stored_from, a.source_ids_id
    FROM star.location_visit_audit a WHERE a.stored_from <= believed_at AND believed_at < a.stored_until;
END;
COMMENT ON FUNCTION star.location_visit_as_of(timestamptz) IS 'The location_visit rows as the warehouse held them at the given moment (stored time): SELECT * FROM star.location_visit_as_of(''2024-03-01 12:00+00'').';

CREATE FUNCTION star.lab_order_as_of(believed_at timestamptz)
RETURNS TABLE (lab_order_id bigint, lab_sample_id bigint, hospital_visit_id bigint,
               lab_battery_id bigint, order_datetime timestamptz, request_datetime timestamptz,
               clinical_information text, internal_lab_number text, source_system text,
               valid_from timestamptz, stored_from timestamptz, source_ids_id bigint)
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
               valid_from timestamptz, stored_from timestamptz, source_ids_id bigint)
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

CREATE FUNCTION star.visit_observation_as_of(believed_at timestamptz)
RETURNS TABLE (visit_observation_id bigint, visit_observation_type_id bigint,
               hospital_visit_id bigint, observation_datetime timestamptz, value_as_text text,
               value_as_real double precision, value_as_date date, value_as_time time,
               unit text, comment text, source_system text, valid_from timestamptz,
               stored_from timestamptz, source_ids_id bigint)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT o.visit_observation_id, o.visit_observation_type_id, o.hospital_visit_id,
           o.observation_datetime, o.value_as_text, o.value_as_real, o.value_as_date,
           o.value_as_time, o.unit, o.comment, o.source_system, o.valid_from, o.stored_from,
           o.source_ids_id
    FROM star.visit_observation o WHERE o.stored_from <= believed_at
    UNION ALL
    SELECT a.visit_observation_id, a.visit_observation_type_id, a.hospital_visit_id,
           a.observation_datetime, a.value_as_text, a.value_as_real, a.value_as_date,
           a.value_as_time, a.unit, a.comment, a.source_system, a.valid_from, a.stored_from,
           a.source_ids_id
    FROM star.visit_observation_audit a
    WHERE a.stored_from <= believed_at AND believed_at < a.stored_until;
END;
COMMENT ON FUNCTION star.visit_observation_as_of(timestamptz) IS 'Visit observations as the warehouse held them at a stored time (believed_at): a corrected value shows its earlier value before the correction was stored.';

CREATE FUNCTION star.patient_condition_as_of(believed_at timestamptz)
RETURNS TABLE (patient_condition_id bigint, condition_type_id bigint, internal_id bigint,
               mrn_id bigint, hospital_visit_id bigint, added_datetime timestamptz,
               added_date date, resolution_datetime timestamptz, resolution_date date,
               onset_date date, status text, is_deleted boolean, comment text, severity text,
               valid_from timestamptz, stored_from timestamptz, source_ids_id bigint)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT c.patient_condition_id, c.condition_type_id, c.internal_id, c.mrn_id,
           c.hospital_visit_id, c.added_datetime, c.added_date, c.resolution_datetime,
           c.resolution_date, c.onset_date, c.status, c.is_deleted, c.comment, c.severity,
           c.valid_from, c.stored_from, c.source_ids_id
    FROM star.patient_condition c WHERE c.stored_from <= believed_at
    UNION ALL
    SELECT a.patient_condition_id, a.condition_type_id, a.internal_id, a.mrn_id,
           a.hospital_visit_id, a.added_datetime, a.added_date, a.resolution_datetime,
           a.resolution_date, a.onset_date, a.status, a.is_deleted, a.comment, a.severity,
           a.valid_from, a.stored_from, a.source_ids_id
    FROM star.patient_condition_audit a
    WHERE a.stored_from <= believed_at AND believed_at < a.stored_until;
END;
COMMENT ON FUNCTION star.patient_condition_as_of(timestamptz) IS 'Patient conditions as the warehouse held them at a stored time (believed_at): a problem shows as active before its resolution was stored.';
