//! Research pseudonyms: what `ward research` writes into `research_pseudonym` so the research
//! views (star migration 0024) can show patients without identifying them. A pseudonym is an
//! HMAC-SHA256 of the project and the patient's live MRN under a key the site keeps outside the
//! database: the database alone cannot reverse or recompute it, and the same key gives the same
//! pseudonym in any replay of the same history. Patients who opted out get none.

use hmac::{Hmac, KeyInit, Mac};
use sha2_hmac::Sha256;
use sqlx::PgPool;

/// Days either side of the real date a patient's dates may move when a project shifts them.
const MAX_SHIFT_DAYS: i64 = 180;

/// What a pseudonymisation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pseudonymised {
    /// Patients with a pseudonym in the project now.
    pub patients: u64,
    /// Pseudonyms removed: opted out since, or merged into another patient.
    pub removed: u64,
}

/// Why pseudonyms were not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResearchError {
    /// The key is too short to be secret.
    #[error("the research key must be at least 32 bytes (it is {0})")]
    ShortKey(usize),
    /// The database failed; nothing changed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A patient's pseudonym in `project` and (when `shift`) their date shift in days.
pub fn pseudonym(key: &[u8], project: &str, live_mrn: &str, shift: bool) -> (String, i32) {
    let mac = |purpose: &str| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            unreachable!("HMAC takes a key of any length")
        };
        for part in [purpose, project, live_mrn] {
            mac.update(part.as_bytes());
            mac.update(&[0x1f]);
        }
        mac.finalize().into_bytes()
    };
    let id = mac("pseudonym");
    let pseudonym = id[..10].iter().map(|b| format!("{b:02x}")).collect();
    let days = if shift {
        let bytes = mac("date shift");
        let n = u64::from_be_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ]);
        // In [-MAX, MAX], never 0, so a shifted date is never the real one.
        let span = (2 * MAX_SHIFT_DAYS) as u64;
        let d = (n % span) as i64 - MAX_SHIFT_DAYS;
        i32::try_from(if d >= 0 { d + 1 } else { d }).unwrap_or(1)
    } else {
        0
    };
    (pseudonym, days)
}

/// Gives every live, not opted-out patient of the star schema `pool` is set to a pseudonym in
/// `project`, and removes those of patients opted out or merged away since; in one transaction.
pub async fn pseudonymise(
    pool: &PgPool,
    project: &str,
    key: &[u8],
    shift_dates: bool,
) -> Result<Pseudonymised, ResearchError> {
    if key.len() < 32 {
        return Err(ResearchError::ShortKey(key.len()));
    }
    let mut tx = pool.begin().await?;
    let patients: Vec<(i64, String)> = sqlx::query_as(
        "SELECT m.mrn_id, m.mrn FROM mrn m
         WHERE NOT m.research_opt_out
           AND EXISTS (SELECT 1 FROM mrn_to_live t WHERE t.mrn_id = m.mrn_id
                       AND t.live_mrn_id = m.mrn_id)",
    )
    .fetch_all(&mut *tx)
    .await?;
    let removed = sqlx::query(
        "DELETE FROM research_pseudonym p WHERE p.project = $1 AND NOT EXISTS (
             SELECT 1 FROM mrn m JOIN mrn_to_live t ON t.mrn_id = m.mrn_id
             WHERE m.mrn_id = p.mrn_id AND t.live_mrn_id = m.mrn_id AND NOT m.research_opt_out)",
    )
    .bind(project)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let (mut ids, mut names, mut shifts) = (Vec::new(), Vec::new(), Vec::new());
    for (id, mrn) in &patients {
        let (name, days) = pseudonym(key, project, mrn, shift_dates);
        ids.push(*id);
        names.push(name);
        shifts.push(days);
    }
    sqlx::query(
        "INSERT INTO research_pseudonym (project, mrn_id, pseudonym, date_shift_days)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::int[])
         ON CONFLICT (project, mrn_id) DO UPDATE
         SET pseudonym = excluded.pseudonym, date_shift_days = excluded.date_shift_days",
    )
    .bind(project)
    .bind(&ids)
    .bind(&names)
    .bind(&shifts)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(
        project,
        patients = ids.len(),
        removed,
        "Research pseudonyms written"
    );
    Ok(Pseudonymised {
        patients: ids.len() as u64,
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::pseudonym;

    const KEY: &[u8] = b"a research key of thirty-two bytes or more";

    #[test]
    fn a_pseudonym_depends_on_key_project_and_mrn_and_nothing_else() {
        let (a, _) = pseudonym(KEY, "P1", "SYN0000001", false);
        assert_eq!(a, pseudonym(KEY, "P1", "SYN0000001", true).0, "stable");
        assert_eq!(a.len(), 20);
        assert_ne!(
            a,
            pseudonym(KEY, "P2", "SYN0000001", false).0,
            "per project"
        );
        assert_ne!(
            a,
            pseudonym(KEY, "P1", "SYN0000002", false).0,
            "per patient"
        );
        assert_ne!(
            a,
            pseudonym(
                b"another key of at least thirty-two bytes",
                "P1",
                "SYN0000001",
                false
            )
            .0,
            "per key"
        );
        // The separator keeps project and MRN apart: ("P1", "2X") is not ("P12", "X").
        assert_ne!(
            pseudonym(KEY, "P1", "2X", false).0,
            pseudonym(KEY, "P12", "X", false).0
        );
    }

    #[test]
    fn dates_shift_within_half_a_year_never_by_zero_and_only_when_asked() {
        assert_eq!(pseudonym(KEY, "P1", "M", false).1, 0);
        for n in 0..500 {
            let days = pseudonym(KEY, "P1", &format!("SYN{n:07}"), true).1;
            assert!(days != 0 && days.abs() <= 180, "{days}");
        }
    }
}
