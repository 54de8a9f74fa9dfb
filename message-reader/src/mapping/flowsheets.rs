//! Flowsheet rows (vital signs, NEWS, weights…): an ORU^R01 from a flowsheet sender, recognised
//! by its sending facility (MSH-4, `SiteConfig::flowsheet_facilities`), is one `Flowsheet` per
//! OBX, as EMAP reads them.
//!
//! Each OBX gives its interface id (OBX-3.1), its value by OBX-2 (NM a number, DT a date, TM a
//! time, anything else text with repetitions joined by newlines), its unit (OBX-6) and the text of
//! the NTEs after it as its comment (each repetition a line). F3: only statuses F, C and D are
//! read, D deleting the value while keeping the row; an OBX with any other status is left out.
//! F4: an OBX with neither a value nor a comment is left out. The observation time is OBX-14
//! (else OBR-7); the message's time is EVN-2 (else MSH-7). A numeric OBX whose value is no
//! number keeps the text as a text value rather than losing it (EMAP refuses the message).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use hl7::Segment;
use interchange::Message;
use interchange::lab::ValueType;
use interchange::observation::Flowsheet;
use interchange::value::Iv;

use super::MapError;
use super::segments::{Context, text};

/// Whether the message comes from a flowsheet sender.
pub(super) fn is_flowsheet(context: &Context<'_>) -> bool {
    let facility = text(context.hl7.segment("MSH"), 4, 1, 1).unwrap_or_default();
    context.site.flowsheet_facilities.contains(&facility)
}

/// The flowsheet rows of an ORU^R01 from a flowsheet sender, in OBX order.
pub(super) fn flowsheets(context: &Context<'_>) -> Result<Vec<Message>, MapError> {
    let hl7 = context.hl7;
    let msh = hl7.segment("MSH");
    let pid = hl7.segment("PID");
    let mrn = text(pid, 3, 1, 1);
    let visit_number = text(hl7.segment("PV1"), 19, 1, 1);
    let sender = text(msh, 3, 1, 1);
    let updated = match context.instant(hl7.segment("EVN"), 2, "EVN-2 recorded time")? {
        Some(at) => Some(at),
        None => context.instant(msh, 7, "MSH-7 message time")?,
    };
    let mut rows = Vec::new();
    let mut obr_time = None;
    let mut current: Option<(&Segment, Vec<String>)> = None;
    for segment in hl7.segments() {
        match segment.id() {
            "OBR" | "OBX" => {
                if let Some((obx, notes)) = current.take() {
                    rows.extend(row(context, obx, &notes, obr_time)?);
                }
                match segment.id() {
                    "OBR" => obr_time = context.instant(Some(segment), 7, "OBR-7")?,
                    _ => current = Some((segment, Vec::new())),
                }
            }
            "NTE" => {
                if let Some((_, notes)) = current.as_mut() {
                    let repetitions = segment.repetitions(3).max(1);
                    notes.extend((1..=repetitions).filter_map(|rep| segment.value(3, rep, 1)));
                }
            }
            _ => {}
        }
    }
    if let Some((obx, notes)) = current.take() {
        rows.extend(row(context, obx, &notes, obr_time)?);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            Flowsheet {
                source_message_id: Some(context.source_message_id.to_owned()),
                source_system: sender.clone(),
                source_application: sender.clone(),
                source_observation_type: Some("flowsheet".to_owned()),
                mrn: mrn.clone(),
                visit_number: visit_number.clone(),
                is_real_time: Some(true),
                updated_time: updated,
                ..row
            }
            .into()
        })
        .collect())
}

/// One OBX as a flowsheet row, or nothing (F3, F4).
fn row(
    context: &Context<'_>,
    obx: &Segment,
    notes: &[String],
    obr_time: Option<DateTime<Utc>>,
) -> Result<Option<Flowsheet>, MapError> {
    let deleted = match text(Some(obx), 11, 1, 1).as_deref() {
        Some("F" | "C") => false,
        Some("D") => true,
        _ => return Ok(None),
    };
    let values: Vec<String> = (1..=obx.repetitions(5).max(1))
        .filter_map(|rep| obx.value(5, rep, 1))
        .filter(|v| v != "\"\"")
        .collect();
    let comment = (!notes.is_empty()).then(|| notes.join("\n"));
    if values.is_empty() && comment.is_none() && !deleted {
        return Ok(None);
    }
    let mut flowsheet = Flowsheet {
        interface_id: text(Some(obx), 3, 1, 1),
        unit: text(Some(obx), 6, 1, 1).map_or(Iv::Unknown, Iv::Save),
        comment: comment.map_or(Iv::Unknown, Iv::Save),
        observation_time: match context.instant(Some(obx), 14, "OBX-14 observation time")? {
            Some(at) => Some(at),
            None => obr_time,
        },
        ..Flowsheet::default()
    };
    let empty = values.is_empty();
    let joined = values.join("\n");
    let trimmed = joined.trim();
    match text(Some(obx), 2, 1, 1).as_deref() {
        Some("NM") => match value(deleted, empty, trimmed.parse::<f64>().ok(), "OBX-5 number") {
            Ok(number) => {
                flowsheet.value_type = Some(ValueType::Numeric);
                flowsheet.numeric_value = number;
            }
            Err(_) => {
                flowsheet.value_type = Some(ValueType::Text);
                flowsheet.string_value = Iv::Save(joined);
            }
        },
        Some("DT") => {
            flowsheet.value_type = Some(ValueType::Date);
            let date = NaiveDate::parse_from_str(trimmed, "%Y%m%d").ok();
            flowsheet.date_value = value(deleted, empty, date, "OBX-5 date")?;
        }
        Some("TM") => {
            flowsheet.value_type = Some(ValueType::Time);
            flowsheet.time_value = value(deleted, empty, parse_time(trimmed), "OBX-5 time")?;
        }
        _ => {
            flowsheet.value_type = Some(ValueType::Text);
            flowsheet.string_value = value(deleted, empty, Some(joined), "OBX-5")?;
        }
    }
    Ok(Some(flowsheet))
}

/// F3: D deletes whatever value the row holds; no value leaves it as it is; a value that does
/// not read as its type is an error naming `field`.
fn value<T>(
    deleted: bool,
    empty: bool,
    parsed: Option<T>,
    field: &'static str,
) -> Result<Iv<T>, MapError> {
    match (deleted, empty, parsed) {
        (true, _, _) => Ok(Iv::delete()),
        (false, true, _) => Ok(Iv::Unknown),
        (false, false, Some(v)) => Ok(Iv::Save(v)),
        (false, false, None) => Err(MapError::UnknownValue { field }),
    }
}

/// An HL7 TM value: `HHMM`, `HHMMSS` or `HHMMSS.S…` (an offset, if any, is dropped: a time of
/// day on a flowsheet is wall-clock time).
fn parse_time(value: &str) -> Option<NaiveTime> {
    let value = value.split(['+', '-']).next()?;
    let (whole, _) = value.split_once('.').unwrap_or((value, ""));
    match whole.len() {
        4 => NaiveTime::parse_from_str(whole, "%H%M").ok(),
        6 => NaiveTime::parse_from_str(whole, "%H%M%S").ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hl7_times_of_day_read() {
        assert_eq!(parse_time("1430"), NaiveTime::from_hms_opt(14, 30, 0));
        assert_eq!(parse_time("143015.25"), NaiveTime::from_hms_opt(14, 30, 15));
        assert_eq!(parse_time("1430+0100"), NaiveTime::from_hms_opt(14, 30, 0));
        assert_eq!(parse_time("14"), None);
        assert_eq!(parse_time("2561"), None);
    }
}
