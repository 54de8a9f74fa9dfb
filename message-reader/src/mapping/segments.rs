//! Segment helpers every family's mapping shares: the mapping [`Context`] (the parsed message,
//! its IDS id, the site's conventions), date/times read in the site's zone, text fields, EMAP's
//! tri-state values (empty is unknown, the HL7 null `""` a delete) and location strings.

use chrono::{DateTime, Utc};
use hl7::{Dtm, Message as Hl7, Segment};
use interchange::value::Iv;

use super::{MapError, SiteConfig};

/// What the mapping of one message needs.
pub(crate) struct Context<'a> {
    pub hl7: &'a Hl7,
    pub source_message_id: &'a str,
    pub site: &'a SiteConfig,
}

impl Context<'_> {
    pub(crate) fn instant(
        &self,
        segment: Option<&Segment>,
        n: usize,
        field: &'static str,
    ) -> Result<Option<DateTime<Utc>>, MapError> {
        match segment.and_then(|s| s.value(n, 1, 1)) {
            None => Ok(None),
            Some(text) if text == "\"\"" => Ok(None),
            Some(text) => Dtm::parse(&text)
                .map(|t| Some(t.to_instant(self.site.time_zone)))
                .map_err(|error| MapError::BadDateTime { field, error }),
        }
    }

    pub(crate) fn iv_instant(
        &self,
        segment: Option<&Segment>,
        n: usize,
        field: &'static str,
    ) -> Result<Iv<DateTime<Utc>>, MapError> {
        if segment.and_then(|s| s.value(n, 1, 1)).as_deref() == Some("\"\"") {
            return Ok(Iv::delete());
        }
        Ok(self
            .instant(segment, n, field)?
            .map_or(Iv::Unknown, Iv::Save))
    }
}

pub(crate) fn text(segment: Option<&Segment>, n: usize, rep: usize, comp: usize) -> Option<String> {
    segment.and_then(|s| s.value(n, rep, comp))
}

pub(crate) fn iv_text(segment: Option<&Segment>, n: usize, comp: usize) -> Iv<String> {
    Iv::from_hl7(text(segment, n, 1, comp).as_deref())
}

/// Sub-component `sub` (1-based) of component `comp` of field `n`'s first repetition, escapes
/// decoded; `None` when empty.
pub(crate) fn subcomponent(
    hl7: &Hl7,
    segment: Option<&Segment>,
    n: usize,
    comp: usize,
    sub: usize,
) -> Option<String> {
    let raw = segment?.component_raw(n, 1, comp);
    let delimiters = hl7.delimiters();
    let part = match delimiters.subcomponent {
        Some(sep) => raw.split(char::from(sep)).nth(sub.saturating_sub(1))?,
        None if sub == 1 => raw,
        None => return None,
    };
    (!part.is_empty()).then(|| hl7::message::decode_escapes(part, &delimiters))
}

/// A location field (PL) as EMAP writes it: `dept^room^bed`, with a missing part written
/// `null`, so location strings match EMAP's star schema and the SQL written against it.
pub(crate) fn location_string(segment: Option<&Segment>, n: usize) -> Option<String> {
    let segment = segment?;
    let parts: Vec<Option<String>> = (1..=3).map(|c| segment.value(n, 1, c)).collect();
    if parts.iter().all(Option::is_none) {
        return None;
    }
    let parts: Vec<String> = parts
        .into_iter()
        .map(|p| p.unwrap_or_else(|| "null".to_owned()))
        .collect();
    Some(parts.join("^"))
}

/// A location field as a tri-state value.
pub(crate) fn iv_location(segment: Option<&Segment>, n: usize) -> Iv<String> {
    if segment.is_some_and(|s| s.raw(n) == "\"\"") {
        return Iv::delete();
    }
    location_string(segment, n).map_or(Iv::Unknown, Iv::Save)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_locations_read_as_emap_writes_them() {
        let hl7 = Hl7::parse(
            b"MSH|^~\\&|EPIC||||x||ADT^A02|1|P|2.4\rPV1|1|E|ED^^BAY1|||\"\"\r",
            None,
        )
        .unwrap();
        let pv1 = hl7.segment("PV1");
        assert_eq!(location_string(pv1, 3).as_deref(), Some("ED^null^BAY1"));
        assert_eq!(iv_location(pv1, 6), Iv::delete());
        assert_eq!(iv_location(pv1, 4), Iv::Unknown);
    }
}
