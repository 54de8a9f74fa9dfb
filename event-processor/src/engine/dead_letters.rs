//! The dead-letter table: a message a rule refuses is kept in `star.dead_letter` with the rule
//! and the reason, never dropped; [`apply_message`] applies one message under a savepoint and
//! records a refusal, and [`retry_dead_letters`] applies pending dead letters again (after the
//! rule or family that refused them changed).

use chrono::Utc;
use interchange::Message;
use sqlx::{PgConnection, PgPool};

use super::{InLane, ProcessError, Processor, Rejection};

/// Applies one message under a savepoint; `Ok(false)` when it was dead-lettered instead.
pub(crate) async fn apply_one(
    processor: &Processor,
    conn: &mut PgConnection,
    body: &[u8],
) -> Result<bool, sqlx::Error> {
    let message = match Message::from_json(body) {
        Ok(message) => message,
        Err(error) => {
            let raw = serde_json::Value::String(String::from_utf8_lossy(body).into_owned());
            dead_letter(
                conn,
                None,
                "(undecodable)",
                "DECODE",
                &error.to_string(),
                &raw,
            )
            .await?;
            return Ok(false);
        }
    };
    apply_message(processor, conn, &message).await
}

/// Applies one decoded message under a savepoint, recording a rejection in the dead-letter table;
/// `Ok(false)` when it was dead-lettered. Replay applies messages through here too, so the live
/// and the replayed schema get the same rows.
pub async fn apply_message(
    processor: &Processor,
    conn: &mut PgConnection,
    message: &Message,
) -> Result<bool, sqlx::Error> {
    apply_message_reading_ahead(processor, conn, message, None).await
}

/// [`apply_message`] for a message of a lane.
pub(crate) async fn apply_message_reading_ahead(
    processor: &Processor,
    conn: &mut PgConnection,
    message: &Message,
    lane: Option<InLane<'_>>,
) -> Result<bool, sqlx::Error> {
    match processor
        .process_in_savepoint_reading_ahead(conn, message, Utc::now(), lane)
        .await?
    {
        Ok(()) => Ok(true),
        Err(rejection) => {
            dead_letter_rejected(conn, message, &rejection).await?;
            Ok(false)
        }
    }
}

/// Records a rejected message in the dead-letter table.
pub(crate) async fn dead_letter_rejected(
    conn: &mut PgConnection,
    message: &Message,
    rejection: &Rejection,
) -> Result<(), sqlx::Error> {
    tracing::info!(
        source_message_id = message.source_message_id().unwrap_or(""),
        rule = rejection.rule,
        "Message rejected into the dead-letter table"
    );
    let json = serde_json::from_slice(&message.to_json()).unwrap_or(serde_json::Value::Null);
    dead_letter(
        conn,
        message.source_message_id(),
        message.class_name(),
        rejection.rule,
        &rejection.reason,
        &json,
    )
    .await
}

async fn dead_letter(
    conn: &mut PgConnection,
    source_message_id: Option<&str>,
    class: &str,
    rule: &str,
    error: &str,
    message: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO dead_letter (source_message_id, message_class, rule, error, message)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(source_message_id)
    .bind(class)
    .bind(rule)
    .bind(error)
    .bind(sqlx::types::Json(message))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Reprocesses pending dead letters (e.g. after the rule that refused them was fixed): each that
/// now applies is marked retried; each refused again keeps its row, with the new reason.
/// Returns how many applied.
pub async fn retry_dead_letters(processor: &Processor, pool: &PgPool) -> Result<u64, sqlx::Error> {
    let pending: Vec<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT dead_letter_id, message FROM dead_letter WHERE retried_at IS NULL ORDER BY dead_letter_id",
    )
    .fetch_all(pool)
    .await?;
    let mut applied = 0;
    for (id, message) in pending {
        let mut tx = pool.begin().await?;
        processor.begin(&mut tx).await?;
        let body = serde_json::to_vec(&message).unwrap_or_default();
        let decoded = Message::from_json(&body);
        let outcome = match &decoded {
            Ok(message) => processor.process(&mut tx, message, Utc::now()).await,
            Err(error) => Err(super::reject("DECODE", error.to_string())),
        };
        match outcome {
            Ok(()) => {
                sqlx::query("UPDATE dead_letter SET retried_at = now() WHERE dead_letter_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                applied += 1;
            }
            Err(ProcessError::Rejected(rejection)) => {
                tx.rollback().await?;
                sqlx::query(
                    "UPDATE dead_letter SET rule = $2, error = $3 WHERE dead_letter_id = $1",
                )
                .bind(id)
                .bind(rejection.rule)
                .bind(rejection.reason)
                .execute(pool)
                .await?;
            }
            Err(ProcessError::Database(error)) => return Err(error),
        }
    }
    Ok(applied)
}
