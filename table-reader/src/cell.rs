//! One value of a source row, typed the same whichever database it came from, and a row's
//! place in its query's order. A source driver turns its column types into [`Cell`]s; the
//! mapping turns cells into interchange JSON; the watermark stores a [`Position`] as text and
//! reads it back, so a restart resumes exactly after the last row confirmed.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// A value of a source row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer type.
    Int(i64),
    /// Any floating-point type.
    Float(f64),
    /// Any character type.
    Text(String),
    /// A date.
    Date(NaiveDate),
    /// A timestamp without a zone: read in the source's zone.
    Timestamp(NaiveDateTime),
    /// A timestamp with a zone.
    TimestampTz(DateTime<Utc>),
    /// Bytes (a PDF report): base64 in the interchange, as EMAP writes them.
    Bytes(Vec<u8>),
}

/// Why a cell could not become a value.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum CellError {
    /// A local time that the zone skips (the spring-forward hour).
    #[error("timestamp {0} does not exist in {1} (a clock change skips it)")]
    NonexistentLocalTime(NaiveDateTime, Tz),
    /// A number JSON cannot hold.
    #[error("number {0} cannot be written as JSON")]
    NotFinite(f64),
}

impl Cell {
    /// The JSON the interchange reads for this value; timestamps without a zone are read in
    /// `zone` (an hour that occurs twice, at the autumn clock change, is taken the first time).
    pub fn to_json(&self, zone: Tz) -> Result<Value, CellError> {
        Ok(match self {
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Int(i) => Value::from(*i),
            Cell::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .ok_or(CellError::NotFinite(*f))?,
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            Cell::Timestamp(t) => Value::String(rfc3339(local_to_utc(*t, zone)?)),
            Cell::TimestampTz(t) => Value::String(rfc3339(*t)),
            Cell::Bytes(b) => Value::String(base64(b)),
        })
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }

    /// The instant, for a timestamp (to report how far behind a query is).
    pub fn instant(&self, zone: Tz) -> Option<DateTime<Utc>> {
        match self {
            Cell::TimestampTz(t) => Some(*t),
            Cell::Timestamp(t) => local_to_utc(*t, zone).ok(),
            Cell::Date(d) => d
                .and_hms_opt(0, 0, 0)
                .and_then(|t| local_to_utc(t, zone).ok()),
            _ => None,
        }
    }

    /// The kind and text a watermark stores, or `None` for a kind that cannot order rows.
    pub fn to_stored(&self) -> Option<(&'static str, String)> {
        Some(match self {
            Cell::Int(i) => ("int", i.to_string()),
            Cell::Text(s) => ("text", s.clone()),
            Cell::Date(d) => ("date", d.format("%Y-%m-%d").to_string()),
            Cell::Timestamp(t) => ("timestamp", t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
            Cell::TimestampTz(t) => ("timestamptz", rfc3339(*t)),
            Cell::Null | Cell::Bool(_) | Cell::Float(_) | Cell::Bytes(_) => return None,
        })
    }

    /// Reads back what [`Cell::to_stored`] wrote.
    pub fn from_stored(kind: &str, text: &str) -> Option<Cell> {
        Some(match kind {
            "int" => Cell::Int(text.parse().ok()?),
            "text" => Cell::Text(text.to_owned()),
            "date" => Cell::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?),
            "timestamp" => {
                Cell::Timestamp(NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?)
            }
            "timestamptz" => {
                Cell::TimestampTz(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
            }
            _ => return None,
        })
    }
}

/// Where a row is in its query's order: after every row with a smaller `(order, key)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// The `order_by` column's value.
    pub order: Cell,
    /// The `key` column's value.
    pub key: Cell,
}

fn local_to_utc(t: NaiveDateTime, zone: Tz) -> Result<DateTime<Utc>, CellError> {
    zone.from_local_datetime(&t)
        .earliest()
        .map(|local| local.with_timezone(&Utc))
        .ok_or(CellError::NonexistentLocalTime(t, zone))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap_or_default()
    }

    #[test]
    fn local_timestamps_are_read_in_the_sources_zone() {
        let london: Tz = chrono_tz::Europe::London;
        let summer = Cell::Timestamp(at("2026-07-01 00:30:00")).to_json(london);
        assert_eq!(summer, Ok(Value::String("2026-06-30T23:30:00Z".into())));
        let winter = Cell::Timestamp(at("2026-01-01 00:30:00")).to_json(london);
        assert_eq!(winter, Ok(Value::String("2026-01-01T00:30:00Z".into())));
        // 01:30 on 29 March 2026 does not exist in London; 01:30 on 25 October occurs twice.
        assert!(
            Cell::Timestamp(at("2026-03-29 01:30:00"))
                .to_json(london)
                .is_err()
        );
        assert_eq!(
            Cell::Timestamp(at("2026-10-25 01:30:00")).to_json(london),
            Ok(Value::String("2026-10-25T00:30:00Z".into()))
        );
    }

    #[test]
    fn positions_survive_being_stored() {
        for cell in [
            Cell::Int(-42),
            Cell::Text("a b".into()),
            Cell::Date(NaiveDate::from_ymd_opt(2020, 2, 29).unwrap_or_default()),
            Cell::Timestamp(at("2026-01-01 00:30:00") + chrono::Duration::microseconds(123_456)),
            Cell::TimestampTz(Utc.timestamp_opt(1_700_000_000, 5_000).unwrap()),
        ] {
            let (kind, text) = cell.to_stored().unwrap_or_default();
            assert_eq!(Cell::from_stored(kind, &text), Some(cell));
        }
        assert_eq!(Cell::Float(1.5).to_stored(), None);
        assert_eq!(Cell::from_stored("int", "x"), None);
    }

    #[test]
    fn bytes_are_base64() {
        for (bytes, text) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(
                Cell::Bytes(bytes.to_vec()).to_json(chrono_tz::UTC),
                Ok(Value::String(text.into()))
            );
        }
    }
}
