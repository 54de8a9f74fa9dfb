//! Reading ahead for a wave of a lane (`lanes::waves`: at most one message per patient): what
//! each message reads first — for ADT its patient, their demographics, its visit and the visit's
//! facts — read for all the messages of the wave in one statement per family
//! ([`super::Family::read_ahead`]), instead of one round trip each.
//!
//! A row read ahead is what the database held before the wave began, so a message uses it only
//! if no earlier message of the wave could have changed what it holds: none named the same MRN,
//! NHS number or visit number (which covers rows created meanwhile), and none read or wrote the
//! MRN rows or the visit it holds (which covers a patient known by two MRNs). Otherwise the
//! message reads for itself, as without reading ahead; nearly every message reads nothing of its
//! own. A wave holds each group of patients (`lanes::Groups`) once, so a message naming two
//! patients (merges, swaps) is never followed in its wave by another of theirs.

use std::any::Any;
use std::collections::HashSet;

use interchange::Message;
use sqlx::PgConnection;

use super::identity::Keys;
use super::{Processor, Touched};

/// What a family read ahead for one message.
pub(crate) trait Prefetched: Send {
    /// The rows it holds, which an earlier message of the wave must not have touched.
    fn touches(&self) -> Vec<Touched>;
    /// Which star schema the read ran in ([`Processor::note_schema`]).
    fn schema_oid(&self) -> i64;
    /// Itself, for the family to take back as its own type.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// The rows read ahead for a lane, and what its messages have named and touched so far.
pub(crate) struct ReadAhead {
    /// By message index in the wave; only for the first message naming its keys.
    rows: Vec<Option<Box<dyn Prefetched>>>,
    named: HashSet<Name>,
    touched: HashSet<Touched>,
    /// The star schema the read ran in, if it ran.
    schema_oid: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Name {
    Mrn(String),
    NhsNumber(String),
    Encounter(String),
}

fn names(keys: &Keys<'_>) -> impl Iterator<Item = Name> {
    let mrn = keys.mrn.map(|m| Name::Mrn(m.to_owned()));
    let nhs = keys.nhs_number.map(|n| Name::NhsNumber(n.to_owned()));
    let encounter = keys.encounter.map(|e| Name::Encounter(e.to_owned()));
    mrn.into_iter().chain(nhs).chain(encounter)
}

impl ReadAhead {
    /// Reads, in one statement per family, for every message of `wave` that is the first to
    /// name its keys.
    pub(crate) async fn read(
        processor: &Processor,
        conn: &mut PgConnection,
        wave: &[&Message],
    ) -> Result<ReadAhead, sqlx::Error> {
        let mut seen: HashSet<Name> = HashSet::new();
        // By family (its index), the messages to read for and their keys.
        let mut wanted: Vec<(usize, Vec<usize>, Vec<Keys<'_>>)> = Vec::new();
        for (index, message) in wave.iter().enumerate() {
            let Some((family, keys)) = processor.keys_of(message) else {
                continue;
            };
            if !keys.one_patient || (keys.mrn.is_none() && keys.nhs_number.is_none()) {
                continue;
            }
            let mut first = true;
            for name in names(&keys) {
                first &= seen.insert(name);
            }
            if !first {
                continue;
            }
            match wanted.iter_mut().find(|(f, ..)| *f == family) {
                Some((_, indexes, all)) => {
                    indexes.push(index);
                    all.push(keys);
                }
                None => wanted.push((family, vec![index], vec![keys])),
            }
        }
        let mut rows: Vec<Option<Box<dyn Prefetched>>> = (0..wave.len()).map(|_| None).collect();
        let mut schema_oid = None;
        for (family, indexes, keys) in wanted {
            let found = processor.family(family).read_ahead(conn, &keys).await?;
            schema_oid = schema_oid.or(found.first().map(|row| row.schema_oid()));
            for (index, row) in indexes.into_iter().zip(found) {
                rows[index] = Some(row);
            }
        }
        Ok(ReadAhead {
            rows,
            named: HashSet::new(),
            touched: HashSet::new(),
            schema_oid,
        })
    }

    /// Which star schema the read ran in, if it ran (so the caller need not ask again).
    pub(crate) fn schema_oid(&self) -> Option<i64> {
        self.schema_oid
    }

    /// The row read ahead for the message at `index`, if it still holds.
    pub(crate) fn take(&mut self, index: usize, keys: &Keys<'_>) -> Option<Box<dyn Prefetched>> {
        let row = self.rows.get_mut(index)?.take()?;
        let stale = names(keys).any(|name| self.named.contains(&name))
            || row
                .touches()
                .iter()
                .any(|touched| self.touched.contains(touched));
        (!stale).then_some(row)
    }

    /// Notes what a processed message named and touched, whether or not it was applied.
    pub(crate) fn note(&mut self, keys: &Keys<'_>, touched: &[Touched]) {
        self.named.extend(names(keys));
        self.touched.extend(touched.iter().copied());
    }
}
