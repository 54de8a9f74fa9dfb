//! Set-wise writing of a wave's rows, for any star table described once as a [`Table`].
//!
//! A message writes a handful of rows in several tables. Written message by message, each
//! statement costs PostgreSQL its parse-bind-execute start-up and end, and that, not the rows,
//! was most of the processor's work. So a family adds a message's rows to the lane's [`Wave`]
//! (insert, update, audit, delete) and the lane writes each wave's rows at once
//! ([`Wave::flush`]): one statement, each table's rows of each kind in one `unnest`. That is safe
//! because a wave holds each group of patients once (`lanes::waves`): no message of a wave reads
//! or writes what another's rows touch, so writing them at the wave's end instead of one by one
//! changes no row. Outside a lane (and in a lane applied with a savepoint per message) a
//! message's rows are flushed at once through the same statement, so each table has one
//! implementation of its writes.
//!
//! Every part of the statement sees the snapshot from before it, so an audit row copies the
//! state an update or delete of the same statement replaces. A new row that other rows of the
//! wave name ([`RowRef::New`]) takes its key from the table's sequence inside the statement, so
//! those rows can refer to it; inserts keep the order they were added in (ids in that order).
//! The statement's text depends only on which parts a wave has; it is generated once per shape
//! and cached, but planned afresh on each call: a generic plan cached while the tables were
//! small (a new schema, a replay) scans them whole once they are not.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

/// A star table as the writer sees it.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: &'static str,
    /// The key column (an identity column).
    pub key: &'static str,
    /// The columns an insert writes, in the order its values are given.
    pub columns: &'static [Column],
    /// An insert of a row already there (by a unique key) does nothing.
    pub insert_or_nothing: bool,
    /// The audit twin, if rows are audited before they change or go (G3).
    pub audit: Option<Audit>,
}

/// A column of a [`Table`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// What an update does to it.
    pub on_update: OnUpdate,
}

/// How an update treats a column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OnUpdate {
    /// Takes the new value.
    Set,
    /// Never changes after the insert (not given to an update).
    Keep,
    /// Takes this expression of the stored row `t` and the new value `{new}`.
    Expr(&'static str),
}

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int8,
    Text,
    Timestamptz,
    Date,
    Bool,
    /// The key of a row of that table: stored, or new in the same wave.
    Ref(&'static Table),
}

impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.name == other.name
    }
}
impl Eq for Table {}

/// How a table's audit twin is filled.
#[derive(Debug)]
pub(crate) struct Audit {
    pub table: &'static str,
    /// Columns the audit row copies besides the key and the insert columns.
    pub extra: &'static [&'static str],
    /// Its `valid_until`, an expression of the stored row `t` and the given time `{until}`.
    pub valid_until: &'static str,
}

impl Column {
    /// A column an update sets.
    pub(crate) const fn set(name: &'static str, kind: Kind) -> Column {
        Column {
            name,
            kind,
            on_update: OnUpdate::Set,
        }
    }

    /// A column written once, on insert.
    pub(crate) const fn keep(name: &'static str, kind: Kind) -> Column {
        Column {
            name,
            kind,
            on_update: OnUpdate::Keep,
        }
    }
}

/// A row other rows name: stored (its key), or added to the same wave (its table and position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowRef {
    Stored(i64),
    New(&'static str, i64),
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Int8(Option<i64>),
    Text(Option<String>),
    Timestamptz(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
    Bool(Option<bool>),
    Row(RowRef),
}

macro_rules! value_from {
    ($variant:ident, $type:ty) => {
        impl From<$type> for Value {
            fn from(v: $type) -> Value {
                Value::$variant(Some(v))
            }
        }
        impl From<Option<$type>> for Value {
            fn from(v: Option<$type>) -> Value {
                Value::$variant(v)
            }
        }
    };
}
value_from!(Int8, i64);
value_from!(Text, String);
value_from!(Timestamptz, DateTime<Utc>);
value_from!(Date, NaiveDate);
value_from!(Bool, bool);

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(Some(v.to_owned()))
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Value {
        Value::Text(v.map(str::to_owned))
    }
}

impl From<RowRef> for Value {
    fn from(v: RowRef) -> Value {
        Value::Row(v)
    }
}

/// What a part of the statement does with its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    Insert,
    Audit,
    Update,
    Delete,
}

/// One column of values, as the array bound for it.
#[derive(Debug)]
enum Array {
    Int8(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Timestamptz(Vec<Option<DateTime<Utc>>>),
    Date(Vec<Option<NaiveDate>>),
    Bool(Vec<Option<bool>>),
    /// A reference as two arrays: the stored key, or the new row's position.
    Ref(Vec<Option<i64>>, Vec<Option<i64>>),
}

impl Array {
    fn of(kind: Kind) -> Array {
        match kind {
            Kind::Int8 => Array::Int8(Vec::new()),
            Kind::Text => Array::Text(Vec::new()),
            Kind::Timestamptz => Array::Timestamptz(Vec::new()),
            Kind::Date => Array::Date(Vec::new()),
            Kind::Bool => Array::Bool(Vec::new()),
            Kind::Ref(_) => Array::Ref(Vec::new(), Vec::new()),
        }
    }

    /// Adds `value`; false if it is not of this column's type.
    fn push(&mut self, value: Value) -> bool {
        match (self, value) {
            (Array::Int8(a), Value::Int8(v)) => a.push(v),
            (Array::Text(a), Value::Text(v)) => a.push(v),
            (Array::Timestamptz(a), Value::Timestamptz(v)) => a.push(v),
            (Array::Date(a), Value::Date(v)) => a.push(v),
            (Array::Bool(a), Value::Bool(v)) => a.push(v),
            (Array::Ref(stored, new), Value::Row(RowRef::Stored(id))) => {
                stored.push(Some(id));
                new.push(None);
            }
            (Array::Ref(stored, new), Value::Row(RowRef::New(_, n))) => {
                stored.push(None);
                new.push(Some(n));
            }
            // An id given where a reference is expected names a stored row.
            (Array::Ref(stored, new), Value::Int8(id)) => {
                stored.push(id);
                new.push(None);
            }
            _ => return false,
        }
        true
    }

    fn sql_types(&self) -> &'static [&'static str] {
        match self {
            Array::Int8(_) => &["int8[]"],
            Array::Text(_) => &["text[]"],
            Array::Timestamptz(_) => &["timestamptz[]"],
            Array::Date(_) => &["date[]"],
            Array::Bool(_) => &["bool[]"],
            Array::Ref(..) => &["int8[]", "int8[]"],
        }
    }

    fn bind<'q>(&'q self, query: Query<'q>) -> Query<'q> {
        match self {
            Array::Int8(a) => query.bind(a),
            Array::Text(a) => query.bind(a),
            Array::Timestamptz(a) => query.bind(a),
            Array::Date(a) => query.bind(a),
            Array::Bool(a) => query.bind(a),
            Array::Ref(stored, new) => query.bind(stored).bind(new),
        }
    }
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The rows of one table for one [`Op`]: the key (updates, audits, deletes), then the columns
/// the op takes, then the audit's times.
#[derive(Debug)]
struct Part {
    table: &'static Table,
    op: Op,
    arrays: Vec<Array>,
    rows: i64,
}

impl Part {
    fn new(table: &'static Table, op: Op) -> Part {
        let mut arrays = Vec::new();
        if op != Op::Insert {
            arrays.push(Array::Int8(Vec::new()));
        }
        for column in columns_of(table, op) {
            arrays.push(Array::of(column.kind));
        }
        if op == Op::Audit {
            arrays.push(Array::Timestamptz(Vec::new()));
            arrays.push(Array::Timestamptz(Vec::new()));
        }
        Part {
            table,
            op,
            arrays,
            rows: 0,
        }
    }
}

/// The columns an op takes values for.
fn columns_of(table: &'static Table, op: Op) -> impl Iterator<Item = &'static Column> {
    table.columns.iter().filter(move |c| match op {
        Op::Insert => true,
        Op::Update => !matches!(c.on_update, OnUpdate::Keep),
        Op::Audit | Op::Delete => false,
    })
}

/// A wave's rows, by table and op, until [`Wave::flush`] writes them.
#[derive(Debug, Default)]
pub(crate) struct Wave {
    parts: Vec<Part>,
    /// The first row given with the wrong number or types of values (a bug, reported by flush).
    error: Option<String>,
}

impl Wave {
    fn part(&mut self, table: &'static Table, op: Op) -> &mut Part {
        let index = match self
            .parts
            .iter()
            .position(|p| std::ptr::eq(p.table, table) && p.op == op)
        {
            Some(index) => index,
            None => {
                self.parts.push(Part::new(table, op));
                self.parts.len() - 1
            }
        };
        &mut self.parts[index]
    }

    fn push(
        &mut self,
        table: &'static Table,
        op: Op,
        values: impl IntoIterator<Item = Value>,
    ) -> i64 {
        let part = self.part(table, op);
        let mut values = values.into_iter();
        let mut fits = true;
        for array in &mut part.arrays {
            fits &= values.next().is_some_and(|value| array.push(value));
        }
        fits &= values.next().is_none();
        part.rows += 1;
        let rows = part.rows;
        if !fits && self.error.is_none() {
            self.error = Some(format!(
                "a {op:?} of {} was given values that do not fit its columns",
                table.name
            ));
        }
        rows
    }

    /// A new row of `table`, its values in [`Table::columns`] order; returns how other rows of
    /// the wave name it.
    pub(crate) fn insert(
        &mut self,
        table: &'static Table,
        values: impl IntoIterator<Item = Value>,
    ) -> RowRef {
        let n = self.push(table, Op::Insert, values);
        RowRef::New(table.name, n)
    }

    /// The stored row `key` takes these values (the columns an update sets, in order).
    pub(crate) fn update(
        &mut self,
        table: &'static Table,
        key: i64,
        values: impl IntoIterator<Item = Value>,
    ) {
        let row = std::iter::once(Value::Int8(Some(key))).chain(values);
        self.push(table, Op::Update, row);
    }

    /// The stored row `key`'s current state goes to the audit table, valid and stored until
    /// these times.
    pub(crate) fn audit(
        &mut self,
        table: &'static Table,
        key: i64,
        valid_until: DateTime<Utc>,
        stored_until: DateTime<Utc>,
    ) {
        if table.audit.is_none() && self.error.is_none() {
            self.error = Some(format!("{} has no audit table", table.name));
        }
        let row = [key.into(), valid_until.into(), stored_until.into()];
        self.push(table, Op::Audit, row);
    }

    /// The stored row `key` goes.
    pub(crate) fn delete(&mut self, table: &'static Table, key: i64) {
        self.push(table, Op::Delete, [key.into()]);
    }

    /// Writes every row in one statement and empties the wave.
    pub(crate) async fn flush(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if let Some(error) = self.error {
            return Err(sqlx::Error::Protocol(error));
        }
        if self.parts.is_empty() {
            return Ok(());
        }
        let mut parts = self.parts;
        parts.sort_by_key(|p| (depth(p.table), p.table.name, p.op));
        let sql = statement(&parts);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(&*sql)).persistent(false);
        for part in &parts {
            for array in &part.arrays {
                query = array.bind(query);
            }
        }
        query.execute(&mut *conn).await?;
        Ok(())
    }
}

/// How far down a chain of references a table is: a table comes after those its rows name.
fn depth(table: &'static Table) -> usize {
    table
        .columns
        .iter()
        .filter_map(|c| match c.kind {
            Kind::Ref(other) if !std::ptr::eq(other, table) => Some(depth(other) + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// A statement's shape: which parts it has, in order.
type Shape = Vec<(&'static str, Op)>;

/// The statements generated so far, by shape.
static STATEMENTS: LazyLock<Mutex<HashMap<Shape, Arc<str>>>> = LazyLock::new(Mutex::default);

/// The statement for `parts` (sorted), from the cache or generated.
fn statement(parts: &[Part]) -> Arc<str> {
    let shape: Shape = parts.iter().map(|p| (p.table.name, p.op)).collect();
    if let Some(sql) = STATEMENTS.lock().ok().and_then(|c| c.get(&shape).cloned()) {
        return sql;
    }
    let sql: Arc<str> = generate(parts).into();
    if let Ok(mut cache) = STATEMENTS.lock() {
        cache.insert(shape, sql.clone());
    }
    sql
}

/// Writes `WITH part, part, … SELECT 1` for `parts`.
fn generate(parts: &[Part]) -> String {
    // Tables with new rows that other rows of the wave may name.
    let inserted = |name: &str| {
        parts
            .iter()
            .any(|p| p.op == Op::Insert && p.table.name == name)
    };
    let named: Vec<&'static str> = parts
        .iter()
        .flat_map(|p| columns_of(p.table, p.op))
        .filter_map(|c| match c.kind {
            Kind::Ref(other) if inserted(other.name) => Some(other.name),
            _ => None,
        })
        .collect();
    let mut placeholders = Placeholders(0);
    let ctes: Vec<String> = parts
        .iter()
        .map(|part| {
            let source = Source::of(part, &mut placeholders, &named);
            match part.op {
                Op::Insert => insert_sql(part, &source, named.contains(&part.table.name)),
                Op::Update => update_sql(part, &source),
                Op::Audit => audit_sql(part, &source),
                Op::Delete => format!(
                    "{0}_delete AS (DELETE FROM {0} WHERE {1} = ANY({2}))",
                    part.table.name, part.table.key, source.first
                ),
            }
        })
        .collect();
    format!("WITH {} SELECT 1", ctes.join(",\n"))
}

/// Numbers the statement's parameters.
struct Placeholders(usize);

impl Placeholders {
    fn next(&mut self, sql_type: &str) -> String {
        self.0 += 1;
        format!("${}::{sql_type}", self.0)
    }
}

/// Where a part's rows come from: `unnest(…) WITH ORDINALITY AS r (…)`, the joins to the new
/// rows its references name, and each column's value as an expression of `r` and those joins.
struct Source {
    unnest: String,
    joins: String,
    /// The first array's placeholder (a delete's keys).
    first: String,
    /// `(column, expression)` for each column the op takes.
    values: Vec<(&'static str, String)>,
}

impl Source {
    fn of(part: &Part, placeholders: &mut Placeholders, named: &[&'static str]) -> Source {
        let mut args = Vec::new();
        let mut aliases = Vec::new();
        if part.op != Op::Insert {
            args.push(placeholders.next("int8[]"));
            aliases.push("key".to_owned());
        }
        let mut values = Vec::new();
        let mut joins = String::new();
        for (column, array) in columns_of(part.table, part.op).zip(&part.arrays[aliases.len()..]) {
            for sql_type in array.sql_types() {
                args.push(placeholders.next(sql_type));
            }
            let Kind::Ref(other) = column.kind else {
                aliases.push(column.name.to_owned());
                values.push((column.name, format!("r.{}", column.name)));
                continue;
            };
            aliases.push(format!("{}_stored", column.name));
            aliases.push(format!("{}_new", column.name));
            let value = if named.contains(&other.name) {
                joins.push_str(&format!(
                    " LEFT JOIN {0}_new j_{1} ON j_{1}.ord = r.{1}_new",
                    other.name, column.name
                ));
                format!("coalesce(r.{0}_stored, j_{0}.{1})", column.name, other.key)
            } else {
                format!("r.{}_stored", column.name)
            };
            values.push((column.name, value));
        }
        if part.op == Op::Audit {
            args.push(placeholders.next("timestamptz[]"));
            args.push(placeholders.next("timestamptz[]"));
            aliases.push("valid_until".to_owned());
            aliases.push("stored_until".to_owned());
        }
        aliases.push("ord".to_owned());
        Source {
            first: args.first().cloned().unwrap_or_default(),
            unnest: format!(
                "unnest({}) WITH ORDINALITY AS r ({})",
                args.join(", "),
                aliases.join(", ")
            ),
            joins,
            values,
        }
    }

    /// The rows with their joins, as a `FROM` clause's items.
    fn from(&self) -> String {
        format!("{}{}", self.unnest, self.joins)
    }
}

/// An insert; when other rows of the wave name its new rows, they take their keys from the
/// sequence first, with the rows (`<table>_new`, numbered by `ord`), so those rows can join
/// them.
fn insert_sql(part: &Part, source: &Source, named: bool) -> String {
    let table = part.table;
    let names: Vec<&str> = source.values.iter().map(|(c, _)| *c).collect();
    let exprs: Vec<&str> = source.values.iter().map(|(_, e)| e.as_str()).collect();
    let conflict = if table.insert_or_nothing {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    if !named {
        return format!(
            "{0}_insert AS (INSERT INTO {0} ({1}) SELECT {2} FROM {3} ORDER BY r.ord{conflict})",
            table.name,
            names.join(", "),
            exprs.join(", "),
            source.from(),
        );
    }
    format!(
        "{0}_new AS (
             SELECT r.*, nextval((SELECT pg_get_serial_sequence('{0}', '{1}'))::regclass) AS {1}
             FROM {4}),
         {0}_insert AS (
             INSERT INTO {0} ({1}, {2}) OVERRIDING SYSTEM VALUE
             SELECT r.{1}, {3} FROM {0}_new r{5}
             ORDER BY r.ord{conflict})",
        table.name,
        table.key,
        names.join(", "),
        exprs.join(", "),
        source.unnest,
        source.joins,
    )
}

fn update_sql(part: &Part, source: &Source) -> String {
    let table = part.table;
    let sets: Vec<String> = columns_of(table, Op::Update)
        .zip(&source.values)
        .map(|(column, (name, value))| match column.on_update {
            OnUpdate::Expr(expr) => format!("{name} = {}", expr.replace("{new}", value)),
            _ => format!("{name} = {value}"),
        })
        .collect();
    format!(
        "{0}_update AS (UPDATE {0} t SET {1} FROM {2} WHERE t.{3} = r.key)",
        table.name,
        sets.join(", "),
        source.from(),
        table.key
    )
}

fn audit_sql(part: &Part, source: &Source) -> String {
    let table = part.table;
    let Some(audit) = &table.audit else {
        // Refused when the row is added ([`Wave::audit`]), so never written.
        return format!("{}_audit AS (SELECT 1)", table.name);
    };
    let copied: Vec<&str> = std::iter::once(table.key)
        .chain(table.columns.iter().map(|c| c.name))
        .chain(audit.extra.iter().copied())
        .collect();
    let from_row: Vec<String> = copied.iter().map(|c| format!("t.{c}")).collect();
    format!(
        "{0}_audit AS (
             INSERT INTO {1} ({2}, valid_until, stored_until)
             SELECT {3}, {4}, r.stored_until FROM {5} JOIN {0} t ON t.{6} = r.key)",
        table.name,
        audit.table,
        copied.join(", "),
        from_row.join(", "),
        audit.valid_until.replace("{until}", "r.valid_until"),
        source.from(),
        table.key,
    )
}

/// The rows a wave has gathered so far, taken out (the wave starts again empty).
pub(crate) fn take(wave: &Mutex<Wave>) -> Result<Wave, sqlx::Error> {
    Ok(std::mem::take(&mut *wave.lock().map_err(poisoned)?))
}

/// A wave's lock poisoned by a panic. Nothing panics while holding it; were it poisoned, its
/// rows must not be lost silently: the lane fails (and is applied again).
pub(crate) fn poisoned<T>(_: std::sync::PoisonError<T>) -> sqlx::Error {
    sqlx::Error::Protocol("a lane's wave writes were poisoned".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    static PARENT: Table = Table {
        name: "parent",
        key: "parent_id",
        columns: &[Column::set("name", Kind::Text)],
        insert_or_nothing: false,
        audit: None,
    };

    static CHILD: Table = Table {
        name: "child",
        key: "child_id",
        columns: &[
            Column::keep("parent_id", Kind::Ref(&PARENT)),
            Column {
                name: "valid_from",
                kind: Kind::Timestamptz,
                on_update: OnUpdate::Expr("greatest(t.valid_from, {new})"),
            },
        ],
        insert_or_nothing: true,
        audit: Some(Audit {
            table: "child_audit",
            extra: &["note"],
            valid_until: "greatest(t.valid_from, {until})",
        }),
    };

    /// The statement `flush` would run for `wave`.
    fn sql(wave: &mut Wave) -> String {
        wave.parts
            .sort_by_key(|p| (depth(p.table), p.table.name, p.op));
        generate(&wave.parts)
    }

    #[test]
    fn a_row_naming_a_new_row_joins_the_keys_taken_for_it_in_the_same_statement() {
        let mut wave = Wave::default();
        // Added child first: the statement still defines the parent's keys before using them.
        let now = Utc::now();
        wave.insert(&CHILD, [RowRef::Stored(7).into(), now.into()]);
        let parent = wave.insert(&PARENT, ["p".into()]);
        wave.insert(&CHILD, [parent.into(), now.into()]);
        assert_eq!(parent, RowRef::New("parent", 1));
        assert!(wave.error.is_none());
        let sql = sql(&mut wave);
        let keys = sql.find("parent_new AS").unwrap();
        let child = sql.find("child_insert AS").unwrap();
        assert!(keys < child, "{sql}");
        assert!(
            sql.contains("LEFT JOIN parent_new j_parent_id ON j_parent_id.ord = r.parent_id_new")
        );
        assert!(sql.contains("coalesce(r.parent_id_stored, j_parent_id.parent_id)"));
        assert!(sql.contains("ON CONFLICT DO NOTHING"));
        assert!(sql.contains("OVERRIDING SYSTEM VALUE"));
    }

    #[test]
    fn rows_naming_only_stored_rows_take_no_keys_ahead() {
        let mut wave = Wave::default();
        wave.insert(&CHILD, [RowRef::Stored(7).into(), Utc::now().into()]);
        let sql = sql(&mut wave);
        assert!(!sql.contains("parent_new"), "{sql}");
        assert!(sql.contains("r.parent_id_stored"));
    }

    #[test]
    fn updates_keep_what_never_changes_and_audits_copy_the_stored_row() {
        let mut wave = Wave::default();
        let now = Utc::now();
        wave.audit(&CHILD, 3, now, now);
        wave.update(&CHILD, 3, [now.into()]);
        wave.delete(&CHILD, 4);
        assert!(wave.error.is_none());
        let sql = sql(&mut wave);
        assert!(
            sql.contains("SET valid_from = greatest(t.valid_from, r.valid_from)"),
            "{sql}"
        );
        assert!(!sql.contains("SET parent_id"), "{sql}");
        assert!(sql.contains(
            "INSERT INTO child_audit (child_id, parent_id, valid_from, note, valid_until, stored_until)"
        ));
        assert!(sql.contains("greatest(t.valid_from, r.valid_until)"));
        assert!(sql.contains("DELETE FROM child WHERE child_id = ANY($"));
    }

    #[test]
    fn values_that_do_not_fit_their_columns_are_refused() {
        let mut short = Wave::default();
        short.insert(&CHILD, [RowRef::Stored(7).into()]);
        assert!(short.error.is_some());
        let mut mistyped = Wave::default();
        mistyped.insert(&PARENT, [Value::Bool(Some(true))]);
        assert!(mistyped.error.is_some());
        let mut unaudited = Wave::default();
        unaudited.audit(&PARENT, 1, Utc::now(), Utc::now());
        assert!(unaudited.error.is_some());
    }

    #[test]
    fn a_shape_is_generated_once() {
        let mut wave = Wave::default();
        wave.insert(&PARENT, ["p".into()]);
        let first = statement(&wave.parts);
        let mut other = Wave::default();
        other.insert(&PARENT, ["q".into()]);
        other.insert(&PARENT, ["r".into()]);
        assert!(Arc::ptr_eq(&first, &statement(&other.parts)));
    }
}
