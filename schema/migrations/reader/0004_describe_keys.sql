-- Every column says what it holds (docs/data-dictionary.md is generated from these).
COMMENT ON COLUMN reader.error.id IS 'Surrogate key.';
COMMENT ON COLUMN reader.ignored.id IS 'Surrogate key.';
