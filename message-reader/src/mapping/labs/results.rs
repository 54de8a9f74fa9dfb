//! OBX segments as lab results, shared by every lab system: the value by OBX-2 (numeric values
//! with their `<`/`>` operator, R6; text, with repetitions joined by newlines), units, the
//! reference range (R5), abnormal flags, status and the NTE notes that follow the OBX.

use hl7::Segment;
use interchange::lab::{LabResultMsg, LabResultStatus, ValueType};
use interchange::value::Iv;

use crate::mapping::segments::text;

/// R5: `a-b` gives both limits; `<x` the upper limit (the lower deleted); `>x` the lower (the
/// upper deleted); anything else neither.
pub(crate) fn reference_range(range: Option<&str>) -> (Iv<f64>, Iv<f64>) {
    let Some(range) = range.map(str::trim).filter(|r| !r.is_empty()) else {
        return (Iv::Unknown, Iv::Unknown);
    };
    if let Some(high) = range.strip_prefix('<') {
        return match high.trim().parse() {
            Ok(high) => (Iv::delete(), Iv::Save(high)),
            Err(_) => (Iv::Unknown, Iv::Unknown),
        };
    }
    if let Some(low) = range.strip_prefix('>') {
        return match low.trim().parse() {
            Ok(low) => (Iv::Save(low), Iv::delete()),
            Err(_) => (Iv::Unknown, Iv::Unknown),
        };
    }
    match range
        .split_once('-')
        .map(|(a, b)| (a.trim().parse(), b.trim().parse()))
    {
        Some((Ok(low), Ok(high))) => (Iv::Save(low), Iv::Save(high)),
        _ => (Iv::Unknown, Iv::Unknown),
    }
}

/// R6: a numeric value with its operator: `<x` and `>x` keep theirs, a plain number is `=`; a
/// value that is no number deletes the numeric value.
pub(crate) fn numeric(value: &str) -> (Iv<f64>, Option<String>) {
    let value = value.trim();
    let (operator, number) = match value.chars().next() {
        Some(op @ ('<' | '>')) => (op.to_string(), &value[1..]),
        _ => ("=".to_owned(), value),
    };
    match number.trim().parse::<f64>() {
        Ok(n) => (Iv::Save(n), Some(operator)),
        Err(_) => (Iv::delete(), None),
    }
}

/// The result one OBX reports, with the text of the NTEs that follow it.
pub(crate) fn result(obx: &Segment, notes: &[String]) -> LabResultMsg {
    let kind = match obx.value(2, 1, 1).as_deref() {
        Some("NM" | "SN") => ValueType::Numeric,
        _ => ValueType::Text,
    };
    let repetitions = obx.repetitions(5).max(1);
    let values: Vec<String> = (1..=repetitions)
        .filter_map(|rep| obx.value(5, rep, 1))
        .collect();
    let joined = (!values.is_empty()).then(|| values.join("\n"));
    let (numeric_value, result_operator) = match (kind, &joined) {
        (ValueType::Numeric, Some(v)) => numeric(v),
        _ => (Iv::Unknown, None),
    };
    let (reference_low, reference_high) = reference_range(text(Some(obx), 7, 1, 1).as_deref());
    LabResultMsg {
        mime_type: Some(kind),
        test_item_local_code: text(Some(obx), 3, 1, 1),
        test_item_coding_system: text(Some(obx), 3, 1, 3),
        observation_sub_id: text(Some(obx), 4, 1, 1),
        numeric_value,
        string_value: joined.map_or(Iv::Unknown, Iv::Save),
        units: text(Some(obx), 6, 1, 1).map_or(Iv::Unknown, Iv::Save),
        reference_low,
        reference_high,
        abnormal_flag: text(Some(obx), 8, 1, 1).map_or(Iv::delete(), Iv::Save),
        result_operator,
        result_status: text(Some(obx), 11, 1, 1)
            .as_deref()
            .and_then(LabResultStatus::from_hl7),
        notes: if notes.is_empty() {
            Iv::Unknown
        } else {
            Iv::Save(notes.join("\n"))
        },
        ..LabResultMsg::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r5_reference_ranges_read_as_emap_reads_them() {
        assert_eq!(
            reference_range(Some("0.60-1.00")),
            (Iv::Save(0.6), Iv::Save(1.0))
        );
        assert_eq!(reference_range(Some("<5")), (Iv::delete(), Iv::Save(5.0)));
        assert_eq!(reference_range(Some(">2.5")), (Iv::Save(2.5), Iv::delete()));
        assert_eq!(reference_range(Some("normal")), (Iv::Unknown, Iv::Unknown));
        assert_eq!(reference_range(None), (Iv::Unknown, Iv::Unknown));
    }

    #[test]
    fn r6_numeric_values_carry_their_operator_and_a_non_number_deletes() {
        assert_eq!(numeric("0.83"), (Iv::Save(0.83), Some("=".to_owned())));
        assert_eq!(numeric("<0.5"), (Iv::Save(0.5), Some("<".to_owned())));
        assert_eq!(numeric(">90"), (Iv::Save(90.0), Some(">".to_owned())));
        assert_eq!(numeric("see report"), (Iv::delete(), None));
    }
}
