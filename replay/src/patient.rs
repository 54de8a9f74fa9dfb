//! Choosing one patient's messages for `ward replay --mrn`.
//!
//! A patient is more than one MRN when merges, identifier changes or swaps link MRNs, possibly
//! after the patient's first messages; so the whole range is mapped once first, MRNs are joined
//! through every message whose partition key names two patients, and the selection is every
//! message whose key names an MRN joined with the one asked for. Reference data (locations and
//! other metadata) has no patient and is always selected, since patient rows refer to it.

use std::collections::{HashMap, HashSet};

use interchange::PartitionKey;
use message_reader::{Mapped, SiteConfig, map_message};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The IDS ids in `from..=to` to replay for `mrn`.
pub(crate) async fn select(
    pool: &PgPool,
    site: &SiteConfig,
    mrn: &str,
    from: i64,
    to: i64,
    shutdown: &CancellationToken,
) -> Result<HashSet<i64>, sqlx::Error> {
    let mut keys: Vec<(i64, PartitionKey)> = Vec::new();
    let mut last = from - 1;
    while last < to && !shutdown.is_cancelled() {
        let crate::Window { rows, end } = crate::fetch(pool, last, to, 2_000).await?;
        for row in rows
            .iter()
            .filter(|r| r.duplicate_of.is_none() && r.header_error.is_none())
        {
            if let Ok(Mapped::Messages(messages)) =
                map_message(&row.payload, &row.id.to_string(), site)
            {
                keys.extend(messages.iter().map(|m| (row.id, m.partition_key())));
            }
        }
        last = end;
    }
    Ok(selection(mrn, &keys))
}

/// The ids whose keys name a patient joined with `mrn`, plus every reference message.
fn selection(mrn: &str, keys: &[(i64, PartitionKey)]) -> HashSet<i64> {
    let mut joined = Joined::default();
    for (_, key) in keys {
        if let PartitionKey::Patients(a, b) = key {
            joined.join(a, b);
        }
    }
    let root = joined.root(mrn);
    keys.iter()
        .filter(|(_, key)| match key {
            PartitionKey::Patient(p) => joined.root(p) == root,
            PartitionKey::Patients(a, b) => joined.root(a) == root || joined.root(b) == root,
            PartitionKey::Reference(_) => true,
        })
        .map(|(id, _)| *id)
        .collect()
}

/// MRNs joined into patients (union–find over names).
#[derive(Default)]
struct Joined {
    parent: HashMap<String, String>,
}

impl Joined {
    fn root(&self, name: &str) -> String {
        let mut at = name;
        while let Some(up) = self.parent.get(at) {
            at = up;
        }
        at.to_owned()
    }

    fn join(&mut self, a: &str, b: &str) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            self.parent.insert(ra, rb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(mrn: &str) -> PartitionKey {
        PartitionKey::Patient(mrn.to_owned())
    }

    #[test]
    fn a_later_merge_brings_in_the_other_mrns_earlier_messages() {
        let keys = vec![
            (1, patient("A")),
            (2, patient("B")),
            (3, patient("C")),
            (4, PartitionKey::Reference("location-metadata")),
            (5, PartitionKey::Patients("A".into(), "B".into())),
            (6, patient("A")),
        ];
        let mut chosen: Vec<i64> = selection("A", &keys).into_iter().collect();
        chosen.sort_unstable();
        assert_eq!(chosen, vec![1, 2, 4, 5, 6]);
        let mut other: Vec<i64> = selection("C", &keys).into_iter().collect();
        other.sort_unstable();
        assert_eq!(other, vec![3, 4]);
    }

    #[test]
    fn chains_of_merges_join_transitively() {
        let keys = vec![
            (1, patient("X")),
            (2, PartitionKey::Patients("Y".into(), "X".into())),
            (3, PartitionKey::Patients("Z".into(), "Y".into())),
            (4, patient("Q")),
        ];
        let mut chosen: Vec<i64> = selection("Z", &keys).into_iter().collect();
        chosen.sort_unstable();
        assert_eq!(chosen, vec![1, 2, 3]);
    }
}
