-- The questions analysts ask first, answered once, the same way for everyone: who is in now and
-- where, how full each ward is (now or at any moment), admissions and discharges per day, where
-- a patient has been, which MRNs were merged, and each inpatient's latest results and
-- observations. Views over the star tables (so a replay and `ward promote` carry them), each
-- with the live MRN (merges followed). An inpatient is a visit admitted and not discharged,
-- as `ward summary` counts them. Days are the database's time zone's (`ward migrate` sets the
-- site's).

CREATE VIEW star.current_inpatient AS
SELECT v.hospital_visit_id,
       i.live_mrn,
       v.encounter,
       v.patient_class,
       v.admission_datetime,
       now() - v.admission_datetime AS length_of_stay,
       here.location_string,
       here.department_code,
       here.room_code,
       here.bed_code,
       here.admission_datetime AS at_location_since
FROM star.hospital_visit v
JOIN star.patient_identity i ON i.mrn_id = v.mrn_id
LEFT JOIN LATERAL (
    SELECT l.location_string, l.department_code, l.room_code, l.bed_code, lv.admission_datetime
    FROM star.location_visit lv JOIN star.location l USING (location_id)
    WHERE lv.hospital_visit_id = v.hospital_visit_id AND lv.discharge_datetime IS NULL
    ORDER BY lv.admission_datetime DESC NULLS LAST, lv.location_visit_id DESC
    LIMIT 1) here ON true
WHERE v.admission_datetime IS NOT NULL AND v.discharge_datetime IS NULL;

COMMENT ON VIEW star.current_inpatient IS 'Every visit admitted and not yet discharged, with the patient''s live MRN, where they are now and how long they have been in.';
COMMENT ON COLUMN star.current_inpatient.hospital_visit_id IS 'The visit.';
COMMENT ON COLUMN star.current_inpatient.live_mrn IS 'The MRN that represents the patient now (merges followed).';
COMMENT ON COLUMN star.current_inpatient.encounter IS 'The visit''s encounter number (CSN).';
COMMENT ON COLUMN star.current_inpatient.patient_class IS 'Inpatient, emergency, day case…, as the visit last said.';
COMMENT ON COLUMN star.current_inpatient.admission_datetime IS 'When the visit was admitted (hospital time).';
COMMENT ON COLUMN star.current_inpatient.length_of_stay IS 'Time since admission, at query time.';
COMMENT ON COLUMN star.current_inpatient.location_string IS 'Where the patient is now (department^room^bed); NULL if no open location stay.';
COMMENT ON COLUMN star.current_inpatient.department_code IS 'The ward or department now.';
COMMENT ON COLUMN star.current_inpatient.room_code IS 'The room or bay now.';
COMMENT ON COLUMN star.current_inpatient.bed_code IS 'The bed now.';
COMMENT ON COLUMN star.current_inpatient.at_location_since IS 'When the patient arrived where they are now.';

-- Occupancy at a hospital time, as the warehouse holds it now (for what it believed then, use
-- location_visit_as_of).
CREATE FUNCTION star.bed_occupancy_at(at timestamptz)
RETURNS TABLE (department_code text, patients bigint, beds_used bigint)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT l.department_code, count(DISTINCT lv.hospital_visit_id),
           count(DISTINCT l.bed_code)
    FROM star.location_visit lv JOIN star.location l USING (location_id)
    WHERE lv.admission_datetime <= at
      AND (lv.discharge_datetime IS NULL OR lv.discharge_datetime > at)
    GROUP BY l.department_code;
END;
COMMENT ON FUNCTION star.bed_occupancy_at(timestamptz) IS 'Patients and distinct beds in use per department (ward) at a hospital time: bed_occupancy_at(''2026-11-30T08:00Z'').';

CREATE VIEW star.bed_occupancy AS
SELECT department_code, patients, beds_used FROM star.bed_occupancy_at(now());
COMMENT ON VIEW star.bed_occupancy IS 'Patients and distinct beds in use per department (ward) now; bed_occupancy_at(T) for another moment.';
COMMENT ON COLUMN star.bed_occupancy.department_code IS 'The ward or department.';
COMMENT ON COLUMN star.bed_occupancy.patients IS 'Patients there now.';
COMMENT ON COLUMN star.bed_occupancy.beds_used IS 'Distinct beds they occupy (patients without a bed, e.g. in a waiting area, count in patients only).';

CREATE VIEW star.admissions_and_discharges_per_day AS
SELECT day, sum(admissions)::bigint AS admissions, sum(discharges)::bigint AS discharges
FROM (SELECT admission_datetime::date AS day, 1 AS admissions, 0 AS discharges
      FROM star.hospital_visit WHERE admission_datetime IS NOT NULL
      UNION ALL
      SELECT discharge_datetime::date, 0, 1
      FROM star.hospital_visit
      WHERE admission_datetime IS NOT NULL AND discharge_datetime IS NOT NULL) d
GROUP BY day;
COMMENT ON VIEW star.admissions_and_discharges_per_day IS 'Admissions and discharges of admitted visits per day, days in the database''s time zone (the site''s).';
COMMENT ON COLUMN star.admissions_and_discharges_per_day.day IS 'The day.';
COMMENT ON COLUMN star.admissions_and_discharges_per_day.admissions IS 'Visits admitted that day.';
COMMENT ON COLUMN star.admissions_and_discharges_per_day.discharges IS 'Admitted visits discharged that day.';

CREATE VIEW star.location_history AS
SELECT i.live_mrn, v.encounter, lv.location_visit_id, l.location_string, l.department_code,
       l.room_code, l.bed_code, lv.admission_datetime, lv.discharge_datetime,
       lv.inferred_admission, lv.inferred_discharge
FROM star.location_visit lv
JOIN star.location l USING (location_id)
JOIN star.hospital_visit v USING (hospital_visit_id)
JOIN star.patient_identity i ON i.mrn_id = v.mrn_id;
COMMENT ON VIEW star.location_history IS 'Every stay of every patient in a location, with the live MRN: ORDER BY live_mrn, admission_datetime for a patient''s path.';
COMMENT ON COLUMN star.location_history.live_mrn IS 'The MRN that represents the patient now.';
COMMENT ON COLUMN star.location_history.encounter IS 'The visit''s encounter number (CSN).';
COMMENT ON COLUMN star.location_history.location_visit_id IS 'The stay.';
COMMENT ON COLUMN star.location_history.location_string IS 'Where (department^room^bed).';
COMMENT ON COLUMN star.location_history.department_code IS 'The ward or department.';
COMMENT ON COLUMN star.location_history.room_code IS 'The room or bay.';
COMMENT ON COLUMN star.location_history.bed_code IS 'The bed.';
COMMENT ON COLUMN star.location_history.admission_datetime IS 'Arrival (hospital time).';
COMMENT ON COLUMN star.location_history.discharge_datetime IS 'Departure; NULL while there.';
COMMENT ON COLUMN star.location_history.inferred_admission IS 'Whether the arrival was inferred (no message said it).';
COMMENT ON COLUMN star.location_history.inferred_discharge IS 'Whether the departure was inferred.';

CREATE VIEW star.merged_mrn AS
SELECT mrn, nhs_number, live_mrn, live_nhs_number, live_since AS merged_since
FROM star.patient_identity WHERE mrn_id <> live_mrn_id;
COMMENT ON VIEW star.merged_mrn IS 'Every MRN merged into another, with the MRN that survives for it.';
COMMENT ON COLUMN star.merged_mrn.mrn IS 'The retired hospital number.';
COMMENT ON COLUMN star.merged_mrn.nhs_number IS 'Its NHS number.';
COMMENT ON COLUMN star.merged_mrn.live_mrn IS 'The hospital number that represents the patient now.';
COMMENT ON COLUMN star.merged_mrn.live_nhs_number IS 'The surviving NHS number.';
COMMENT ON COLUMN star.merged_mrn.merged_since IS 'Since when (hospital time) the mapping holds.';

CREATE VIEW star.inpatient_latest_lab_result AS
SELECT DISTINCT ON (p.hospital_visit_id, d.lab_test_definition_id)
       p.live_mrn, p.encounter, d.test_lab_code, d.name AS test_name, r.value_as_real,
       r.value_as_text, r.units, r.abnormal_flag, r.result_status,
       r.result_last_modified_datetime
FROM star.current_inpatient p
JOIN star.lab_order o ON o.hospital_visit_id = p.hospital_visit_id
JOIN star.lab_result r USING (lab_order_id)
JOIN star.lab_test_definition d USING (lab_test_definition_id)
ORDER BY p.hospital_visit_id, d.lab_test_definition_id, r.result_last_modified_datetime DESC,
         r.lab_result_id DESC;
COMMENT ON VIEW star.inpatient_latest_lab_result IS 'Each current inpatient''s latest result of every test they have had this visit.';
COMMENT ON COLUMN star.inpatient_latest_lab_result.live_mrn IS 'The MRN that represents the patient now.';
COMMENT ON COLUMN star.inpatient_latest_lab_result.encounter IS 'The visit''s encounter number (CSN).';
COMMENT ON COLUMN star.inpatient_latest_lab_result.test_lab_code IS 'The test''s code in its lab system (e.g. HB).';
COMMENT ON COLUMN star.inpatient_latest_lab_result.test_name IS 'The test''s name, once lab metadata names it.';
COMMENT ON COLUMN star.inpatient_latest_lab_result.value_as_real IS 'A numeric result.';
COMMENT ON COLUMN star.inpatient_latest_lab_result.value_as_text IS 'A text result.';
COMMENT ON COLUMN star.inpatient_latest_lab_result.units IS 'Its units.';
COMMENT ON COLUMN star.inpatient_latest_lab_result.abnormal_flag IS 'H, L… as the lab flagged it.';
COMMENT ON COLUMN star.inpatient_latest_lab_result.result_status IS 'Preliminary, final, corrected…';
COMMENT ON COLUMN star.inpatient_latest_lab_result.result_last_modified_datetime IS 'When the lab last changed the result.';

CREATE VIEW star.inpatient_latest_observation AS
SELECT DISTINCT ON (p.hospital_visit_id, t.visit_observation_type_id)
       p.live_mrn, p.encounter, t.interface_id, coalesce(t.name, t.display_name) AS observation,
       o.value_as_real, o.value_as_text, o.unit, o.observation_datetime
FROM star.current_inpatient p
JOIN star.visit_observation o ON o.hospital_visit_id = p.hospital_visit_id
JOIN star.visit_observation_type t USING (visit_observation_type_id)
WHERE o.value_as_real IS NOT NULL OR o.value_as_text IS NOT NULL
ORDER BY p.hospital_visit_id, t.visit_observation_type_id, o.observation_datetime DESC;
COMMENT ON VIEW star.inpatient_latest_observation IS 'Each current inpatient''s latest value of every observation (vital sign, score…) charted this visit; values deleted in error are skipped.';
COMMENT ON COLUMN star.inpatient_latest_observation.live_mrn IS 'The MRN that represents the patient now.';
COMMENT ON COLUMN star.inpatient_latest_observation.encounter IS 'The visit''s encounter number (CSN).';
COMMENT ON COLUMN star.inpatient_latest_observation.interface_id IS 'The observation type''s HL7 interface id (OBX-3.1).';
COMMENT ON COLUMN star.inpatient_latest_observation.observation IS 'Its name, once flowsheet metadata names it.';
COMMENT ON COLUMN star.inpatient_latest_observation.value_as_real IS 'A numeric value.';
COMMENT ON COLUMN star.inpatient_latest_observation.value_as_text IS 'A text value (e.g. a blood pressure 140/90).';
COMMENT ON COLUMN star.inpatient_latest_observation.unit IS 'Its unit.';
COMMENT ON COLUMN star.inpatient_latest_observation.observation_datetime IS 'When it was observed.';

GRANT SELECT ON star.current_inpatient, star.bed_occupancy, star.admissions_and_discharges_per_day,
    star.location_history, star.merged_mrn, star.inpatient_latest_lab_result,
    star.inpatient_latest_observation TO ward_analyst;
