//! Acknowledgements: which code a message earns, whether it gets an ACK at all, and the ACK's
//! bytes.
//!
//! Conventions followed (HL7 v2 chapter 2, and what Mirth, HAPI and Rhapsody expect): the ACK's
//! MSH swaps sender and receiver, has its own control id, `ACK^<trigger>^ACK` in MSH-9 and the
//! message's own delimiters, processing id and version; MSA-2 echoes the message's MSH-10.
//! Original mode (MSH-15 and MSH-16 empty) answers AA/AE/AR; enhanced mode answers the commit
//! codes CA/CE/CR as MSH-15 asks (AL always, NE never, ER only on error, SU only on success).
//! From v2.5 errors carry an ERR segment with an HL7 table 0357 code; before it, MSA-3 text.
//! An ACK is never acknowledged.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use hl7::Header;

/// How the listener chooses between original and enhanced acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckPolicy {
    /// As each message asks: enhanced mode when MSH-15 or MSH-16 is valued, else original.
    #[default]
    AsRequested,
    /// Always original mode (AA/AE/AR), for senders that cannot handle commit ACKs.
    AlwaysOriginal,
}

/// The outcome being acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored durably.
    Accepted,
    /// Stored durably, but the message is unusable as sent (its header could not be read).
    Rejected(ErrorCode),
    /// Not stored: refused before storage (e.g. over the size limit).
    RefusedUnstored(ErrorCode),
}

/// HL7 table 0357 message error condition codes used by the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 100: no MSH where one must be.
    SegmentSequence,
    /// 102: MSH delimiters unreadable.
    DataType,
    /// 104: frame longer than the configured maximum.
    ValueTooLong,
}

impl ErrorCode {
    fn code(self) -> &'static str {
        match self {
            ErrorCode::SegmentSequence => "100",
            ErrorCode::DataType => "102",
            ErrorCode::ValueTooLong => "104",
        }
    }

    fn text(self) -> &'static str {
        match self {
            ErrorCode::SegmentSequence => "Segment sequence error",
            ErrorCode::DataType => "Data type error",
            ErrorCode::ValueTooLong => "Value too long",
        }
    }
}

/// The acknowledgement code sent, also used as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCode {
    /// Original mode: accepted.
    AA,
    /// Original mode: error.
    AE,
    /// Original mode: rejected.
    AR,
    /// Enhanced mode: commit accept.
    CA,
    /// Enhanced mode: commit error.
    CE,
    /// Enhanced mode: commit reject.
    CR,
}

impl AckCode {
    /// The code as written in MSA-1.
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::AA => "AA",
            AckCode::AE => "AE",
            AckCode::AR => "AR",
            AckCode::CA => "CA",
            AckCode::CE => "CE",
            AckCode::CR => "CR",
        }
    }
}

/// Which code to answer `outcome` with, or `None` when no ACK must be sent.
pub fn ack_code(header: Option<&Header>, outcome: Outcome, policy: AckPolicy) -> Option<AckCode> {
    if header.is_some_and(Header::is_ack) {
        return None;
    }
    let success = outcome == Outcome::Accepted;
    let enhanced = policy == AckPolicy::AsRequested
        && header.is_some_and(|h| h.accept_ack_type.is_some() || h.application_ack_type.is_some());
    if !enhanced {
        return Some(if success { AckCode::AA } else { AckCode::AR });
    }
    let wanted = match header.and_then(|h| h.accept_ack_type.as_deref()) {
        Some("NE") => false,
        Some("ER") => !success,
        Some("SU") => success,
        // AL, and an empty MSH-15 in enhanced mode, mean always.
        _ => true,
    };
    wanted.then_some(if success { AckCode::CA } else { AckCode::CR })
}

/// What the ACK's MSH and MSA are built from.
pub struct AckContext<'a> {
    /// The message's header, when it could be read.
    pub header: Option<&'a Header>,
    /// The code to send.
    pub code: AckCode,
    /// The error, for AR/CR.
    pub error: Option<ErrorCode>,
    /// MSH-10 of the ACK itself.
    pub ack_control_id: &'a str,
    /// MSH-7 of the ACK.
    pub now: DateTime<Utc>,
    /// The zone MSH-7 is written in.
    pub zone: Tz,
}

/// Builds the ACK message (without MLLP framing), segments ended by CR.
pub fn build_ack(ctx: &AckContext<'_>) -> Bytes {
    let d = ctx.header.map(|h| h.delimiters).unwrap_or_default();
    let f = char::from(d.field);
    let c = char::from(d.component);
    let field = |n: usize| ctx.header.and_then(|h| h.field(n)).unwrap_or("");
    let trigger = ctx
        .header
        .and_then(|h| h.trigger_event.as_deref())
        .unwrap_or("");
    let version = ctx
        .header
        .and_then(|h| h.version_id.as_deref())
        .unwrap_or("2.5");
    let processing = match field(11) {
        "" => "P",
        p => p,
    };
    let timestamp = ctx
        .now
        .with_timezone(&ctx.zone)
        .format("%Y%m%d%H%M%S%.3f%z");

    let mut out = String::with_capacity(256);
    out.push_str(&format!(
        "MSH{f}{enc}{f}{sa}{f}{sf}{f}{ra}{f}{rf}{f}{timestamp}{f}{f}ACK{c}{trigger}{c}ACK{f}{id}{f}{processing}{f}{version_field}",
        enc = d.encoding_characters(),
        sa = field(5),
        sf = field(6),
        ra = field(3),
        rf = field(4),
        id = ctx.ack_control_id,
        version_field = if field(12).is_empty() { version } else { field(12) },
    ));
    out.push('\r');
    let err_segment = version_at_least(version, 2, 5);
    out.push_str(&format!(
        "MSA{f}{}{f}{}",
        ctx.code.as_str(),
        ctx.header.and_then(|h| h.field(10)).unwrap_or("")
    ));
    if let (Some(error), false) = (ctx.error, err_segment) {
        out.push_str(&format!("{f}{}", error.text()));
    }
    out.push('\r');
    if let (Some(error), true) = (ctx.error, err_segment) {
        out.push_str(&format!(
            "ERR{f}{f}{f}{code}{c}{text}{c}HL70357{f}E",
            code = error.code(),
            text = error.text()
        ));
        out.push('\r');
    }
    Bytes::from(out)
}

/// Whether an HL7 version string such as `2.5.1` is at least `major.minor`.
fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    v >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(msh: &str) -> Header {
        hl7::read_header(msh.as_bytes()).unwrap()
    }

    fn build(h: Option<&Header>, code: AckCode, error: Option<ErrorCode>) -> String {
        let now = DateTime::parse_from_rfc3339("2024-07-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let bytes = build_ack(&AckContext {
            header: h,
            code,
            error,
            ack_control_id: "W42",
            now,
            zone: chrono_tz::Europe::London,
        });
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn original_mode_ack_for_v23() {
        let h = header("MSH|^~\\&|EPIC|UCLH|WARD|WH|20240101||ADT^A01|C1|P|2.3\r");
        assert_eq!(
            ack_code(Some(&h), Outcome::Accepted, AckPolicy::AsRequested),
            Some(AckCode::AA)
        );
        assert_eq!(
            build(Some(&h), AckCode::AA, None),
            "MSH|^~\\&|WARD|WH|EPIC|UCLH|20240701130000.000+0100||ACK^A01^ACK|W42|P|2.3\rMSA|AA|C1\r"
        );
    }

    #[test]
    fn errors_use_msa3_before_25_and_err_from_25() {
        let h24 = header("MSH|^~\\&|A|B|C|D|20240101||ADT^A08|C2|T|2.4\r");
        assert!(
            build(Some(&h24), AckCode::AR, Some(ErrorCode::DataType))
                .ends_with("MSA|AR|C2|Data type error\r")
        );
        let h251 = header("MSH|^~\\&|A|B|C|D|20240101||ADT^A08|C3|T|2.5.1\r");
        let ack = build(Some(&h251), AckCode::AR, Some(ErrorCode::ValueTooLong));
        assert!(
            ack.contains("|T|2.5.1\rMSA|AR|C3\rERR|||104^Value too long^HL70357|E\r"),
            "{ack}"
        );
    }

    #[test]
    fn custom_delimiters_are_reused() {
        let h = header("MSH#$~\\&#A#B#C#D#20240101##ORU$R01#C4#P#2.5\r");
        let ack = build(Some(&h), AckCode::AA, None);
        assert!(ack.starts_with("MSH#$~\\&#C#D#A#B#"), "{ack}");
        assert!(ack.contains("#ACK$R01$ACK#W42#P#2.5\rMSA#AA#C4\r"), "{ack}");
    }

    #[test]
    fn enhanced_mode_follows_msh15() {
        let case = |msh15: &str, outcome| {
            let h = header(&format!(
                "MSH|^~\\&|A|B|C|D|x||ADT^A01|C|P|2.5|||{msh15}|AL\r"
            ));
            ack_code(Some(&h), outcome, AckPolicy::AsRequested)
        };
        let stored = Outcome::Accepted;
        let bad = Outcome::Rejected(ErrorCode::DataType);
        assert_eq!(case("AL", stored), Some(AckCode::CA));
        assert_eq!(case("AL", bad), Some(AckCode::CR));
        assert_eq!(case("NE", stored), None);
        assert_eq!(case("NE", bad), None);
        assert_eq!(case("ER", stored), None);
        assert_eq!(case("ER", bad), Some(AckCode::CR));
        assert_eq!(case("SU", stored), Some(AckCode::CA));
        assert_eq!(case("SU", bad), None);
        assert_eq!(case("", stored), Some(AckCode::CA));
        let h = header("MSH|^~\\&|A|B|C|D|x||ADT^A01|C|P|2.5|||NE|AL\r");
        assert_eq!(
            ack_code(Some(&h), stored, AckPolicy::AlwaysOriginal),
            Some(AckCode::AA)
        );
    }

    #[test]
    fn never_ack_an_ack_and_unreadable_headers_get_ar() {
        let ack = header("MSH|^~\\&|A|B|C|D|x||ACK^A01^ACK|C|P|2.5\rMSA|AA|1\r");
        assert_eq!(
            ack_code(Some(&ack), Outcome::Accepted, AckPolicy::AsRequested),
            None
        );
        assert_eq!(
            ack_code(
                None,
                Outcome::Rejected(ErrorCode::SegmentSequence),
                AckPolicy::AsRequested
            ),
            Some(AckCode::AR)
        );
        let text = build(None, AckCode::AR, Some(ErrorCode::SegmentSequence));
        assert!(text.starts_with("MSH|^~\\&|||||"), "{text}");
        assert!(
            text.contains("|ACK^^ACK|W42|P|2.5\rMSA|AR|\rERR|||100^"),
            "{text}"
        );
    }
}
