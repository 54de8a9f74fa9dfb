//! Messages as a reader would publish them, and applying them as the consumer will.

use chrono::{DateTime, Utc};
use event_processor::{ProcessError, Processor};
use interchange::Message;
use interchange::adt::{AdtFields, UpdatePatientInfo};
use interchange::value::Iv;
use sqlx::PgPool;

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// An A08 for `mrn` from `source` valid from `valid_from`, with a family name.
pub fn update(
    id: &str,
    source: &str,
    mrn: Option<&str>,
    nhs: Option<&str>,
    valid_from: &str,
    family: Iv<String>,
) -> Message {
    UpdatePatientInfo {
        adt: AdtFields {
            source_message_id: Some(id.to_owned()),
            source_system: Some(source.to_owned()),
            recorded_date_time: Some(at(valid_from)),
            mrn: mrn.map(str::to_owned),
            nhs_number: nhs.map(str::to_owned),
            patient_family_name: family,
            patient_sex: Iv::Save("F".to_owned()),
            ..Default::default()
        },
    }
    .into()
}

/// A value the source gave.
pub fn save(text: &str) -> Iv<String> {
    Iv::Save(text.to_owned())
}

/// The common test step: an A08 with an MRN and a family name, valid from `valid_from` and
/// stored one second later, applied; panics if it is rejected.
pub async fn a08(
    pool: &PgPool,
    id: &str,
    source: &str,
    mrn: &str,
    valid_from: &str,
    family: Iv<String>,
) {
    let stored_from = (at(valid_from) + chrono::Duration::seconds(1)).to_rfc3339();
    apply(
        pool,
        &update(id, source, Some(mrn), None, valid_from, family),
        &stored_from,
    )
    .await
    .unwrap();
}

/// Applies one message in its own transaction, as the consumer does.
pub async fn apply(
    pool: &PgPool,
    message: &Message,
    stored_from: &str,
) -> Result<(), ProcessError> {
    let mut tx = pool.begin().await.unwrap();
    let result = Processor::default()
        .process(&mut tx, message, at(stored_from))
        .await;
    if result.is_ok() {
        tx.commit().await.unwrap();
    }
    result
}

pub async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM star.{table}"
    )))
    .fetch_one(pool)
    .await
    .unwrap()
}

pub async fn lastname(pool: &PgPool, mrn: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT d.lastname FROM star.core_demographic d JOIN star.mrn m USING (mrn_id) WHERE m.mrn = $1",
    )
    .bind(mrn)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A time on the test day: `"11:00"`, `"11:00:30"`, or a full RFC 3339 instant.
pub fn t(text: &str) -> DateTime<Utc> {
    if text.contains('T') {
        return at(text);
    }
    let seconds = if text.len() == 5 { ":00" } else { "" };
    at(&format!("2024-01-01T{text}{seconds}Z"))
}

/// An ADT message written as one line of data: `<trigger> <time> [key=value]…`, e.g.
/// `A02 12:00 at=WARD^B^1 from=ED^A^1`. The time is the event time (EVN-6). Keys: `mrn` (default
/// `M1`), `nhs`, `visit` (default `V1`), `src` (default `EPIC`), `at` (PV1-3), `from` (PV1-6),
/// `adm` (PV1-44), `dis` (PV1-45), `disp`, `dest`, `class` (an HL7 PV1-2 code), `arrival`,
/// `family`, `cancel` (cancelled time), `cancel_at` (A12 cancelled location), `pending` (A15/A26
/// destination), `prev_mrn`, `prev_nhs`, `prev_visit`, `other_mrn`, `other_visit`, `other_at`,
/// `id` (source message id, default the line itself). Triggers: A01–A17, A26, A28, A29, A31,
/// A40, A45, A47 and `IMPLIED` (context from a lab message, source default `WinPath`).
pub fn hl7(line: &str) -> Message {
    use interchange::adt::*;
    let mut words = line.split_whitespace();
    let trigger = words.next().expect("a trigger");
    let time = t(words.next().expect("a time"));
    let fields: std::collections::HashMap<&str, &str> = words
        .map(|w| w.split_once('=').expect("key=value"))
        .collect();
    let get = |key: &str| fields.get(key).map(|v| (*v).to_owned());
    let time_of = |key: &str| fields.get(key).map(|v| t(v));
    let iv = |key: &str| get(key).map_or(Iv::Unknown, Iv::Save);
    let default_source = if trigger == "IMPLIED" {
        "WinPath"
    } else {
        "EPIC"
    };
    let adt = AdtFields {
        source_message_id: Some(get("id").unwrap_or_else(|| line.to_owned())),
        source_system: Some(get("src").unwrap_or_else(|| default_source.to_owned())),
        recorded_date_time: Some(time),
        event_occurred_date_time: Some(time),
        mrn: Some(get("mrn").unwrap_or_else(|| "M1".to_owned())).filter(|m| m != "-"),
        nhs_number: get("nhs"),
        visit_number: Some(get("visit").unwrap_or_else(|| "V1".to_owned())).filter(|v| v != "-"),
        full_location_string: iv("at"),
        previous_location_string: iv("from"),
        patient_class: get("class").map_or(Iv::Unknown, |c| {
            Iv::Save(PatientClass::from_hl7(&c).expect("a class"))
        }),
        mode_of_arrival: iv("arrival"),
        patient_family_name: iv("family"),
        ..Default::default()
    };
    let admission = time_of("adm").map_or(Iv::Unknown, Iv::Save);
    match trigger {
        "A01" => AdmitPatient {
            adt,
            admission_date_time: admission,
        }
        .into(),
        "A02" | "A06" | "A07" => TransferPatient {
            adt,
            admission_date_time: admission,
        }
        .into(),
        "A03" => DischargePatient {
            adt,
            admission_date_time: admission,
            discharge_date_time: time_of("dis"),
            discharge_disposition: get("disp"),
            discharge_location: get("dest"),
        }
        .into(),
        "A04" => RegisterPatient {
            adt,
            presentation_date_time: Iv::Save(time),
        }
        .into(),
        "A08" | "A28" | "A31" => UpdatePatientInfo { adt }.into(),
        "IMPLIED" => ImpliedAdtMessage { adt }.into(),
        "A11" => CancelAdmitPatient {
            adt,
            cancelled_date_time: time_of("cancel"),
        }
        .into(),
        "A12" => CancelTransferPatient {
            adt,
            cancelled_date_time: time_of("cancel"),
            cancelled_location: get("cancel_at"),
        }
        .into(),
        "A13" => CancelDischargePatient {
            adt,
            cancelled_date_time: time_of("cancel"),
        }
        .into(),
        "A15" => PendingTransfer {
            adt,
            pending_event_type: PendingType::Transfer,
            pending_destination: iv("pending"),
        }
        .into(),
        "A26" => CancelPendingTransfer {
            adt,
            pending_event_type: PendingType::Transfer,
            pending_destination: iv("pending"),
            cancelled_date_time: time_of("cancel"),
        }
        .into(),
        "A17" => SwapLocations {
            adt,
            other_mrn: get("other_mrn"),
            other_nhs_number: None,
            other_visit_number: get("other_visit"),
            other_full_location_string: iv("other_at"),
        }
        .into(),
        "A29" => DeletePersonInformation { adt }.into(),
        "A40" => MergePatient {
            adt,
            previous_mrn: get("prev_mrn"),
            previous_nhs_number: get("prev_nhs"),
        }
        .into(),
        "A45" => MoveVisitInformation {
            adt,
            previous_mrn: get("prev_mrn"),
            previous_nhs_number: get("prev_nhs"),
            previous_visit_number: get("prev_visit"),
        }
        .into(),
        "A47" => ChangePatientIdentifiers {
            adt,
            previous_mrn: get("prev_mrn"),
            previous_nhs_number: get("prev_nhs"),
        }
        .into(),
        other => panic!("no test message for trigger {other}"),
    }
}

/// Applies messages written as [`hl7`] lines, in order, each stored a minute after its event
/// time; returns each one's outcome.
pub async fn run(pool: &PgPool, lines: &[&str]) -> Vec<Result<(), ProcessError>> {
    let mut outcomes = Vec::new();
    for line in lines {
        let message = hl7(line);
        let stored = message.valid_from().unwrap() + chrono::Duration::minutes(1);
        outcomes.push(apply(pool, &message, &stored.to_rfc3339()).await);
    }
    outcomes
}

/// Applies lines that must all be accepted.
pub async fn ok(pool: &PgPool, lines: &[&str]) {
    for (line, outcome) in lines.iter().zip(run(pool, lines).await) {
        if let Err(e) = outcome {
            panic!("{line}: {e}");
        }
    }
}

/// The rule a line is rejected by.
pub async fn rejected_by(pool: &PgPool, line: &str) -> &'static str {
    match run(pool, &[line]).await.pop().unwrap() {
        Err(ProcessError::Rejected(rejection)) => rejection.rule,
        other => panic!("{line}: expected a rejection, got {other:?}"),
    }
}

fn clock(time: DateTime<Utc>) -> String {
    let text = time.format("%H:%M:%S").to_string();
    text.strip_suffix(":00").map_or(text.clone(), str::to_owned)
}

/// A visit's location visits as data: `"<location> <admission>-<discharge>"` in time order, a
/// `?` after a time that was inferred, `open` for no discharge.
pub async fn stays(pool: &PgPool, encounter: &str) -> Vec<String> {
    type Row = (
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        bool,
        bool,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT l.location_string, lv.admission_datetime, lv.discharge_datetime,
                    lv.inferred_admission, lv.inferred_discharge
             FROM star.location_visit lv
             JOIN star.location l USING (location_id)
             JOIN star.hospital_visit v USING (hospital_visit_id)
             WHERE v.encounter = $1
             ORDER BY lv.admission_datetime, lv.discharge_datetime NULLS LAST",
    )
    .bind(encounter)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(
            |(location, admission, discharge, inferred_admission, inferred_discharge)| {
                let mark = |inferred: bool| if inferred { "?" } else { "" };
                format!(
                    "{location} {}{}-{}{}",
                    admission.map_or("none".to_owned(), clock),
                    mark(inferred_admission),
                    discharge.map_or("open".to_owned(), clock),
                    mark(inferred_discharge)
                )
            },
        )
        .collect()
}

/// A visit's row as data: `mrn`, times as clock strings, attributes.
#[derive(Debug, PartialEq, Eq)]
pub struct VisitRow {
    pub mrn: String,
    pub presentation: Option<String>,
    pub admission: Option<String>,
    pub discharge: Option<String>,
    pub patient_class: Option<String>,
    pub source_system: String,
    pub disposition: Option<String>,
    pub destination: Option<String>,
}

/// The visit with this encounter, if there is one.
pub async fn visit(pool: &PgPool, encounter: &str) -> Option<VisitRow> {
    type Row = (
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT coalesce(m.mrn, m.nhs_number), v.presentation_datetime, v.admission_datetime,
                v.discharge_datetime, v.patient_class, v.source_system,
                v.discharge_disposition, v.discharge_destination
         FROM star.hospital_visit v JOIN star.mrn m USING (mrn_id)
         WHERE v.encounter = $1",
    )
    .bind(encounter)
    .fetch_optional(pool)
    .await
    .unwrap();
    row.map(|r| VisitRow {
        mrn: r.0,
        presentation: r.1.map(clock),
        admission: r.2.map(clock),
        discharge: r.3.map(clock),
        patient_class: r.4,
        source_system: r.5,
        disposition: r.6,
        destination: r.7,
    })
}

/// The live MRN string of an MRN.
pub async fn live_mrn(pool: &PgPool, mrn: &str) -> String {
    sqlx::query_scalar("SELECT live_mrn FROM star.patient_identity WHERE mrn = $1")
        .bind(mrn)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every ordering of `0..n` (Heap's algorithm), for permutation tests.
pub fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, items: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(items.clone());
            return;
        }
        heap(k - 1, items, out);
        for i in 0..k - 1 {
            if k.is_multiple_of(2) {
                items.swap(i, k - 1);
            } else {
                items.swap(0, k - 1);
            }
            heap(k - 1, items, out);
        }
    }
    let mut items: Vec<usize> = (0..n).collect();
    let mut out = Vec::new();
    heap(n, &mut items, &mut out);
    out
}

/// The rule a refused message names; panics if it was applied.
pub fn rule(result: Result<(), ProcessError>) -> &'static str {
    match result {
        Err(ProcessError::Rejected(r)) => r.rule,
        other => panic!("expected a rejection, got {other:?}"),
    }
}
