-- A small Clarity/Caboodle-like reporting schema with a few rows, for the example sources file
-- (clarity.toml): what `scripts/demo` loads as the quick start's source database and what
-- table-reader/tests/example.rs reads. The rows are those behind EMAP's clarity/caboodle
-- interchange fixtures (testdata/UCLH-DHCT__emap/.../PatientProblem/clarity_add.yaml,
-- PatientInfection/updated_only.yaml, ResearchOptOut/all_opt_out.yaml). Times without a zone
-- are the hospital's local time, as Clarity keeps them.

CREATE TABLE patient (
    pat_id     text PRIMARY KEY,
    pat_mrn_id text,
    nhs_number text
);

CREATE TABLE pat_enc_hsp (
    pat_enc_csn_id bigint PRIMARY KEY,
    pat_id         text REFERENCES patient,
    hsp_account_id text
);

CREATE TABLE problem_list (
    problem_list_id bigint PRIMARY KEY,
    pat_id          text REFERENCES patient,
    pat_enc_csn_id  bigint REFERENCES pat_enc_hsp,
    dx_code         text,
    dx_name         text,
    problem_status  text,
    noted_date      date,
    onset_date      date,
    resolved_date   date,
    update_date     timestamp NOT NULL
);

CREATE TABLE infection (
    infection_id   bigint PRIMARY KEY,
    pat_id         text REFERENCES patient,
    infection_type text,
    status         text,
    add_utc_dttm   timestamptz,
    resolve_utc_dttm timestamptz,
    onset_date     date,
    comments       text,
    update_date    timestamp NOT NULL
);

CREATE TABLE research_opt_out (
    opt_out_id   bigint PRIMARY KEY,
    pat_mrn_id   text,
    nhs_number   text,
    is_opted_out boolean NOT NULL,
    update_date  timestamp NOT NULL
);

INSERT INTO patient VALUES ('Z1', '8DcEwvqa8Q3', NULL), ('Z2', 'suI83US', NULL);
INSERT INTO pat_enc_hsp VALUES (5001, 'Z1', '1234');
INSERT INTO problem_list VALUES
    (1, 'Z1', 5001, 'C90.0', 'Multiple Myeloma', 'Active', '2019-06-01', '2019-05-31', NULL,
     '2019-06-09 02:00:05');
INSERT INTO infection VALUES
    (1, 'Z1', 'Mumps', 'Active', '2019-06-02 10:31:05Z', '2019-06-08 14:22:01Z', '2019-03-05',
     NULL, '2019-06-09 02:00:05'),
    (2, 'Z2', 'Varicella', 'Deleted', '2019-06-08 02:05:49Z', NULL, '2019-03-20',
     'Proin risus.', '2019-06-09 02:00:05');
INSERT INTO research_opt_out VALUES
    (1, '60600000', '1111111111', true, '2019-04-10 10:00:00'),
    (2, NULL, '4000011112', false, '2022-01-10 12:00:00'),
    (3, 'Y26533918', NULL, true, '2022-01-16 12:00:00'),
    (4, NULL, '5555555555', true, '2022-01-20 10:00:00'),
    (5, 'idontexist', NULL, true, '2022-01-20 12:00:00');
