//! Source databases behind one trait. The reader asks a [`Source`] for the next page of a
//! query's rows after a [`Position`]; each driver wraps the site's SQL in its own dialect's
//! keyset paging and turns its column types into [`Cell`]s. PostgreSQL and MySQL/MariaDB are
//! built; another database (SQL Server through `tiberius`, say) is one more implementation and
//! one more arm in [`connect`], and nothing else changes.

mod mysql;
mod postgres;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::cell::{Cell, Position};

/// A page of a query's rows, in `(order_by, key)` order.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    /// The site's SELECT.
    pub sql: &'a str,
    /// The ordering column.
    pub order_by: &'a str,
    /// The unique column that orders ties.
    pub key: &'a str,
    /// Rows after this position only (none: from the start).
    pub after: Option<&'a Position>,
    /// Rows whose order value is at or after this instant only (`--from`).
    pub from: Option<DateTime<Utc>>,
    /// Rows whose order value is before this instant only (`--until`).
    pub until: Option<DateTime<Utc>>,
    /// Most rows.
    pub limit: usize,
}

/// Rows of one page: the column names once, the cells of each row in the same order.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Column names, as the query returns them.
    pub columns: Arc<[String]>,
    /// Each row's cells.
    pub rows: Vec<Vec<Cell>>,
}

impl Page {
    /// The index of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The URL names a database this reader does not speak.
    #[error("unsupported source URL scheme {0:?} (postgres:// or mysql://)")]
    Scheme(String),
    /// The database refused or failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A column has a type the reader cannot turn into a value.
    #[error("column {column:?} has type {type_name}, which the table-reader cannot read: {hint}")]
    ColumnType {
        /// The column.
        column: String,
        /// Its database type.
        type_name: String,
        /// How to change the query.
        hint: &'static str,
    },
}

/// A database the reader pages through.
pub trait Source: Send + Sync {
    /// The next page of a query's rows.
    fn page<'a>(&'a self, request: PageRequest<'a>) -> BoxFuture<'a, Result<Page, SourceError>>;

    /// How many of the query's rows have a NULL `order_by` or `key`, which paging cannot reach.
    fn count_unorderable<'a>(
        &'a self,
        request: PageRequest<'a>,
    ) -> BoxFuture<'a, Result<i64, SourceError>>;
}

/// Connects to the source at `url`, reading timestamps without a zone in `zone`.
pub async fn connect(url: &str, zone: chrono_tz::Tz) -> Result<Arc<dyn Source>, SourceError> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => Ok(Arc::new(
            postgres::PostgresSource::connect(url, zone).await?,
        )),
        "mysql" | "mariadb" => Ok(Arc::new(mysql::MySqlSource::connect(url, zone).await?)),
        other => Err(SourceError::Scheme(other.to_owned())),
    }
}

/// A page of `rows`, each column's cells made by the driver's `cell` from its type name.
fn to_page<R: sqlx::Row>(
    rows: &[R],
    cell: impl Fn(&R, usize, &str, &str) -> Result<Cell, SourceError>,
) -> Result<Page, SourceError> {
    use sqlx::{Column, TypeInfo};
    let Some(first) = rows.first() else {
        return Ok(Page::default());
    };
    let columns: Vec<String> = first
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let types: Vec<String> = first
        .columns()
        .iter()
        .map(|c| c.type_info().name().to_owned())
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(columns.len());
        for (i, type_name) in types.iter().enumerate() {
            cells.push(cell(row, i, type_name, &columns[i])?);
        }
        out.push(cells);
    }
    Ok(Page {
        columns: columns.into(),
        rows: out,
    })
}

/// The error for a column whose type a driver cannot read.
fn column_type(column: &str, type_name: &str, hint: &'static str) -> SourceError {
    SourceError::ColumnType {
        column: column.to_owned(),
        type_name: type_name.to_owned(),
        hint,
    }
}

/// The hint for a NUMERIC/DECIMAL column.
const NUMERIC_HINT: &str = "cast it in the query to a floating-point or integer type, or to text";
/// The hint for any other unknown type.
const OTHER_HINT: &str = "cast it in the query to text, a number, a date or a timestamp";
