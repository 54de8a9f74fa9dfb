-- Invariant: every star table, view and column says what it holds, in an analyst's words
-- (checked by event-processor's `every_star_table_view_and_column_is_commented`).

COMMENT ON COLUMN star.core_demographic.core_demographic_id IS 'Surrogate key.';
COMMENT ON COLUMN star.mrn_to_live.mrn_to_live_id IS 'Surrogate key.';

COMMENT ON COLUMN star.mrn_audit.mrn_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.mrn_audit.mrn_id IS 'The mrn row this was a state of.';
COMMENT ON COLUMN star.mrn_audit.mrn IS 'As in mrn.';
COMMENT ON COLUMN star.mrn_audit.nhs_number IS 'As in mrn.';
COMMENT ON COLUMN star.mrn_audit.research_opt_out IS 'As in mrn.';
COMMENT ON COLUMN star.mrn_audit.source_system IS 'As in mrn.';
COMMENT ON COLUMN star.mrn_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.mrn_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

COMMENT ON COLUMN star.mrn_to_live_audit.mrn_to_live_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.mrn_to_live_audit.mrn_to_live_id IS 'The mrn_to_live row this was a state of.';
COMMENT ON COLUMN star.mrn_to_live_audit.mrn_id IS 'As in mrn_to_live.';
COMMENT ON COLUMN star.mrn_to_live_audit.live_mrn_id IS 'The MRN that survived for it then.';
COMMENT ON COLUMN star.mrn_to_live_audit.valid_from IS 'Hospital time from which this mapping held.';
COMMENT ON COLUMN star.mrn_to_live_audit.valid_until IS 'Hospital time of the merge that replaced it.';
COMMENT ON COLUMN star.mrn_to_live_audit.stored_from IS 'When the warehouse stored this mapping.';
COMMENT ON COLUMN star.mrn_to_live_audit.stored_until IS 'When the warehouse replaced it.';
COMMENT ON COLUMN star.mrn_to_live_audit.source_ids_id IS 'The message (IDS id) that produced this mapping.';

COMMENT ON COLUMN star.core_demographic_audit.core_demographic_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.core_demographic_audit.core_demographic_id IS 'The core_demographic row this was a state of.';
COMMENT ON COLUMN star.core_demographic_audit.mrn_id IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.firstname IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.middlename IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.lastname IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.date_of_birth IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.date_of_death IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.datetime_of_birth IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.datetime_of_death IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.alive IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.home_postcode IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.sex IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.ethnicity IS 'As in core_demographic.';
COMMENT ON COLUMN star.core_demographic_audit.valid_from IS 'Hospital time from which this state held.';
COMMENT ON COLUMN star.core_demographic_audit.valid_until IS 'Hospital time of the message that replaced or removed it.';
COMMENT ON COLUMN star.core_demographic_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.core_demographic_audit.stored_until IS 'When the warehouse replaced or removed it.';
COMMENT ON COLUMN star.core_demographic_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

COMMENT ON COLUMN star.dead_letter.dead_letter_id IS 'Surrogate key.';
COMMENT ON COLUMN star.dead_letter.message_class IS 'The interchange class of the refused message (e.g. AdmitPatient).';
COMMENT ON COLUMN star.dead_letter.recorded_at IS 'When the processor refused it.';
