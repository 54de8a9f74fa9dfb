//! The data dictionary: every table, view, column and function of the schemas Ward owns, with
//! what its `COMMENT ON` says, as Markdown. Generated from the database itself, so it is as
//! current as the schema (`ward dictionary` prints it; `docs/data-dictionary.md` is it, kept
//! current by a test).

use std::fmt::Write;

use sqlx::PgPool;

use crate::StarSchema;

/// One column of a relation, as the catalog describes it.
#[derive(sqlx::FromRow)]
struct Column {
    schema: String,
    relation: String,
    kind: String,
    relation_comment: Option<String>,
    column: String,
    data_type: String,
    column_comment: Option<String>,
}

/// The dictionary of `ids`, `reader` and the star schema `star`, written as `star` whatever its
/// name (a replay's schema reads as the live one would).
pub async fn dictionary(pool: &PgPool, star: &StarSchema) -> Result<String, sqlx::Error> {
    let columns: Vec<Column> = sqlx::query_as(
        "SELECT CASE WHEN n.nspname = $1 THEN 'star' ELSE n.nspname::text END AS schema,
                c.relname::text AS relation,
                CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END AS kind,
                obj_description(c.oid, 'pg_class') AS relation_comment,
                a.attname::text AS column,
                format_type(a.atttypid, a.atttypmod) AS data_type,
                col_description(c.oid, a.attnum) AS column_comment
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname IN ('ids', 'reader', $1) AND c.relkind IN ('r', 'v')
           AND c.relname NOT LIKE '\\_%'
         ORDER BY array_position(ARRAY['star', 'ids', 'reader'],
                                 CASE WHEN n.nspname = $1 THEN 'star' ELSE n.nspname::text END),
                  c.relkind DESC, c.relname, a.attnum",
    )
    .bind(star.name())
    .fetch_all(pool)
    .await?;
    let functions: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT p.proname::text, pg_get_function_identity_arguments(p.oid),
                obj_description(p.oid, 'pg_proc')
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = $1 ORDER BY 1, 2",
    )
    .bind(star.name())
    .fetch_all(pool)
    .await?;

    let mut out = String::from(
        "# Data dictionary\n\n\
         Every table, view and column of the schemas Ward owns, with its description: `star` \
         (what analysts query), `ids` (the Immutable Data Store) and `reader` (the readers' \
         positions and errors). Generated from the database's own comments by \
         `ward dictionary`; a test keeps this file current.\n",
    );
    let mut current = None;
    for c in &columns {
        let name = (c.schema.as_str(), c.relation.as_str());
        if current != Some(name) {
            current = Some(name);
            let _ = write!(
                out,
                "\n## {}.{} ({})\n\n{}\n\n| column | type | description |\n|---|---|---|\n",
                c.schema,
                c.relation,
                c.kind,
                text(c.relation_comment.as_deref())
            );
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            c.column,
            c.data_type,
            cell(c.column_comment.as_deref())
        );
    }
    if !functions.is_empty() {
        out.push_str("\n## star functions\n\n| function | description |\n|---|---|\n");
        for (name, arguments, comment) in &functions {
            let _ = writeln!(
                out,
                "| `star.{name}({arguments})` | {} |",
                cell(comment.as_deref())
            );
        }
    }
    Ok(out)
}

/// A comment as a paragraph.
fn text(comment: Option<&str>) -> String {
    comment.map_or_else(|| "(no description)".to_owned(), |c| c.replace('\n', " "))
}

/// A comment as a table cell.
fn cell(comment: Option<&str>) -> String {
    text(comment).replace('|', "\\|")
}
