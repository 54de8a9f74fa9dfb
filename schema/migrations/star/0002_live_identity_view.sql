-- Invariant: analysts find a person's live identity in one place. Every MRN ever seen maps,
-- through mrn_to_live, to the MRN that represents the patient now.

CREATE VIEW star.patient_identity AS
SELECT m.mrn_id,
       m.mrn,
       m.nhs_number,
       t.live_mrn_id,
       live.mrn        AS live_mrn,
       live.nhs_number AS live_nhs_number,
       t.valid_from    AS live_since
FROM star.mrn m
JOIN star.mrn_to_live t USING (mrn_id)
JOIN star.mrn live ON live.mrn_id = t.live_mrn_id;

COMMENT ON VIEW star.patient_identity IS 'Every MRN with the MRN that represents the same patient now (itself unless merged). Join data recorded under any MRN through live_mrn_id to see one row per person.';
COMMENT ON COLUMN star.patient_identity.mrn_id IS 'An MRN row.';
COMMENT ON COLUMN star.patient_identity.mrn IS 'Its hospital number.';
COMMENT ON COLUMN star.patient_identity.nhs_number IS 'Its NHS number.';
COMMENT ON COLUMN star.patient_identity.live_mrn_id IS 'The MRN row that survives for it.';
COMMENT ON COLUMN star.patient_identity.live_mrn IS 'The surviving hospital number.';
COMMENT ON COLUMN star.patient_identity.live_nhs_number IS 'The surviving NHS number.';
COMMENT ON COLUMN star.patient_identity.live_since IS 'Since when (hospital time) the mapping holds.';
