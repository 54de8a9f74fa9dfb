//! The HL7v2 parsing facade the readers use: bytes in, segments and decoded field values out.
//!
//! Decision (issue 5): this is our own small tokenizer rather than a facade over `hl7-parser`
//! 0.3. Every one of that crate's known defects sits on the path we need (escape decoding that
//! mixes byte and char offsets and can panic, `Display` joining components with `~`, MSH fields
//! shifted by the v2.7 truncation character, parsing that silently stops at an unreadable
//! segment, timestamp offsets), so a facade would have re-implemented most of it anyway. HL7's
//! ER7 syntax is simple; owning it lets us guarantee: no panics, the whole input is accounted for
//! (an unreadable segment is an error, not a silent truncation), and escapes are decoded on
//! `char`s.
//!
//! Bytes are decoded to text first: with the per-sender override when one is configured, else
//! the charset MSH-18 declares, else UTF-8; bytes that are not valid in that encoding fall back
//! to Windows-1252, which maps every byte, so decoding never loses the message.

use encoding_rs::Encoding;

use crate::header::{Delimiters, HeaderError, read_header};

/// Why bytes are not a readable HL7v2 message. Never quotes the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The MSH segment is unreadable.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A line is not a segment (a segment id is three upper-case letters or digits).
    #[error("segment {index} is not an HL7 segment (expected a three-character segment id)")]
    BadSegment {
        /// 1-based position of the offending segment.
        index: usize,
    },
    /// A second MSH segment: the input holds more than one message.
    #[error("segment {index} starts another message; split batches before parsing")]
    SecondMessage {
        /// 1-based position of the second MSH.
        index: usize,
    },
}

/// How the bytes were decoded to text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// As the configured or declared encoding, without errors.
    Exact(&'static Encoding),
    /// Not valid in the chosen encoding; decoded as Windows-1252 instead.
    Fallback(&'static Encoding),
}

/// One parsed message: its segments, in order.
#[derive(Debug, Clone)]
pub struct Message {
    delimiters: Delimiters,
    segments: Vec<Segment>,
    decoding: Decoding,
}

/// One segment: its id and its raw (undecoded) fields.
#[derive(Debug, Clone)]
pub struct Segment {
    id: String,
    /// Index n holds field n (index 0 is the id); for MSH, index 1 is MSH-1 and 2 is MSH-2.
    fields: Vec<String>,
    delimiters: Delimiters,
}

/// The encoding MSH-18 names, for the labels HL7 table 0211 uses.
pub fn encoding_for_charset(charset: &str) -> Option<&'static Encoding> {
    let label = match charset.trim() {
        "" => return None,
        "ASCII" => "us-ascii",
        "UNICODE UTF-8" | "UTF-8" => "utf-8",
        "8859/1" => "iso-8859-1",
        "8859/2" => "iso-8859-2",
        "8859/3" => "iso-8859-3",
        "8859/4" => "iso-8859-4",
        "8859/5" => "iso-8859-5",
        "8859/6" => "iso-8859-6",
        "8859/7" => "iso-8859-7",
        "8859/8" => "iso-8859-8",
        "8859/9" => "iso-8859-9",
        "8859/15" => "iso-8859-15",
        "UNICODE UTF-16" => "utf-16le",
        "ISO IR87" | "ISO IR159" => "iso-2022-jp",
        "GB 18030-2000" => "gb18030",
        "KS X 1001" => "euc-kr",
        "CNS 11643-1992" | "BIG-5" => "big5",
        other => other,
    };
    Encoding::for_label(label.as_bytes())
}

impl Message {
    /// Parses one message from the exact bytes received. `charset` overrides MSH-18 (for senders
    /// known to declare it wrongly).
    pub fn parse(bytes: &[u8], charset: Option<&'static Encoding>) -> Result<Message, ParseError> {
        let header = read_header(bytes)?;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let wanted = charset
            .or_else(|| {
                header
                    .character_set
                    .as_deref()
                    .and_then(encoding_for_charset)
            })
            .unwrap_or(encoding_rs::UTF_8);
        let (text, decoding) =
            match wanted.decode_without_bom_handling_and_without_replacement(bytes) {
                Some(text) => (text.into_owned(), Decoding::Exact(wanted)),
                None => {
                    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
                    (text.into_owned(), Decoding::Fallback(wanted))
                }
            };
        let delimiters = header.delimiters;
        let field = char::from(delimiters.field);
        let mut segments = Vec::new();
        let mut seen_msh = false;
        for line in text.split(['\r', '\n']) {
            let line = line.trim_start_matches(['\u{feff}', ' ', '\t']);
            if line.trim().is_empty() {
                continue;
            }
            let index = segments.len() + 1;
            let id: String = line.chars().take(3).collect();
            let valid_id = id.len() == 3
                && id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && line[3..].chars().next().is_none_or(|c| c == field);
            if !valid_id {
                return Err(ParseError::BadSegment { index });
            }
            if id == "FHS" || id == "BHS" || id == "BTS" || id == "FTS" {
                continue;
            }
            let fields: Vec<String> = if id == "MSH" {
                if seen_msh {
                    return Err(ParseError::SecondMessage { index });
                }
                seen_msh = true;
                // MSH-1 is the separator itself; MSH-2 onwards are split as usual.
                let mut fields = vec![id.clone(), field.to_string()];
                fields.extend(line[4..].split(field).map(str::to_owned));
                fields
            } else {
                line.split(field).map(str::to_owned).collect()
            };
            segments.push(Segment {
                id,
                fields,
                delimiters,
            });
        }
        Ok(Message {
            delimiters,
            segments,
            decoding,
        })
    }

    /// The delimiters the message declared.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// How the bytes were decoded.
    pub fn decoding(&self) -> Decoding {
        self.decoding
    }

    /// All segments, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The first segment with this id.
    pub fn segment(&self, id: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// Every segment with this id, in order.
    pub fn segments_named<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.id == id)
    }
}

impl Segment {
    /// The segment id, e.g. `PID`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Field `n` exactly as sent (repetitions, components and escapes included).
    pub fn raw(&self, n: usize) -> &str {
        self.fields.get(n).map(String::as_str).unwrap_or("")
    }

    /// How many repetitions field `n` has (0 when empty).
    pub fn repetitions(&self, n: usize) -> usize {
        let raw = self.raw(n);
        if raw.is_empty() {
            return 0;
        }
        match self.delimiters.repetition {
            Some(rep) => raw.split(char::from(rep)).count(),
            None => 1,
        }
    }

    /// Repetition `rep` (1-based) of field `n`, raw.
    pub fn repetition(&self, n: usize, rep: usize) -> &str {
        let raw = self.raw(n);
        // MSH-2 holds the delimiters themselves and is never split.
        if self.id == "MSH" && n <= 2 {
            return if rep == 1 { raw } else { "" };
        }
        match self.delimiters.repetition {
            Some(sep) => raw
                .split(char::from(sep))
                .nth(rep.saturating_sub(1))
                .unwrap_or(""),
            None if rep == 1 => raw,
            None => "",
        }
    }

    /// Component `comp` (1-based) of repetition `rep` of field `n`, raw (sub-components kept).
    pub fn component_raw(&self, n: usize, rep: usize, comp: usize) -> &str {
        let repetition = self.repetition(n, rep);
        if self.id == "MSH" && n <= 2 {
            return if comp == 1 { repetition } else { "" };
        }
        repetition
            .split(char::from(self.delimiters.component))
            .nth(comp.saturating_sub(1))
            .unwrap_or("")
    }

    /// Component `comp` of repetition `rep` of field `n`, escapes decoded; `None` when empty.
    /// The HL7 null `""` is returned as the two characters `""`.
    pub fn value(&self, n: usize, rep: usize, comp: usize) -> Option<String> {
        let raw = self.component_raw(n, rep, comp);
        (!raw.is_empty()).then(|| decode_escapes(raw, &self.delimiters))
    }
}

/// Decodes HL7 escape sequences in one value: delimiters (`\F\ \S\ \T\ \R\ \E\`), hexadecimal
/// data (`\Xhh…\`, as UTF-8 where valid, else one character per byte), line breaks (`\.br\`);
/// highlighting (`\H\ \N\`) is dropped; anything else is kept as written.
pub fn decode_escapes(value: &str, delimiters: &Delimiters) -> String {
    let Some(escape) = delimiters.escape.map(char::from) else {
        return value.to_owned();
    };
    if !value.contains(escape) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find(escape) {
        out.push_str(&rest[..start]);
        let after = &rest[start + escape.len_utf8()..];
        let Some(end) = after.find(escape) else {
            // An unterminated escape is literal text.
            out.push_str(&rest[start..]);
            return out;
        };
        let sequence = &after[..end];
        match sequence {
            "F" => out.push(char::from(delimiters.field)),
            "S" => out.push(char::from(delimiters.component)),
            "T" => out.push(delimiters.subcomponent.map(char::from).unwrap_or('&')),
            "R" => out.push(delimiters.repetition.map(char::from).unwrap_or('~')),
            "E" => out.push(escape),
            "H" | "N" => {}
            ".br" => out.push('\n'),
            hex if hex.starts_with('X') && hex.len() > 1 && hex.len() % 2 == 1 => {
                let bytes: Option<Vec<u8>> = (1..hex.len())
                    .step_by(2)
                    .map(|i| {
                        hex.get(i..i + 2)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    })
                    .collect();
                match bytes {
                    Some(bytes) => match String::from_utf8(bytes) {
                        Ok(text) => out.push_str(&text),
                        Err(e) => out.extend(e.into_bytes().into_iter().map(char::from)),
                    },
                    None => {
                        out.push(escape);
                        out.push_str(sequence);
                        out.push(escape);
                    }
                }
            }
            _ => {
                out.push(escape);
                out.push_str(sequence);
                out.push(escape);
            }
        }
        rest = &after[end + escape.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// Splits a file or stream into the bytes of each message: MLLP frames when the input has
/// start blocks, else at each line that starts with `MSH` (batch envelope lines are dropped with
/// the message they precede). CR, LF and CRLF segment ends all work.
pub fn split_messages(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.contains(&0x0B) {
        return bytes
            .split(|b| *b == 0x0B)
            .skip(1)
            .map(|frame| {
                let end = frame
                    .windows(2)
                    .position(|w| w == [0x1C, 0x0D])
                    .or_else(|| frame.iter().position(|b| *b == 0x1C))
                    .unwrap_or(frame.len());
                &frame[..end]
            })
            .filter(|frame| !frame.is_empty())
            .collect();
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut starts = Vec::new();
    for i in 0..bytes.len() {
        let line_start = i == 0 || bytes[i - 1] == b'\r' || bytes[i - 1] == b'\n';
        if line_start && bytes[i..].starts_with(b"MSH") {
            starts.push(i);
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(bytes.len());
            &bytes[start..end]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ADT: &[u8] = b"MSH|^~\\&|EPIC|UCLH|||20130211100052|IPUC|ADT^A01|31644|T|2.4|||AL|NE\n\
        EVN|A01|20130211100052\n\
        PID|1||40800000^^^MRENTR^MEDREC~9999999999^^^NHS^HN||ORANGE^BLOOD^^^^^D||19800101|F\n\
        \n\
        PV1|1|I|T42E^T42E BY02^BY02-17^U^R|A\\T\\E\n";

    #[test]
    fn fields_components_and_repetitions() {
        let m = Message::parse(ADT, None).unwrap();
        let msh = m.segment("MSH").unwrap();
        assert_eq!(msh.raw(1), "|");
        assert_eq!(msh.raw(2), "^~\\&");
        assert_eq!(msh.value(3, 1, 1).as_deref(), Some("EPIC"));
        assert_eq!(msh.value(9, 1, 2).as_deref(), Some("A01"));
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.repetitions(3), 2);
        assert_eq!(pid.value(3, 1, 1).as_deref(), Some("40800000"));
        assert_eq!(pid.value(3, 2, 1).as_deref(), Some("9999999999"));
        assert_eq!(pid.value(5, 1, 2).as_deref(), Some("BLOOD"));
        assert_eq!(pid.value(5, 1, 3), None);
        let pv1 = m.segment("PV1").unwrap();
        assert_eq!(pv1.value(3, 1, 3).as_deref(), Some("BY02-17"));
        assert_eq!(
            pv1.value(4, 1, 1).as_deref(),
            Some("A&E"),
            "escapes decoded"
        );
        assert_eq!(m.segments().len(), 4, "the blank line is no segment");
    }

    #[test]
    fn escapes_decode_on_characters_not_bytes() {
        let d = Delimiters::default();
        assert_eq!(
            decode_escapes("Patient äußert Schmerz \\F\\ Übelkeit", &d),
            "Patient äußert Schmerz | Übelkeit"
        );
        assert_eq!(decode_escapes("üü\\F\\x", &d), "üü|x");
        assert_eq!(
            decode_escapes("a\\S\\b\\R\\c\\E\\d\\T\\e", &d),
            "a^b~c\\d&e"
        );
        assert_eq!(decode_escapes("\\X41C3A9\\", &d), "Aé");
        assert_eq!(
            decode_escapes("line\\.br\\next\\H\\!\\N\\", &d),
            "line\nnext!"
        );
        assert_eq!(
            decode_escapes("keep \\Zfoo\\ and \\unterminated", &d),
            "keep \\Zfoo\\ and \\unterminated"
        );
    }

    #[test]
    fn unreadable_segments_are_errors_not_truncation() {
        let bad = b"MSH|^~\\&|A||||x||ADT^A01|1|P|2.4\rPID|1\rzz|bad\rPV1|1\r";
        assert_eq!(
            Message::parse(bad, None).unwrap_err(),
            ParseError::BadSegment { index: 3 }
        );
        let two = b"MSH|^~\\&|A||||x||ADT^A01|1|P|2.4\rMSH|^~\\&|A||||x||ADT^A01|2|P|2.4\r";
        assert!(matches!(
            Message::parse(two, None),
            Err(ParseError::SecondMessage { .. })
        ));
    }

    #[test]
    fn truncation_character_does_not_shift_fields() {
        let m = Message::parse(b"MSH|^~\\&#|APP|FAC|||20240101||ADT^A08|C1|P|2.7\r", None).unwrap();
        let msh = m.segment("MSH").unwrap();
        assert_eq!(msh.value(3, 1, 1).as_deref(), Some("APP"));
        assert_eq!(msh.value(10, 1, 1).as_deref(), Some("C1"));
    }

    #[test]
    fn charsets_decode_and_fall_back_losslessly() {
        let latin1 = b"MSH|^~\\&|A||||x||ADT^A08|1|P|2.4|||||8859/1\rPID|1||1||M\xdcLLER\r";
        let m = Message::parse(latin1, None).unwrap();
        assert_eq!(
            m.segment("PID").unwrap().value(5, 1, 1).as_deref(),
            Some("MÜLLER")
        );
        let undeclared = b"MSH|^~\\&|A||||x||ADT^A08|1|P|2.4\rPID|1||1||M\xdcLLER\r";
        let m = Message::parse(undeclared, None).unwrap();
        assert!(matches!(m.decoding(), Decoding::Fallback(_)));
        assert_eq!(
            m.segment("PID").unwrap().value(5, 1, 1).as_deref(),
            Some("MÜLLER")
        );
        let forced = Message::parse(latin1, Some(encoding_rs::UTF_8)).unwrap();
        assert!(matches!(forced.decoding(), Decoding::Fallback(_)));
    }

    #[test]
    fn splits_files_and_streams_into_messages() {
        let file = b"MSH|1\rPID|1\r\nMSH|2\nPID|2\n";
        assert_eq!(
            split_messages(file),
            vec![&b"MSH|1\rPID|1\r\n"[..], &b"MSH|2\nPID|2\n"[..]]
        );
        let framed = b"\x0bMSH|1\r\x1c\r\x0bMSH|2\r\x1c\r";
        assert_eq!(
            split_messages(framed),
            vec![&b"MSH|1\r"[..], &b"MSH|2\r"[..]]
        );
    }

    proptest! {
        #[test]
        fn never_panics(tail in "\\PC{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = format!("MSH|^~\\&|A||||x||ADT^A01|1|P|2.4\r{tail}");
            if let Ok(m) = Message::parse(text.as_bytes(), None) {
                for s in m.segments() {
                    for n in 0..12 {
                        let _ = s.value(n, 1, 1);
                        let _ = s.value(n, 2, 3);
                    }
                }
            }
            let _ = Message::parse(&bytes, None);
            let _ = split_messages(&bytes);
        }

        #[test]
        fn decoding_escapes_never_panics(value in "\\PC{0,60}") {
            let _ = decode_escapes(&value, &Delimiters::default());
        }
    }
}
