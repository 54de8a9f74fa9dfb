//! The minimal MSH header reader.
//!
//! The listener must store and acknowledge a message without parsing its body, yet it needs the
//! header: who sent it, what it is, its control id (MSA-2 of the ACK) and the acknowledgement
//! mode. This module reads exactly the MSH segment, honouring the delimiters the message itself
//! declares in MSH-1 and MSH-2 (including the v2.7 truncation character), with CR, LF or CRLF
//! segment ends and an optional UTF-8 byte-order mark. It works on bytes, so a payload in any
//! charset can be read; field values are decoded as UTF-8 with replacement characters, which is
//! lossless for the ASCII that header fields are in practice. Escape sequences are not decoded:
//! header fields are metadata for filtering and ACKs, not clinical text.

/// The delimiters a message declares in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    /// MSH-1, `|` in almost every message.
    pub field: u8,
    /// First character of MSH-2, `^` in almost every message.
    pub component: u8,
    /// Second character of MSH-2, `~` by default.
    pub repetition: Option<u8>,
    /// Third character of MSH-2, `\` by default.
    pub escape: Option<u8>,
    /// Fourth character of MSH-2, `&` by default.
    pub subcomponent: Option<u8>,
    /// Fifth character of MSH-2 (v2.7 and later), `#` when present.
    pub truncation: Option<u8>,
}

impl Delimiters {
    /// MSH-2 as the message wrote it (all declared encoding characters).
    pub fn encoding_characters(&self) -> String {
        let mut out = String::with_capacity(5);
        out.push(char::from(self.component));
        for c in [
            self.repetition,
            self.escape,
            self.subcomponent,
            self.truncation,
        ]
        .into_iter()
        .flatten()
        {
            out.push(char::from(c));
        }
        out
    }
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: b'|',
            component: b'^',
            repetition: Some(b'~'),
            escape: Some(b'\\'),
            subcomponent: Some(b'&'),
            truncation: None,
        }
    }
}

/// Why a payload's MSH segment could not be read. The payload itself is never quoted, so these
/// messages are safe to log and to store beside the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The payload has no bytes, or only white space.
    #[error("the message is empty")]
    Empty,
    /// No segment of the payload starts with `MSH` (after any FHS/BHS batch header).
    #[error("the message has no MSH segment where one must start")]
    NoMsh,
    /// The MSH segment ends right after `MSH`.
    #[error("the MSH segment ends before its field separator (MSH-1)")]
    NoFieldSeparator,
    /// MSH-1 is a letter, digit, control or non-ASCII byte.
    #[error("MSH-1 field separator (byte 0x{0:02X}) is not an ASCII punctuation character")]
    BadFieldSeparator(u8),
    /// MSH-2 is empty.
    #[error("MSH-2 encoding characters are missing")]
    NoEncodingCharacters,
    /// MSH-2 has more than the five characters HL7 defines.
    #[error("MSH-2 has {0} encoding characters where HL7 allows at most 5")]
    TooManyEncodingCharacters(usize),
    /// An MSH-2 character is not ASCII punctuation, or repeats the field separator.
    #[error(
        "MSH-2 encoding character (byte 0x{0:02X}) is not ASCII punctuation distinct from MSH-1"
    )]
    BadEncodingCharacter(u8),
}

/// The MSH fields Ward uses before (and without) parsing a message's body.
///
/// Values are the first repetition's first component, without surrounding spaces, unless said
/// otherwise; an empty value is `None`. Only [`Header::field`] gives whole raw fields, for building ACKs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Delimiters declared by MSH-1 and MSH-2.
    pub delimiters: Delimiters,
    /// MSH-3.1, the sending application's namespace id.
    pub sending_application: Option<String>,
    /// MSH-4.1.
    pub sending_facility: Option<String>,
    /// MSH-5.1.
    pub receiving_application: Option<String>,
    /// MSH-6.1.
    pub receiving_facility: Option<String>,
    /// MSH-7.1 exactly as sent; see [`crate::Dtm`] to interpret it.
    pub message_datetime: Option<String>,
    /// MSH-9.1, e.g. `ADT`.
    pub message_type: Option<String>,
    /// MSH-9.2, e.g. `A01`.
    pub trigger_event: Option<String>,
    /// MSH-9.3, e.g. `ADT_A01`.
    pub message_structure: Option<String>,
    /// MSH-10, the control id the ACK's MSA-2 must echo (whole field).
    pub control_id: Option<String>,
    /// MSH-11.1, `P`, `T` or `D`.
    pub processing_id: Option<String>,
    /// MSH-12.1, e.g. `2.5.1`.
    pub version_id: Option<String>,
    /// MSH-15, accept acknowledgement type (`AL`, `NE`, `ER`, `SU`).
    pub accept_ack_type: Option<String>,
    /// MSH-16, application acknowledgement type.
    pub application_ack_type: Option<String>,
    /// MSH-18 first repetition, the declared character set.
    pub character_set: Option<String>,
    /// Raw MSH fields: index 0 is MSH-2, index n-2 is MSH-n.
    fields: Vec<String>,
}

impl Header {
    /// The whole raw MSH-`n` field (all repetitions and components), for n ≥ 2.
    pub fn field(&self, n: usize) -> Option<&str> {
        n.checked_sub(2)
            .and_then(|i| self.fields.get(i))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `true` when the message itself is an acknowledgement, which must never be acknowledged.
    pub fn is_ack(&self) -> bool {
        self.message_type.as_deref() == Some("ACK")
    }
}

/// Reads the MSH header of one HL7v2 message given as the exact bytes received.
///
/// Leading white space and a UTF-8 BOM are skipped, and so are FHS/BHS batch headers before the
/// first MSH. Returns a typed error, never a panic, on anything that is not a readable MSH.
pub fn read_header(payload: &[u8]) -> Result<Header, HeaderError> {
    let payload = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    let start = payload
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(HeaderError::Empty)?;
    let segment = find_msh(&payload[start..]).ok_or(HeaderError::NoMsh)?;

    let field = *segment.get(3).ok_or(HeaderError::NoFieldSeparator)?;
    if !field.is_ascii_punctuation() {
        return Err(HeaderError::BadFieldSeparator(field));
    }
    let body = &segment[4..];
    let mut raw_fields = body.split(|b| *b == field);
    let encoding = raw_fields.next().unwrap_or_default();
    let delimiters = delimiters(field, encoding)?;
    let fields: Vec<String> = std::iter::once(encoding)
        .chain(raw_fields)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();

    let raw = |n: usize| fields.get(n - 2).map(String::as_str).unwrap_or_default();
    let first_rep = |n: usize| -> &str {
        let value = raw(n);
        match delimiters.repetition {
            Some(rep) => value.split(char::from(rep)).next().unwrap_or_default(),
            None => value,
        }
    };
    let component = |n: usize, c: usize| -> Option<String> {
        first_rep(n)
            .split(char::from(delimiters.component))
            .nth(c - 1)
            .map(|v| v.trim_matches(' '))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let whole = |n: usize| Some(raw(n)).filter(|v| !v.is_empty()).map(str::to_owned);
    let repetition = |n: usize| {
        Some(first_rep(n))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };

    Ok(Header {
        delimiters,
        sending_application: component(3, 1),
        sending_facility: component(4, 1),
        receiving_application: component(5, 1),
        receiving_facility: component(6, 1),
        message_datetime: component(7, 1),
        message_type: component(9, 1),
        trigger_event: component(9, 2),
        message_structure: component(9, 3),
        control_id: whole(10),
        processing_id: component(11, 1),
        version_id: component(12, 1),
        accept_ack_type: repetition(15),
        application_ack_type: repetition(16),
        character_set: repetition(18),
        fields,
    })
}

/// The bytes of the first MSH segment (without its terminator), skipping batch headers.
fn find_msh(payload: &[u8]) -> Option<&[u8]> {
    let mut segments = payload
        .split(|b| *b == b'\r' || *b == b'\n')
        .filter(|s| !s.is_empty());
    let first = segments.next()?;
    if first.starts_with(b"MSH") {
        return Some(first);
    }
    if !(first.starts_with(b"FHS") || first.starts_with(b"BHS")) {
        return None;
    }
    segments.find(|s| s.starts_with(b"MSH"))
}

fn delimiters(field: u8, encoding: &[u8]) -> Result<Delimiters, HeaderError> {
    if encoding.is_empty() {
        return Err(HeaderError::NoEncodingCharacters);
    }
    if encoding.len() > 5 {
        return Err(HeaderError::TooManyEncodingCharacters(encoding.len()));
    }
    if let Some(bad) = encoding
        .iter()
        .find(|&&c| !c.is_ascii_punctuation() || c == field)
    {
        return Err(HeaderError::BadEncodingCharacter(*bad));
    }
    Ok(Delimiters {
        field,
        component: encoding[0],
        repetition: encoding.get(1).copied(),
        escape: encoding.get(2).copied(),
        subcomponent: encoding.get(3).copied(),
        truncation: encoding.get(4).copied(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ADT: &[u8] = b"MSH|^~\\&|EPIC|UCLH|WARD|UCLH^X^L|20240102030405+0100||ADT^A01^ADT_A01|CTRL-1|P|2.5.1|||AL|NE||UNICODE UTF-8~8859/1\rPID|1||123^^^MRN\r";

    #[test]
    fn reads_standard_header() {
        let h = read_header(ADT).unwrap();
        assert_eq!(h.sending_application.as_deref(), Some("EPIC"));
        assert_eq!(h.sending_facility.as_deref(), Some("UCLH"));
        assert_eq!(h.receiving_application.as_deref(), Some("WARD"));
        assert_eq!(h.receiving_facility.as_deref(), Some("UCLH"));
        assert_eq!(h.field(6), Some("UCLH^X^L"));
        assert_eq!(h.message_datetime.as_deref(), Some("20240102030405+0100"));
        assert_eq!(h.message_type.as_deref(), Some("ADT"));
        assert_eq!(h.trigger_event.as_deref(), Some("A01"));
        assert_eq!(h.message_structure.as_deref(), Some("ADT_A01"));
        assert_eq!(h.control_id.as_deref(), Some("CTRL-1"));
        assert_eq!(h.processing_id.as_deref(), Some("P"));
        assert_eq!(h.version_id.as_deref(), Some("2.5.1"));
        assert_eq!(h.accept_ack_type.as_deref(), Some("AL"));
        assert_eq!(h.application_ack_type.as_deref(), Some("NE"));
        assert_eq!(h.character_set.as_deref(), Some("UNICODE UTF-8"));
        assert_eq!(h.delimiters, Delimiters::default());
        assert!(!h.is_ack());
    }

    #[test]
    fn segment_ends_lf_and_crlf_and_bom() {
        for payload in [
            b"MSH|^~\\&|A|B|C|D|20240101||ADT^A08|X1|P|2.4\nPID|1\n".to_vec(),
            b"MSH|^~\\&|A|B|C|D|20240101||ADT^A08|X1|P|2.4\r\nPID|1\r\n".to_vec(),
            b"\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|20240101||ADT^A08|X1|P|2.4".to_vec(),
            b"\r\n  MSH|^~\\&|A|B|C|D|20240101||ADT^A08|X1|P|2.4".to_vec(),
        ] {
            let h = read_header(&payload).unwrap();
            assert_eq!(h.control_id.as_deref(), Some("X1"));
            assert_eq!(h.version_id.as_deref(), Some("2.4"));
            assert_eq!(h.trigger_event.as_deref(), Some("A08"));
        }
    }

    #[test]
    fn custom_delimiters_and_truncation_character() {
        let h = read_header(b"MSH#$~\\&*#APP#FAC#####ORU$R01#C9#T#2.7\r").unwrap();
        assert_eq!(h.delimiters.field, b'#');
        assert_eq!(h.delimiters.component, b'$');
        assert_eq!(h.delimiters.truncation, Some(b'*'));
        assert_eq!(h.delimiters.encoding_characters(), "$~\\&*");
        assert_eq!(h.sending_application.as_deref(), Some("APP"));
        assert_eq!(h.message_type.as_deref(), Some("ORU"));
        assert_eq!(h.trigger_event.as_deref(), Some("R01"));
        assert_eq!(h.control_id.as_deref(), Some("C9"));
        assert_eq!(h.version_id.as_deref(), Some("2.7"));

        let v27 = read_header(b"MSH|^~\\&#|APP|FAC|||20240101||ADT^A01|C1|P|2.7\r").unwrap();
        assert_eq!(v27.delimiters.truncation, Some(b'#'));
        assert_eq!(v27.sending_application.as_deref(), Some("APP"));
        assert_eq!(v27.message_type.as_deref(), Some("ADT"));
        assert_eq!(v27.control_id.as_deref(), Some("C1"));
    }

    #[test]
    fn batch_headers_are_skipped() {
        let h = read_header(b"FHS|^~\\&|X\rBHS|^~\\&|X\rMSH|^~\\&|APP||||||ORU^R01|B1|P|2.5.1\r")
            .unwrap();
        assert_eq!(h.control_id.as_deref(), Some("B1"));
    }

    #[test]
    fn ack_is_recognised() {
        let h = read_header(b"MSH|^~\\&|A||||||ACK^A01^ACK|9|P|2.4\rMSA|AA|1\r").unwrap();
        assert!(h.is_ack());
    }

    #[test]
    fn errors_are_typed() {
        let cases: &[(&[u8], HeaderError)] = &[
            (b"", HeaderError::Empty),
            (b" \r\n", HeaderError::Empty),
            (b"PID|1", HeaderError::NoMsh),
            (b"MSH", HeaderError::NoFieldSeparator),
            (b"MSHA^~\\&", HeaderError::BadFieldSeparator(b'A')),
            (b"MSH||A", HeaderError::NoEncodingCharacters),
            (b"MSH|^~\\&#!|A", HeaderError::TooManyEncodingCharacters(6)),
            (b"MSH|0000|A", HeaderError::BadEncodingCharacter(b'0')),
            (b"MSH|", HeaderError::NoEncodingCharacters),
        ];
        for (input, expected) in cases {
            assert_eq!(
                read_header(input).as_ref().err(),
                Some(expected),
                "{input:?}"
            );
        }
    }

    #[test]
    fn missing_fields_are_none_not_errors() {
        let h = read_header(b"MSH|^~\\&").unwrap();
        assert_eq!(h.control_id, None);
        assert_eq!(h.message_type, None);
        assert_eq!(h.field(10), None);
        assert_eq!(h.field(0), None);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = read_header(&bytes);
        }

        #[test]
        fn never_panics_after_an_msh_prefix(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut payload = b"MSH".to_vec();
            payload.extend(tail);
            let _ = read_header(&payload);
        }

        #[test]
        fn reads_back_generated_fields(app in "[A-Za-z0-9]{0,12}", control in "[A-Za-z0-9]{1,20}",
                                      sep in prop::sample::select(vec![b'\r', b'\n'])) {
            let payload = format!("MSH|^~\\&|{app}|F|||20240101||ADT^A01|{control}|P|2.4{}PID|1", char::from(sep));
            let h = read_header(payload.as_bytes()).unwrap();
            prop_assert_eq!(h.sending_application, Some(app).filter(|a| !a.is_empty()));
            prop_assert_eq!(h.control_id, Some(control));
        }
    }
}
