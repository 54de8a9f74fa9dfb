//! `ward summary`: what the warehouse holds, in a few lines, and queries to try next. With
//! `--wait` it first waits for the pipeline to settle (the reader has read the whole IDS, the
//! queue is empty and the star schema has stopped changing), which is what the quick start does
//! after feeding Ward a simulated day.

use std::time::{Duration, Instant};

use anyhow::Context;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use sqlx::PgPool;

use crate::DatabaseArgs;

/// Flags of `ward summary`.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    database: DatabaseArgs,

    #[command(flatten)]
    star: crate::StarArgs,

    #[command(flatten)]
    broker: crate::BrokerArgs,

    /// Queue the processor consumes (to see that it is drained).
    #[arg(long, env = "WARD_LIVE_QUEUE", default_value = "ward.interchange.live")]
    queue: String,

    /// Wait up to this long for the pipeline to settle first (e.g. `2m`).
    #[arg(long, value_parser = humantime::parse_duration)]
    wait: Option<Duration>,
}

/// Prints the summary.
pub async fn summary(args: SummaryArgs) -> anyhow::Result<()> {
    let pool = crate::connect(&args.database.database_url, &args.star.star_schema, 2).await?;
    if let Some(wait) = args.wait {
        settle(&pool, &args.broker.endpoint()?, &args.queue, wait).await?;
    }
    let star = args.star.star_schema.name();
    let counts: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT (SELECT count(*) FROM ids.message),
                (SELECT count(*) FROM ids.message WHERE duplicate_of IS NOT NULL),
                (SELECT count(DISTINCT live_mrn_id) FROM {star}.mrn_to_live),
                (SELECT count(*) FROM {star}.hospital_visit),
                (SELECT count(*) FROM {star}.hospital_visit
                  WHERE admission_datetime IS NOT NULL AND discharge_datetime IS NULL),
                (SELECT count(*) FROM {star}.dead_letter WHERE retried_at IS NULL),
                (SELECT count(*) FROM {star}.lab_result),
                (SELECT count(*) FROM {star}.visit_observation),
                (SELECT count(*) FROM {star}.patient_condition WHERE NOT is_deleted),
                (SELECT count(*) FROM {star}.consultation_request WHERE NOT cancelled
                  AND NOT closed_due_to_discharge)"
        )))
        .fetch_one(&pool)
        .await
        .context("Failed to read the warehouse (has Ward run here? try `ward up`)")?;
    let wards: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT coalesce(l.department_code, '(none)') AS ward, count(*)
         FROM {star}.location_visit lv JOIN {star}.location l USING (location_id)
         JOIN {star}.hospital_visit hv USING (hospital_visit_id)
         WHERE lv.discharge_datetime IS NULL AND hv.discharge_datetime IS NULL
           AND hv.admission_datetime IS NOT NULL
         GROUP BY 1 ORDER BY 2 DESC, 1"
    )))
    .fetch_all(&pool)
    .await?;
    let (
        messages,
        resent,
        patients,
        visits,
        inpatients,
        dead,
        results,
        observations,
        conditions,
        consults,
    ) = counts;
    println!("Ward holds (schema {star}):");
    println!("  messages received     {messages} ({resent} resends)");
    println!("  patients              {patients}");
    println!("  hospital visits       {visits}");
    println!("  current inpatients    {inpatients}");
    println!("  lab results           {results}");
    println!("  observations          {observations}");
    println!("  conditions            {conditions}");
    println!("  open consults         {consults}");
    println!("  dead letters pending  {dead}");
    // The same visits as "current inpatients" (admitted, not discharged), so the list adds up
    // to that count; ED attendances and outpatient visits have no admission.
    println!("  current inpatients by ward:");
    for (ward, n) in &wards {
        println!("    {ward:<10} {n}");
    }
    println!(
        "\nTry these in `psql {}`:\n",
        without_password(&args.database.database_url)
    );
    println!("{EXAMPLES}");
    Ok(())
}

/// A database URL as it may be printed: its password, if any, left out (psql asks for it, or
/// takes it from `PGPASSWORD` or `~/.pgpass`).
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = credentials
        .split_once(':')
        .map_or(credentials, |(user, _)| user);
    format!("{scheme}://{user}@{host}")
}

/// Three queries an analyst can paste.
const EXAMPLES: &str = "-- 1. Who is on each ward now, with their live MRN
SELECT l.location_string, m.mrn, lv.admission_datetime
FROM star.location_visit lv
JOIN star.location l USING (location_id)
JOIN star.hospital_visit hv USING (hospital_visit_id)
JOIN star.patient_identity p ON p.mrn_id = hv.mrn_id
JOIN star.mrn m ON m.mrn_id = p.live_mrn_id
WHERE lv.discharge_datetime IS NULL AND hv.discharge_datetime IS NULL
ORDER BY l.location_string;

-- 2. Length of stay of finished inpatient visits, in hours
SELECT hv.encounter,
       round(extract(epoch FROM hv.discharge_datetime - hv.admission_datetime) / 3600, 1) AS hours
FROM star.hospital_visit hv
WHERE hv.discharge_datetime IS NOT NULL AND hv.admission_datetime IS NOT NULL
ORDER BY hours DESC LIMIT 10;

-- 3. What the warehouse believed an hour ago about open visits (bitemporal as-of)
SELECT count(*) AS open_visits_an_hour_ago
FROM star.hospital_visit_as_of(now() - interval '1 hour')
WHERE discharge_datetime IS NULL;";

/// Waits until the reader has read the IDS, the queue is empty and the star stops changing.
async fn settle(
    pool: &PgPool,
    broker: &broker::Endpoint,
    queue: &str,
    wait: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    let mut last_change: Option<(String, Instant)> = None;
    loop {
        let behind: bool = sqlx::query_scalar(
            "SELECT coalesce((SELECT max(id) FROM ids.message), 0)
                  > coalesce((SELECT max(last_ids_id) FROM reader.progress), 0)",
        )
        .fetch_one(pool)
        .await?;
        let queued = queue_depth(broker, queue).await.unwrap_or(u32::MAX);
        let fingerprint: String = sqlx::query_scalar(
            "SELECT concat_ws(',', (SELECT max(stored_from) FROM hospital_visit),
                    (SELECT max(stored_from) FROM location_visit),
                    (SELECT max(stored_from) FROM hospital_visit_audit),
                    (SELECT count(*) FROM dead_letter), (SELECT count(*) FROM mrn))",
        )
        .fetch_one(pool)
        .await?;
        let now = Instant::now();
        let stable_since = match &last_change {
            Some((seen, since)) if *seen == fingerprint => *since,
            _ => {
                last_change = Some((fingerprint, now));
                now
            }
        };
        if !behind && queued == 0 && now - stable_since >= Duration::from_secs(1) {
            return Ok(());
        }
        if now >= deadline {
            anyhow::bail!(
                "The pipeline had not settled after {}",
                humantime::format_duration(wait)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn queue_depth(broker: &broker::Endpoint, queue: &str) -> Result<u32, lapin::Error> {
    let connection = broker.connect().await?;
    let channel = connection.create_channel().await?;
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    let _ = connection.close(200, "done".into()).await;
    Ok(declared.message_count())
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_printed_url_never_carries_the_password() {
        assert_eq!(
            without_password("postgres://ward:s3cr@t@db.site:5432/ward"),
            "postgres://ward@db.site:5432/ward"
        );
        assert_eq!(
            without_password("postgres://ward@127.0.0.1/ward"),
            "postgres://ward@127.0.0.1/ward"
        );
        assert_eq!(
            without_password("postgres:///ward?host=/run/postgresql"),
            "postgres:///ward?host=/run/postgresql"
        );
    }
}
