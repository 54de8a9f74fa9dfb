//! Following the IDS without ever skipping a row.
//!
//! IDS ids come from a sequence, so a row with a lower id can commit after a higher one is
//! already visible (two writers, or a batch still committing). A reader that simply continues
//! after the highest id it saw would skip the late row forever (EMAP's reader has this bug). The
//! reader therefore takes rows only while their ids are contiguous after its position. At a gap
//! it waits: the missing ids either appear (the usual case, within milliseconds) or are declared
//! permanently absent (a rolled-back insert) once (a) every transaction that was in progress when
//! the gap was first seen has ended, judged by PostgreSQL snapshots, and (b) a grace period has
//! passed, which covers a writer that has taken an id but not yet its transaction id.

use std::time::{Duration, Instant};

/// The part of a PostgreSQL snapshot (`pg_current_snapshot()`) the watermark needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// The oldest transaction still running.
    pub xmin: u64,
    /// One past the newest transaction that had started.
    pub xmax: u64,
}

impl Snapshot {
    /// Parses `xmin:xmax:xip,…` as PostgreSQL prints it.
    pub fn parse(text: &str) -> Option<Snapshot> {
        let mut parts = text.split(':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        Some(Snapshot { xmin, xmax })
    }
}

#[derive(Debug, Clone, Copy)]
struct Gap {
    start: i64,
    first_seen: Instant,
    xmax_then: u64,
}

/// Where a reader is in the IDS, and the gap it is waiting on, if any.
#[derive(Debug, Clone)]
pub struct Watermark {
    position: i64,
    grace: Duration,
    gap: Option<Gap>,
}

/// What [`Watermark::accept`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// How many of the rows offered may be processed now, from the first.
    pub rows: usize,
    /// Ids declared permanently absent while accepting them.
    pub skipped_ids: i64,
    /// Whether the reader stopped at a gap it is still waiting on.
    pub waiting_on_gap: bool,
}

impl Watermark {
    /// A watermark after `position` (every id up to it is handled).
    pub fn new(position: i64, grace: Duration) -> Watermark {
        Watermark {
            position,
            grace,
            gap: None,
        }
    }

    /// The last handled id.
    pub fn position(&self) -> i64 {
        self.position
    }

    /// Of `ids` (ascending, all above the position, read under `snapshot`), how many may be
    /// processed now.
    pub fn accept(&mut self, ids: &[i64], snapshot: Snapshot, now: Instant) -> Accepted {
        let mut expected = self.position + 1;
        let mut skipped_ids = 0;
        for (i, &id) in ids.iter().enumerate() {
            if id == expected {
                expected += 1;
                continue;
            }
            match self.gap {
                Some(gap)
                    if gap.start == expected
                        && now.duration_since(gap.first_seen) >= self.grace
                        && snapshot.xmin >= gap.xmax_then =>
                {
                    tracing::info!(
                        from_ids_id = expected,
                        to_ids_id = id - 1,
                        "IDS ids never committed; continuing after them"
                    );
                    skipped_ids += id - expected;
                    self.gap = None;
                    expected = id + 1;
                }
                Some(gap) if gap.start == expected => {
                    return Accepted {
                        rows: i,
                        skipped_ids,
                        waiting_on_gap: true,
                    };
                }
                _ => {
                    self.gap = Some(Gap {
                        start: expected,
                        first_seen: now,
                        xmax_then: snapshot.xmax,
                    });
                    return Accepted {
                        rows: i,
                        skipped_ids,
                        waiting_on_gap: true,
                    };
                }
            }
        }
        Accepted {
            rows: ids.len(),
            skipped_ids,
            waiting_on_gap: false,
        }
    }

    /// Records that every id up to `id` has been handled.
    pub fn advance(&mut self, id: i64) {
        if id > self.position {
            self.position = id;
        }
        if self.gap.is_some_and(|g| g.start <= self.position) {
            self.gap = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAP: Snapshot = Snapshot {
        xmin: 100,
        xmax: 105,
    };

    #[test]
    fn contiguous_rows_are_all_accepted() {
        let mut w = Watermark::new(4, Duration::from_secs(1));
        let got = w.accept(&[5, 6, 7], SNAP, Instant::now());
        assert_eq!(
            got,
            Accepted {
                rows: 3,
                skipped_ids: 0,
                waiting_on_gap: false
            }
        );
    }

    #[test]
    fn a_gap_stops_the_reader_until_it_fills() {
        let mut w = Watermark::new(4, Duration::from_secs(1));
        let t0 = Instant::now();
        // 6 is visible but 5 is not (yet).
        assert_eq!(w.accept(&[6, 7], SNAP, t0).rows, 0);
        // Still not there, and the transactions of the time are still running: keep waiting.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(w.accept(&[6, 7], SNAP, later).rows, 0);
        // 5 appears: everything is taken.
        assert_eq!(w.accept(&[5, 6, 7], SNAP, later).rows, 3);
    }

    #[test]
    fn a_gap_becomes_permanent_after_grace_and_when_its_transactions_ended() {
        let mut w = Watermark::new(4, Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(w.accept(&[6], SNAP, t0).rows, 0);
        // Grace passed but a transaction of the time may still run.
        let running = Snapshot {
            xmin: 104,
            xmax: 110,
        };
        assert_eq!(w.accept(&[6], running, t0 + Duration::from_secs(2)).rows, 0);
        // Transactions of the time ended, but not the grace period.
        let ended = Snapshot {
            xmin: 105,
            xmax: 110,
        };
        assert_eq!(
            w.accept(&[6], ended, t0 + Duration::from_millis(10)).rows,
            0
        );
        // Both: 5 is declared absent and 6 is taken.
        let got = w.accept(&[6], ended, t0 + Duration::from_secs(2));
        assert_eq!(
            got,
            Accepted {
                rows: 1,
                skipped_ids: 1,
                waiting_on_gap: false
            }
        );
        w.advance(6);
        assert_eq!(w.position(), 6);
    }

    #[test]
    fn snapshots_parse() {
        assert_eq!(
            Snapshot::parse("10:20:12,15"),
            Some(Snapshot { xmin: 10, xmax: 20 })
        );
        assert_eq!(
            Snapshot::parse("10:20:"),
            Some(Snapshot { xmin: 10, xmax: 20 })
        );
        assert_eq!(Snapshot::parse("x"), None);
    }
}
