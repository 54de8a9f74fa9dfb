-- Invariant: a hospital visit's admission, discharge and location history are a function of the
-- set of movements (star.visit_movement) and cancellations (star.movement_cancellation) received
-- for it, whatever order they arrived in. The processor re-derives location_visit from that set on
-- every movement message and writes only the difference, each change audited as in 0001.

CREATE TABLE star.hospital_visit (
    hospital_visit_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mrn_id                bigint NOT NULL REFERENCES star.mrn (mrn_id),
    encounter             text NOT NULL UNIQUE,
    source_system         text NOT NULL,
    presentation_datetime timestamptz,
    admission_datetime    timestamptz,
    discharge_datetime    timestamptz,
    patient_class         text,
    arrival_method        text,
    discharge_destination text,
    discharge_disposition text,
    valid_from            timestamptz NOT NULL,
    stored_from           timestamptz NOT NULL,
    source_ids_id         text
);
CREATE INDEX hospital_visit_mrn_id_idx ON star.hospital_visit (mrn_id);
COMMENT ON TABLE star.hospital_visit IS 'One row per hospital visit (encounter): an ED attendance, an admission, an outpatient appointment. Attached to the MRN that first reported it; join through mrn_to_live for the person.';
COMMENT ON COLUMN star.hospital_visit.hospital_visit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.hospital_visit.mrn_id IS 'The MRN the visit belongs to.';
COMMENT ON COLUMN star.hospital_visit.encounter IS 'The visit number (PV1-19, the Epic CSN); unique across the hospital.';
COMMENT ON COLUMN star.hospital_visit.source_system IS 'The system whose message last set the visit''s details.';
COMMENT ON COLUMN star.hospital_visit.presentation_datetime IS 'When the patient presented (registration, A04).';
COMMENT ON COLUMN star.hospital_visit.admission_datetime IS 'When the patient was admitted (A01, or the first movement seen when the admission was never received); null if the admission was cancelled.';
COMMENT ON COLUMN star.hospital_visit.discharge_datetime IS 'When the patient was discharged (A03); null while in hospital or after a cancelled discharge.';
COMMENT ON COLUMN star.hospital_visit.patient_class IS 'Inpatient, outpatient, emergency, day case… (PV1-2).';
COMMENT ON COLUMN star.hospital_visit.arrival_method IS 'How the patient arrived (PV2-38), e.g. ambulance.';
COMMENT ON COLUMN star.hospital_visit.discharge_destination IS 'Where the patient went on discharge (PV1-37).';
COMMENT ON COLUMN star.hospital_visit.discharge_disposition IS 'How the visit ended (PV1-36).';
COMMENT ON COLUMN star.hospital_visit.valid_from IS 'Hospital time of the message that last changed this row.';
COMMENT ON COLUMN star.hospital_visit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.hospital_visit.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.hospital_visit_audit (
    hospital_visit_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hospital_visit_id     bigint NOT NULL,
    mrn_id                bigint NOT NULL,
    encounter             text NOT NULL,
    source_system         text NOT NULL,
    presentation_datetime timestamptz,
    admission_datetime    timestamptz,
    discharge_datetime    timestamptz,
    patient_class         text,
    arrival_method        text,
    discharge_destination text,
    discharge_disposition text,
    valid_from            timestamptz NOT NULL,
    valid_until           timestamptz NOT NULL,
    stored_from           timestamptz NOT NULL,
    stored_until          timestamptz NOT NULL,
    source_ids_id         text
);
CREATE INDEX hospital_visit_audit_id_idx ON star.hospital_visit_audit (hospital_visit_id);
COMMENT ON TABLE star.hospital_visit_audit IS 'Previous states of hospital_visit rows (changed or deleted), each with the valid and stored intervals it held.';
COMMENT ON COLUMN star.hospital_visit_audit.hospital_visit_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.hospital_visit_audit.hospital_visit_id IS 'The hospital_visit row this was a state of.';
COMMENT ON COLUMN star.hospital_visit_audit.mrn_id IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.encounter IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.source_system IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.presentation_datetime IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.admission_datetime IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.discharge_datetime IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.patient_class IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.arrival_method IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.discharge_destination IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.discharge_disposition IS 'As in hospital_visit.';
COMMENT ON COLUMN star.hospital_visit_audit.valid_from IS 'Hospital time from which this state held.';
COMMENT ON COLUMN star.hospital_visit_audit.valid_until IS 'Hospital time of the message that replaced it.';
COMMENT ON COLUMN star.hospital_visit_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.hospital_visit_audit.stored_until IS 'When the warehouse replaced it.';
COMMENT ON COLUMN star.hospital_visit_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

CREATE TABLE star.location (
    location_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    location_string text NOT NULL UNIQUE,
    department_id   bigint,
    room_id         bigint,
    bed_id          bigint
);
COMMENT ON TABLE star.location IS 'Every location a patient has been placed in, by its HL7 string (department^room^bed). Created on first sight.';
COMMENT ON COLUMN star.location.location_id IS 'Surrogate key.';
COMMENT ON COLUMN star.location.location_string IS 'PV1-3 components 1 to 3 joined with ^ (department^room^bed; the word null for a missing part, as EMAP writes it).';
COMMENT ON COLUMN star.location.department_id IS 'The department, once location metadata names it (not filled by ADT).';
COMMENT ON COLUMN star.location.room_id IS 'The room, once location metadata names it (not filled by ADT).';
COMMENT ON COLUMN star.location.bed_id IS 'The bed, once location metadata names it (not filled by ADT).';

CREATE TABLE star.location_visit (
    location_visit_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hospital_visit_id        bigint NOT NULL REFERENCES star.hospital_visit (hospital_visit_id),
    location_id              bigint NOT NULL REFERENCES star.location (location_id),
    admission_datetime       timestamptz,
    discharge_datetime       timestamptz,
    inferred_admission       boolean NOT NULL DEFAULT false,
    inferred_discharge       boolean NOT NULL DEFAULT false,
    parent_location_visit_id bigint,
    valid_from               timestamptz NOT NULL,
    stored_from              timestamptz NOT NULL,
    source_ids_id            text
);
CREATE INDEX location_visit_hospital_visit_id_idx ON star.location_visit (hospital_visit_id);
CREATE INDEX location_visit_location_id_idx ON star.location_visit (location_id);
COMMENT ON TABLE star.location_visit IS 'Each stay of a patient in one location during a hospital visit. A null discharge_datetime means the patient is there now.';
COMMENT ON COLUMN star.location_visit.location_visit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.location_visit.hospital_visit_id IS 'The hospital visit.';
COMMENT ON COLUMN star.location_visit.location_id IS 'The location.';
COMMENT ON COLUMN star.location_visit.admission_datetime IS 'When the patient arrived in the location.';
COMMENT ON COLUMN star.location_visit.discharge_datetime IS 'When the patient left it; null while still there.';
COMMENT ON COLUMN star.location_visit.inferred_admission IS 'True if no message said when the patient arrived: the time is a guess from neighbouring movements (one second before the next known event).';
COMMENT ON COLUMN star.location_visit.inferred_discharge IS 'True if no message said the patient left this location: the time is when they were next seen elsewhere.';
COMMENT ON COLUMN star.location_visit.parent_location_visit_id IS 'Unused, kept for EMAP compatibility.';
COMMENT ON COLUMN star.location_visit.valid_from IS 'Hospital time of the message that last changed this row.';
COMMENT ON COLUMN star.location_visit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.location_visit.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.location_visit_audit (
    location_visit_audit_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    location_visit_id        bigint NOT NULL,
    hospital_visit_id        bigint NOT NULL,
    location_id              bigint NOT NULL,
    admission_datetime       timestamptz,
    discharge_datetime       timestamptz,
    inferred_admission       boolean NOT NULL,
    inferred_discharge       boolean NOT NULL,
    parent_location_visit_id bigint,
    valid_from               timestamptz NOT NULL,
    valid_until              timestamptz NOT NULL,
    stored_from              timestamptz NOT NULL,
    stored_until             timestamptz NOT NULL,
    source_ids_id            text
);
CREATE INDEX location_visit_audit_id_idx ON star.location_visit_audit (location_visit_id);
CREATE INDEX location_visit_audit_hospital_visit_id_idx ON star.location_visit_audit (hospital_visit_id);
COMMENT ON TABLE star.location_visit_audit IS 'Previous states of location_visit rows (changed or deleted), each with the valid and stored intervals it held. Unlike EMAP, never holds cancellation markers: see movement_cancellation.';
COMMENT ON COLUMN star.location_visit_audit.location_visit_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.location_visit_audit.location_visit_id IS 'The location_visit row this was a state of.';
COMMENT ON COLUMN star.location_visit_audit.hospital_visit_id IS 'As in location_visit.';
COMMENT ON COLUMN star.location_visit_audit.location_id IS 'As in location_visit.';
COMMENT ON COLUMN star.location_visit_audit.admission_datetime IS 'As in location_visit.';
COMMENT ON COLUMN star.location_visit_audit.discharge_datetime IS 'As in location_visit.';
COMMENT ON COLUMN star.location_visit_audit.inferred_admission IS 'As in location_visit.';
COMMENT ON COLUMN star.location_visit_audit.inferred_discharge IS 'As in location_visit.';
COMMENT ON COLUMN star.location_visit_audit.parent_location_visit_id IS 'As in location_visit.';
COMMENT ON COLUMN star.location_visit_audit.valid_from IS 'Hospital time from which this state held.';
COMMENT ON COLUMN star.location_visit_audit.valid_until IS 'Hospital time of the message that replaced or removed it.';
COMMENT ON COLUMN star.location_visit_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.location_visit_audit.stored_until IS 'When the warehouse replaced or removed it.';
COMMENT ON COLUMN star.location_visit_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

CREATE TABLE star.visit_movement (
    visit_movement_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hospital_visit_id     bigint NOT NULL REFERENCES star.hospital_visit (hospital_visit_id),
    event_type            text NOT NULL CHECK (event_type IN ('ADMIT', 'REGISTER', 'TRANSFER', 'DISCHARGE', 'SWAP')),
    event_datetime        timestamptz NOT NULL,
    location_id           bigint REFERENCES star.location (location_id),
    previous_location_id  bigint REFERENCES star.location (location_id),
    admission_datetime    timestamptz,
    presentation_datetime timestamptz,
    discharge_disposition text,
    discharge_destination text,
    valid_from            timestamptz NOT NULL,
    stored_from           timestamptz NOT NULL,
    source_ids_id         text,
    UNIQUE NULLS NOT DISTINCT (hospital_visit_id, event_type, event_datetime, location_id,
                               previous_location_id)
);
COMMENT ON TABLE star.visit_movement IS 'Every admission, registration, transfer and discharge received for a visit, from trusted sources, once each (a resent message adds nothing). location_visit and the visit''s admission and discharge times are worked out from these and movement_cancellation. Not in EMAP.';
COMMENT ON COLUMN star.visit_movement.visit_movement_id IS 'Surrogate key.';
COMMENT ON COLUMN star.visit_movement.hospital_visit_id IS 'The hospital visit.';
COMMENT ON COLUMN star.visit_movement.event_type IS 'ADMIT (A01), REGISTER (A04), TRANSFER (A02, A06, A07), DISCHARGE (A03) or SWAP (A17: the patient''s current stay was recorded in the wrong place and is relabelled).';
COMMENT ON COLUMN star.visit_movement.event_datetime IS 'When it happened: the event time (EVN-6, else EVN-2); for a discharge, the discharge time (PV1-45).';
COMMENT ON COLUMN star.visit_movement.location_id IS 'Where the patient was afterwards (PV1-3); null if the message did not say.';
COMMENT ON COLUMN star.visit_movement.previous_location_id IS 'Where the message says the patient was before (PV1-6).';
COMMENT ON COLUMN star.visit_movement.admission_datetime IS 'The admission time the message gave (PV1-44).';
COMMENT ON COLUMN star.visit_movement.presentation_datetime IS 'The presentation time a registration gave.';
COMMENT ON COLUMN star.visit_movement.discharge_disposition IS 'A discharge''s disposition (PV1-36).';
COMMENT ON COLUMN star.visit_movement.discharge_destination IS 'A discharge''s destination (PV1-37).';
COMMENT ON COLUMN star.visit_movement.valid_from IS 'Hospital time of the message.';
COMMENT ON COLUMN star.visit_movement.stored_from IS 'When the warehouse stored it.';
COMMENT ON COLUMN star.visit_movement.source_ids_id IS 'The message (IDS id) it came from.';

CREATE TABLE star.movement_cancellation (
    movement_cancellation_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hospital_visit_id        bigint NOT NULL REFERENCES star.hospital_visit (hospital_visit_id),
    event_type               text NOT NULL CHECK (event_type IN ('ADMIT', 'TRANSFER', 'DISCHARGE')),
    cancelled_datetime       timestamptz NOT NULL,
    location_id              bigint REFERENCES star.location (location_id),
    valid_from               timestamptz NOT NULL,
    stored_from              timestamptz NOT NULL,
    source_ids_id            text,
    UNIQUE NULLS NOT DISTINCT (hospital_visit_id, event_type, cancelled_datetime, location_id)
);
COMMENT ON TABLE star.movement_cancellation IS 'Every cancelled admission (A11), transfer (A12) and discharge (A13), kept whether it arrived before or after what it cancels: a cancelled movement has no effect on location_visit or hospital_visit, and a movement arriving after its cancellation is refused (dead-lettered with rule L3 or L17).';
COMMENT ON COLUMN star.movement_cancellation.movement_cancellation_id IS 'Surrogate key.';
COMMENT ON COLUMN star.movement_cancellation.hospital_visit_id IS 'The hospital visit.';
COMMENT ON COLUMN star.movement_cancellation.event_type IS 'What was cancelled: ADMIT, TRANSFER or DISCHARGE.';
COMMENT ON COLUMN star.movement_cancellation.cancelled_datetime IS 'When the cancelled event had happened.';
COMMENT ON COLUMN star.movement_cancellation.location_id IS 'Where the cancelled event had put the patient (for a transfer, PV1-6 of the A12).';
COMMENT ON COLUMN star.movement_cancellation.valid_from IS 'Hospital time of the cancelling message.';
COMMENT ON COLUMN star.movement_cancellation.stored_from IS 'When the warehouse stored it.';
COMMENT ON COLUMN star.movement_cancellation.source_ids_id IS 'The message (IDS id) it came from.';

CREATE TABLE star.planned_movement (
    planned_movement_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hospital_visit_id   bigint NOT NULL REFERENCES star.hospital_visit (hospital_visit_id),
    location_id         bigint REFERENCES star.location (location_id),
    event_type          text NOT NULL,
    event_datetime      timestamptz,
    cancelled_datetime  timestamptz,
    cancelled           boolean NOT NULL DEFAULT false,
    valid_from          timestamptz NOT NULL,
    stored_from         timestamptz NOT NULL,
    source_ids_id       text
);
CREATE INDEX planned_movement_hospital_visit_id_idx ON star.planned_movement (hospital_visit_id);
COMMENT ON TABLE star.planned_movement IS 'Movements that were planned (A15 pending transfer) and whether they were cancelled (A26). A cancellation received before its request is a row with only the cancellation filled in until the request arrives.';
COMMENT ON COLUMN star.planned_movement.planned_movement_id IS 'Surrogate key.';
COMMENT ON COLUMN star.planned_movement.hospital_visit_id IS 'The hospital visit.';
COMMENT ON COLUMN star.planned_movement.location_id IS 'Where the patient is to go (PV2-1).';
COMMENT ON COLUMN star.planned_movement.event_type IS 'What is planned: TRANSFER (the only kind HL7 ADT sends).';
COMMENT ON COLUMN star.planned_movement.event_datetime IS 'When the plan was made (event time of the A15); null if only its cancellation has been received.';
COMMENT ON COLUMN star.planned_movement.cancelled_datetime IS 'When the plan was cancelled.';
COMMENT ON COLUMN star.planned_movement.cancelled IS 'True once the plan was cancelled.';
COMMENT ON COLUMN star.planned_movement.valid_from IS 'Hospital time of the message that last changed this row.';
COMMENT ON COLUMN star.planned_movement.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.planned_movement.source_ids_id IS 'The message (IDS id) that last changed this row.';

CREATE TABLE star.planned_movement_audit (
    planned_movement_audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    planned_movement_id bigint NOT NULL,
    hospital_visit_id   bigint NOT NULL,
    location_id         bigint,
    event_type          text NOT NULL,
    event_datetime      timestamptz,
    cancelled_datetime  timestamptz,
    cancelled           boolean NOT NULL,
    valid_from          timestamptz NOT NULL,
    valid_until         timestamptz NOT NULL,
    stored_from         timestamptz NOT NULL,
    stored_until        timestamptz NOT NULL,
    source_ids_id       text
);
CREATE INDEX planned_movement_audit_id_idx ON star.planned_movement_audit (planned_movement_id);
COMMENT ON TABLE star.planned_movement_audit IS 'Previous states of planned_movement rows (changed or deleted), each with the valid and stored intervals it held.';
COMMENT ON COLUMN star.planned_movement_audit.planned_movement_audit_id IS 'Surrogate key.';
COMMENT ON COLUMN star.planned_movement_audit.planned_movement_id IS 'The planned_movement row this was a state of.';
COMMENT ON COLUMN star.planned_movement_audit.hospital_visit_id IS 'As in planned_movement.';
COMMENT ON COLUMN star.planned_movement_audit.location_id IS 'As in planned_movement.';
COMMENT ON COLUMN star.planned_movement_audit.event_type IS 'As in planned_movement.';
COMMENT ON COLUMN star.planned_movement_audit.event_datetime IS 'As in planned_movement.';
COMMENT ON COLUMN star.planned_movement_audit.cancelled_datetime IS 'As in planned_movement.';
COMMENT ON COLUMN star.planned_movement_audit.cancelled IS 'As in planned_movement.';
COMMENT ON COLUMN star.planned_movement_audit.valid_from IS 'Hospital time from which this state held.';
COMMENT ON COLUMN star.planned_movement_audit.valid_until IS 'Hospital time of the message that replaced or removed it.';
COMMENT ON COLUMN star.planned_movement_audit.stored_from IS 'When the warehouse stored this state.';
COMMENT ON COLUMN star.planned_movement_audit.stored_until IS 'When the warehouse replaced or removed it.';
COMMENT ON COLUMN star.planned_movement_audit.source_ids_id IS 'The message (IDS id) that produced this state.';

-- What the warehouse believed at a stored time: live rows stored by then, plus audit states that
-- were current then. (EMAP's AuditCore.isValidAsOf answers only the valid-time half.)
CREATE FUNCTION star.hospital_visit_as_of(believed_at timestamptz)
RETURNS TABLE (hospital_visit_id bigint, mrn_id bigint, encounter text, source_system text,
               presentation_datetime timestamptz, admission_datetime timestamptz,
               discharge_datetime timestamptz, patient_class text, arrival_method text,
               discharge_destination text, discharge_disposition text,
               valid_from timestamptz, stored_from timestamptz, source_ids_id text)
LANGUAGE sql STABLE AS $$
    SELECT hospital_visit_id, mrn_id, encounter, source_system, presentation_datetime,
           admission_datetime, discharge_datetime, patient_class, arrival_method,
           discharge_destination, discharge_disposition, valid_from, stored_from, source_ids_id
    FROM star.hospital_visit WHERE stored_from <= believed_at
    UNION ALL
    SELECT hospital_visit_id, mrn_id, encounter, source_system, presentation_datetime,
           admission_datetime, discharge_datetime, patient_class, arrival_method,
           discharge_destination, discharge_disposition, valid_from, stored_from, source_ids_id
    FROM star.hospital_visit_audit WHERE stored_from <= believed_at AND believed_at < stored_until
$$;
COMMENT ON FUNCTION star.hospital_visit_as_of(timestamptz) IS 'The hospital_visit rows as the warehouse held them at the given moment (stored time): SELECT * FROM star.hospital_visit_as_of(''2024-03-01 12:00+00'').';

CREATE FUNCTION star.location_visit_as_of(believed_at timestamptz)
RETURNS TABLE (location_visit_id bigint, hospital_visit_id bigint, location_id bigint,
               admission_datetime timestamptz, discharge_datetime timestamptz,
               inferred_admission boolean, inferred_discharge boolean,
               valid_from timestamptz, stored_from timestamptz, source_ids_id text)
LANGUAGE sql STABLE AS $$
    SELECT location_visit_id, hospital_visit_id, location_id, admission_datetime,
           discharge_datetime, inferred_admission, inferred_discharge, valid_from, stored_from,
           source_ids_id
    FROM star.location_visit WHERE stored_from <= believed_at
    UNION ALL
    SELECT location_visit_id, hospital_visit_id, location_id, admission_datetime,
           discharge_datetime, inferred_admission, inferred_discharge, valid_from, stored_from,
           source_ids_id
    FROM star.location_visit_audit WHERE stored_from <= believed_at AND believed_at < stored_until
$$;
COMMENT ON FUNCTION star.location_visit_as_of(timestamptz) IS 'The location_visit rows as the warehouse held them at the given moment (stored time): SELECT * FROM star.location_visit_as_of(''2024-03-01 12:00+00'').';
