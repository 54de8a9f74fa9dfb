//! Small pieces of EMAP's JSON conventions shared by the message types.
//!
//! Embedded objects carry their own `@class` in EMAP's JSON (Jackson writes type information on
//! them), so each embedded type has a zero-sized tag field that writes its Java class name and
//! checks it on read. Source message ids are strings, but Jackson also accepts numbers for them,
//! so we do too. Binary values are base64 text in Jackson's JSON; lists of byte values (as in
//! EMAP's YAML fixtures) are accepted on read.

use base64::Engine as _;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serializer};

/// Declares a zero-sized `@class` tag for an embedded EMAP type.
macro_rules! class_tag {
    ($(#[$doc:meta])* $tag:ident = $class:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $tag;

        impl $tag {
            /// The Java class name this tag stands for.
            pub const CLASS: &'static str = $class;
        }

        impl serde::Serialize for $tag {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(Self::CLASS)
            }
        }

        impl<'de> serde::Deserialize<'de> for $tag {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                if name == Self::CLASS {
                    Ok($tag)
                } else {
                    Err(serde::de::Error::custom(format!(
                        "expected @class {}, found {name}",
                        Self::CLASS
                    )))
                }
            }
        }

        impl schemars::JsonSchema for $tag {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($tag).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "const": $class })
            }
        }
    };
}
pub(crate) use class_tag;

/// Reads an optional id written as a string or as a number.
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Signed(i64),
        Float(f64),
    }
    Ok(match Option::<Id>::deserialize(deserializer)? {
        None => None,
        Some(Id::Text(text)) => Some(text),
        Some(Id::Signed(n)) => Some(n.to_string()),
        Some(Id::Float(n)) => Some(n.to_string()),
    })
}

/// Bytes as Jackson writes them (base64 text); reads base64 text or a list of byte values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Binary(pub Vec<u8>);

impl serde::Serialize for Binary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Text(String),
            Values(Vec<i16>),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Text(text) => base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map(Binary)
                .map_err(|e| de::Error::custom(format!("invalid base64: {e}"))),
            // Java bytes are signed: -128..=127 as well as 0..=255 are accepted.
            Wire::Values(values) => values
                .into_iter()
                .map(|v| match v {
                    -128..=-1 => Ok((v + 256) as u8),
                    0..=255 => Ok(v as u8),
                    _ => Err(de::Error::custom(format!("{v} is not a byte value"))),
                })
                .collect::<Result<Vec<u8>, _>>()
                .map(Binary),
        }
    }
}

impl schemars::JsonSchema for Binary {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Binary".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "contentEncoding": "base64" })
    }
}

/// Declares a record type with EMAP's conventions: camelCase names, every field optional on
/// read (missing means default), and each field written only when it says something (a field
/// with `= "predicate"` is skipped when the predicate holds).
macro_rules! record {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty $(= $skip:literal)?),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(default, rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fdoc])*
                $(#[serde(skip_serializing_if = $skip)])?
                pub $field: $ty,
            )*
        }
    };
}
pub(crate) use record;
