//! Lab metadata (LB13): the names of batteries and tests, from the lab system's catalogue
//! (`LabMetadataMsg`, read from source tables). The battery or test is created when not seen
//! yet, as a lab order would create it. A name, like a test's department, is a value of a
//! shared reference row, so it must not depend on arrival order: the latest metadata wins (ties
//! by name), and a name is kept with the time it was given. (EMAP applies a name when the row is
//! new, has none, or the metadata is newer; Ward's rule gives the same row in every order.)

use interchange::lab::{LabMetadataMsg, LabsMetadataType};
use sqlx::PgConnection;

use super::definitions;
use crate::engine::{Context, ProcessError, reject};

/// Applies one battery's or test's metadata.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    m: &LabMetadataMsg,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let (Some(code), Some(system), Some(kind)) = (
        m.short_code.as_deref().filter(|c| !c.is_empty()),
        m.coding_system,
        m.labs_metadata_type,
    ) else {
        return Err(reject(
            "LB13",
            "lab metadata without its code, lab system and kind",
        ));
    };
    // The lab system as the star names it (WIN_PATH, CO_PATH, …): its interchange name.
    let provider = serde_json::to_value(system)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let Some(name) = m.name.as_deref().filter(|n| !n.is_empty()) else {
        return Err(reject("LB13", "lab metadata without a name"));
    };
    let sql = match kind {
        LabsMetadataType::LabsMetadataBattery => {
            let id = definitions::battery(conn, code, &provider, context).await?;
            return Ok(name_row(conn, BATTERY_NAME, id, name, context).await?);
        }
        LabsMetadataType::LabsMetadataTest => TEST_NAME,
    };
    let ids = definitions::definitions(conn, &provider, &[code], None, context).await?;
    for id in ids {
        name_row(conn, sql, id, name, context).await?;
    }
    Ok(())
}

/// Gives a battery its name, unless it has one given later (ties by name).
const BATTERY_NAME: &str = "UPDATE lab_battery SET battery_name = $2, battery_name_valid_from = $3
     WHERE lab_battery_id = $1 AND (battery_name IS NULL OR battery_name_valid_from IS NULL
         OR (battery_name_valid_from, battery_name) < ($3, $2))";

/// Gives a test its name, unless it has one given later (ties by name).
const TEST_NAME: &str = "UPDATE lab_test_definition SET name = $2, name_valid_from = $3
     WHERE lab_test_definition_id = $1 AND (name IS NULL OR name_valid_from IS NULL
         OR (name_valid_from, name) < ($3, $2))";

async fn name_row(
    conn: &mut PgConnection,
    sql: &'static str,
    id: i64,
    name: &str,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(sql)
        .bind(id)
        .bind(name)
        .bind(context.valid_from)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
