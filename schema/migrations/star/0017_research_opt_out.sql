-- Research opt-outs (ResearchOptOut, from source tables) set mrn.research_opt_out; the newest
-- opt-out or withdrawal by its hospital time wins (an opt-out beats a withdrawal at the same
-- time), whatever order they arrive in, so the flag needs the time it holds from. Earlier states
-- are kept in mrn_audit, as identifier changes are.

ALTER TABLE star.mrn ADD COLUMN research_opt_out_valid_from timestamptz;
COMMENT ON COLUMN star.mrn.research_opt_out_valid_from IS 'Hospital time of the opt-out (or its withdrawal) research_opt_out holds; null when none was ever received.';
ALTER TABLE star.mrn_audit ADD COLUMN research_opt_out_valid_from timestamptz;
COMMENT ON COLUMN star.mrn_audit.research_opt_out_valid_from IS 'As in mrn.';
