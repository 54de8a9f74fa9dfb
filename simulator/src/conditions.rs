//! The synthetic hospital's problem lists, allergies and infection flags, as Epic sends them.
//!
//! An admitted patient may have allergies recorded soon after arriving (ADT^A60, an IAM segment
//! each: allergen, type, reactions), sometimes amended later with other reactions or deleted as
//! entered in error; problems on their problem list (PPR^PC1, a PRB each, ICD-10 coded), some
//! later resolved (PC2) or deleted (PC3); and now and then an infection-control flag (ADT^A05
//! with a ZIF segment) that may be resolved before discharge. Epic ids are unique per person.

use chrono::{Duration, NaiveDateTime};

use crate::labs::{Admission, Clinical};
use crate::rng::Rng;

const ALLERGENS: &[(&str, &str, &str)] = &[
    ("PENICILLIN", "Penicillins", "DRUG CLASS"),
    ("TRAMADOL", "Tramadol", "DRUG INGREDI"),
    ("LATEX", "Latex", "ENVIRONMENT"),
    ("PEANUT", "Peanut", "FOOD"),
    ("CODEINE", "Codeine", "DRUG INGREDI"),
];

const REACTIONS: &[&str] = &["Rash", "Hives", "Anaphylaxis", "Nausea", "Wheeze"];

const PROBLEMS: &[(&str, &str)] = &[
    ("I10", "Essential hypertension"),
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    (
        "J44.9",
        "Chronic obstructive pulmonary disease, unspecified",
    ),
    ("N18.3", "Chronic kidney disease, stage 3"),
    ("I48.9", "Atrial fibrillation, unspecified"),
    ("C90.0", "Multiple myeloma"),
];

const INFECTIONS: &[&str] = &["MRSA", "C. difficile", "CPE", "COVID-19"];

fn hl7_time(time: NaiveDateTime) -> String {
    time.format("%Y%m%d%H%M%S").to_string()
}

fn hl7_date(time: NaiveDateTime) -> String {
    time.format("%Y%m%d").to_string()
}

/// The condition messages of one admission until `until`.
pub(crate) fn episode(
    rng: &mut Rng,
    admission: &Admission<'_>,
    until: NaiveDateTime,
) -> Vec<Clinical> {
    let mut out = Vec::new();
    let base = 10_000 * (admission.person as i64 + 1);
    if rng.chance(0.6) {
        let at = admission.time + Duration::minutes(15 + rng.minutes(60.0));
        let n = 1 + usize::from(rng.chance(0.3));
        for k in 0..n {
            let allergen = *rng.pick(ALLERGENS);
            let id = base + k as i64;
            let reaction = *rng.pick(REACTIONS);
            out.push(allergy(admission, at, allergen, id, "A", &[reaction]));
            if rng.chance(0.15) {
                let later = at + Duration::hours(2) + Duration::minutes(rng.minutes(120.0));
                let other = *rng.pick(REACTIONS);
                out.push(allergy(
                    admission,
                    later,
                    allergen,
                    id,
                    "U",
                    &[reaction, other],
                ));
            } else if rng.chance(0.05) {
                let later = at + Duration::minutes(30 + rng.minutes(60.0));
                out.push(allergy(admission, later, allergen, id, "D", &[]));
            }
        }
    }
    if rng.chance(0.5) {
        let at = admission.time + Duration::hours(1) + Duration::minutes(rng.minutes(120.0));
        let n = 1 + rng.below(3);
        for k in 0..n {
            let (code, name) = *rng.pick(PROBLEMS);
            let id = base + 100 + k as i64;
            out.push(problem(
                admission,
                at,
                "PC1",
                "AD",
                (code, name),
                id,
                "ACTIVE",
                None,
            ));
            if rng.chance(0.1) {
                let later = at + Duration::hours(6) + Duration::minutes(rng.minutes(240.0));
                let resolved = Some(later);
                out.push(problem(
                    admission,
                    later,
                    "PC2",
                    "UP",
                    (code, name),
                    id,
                    "Resolved",
                    resolved,
                ));
            } else if rng.chance(0.05) {
                let later = at + Duration::minutes(20 + rng.minutes(60.0));
                out.push(problem(
                    admission,
                    later,
                    "PC3",
                    "DE",
                    (code, name),
                    id,
                    "ACTIVE",
                    None,
                ));
            }
        }
    }
    if rng.chance(0.1) {
        let added = admission.time + Duration::hours(2) + Duration::minutes(rng.minutes(240.0));
        let name = *rng.pick(INFECTIONS);
        out.push(infection(admission, added, name, added, None));
        if rng.chance(0.3) {
            let resolved = added + Duration::hours(12) + Duration::minutes(rng.minutes(600.0));
            out.push(infection(admission, resolved, name, added, Some(resolved)));
        }
    }
    out.retain(|m| m.time < until);
    out
}

fn pv1(admission: &Admission<'_>) -> String {
    format!(
        "PV1|1|I|{}||||||||||||||||{}",
        admission.location, admission.visit
    )
}

fn message(
    admission: &Admission<'_>,
    at: NaiveDateTime,
    trigger: &'static str,
    message_type: &'static str,
    body: String,
) -> Clinical {
    Clinical {
        time: at,
        person: admission.person,
        trigger,
        body,
        sender: "EPIC",
        facility: "SIMHOSP",
        message_type,
        security: "",
    }
}

fn allergy(
    admission: &Admission<'_>,
    at: NaiveDateTime,
    (code, name, kind): (&str, &str, &str),
    id: i64,
    action: &str,
    reactions: &[&str],
) -> Clinical {
    let reactions: Vec<String> = reactions.iter().map(|r| format!("^{r}")).collect();
    let body = format!(
        "EVN|A60|{time}\r{pid}\r{pv1}\rIAM|1|{kind}|{code}^{name}||{reactions}|{action}|{id}|||{onset}||{time}\r",
        time = hl7_time(at),
        pid = admission.pid,
        pv1 = pv1(admission),
        reactions = reactions.join("~"),
        onset = hl7_date(admission.time),
    );
    message(admission, at, "A60", "ADT^A60", body)
}

#[allow(clippy::too_many_arguments)]
fn problem(
    admission: &Admission<'_>,
    at: NaiveDateTime,
    trigger: &'static str,
    action: &str,
    (code, name): (&str, &str),
    id: i64,
    status: &str,
    resolved: Option<NaiveDateTime>,
) -> Clinical {
    let message_type = match trigger {
        "PC1" => "PPR^PC1",
        "PC2" => "PPR^PC2",
        _ => "PPR^PC3",
    };
    let body = format!(
        "EVN|{trigger}|{time}\r{pid}\r{pv1}\rPRB|{action}|{time}|{code}^{name}^I10UK|{id}|||{added}||{resolved}||||{status}|||{added}\r",
        time = hl7_time(at),
        pid = admission.pid,
        pv1 = pv1(admission),
        added = hl7_date(admission.time),
        resolved = resolved.map(hl7_date).unwrap_or_default(),
    );
    message(admission, at, trigger, message_type, body)
}

fn infection(
    admission: &Admission<'_>,
    at: NaiveDateTime,
    name: &str,
    added: NaiveDateTime,
    resolved: Option<NaiveDateTime>,
) -> Clinical {
    let resolved = resolved
        .map(|r| format!("^{}", hl7_time(r)))
        .unwrap_or_default();
    let body = format!(
        "EVN|A05|{time}\r{pid}\r{pv1}\rZIF|{name}^{added}{resolved}\r",
        time = hl7_time(at),
        pid = admission.pid,
        pv1 = pv1(admission),
        added = hl7_time(added),
    );
    message(admission, at, "A05", "ADT^A05", body)
}
