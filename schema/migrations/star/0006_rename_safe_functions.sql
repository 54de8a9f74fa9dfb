-- Invariant: nothing in a star schema refers to its own schema by name at run time, so that
-- `ward promote` can rename a rebuilt schema to `star` (and the old one away) in one
-- transaction. Views are stored parsed; SQL functions are too when their body is BEGIN ATOMIC
-- (a quoted body would keep naming the schema it was created in).

CREATE OR REPLACE FUNCTION star.hospital_visit_as_of(believed_at timestamptz)
RETURNS TABLE (hospital_visit_id bigint, mrn_id bigint, encounter text, source_system text,
               presentation_datetime timestamptz, admission_datetime timestamptz,
               discharge_datetime timestamptz, patient_class text, arrival_method text,
               discharge_destination text, discharge_disposition text,
               valid_from timestamptz, stored_from timestamptz, source_ids_id text)
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

CREATE OR REPLACE FUNCTION star.location_visit_as_of(believed_at timestamptz)
RETURNS TABLE (location_visit_id bigint, hospital_visit_id bigint, location_id bigint,
               admission_datetime timestamptz, discharge_datetime timestamptz,
               inferred_admission boolean, inferred_discharge boolean,
               valid_from timestamptz, stored_from timestamptz, source_ids_id text)
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
