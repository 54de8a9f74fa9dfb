//! HL7 date/time values (DTM, and the first component of the older TS type).
//!
//! HL7 writes `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`. A value without an offset means
//! the sender's local time, so turning it into an instant needs the site's time zone (a
//! configuration, `Europe/London` at UCLH). Parsing is our own because the common crates get
//! negative offsets wrong and read offset-less values as UTC.

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

/// How much of a DTM value the sender gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    /// `YYYY`
    Year,
    /// `YYYYMM`
    Month,
    /// `YYYYMMDD`
    Day,
    /// `YYYYMMDDHH`
    Hour,
    /// `YYYYMMDDHHMM`
    Minute,
    /// `YYYYMMDDHHMMSS`, possibly with a fraction.
    Second,
}

/// A parsed HL7 date/time: the local wall-clock value as written, and its offset if one was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtm {
    /// The wall-clock value; missing month/day default to 1, missing time parts to 0.
    pub local: NaiveDateTime,
    /// How many parts the sender gave.
    pub precision: Precision,
    /// The explicit UTC offset, when the value carried one.
    pub offset: Option<FixedOffset>,
}

/// Why a value is not an HL7 date/time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmError {
    /// The value has a length or characters DTM does not allow.
    #[error("not an HL7 date/time: expected YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]")]
    Syntax,
    /// The digits name no real date or time (month 13, 30 February, hour 25).
    #[error("the HL7 date/time names no real calendar date or time of day")]
    OutOfRange,
    /// The offset is not `+HHMM`/`-HHMM` within ±14 hours.
    #[error("the HL7 date/time offset is not a valid +/-HHMM")]
    BadOffset,
}

impl Dtm {
    /// Parses a DTM value (pass the first component of a TS field).
    pub fn parse(value: &str) -> Result<Dtm, DtmError> {
        let value = value.trim();
        let (main, offset) = match value.find(['+', '-']) {
            Some(i) => (&value[..i], Some(parse_offset(&value[i..])?)),
            None => (value, None),
        };
        let (digits, fraction) = match main.split_once('.') {
            Some((d, f)) => (d, Some(f)),
            None => (main, None),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DtmError::Syntax);
        }
        let precision = match digits.len() {
            4 => Precision::Year,
            6 => Precision::Month,
            8 => Precision::Day,
            10 => Precision::Hour,
            12 => Precision::Minute,
            14 => Precision::Second,
            _ => return Err(DtmError::Syntax),
        };
        let nanos = match fraction {
            None => 0,
            Some(f) if precision == Precision::Second => parse_fraction(f)?,
            Some(_) => return Err(DtmError::Syntax),
        };
        let part = |range: std::ops::Range<usize>, default: u32| -> u32 {
            digits
                .get(range)
                .and_then(|s| s.parse().ok())
                .unwrap_or(default)
        };
        let year = digits
            .get(0..4)
            .and_then(|s| s.parse::<i32>().ok())
            .ok_or(DtmError::Syntax)?;
        let local = NaiveDate::from_ymd_opt(year, part(4..6, 1), part(6..8, 1))
            .and_then(|d| {
                d.and_hms_nano_opt(part(8..10, 0), part(10..12, 0), part(12..14, 0), nanos)
            })
            .ok_or(DtmError::OutOfRange)?;
        Ok(Dtm {
            local,
            precision,
            offset,
        })
    }

    /// The instant this value names: its own offset if it had one, else the wall-clock time in
    /// `zone`. In the hour a clock goes back the earlier instant is taken; a time inside the hour a
    /// clock goes forward is moved forward by the gap (as java.time does, so EMAP agrees).
    pub fn to_instant(&self, zone: Tz) -> DateTime<Utc> {
        if let Some(offset) = self.offset {
            return (self.local - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc();
        }
        match zone.from_local_datetime(&self.local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => {
                let before = zone
                    .offset_from_utc_datetime(&(self.local - Duration::hours(6)))
                    .fix();
                (self.local - Duration::seconds(i64::from(before.local_minus_utc()))).and_utc()
            }
        }
    }
}

fn parse_offset(text: &str) -> Result<FixedOffset, DtmError> {
    let (sign, digits) = text.split_at(1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return Err(DtmError::BadOffset);
    }
    let hours: i32 = digits[0..2].parse().map_err(|_| DtmError::BadOffset)?;
    let minutes: i32 = match digits.get(2..4) {
        Some(m) => m.parse().map_err(|_| DtmError::BadOffset)?,
        None => 0,
    };
    if minutes >= 60 {
        return Err(DtmError::BadOffset);
    }
    let seconds = (hours * 60 + minutes) * 60;
    let seconds = if sign == "-" { -seconds } else { seconds };
    FixedOffset::east_opt(seconds)
        .filter(|_| hours <= 14)
        .ok_or(DtmError::BadOffset)
}

fn parse_fraction(fraction: &str) -> Result<u32, DtmError> {
    if fraction.is_empty() || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DtmError::Syntax);
    }
    let digits: u32 = fraction.parse().map_err(|_| DtmError::Syntax)?;
    Ok(digits * 10u32.pow(9 - fraction.len() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn local_times_use_the_site_zone_across_dst() {
        let london = chrono_tz::Europe::London;
        let winter = Dtm::parse("20130211100052").unwrap();
        assert_eq!(winter.to_instant(london), utc("2013-02-11T10:00:52Z"));
        let summer = Dtm::parse("20130711100052").unwrap();
        assert_eq!(summer.to_instant(london), utc("2013-07-11T09:00:52Z"));
        // 01:30 on 31 March 2024 does not exist in London: moved forward by the hour's gap.
        let gap = Dtm::parse("202403310130").unwrap();
        assert_eq!(gap.to_instant(london), utc("2024-03-31T01:30:00Z"));
        // 01:30 on 27 October 2024 happens twice: the earlier (BST) instant.
        let overlap = Dtm::parse("202410270130").unwrap();
        assert_eq!(overlap.to_instant(london), utc("2024-10-27T00:30:00Z"));
    }

    #[test]
    fn explicit_offsets_win_and_negative_ones_are_right() {
        let london = chrono_tz::Europe::London;
        let t = Dtm::parse("20240102030405-0330").unwrap();
        assert_eq!(t.to_instant(london), utc("2024-01-02T06:34:05Z"));
        let t = Dtm::parse("20240102030405+05").unwrap();
        assert_eq!(t.to_instant(london), utc("2024-01-01T22:04:05Z"));
    }

    #[test]
    fn precision_and_fraction() {
        let t = Dtm::parse("19800101").unwrap();
        assert_eq!(t.precision, Precision::Day);
        let t = Dtm::parse("20240102030405.1234").unwrap();
        assert_eq!(t.precision, Precision::Second);
        assert_eq!(t.local.and_utc().timestamp_subsec_millis(), 123);
        assert_eq!(Dtm::parse("2024").unwrap().precision, Precision::Year);
    }

    #[test]
    fn bad_values_are_errors() {
        for bad in [
            "",
            "2024010",
            "20241301",
            "20240230",
            "abc",
            "202401021.5",
            "20240101+1",
        ] {
            assert!(Dtm::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Dtm::parse("20240101+2500"), Err(DtmError::BadOffset));
        assert_eq!(Dtm::parse("20240101+0175"), Err(DtmError::BadOffset));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,30}") {
            if let Ok(t) = Dtm::parse(&s) {
                let _ = t.to_instant(chrono_tz::Europe::London);
            }
        }

        #[test]
        fn digits_round_trip(y in 1900i32..2100, mo in 1u32..=12, d in 1u32..=28, h in 0u32..24, mi in 0u32..60, s in 0u32..60) {
            let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}");
            let t = Dtm::parse(&text).unwrap();
            prop_assert_eq!(t.local.format("%Y%m%d%H%M%S").to_string(), text);
        }
    }
}
