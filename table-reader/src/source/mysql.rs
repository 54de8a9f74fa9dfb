//! MySQL and MariaDB sources. The site's SQL is wrapped as a derived table and paged by row
//! comparison `(order_by, key) > (?, ?)`. `--from`/`--until` are bound as the source zone's
//! local time, which is what a `DATETIME` column holds (sqlx reads `TIMESTAMP` columns in UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures::future::BoxFuture;
use sqlx::Row;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};

use super::{
    NUMERIC_HINT, OTHER_HINT, Page, PageRequest, Source, SourceError, column_type, to_page,
};
use crate::cell::Cell;

/// A MySQL or MariaDB source database.
pub struct MySqlSource {
    pool: MySqlPool,
    zone: chrono_tz::Tz,
}

impl MySqlSource {
    pub(super) async fn connect(
        url: &str,
        zone: chrono_tz::Tz,
    ) -> Result<MySqlSource, SourceError> {
        let url = url.replacen("mariadb://", "mysql://", 1);
        let options: MySqlConnectOptions = url.parse()?;
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        Ok(MySqlSource { pool, zone })
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.zone).naive_local()
    }
}

fn quote(identifier: &str) -> String {
    format!("`{}`", identifier.replace('`', "``"))
}

fn paged_sql(request: &PageRequest<'_>, count_only: bool) -> String {
    let (o, k) = (quote(request.order_by), quote(request.key));
    if count_only {
        return format!(
            "SELECT count(*) FROM ({}) AS q WHERE q.{o} IS NULL OR q.{k} IS NULL",
            request.sql
        );
    }
    let mut conditions = vec![format!("q.{o} IS NOT NULL AND q.{k} IS NOT NULL")];
    if request.after.is_some() {
        conditions.push(format!("(q.{o}, q.{k}) > (?, ?)"));
    }
    if request.from.is_some() {
        conditions.push(format!("q.{o} >= ?"));
    }
    if request.until.is_some() {
        conditions.push(format!("q.{o} < ?"));
    }
    format!(
        "SELECT * FROM ({}) AS q WHERE {} ORDER BY q.{o}, q.{k} LIMIT ?",
        request.sql,
        conditions.join(" AND ")
    )
}

type Query<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;

fn bind_cell<'q>(query: Query<'q>, cell: &Cell) -> Query<'q> {
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

impl Source for MySqlSource {
    fn page<'a>(&'a self, request: PageRequest<'a>) -> BoxFuture<'a, Result<Page, SourceError>> {
        Box::pin(async move {
            let sql = paged_sql(&request, false);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            if let Some(after) = request.after {
                query = bind_cell(bind_cell(query, &after.order), &after.key);
            }
            if let Some(from) = request.from {
                query = query.bind(self.local(from));
            }
            if let Some(until) = request.until {
                query = query.bind(self.local(until));
            }
            let rows = query
                .bind(u64::try_from(request.limit).unwrap_or(u64::MAX))
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

fn cell(row: &MySqlRow, i: usize, type_name: &str, column: &str) -> Result<Cell, SourceError> {
    fn get<'r, T: sqlx::Decode<'r, sqlx::MySql> + sqlx::Type<sqlx::MySql>>(
        row: &'r MySqlRow,
        i: usize,
    ) -> Result<Option<T>, sqlx::Error> {
        row.try_get::<Option<T>, _>(i)
    }
    let cell = match type_name {
        "BOOLEAN" => get::<bool>(row, i)?.map(Cell::Bool),
        "TINYINT" => get::<i8>(row, i)?.map(|v| Cell::Int(v.into())),
        "SMALLINT" => get::<i16>(row, i)?.map(|v| Cell::Int(v.into())),
        "MEDIUMINT" | "INT" => get::<i32>(row, i)?.map(|v| Cell::Int(v.into())),
        "BIGINT" => get::<i64>(row, i)?.map(Cell::Int),
        "TINYINT UNSIGNED" => get::<u8>(row, i)?.map(|v| Cell::Int(v.into())),
        "SMALLINT UNSIGNED" => get::<u16>(row, i)?.map(|v| Cell::Int(v.into())),
        "MEDIUMINT UNSIGNED" | "INT UNSIGNED" => get::<u32>(row, i)?.map(|v| Cell::Int(v.into())),
        "BIGINT UNSIGNED" => match get::<u64>(row, i)? {
            Some(v) => Some(Cell::Int(i64::try_from(v).map_err(|_| {
                column_type(
                    column,
                    type_name,
                    "a value above 2^63 cannot be read: cast it to text",
                )
            })?)),
            None => None,
        },
        "FLOAT" => get::<f32>(row, i)?.map(|v| Cell::Float(v.into())),
        "DOUBLE" => get::<f64>(row, i)?.map(Cell::Float),
        "CHAR" | "VARCHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" => {
            get::<String>(row, i)?.map(Cell::Text)
        }
        "DATE" => get::<NaiveDate>(row, i)?.map(Cell::Date),
        "DATETIME" => get::<NaiveDateTime>(row, i)?.map(Cell::Timestamp),
        "TIMESTAMP" => get::<DateTime<Utc>>(row, i)?.map(Cell::TimestampTz),
        "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BINARY" | "VARBINARY" => {
            get::<Vec<u8>>(row, i)?.map(Cell::Bytes)
        }
        "DECIMAL" => return Err(column_type(column, type_name, NUMERIC_HINT)),
        _ => return Err(column_type(column, type_name, OTHER_HINT)),
    };
    Ok(cell.unwrap_or(Cell::Null))
}
