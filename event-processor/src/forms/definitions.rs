//! Form definitions and form questions: reference rows by the source's id, created bare by the
//! first form naming them (earliest provenance, so the order patients' forms arrive in does not
//! matter) and named by metadata. Names are the latest metadata's (ties by name), so any arrival
//! order of metadata gives the same row; a rename is audited first.

use interchange::form::{FormMetadataMsg, FormQuestionMetadataMsg};
use sqlx::PgConnection;

use crate::engine::reference::earliest_row;
use crate::engine::{Context, ProcessError, reject};

/// A reference table of forms: its name, the columns metadata names it by, and every column
/// its audit twin copies besides the key and source id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    table: &'static str,
    names: &'static [&'static str],
    audited: &'static str,
}

/// Form definitions.
pub(crate) const DEFINITION: Kind = Kind {
    table: "form_definition",
    names: &["name", "patient_friendly_name"],
    audited: "name, patient_friendly_name, name_valid_from",
};

/// Form questions.
pub(crate) const QUESTION: Kind = Kind {
    table: "form_question",
    names: &["concept_name", "concept_abbrev_name", "description"],
    audited: "concept_name, concept_abbrev_name, description, internal_value_type, \
              name_valid_from",
};

/// The row of `kind` with source id `internal_id`, created on first sight.
pub(crate) async fn row(
    conn: &mut PgConnection,
    kind: Kind,
    internal_id: &str,
    context: &Context<'_>,
) -> Result<i64, sqlx::Error> {
    earliest_row(conn, kind.table, "internal_id", internal_id, context).await
}

/// A form's metadata: its definition's names.
pub(crate) async fn form_metadata(
    conn: &mut PgConnection,
    m: &FormMetadataMsg,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let names = [
        m.form_name.as_deref(),
        m.form_patient_friendly_name.as_deref(),
    ];
    let id = m.source_message_id.as_deref();
    metadata(conn, DEFINITION, id, &names, context).await
}

/// A question's metadata: its names and description.
pub(crate) async fn question_metadata(
    conn: &mut PgConnection,
    m: &FormQuestionMetadataMsg,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let names = [
        m.name.as_deref(),
        m.abbrev_name.as_deref(),
        m.description.as_deref(),
    ];
    let id = m.source_message_id.as_deref();
    metadata(conn, QUESTION, id, &names, context).await
}

/// Names row `internal_id` of `kind` with `names` (in `kind.names` order) when the row has no
/// names yet or this metadata is newer than the names' (ties by the first name).
async fn metadata(
    conn: &mut PgConnection,
    kind: Kind,
    internal_id: Option<&str>,
    names: &[Option<&str>],
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let Some(internal_id) = internal_id.filter(|i| !i.is_empty()) else {
        return Err(reject(
            "FORM-METADATA",
            format!("{} metadata without its source id", kind.table),
        ));
    };
    let Kind {
        table,
        names: columns,
        audited,
    } = kind;
    let params: Vec<String> = (0..columns.len()).map(|i| format!("${}", i + 5)).collect();
    let (params, first, columns) = (params.join(", "), columns[0], columns.join(", "));
    // A bare row is created first (as a form naming it creates it), then named.
    let id = row(conn, kind, internal_id, context).await?;
    let newer = format!(
        "name_valid_from IS NULL OR (name_valid_from, coalesce({first}, '')) < ($2, coalesce($5, ''))"
    );
    let sql = format!(
        "WITH audited AS (
             INSERT INTO {table}_audit ({table}_id, internal_id, {audited}, valid_from,
                 valid_until, stored_from, stored_until, source_ids_id)
             SELECT {table}_id, internal_id, {audited}, valid_from, greatest(valid_from, $2),
                    stored_from, $3, source_ids_id
             FROM {table} WHERE {table}_id = $1 AND ({newer})
               -- A row this message created has no earlier state to keep.
               AND NOT (stored_from = $3 AND source_ids_id IS NOT DISTINCT FROM $4))
         UPDATE {table} SET ({columns}) = ROW({params}), name_valid_from = $2, stored_from = $3
         WHERE {table}_id = $1 AND ({newer})"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id);
    for name in names {
        query = query.bind(*name);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
