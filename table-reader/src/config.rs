//! The sources file a site writes: which databases to read, and for each query its SQL, the
//! interchange class its rows become, how its columns fill that class's fields and which
//! columns order its rows. Sources are configuration, not code: a new report or a new vendor
//! schema is a new file, checked here before anything connects.
//!
//! ```toml
//! [[source]]
//! name = "clarity"
//! url_env = "CLARITY_URL"        # or url = "postgres://reader@host/db" (password in ~/.pgpass)
//! source_system = "clarity"
//! time_zone = "Europe/London"    # how to read timestamps without a zone
//!
//! [[source.query]]
//! name = "problems"
//! class = "PatientProblem"
//! order_by = "updated_at"        # a time or a number that grows when a row changes
//! key = "problem_id"             # unique per row: orders rows sharing one order_by value
//! batch_size = 5000
//! sql = "SELECT problem_id, updated_at, mrn, dx_code, dx_name FROM problem_list"
//!
//! [source.query.fields]
//! updatedDateTime = "updated_at"          # a column
//! mrn = "mrn"
//! conditionCode = "dx_code"
//! conditionName = { iv = "dx_name" }      # an InterchangeValue: SAVE, or DELETE when NULL
//! "roomMetadata.roomName" = "room_name"   # a dotted path fills a nested object
//! sourceObservationType = { value = "flowsheet" }   # a constant
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Rows per page unless a query says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 5_000;
/// Most rows per page a query may ask for.
pub const MAX_BATCH_SIZE: usize = 100_000;

/// The whole sources file, checked.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Each source database, in file order.
    pub sources: Vec<SourceConfig>,
}

/// One source database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Short name, used in watermarks, message ids and metrics (`[a-z0-9_-]`).
    pub name: String,
    /// Connection URL (`postgres://…` or `mysql://…`); prefer `url_env`, which keeps passwords
    /// out of the file.
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the connection URL.
    #[serde(default)]
    pub url_env: Option<String>,
    /// `sourceSystem` of every message from this source (e.g. `clarity`, `caboodle`).
    pub source_system: String,
    /// IANA zone the source's timestamps without a zone are in (default: the site's zone).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The queries.
    #[serde(rename = "query", default)]
    pub queries: Vec<QueryConfig>,
}

/// One query: a page of its rows at a time, each row one interchange message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// Short name, unique within its source (`[a-z0-9_-]`).
    pub name: String,
    /// The interchange class its rows become: the Java class name or its last part.
    pub class: String,
    /// The SELECT; the reader wraps it to page through it in `(order_by, key)` order.
    pub sql: String,
    /// The column rows are read in order of: a modification time or a growing number.
    pub order_by: String,
    /// A column unique per row, ordering rows that share an `order_by` value.
    pub key: String,
    /// Rows per page.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Interchange field (a dotted path for nested objects) → where its value comes from.
    pub fields: BTreeMap<String, FieldSpec>,
}

fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}

/// Where one field's value comes from.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged, deny_unknown_fields)]
pub enum FieldSpec {
    /// A column's value as it is (NULL leaves the field null).
    Column(String),
    /// An `InterchangeValue`: SAVE with the column's value, and when it is NULL, DELETE (the
    /// source holds no value: clear it) or, with `when_null = "ignore"`, IGNORE (say nothing).
    Iv {
        /// The column.
        iv: String,
        /// What a NULL means.
        #[serde(default)]
        when_null: WhenNull,
    },
    /// The same value for every row.
    Constant {
        /// The value (TOML string, number, boolean).
        value: toml::Value,
    },
}

/// What a NULL column means for an `InterchangeValue` field.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WhenNull {
    /// The source has no value: clear the field (EMAP `DELETE`).
    #[default]
    Delete,
    /// The source says nothing: leave the field as it is (EMAP `IGNORE`).
    Ignore,
}

/// Why a sources file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What and where.
        message: String,
    },
    /// The file parsed but says something that cannot work.
    #[error("{path}: {place}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The source and query.
        place: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "source", default)]
    sources: Vec<SourceConfig>,
}

impl Sources {
    /// Reads and checks a sources file.
    pub fn load(path: &Path) -> Result<Sources, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Sources::parse(&text, path)
    }

    /// Checks the text of a sources file (`path` only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Sources, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let invalid = |place: String, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            place,
            message,
        };
        if file.sources.is_empty() {
            return Err(invalid("file".into(), "no [[source]]".into()));
        }
        let mut names = HashSet::new();
        for source in &file.sources {
            let place = format!("source {:?}", source.name);
            check_name(&source.name).map_err(|m| invalid(place.clone(), m))?;
            if !names.insert(source.name.clone()) {
                return Err(invalid(place, "two sources have this name".into()));
            }
            match (&source.url, &source.url_env) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(invalid(place, "give exactly one of url and url_env".into()));
                }
                _ => {}
            }
            if let Some(zone) = &source.time_zone
                && zone.parse::<chrono_tz::Tz>().is_err()
            {
                return Err(invalid(place, format!("unknown time zone {zone:?}")));
            }
            if source.queries.is_empty() {
                return Err(invalid(place, "no [[source.query]]".into()));
            }
            let mut queries = HashSet::new();
            for query in &source.queries {
                let place = format!("source {:?} query {:?}", source.name, query.name);
                check_query(query).map_err(|m| invalid(place.clone(), m))?;
                if !queries.insert(query.name.clone()) {
                    return Err(invalid(
                        place,
                        "two queries of this source have this name".into(),
                    ));
                }
            }
        }
        Ok(Sources {
            sources: file.sources,
        })
    }
}

impl SourceConfig {
    /// The connection URL, from the file or the environment.
    pub fn connection_url(&self) -> Result<String, String> {
        match (&self.url, &self.url_env) {
            (Some(url), _) => Ok(url.clone()),
            (None, Some(var)) => std::env::var(var).map_err(|_| {
                format!(
                    "source {:?}: environment variable {var} is not set",
                    self.name
                )
            }),
            (None, None) => Err(format!("source {:?} has no url", self.name)),
        }
    }
}

impl QueryConfig {
    /// The full Java class name `class` names.
    pub fn class_name(&self) -> Option<&'static str> {
        resolve_class(&self.class)
    }

    /// Every column the fields read, besides `order_by` and `key`.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.fields.values().filter_map(|spec| match spec {
            FieldSpec::Column(column) => Some(column.as_str()),
            FieldSpec::Iv { iv, .. } => Some(iv.as_str()),
            FieldSpec::Constant { .. } => None,
        })
    }
}

/// The full class name for a Java class name or its last part.
fn resolve_class(class: &str) -> Option<&'static str> {
    interchange::Message::CLASS_NAMES
        .iter()
        .copied()
        .find(|full| *full == class || full.rsplit('.').next() == Some(class))
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err("a name is 1–63 of a-z, 0-9, _ and -".into())
    }
}

fn check_identifier(what: &str, column: &str) -> Result<(), String> {
    let ok = !column.is_empty()
        && column.len() <= 63
        && column
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !column.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {column:?} is not a plain column name (letters, digits, _): alias it in the SQL"
        ))
    }
}

fn check_query(query: &QueryConfig) -> Result<(), String> {
    check_name(&query.name)?;
    let class = query.class_name().ok_or_else(|| {
        format!(
            "unknown interchange class {:?} (ward interchange-schema lists them)",
            query.class
        )
    })?;
    if query.sql.trim().is_empty() {
        return Err("empty sql".into());
    }
    if query.sql.trim_end().ends_with(';') {
        return Err("end the sql without ';' (the reader wraps it)".into());
    }
    check_identifier("order_by", &query.order_by)?;
    check_identifier("key", &query.key)?;
    if !(1..=MAX_BATCH_SIZE).contains(&query.batch_size) {
        return Err(format!("batch_size must be 1 to {MAX_BATCH_SIZE}"));
    }
    for (field, spec) in &query.fields {
        if field.split('.').any(str::is_empty) || field.starts_with('@') {
            return Err(format!("field {field:?} is not a field path"));
        }
        if field == "sourceMessageId" {
            return Err("sourceMessageId is the reader's (source/query/key); do not map it".into());
        }
        match spec {
            FieldSpec::Column(column) | FieldSpec::Iv { iv: column, .. } => {
                check_identifier(&format!("field {field:?}: column"), column)?;
            }
            FieldSpec::Constant { value } => {
                if matches!(value, toml::Value::Table(_) | toml::Value::Array(_)) {
                    return Err(format!("field {field:?}: a constant is a single value"));
                }
            }
        }
    }
    let _ = class;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[source]]
name = "clarity"
url = "postgres://h/db"
source_system = "clarity"

[[source.query]]
name = "problems"
class = "PatientProblem"
order_by = "updated_at"
key = "problem_id"
sql = "SELECT * FROM problem_list"

[source.query.fields]
mrn = "mrn"
conditionName = { iv = "dx_name" }
status = { iv = "status", when_null = "ignore" }
"roomMetadata.roomName" = "room_name"
sourceObservationType = { value = "flowsheet" }
"#;

    fn refused(text: &str) -> String {
        match Sources::parse(text, Path::new("sources.toml")) {
            Err(e) => e.to_string(),
            Ok(_) => String::from("accepted"),
        }
    }

    #[test]
    fn a_good_file_reads_with_every_kind_of_field() {
        let sources = Sources::parse(GOOD, Path::new("s.toml")).unwrap_or_else(|e| panic!("{e}"));
        let query = &sources.sources[0].queries[0];
        assert_eq!(
            query.class_name(),
            Some("uk.ac.ucl.rits.inform.interchange.PatientProblem")
        );
        assert_eq!(query.batch_size, DEFAULT_BATCH_SIZE);
        assert_eq!(
            query.fields["status"],
            FieldSpec::Iv {
                iv: "status".into(),
                when_null: WhenNull::Ignore
            }
        );
        assert_eq!(
            query.fields["sourceObservationType"],
            FieldSpec::Constant {
                value: toml::Value::String("flowsheet".into())
            }
        );
        let mut columns: Vec<&str> = query.columns().collect();
        columns.sort_unstable();
        assert_eq!(columns, ["dx_name", "mrn", "room_name", "status"]);
    }

    #[test]
    fn mistakes_are_refused_naming_the_source_and_query() {
        for (change, expected) in [
            (("PatientProblem", "Problem"), "unknown interchange class"),
            (
                ("order_by = \"updated_at\"", "order_by = \"a; DROP\""),
                "not a plain column",
            ),
            (("name = \"problems\"", "name = \"Problems!\""), "a name is"),
            (
                ("url = \"postgres://h/db\"", ""),
                "exactly one of url and url_env",
            ),
            (("SELECT * FROM problem_list", "SELECT 1;"), "without ';'"),
            (
                ("mrn = \"mrn\"", "sourceMessageId = \"mrn\""),
                "do not map it",
            ),
            (
                ("mrn = \"mrn\"", "mrn = { colum = \"mrn\" }"),
                "sources.toml",
            ),
        ] {
            let said = refused(&GOOD.replace(change.0, change.1));
            assert!(said.contains(expected), "{change:?}: {said}");
            if expected != "sources.toml" && expected != "exactly one of url and url_env" {
                assert!(
                    said.contains("query \"") || said.contains("problems"),
                    "{said}"
                );
            }
        }
        assert!(refused("").contains("no [[source]]"));
    }
}
