//! The synthetic hospital: patient journeys turned into HL7v2 ADT messages in delivery order.
//!
//! Each patient arrives at a random moment of the period, through the emergency department or
//! straight onto a ward, may wait on a pending transfer, moves between wards and beds, has
//! details updated, and is discharged — or is still in at the end of the period. Some events
//! are cancelled and corrected, some patients were registered twice and are merged, and the
//! integration engine delivers some messages late and resends others, at configured rates.
//! Identifiers are obviously synthetic: MRNs start `SYN`, NHS numbers are in the 999 test range,
//! every family name starts `SYNTH-`.

use bytes::Bytes;
use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::labs::{Admission, Clinical};
use crate::rng::Rng;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed: the same seed and settings give the same feed, byte for byte.
    pub seed: u64,
    /// Patients arriving during the period.
    pub patients: usize,
    /// Local time (the site's zone) at which the period starts.
    pub start: NaiveDateTime,
    /// Length of the period in hours.
    pub hours: u32,
    /// Fraction of messages delivered late (after up to eight later ones).
    pub out_of_order: f64,
    /// Fraction of messages resent identically by the integration engine.
    pub duplicates: f64,
    /// Fraction of patients registered twice and later merged (A40).
    pub merges: f64,
    /// Fraction of admissions, transfers and discharges cancelled (A11, A12, A13) and corrected.
    pub cancels: f64,
    /// MSH-3, the sending application (a trusted source by default).
    pub sender: String,
    /// Fraction of admissions with a lab episode: orders, the sample's receipt, results
    /// ([`crate::labs`]); none by default, so an ADT-only feed stays as it was.
    pub labs: f64,
    /// Fraction of admissions whose vital signs are charted every few hours
    /// ([`crate::vitals`]); none by default, so an ADT-only feed stays as it was.
    pub vitals: f64,
    /// Fraction of admissions with allergies, problems or infection flags recorded
    /// ([`crate::conditions`]); none by default, so an ADT-only feed stays as it was.
    pub conditions: f64,
    /// Fraction of admissions with consultation requests or advance decisions
    /// ([`crate::requests`]); none by default, so an ADT-only feed stays as it was.
    pub requests: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            patients: 200,
            start: NaiveDate::from_ymd_opt(2026, 11, 30)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .unwrap_or_default(),
            hours: 24,
            out_of_order: 0.02,
            duplicates: 0.01,
            merges: 0.02,
            cancels: 0.03,
            sender: "EPIC".to_owned(),
            labs: 0.0,
            vitals: 0.0,
            conditions: 0.0,
            requests: 0.0,
        }
    }
}

/// One simulated message, in delivery order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMessage {
    /// MSH-10.
    pub control_id: String,
    /// Which simulated person it is about (both records of a merged person share it), so a
    /// sender can keep one person's messages on one connection.
    pub person: usize,
    /// MSH-9.2.
    pub trigger: &'static str,
    /// When the event happened (local time).
    pub event_time: NaiveDateTime,
    /// The HL7v2 message, segments ended by CR.
    pub bytes: Bytes,
}

const WARDS: &[&str] = &[
    "AMU", "T06", "T07", "T08", "T09", "ICU", "CCU", "HDU", "SAU",
];
const FAMILY: &[&str] = &[
    "ALDER", "BIRCH", "CEDAR", "DOGWOOD", "ELM", "FIR", "HAZEL", "HOLLY", "JUNIPER", "LARCH",
    "MAPLE", "OAK", "PINE", "ROWAN", "SPRUCE", "WILLOW", "YEW", "ASPEN",
];
const GIVEN: &[&str] = &[
    "ALEX", "SAM", "JO", "CHRIS", "ROBIN", "JAMIE", "CASEY", "MORGAN", "TAYLOR", "JORDAN", "RILEY",
    "AVERY", "QUINN", "SKYLER", "CHARLIE", "DREW",
];

/// A person's record: identifiers and demographics.
#[derive(Debug, Clone)]
struct Record {
    mrn: String,
    nhs: String,
    family: String,
    given: String,
    sex: &'static str,
    birth: String,
    postcode: String,
}

/// One event before it becomes HL7.
struct Event {
    time: NaiveDateTime,
    trigger: &'static str,
    record: Record,
    visit: String,
    class: &'static str,
    location: String,
    previous: String,
    pending: String,
    admitted: Option<NaiveDateTime>,
    discharged: Option<NaiveDateTime>,
    merged_mrn: String,
    person: usize,
}

/// A message before its control id is known: an ADT event or a clinical (lab, vitals) message.
enum Draft {
    Adt(Box<Event>),
    Clinical(Clinical),
}

impl Draft {
    fn time(&self) -> NaiveDateTime {
        match self {
            Draft::Adt(e) => e.time,
            Draft::Clinical(l) => l.time,
        }
    }
}

/// The feed for `config`, in delivery order.
pub fn generate(config: &Config) -> Vec<SimMessage> {
    let mut rng = Rng::new(config.seed);
    let end = config.start + Duration::hours(i64::from(config.hours));
    let mut events = Vec::new();
    for person in 0..config.patients {
        journey(config, &mut rng, person, end, &mut events);
    }
    // Labs and vitals each draw from a generator of their own, so an ADT-only feed is the same
    // with or without this code.
    let mut clinical = Vec::new();
    let discharged: std::collections::HashMap<&str, NaiveDateTime> = events
        .iter()
        .filter(|e| e.trigger == "A03")
        .filter_map(|e| Some((e.visit.as_str(), e.discharged?)))
        .collect();
    enum Stream {
        Labs,
        Vitals,
        Conditions,
        Requests,
    }
    // An admission's clinical messages stop at its discharge (or the period's end).
    let until = |e: &Event| {
        discharged
            .get(e.visit.as_str())
            .map_or(end, |d| (*d).min(end))
    };
    for (stream, rate, salt) in [
        (Stream::Labs, config.labs, 0x1ab5_1ab5),
        (Stream::Vitals, config.vitals, 0x0b5e_0b5e),
        (Stream::Conditions, config.conditions, 0xc0d1_c0d1),
        (Stream::Requests, config.requests, 0x0c0a_5017),
    ] {
        if rate <= 0.0 {
            continue;
        }
        let mut rng = Rng::new(config.seed ^ salt);
        for e in events.iter().filter(|e| e.trigger == "A01") {
            if !rng.chance(rate) {
                continue;
            }
            let pid = pid(&e.record);
            let admission = Admission {
                time: e.time,
                person: e.person,
                pid: &pid,
                visit: &e.visit,
                location: &e.location,
            };
            clinical.extend(match stream {
                Stream::Labs => crate::labs::episode(&mut rng, &admission, config.cancels),
                Stream::Vitals => crate::vitals::rounds(&mut rng, &admission, until(e)),
                Stream::Conditions => crate::conditions::episode(&mut rng, &admission, until(e)),
                Stream::Requests => {
                    let left = discharged.contains_key(e.visit.as_str());
                    crate::requests::episode(&mut rng, &admission, until(e), left)
                }
            });
        }
    }
    let mut drafts: Vec<Draft> = events
        .into_iter()
        .map(|e| Draft::Adt(Box::new(e)))
        .chain(clinical.into_iter().map(Draft::Clinical))
        .filter(|d| d.time() < end)
        .collect();
    drafts.sort_by_key(Draft::time);
    let ordered: Vec<SimMessage> = drafts
        .iter()
        .enumerate()
        .map(|(n, d)| match d {
            Draft::Adt(e) => render(config, n, e),
            Draft::Clinical(l) => render_lab(config, n, l),
        })
        .collect();
    deliver(config, &mut rng, ordered)
}

/// A lab message with its MSH segment.
fn render_lab(config: &Config, n: usize, l: &Clinical) -> SimMessage {
    let control_id = format!("SIM{}-{n}", config.seed);
    let text = format!(
        "MSH|^~\\&|{}|{}|WARD|SIMHOSP|{}|{}|{}|{control_id}|P|2.3\r{}",
        l.sender,
        l.facility,
        hl7_time(l.time),
        l.security,
        l.message_type,
        l.body
    );
    SimMessage {
        control_id,
        person: l.person,
        trigger: l.trigger,
        event_time: l.time,
        bytes: Bytes::from(text),
    }
}

/// Puts messages in delivery order: some late, some resent.
fn deliver(config: &Config, rng: &mut Rng, ordered: Vec<SimMessage>) -> Vec<SimMessage> {
    let mut keyed: Vec<(f64, SimMessage)> = Vec::with_capacity(ordered.len());
    for (n, message) in ordered.into_iter().enumerate() {
        let mut key = n as f64;
        if rng.chance(config.out_of_order) {
            key += 1.5 + rng.below(8) as f64;
        }
        if rng.chance(config.duplicates) {
            keyed.push((key + 0.25 + rng.below(4) as f64, message.clone()));
        }
        keyed.push((key, message));
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, m)| m).collect()
}

fn record(rng: &mut Rng, mrn: String, nhs: String) -> Record {
    let birth = NaiveDate::from_ymd_opt(1930, 1, 1).unwrap_or_default()
        + Duration::days(rng.below(90 * 365) as i64);
    Record {
        mrn,
        nhs,
        family: format!("SYNTH-{}", rng.pick(FAMILY)),
        given: rng.pick(GIVEN).to_string(),
        sex: if rng.chance(0.5) { "F" } else { "M" },
        birth: birth.format("%Y%m%d").to_string(),
        postcode: format!("ZZ{} {}XX", rng.below(99), rng.below(9)),
    }
}

fn bed(rng: &mut Rng, ward: &str) -> String {
    let bay = 1 + rng.below(6);
    format!(
        "{ward}^{ward} BAY{bay:02}^BAY{bay:02}-{:02}",
        1 + rng.below(8)
    )
}

fn journey(
    config: &Config,
    rng: &mut Rng,
    person: usize,
    end: NaiveDateTime,
    out: &mut Vec<Event>,
) {
    let period = i64::from(config.hours) * 60;
    let mut time = config.start + Duration::minutes(rng.below(period.max(1) as usize) as i64);
    let mut patient = record(rng, format!("SYN{person:07}"), format!("999{person:07}"));
    let visit = format!("SIM{:03}{person:07}", config.seed % 1000);
    let event = |time, trigger, record: &Record, class, location: &str| Event {
        time,
        trigger,
        record: record.clone(),
        visit: visit.clone(),
        class,
        location: location.to_owned(),
        previous: String::new(),
        pending: String::new(),
        admitted: None,
        discharged: None,
        merged_mrn: String::new(),
        person,
    };

    // A second record for the same person, registered first and merged into this one later.
    if rng.chance(config.merges) {
        let duplicate = record(rng, format!("SYN9{person:06}"), String::new());
        let mut registration = event(
            time - Duration::minutes(15),
            "A04",
            &duplicate,
            "O",
            "OPD^OPD ROOM1^null",
        );
        registration.visit = format!("SIMD{:03}{person:07}", config.seed % 1000);
        out.push(registration);
        let mut merge = event(
            time + Duration::minutes(30 + rng.minutes(240.0)),
            "A40",
            &patient,
            "I",
            "",
        );
        merge.merged_mrn = duplicate.mrn.clone();
        out.push(merge);
    }

    let mut location;
    let mut class;
    if rng.chance(0.6) {
        location = bed(rng, "ED");
        class = "E";
        // Epic sends the arrival time in PV1-44 of an ED registration and of the attendance's
        // discharge: the visit's presentation time (V5), from which ED stays are measured.
        let arrived = time;
        let mut registration = event(time, "A04", &patient, class, &location);
        registration.admitted = Some(arrived);
        out.push(registration);
        time += Duration::minutes(30 + rng.minutes(180.0));
        if rng.chance(0.3) {
            let mut discharge = event(time, "A03", &patient, class, &location);
            discharge.admitted = Some(arrived);
            discharge.discharged = Some(time);
            out.push(discharge);
            return;
        }
        let previous = location;
        let ward = *rng.pick(WARDS);
        location = bed(rng, ward);
        class = "I";
        let mut admit = event(time, "A01", &patient, class, &location);
        admit.previous = previous;
        admit.admitted = Some(time);
        out.push(admit);
    } else {
        let ward = *rng.pick(WARDS);
        location = bed(rng, ward);
        class = "I";
        let mut admit = event(time, "A01", &patient, class, &location);
        admit.admitted = Some(time);
        out.push(admit);
        if rng.chance(config.cancels / 2.0) {
            let mut cancel = event(
                time + Duration::minutes(20),
                "A11",
                &patient,
                class,
                &location,
            );
            cancel.admitted = Some(time);
            out.push(cancel);
            return;
        }
    }
    let admitted = time;

    // Updates, transfers (some pending first, some cancelled) and the discharge.
    if rng.chance(0.3) {
        patient.postcode = format!("ZZ{} {}YY", rng.below(99), rng.below(9));
        let mut update = event(
            time + Duration::minutes(5 + rng.minutes(120.0)),
            "A08",
            &patient,
            class,
            &location,
        );
        update.admitted = Some(admitted);
        out.push(update);
    }
    for _ in 0..rng.below(4) {
        time += Duration::minutes(60 + rng.minutes(600.0));
        if time >= end {
            return;
        }
        let ward = *rng.pick(WARDS);
        let destination = bed(rng, ward);
        if rng.chance(0.3) {
            let mut pending = event(
                time - Duration::minutes(45),
                "A15",
                &patient,
                class,
                &location,
            );
            pending.pending = destination.clone();
            pending.admitted = Some(admitted);
            out.push(pending);
            if rng.chance(0.15) {
                let mut cancel = event(
                    time - Duration::minutes(10),
                    "A26",
                    &patient,
                    class,
                    &location,
                );
                cancel.pending = destination;
                cancel.admitted = Some(admitted);
                out.push(cancel);
                continue;
            }
        }
        let mut transfer = event(time, "A02", &patient, class, &destination);
        transfer.previous = location.clone();
        transfer.admitted = Some(admitted);
        out.push(transfer);
        if rng.chance(config.cancels) {
            // Sent to the wrong bed: cancelled, the patient is back where they were.
            let mut cancel = event(
                time + Duration::minutes(10),
                "A12",
                &patient,
                class,
                &location,
            );
            cancel.previous = destination;
            cancel.admitted = Some(admitted);
            out.push(cancel);
            continue;
        }
        location = destination;
    }
    time += Duration::minutes(120 + rng.minutes(2.0 * 24.0 * 60.0));
    let mut discharge = event(time, "A03", &patient, class, &location);
    discharge.admitted = Some(admitted);
    discharge.discharged = Some(time);
    out.push(discharge);
    if rng.chance(config.cancels) {
        let mut cancel = event(
            time + Duration::minutes(20),
            "A13",
            &patient,
            class,
            &location,
        );
        cancel.admitted = Some(admitted);
        out.push(cancel);
        let later = time + Duration::minutes(60 + rng.minutes(240.0));
        let mut again = event(later, "A03", &patient, class, &location);
        again.admitted = Some(admitted);
        again.discharged = Some(later);
        out.push(again);
    }
}

/// A person's PID segment (without its CR).
fn pid(r: &Record) -> String {
    let identifiers = if r.nhs.is_empty() {
        format!("{}^^^SIMHOSP^MRN", r.mrn)
    } else {
        format!("{}^^^SIMHOSP^MRN~{}^^^NHS^NH", r.mrn, r.nhs)
    };
    format!(
        "PID|1||{identifiers}||{}^{}||{}|{}|||1 SYNTHETIC ROAD^^LONDON^^{}",
        r.family, r.given, r.birth, r.sex, r.postcode
    )
}

fn hl7_time(time: NaiveDateTime) -> String {
    time.format("%Y%m%d%H%M%S").to_string()
}

fn render(config: &Config, n: usize, e: &Event) -> SimMessage {
    let control_id = format!("SIM{}-{n}", config.seed);
    let time = hl7_time(e.time);
    let structure = match e.trigger {
        "A01" | "A04" | "A08" | "A13" => "ADT_A01",
        "A02" => "ADT_A02",
        "A03" => "ADT_A03",
        "A40" => "ADT_A39",
        _ => "ADT_A09",
    };
    let mut pv1 = vec![String::new(); 46];
    pv1[1] = "1".to_owned();
    pv1[2] = e.class.to_owned();
    pv1[3] = e.location.clone();
    pv1[6] = e.previous.clone();
    pv1[19] = e.visit.clone();
    pv1[42] = e.pending.clone();
    pv1[44] = e.admitted.map(hl7_time).unwrap_or_default();
    pv1[45] = e.discharged.map(hl7_time).unwrap_or_default();
    let mut text = format!(
        "MSH|^~\\&|{sender}|SIMHOSP|WARD|SIMHOSP|{time}||ADT^{trigger}^{structure}|{control_id}|P|2.5\r\
         EVN|{trigger}|{time}||||{time}\r{pid}\r",
        sender = config.sender,
        trigger = e.trigger,
        pid = pid(&e.record),
    );
    if e.trigger == "A40" {
        text.push_str(&format!("MRG|{}^^^SIMHOSP^MRN\r", e.merged_mrn));
    } else {
        text.push_str(&format!("PV1|{}\r", pv1[1..].join("|")));
    }
    SimMessage {
        control_id,
        person: e.person,
        trigger: e.trigger,
        event_time: e.time,
        bytes: Bytes::from(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Config {
        Config {
            patients: 300,
            out_of_order: 0.1,
            duplicates: 0.05,
            merges: 0.1,
            cancels: 0.1,
            ..Config::default()
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_feed_and_another_seed_another() {
        assert_eq!(generate(&small()), generate(&small()));
        let other = generate(&Config { seed: 2, ..small() });
        assert_ne!(generate(&small()), other);
    }

    #[test]
    fn the_feed_has_every_kind_of_event_asked_for() {
        let feed = generate(&small());
        for trigger in [
            "A01", "A02", "A03", "A04", "A08", "A11", "A12", "A13", "A15", "A26", "A40",
        ] {
            assert!(feed.iter().any(|m| m.trigger == trigger), "no {trigger}");
        }
        let resent = feed.len()
            - feed
                .iter()
                .map(|m| &m.control_id)
                .collect::<std::collections::HashSet<_>>()
                .len();
        assert!(resent > 0, "no resends");
        let late = feed
            .windows(2)
            .filter(|w| w[1].event_time < w[0].event_time)
            .count();
        assert!(late > 0, "nothing out of order");
    }

    #[test]
    fn rates_of_zero_give_an_ordered_feed_without_resends_merges_or_cancels() {
        let feed = generate(&Config {
            out_of_order: 0.0,
            duplicates: 0.0,
            merges: 0.0,
            cancels: 0.0,
            ..small()
        });
        assert!(feed.windows(2).all(|w| w[0].event_time <= w[1].event_time));
        assert!(
            feed.iter()
                .all(|m| !["A11", "A12", "A13", "A40"].contains(&m.trigger))
        );
    }

    #[test]
    fn vitals_are_asked_for_and_charted_while_their_patients_are_in() {
        let adt_only = generate(&small());
        let feed = generate(&Config {
            vitals: 0.5,
            ..small()
        });
        let vitals: Vec<&SimMessage> = feed
            .iter()
            .filter(|m| String::from_utf8_lossy(&m.bytes).contains("|EPIC|Vitals|"))
            .collect();
        assert!(vitals.len() > 100, "{} vitals messages", vitals.len());
        assert!(
            !adt_only
                .iter()
                .any(|m| String::from_utf8_lossy(&m.bytes).contains("|Vitals|"))
        );
        for v in &vitals {
            let admitted = feed.iter().any(|m| {
                m.person == v.person && m.trigger == "A01" && m.event_time <= v.event_time
            });
            assert!(admitted, "vitals for a patient never admitted");
        }
        let texts: Vec<String> = vitals
            .iter()
            .map(|m| String::from_utf8_lossy(&m.bytes).into_owned())
            .collect();
        assert!(
            texts.iter().any(|t| t.contains("||||||C|||")),
            "a correction"
        );
        assert!(texts.iter().any(|t| t.contains("NTE|1||")), "a comment");
    }

    #[test]
    fn conditions_are_asked_for_and_follow_their_admissions() {
        let feed = generate(&Config {
            conditions: 0.8,
            ..small()
        });
        let texts: Vec<(usize, String)> = feed
            .iter()
            .filter(|m| ["A60", "PC1", "PC2", "PC3"].contains(&m.trigger))
            .map(|m| (m.person, String::from_utf8_lossy(&m.bytes).into_owned()))
            .collect();
        assert!(texts.len() > 50, "{} condition messages", texts.len());
        assert!(texts.iter().any(|(_, t)| t.contains("\rIAM|1|")));
        assert!(texts.iter().any(|(_, t)| t.contains("\rPRB|AD|")));
        assert!(
            feed.iter()
                .any(|m| String::from_utf8_lossy(&m.bytes).contains("\rZIF|"))
        );
        for (person, _) in &texts {
            assert!(
                feed.iter()
                    .any(|m| m.person == *person && m.trigger == "A01")
            );
        }
    }

    #[test]
    fn requests_are_asked_for_and_closed_by_cancellation_or_discharge() {
        let feed = generate(&Config {
            requests: 0.8,
            ..small()
        });
        let texts: Vec<String> = feed
            .iter()
            .filter(|m| m.trigger == "O01")
            .map(|m| String::from_utf8_lossy(&m.bytes).into_owned())
            .collect();
        assert!(texts.len() > 30, "{} request messages", texts.len());
        assert!(texts.iter().any(|t| t.contains("|Consult Orders|")));
        assert!(texts.iter().any(|t| t.contains("|DNACPR|")));
        assert!(texts.iter().any(|t| t.contains("|DISCHAUTO|ORM^O01|")));
        assert!(texts.iter().any(|t| t.contains("->")), "questions");
        let consult = texts
            .iter()
            .find(|t| t.contains("|Consult Orders|"))
            .map(|t| t.split('\r').find(|s| s.starts_with("OBR|")).unwrap_or(""))
            .unwrap_or_default();
        assert!(
            consult
                .split('|')
                .nth(44)
                .is_some_and(|c| c.starts_with("CON")),
            "{consult}"
        );
    }

    #[test]
    fn labs_are_asked_for_and_follow_their_admissions() {
        assert!(generate(&small()).iter().all(|m| m.trigger != "R01"));
        let feed = generate(&Config {
            labs: 0.5,
            ..small()
        });
        let labs: Vec<&SimMessage> = feed
            .iter()
            .filter(|m| ["O01", "R01"].contains(&m.trigger))
            .collect();
        assert!(labs.len() > 100, "{} lab messages", labs.len());
        for lab in &labs {
            let text = String::from_utf8_lossy(&lab.bytes).into_owned();
            assert!(text.contains("^WinPath|"), "{text}");
            let admitted = feed.iter().any(|m| {
                m.person == lab.person && m.trigger == "A01" && m.event_time <= lab.event_time
            });
            assert!(admitted, "a lab for a patient never admitted: {text}");
        }
        assert!(
            labs.iter()
                .any(|m| String::from_utf8_lossy(&m.bytes).contains("ORC|CA|"))
        );
    }

    #[test]
    fn identifiers_are_obviously_synthetic_and_times_inside_the_period() {
        let config = small();
        let end = config.start + Duration::hours(24);
        for message in generate(&config) {
            let text = String::from_utf8_lossy(&message.bytes).into_owned();
            assert!(text.contains("|SYN"), "{text}");
            assert!(text.contains("SYNTH-"), "{text}");
            assert!(message.event_time < end);
        }
    }
}
