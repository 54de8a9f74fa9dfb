//! A visit's location history and admission/discharge times, worked out from the set of
//! movements and cancellations received for it (rules L1–L29, S1–S2, V3–V8).
//!
//! EMAP updates location visits incrementally, message by message, and needs tombstone audit rows
//! and order-dependent repairs to converge when messages arrive out of order. Here the history is
//! a pure function of the *set* of facts: every ordering of the same messages gives the same
//! stays by construction, and a resent message (an identical fact) changes nothing. The database
//! layer ([`super::locations`]) stores the facts and writes the difference between the derived
//! stays and the live rows.
//!
//! How the facts combine, in event-time order (ties broken by kind, then location name):
//! - A cancellation removes the movements it names (A11: admissions and registrations at that
//!   place and time; A12: the transfer into its PV1-6 at that time; A13: the discharge then).
//! - An arrival (A01, A04, A02, A06, A07) with no location changes nothing (L1), nor one whose
//!   location equals its previous location (L2), nor one into the place the patient already is
//!   (L5, e.g. an A04 then an A01 in the same cubicle), nor one that would leave a zero-length
//!   stay (L13). Otherwise it opens a stay at its time (L4, L7). The stay before it closes at
//!   that time: as known if the message's PV1-6 names it (L9), inferred if PV1-6 is absent
//!   (L11); if PV1-6 names another place the patient must have been there in between, so an
//!   inferred one-second stay there is added (L10, L12) — which a later-arriving message for that
//!   place replaces by the real stay (L6, L8).
//! - A discharge closes the current stay at PV1-45 (L18); from another place, an inferred
//!   one-second stay there is added first (L19). A later discharge of the same stay wins.
//! - A swap (A17) relabels the current stay with the patient's real place (S1); with no place it
//!   does nothing (S2).
//!
//! Divergence from EMAP, on purpose: the `inferred_*` flags say whether a time was guessed given
//! everything received, not given what had arrived when the row was first written.

use chrono::{DateTime, Duration, Utc};

use crate::engine::places::Place;

/// What a movement did. The order is the tie-break for movements at the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Register,
    Admit,
    Transfer,
    Swap,
    Discharge,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Register => "REGISTER",
            Kind::Admit => "ADMIT",
            Kind::Transfer => "TRANSFER",
            Kind::Swap => "SWAP",
            Kind::Discharge => "DISCHARGE",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Kind> {
        Some(match text {
            "REGISTER" => Kind::Register,
            "ADMIT" => Kind::Admit,
            "TRANSFER" => Kind::Transfer,
            "SWAP" => Kind::Swap,
            "DISCHARGE" => Kind::Discharge,
            _ => return None,
        })
    }
}

/// One received movement (a `star.visit_movement` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Movement {
    pub kind: Kind,
    /// Event time; for a discharge, the discharge time.
    pub at: DateTime<Utc>,
    pub location: Option<Place>,
    pub previous: Option<Place>,
    /// PV1-44 as the message gave it.
    pub admission: Option<DateTime<Utc>>,
    pub presentation: Option<DateTime<Utc>>,
    pub disposition: Option<String>,
    pub destination: Option<String>,
}

impl Movement {
    fn sort_key(&self) -> (DateTime<Utc>, Kind, Option<&Place>, Option<&Place>) {
        (
            self.at,
            self.kind,
            self.location.as_ref(),
            self.previous.as_ref(),
        )
    }
}

/// One received cancellation (a `star.movement_cancellation` row). `kind` is what it cancels:
/// Admit, Transfer or Discharge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cancellation {
    pub kind: Kind,
    pub at: DateTime<Utc>,
    pub location: Option<Place>,
}

impl Cancellation {
    /// Whether this cancellation removes `movement`. A cancellation that names no place matches
    /// any place.
    pub(crate) fn cancels(&self, movement: &Movement) -> bool {
        let kind_matches = match self.kind {
            Kind::Admit => matches!(movement.kind, Kind::Admit | Kind::Register),
            Kind::Transfer => movement.kind == Kind::Transfer,
            Kind::Discharge => movement.kind == Kind::Discharge,
            Kind::Register | Kind::Swap => false,
        };
        let place_matches = match (&self.location, &movement.location) {
            (Some(cancelled), Some(moved)) => cancelled.id == moved.id,
            _ => true,
        };
        kind_matches && self.at == movement.at && place_matches
    }
}

/// A derived stay in one place: what a `star.location_visit` row should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stay {
    pub location: Place,
    pub admission: DateTime<Utc>,
    pub discharge: Option<DateTime<Utc>>,
    pub inferred_admission: bool,
    pub inferred_discharge: bool,
}

impl Stay {
    fn open(location: Place, admission: DateTime<Utc>) -> Stay {
        Stay {
            location,
            admission,
            discharge: None,
            inferred_admission: false,
            inferred_discharge: false,
        }
    }

    /// A one-second stay the patient must have had just before `until`.
    fn inferred_before(location: Place, until: DateTime<Utc>) -> Stay {
        Stay {
            location,
            admission: until - ONE_SECOND,
            discharge: Some(until),
            inferred_admission: true,
            inferred_discharge: false,
        }
    }

    fn close(&mut self, at: DateTime<Utc>, inferred: bool) {
        self.discharge = Some(at);
        self.inferred_discharge = inferred;
    }
}

const ONE_SECOND: Duration = Duration::seconds(1);

/// The movements no cancellation removes, in event-time order.
fn standing<'a>(movements: &'a [Movement], cancellations: &[Cancellation]) -> Vec<&'a Movement> {
    let mut standing: Vec<&Movement> = movements
        .iter()
        .filter(|m| !cancellations.iter().any(|c| c.cancels(m)))
        .collect();
    standing.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    standing
}

/// The stays the facts imply, in time order.
pub(crate) fn stays(movements: &[Movement], cancellations: &[Cancellation]) -> Vec<Stay> {
    let mut stays = Vec::new();
    for movement in standing(movements, cancellations) {
        match movement.kind {
            Kind::Discharge => discharge(&mut stays, movement),
            Kind::Swap => swap(&mut stays, movement),
            Kind::Register | Kind::Admit | Kind::Transfer => arrive(&mut stays, movement),
        }
    }
    stays
}

fn arrive(stays: &mut Vec<Stay>, movement: &Movement) {
    let Some(to) = &movement.location else {
        return; // L1
    };
    if movement.previous.as_ref() == Some(to) {
        return; // L2
    }
    let at = movement.at;
    match stays.last_mut() {
        Some(last) if last.discharge.is_none() => {
            if last.location == *to || last.admission == at {
                return; // L5, L13
            }
            match &movement.previous {
                Some(previous) if *previous == last.location => last.close(at, false), // L9
                Some(previous) if last.admission < at - ONE_SECOND => {
                    // L10: somewhere in between.
                    last.close(at - ONE_SECOND, true);
                    let between = Stay::inferred_before(previous.clone(), at);
                    stays.push(between);
                }
                _ => last.close(at, true), // L11
            }
        }
        Some(last) => {
            // After a discharge: a readmission on the same visit.
            let ended = last.discharge.unwrap_or(last.admission);
            if let Some(previous) = &movement.previous
                && *previous != last.location
                && ended <= at - ONE_SECOND
            {
                stays.push(Stay::inferred_before(previous.clone(), at));
            }
        }
        None => {
            if let Some(previous) = &movement.previous {
                stays.push(Stay::inferred_before(previous.clone(), at)); // L12
            }
        }
    }
    stays.push(Stay::open(to.clone(), at));
}

fn discharge(stays: &mut Vec<Stay>, movement: &Movement) {
    let at = movement.at;
    let same_place = |stay: &Stay| {
        movement
            .location
            .as_ref()
            .is_none_or(|place| *place == stay.location)
    };
    match stays.last_mut() {
        // L18 (and a later discharge of the same stay wins).
        Some(last) if same_place(last) => last.close(at, false),
        Some(last) => {
            // L19: discharged from a place the patient was not known to be in.
            let Some(from) = &movement.location else {
                return;
            };
            if last.discharge.is_none() {
                let until = if last.admission < at - ONE_SECOND {
                    at - ONE_SECOND
                } else {
                    at
                };
                last.close(until, true);
            }
            stays.push(Stay::inferred_before(from.clone(), at));
        }
        None => {
            if let Some(from) = &movement.location {
                stays.push(Stay::inferred_before(from.clone(), at)); // L19
            }
        }
    }
}

fn swap(stays: &mut Vec<Stay>, movement: &Movement) {
    let Some(to) = &movement.location else {
        return; // S2
    };
    if let Some(last) = stays.last_mut()
        && last.discharge.is_none()
    {
        let recorded_elsewhere = movement
            .previous
            .as_ref()
            .is_none_or(|previous| *previous == last.location);
        if recorded_elsewhere || last.location == *to {
            last.location = to.clone(); // S1
            return;
        }
    }
    // S1: no open stay to relabel: the patient is in `to` from now.
    let arrival = Movement {
        previous: None,
        ..movement.clone()
    };
    arrive(stays, &arrival);
}

/// A hospital visit's times as the facts give them (V3–V8).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct VisitTimes {
    pub presentation: Option<DateTime<Utc>>,
    pub admission: Option<DateTime<Utc>>,
    pub discharge: Option<DateTime<Utc>>,
    pub disposition: Option<String>,
    pub destination: Option<String>,
}

/// The visit's presentation, admission and discharge: the latest standing registration gives
/// the presentation (V5); the latest standing admission gives the admission time (V3), else,
/// unless an admission was cancelled (V7), the earliest admission time another movement gives
/// (V4: the feed started mid-visit); the latest standing discharge gives the discharge (V6), none
/// clears it (V8). `None` when there are no facts, so a visit that only lab or A08 messages
/// touched keeps its times.
pub(crate) fn visit_times(
    movements: &[Movement],
    cancellations: &[Cancellation],
) -> Option<VisitTimes> {
    if movements.is_empty() && cancellations.is_empty() {
        return None;
    }
    let standing = standing(movements, cancellations);
    let latest = |kind: Kind| standing.iter().rev().find(|m| m.kind == kind);
    let admission = match standing
        .iter()
        .rev()
        .find(|m| m.kind == Kind::Admit && m.admission.is_some())
    {
        Some(admit) => admit.admission,
        None if cancellations.iter().any(|c| c.kind == Kind::Admit) => None,
        None => standing
            .iter()
            .filter(|m| matches!(m.kind, Kind::Transfer | Kind::Discharge))
            .find_map(|m| m.admission),
    };
    let discharge = latest(Kind::Discharge);
    Some(VisitTimes {
        presentation: standing
            .iter()
            .rev()
            .find(|m| m.kind == Kind::Register && m.presentation.is_some())
            .and_then(|m| m.presentation),
        admission,
        discharge: discharge.map(|d| d.at),
        disposition: discharge.and_then(|d| d.disposition.clone()),
        destination: discharge.and_then(|d| d.destination.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(name: &str) -> Place {
        Place {
            name: name.to_owned(),
            id: name.bytes().map(i64::from).sum(),
        }
    }

    fn at(hour: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2024, 1, 1, hour, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn moved(kind: Kind, hour: u32, to: Option<&str>, from: Option<&str>) -> Movement {
        Movement {
            kind,
            at: at(hour),
            location: to.map(place),
            previous: from.map(place),
            admission: None,
            presentation: None,
            disposition: None,
            destination: None,
        }
    }

    fn summary(stays: &[Stay]) -> Vec<(String, u32, Option<u32>)> {
        use chrono::Timelike;
        stays
            .iter()
            .map(|s| {
                (
                    s.location.name.clone(),
                    s.admission.hour(),
                    s.discharge.map(|d| d.hour()),
                )
            })
            .collect()
    }

    #[test]
    fn any_order_of_the_same_facts_gives_the_same_stays() {
        let facts = vec![
            moved(Kind::Admit, 10, Some("A"), None),
            moved(Kind::Transfer, 11, Some("B"), Some("A")),
            moved(Kind::Transfer, 12, Some("C"), Some("B")),
            moved(Kind::Discharge, 13, Some("C"), None),
        ];
        let expected = stays(&facts, &[]);
        assert_eq!(
            summary(&expected),
            vec![
                ("A".to_owned(), 10, Some(11)),
                ("B".to_owned(), 11, Some(12)),
                ("C".to_owned(), 12, Some(13))
            ]
        );
        let mut reversed = facts.clone();
        reversed.reverse();
        assert_eq!(stays(&reversed, &[]), expected);
    }

    #[test]
    fn a_missing_previous_place_is_inferred_for_one_second() {
        let facts = vec![
            moved(Kind::Admit, 10, Some("A"), None),
            moved(Kind::Transfer, 12, Some("C"), Some("B")),
        ];
        let stays = stays(&facts, &[]);
        assert_eq!(stays.len(), 3);
        assert_eq!(stays[1].location.name, "B");
        assert!(stays[1].inferred_admission);
        assert_eq!(stays[1].admission, at(12) - ONE_SECOND);
        assert!(stays[0].inferred_discharge);
    }

    #[test]
    fn a_cancelled_admission_leaves_no_stay_and_no_admission_time() {
        let mut admit = moved(Kind::Admit, 10, Some("A"), None);
        admit.admission = Some(at(10));
        let cancel = Cancellation {
            kind: Kind::Admit,
            at: at(10),
            location: Some(place("A")),
        };
        assert!(stays(std::slice::from_ref(&admit), std::slice::from_ref(&cancel)).is_empty());
        let times = visit_times(&[admit], &[cancel]).unwrap_or_default();
        assert_eq!(times.admission, None);
    }
}
