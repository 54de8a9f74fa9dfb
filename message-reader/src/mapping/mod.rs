//! HL7v2 → interchange: what each stored message means, or why it means nothing.
//!
//! [`map_message`] parses the exact bytes from the IDS and routes by MSH-9. The result is one of
//! three outcomes, never a panic: interchange messages to publish, a message ignored by design
//! (with the reason, counted per type), or an error (kept in the reader's error table). Each HL7
//! family maps in a module of its own, sharing the [`segments`] helpers: ADT messages per
//! trigger ([`adt`]); ORU^R01, ORM^O01 and ADT^A05 yield the ADT context their PID/PV1 segments
//! imply (`adt::implied`); lab orders and results map per lab system ([`labs`]); flowsheet
//! rows (vital signs) per OBX ([`flowsheets`]); problems (PPR), infections (A05 ZIF) and
//! allergies (A60 IAM) as conditions ([`conditions`]); consultation requests and advance
//! decisions ([`requests`]).

mod adt;
mod conditions;
mod flowsheets;
mod labs;
mod requests;
mod segments;
pub mod site;

use hl7::Message as Hl7;
use interchange::Message;

pub use site::SiteConfig;

/// What one HL7 message maps to.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// Interchange messages to publish, in order.
    Messages(Vec<Message>),
    /// Nothing to publish, by design; the reason is safe to log and store.
    Ignored(Ignored),
}

/// Why a message is ignored by design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// `TYPE^TRIGGER`, the key ignored messages are counted under.
    pub kind: String,
    /// Why.
    pub reason: String,
}

/// Why a message could not be mapped. Never quotes patient data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The bytes are not a readable HL7v2 message.
    #[error("unparseable HL7: {0}")]
    Parse(#[from] hl7::ParseError),
    /// A segment the message type requires is absent.
    #[error("required segment {0} is missing")]
    MissingSegment(&'static str),
    /// A field holds a value the mapping does not know.
    #[error("{field} has an unrecognised value")]
    UnknownValue {
        /// Which field, e.g. `PV1-2 patient class`.
        field: &'static str,
    },
    /// Two fields that must agree do not (R3: ORC-2 and OBR-2).
    #[error("inconsistent message: {0}")]
    Inconsistent(&'static str),
    /// A date/time field does not parse.
    #[error("{field} is not a valid HL7 date/time: {error}")]
    BadDateTime {
        /// Which field.
        field: &'static str,
        /// Why.
        error: hl7::DtmError,
    },
}

/// Maps the exact bytes of one stored message; `source_message_id` is its IDS id.
pub fn map_message(
    bytes: &[u8],
    source_message_id: &str,
    site: &SiteConfig,
) -> Result<Mapped, MapError> {
    let sender = hl7::read_header(bytes)
        .ok()
        .and_then(|h| h.sending_application)
        .unwrap_or_default();
    let charset = site.charset_overrides.get(&sender).copied();
    let hl7 = Hl7::parse(bytes, charset)?;
    let msh = hl7.segment("MSH").ok_or(MapError::MissingSegment("MSH"))?;
    let message_type = msh.value(9, 1, 1).unwrap_or_default();
    let trigger = msh.value(9, 1, 2).unwrap_or_default();
    let kind = format!("{message_type}^{trigger}");
    let context = segments::Context {
        hl7: &hl7,
        source_message_id,
        site,
    };
    let ignored = |reason: &str| {
        Ok(Mapped::Ignored(Ignored {
            kind: kind.clone(),
            reason: reason.to_owned(),
        }))
    };
    match (message_type.as_str(), trigger.as_str()) {
        ("ADT", "A05") => infections(&context, &kind),
        ("ADT", "A60") if !trusted(&context) => {
            ignored("ADT from a sender not in the trusted ADT senders")
        }
        ("ADT", "A60") => match conditions::allergies(&context)? {
            allergies if allergies.is_empty() => ignored("an allergy message without IAM"),
            allergies => Ok(Mapped::Messages(allergies)),
        },
        ("PPR", "PC1" | "PC2" | "PC3") => match conditions::problems(&context)? {
            problems if problems.is_empty() => ignored("a problem message without PRB"),
            problems => Ok(Mapped::Messages(problems)),
        },
        ("ADT", _) => adt::map_adt(&context, &trigger, &kind),
        ("ORU", "R01") if flowsheets::is_flowsheet(&context) => flowsheet(&context, &kind),
        ("ORM", "O01") if requests::kind(&context).is_some() => request(&context, &kind),
        ("ORU", "R01" | "R30") | ("ORM", "O01") | ("ORR", "O02") => {
            lab(&context, &message_type, &kind, trigger != "O02")
        }
        ("ORU" | "ORM" | "ORR" | "PPR", _) => {
            ignored("orders and results of this kind are not mapped yet (planned)")
        }
        _ => ignored("message type not handled by Ward"),
    }
}

/// A lab message: its implied ADT context first (not for an ORR, which has none), then its
/// orders. A lab system not configured yet still yields the implied ADT. An order that cannot
/// be read fails the whole message, its implied ADT too (as EMAP: all or nothing per message).
fn lab(
    context: &segments::Context<'_>,
    message_type: &str,
    kind: &str,
    with_context: bool,
) -> Result<Mapped, MapError> {
    let ignored = |reason: &str| {
        Ok(Mapped::Ignored(Ignored {
            kind: kind.to_owned(),
            reason: reason.to_owned(),
        }))
    };
    let orders = match labs::orders(context, message_type)? {
        labs::Outcome::Orders(orders) => orders,
        labs::Outcome::Ignored(why) => return ignored(why),
        labs::Outcome::NotConfigured => {
            return match with_context {
                true => implied(context, kind),
                false => ignored("lab system not mapped yet (planned)"),
            };
        }
    };
    let mut messages = match with_context {
        true => match implied(context, kind)? {
            Mapped::Messages(messages) => messages,
            Mapped::Ignored(_) => Vec::new(),
        },
        false => Vec::new(),
    };
    messages.extend(orders);
    if messages.is_empty() {
        return ignored("no order with an order control Ward maps");
    }
    Ok(Mapped::Messages(messages))
}

/// Whether the message's sender is a trusted ADT sender (R1).
fn trusted(context: &segments::Context<'_>) -> bool {
    let sender = segments::text(context.hl7.segment("MSH"), 3, 1, 1).unwrap_or_default();
    context.site.trusted_adt_senders.contains(&sender)
}

/// An A05 (pre-admission): its implied ADT context, then an infection per ZIF repetition.
fn infections(context: &segments::Context<'_>, kind: &str) -> Result<Mapped, MapError> {
    let infections = conditions::infections(context)?;
    let mut messages = match implied(context, kind)? {
        Mapped::Messages(messages) => messages,
        ignored @ Mapped::Ignored(_) if infections.is_empty() => return Ok(ignored),
        Mapped::Ignored(_) => Vec::new(),
    };
    messages.extend(infections);
    Ok(Mapped::Messages(messages))
}

/// A consultation request or advance decision: its implied ADT context, then the request.
fn request(context: &segments::Context<'_>, kind: &str) -> Result<Mapped, MapError> {
    let Some(which) = requests::kind(context) else {
        return Ok(Mapped::Ignored(Ignored {
            kind: kind.to_owned(),
            reason: "not a request facility".to_owned(),
        }));
    };
    let request = requests::request(context, which)?;
    let mut messages = match implied(context, kind)? {
        Mapped::Messages(messages) => messages,
        Mapped::Ignored(_) => Vec::new(),
    };
    messages.push(request);
    Ok(Mapped::Messages(messages))
}

/// A flowsheet message: its implied ADT context (C8), then a row per OBX. The rows go even
/// when the implied ADT is refused (R2, as for labs).
fn flowsheet(context: &segments::Context<'_>, kind: &str) -> Result<Mapped, MapError> {
    let rows = flowsheets::flowsheets(context)?;
    if rows.is_empty() {
        return Ok(Mapped::Ignored(Ignored {
            kind: kind.to_owned(),
            reason: "a flowsheet message without a row holding a value or comment (F3, F4)"
                .to_owned(),
        }));
    }
    let mut messages = match implied(context, kind)? {
        Mapped::Messages(messages) => messages,
        Mapped::Ignored(_) => Vec::new(),
    };
    messages.extend(rows);
    Ok(Mapped::Messages(messages))
}

/// The ADT context a bystander PID/PV1 implies; dropped (not an error) when it cannot be built,
/// so that the rest of such a message is unaffected.
fn implied(context: &segments::Context<'_>, kind: &str) -> Result<Mapped, MapError> {
    match adt::implied(context) {
        Ok(Some(message)) => Ok(Mapped::Messages(vec![message])),
        Ok(None) => Ok(Mapped::Ignored(Ignored {
            kind: kind.to_owned(),
            reason: "no patient identifier to imply ADT context from".to_owned(),
        })),
        Err(error) => Ok(Mapped::Ignored(Ignored {
            kind: kind.to_owned(),
            reason: format!("implied ADT dropped: {error}"),
        })),
    }
}
