//! The whole pipeline against real services: HL7 over MLLP → listener → IDS → reader →
//! RabbitMQ → processor → star schema.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

mod common;

use bytes::Bytes;
use common::{start, wait_until};
use testkit::TestDb;

fn adt(trigger: &str, control: &str, time: &str, mrn: &str, family: &str) -> Bytes {
    let identifiers = if mrn.is_empty() {
        String::new()
    } else {
        format!("{mrn}^^^MRENTR^MEDREC~9{}^^^NHS^HN", &mrn[1..])
    };
    Bytes::from(format!(
        "MSH|^~\\&|EPIC|UCLH|WARD|UCLH|{time}||ADT^{trigger}|{control}|P|2.4\r\
         EVN|{trigger}|{time}\r\
         PID|1||{identifiers}||{family}^JANE||19800101|F\r\
         PV1|1|I|T42^B1^01||||||||||||||||V-{mrn}\r"
    ))
}

#[tokio::test]
async fn hl7_over_mllp_reaches_the_star_schema() {
    let db = TestDb::migrated().await;
    let running = start(&db).await;
    running
        .send(vec![
            adt("A01", "P1", "20240102100000", "40800001", "ORANGE"),
            adt("A08", "P2", "20240103100000", "40800001", "LEMON"),
            adt("A01", "P3", "20240102100000", "40800002", "APPLE"),
            // No patient identifier: the processor refuses it (rule M2) into the dead-letter table.
            adt("A08", "P4", "20240104100000", "", "NOBODY"),
        ])
        .await;

    let pool = db.pool.clone();
    wait_until("both patients' demographics and the dead letter", async || {
        let names: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT m.mrn, d.lastname FROM star.mrn m JOIN star.core_demographic d USING (mrn_id) ORDER BY m.mrn",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM star.dead_letter WHERE rule = 'M2'")
            .fetch_one(&pool)
            .await
            .unwrap();
        names == [("40800001".to_owned(), Some("LEMON".to_owned())), ("40800002".to_owned(), Some("APPLE".to_owned()))]
            && dead == 1
    })
    .await;
    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM star.core_demographic_audit")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(audit, 1, "ORANGE is history");
    // Provenance is a join: the star row names the IDS message that produced it.
    let provenance: String = sqlx::query_scalar(
        "SELECT i.control_id FROM star.core_demographic d JOIN star.mrn m USING (mrn_id)
         JOIN ids.message i ON i.id = d.source_ids_id WHERE m.mrn = '40800001'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(provenance, "P2", "star rows name the IDS message");

    running.stop().await;
}

/// An ADT message about a visit: `time` is the event time (EVN-6), `at` PV1-3, `from` PV1-6,
/// `discharged` PV1-45, `merged` MRG-1.
struct Adt<'a> {
    trigger: &'a str,
    control: &'a str,
    time: &'a str,
    mrn: &'a str,
    visit: &'a str,
    at: &'a str,
    from: &'a str,
    discharged: &'a str,
    merged: &'a str,
}

impl Adt<'_> {
    fn bytes(&self) -> Bytes {
        let mut pv1 = vec![""; 46];
        pv1[1] = "1";
        pv1[2] = "I";
        pv1[3] = self.at;
        pv1[6] = self.from;
        pv1[19] = self.visit;
        pv1[45] = self.discharged;
        let mrg = if self.merged.is_empty() {
            String::new()
        } else {
            format!("MRG|{}^^^MRENTR^MEDREC\r", self.merged)
        };
        let pv1 = format!("PV1|{}", pv1[1..].join("|"));
        Bytes::from(format!(
            "MSH|^~\\&|EPIC|UCLH|WARD|UCLH|{time}||ADT^{trigger}|{control}|P|2.4\r\
             EVN|{trigger}|{time}||||{time}\r\
             PID|1||{mrn}^^^MRENTR^MEDREC||SMITH^JANE||19800101|F\r\
             {pv1}\r{mrg}",
            time = self.time,
            trigger = self.trigger,
            control = self.control,
            mrn = self.mrn,
        ))
    }
}

const NONE: Adt<'static> = Adt {
    trigger: "",
    control: "",
    time: "",
    mrn: "",
    visit: "",
    at: "",
    from: "",
    discharged: "",
    merged: "",
};

async fn stays(pool: &sqlx::PgPool, encounter: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT l.location_string || ' ' || to_char(lv.admission_datetime AT TIME ZONE 'UTC', 'HH24:MI')
                || '-' || coalesce(to_char(lv.discharge_datetime AT TIME ZONE 'UTC', 'HH24:MI'), 'open')
         FROM star.location_visit lv
         JOIN star.location l USING (location_id)
         JOIN star.hospital_visit v USING (hospital_visit_id)
         WHERE v.encounter = $1 ORDER BY lv.admission_datetime",
    )
    .bind(encounter)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn adt_over_mllp_gives_visits_locations_merges_and_cancels() {
    let db = TestDb::migrated().await;
    let running = start(&db).await;
    let (t10, t11, t12) = ("20240102100000", "20240102110000", "20240102120000");
    running
        .send(
            [
                // Admit → transfer → discharge.
                Adt {
                    trigger: "A01",
                    control: "A1",
                    time: t10,
                    mrn: "50000001",
                    visit: "VA",
                    at: "T42^B1^01",
                    ..NONE
                },
                Adt {
                    trigger: "A02",
                    control: "A2",
                    time: t11,
                    mrn: "50000001",
                    visit: "VA",
                    at: "T43^B2^02",
                    from: "T42^B1^01",
                    ..NONE
                },
                Adt {
                    trigger: "A03",
                    control: "A3",
                    time: t12,
                    mrn: "50000001",
                    visit: "VA",
                    at: "T43^B2^02",
                    discharged: t12,
                    ..NONE
                },
                // The discharge arrives before its admission.
                Adt {
                    trigger: "A03",
                    control: "B1",
                    time: t12,
                    mrn: "50000002",
                    visit: "VB",
                    at: "W1^B^1",
                    discharged: t12,
                    ..NONE
                },
                Adt {
                    trigger: "A01",
                    control: "B2",
                    time: t10,
                    mrn: "50000002",
                    visit: "VB",
                    at: "W1^B^1",
                    ..NONE
                },
                // 50000002 is merged into 50000003.
                Adt {
                    trigger: "A40",
                    control: "C1",
                    time: t12,
                    mrn: "50000003",
                    merged: "50000002",
                    ..NONE
                },
                // An admission, then its cancellation.
                Adt {
                    trigger: "A01",
                    control: "D1",
                    time: t10,
                    mrn: "50000004",
                    visit: "VD",
                    at: "W2^B^1",
                    ..NONE
                },
                Adt {
                    trigger: "A11",
                    control: "D2",
                    time: t10,
                    mrn: "50000004",
                    visit: "VD",
                    at: "W2^B^1",
                    ..NONE
                },
            ]
            .iter()
            .map(Adt::bytes)
            .collect(),
        )
        .await;
    let pool = db.pool.clone();
    wait_until("every message applied", async || {
        let applied: i64 =
            sqlx::query_scalar("SELECT count(*) FROM star.movement_cancellation")
                .fetch_one(&pool)
                .await
                .unwrap();
        let merged: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM star.patient_identity WHERE mrn = '50000002' AND live_mrn = '50000003'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        // Every visit asserted below: lanes commit on their own, so one visit's being done
        // says nothing of another's.
        applied == 1
            && merged == 1
            && stays(&pool, "VB").await.len() == 1
            && stays(&pool, "VA").await.len() == 2
    })
    .await;
    assert_eq!(
        stays(&db.pool, "VA").await,
        ["T42^B1^01 10:00-11:00", "T43^B2^02 11:00-12:00"]
    );
    assert_eq!(stays(&db.pool, "VB").await, ["W1^B^1 10:00-12:00"]);
    assert!(stays(&db.pool, "VD").await.is_empty());
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM star.dead_letter")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(dead, 0);
    type Time = Option<chrono::DateTime<chrono::Utc>>;
    let times: Vec<(String, Time, Time)> =
        sqlx::query_as(
            "SELECT encounter, admission_datetime, discharge_datetime FROM star.hospital_visit ORDER BY encounter",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let at = |hour: u32| {
        use chrono::TimeZone;
        Some(
            chrono::Utc
                .with_ymd_and_hms(2024, 1, 2, hour, 0, 0)
                .unwrap(),
        )
    };
    assert_eq!(
        times[1],
        ("VB".to_owned(), None, at(12)),
        "no PV1-44 was sent: admission unknown"
    );
    assert_eq!(times[2].0, "VD");
    assert_eq!((times[2].1, times[2].2), (None, None));
    running.stop().await;
}

/// EMAP's WinPath order life cycle (NW, SC, SN, ORR NA, ORU) as a lab system sends it.
fn winpath(file: &str) -> Bytes {
    emap_file(&format!("LabOrders/winpath/{file}"))
}

/// One of EMAP's HL7 test messages.
fn emap_file(file: &str) -> Bytes {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../testdata/UCLH-DHCT__emap/hl7-reader/src/test/resources/{file}"
    ));
    Bytes::from(std::fs::read(path).unwrap())
}

#[tokio::test]
async fn winpath_orders_and_results_over_mllp_reach_the_lab_tables() {
    let db = TestDb::migrated().await;
    let running = start(&db).await;
    running
        .send(
            [
                "incremental_orders/01_orm_o01_nw.txt",
                "incremental_orders/02_orm_o01_sc_mg.txt",
                "incremental_orders/03_orm_o01_sn_telh.txt",
                "incremental_orders/04_orr_o02_telh.txt",
                "incremental_orders/05_oru_r01.txt",
            ]
            .map(winpath)
            .to_vec(),
        )
        .await;
    let pool = db.pool.clone();
    wait_until("the magnesium result and the telephoned note", async || {
        let results: Vec<(String, String, Option<f64>, Option<String>)> = sqlx::query_as(
            "SELECT b.battery_code, d.test_lab_code, r.value_as_real, r.value_as_text
             FROM star.lab_result r
             JOIN star.lab_order o USING (lab_order_id)
             JOIN star.lab_battery b USING (lab_battery_id)
             JOIN star.lab_test_definition d USING (lab_test_definition_id)
             ORDER BY 1, 2",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        results
            == [
                // LB9: a numeric result's value is in value_as_real alone.
                ("MG".to_owned(), "MG".to_owned(), Some(0.83), None),
                (
                    "TELH".to_owned(),
                    "DATP".to_owned(),
                    None,
                    Some("Previously known low result.".to_owned()),
                ),
            ]
    })
    .await;
    // One sample for the patient, the MG and TELH orders on it, nothing refused.
    let (samples, orders, dead): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM star.lab_sample), (SELECT count(*) FROM star.lab_order),
                (SELECT count(*) FROM star.dead_letter)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((samples, orders, dead), (1, 2, 0));
    let (mrn, received, clinical): (
        String,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT m.mrn, s.receipt_at_lab_datetime, o.clinical_information
             FROM star.lab_sample s JOIN star.mrn m USING (mrn_id)
             JOIN star.lab_order o USING (lab_sample_id)
             JOIN star.lab_battery b USING (lab_battery_id) WHERE b.battery_code = 'MG'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(mrn, "40800000");
    assert_eq!(
        received.map(|t| t.to_rfc3339()).as_deref(),
        Some("2013-07-28T08:45:00+00:00"),
        "SC's ORC-9 is when the lab received the sample"
    );
    assert_eq!(clinical.as_deref(), Some("unwell"));
    running.stop().await;
}

#[tokio::test]
async fn a_culture_with_isolates_and_sensitivities_reaches_the_micro_tables_in_any_order() {
    let db = TestDb::migrated().await;
    let running = start(&db).await;
    // EMAP's incremental culture, the later report first.
    running
        .send(
            ["isolate_inc_2.txt", "isolate_inc_1.txt"]
                .map(winpath)
                .to_vec(),
        )
        .await;
    let pool = db.pool.clone();
    let expected: Vec<(String, String, String, String, String)> = [
        ("1", "STAHAE", "Heavy growth of", "VCI", "R"),
        ("1", "STAHAE", "Heavy growth of", "VDP", "S"),
        ("1", "STAHAE", "Heavy growth of", "VSX", "R"),
        ("2", "ENTFAM", "Light growth of", "VM", "R"),
    ]
    .map(|(a, b, c, d, e)| (a.into(), b.into(), c.into(), d.into(), e.into()))
    .to_vec();
    wait_until("both reports applied", async || {
        let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM star.dead_letter")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(dead, 0, "nothing refused");
        let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT i.lab_internal_id, i.isolate_code, i.quantity, s.agent, s.sensitivity
             FROM star.lab_isolate i JOIN star.lab_sensitivity s USING (lab_isolate_id)
             ORDER BY 1, 4",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let status: Option<String> = sqlx::query_scalar(
            "SELECT r.value_as_text FROM star.lab_result r
             JOIN star.lab_test_definition d USING (lab_test_definition_id)
             WHERE d.test_lab_code = 'FSTA'",
        )
        .fetch_optional(&pool)
        .await
        .unwrap();
        // The first report comes second and older: it adds nothing the later one lacks.
        rows == expected && status.as_deref() == Some("COMPLETE - LAST UPDATED: 23/09/20")
    })
    .await;
    // VDP was S in both reports: reported with the first.
    let vdp: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT reporting_datetime FROM star.lab_sensitivity WHERE agent = 'VDP'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(vdp.to_rfc3339(), "2020-09-12T12:13:00+00:00");
    running.stop().await;
}

/// EMAP's vital signs messages as Epic's flowsheet interface sends them.
fn vital_signs(file: &str) -> Bytes {
    emap_file(&format!("VitalSigns/{file}"))
}

#[tokio::test]
async fn vital_signs_over_mllp_reach_visit_observations() {
    let db = TestDb::migrated().await;
    let running = start(&db).await;
    running
        .send(
            ["MixedHL7Message.txt", "MultiOBR.txt"]
                .map(vital_signs)
                .to_vec(),
        )
        .await;
    let pool = db.pool.clone();
    // MixedHL7Message's nine rows (F3, F4 leave five out) and MultiOBR's four.
    wait_until("every flowsheet row", async || {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM star.visit_observation")
            .fetch_one(&pool)
            .await
            .unwrap();
        n == 13
    })
    .await;
    type Row = (String, String, Option<f64>, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT v.encounter, t.interface_id, o.value_as_real, o.value_as_text, o.comment
             FROM star.visit_observation o
             JOIN star.visit_observation_type t USING (visit_observation_type_id)
             JOIN star.hospital_visit v USING (hospital_visit_id)
             WHERE t.interface_id IN ('8', '28315', '5')
             ORDER BY 1, 2, o.observation_datetime",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let row = |v: &str, t: &str, real: Option<f64>, text: Option<&str>, comment: Option<&str>| {
        (
            v.to_owned(),
            t.to_owned(),
            real,
            text.map(str::to_owned),
            comment.map(str::to_owned),
        )
    };
    assert_eq!(
        rows,
        [
            row("1002040107", "5", None, Some("140/90"), None),
            row("1002040107", "5", None, Some("135/92"), None),
            row("123412341234", "28315", None, None, None),
            row("123412341234", "5", None, Some("140/90"), None),
            row(
                "123412341234",
                "8",
                Some(90.0),
                None,
                Some("patient was running really fast (on a hamster wheel)")
            ),
        ]
    );
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM star.dead_letter")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(dead, 0);
    running.stop().await;
}

#[tokio::test]
async fn problems_infections_and_allergies_over_mllp_reach_patient_conditions() {
    let db = TestDb::migrated().await;
    let running = start(&db).await;
    running
        .send(
            [
                "PatientInfection/a05.txt",
                "PatientAllergies/minimal_allergy.txt",
                "ProblemList/end_to_end/myeloma_add.txt",
            ]
            .map(emap_file)
            .to_vec(),
        )
        .await;
    let pool = db.pool.clone();
    wait_until("the three conditions", async || {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM star.patient_condition")
            .fetch_one(&pool)
            .await
            .unwrap();
        n == 3
    })
    .await;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT t.data_type, t.internal_code, m.mrn
         FROM star.patient_condition c JOIN star.condition_type t USING (condition_type_id)
         JOIN star.mrn m USING (mrn_id) ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected = [
        ("PATIENT_ALLERGY", "TRAMADOL"),
        ("PATIENT_INFECTION", "Mumps"),
        ("PROBLEM_LIST", "C90.0"),
    ]
    .map(|(t, c)| (t.to_owned(), c.to_owned(), "8DcEwvqa8Q3".to_owned()));
    assert_eq!(rows, expected);
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM star.dead_letter")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(dead, 0);
    running.stop().await;
}

#[tokio::test]
async fn a_consultation_request_and_its_cancellation_over_mllp_reach_consultation_request() {
    let db = TestDb::migrated().await;
    let running = start(&db).await;
    running
        .send(
            ["ConsultRequest/notes.txt", "ConsultRequest/cancelled.txt"]
                .map(emap_file)
                .to_vec(),
        )
        .await;
    let pool = db.pool.clone();
    wait_until("the cancelled request", async || {
        let cancelled: Option<bool> =
            sqlx::query_scalar("SELECT cancelled FROM star.consultation_request")
                .fetch_optional(&pool)
                .await
                .unwrap();
        cancelled == Some(true)
    })
    .await;
    let (code, notes): (String, Option<String>) = sqlx::query_as(
        "SELECT t.code, r.comments FROM star.consultation_request r
         JOIN star.consultation_type t USING (consultation_type_id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(code, "CON255");
    assert_eq!(
        notes.as_deref(),
        Some("Admitted with delirium vs cognitive decline\nLives alone")
    );
    running.stop().await;
}
