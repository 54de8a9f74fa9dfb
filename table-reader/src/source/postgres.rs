//! PostgreSQL sources. The site's SQL is wrapped as a subquery and paged by row comparison
//! `(order_by, key) > ($1, $2)`, which an index on those columns serves. The session's time
//! zone is the source's, so `--from`/`--until` instants compare with zoneless timestamps as the
//! source means them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};

use super::{
    NUMERIC_HINT, OTHER_HINT, Page, PageRequest, Source, SourceError, column_type, to_page,
};
use crate::cell::Cell;

/// A PostgreSQL source database.
pub struct PostgresSource {
    pool: PgPool,
}

impl PostgresSource {
    pub(super) async fn connect(
        url: &str,
        zone: chrono_tz::Tz,
    ) -> Result<PostgresSource, SourceError> {
        let options: PgConnectOptions = url.parse()?;
        let options = options
            .options([("TimeZone", zone.name())])
            .application_name("ward-table-reader");
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        Ok(PostgresSource { pool })
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The paging SQL and how many positional parameters precede the limit.
fn paged_sql(request: &PageRequest<'_>, count_only: bool) -> String {
    let (o, k) = (quote(request.order_by), quote(request.key));
    let mut conditions = vec![format!("q.{o} IS NOT NULL AND q.{k} IS NOT NULL")];
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if request.after.is_some() {
        let (a, b) = (next(), next());
        conditions.push(format!("(q.{o}, q.{k}) > ({a}, {b})"));
    }
    if request.from.is_some() {
        conditions.push(format!("q.{o} >= {}", next()));
    }
    if request.until.is_some() {
        conditions.push(format!("q.{o} < {}", next()));
    }
    if count_only {
        let conditions = format!("q.{o} IS NULL OR q.{k} IS NULL");
        return format!(
            "SELECT count(*) FROM ({}) AS q WHERE {conditions}",
            request.sql
        );
    }
    format!(
        "SELECT * FROM ({}) AS q WHERE {} ORDER BY q.{o}, q.{k} LIMIT {}",
        request.sql,
        conditions.join(" AND "),
        next()
    )
}

fn bind_cell<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    cell: &Cell,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    match cell {
        Cell::Null => query.bind(None::<String>),
        Cell::Bool(b) => query.bind(*b),
        Cell::Int(i) => query.bind(*i),
        Cell::Float(f) => query.bind(*f),
        Cell::Text(s) => query.bind(s.clone()),
        Cell::Date(d) => query.bind(*d),
        Cell::Timestamp(t) => query.bind(*t),
        Cell::TimestampTz(t) => query.bind(*t),
        Cell::Bytes(b) => query.bind(b.clone()),
    }
}

impl Source for PostgresSource {
    fn page<'a>(&'a self, request: PageRequest<'a>) -> BoxFuture<'a, Result<Page, SourceError>> {
        Box::pin(async move {
            let sql = paged_sql(&request, false);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            if let Some(after) = request.after {
                query = bind_cell(bind_cell(query, &after.order), &after.key);
            }
            if let Some(from) = request.from {
                query = query.bind(from);
            }
            if let Some(until) = request.until {
                query = query.bind(until);
            }
            let rows = query
                .bind(i64::try_from(request.limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
            to_page(&rows, cell)
        })
    }

    fn count_unorderable<'a>(
        &'a self,
        request: PageRequest<'a>,
    ) -> BoxFuture<'a, Result<i64, SourceError>> {
        Box::pin(async move {
            let sql = paged_sql(&request, true);
            Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await?)
        })
    }
}

fn cell(row: &PgRow, i: usize, type_name: &str, column: &str) -> Result<Cell, SourceError> {
    fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
        row: &'r PgRow,
        i: usize,
    ) -> Result<Option<T>, sqlx::Error> {
        row.try_get::<Option<T>, _>(i)
    }
    let cell = match type_name {
        "BOOL" => get::<bool>(row, i)?.map(Cell::Bool),
        "INT2" => get::<i16>(row, i)?.map(|v| Cell::Int(v.into())),
        "INT4" => get::<i32>(row, i)?.map(|v| Cell::Int(v.into())),
        "INT8" => get::<i64>(row, i)?.map(Cell::Int),
        "FLOAT4" => get::<f32>(row, i)?.map(|v| Cell::Float(v.into())),
        "FLOAT8" => get::<f64>(row, i)?.map(Cell::Float),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => get::<String>(row, i)?.map(Cell::Text),
        "DATE" => get::<NaiveDate>(row, i)?.map(Cell::Date),
        "TIMESTAMP" => get::<NaiveDateTime>(row, i)?.map(Cell::Timestamp),
        "TIMESTAMPTZ" => get::<DateTime<Utc>>(row, i)?.map(Cell::TimestampTz),
        "BYTEA" => get::<Vec<u8>>(row, i)?.map(Cell::Bytes),
        "NUMERIC" => return Err(column_type(column, type_name, NUMERIC_HINT)),
        _ => return Err(column_type(column, type_name, OTHER_HINT)),
    };
    Ok(cell.unwrap_or(Cell::Null))
}
