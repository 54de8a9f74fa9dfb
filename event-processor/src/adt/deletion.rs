//! Deleting a person's information (A29): rules X1–X5.
//!
//! X1: the demographics go (audited) if the message is newer than them; an older A29 does nothing
//! to them. X3: every visit of the person (under any of their MRNs) valid from no later than the
//! message goes, with its location visits and planned movements, each audited, and the movement
//! facts and cancellations they were derived from, their lab orders (with results, isolates and
//! sensitivities), visit observations, consultation requests and advance decisions; conditions stay (they are the patient's) without
//! those visits. X4: the MRN and `mrn_to_live` rows stay (the
//! MRN may be reused), as do lab samples (a sample is the patient's, not a visit's). X2: the
//! person's forms valid from before the message go with their answers, as do the deleted
//! visits' forms, audited.
//!
//! X5, decided: EMAP lets visit observations vanish through a database cascade without audit and
//! leaves lab samples, conditions and advance decisions behind (foreign-key failures possible).
//! Ward deletes nothing without an audit row; as the other tables arrive, each is added here
//! with its audit, in the same transaction, so an A29 never half-applies.

use sqlx::PgConnection;

use super::locations;
use crate::engine::{Context, ProcessError};

/// Deletes what A29 deletes for the live MRN `mrn_id` and every MRN merged into it.
pub(crate) async fn delete_person(
    conn: &mut PgConnection,
    mrn_id: i64,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    // X1.
    sqlx::query(
        "WITH gone AS (
             DELETE FROM core_demographic WHERE mrn_id = $1 AND valid_from < $2
             RETURNING *)
         INSERT INTO core_demographic_audit
             (core_demographic_id, mrn_id, firstname, middlename, lastname, date_of_birth,
              date_of_death, datetime_of_birth, datetime_of_death, alive, home_postcode, sex,
              ethnicity, valid_from, valid_until, stored_from, stored_until, source_ids_id)
         SELECT core_demographic_id, mrn_id, firstname, middlename, lastname, date_of_birth,
                date_of_death, datetime_of_birth, datetime_of_death, alive, home_postcode, sex,
                ethnicity, valid_from, $2, stored_from, $3, source_ids_id
         FROM gone",
    )
    .bind(mrn_id)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    // X3.
    let visits: Vec<i64> = sqlx::query_scalar(
        "SELECT hospital_visit_id FROM hospital_visit
         WHERE mrn_id IN (SELECT mrn_id FROM mrn_to_live WHERE live_mrn_id = $1)
           AND valid_from <= $2
         FOR UPDATE",
    )
    .bind(mrn_id)
    .bind(context.valid_from)
    .fetch_all(&mut *conn)
    .await?;
    delete_forms(conn, mrn_id, &visits, context).await?;
    delete_visits(conn, &visits, context).await?;
    Ok(())
}

/// X2: the person's forms valid from before the message, and every form of the visits X3
/// deletes, with their answers, each audited.
async fn delete_forms(
    conn: &mut PgConnection,
    mrn_id: i64,
    visits: &[i64],
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH forms AS (
             SELECT form_id FROM form
             WHERE hospital_visit_id = ANY($2)
                OR (mrn_id = ANY(ARRAY(SELECT mrn_id FROM mrn_to_live WHERE live_mrn_id = $1))
                    AND valid_from < $3)
             FOR UPDATE),
         answers AS (
             DELETE FROM form_answer WHERE form_id = ANY(ARRAY(SELECT form_id FROM forms))
             RETURNING *),
         answers_audited AS (
             INSERT INTO form_answer_audit (form_answer_id, form_id, form_question_id,
                 internal_id, filed_datetime, context, value_as_text, value_as_number,
                 value_as_boolean, value_as_datetime, value_as_date, valid_from, valid_until,
                 stored_from, stored_until, source_ids_id)
             SELECT form_answer_id, form_id, form_question_id, internal_id, filed_datetime,
                    context, value_as_text, value_as_number, value_as_boolean,
                    value_as_datetime, value_as_date, valid_from, greatest(valid_from, $3),
                    stored_from, $4, source_ids_id
             FROM answers),
         gone AS (
             DELETE FROM form WHERE form_id = ANY(ARRAY(SELECT form_id FROM forms))
             RETURNING *)
         INSERT INTO form_audit (form_id, form_definition_id, mrn_id, hospital_visit_id,
             internal_id, note_id, first_filed_datetime, valid_from, valid_until, stored_from,
             stored_until, source_ids_id)
         SELECT form_id, form_definition_id, mrn_id, hospital_visit_id, internal_id, note_id,
                first_filed_datetime, valid_from, greatest(valid_from, $3), stored_from, $4,
                source_ids_id
         FROM gone",
    )
    .bind(mrn_id)
    .bind(visits)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// X3: these visits and everything hanging off them, children first, each audited.
async fn delete_visits(
    conn: &mut PgConnection,
    visits: &[i64],
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    if visits.is_empty() {
        return Ok(());
    }
    locations::delete_stays(conn, "hospital_visit_id", visits, context).await?;
    delete_visit_rows(conn, visits, context).await?;
    sqlx::query(
        "WITH gone AS (
             DELETE FROM planned_movement WHERE hospital_visit_id = ANY($1) RETURNING *)
         INSERT INTO planned_movement_audit
             (planned_movement_id, hospital_visit_id, location_id, event_type, event_datetime,
              cancelled_datetime, cancelled, valid_from, valid_until, stored_from, stored_until,
              source_ids_id)
         SELECT planned_movement_id, hospital_visit_id, location_id, event_type, event_datetime,
                cancelled_datetime, cancelled, valid_from, greatest(valid_from, $2), stored_from,
                $3, source_ids_id
         FROM gone",
    )
    .bind(visits)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    for table in ["visit_movement", "movement_cancellation"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE hospital_visit_id = ANY($1)"
        )))
        .bind(visits)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "WITH gone AS (
             DELETE FROM hospital_visit WHERE hospital_visit_id = ANY($1) RETURNING *)
         INSERT INTO hospital_visit_audit
             (hospital_visit_id, mrn_id, encounter, source_system, presentation_datetime,
              admission_datetime, discharge_datetime, patient_class, arrival_method,
              discharge_destination, discharge_disposition, valid_from, valid_until, stored_from,
              stored_until, source_ids_id)
         SELECT hospital_visit_id, mrn_id, encounter, source_system, presentation_datetime,
                admission_datetime, discharge_datetime, patient_class, arrival_method,
                discharge_destination, discharge_disposition, valid_from,
                greatest(valid_from, $2), stored_from, $3, source_ids_id
         FROM gone",
    )
    .bind(visits)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The columns (besides the key and provenance) of each per-visit table X3 deletes, children
/// first, with the column naming its parent: `(table, parent column, parent table, columns)`.
const VISIT_ROWS: &[(&str, &str, &str, &str)] = &[
    (
        "lab_sensitivity",
        "lab_isolate_id",
        "lab_isolate",
        "lab_isolate_id, agent, sensitivity, reporting_datetime",
    ),
    (
        "lab_isolate",
        "lab_result_id",
        "lab_result",
        "lab_result_id, lab_internal_id, isolate_code, isolate_name, culture_type, quantity, \
         clinical_information",
    ),
    (
        "lab_result",
        "lab_order_id",
        "lab_order",
        "lab_order_id, lab_test_definition_id, result_last_modified_datetime, abnormal_flag, \
         mime_type, value_as_text, value_as_real, value_as_bytes, result_operator, range_high, \
         range_low, result_status, units, comment",
    ),
    (
        "lab_order",
        "hospital_visit_id",
        "hospital_visit",
        "lab_sample_id, hospital_visit_id, lab_battery_id, order_datetime, request_datetime, \
         clinical_information, internal_lab_number, source_system",
    ),
    (
        "consultation_request",
        "hospital_visit_id",
        "hospital_visit",
        "consultation_type_id, hospital_visit_id, internal_id, closed_due_to_discharge, \
         cancelled, comments, status_change_datetime, scheduled_datetime",
    ),
    (
        "advance_decision",
        "hospital_visit_id",
        "hospital_visit",
        "advance_decision_type_id, hospital_visit_id, internal_id, closed_due_to_discharge, \
         cancelled, status_change_datetime, requested_datetime",
    ),
    (
        "visit_observation",
        "hospital_visit_id",
        "hospital_visit",
        "visit_observation_type_id, hospital_visit_id, observation_datetime, value_as_text, \
         value_as_real, value_as_date, value_as_time, unit, comment, source_system",
    ),
];

/// X3: the visits' lab orders (with their results, isolates and sensitivities) and visit
/// observations, children first, each row audited.
async fn delete_visit_rows(
    conn: &mut PgConnection,
    visits: &[i64],
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    // Every row under the visits, found parents first.
    let mut under: std::collections::HashMap<&str, Vec<i64>> = std::collections::HashMap::new();
    under.insert("hospital_visit", visits.to_vec());
    for (table, parent_column, parent, _) in VISIT_ROWS.iter().rev() {
        let parents = under.get(parent).cloned().unwrap_or_default();
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {table}_id FROM {table} WHERE {parent_column} = ANY($1) FOR UPDATE"
        )))
        .bind(&parents)
        .fetch_all(&mut *conn)
        .await?;
        under.insert(table, ids);
    }
    for (table, _, _, columns) in VISIT_ROWS {
        let ids = under.get(table).cloned().unwrap_or_default();
        if ids.is_empty() {
            continue;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH gone AS (DELETE FROM {table} WHERE {table}_id = ANY($1) RETURNING *)
             INSERT INTO {table}_audit ({table}_id, {columns}, valid_from, valid_until,
                 stored_from, stored_until, source_ids_id)
             SELECT {table}_id, {columns}, valid_from, greatest(valid_from, $2), stored_from,
                    $3, source_ids_id
             FROM gone"
        )))
        .bind(&ids)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .execute(&mut *conn)
        .await?;
    }
    // The answers to the deleted requests' questions go with them (Q5).
    for (table, parent) in [
        ("consultation_request", "CONSULT_REQUEST"),
        ("advance_decision", "ADVANCE_DECISION"),
    ] {
        let ids = under.get(table).cloned().unwrap_or_default();
        if ids.is_empty() {
            continue;
        }
        sqlx::query(
            "WITH gone AS (DELETE FROM request_answer
                           WHERE parent_table = $1 AND parent_id = ANY($2) RETURNING *)
             INSERT INTO request_answer_audit (request_answer_id, question_id, parent_table,
                 parent_id, answer, valid_from, valid_until, stored_from, stored_until,
                 source_ids_id)
             SELECT request_answer_id, question_id, parent_table, parent_id, answer, valid_from,
                    greatest(valid_from, $3), stored_from, $4, source_ids_id
             FROM gone",
        )
        .bind(parent)
        .bind(&ids)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .execute(&mut *conn)
        .await?;
    }
    // A condition is the patient's: it stays, without the deleted visits (its link rows go,
    // and a row naming one of them names none, audited).
    sqlx::query("DELETE FROM condition_visits WHERE hospital_visit_id = ANY($1)")
        .bind(visits)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "WITH audited AS (
             INSERT INTO patient_condition_audit (patient_condition_id, condition_type_id,
                 internal_id, mrn_id, hospital_visit_id, added_datetime, added_date,
                 resolution_datetime, resolution_date, onset_date, classification, status,
                 priority, is_deleted, comment, severity, valid_from, valid_until, stored_from,
                 stored_until, source_ids_id)
             SELECT patient_condition_id, condition_type_id, internal_id, mrn_id,
                 hospital_visit_id, added_datetime, added_date, resolution_datetime,
                 resolution_date, onset_date, classification, status, priority, is_deleted,
                 comment, severity, valid_from, greatest(valid_from, $2), stored_from, $3,
                 source_ids_id
             FROM patient_condition WHERE hospital_visit_id = ANY($1))
         UPDATE patient_condition SET hospital_visit_id = NULL, stored_from = $3
         WHERE hospital_visit_id = ANY($1)",
    )
    .bind(visits)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
