//! Flowsheet metadata (`FlowsheetMetadata`, from source tables): the names of observation
//! types, and (F5) the mapping between HL7's interface id and the EHR's own id.
//!
//! Metadata names no patient, so the processor applies it between patients' messages, never
//! beside them: it works in the message's own transaction and audits what it changes. A mapping
//! (both ids) joins the two rows that may exist for one type: when HL7 created a type by interface
//! id and source tables another by the EHR's id, the HL7 one's observations move to the other
//! (audited), an observation that both hold at one time keeps the EHR's, and the HL7 type is
//! deleted (audited); when only one exists it gains the other id; when neither, one type with
//! both is created, which later messages of either kind find. Names, as for lab metadata
//! (LB13), are the latest metadata's (ties by name), so any arrival order gives the same row.

use interchange::observation::FlowsheetMetadata;
use sqlx::PgConnection;

use super::types::{Id, TABLE};
use crate::engine::{Context, ProcessError, reject};

/// Copies a type's row to its audit twin before a change: `$1` the type, `$2` the
/// message's valid-from, `$3` its stored-from.
const AUDIT_TYPE: &str = "INSERT INTO visit_observation_type_audit (visit_observation_type_id,
         interface_id, id_in_application, source_observation_type, name, display_name,
         description, primary_data_type, unit, creation_datetime, standardised_code,
         standardised_vocabulary, is_real_time, has_visit_observation, name_valid_from,
         valid_from, valid_until, stored_from, stored_until, source_ids_id)
     SELECT visit_observation_type_id, interface_id, id_in_application, source_observation_type,
         name, display_name, description, primary_data_type, unit, creation_datetime,
         standardised_code, standardised_vocabulary, is_real_time, has_visit_observation,
         name_valid_from, valid_from, greatest(valid_from, $2), stored_from, $3, source_ids_id
     FROM visit_observation_type WHERE visit_observation_type_id = $1";

/// Applies one flowsheet metadata message.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    m: &FlowsheetMetadata,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let source_type = m.source_observation_type.as_deref().unwrap_or("flowsheet");
    let interface = m.interface_id.as_deref().filter(|i| !i.is_empty());
    let application = m.flowsheet_id.as_deref().filter(|i| !i.is_empty());
    let id = match (interface, application) {
        (Some(interface), Some(application)) => {
            map(conn, source_type, interface, application, context).await?
        }
        (Some(interface), None) => {
            find_or_create(conn, source_type, Id::Interface(interface), context).await?
        }
        (None, Some(application)) => {
            find_or_create(conn, source_type, Id::Application(application), context).await?
        }
        (None, None) => {
            return Err(reject(
                "F5",
                "flowsheet metadata naming neither an interface id nor a flowsheet id",
            ));
        }
    };
    name(conn, id, m, context).await?;
    Ok(())
}

/// The type named `id`, created (without observations) when not seen yet.
async fn find_or_create(
    conn: &mut PgConnection,
    source_type: &str,
    id: Id<'_>,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    if let Some(found) = find(conn, source_type, id).await? {
        return Ok(found);
    }
    let (interface, application) = match id {
        Id::Interface(i) => (Some(i), None),
        Id::Application(a) => (None, Some(a)),
    };
    create(conn, source_type, interface, application, context).await
}

async fn find(
    conn: &mut PgConnection,
    source_type: &str,
    id: Id<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let (sql, value) = match id {
        Id::Interface(i) => (
            "SELECT visit_observation_type_id FROM visit_observation_type
             WHERE source_observation_type = $1 AND interface_id = $2 FOR UPDATE",
            i,
        ),
        Id::Application(a) => (
            "SELECT visit_observation_type_id FROM visit_observation_type
             WHERE source_observation_type = $1 AND id_in_application = $2 FOR UPDATE",
            a,
        ),
    };
    sqlx::query_scalar(sql)
        .bind(source_type)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await
}

async fn create(
    conn: &mut PgConnection,
    source_type: &str,
    interface: Option<&str>,
    application: Option<&str>,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO visit_observation_type (interface_id, id_in_application,
             source_observation_type, valid_from, stored_from, source_ids_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING visit_observation_type_id",
    )
    .bind(interface)
    .bind(application)
    .bind(source_type)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .bind(context.source_ids_id)
    .fetch_one(&mut *conn)
    .await
}

/// F5: joins the type HL7 names `interface` and the one source tables name `application`.
async fn map(
    conn: &mut PgConnection,
    source_type: &str,
    interface: &str,
    application: &str,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    let by_interface = find(conn, source_type, Id::Interface(interface)).await?;
    let by_application = find(conn, source_type, Id::Application(application)).await?;
    // The cache may hold the type about to be merged away.
    for id in [Id::Interface(interface), Id::Application(application)] {
        context.reference.forget(TABLE, &id.cache_key(source_type));
    }
    let audit = |id: i64| {
        sqlx::query(AUDIT_TYPE)
            .bind(id)
            .bind(context.valid_from)
            .bind(context.stored_from)
    };
    match (by_interface, by_application) {
        (Some(i), Some(a)) if i == a => Ok(a),
        (Some(hl7), Some(ehr)) => {
            let live: bool = sqlx::query_scalar(
                "SELECT is_real_time FROM visit_observation_type
                 WHERE visit_observation_type_id = $1",
            )
            .bind(hl7)
            .fetch_one(&mut *conn)
            .await?;
            merge(conn, hl7, ehr, context).await?;
            audit(ehr).execute(&mut *conn).await?;
            sqlx::query(
                "UPDATE visit_observation_type SET interface_id = $2,
                     is_real_time = is_real_time OR $3, has_visit_observation =
                         has_visit_observation OR EXISTS (SELECT FROM visit_observation
                             WHERE visit_observation_type_id = $1),
                     stored_from = $4
                 WHERE visit_observation_type_id = $1",
            )
            .bind(ehr)
            .bind(interface)
            .bind(live)
            .bind(context.stored_from)
            .execute(&mut *conn)
            .await?;
            Ok(ehr)
        }
        (Some(only), None) | (None, Some(only)) => {
            audit(only).execute(&mut *conn).await?;
            sqlx::query(
                "UPDATE visit_observation_type SET interface_id = $2, id_in_application = $3,
                     stored_from = $4
                 WHERE visit_observation_type_id = $1",
            )
            .bind(only)
            .bind(interface)
            .bind(application)
            .bind(context.stored_from)
            .execute(&mut *conn)
            .await?;
            Ok(only)
        }
        (None, None) => {
            create(
                conn,
                source_type,
                Some(interface),
                Some(application),
                context,
            )
            .await
        }
    }
}

/// Moves the observations of type `hl7` to type `ehr` (audited; where `ehr` already holds one
/// at the same visit and time, the `hl7` one is deleted, audited), then deletes `hl7`, audited.
async fn merge(
    conn: &mut PgConnection,
    hl7: i64,
    ehr: i64,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO visit_observation_audit (visit_observation_id, visit_observation_type_id,
             hospital_visit_id, observation_datetime, value_as_text, value_as_real,
             value_as_date, value_as_time, unit, comment, source_system, valid_from,
             valid_until, stored_from, stored_until, source_ids_id)
         SELECT visit_observation_id, visit_observation_type_id, hospital_visit_id,
             observation_datetime, value_as_text, value_as_real, value_as_date, value_as_time,
             unit, comment, source_system, valid_from, greatest(valid_from, $2), stored_from,
             $3, source_ids_id
         FROM visit_observation WHERE visit_observation_type_id = $1",
    )
    .bind(hl7)
    .bind(context.valid_from)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM visit_observation o WHERE o.visit_observation_type_id = $1
           AND EXISTS (SELECT FROM visit_observation e WHERE e.visit_observation_type_id = $2
                 AND e.hospital_visit_id = o.hospital_visit_id
                 AND e.observation_datetime = o.observation_datetime)",
    )
    .bind(hl7)
    .bind(ehr)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE visit_observation SET visit_observation_type_id = $2, stored_from = $3
         WHERE visit_observation_type_id = $1",
    )
    .bind(hl7)
    .bind(ehr)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    sqlx::query(AUDIT_TYPE)
        .bind(hl7)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM visit_observation_type WHERE visit_observation_type_id = $1")
        .bind(hl7)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Gives type `id` the names `m` carries, unless it has names given later (ties by name),
/// audited.
async fn name(
    conn: &mut PgConnection,
    id: i64,
    m: &FlowsheetMetadata,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    if m.name.is_none() && m.display_name.is_none() && m.description.is_none() {
        return Ok(());
    }
    let at = m.last_updated_instant.unwrap_or(context.valid_from);
    let newer = "name_valid_from IS NULL
        OR (name_valid_from, coalesce(name, '')) < ($2, coalesce($3, ''))";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH audited AS (
             INSERT INTO visit_observation_type_audit (visit_observation_type_id,
                 interface_id, id_in_application, source_observation_type, name, display_name,
                 description, primary_data_type, unit, creation_datetime, standardised_code,
                 standardised_vocabulary, is_real_time, has_visit_observation, name_valid_from,
                 valid_from, valid_until, stored_from, stored_until, source_ids_id)
             SELECT visit_observation_type_id, interface_id, id_in_application,
                 source_observation_type, name, display_name, description, primary_data_type,
                 unit, creation_datetime, standardised_code, standardised_vocabulary,
                 is_real_time, has_visit_observation, name_valid_from, valid_from,
                 greatest(valid_from, $2), stored_from, $9, source_ids_id
             FROM visit_observation_type WHERE visit_observation_type_id = $1 AND ({newer}))
         UPDATE visit_observation_type SET name = $3, display_name = $4, description = $5,
             primary_data_type = $6, unit = $7, creation_datetime = $8, name_valid_from = $2,
             stored_from = $9
         WHERE visit_observation_type_id = $1 AND ({newer})"
    )))
    .bind(id)
    .bind(at)
    .bind(&m.name)
    .bind(&m.display_name)
    .bind(&m.description)
    .bind(&m.value_type)
    .bind(&m.unit)
    .bind(m.creation_instant)
    .bind(context.stored_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
