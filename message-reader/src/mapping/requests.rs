//! Consultation requests and advance decisions (DNACPR and the like), which Epic sends as
//! ORM^O01 orders from their own facilities (MSH-4, `SiteConfig::consult_facilities` and
//! `advance_decision_facilities`), as EMAP reads them: the Epic number (ORC-2), the status change
//! time (ORC-9), the consultation type or care code (OBR-44), the decision's type name
//! (OBR-4.5), when it was requested (OBR-6) or scheduled (OBR-36), and the NTEs: a
//! `question->answer` line is a question (EMAP's NotesParser), any other line a note. Q2: ORC-1
//! `OC` cancels, unless MSH-8 (security) is `DISCHAUTO`, which closes the request because the
//! patient was discharged.

use std::collections::BTreeMap;

use interchange::Message;
use interchange::order::{AdvanceDecisionMessage, ConsultRequest};
use interchange::value::Iv;

use super::MapError;
use super::segments::{Context, text};

/// Which kind of request a message's sending facility says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Consult,
    AdvanceDecision,
}

/// The kind of request the message's facility sends, if any. A facility matches as written or
/// by its first sub-component (Epic's `DNACPR & CPR` reads `DNACPR` there).
pub(super) fn kind(context: &Context<'_>) -> Option<Kind> {
    let facility = text(context.hl7.segment("MSH"), 4, 1, 1)?;
    let first = facility
        .split('&')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let named = |list: &[String]| list.iter().any(|f| *f == facility || *f == first);
    if named(&context.site.consult_facilities) {
        Some(Kind::Consult)
    } else if named(&context.site.advance_decision_facilities) {
        Some(Kind::AdvanceDecision)
    } else {
        None
    }
}

/// An NTE's comment (NTE-3) whole, as EMAP's NotesParser reads the FT: every repetition, its
/// components kept, escapes decoded, joined by line breaks; `None` when empty.
fn comment(context: &Context<'_>, nte: &hl7::Segment) -> Option<String> {
    let delimiters = context.hl7.delimiters();
    let lines: Vec<String> = (1..=nte.repetitions(3))
        .map(|r| hl7::message::decode_escapes(nte.repetition(3, r), &delimiters))
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The NTEs' questions (`question->answer`, the separator allowed again in the answer; a question
/// asked twice keeps its last answer) and the other lines, as notes (a line with no question
/// before its `->` among them: EMAP would store an empty question).
fn notes(context: &Context<'_>) -> (BTreeMap<String, String>, Vec<String>) {
    let mut questions = BTreeMap::new();
    let mut lines = Vec::new();
    for nte in context.hl7.segments_named("NTE") {
        let Some(line) = comment(context, nte) else {
            continue;
        };
        match line.split_once("->") {
            Some((question, answer)) if !question.trim().is_empty() => {
                questions.insert(question.to_owned(), answer.to_owned());
            }
            _ => lines.push(line),
        }
    }
    (questions, lines)
}

/// The request's Epic number (ORC-2.1).
fn number(context: &Context<'_>) -> Result<Option<i64>, MapError> {
    match text(context.hl7.segment("ORC"), 2, 1, 1) {
        None => Ok(None),
        Some(n) => n
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| MapError::UnknownValue {
                field: "ORC-2 order number",
            }),
    }
}

/// Q2: (cancelled, closed because of discharge).
fn ended(context: &Context<'_>) -> (bool, bool) {
    let hl7 = context.hl7;
    let cancelling = text(hl7.segment("ORC"), 1, 1, 1).as_deref() == Some("OC");
    let discharge = text(hl7.segment("MSH"), 8, 1, 1).as_deref() == Some("DISCHAUTO");
    (cancelling && !discharge, cancelling && discharge)
}

/// The request of an ORM^O01 from a consult or advance decision facility.
pub(super) fn request(context: &Context<'_>, kind: Kind) -> Result<Message, MapError> {
    let hl7 = context.hl7;
    let (orc, obr) = (hl7.segment("ORC"), hl7.segment("OBR"));
    let source_system = text(hl7.segment("MSH"), 3, 1, 1);
    let mrn = text(hl7.segment("PID"), 3, 1, 1);
    let visit_number = text(hl7.segment("PV1"), 19, 1, 1);
    let status_change = context.instant(orc, 9, "ORC-9 transaction time")?;
    let (questions, lines) = notes(context);
    let (cancelled, closed_due_to_discharge) = ended(context);
    Ok(match kind {
        Kind::Consult => ConsultRequest {
            source_message_id: Some(context.source_message_id.to_owned()),
            source_system,
            epic_consult_id: number(context)?,
            mrn,
            visit_number,
            consultation_type: text(obr, 44, 1, 1),
            status_change_datetime: status_change,
            scheduled_datetime: context.instant(obr, 36, "OBR-36 scheduled time")?,
            questions,
            notes: match lines.is_empty() {
                true => Iv::Unknown,
                false => Iv::Save(lines.join("\n")),
            },
            cancelled,
            closed_due_to_discharge,
        }
        .into(),
        Kind::AdvanceDecision => AdvanceDecisionMessage {
            source_message_id: Some(context.source_message_id.to_owned()),
            source_system,
            advance_decision_number: number(context)?,
            mrn,
            visit_number,
            advance_care_code: text(obr, 44, 1, 1),
            advance_decision_type_name: text(obr, 4, 1, 5),
            questions,
            status_change_datetime: status_change,
            requested_datetime: context.instant(obr, 6, "OBR-6 requested time")?,
            cancelled,
            closed_due_to_discharge,
        }
        .into(),
    })
}
