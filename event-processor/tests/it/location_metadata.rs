//! Location metadata (LM1–LM4): departments, rooms, beds and their states from EMAP's fixtures
//! and rule cases, in several arrival orders, against a real database.

use event_processor::ProcessError;
use interchange::Message;
use sqlx::PgPool;
use testkit::TestDb;

use crate::harness::{apply, ok, rule};

/// EMAP's fixtures under `<dir>/<file>.yaml`.
fn fixture(path: &str) -> Message {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../testdata/UCLH-DHCT__emap/emap-interchange/src/test/resources/{path}.yaml"
    ));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn applied(pool: &PgPool, message: &Message) -> Result<(), ProcessError> {
    apply(pool, message, "2024-01-02T00:00:00Z").await
}

/// Every location metadata row as text, without surrogate keys or stored times.
async fn snapshot(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT 'location ' || l.location_string || ' ' || coalesce(d.internal_id, '-') || ' '
                || coalesce(r.hl7_string, '-') || ' ' || coalesce(b.hl7_string, '-')
         FROM star.location l LEFT JOIN star.department d USING (department_id)
         LEFT JOIN star.room r USING (room_id) LEFT JOIN star.bed b USING (bed_id)
         UNION ALL
         SELECT 'department ' || d.internal_id || ' ' || row(d.hl7_string, d.name)::text
         FROM star.department d
         UNION ALL
         SELECT 'department_state ' || d.internal_id || ' '
                || row(s.status, s.speciality, s.valid_from, s.valid_until)::text
         FROM star.department_state s JOIN star.department d USING (department_id)
         UNION ALL
         SELECT 'room ' || r.hl7_string || ' ' || row(r.name)::text FROM star.room r
         UNION ALL
         SELECT 'room_state ' || s.csn || ' '
                || row(s.status, s.is_ready, s.valid_from, s.valid_until)::text
         FROM star.room_state s
         UNION ALL
         SELECT 'bed_state ' || b.hl7_string || ' ' || s.csn || ' '
                || row(s.is_in_census, s.is_bunk, s.status, s.pool_bed_count, s.pool_csns,
                       s.valid_from, s.valid_until)::text
         FROM star.bed_state s JOIN star.bed b USING (bed_id)
         UNION ALL
         SELECT 'bed_facility ' || s.csn || ' ' || f.type
         FROM star.bed_facility f JOIN star.bed_state s USING (bed_state_id)
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

const FIXTURES: [&str; 9] = [
    "DepartmentMetadata/acun_dept",
    "LocationMetadata/acun_census_bed",
    "LocationMetadata/local-only/acun_noncensus_bed",
    "LocationMetadata/local-only/acun_noncensus_bed_2",
    "LocationMetadata/local-only/acun_inactive_bed",
    "LocationMetadata/medsurg_active_pool_bed",
    "DepartmentMetadata/local-only/paediatric_department_only_1",
    "DepartmentMetadata/local-only/paediatric_department_only_2",
    "DepartmentMetadata/local-only/paediatric_department_only_3",
];

#[tokio::test]
async fn emaps_location_fixtures_give_the_same_rows_in_any_order() {
    let messages: Vec<Message> = FIXTURES.iter().map(|f| fixture(f)).collect();
    let n = messages.len();
    let orders: [Vec<usize>; 3] = [
        (0..n).collect(),
        (0..n).rev().collect(),
        (0..n).map(|i| (i * 4) % n).collect(),
    ];
    let mut snapshots = Vec::new();
    for order in &orders {
        let db = TestDb::migrated().await;
        for &i in order {
            applied(&db.pool, &messages[i]).await.unwrap();
        }
        // Applied again, nothing changes.
        let once = snapshot(&db.pool).await;
        for &i in order {
            applied(&db.pool, &messages[i]).await.unwrap();
        }
        assert_eq!(snapshot(&db.pool).await, once, "order {order:?} repeated");
        snapshots.push(once);
    }
    assert_eq!(snapshots[0], snapshots[1]);
    assert_eq!(snapshots[0], snapshots[2]);
    let rows = &snapshots[0];
    let has = |row: &str| rows.iter().any(|r| r == row);
    // The location names its department, room and bed; the department its department-only
    // location (LM4).
    assert!(
        has("location ACUN^E03ACUN BY12^BY12-C49 2 E03ACUN BY12 BY12-C49"),
        "{rows:#?}"
    );
    assert!(has("location ACUN^null^null 2 - -"), "{rows:#?}");
    assert!(
        has("department 2 (ACUN,\"EGA E03 ACU NURSERY\")"),
        "{rows:#?}"
    );
    // LM4: the speciality change splits the department's history.
    assert!(
        has(
            "department_state 2 (ACTIVE,\"Dental - Oral Medicine\",\"2012-02-09 00:00:00+00\",\"2022-02-09 00:00:20+00\")"
        ),
        "{rows:#?}"
    );
    assert!(
        has("department_state 2 (ACTIVE,\"Maternity - Well Baby\",\"2022-02-09 00:00:20+00\",)"),
        "{rows:#?}"
    );
    let paediatric: Vec<&String> = rows
        .iter()
        .filter(|r| r.starts_with("department_state 1020610068"))
        .collect();
    assert_eq!(paediatric.len(), 3, "{rows:#?}");
    assert!(
        paediatric.iter().any(|r| r.contains(
            "Respiratory Medicine\",\"2021-08-25 23:00:00+00\",\"2021-09-06 06:42:26+00\")"
        )),
        "{paediatric:#?}"
    );
    // LM2: one bed's states chained by contact date.
    assert!(
        has(
            "bed_state BY12-C49 73801 (f,f,ACTIVE,,,\"2016-05-09 00:00:00+00\",\"2016-05-10 00:00:00+00\")"
        ),
        "{rows:#?}"
    );
    // LM3: a pool bed counts its CSNs.
    assert!(
        has("bed_state Med/Surg 11 (f,f,ACTIVE,1,{11},\"2011-05-02 00:00:00+00\",)"),
        "{rows:#?}"
    );
    assert!(has("bed_facility 4417 Cot"), "{rows:#?}");
}

fn location(hl7: &str, department: &str, room: (&str, &str, i64, &str)) -> Message {
    let yaml = format!(
        "\"@class\": \"uk.ac.ucl.rits.inform.interchange.location.LocationMetadata\"
hl7String: \"{hl7}\"
departmentId: \"{department}\"
roomMetadata:
  \"@class\": \"uk.ac.ucl.rits.inform.interchange.location.RoomMetadata\"
  roomHl7: \"{}\"
  roomName: \"{}\"
  roomCsn: {}
  roomContactDate: \"{}\"
  roomRecordState: ACTIVE
",
        room.0, room.1, room.2, room.3
    );
    serde_yaml::from_str(&yaml).unwrap()
}

fn pool_bed(csn: i64, date: &str) -> Message {
    let yaml = format!(
        "\"@class\": \"uk.ac.ucl.rits.inform.interchange.location.LocationMetadata\"
hl7String: \"POOL^BAY^Pool\"
departmentId: \"9\"
roomMetadata:
  \"@class\": \"uk.ac.ucl.rits.inform.interchange.location.RoomMetadata\"
  roomHl7: BAY
  roomName: Bay
  roomCsn: 1
  roomContactDate: \"2020-01-01T00:00:00Z\"
bedMetadata:
  \"@class\": \"uk.ac.ucl.rits.inform.interchange.location.BedMetadata\"
  bedCsn: {csn}
  bedHl7: Pool
  bedContactDate: \"{date}\"
  isPoolBed: true
"
    );
    serde_yaml::from_str(&yaml).unwrap()
}

#[tokio::test]
async fn lm1_a_location_strings_department_cannot_change() {
    let db = TestDb::migrated().await;
    let first = location("A^R^B", "1", ("R", "Room", 1, "2020-01-01T00:00:00Z"));
    applied(&db.pool, &first).await.unwrap();
    let moved = location("A^R^B", "2", ("R", "Room", 2, "2020-01-01T00:00:00Z"));
    assert_eq!(rule(applied(&db.pool, &moved).await), "LM1");
}

#[tokio::test]
async fn lm2_a_rooms_name_cannot_change_and_its_states_chain_in_any_order() {
    let db = TestDb::migrated().await;
    let later = location("A^R^null", "1", ("R", "Room", 2, "2021-01-01T00:00:00Z"));
    let earlier = location("A^R^null", "1", ("R", "Room", 1, "2020-01-01T00:00:00Z"));
    applied(&db.pool, &later).await.unwrap();
    applied(&db.pool, &earlier).await.unwrap();
    let chain: Vec<(i64, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT csn, valid_until FROM star.room_state ORDER BY valid_from")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        chain,
        [
            (1, Some(crate::harness::at("2021-01-01T00:00:00Z"))),
            (2, None)
        ]
    );
    let renamed = location("A^R^null", "1", ("R", "Other", 3, "2022-01-01T00:00:00Z"));
    assert_eq!(rule(applied(&db.pool, &renamed).await), "LM2");
}

#[tokio::test]
async fn lm3_a_pool_bed_counts_each_csn_once_per_contact_date() {
    let db = TestDb::migrated().await;
    for (csn, date) in [
        (11, "2020-05-01T00:00:00Z"),
        (12, "2020-05-01T00:00:00Z"),
        (11, "2020-05-01T00:00:00Z"),
        (13, "2020-06-01T00:00:00Z"),
    ] {
        applied(&db.pool, &pool_bed(csn, date)).await.unwrap();
    }
    let states: Vec<(i64, Option<i32>)> =
        sqlx::query_as("SELECT csn, pool_bed_count FROM star.bed_state ORDER BY valid_from")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(states, [(11, Some(2)), (13, Some(1))]);
}

#[tokio::test]
async fn a_patient_placed_in_a_described_location_keeps_its_stay() {
    let db = TestDb::migrated().await;
    ok(&db.pool, &["A01 10:00 at=MEDSURG^MED/SURG^Med/Surg"]).await;
    applied(
        &db.pool,
        &fixture("LocationMetadata/medsurg_active_pool_bed"),
    )
    .await
    .unwrap();
    let named: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT l.location_string, b.hl7_string FROM star.location_visit v
         JOIN star.location l USING (location_id) LEFT JOIN star.bed b USING (bed_id)",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        named,
        [(
            "MEDSURG^MED/SURG^Med/Surg".to_owned(),
            Some("Med/Surg".to_owned())
        )]
    );
}

#[tokio::test]
async fn lm4_every_ordering_of_a_departments_speciality_changes_gives_one_history() {
    let messages: Vec<Message> = FIXTURES[6..].iter().map(|f| fixture(f)).collect();
    let mut histories = Vec::new();
    for order in crate::harness::permutations(messages.len()) {
        let db = TestDb::migrated().await;
        for i in order {
            applied(&db.pool, &messages[i]).await.unwrap();
        }
        let history: Vec<(Option<String>, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
            "SELECT speciality, valid_until FROM star.department_state s
                 JOIN star.department d USING (department_id)
                 WHERE d.internal_id = '1020610068' ORDER BY s.valid_from",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        histories.push(history);
    }
    let at = crate::harness::at;
    assert_eq!(
        histories[0],
        [
            (
                Some("Paediatric - Respiratory Medicine".to_owned()),
                Some(at("2021-09-06T06:42:26Z"))
            ),
            (
                Some("Paediatric - Infectious Diseases".to_owned()),
                Some(at("2021-10-08T23:00:20Z"))
            ),
            (Some("Paediatric - RESPOND".to_owned()), None),
        ]
    );
    assert!(
        histories.iter().all(|h| *h == histories[0]),
        "{histories:#?}"
    );
}
