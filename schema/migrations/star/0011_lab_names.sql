-- Lab metadata (LB13): batteries and tests take their names from lab metadata messages. A name
-- is a reference row's value like a test's department: the one given by the latest metadata
-- (ties by name), whatever order the metadata arrives in, so its time is kept beside it.

ALTER TABLE star.lab_battery ADD COLUMN battery_name_valid_from timestamptz;
COMMENT ON COLUMN star.lab_battery.battery_name_valid_from IS 'Hospital time of the lab metadata that gave battery_name.';
ALTER TABLE star.lab_test_definition ADD COLUMN name_valid_from timestamptz;
COMMENT ON COLUMN star.lab_test_definition.name_valid_from IS 'Hospital time of the lab metadata that gave name.';
