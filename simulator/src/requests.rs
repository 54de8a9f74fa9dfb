//! The synthetic hospital's consultation requests and advance decisions, as Epic sends them
//! (ORM^O01 from the `Consult Orders` and `DNACPR` facilities).
//!
//! An admitted patient may be referred to another team a few hours in (a consult, with the
//! referrer's questions and answers in NTE segments as `question->answer`), some referrals later
//! cancelled, and those still open at discharge closed by it (ORC-1 `OC` with MSH-8 `DISCHAUTO`);
//! and may have a treatment-escalation decision recorded (DNACPR or full active treatment),
//! now and then revised. Order numbers are unique per person.

use chrono::{Duration, NaiveDateTime};

use crate::labs::{Admission, Clinical};
use crate::rng::Rng;

const CONSULTS: &[(&str, &str)] = &[
    ("CON255", "IP CON FRAILTY"),
    ("CON6", "IP CON DIETITIAN"),
    ("CON12", "IP CON PALLIATIVE CARE"),
    ("CON40", "IP CON DIABETES"),
];

const REASONS: &[&str] = &[
    "frail, delirium, ? cognitive decline",
    "poor oral intake",
    "symptom control",
    "hyperglycaemia on steroids",
];

const DECISIONS: &[(&str, &str)] = &[("COD4", "FULL ACTIVE TREATMENT"), ("COD2", "DNACPR")];

fn hl7_time(time: NaiveDateTime) -> String {
    time.format("%Y%m%d%H%M%S").to_string()
}

/// The request messages of one admission discharged at `until` (or still in at the period's end).
pub(crate) fn episode(
    rng: &mut Rng,
    admission: &Admission<'_>,
    until: NaiveDateTime,
    discharged: bool,
) -> Vec<Clinical> {
    let mut out = Vec::new();
    let base = 100_000 * (admission.person as i64 + 1);
    if rng.chance(0.4) {
        let at = admission.time + Duration::hours(2) + Duration::minutes(rng.minutes(240.0));
        let (code, name) = *rng.pick(CONSULTS);
        let reason = *rng.pick(REASONS);
        let order = Order {
            admission,
            number: base + 1,
            code,
            name,
        };
        out.push(order.consult(at, "NW", "", reason));
        if rng.chance(0.15) {
            let later = at + Duration::minutes(30 + rng.minutes(120.0));
            out.push(order.consult(later, "OC", "", reason));
        } else if discharged {
            out.push(order.consult(until, "OC", "DISCHAUTO", reason));
        }
    }
    if rng.chance(0.2) {
        let at = admission.time + Duration::minutes(30 + rng.minutes(120.0));
        let (code, name) = *rng.pick(DECISIONS);
        let order = Order {
            admission,
            number: base + 2,
            code,
            name,
        };
        out.push(order.decision(at, "NW", ""));
        if rng.chance(0.1) {
            let later = at + Duration::hours(6) + Duration::minutes(rng.minutes(600.0));
            out.push(order.decision(later, "OC", ""));
        } else if discharged {
            out.push(order.decision(until, "OC", "DISCHAUTO"));
        }
    }
    // A discharge closes at its own time: keep what is sent up to it.
    out.retain(|m| m.time <= until);
    out
}

/// One order of an admission: its number and type.
struct Order<'a> {
    admission: &'a Admission<'a>,
    number: i64,
    code: &'static str,
    name: &'static str,
}

impl Order<'_> {
    fn segments(&self, at: NaiveDateTime, control: &str) -> String {
        let a = self.admission;
        let number = format!("{}^EPC", self.number);
        let fields = |name: &str, set: &[(usize, String)]| {
            let last = set.iter().map(|(i, _)| *i).max().unwrap_or(0);
            let mut out = vec![String::new(); last + 1];
            out[0] = name.to_owned();
            for (i, value) in set {
                out[*i] = value.clone();
            }
            out.join("|")
        };
        let pv1 = fields(
            "PV1",
            &[
                (2, "I".into()),
                (3, a.location.into()),
                (19, a.visit.into()),
            ],
        );
        let orc = fields(
            "ORC",
            &[(1, control.into()), (2, number.clone()), (9, hl7_time(at))],
        );
        let obr = fields(
            "OBR",
            &[
                (1, "1".into()),
                (2, number),
                (4, format!("^^^^{}", self.name)),
                (6, hl7_time(a.time)),
                (44, self.code.into()),
            ],
        );
        format!("{}\r{pv1}\r{orc}\r{obr}\r", a.pid)
    }

    fn consult(
        &self,
        at: NaiveDateTime,
        control: &str,
        security: &'static str,
        reason: &str,
    ) -> Clinical {
        let body = format!(
            "{}NTE|1||Reason for Consult?->{reason}\rNTE|2||Did you contact the team?->No\r",
            self.segments(at, control)
        );
        self.clinical(at, "Consult Orders", security, body)
    }

    fn decision(&self, at: NaiveDateTime, control: &str, security: &'static str) -> Clinical {
        let body = self.segments(at, control);
        self.clinical(at, "DNACPR", security, body)
    }

    fn clinical(
        &self,
        at: NaiveDateTime,
        facility: &'static str,
        security: &'static str,
        body: String,
    ) -> Clinical {
        Clinical {
            time: at,
            person: self.admission.person,
            trigger: "O01",
            body,
            sender: "EPIC",
            facility,
            message_type: "ORM^O01",
            security,
        }
    }
}
