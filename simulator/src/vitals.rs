//! The synthetic hospital's observation rounds: vital signs charted on Epic's flowsheets and
//! sent as ORU^R01 from the `Vitals` facility, one OBX per flowsheet row.
//!
//! An admitted patient has a set of observations every four to six hours from admission until
//! discharge (or the end of the period): pulse, blood pressure (text, `120/80`), temperature,
//! SpO2 with its unit, respiratory rate, level of consciousness (text) and the NEWS score. A
//! nurse sometimes adds a comment to a row (an NTE), sometimes corrects a value minutes later
//! (the set resent with status C) and now and then enters a value in error and deletes it
//! (status D). Every message carries the patient's PID and visit, as Epic's do.

use chrono::{Duration, NaiveDateTime};

use crate::labs::{Admission, Clinical};
use crate::rng::Rng;

/// A numeric flowsheet row: interface id, name, unit, usual range and decimals.
struct Row {
    id: &'static str,
    name: &'static str,
    unit: &'static str,
    low: f64,
    high: f64,
    decimals: usize,
}

const NUMERIC: &[Row] = &[
    Row {
        id: "8",
        name: "Pulse",
        unit: "",
        low: 55.0,
        high: 115.0,
        decimals: 0,
    },
    Row {
        id: "6",
        name: "Temp",
        unit: "",
        low: 96.5,
        high: 101.5,
        decimals: 1,
    },
    Row {
        id: "10",
        name: "SpO2",
        unit: "%",
        low: 90.0,
        high: 100.0,
        decimals: 0,
    },
    Row {
        id: "9",
        name: "Resp",
        unit: "",
        low: 12.0,
        high: 26.0,
        decimals: 0,
    },
];

const COMMENTS: &[&str] = &[
    "patient asleep",
    "repeated after rest",
    "on 2L oxygen",
    "manual reading",
];

/// The observation rounds of one admission until `until`.
pub(crate) fn rounds(
    rng: &mut Rng,
    admission: &Admission<'_>,
    until: NaiveDateTime,
) -> Vec<Clinical> {
    let mut out = Vec::new();
    let mut at = admission.time + Duration::minutes(10 + rng.minutes(30.0));
    while at < until {
        let rows = chart(rng);
        out.push(message(
            admission,
            at,
            at + Duration::minutes(2),
            &rows,
            "F",
        ));
        if rng.chance(0.05) {
            // A correction: the set resent with one value changed.
            let mut corrected = rows.clone();
            let n = rng.below(NUMERIC.len());
            corrected[n].1 = value(rng, &NUMERIC[n]);
            let later = at + Duration::minutes(5 + rng.minutes(20.0));
            out.push(message(admission, at, later, &corrected, "C"));
        } else if rng.chance(0.02) {
            // Entered in error: the NEWS score deleted.
            let later = at + Duration::minutes(3 + rng.minutes(10.0));
            out.push(deletion(admission, at, later));
        }
        at += Duration::hours(4) + Duration::minutes(rng.minutes(60.0) + rng.below(60) as i64);
    }
    out
}

/// A row as charted: (interface id, value, comment).
type Charted = (&'static str, String, Option<&'static str>);

/// One set of observations.
fn chart(rng: &mut Rng) -> Vec<Charted> {
    let mut rows: Vec<Charted> = NUMERIC
        .iter()
        .map(|row| {
            let comment = rng.chance(0.03).then(|| *rng.pick(COMMENTS));
            (row.id, value(rng, row), comment)
        })
        .collect();
    let systolic = 95 + rng.below(70);
    let diastolic = 55 + rng.below(40);
    rows.push(("5", format!("{systolic}/{diastolic}"), None));
    let alert = if rng.chance(0.95) { "A" } else { "V" };
    rows.push(("6466", alert.to_owned(), None));
    rows.push(("28315", rng.below(8).to_string(), None));
    rows
}

fn value(rng: &mut Rng, row: &Row) -> String {
    let v = row.low + rng.unit() * (row.high - row.low);
    format!("{v:.*}", row.decimals)
}

fn hl7_time(time: NaiveDateTime) -> String {
    time.format("%Y%m%d%H%M%S").to_string()
}

fn name_of(id: &str) -> (&'static str, &'static str, &'static str) {
    match NUMERIC.iter().find(|r| r.id == id) {
        Some(r) => ("NM", r.name, r.unit),
        None => match id {
            "5" => ("ST", "BP", ""),
            "6466" => ("ST", "Level of consciousness", ""),
            _ => ("NM", "NEWS score", ""),
        },
    }
}

/// The ORU^R01 of one set observed at `observed`, charted at `charted`, with status `status`.
fn message(
    admission: &Admission<'_>,
    observed: NaiveDateTime,
    charted: NaiveDateTime,
    rows: &[Charted],
    status: &str,
) -> Clinical {
    let time = hl7_time(observed);
    let mut body = header(admission, observed, charted);
    for (n, (id, value, comment)) in rows.iter().enumerate() {
        let (kind, name, unit) = name_of(id);
        body.push_str(&format!(
            "OBX|{}|{kind}|{id}^{name}^FDCEMAP||{value}|{unit}|||||{status}|||{time}\r",
            n + 1
        ));
        if let Some(comment) = comment {
            body.push_str(&format!("NTE|1||{comment}\r"));
        }
    }
    clinical(admission, charted, body)
}

/// The NEWS score of the set observed at `observed` deleted (entered in error) at `charted`.
fn deletion(
    admission: &Admission<'_>,
    observed: NaiveDateTime,
    charted: NaiveDateTime,
) -> Clinical {
    let mut body = header(admission, observed, charted);
    body.push_str(&format!(
        "OBX|1|NM|28315^NEWS score^FDCEMAP||\"\"||||||D|||{}\r",
        hl7_time(observed)
    ));
    clinical(admission, charted, body)
}

/// An ORU^R01 from Epic's flowsheet interface charted at `charted`.
fn clinical(admission: &Admission<'_>, charted: NaiveDateTime, body: String) -> Clinical {
    Clinical {
        time: charted,
        person: admission.person,
        trigger: "R01",
        body,
        sender: "EPIC",
        facility: "Vitals",
        message_type: "ORU^R01",
        security: "",
    }
}

fn header(admission: &Admission<'_>, observed: NaiveDateTime, charted: NaiveDateTime) -> String {
    format!(
        "EVN|R01|{}\r{}\rPV1|1|I|{}||||||||||||||||{}\rOBR|1||{}{}||||{}\r",
        hl7_time(charted),
        admission.pid,
        admission.location,
        admission.visit,
        admission.visit,
        hl7_time(observed),
        hl7_time(observed)
    )
}
