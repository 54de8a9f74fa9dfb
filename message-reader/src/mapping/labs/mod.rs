//! Lab orders and results (ORM^O01, ORR^O02, ORU^R01) → `LabOrderMsg`s, one per ORC/OBR group
//! (R8), each lab system recognised by configuration ([`crate::SiteConfig`]): WinPath by its
//! battery coding system (OBR-4.3, [`winpath`]), CoPath by its filler namespace (OBR-3.2) or
//! coding system ([`copath`]), imaging reports by theirs ([`imaging`]), Bank Manager by its
//! OBR-4.4 ([`bank_manager`]), BIO-CONNECT and ABL90 analysers by their sending application
//! ([`point_of_care`]). OBX results are read by [`results`]. A message from a lab system not
//! configured still yields its implied ADT.

mod bank_manager;
mod copath;
mod imaging;
mod isolates;
mod point_of_care;
mod results;
mod winpath;

use std::collections::BTreeMap;

use hl7::Segment;
use interchange::Message;
use interchange::lab::LabOrderMsg;

use super::MapError;
use super::segments::{Context, text};

/// One order of a lab message: its ORC (the last one before its OBR), its OBR with the NTEs
/// that follow it, and its OBXs each with the NTEs that follow it.
struct Group<'a> {
    orc: Option<&'a Segment>,
    obr: &'a Segment,
    notes: Vec<String>,
    results: Vec<(&'a Segment, Vec<String>)>,
}

/// The message's orders, in order.
fn groups<'a>(context: &Context<'a>) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut orc = None;
    for segment in context.hl7.segments() {
        match segment.id() {
            "ORC" => orc = Some(segment),
            "OBR" => groups.push(Group {
                orc: orc.or_else(|| groups.last().and_then(|g| g.orc)),
                obr: segment,
                notes: Vec::new(),
                results: Vec::new(),
            }),
            "OBX" => {
                if let Some(group) = groups.last_mut() {
                    group.results.push((segment, Vec::new()));
                }
            }
            "NTE" => {
                let note = text(Some(segment), 3, 1, 1).unwrap_or_default();
                if let Some(group) = groups.last_mut() {
                    match group.results.last_mut() {
                        Some((_, notes)) => notes.push(note),
                        None => group.notes.push(note),
                    }
                }
            }
            _ => {}
        }
    }
    groups
}

/// What a lab message maps to.
pub(super) enum Outcome {
    /// No configured lab system sent it.
    NotConfigured,
    /// Its orders.
    Orders(Vec<Message>),
    /// Nothing, by design (e.g. an analyser's calibration sample); why.
    Ignored(&'static str),
}

/// The lab orders of an ORM, ORR or ORU message, by the lab system that sent it.
pub(super) fn orders(context: &Context<'_>, message_type: &str) -> Result<Outcome, MapError> {
    let groups = groups(context);
    let Some(first) = groups.first() else {
        return Ok(Outcome::NotConfigured);
    };
    let site = context.site;
    let obr = Some(first.obr);
    let coding_system = text(obr, 4, 1, 3).unwrap_or_default();
    let alternative = text(obr, 4, 1, 4).unwrap_or_default();
    let filler_namespace = text(obr, 3, 1, 2).unwrap_or_default();
    let sender = text(context.hl7.segment("MSH"), 3, 1, 1).unwrap_or_default();
    let each = |order: OrderOf| each_group(context, message_type, &groups, order);
    if site.winpath_coding_systems.contains(&coding_system) {
        return Ok(messages(isolates::reparent(each(winpath::order)?)));
    }
    if site.copath_codes.contains(&filler_namespace) || site.copath_codes.contains(&coding_system) {
        return Ok(messages(each(copath::order)?));
    }
    if site.imaging_coding_systems.contains(&coding_system) {
        return Ok(messages(each(imaging::order)?));
    }
    if site.bank_manager_codes.contains(&alternative) {
        return Ok(messages(each(bank_manager::order)?));
    }
    if site.bio_connect_senders.contains(&sender) {
        return point_of_care::orders(context, point_of_care::Analyser::BioConnect, &groups);
    }
    if site.abl90_senders.contains(&sender) {
        return point_of_care::orders(context, point_of_care::Analyser::Abl90, &groups);
    }
    Ok(Outcome::NotConfigured)
}

/// How a lab system reads the order of one ORC/OBR group (`None`: left out, e.g. an order
/// control it does not carry).
type OrderOf = fn(&Context<'_>, &str, &Group<'_>) -> Result<Option<LabOrderMsg>, MapError>;

/// The orders `order` reads from the groups, in their order.
fn each_group(
    context: &Context<'_>,
    message_type: &str,
    groups: &[Group<'_>],
    order: OrderOf,
) -> Result<Vec<LabOrderMsg>, MapError> {
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        out.extend(order(context, message_type, group)?);
    }
    Ok(out)
}

/// Orders as what the message maps to.
fn messages(orders: Vec<LabOrderMsg>) -> Outcome {
    Outcome::Orders(orders.into_iter().map(Message::from).collect())
}

/// The order controls WinPath and CoPath orders carry; others are left out (R3).
const CONTROLS: [&str; 8] = ["RE", "NW", "SC", "SN", "NA", "CA", "CR", "OC"];

/// Questions as CoPath and imaging write them, one NTE each: `question<separator>answer`, the
/// answer being everything after the first separator. Notes without one are comments.
fn simple_questions(notes: &[String], separator: &str) -> BTreeMap<String, String> {
    notes
        .iter()
        .filter_map(|note| note.trim().split_once(separator))
        .map(|(q, a)| (q.to_owned(), a.to_owned()))
        .collect()
}

/// Questions and their answers in an order's NTEs, as WinPath writes them: `question:-answer`
/// or `question?-answer`; a line without a separator continues the answer before it (lines
/// before the first question are comments). A question asked again keeps its last answer; an
/// empty question is left out.
fn questions(notes: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for note in notes {
        let separator = [":-", "?-"]
            .iter()
            .filter_map(|sep| note.find(sep).map(|at| (at, *sep)))
            .min();
        match separator {
            Some((at, sep)) => {
                if let Some((q, a)) = current.take() {
                    out.insert(q, a);
                }
                let keep = if sep == "?-" { at + 1 } else { at };
                let question = note[..keep].trim().to_owned();
                let answer = note[at + sep.len()..].trim().to_owned();
                current = (!question.is_empty()).then_some((question, answer));
            }
            None => {
                if let Some((_, answer)) = current.as_mut() {
                    if !answer.is_empty() {
                        answer.push('\n');
                    }
                    answer.push_str(note.trim());
                }
            }
        }
    }
    if let Some((q, a)) = current {
        out.insert(q, a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::questions;

    #[test]
    fn winpath_notes_hold_questions_with_answers_that_may_run_on() {
        let notes: Vec<String> = [
            "A comment before any question",
            "Clinical Details:nwnw-wunwell",
            "Date of last transfusion:-",
            "*** none",
            "Print requisition?-Yes",
            ":-no question",
            "Clinical Details:-late preterm",
        ]
        .map(str::to_owned)
        .to_vec();
        let q = questions(&notes);
        assert_eq!(q.len(), 3, "{q:?}");
        assert_eq!(q["Date of last transfusion"], "*** none");
        assert_eq!(q["Print requisition?"], "Yes");
        assert_eq!(q["Clinical Details"], "late preterm");
    }
}
