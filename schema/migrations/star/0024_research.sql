-- Research governance: what a researcher may see. Research views show each patient under a
-- per-project pseudonym (a keyed HMAC of the live MRN computed by `ward research` with a key
-- that never enters the database, so the same key and MRN give the same pseudonym in any
-- replay), dates optionally shifted by a per-patient number of days, and none of: names, MRNs,
-- NHS numbers, encounter numbers, full postcodes (only the district, the outward code), free
-- text (comments, text reports, notes). A patient who opted out of research (on any of their
-- MRNs: the flag spreads across merges) is in no research view, whatever was pseudonymised
-- before. The researcher role reads these views and nothing else.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ward_researcher') THEN
        CREATE ROLE ward_researcher NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE TABLE star.research_pseudonym (
    project         text NOT NULL,
    mrn_id          bigint NOT NULL,
    pseudonym       text NOT NULL,
    date_shift_days integer NOT NULL,
    PRIMARY KEY (project, mrn_id),
    UNIQUE (project, pseudonym)
);
COMMENT ON TABLE star.research_pseudonym IS 'Each live patient''s pseudonym in each research project, written by `ward research` (HMAC-SHA256 of project and live MRN under a key kept outside the database). Not readable by researchers.';
COMMENT ON COLUMN star.research_pseudonym.project IS 'The research project.';
COMMENT ON COLUMN star.research_pseudonym.mrn_id IS 'The patient''s live MRN row.';
COMMENT ON COLUMN star.research_pseudonym.pseudonym IS 'The patient''s pseudonym in the project.';
COMMENT ON COLUMN star.research_pseudonym.date_shift_days IS 'Days every date of the patient is shifted by in research views (0 when the project keeps real dates).';

-- The patients a research view may show: pseudonymised and not opted out, with every MRN
-- that is theirs.
CREATE VIEW star.research_cohort AS
SELECT p.project, p.pseudonym, p.date_shift_days, i.mrn_id
FROM star.research_pseudonym p
JOIN star.mrn live ON live.mrn_id = p.mrn_id AND NOT live.research_opt_out
JOIN star.patient_identity i ON i.live_mrn_id = p.mrn_id;
COMMENT ON VIEW star.research_cohort IS 'Which MRN rows each project''s pseudonymised, not opted-out patients have (internal to the research views; not readable by researchers).';
COMMENT ON COLUMN star.research_cohort.project IS 'The research project.';
COMMENT ON COLUMN star.research_cohort.pseudonym IS 'The patient''s pseudonym in it.';
COMMENT ON COLUMN star.research_cohort.date_shift_days IS 'The patient''s date shift.';
COMMENT ON COLUMN star.research_cohort.mrn_id IS 'One of the patient''s MRN rows.';

CREATE VIEW star.research_patient AS
SELECT c.project, c.pseudonym, d.sex, d.ethnicity,
       d.date_of_birth + c.date_shift_days AS date_of_birth,
       d.date_of_death + c.date_shift_days AS date_of_death, d.alive,
       nullif(split_part(upper(trim(d.home_postcode)), ' ', 1), '') AS postcode_district
FROM star.research_cohort c
JOIN star.research_pseudonym p ON p.project = c.project AND p.mrn_id = c.mrn_id
JOIN star.core_demographic d ON d.mrn_id = c.mrn_id;
COMMENT ON VIEW star.research_patient IS 'One row per pseudonymised patient and project: no name, MRN, NHS number or full postcode; dates shifted.';
COMMENT ON COLUMN star.research_patient.project IS 'The research project.';
COMMENT ON COLUMN star.research_patient.pseudonym IS 'The patient''s pseudonym in it.';
COMMENT ON COLUMN star.research_patient.sex IS 'Sex (PID-8).';
COMMENT ON COLUMN star.research_patient.ethnicity IS 'Ethnic group.';
COMMENT ON COLUMN star.research_patient.date_of_birth IS 'Date of birth, shifted by the patient''s date shift.';
COMMENT ON COLUMN star.research_patient.date_of_death IS 'Date of death, shifted likewise.';
COMMENT ON COLUMN star.research_patient.alive IS 'Whether alive.';
COMMENT ON COLUMN star.research_patient.postcode_district IS 'The postcode''s outward code only (e.g. NW1), never the full postcode.';

CREATE VIEW star.research_visit AS
SELECT c.project, c.pseudonym, v.hospital_visit_id AS visit_key, v.patient_class,
       v.presentation_datetime + make_interval(days => c.date_shift_days) AS presentation_datetime,
       v.admission_datetime + make_interval(days => c.date_shift_days) AS admission_datetime,
       v.discharge_datetime + make_interval(days => c.date_shift_days) AS discharge_datetime,
       v.arrival_method, v.discharge_disposition, v.discharge_destination
FROM star.research_cohort c
JOIN star.hospital_visit v ON v.mrn_id = c.mrn_id;
COMMENT ON VIEW star.research_visit IS 'Each pseudonymised patient''s hospital visits, keyed by a surrogate (never the encounter number), dates shifted.';
COMMENT ON COLUMN star.research_visit.project IS 'The research project.';
COMMENT ON COLUMN star.research_visit.pseudonym IS 'The patient''s pseudonym.';
COMMENT ON COLUMN star.research_visit.visit_key IS 'The visit''s surrogate key (joins the other research views; not stable across a replay).';
COMMENT ON COLUMN star.research_visit.patient_class IS 'Inpatient, emergency, outpatient…';
COMMENT ON COLUMN star.research_visit.presentation_datetime IS 'Arrival at ED, shifted.';
COMMENT ON COLUMN star.research_visit.admission_datetime IS 'Admission, shifted.';
COMMENT ON COLUMN star.research_visit.discharge_datetime IS 'Discharge, shifted.';
COMMENT ON COLUMN star.research_visit.arrival_method IS 'How the patient arrived.';
COMMENT ON COLUMN star.research_visit.discharge_disposition IS 'Discharge disposition.';
COMMENT ON COLUMN star.research_visit.discharge_destination IS 'Discharge destination.';

CREATE VIEW star.research_location_visit AS
SELECT c.project, c.pseudonym, lv.hospital_visit_id AS visit_key, l.department_code,
       l.room_code, l.bed_code,
       lv.admission_datetime + make_interval(days => c.date_shift_days) AS admission_datetime,
       lv.discharge_datetime + make_interval(days => c.date_shift_days) AS discharge_datetime
FROM star.research_cohort c
JOIN star.hospital_visit v ON v.mrn_id = c.mrn_id
JOIN star.location_visit lv USING (hospital_visit_id)
JOIN star.location l USING (location_id);
COMMENT ON VIEW star.research_location_visit IS 'Where each pseudonymised patient stayed, dates shifted.';
COMMENT ON COLUMN star.research_location_visit.project IS 'The research project.';
COMMENT ON COLUMN star.research_location_visit.pseudonym IS 'The patient''s pseudonym.';
COMMENT ON COLUMN star.research_location_visit.visit_key IS 'The visit (research_visit.visit_key).';
COMMENT ON COLUMN star.research_location_visit.department_code IS 'The ward or department.';
COMMENT ON COLUMN star.research_location_visit.room_code IS 'The room or bay.';
COMMENT ON COLUMN star.research_location_visit.bed_code IS 'The bed.';
COMMENT ON COLUMN star.research_location_visit.admission_datetime IS 'Arrival, shifted.';
COMMENT ON COLUMN star.research_location_visit.discharge_datetime IS 'Departure, shifted.';

CREATE VIEW star.research_lab_result AS
SELECT c.project, c.pseudonym, o.hospital_visit_id AS visit_key, b.battery_code,
       d.test_lab_code, r.value_as_real, r.result_operator, r.units, r.range_low,
       r.range_high, r.abnormal_flag, r.result_status,
       r.result_last_modified_datetime + make_interval(days => c.date_shift_days)
           AS result_last_modified_datetime
FROM star.research_cohort c
JOIN star.lab_sample s ON s.mrn_id = c.mrn_id
JOIN star.lab_order o USING (lab_sample_id)
JOIN star.lab_battery b USING (lab_battery_id)
JOIN star.lab_result r USING (lab_order_id)
JOIN star.lab_test_definition d USING (lab_test_definition_id);
COMMENT ON VIEW star.research_lab_result IS 'Each pseudonymised patient''s numeric lab results (text results, reports and comments are free text and left out), dates shifted.';
COMMENT ON COLUMN star.research_lab_result.project IS 'The research project.';
COMMENT ON COLUMN star.research_lab_result.pseudonym IS 'The patient''s pseudonym.';
COMMENT ON COLUMN star.research_lab_result.visit_key IS 'The visit (research_visit.visit_key), if any.';
COMMENT ON COLUMN star.research_lab_result.battery_code IS 'The battery (panel) ordered.';
COMMENT ON COLUMN star.research_lab_result.test_lab_code IS 'The test.';
COMMENT ON COLUMN star.research_lab_result.value_as_real IS 'The numeric result.';
COMMENT ON COLUMN star.research_lab_result.result_operator IS '< or > for a result beyond the measurable range.';
COMMENT ON COLUMN star.research_lab_result.units IS 'Units.';
COMMENT ON COLUMN star.research_lab_result.range_low IS 'Reference range, low.';
COMMENT ON COLUMN star.research_lab_result.range_high IS 'Reference range, high.';
COMMENT ON COLUMN star.research_lab_result.abnormal_flag IS 'H, L… as flagged.';
COMMENT ON COLUMN star.research_lab_result.result_status IS 'Preliminary, final, corrected…';
COMMENT ON COLUMN star.research_lab_result.result_last_modified_datetime IS 'When the lab last changed it, shifted.';

CREATE VIEW star.research_observation AS
SELECT c.project, c.pseudonym, o.hospital_visit_id AS visit_key, t.interface_id,
       coalesce(t.name, t.display_name) AS observation, o.value_as_real, o.value_as_text,
       o.unit, o.observation_datetime + make_interval(days => c.date_shift_days)
           AS observation_datetime
FROM star.research_cohort c
JOIN star.hospital_visit v ON v.mrn_id = c.mrn_id
JOIN star.visit_observation o USING (hospital_visit_id)
JOIN star.visit_observation_type t USING (visit_observation_type_id);
COMMENT ON VIEW star.research_observation IS 'Each pseudonymised patient''s charted observations (vital signs, scores), without the nurses'' comments, dates shifted.';
COMMENT ON COLUMN star.research_observation.project IS 'The research project.';
COMMENT ON COLUMN star.research_observation.pseudonym IS 'The patient''s pseudonym.';
COMMENT ON COLUMN star.research_observation.visit_key IS 'The visit (research_visit.visit_key).';
COMMENT ON COLUMN star.research_observation.interface_id IS 'The observation type''s HL7 interface id.';
COMMENT ON COLUMN star.research_observation.observation IS 'Its name, once metadata names it.';
COMMENT ON COLUMN star.research_observation.value_as_real IS 'A numeric value.';
COMMENT ON COLUMN star.research_observation.value_as_text IS 'A coded or structured text value (e.g. a blood pressure 140/90).';
COMMENT ON COLUMN star.research_observation.unit IS 'Its unit.';
COMMENT ON COLUMN star.research_observation.observation_datetime IS 'When observed, shifted.';

CREATE VIEW star.research_condition AS
SELECT c.project, c.pseudonym, t.data_type, t.internal_code, t.name AS condition_name,
       pc.status, pc.severity,
       pc.is_deleted, pc.added_date + c.date_shift_days AS added_date,
       pc.resolution_date + c.date_shift_days AS resolution_date,
       pc.onset_date + c.date_shift_days AS onset_date
FROM star.research_cohort c
JOIN star.patient_condition pc ON pc.mrn_id = c.mrn_id
JOIN star.condition_type t USING (condition_type_id);
COMMENT ON VIEW star.research_condition IS 'Each pseudonymised patient''s problems, infections and allergies (no comments), dates shifted.';
COMMENT ON COLUMN star.research_condition.project IS 'The research project.';
COMMENT ON COLUMN star.research_condition.pseudonym IS 'The patient''s pseudonym.';
COMMENT ON COLUMN star.research_condition.data_type IS 'PROBLEM_LIST, PATIENT_INFECTION or PATIENT_ALLERGY.';
COMMENT ON COLUMN star.research_condition.internal_code IS 'The condition''s code (ICD-10 for problems).';
COMMENT ON COLUMN star.research_condition.condition_name IS 'The condition''s name.';
COMMENT ON COLUMN star.research_condition.status IS 'Active, resolved…';
COMMENT ON COLUMN star.research_condition.severity IS 'Severity (allergies).';
COMMENT ON COLUMN star.research_condition.is_deleted IS 'Whether the source deleted it.';
COMMENT ON COLUMN star.research_condition.added_date IS 'When added, shifted.';
COMMENT ON COLUMN star.research_condition.resolution_date IS 'When resolved, shifted.';
COMMENT ON COLUMN star.research_condition.onset_date IS 'Onset, shifted.';

-- Researchers read the research views, nothing else; the analyst reads them too (star's
-- default privileges), the processor never needs them.
GRANT USAGE ON SCHEMA star TO ward_researcher;
GRANT SELECT ON star.research_patient, star.research_visit, star.research_location_visit,
    star.research_lab_result, star.research_observation, star.research_condition
    TO ward_researcher;
REVOKE ALL ON star.research_pseudonym, star.research_cohort FROM ward_analyst, ward_processor;
