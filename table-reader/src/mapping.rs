//! A source row → one interchange message. The row's cells fill a JSON object as the query's
//! `fields` say (dotted paths make nested objects, `iv` fields become `InterchangeValue`s),
//! with `@class`, `sourceSystem` and `sourceMessageId` set by the reader; the interchange's own
//! reading then checks it, so a row the class cannot hold is refused with the field that is
//! wrong, as a bad HL7 message is.

use chrono_tz::Tz;
use interchange::Message;
use interchange::value::INTERCHANGE_VALUE_CLASS;
use serde_json::{Map, Value};

use crate::cell::{Cell, Position};
use crate::config::{FieldSpec, QueryConfig, WhenNull};
use crate::source::Page;

/// A query's fields resolved against the columns a page returned.
#[derive(Debug)]
pub struct Plan {
    class: &'static str,
    source_system: String,
    id_prefix: String,
    order: usize,
    key: usize,
    fields: Vec<(Vec<String>, Filler)>,
}

#[derive(Debug)]
enum Filler {
    Column(usize),
    Iv(usize, WhenNull),
    Constant(Value),
}

/// One row, mapped.
#[derive(Debug)]
pub struct Mapped {
    /// The message.
    pub message: Message,
    /// `source/query/key`: its `sourceMessageId` and AMQP message id.
    pub message_id: String,
}

impl Plan {
    /// Resolves `query`'s columns in `page`; an error names the column the SQL does not return.
    pub fn new(
        source_name: &str,
        source_system: &str,
        query: &QueryConfig,
        page: &Page,
    ) -> Result<Plan, String> {
        let find = |column: &str, role: &str| {
            page.column(column).ok_or_else(|| {
                format!(
                    "the query returns no column {column:?} ({role}); it returns {:?}",
                    page.columns
                )
            })
        };
        let mut fields = Vec::with_capacity(query.fields.len());
        for (field, spec) in &query.fields {
            let path = field.split('.').map(str::to_owned).collect();
            let filler = match spec {
                FieldSpec::Column(column) => Filler::Column(find(column, field)?),
                FieldSpec::Iv { iv, when_null } => Filler::Iv(find(iv, field)?, *when_null),
                FieldSpec::Constant { value } => Filler::Constant(toml_to_json(value)),
            };
            fields.push((path, filler));
        }
        Ok(Plan {
            class: query
                .class_name()
                .ok_or_else(|| format!("unknown class {:?}", query.class))?,
            source_system: source_system.to_owned(),
            id_prefix: format!("{source_name}/{}/", query.name),
            order: find(&query.order_by, "order_by")?,
            key: find(&query.key, "key")?,
            fields,
        })
    }

    /// Where `row` is in the query's order.
    pub fn position(&self, row: &[Cell]) -> Position {
        Position {
            order: row.get(self.order).cloned().unwrap_or(Cell::Null),
            key: row.get(self.key).cloned().unwrap_or(Cell::Null),
        }
    }

    /// The id of `row`: `source/query/key`.
    pub fn message_id(&self, row: &[Cell]) -> String {
        let key = match row.get(self.key).and_then(Cell::to_stored) {
            Some((_, text)) => text,
            None => String::from("?"),
        };
        format!("{}{key}", self.id_prefix)
    }

    /// Maps one row, or says why it cannot be.
    pub fn map(&self, row: &[Cell], zone: Tz) -> Result<Mapped, String> {
        let mut object = Map::new();
        object.insert("@class".into(), Value::String(self.class.into()));
        object.insert(
            "sourceSystem".into(),
            Value::String(self.source_system.clone()),
        );
        for (path, filler) in &self.fields {
            let value = match filler {
                Filler::Constant(value) => value.clone(),
                Filler::Column(i) => cell_json(row, *i, zone, path)?,
                Filler::Iv(i, when_null) => {
                    let value = cell_json(row, *i, zone, path)?;
                    let status = match (&value, when_null) {
                        (Value::Null, WhenNull::Delete) => "DELETE",
                        (Value::Null, WhenNull::Ignore) => "IGNORE",
                        _ => "SAVE",
                    };
                    let mut iv = Map::new();
                    iv.insert(
                        "@class".into(),
                        Value::String(INTERCHANGE_VALUE_CLASS.into()),
                    );
                    iv.insert("status".into(), Value::String(status.into()));
                    if !value.is_null() {
                        iv.insert("value".into(), value);
                    }
                    Value::Object(iv)
                }
            };
            insert(&mut object, path, value);
        }
        let message_id = self.message_id(row);
        object.insert("sourceMessageId".into(), Value::String(message_id.clone()));
        let message = Message::from_value(&Value::Object(object)).map_err(|e| {
            format!(
                "not a valid {}: {}",
                short(self.class),
                redact(&e.to_string())
            )
        })?;
        Ok(Mapped {
            message,
            message_id,
        })
    }
}

/// An error without the values it quotes (serde quotes the text it could not read, which may
/// be a patient's), so `reader.table_error` holds no patient data.
fn redact(error: &str) -> String {
    let mut out = String::with_capacity(error.len());
    for (i, part) in error.split('"').enumerate() {
        if i % 2 == 1 {
            out.push_str("\"…\"");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn short(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

fn cell_json(row: &[Cell], i: usize, zone: Tz, path: &[String]) -> Result<Value, String> {
    row.get(i)
        .unwrap_or(&Cell::Null)
        .to_json(zone)
        .map_err(|e| format!("field {}: {e}", path.join(".")))
}

fn insert(object: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut here = object;
    for parent in parents {
        let entry = here
            .entry(parent.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return;
        };
        here = next;
    }
    here.insert(last.clone(), value);
}

fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => Value::Null,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Sources;

    const FILE: &str = r#"
[[source]]
name = "clarity"
url = "postgres://h/db"
source_system = "clarity"

[[source.query]]
name = "problems"
class = "PatientProblem"
order_by = "updated_at"
key = "problem_id"
sql = "SELECT 1"

[source.query.fields]
updatedDateTime = "updated_at"
mrn = "mrn"
conditionCode = "code"
conditionName = { iv = "name" }
epicConditionId = { iv = "problem_id" }
status = { iv = "status", when_null = "ignore" }
addedDate = "added"
"#;

    fn page(rows: Vec<Vec<Cell>>) -> Page {
        let columns: Vec<String> = [
            "problem_id",
            "updated_at",
            "mrn",
            "code",
            "name",
            "status",
            "added",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        Page {
            columns: columns.into(),
            rows,
        }
    }

    fn row(name: Cell, added: Cell) -> Vec<Cell> {
        vec![
            Cell::Int(1),
            Cell::Timestamp(
                chrono::NaiveDate::from_ymd_opt(2019, 6, 9)
                    .unwrap()
                    .and_hms_opt(2, 0, 5)
                    .unwrap(),
            ),
            Cell::Text("8DcEwvqa8Q3".into()),
            Cell::Text("C90.0".into()),
            name,
            Cell::Null,
            added,
        ]
    }

    #[test]
    fn a_row_becomes_the_message_emap_expects() {
        let sources = Sources::parse(FILE, Path::new("s.toml")).unwrap();
        let query = &sources.sources[0].queries[0];
        let date = Cell::Date(chrono::NaiveDate::from_ymd_opt(2019, 6, 1).unwrap());
        let page = page(vec![row(Cell::Text("Multiple Myeloma".into()), date)]);
        let plan = Plan::new("clarity", "clarity", query, &page).unwrap();
        let mapped = plan.map(&page.rows[0], chrono_tz::Europe::London).unwrap();
        assert_eq!(mapped.message_id, "clarity/problems/1");
        let json: Value = serde_json::from_slice(&mapped.message.to_json()).unwrap();
        assert_eq!(json["sourceMessageId"], "clarity/problems/1");
        assert_eq!(json["sourceSystem"], "clarity");
        // 02:00:05 BST is 01:00:05Z, as in EMAP's clarity_add.yaml.
        assert_eq!(json["updatedDateTime"], "2019-06-09T01:00:05Z");
        assert_eq!(json["conditionName"]["status"], "SAVE");
        assert_eq!(json["conditionName"]["value"], "Multiple Myeloma");
        assert_eq!(json["epicConditionId"]["value"], 1);
        assert_eq!(json["addedDate"], "2019-06-01");
        // IGNORE says nothing: the field is not written at all.
        assert_eq!(json.get("status"), None);
    }

    #[test]
    fn a_null_iv_is_a_delete_and_a_row_the_class_cannot_hold_says_which_field() {
        let sources = Sources::parse(FILE, Path::new("s.toml")).unwrap();
        let query = &sources.sources[0].queries[0];
        let page = page(vec![
            row(Cell::Null, Cell::Null),
            row(Cell::Null, Cell::Text("yesterday".into())),
        ]);
        let plan = Plan::new("clarity", "clarity", query, &page).unwrap();
        let zone = chrono_tz::UTC;
        let json: Value =
            serde_json::from_slice(&plan.map(&page.rows[0], zone).unwrap().message.to_json())
                .unwrap();
        assert_eq!(json["conditionName"]["status"], "DELETE");
        let error = plan.map(&page.rows[1], zone).unwrap_err();
        assert!(error.contains("addedDate"), "{error}");
        assert!(error.contains("PatientProblem"), "{error}");
        assert!(
            !error.contains("yesterday"),
            "the value is not repeated: {error}"
        );
    }

    #[test]
    fn a_column_the_sql_does_not_return_is_named() {
        let sources = Sources::parse(
            &FILE.replace("mrn = \"mrn\"", "mrn = \"pat_mrn\""),
            Path::new("s.toml"),
        )
        .unwrap();
        let error = Plan::new(
            "clarity",
            "clarity",
            &sources.sources[0].queries[0],
            &page(Vec::new()),
        )
        .unwrap_err();
        assert!(error.contains("\"pat_mrn\" (mrn)"), "{error}");
    }
}
