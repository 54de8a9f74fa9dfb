//! `Iv<T>`: what a source said about one field — nothing, "cleared", or a value.
//!
//! EMAP's `InterchangeValue` distinguishes three states that a plain `Option` cannot: the source
//! said nothing (leave the warehouse as it is), the source explicitly cleared the field (the HL7
//! null `""`; set it to null, optionally still carrying the old value so it can be identified),
//! and the source gave a value. The enum makes the unknown state carry no value at all, so
//! nothing can read a value that was never sent; [`Iv::apply_to`] is the one way the processor
//! turns a field into a column update.
//!
//! On the wire it is EMAP's object `{"@class": "…InterchangeValue", "status": "SAVE", "value": …}`.

use std::borrow::Cow;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

/// EMAP's Java class name of the wrapper, written on every value.
pub const INTERCHANGE_VALUE_CLASS: &str = "uk.ac.ucl.rits.inform.interchange.InterchangeValue";

/// A tri-state field value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Iv<T> {
    /// The source said nothing (EMAP `IGNORE`): leave what is stored untouched.
    #[default]
    Unknown,
    /// The source cleared the field (EMAP `DELETE`); the value, when present, identifies what
    /// was cleared (e.g. the order number of a cancelled order) and is not to be stored.
    Delete(Option<T>),
    /// The source gave this value (EMAP `SAVE`).
    Save(T),
}

impl<T> Iv<T> {
    /// A plain `DELETE` without a value.
    pub fn delete() -> Iv<T> {
        Iv::Delete(None)
    }

    /// Whether the source said nothing.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Iv::Unknown)
    }

    /// Whether the source cleared the field.
    pub fn is_delete(&self) -> bool {
        matches!(self, Iv::Delete(_))
    }

    /// Whether the source gave a value.
    pub fn is_save(&self) -> bool {
        matches!(self, Iv::Save(_))
    }

    /// `true` for a `DELETE` carrying no value (the default of `LabResultMsg.abnormalFlag`).
    pub fn is_plain_delete(&self) -> bool {
        matches!(self, Iv::Delete(None))
    }

    /// The value to store, given what is stored now: unknown keeps `current`, delete clears it,
    /// save replaces it.
    pub fn apply_to(self, current: Option<T>) -> Option<T> {
        match self {
            Iv::Unknown => current,
            Iv::Delete(_) => None,
            Iv::Save(value) => Some(value),
        }
    }

    /// The value the source gave, if it gave one (`None` for unknown and delete).
    pub fn saved(&self) -> Option<&T> {
        match self {
            Iv::Save(value) => Some(value),
            _ => None,
        }
    }

    /// Converts the carried value, keeping the state.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Iv<U> {
        match self {
            Iv::Unknown => Iv::Unknown,
            Iv::Delete(value) => Iv::Delete(value.map(f)),
            Iv::Save(value) => Iv::Save(f(value)),
        }
    }

    fn status(&self) -> Status {
        match self {
            Iv::Unknown => Status::Ignore,
            Iv::Delete(_) => Status::Delete,
            Iv::Save(_) => Status::Save,
        }
    }
}

impl Iv<String> {
    /// A text field as HL7 gives it: absent or empty is unknown, the HL7 null `""` is a delete,
    /// anything else is a value.
    pub fn from_hl7(value: Option<&str>) -> Iv<String> {
        match value {
            None | Some("") => Iv::Unknown,
            Some("\"\"") => Iv::delete(),
            Some(text) => Iv::Save(text.to_owned()),
        }
    }
}

/// EMAP's `ResultStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
enum Status {
    Ignore,
    Delete,
    Save,
}

impl<T: Serialize> Serialize for Iv<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("InterchangeValue", 3)?;
        out.serialize_field("@class", INTERCHANGE_VALUE_CLASS)?;
        out.serialize_field("status", &self.status())?;
        match self {
            Iv::Unknown | Iv::Delete(None) => out.serialize_field("value", &None::<T>)?,
            Iv::Delete(Some(value)) | Iv::Save(value) => out.serialize_field("value", value)?,
        }
        out.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Iv<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire<T> {
            status: Status,
            #[serde(default = "none")]
            value: Option<T>,
        }
        fn none<T>() -> Option<T> {
            None
        }
        // A JSON null stands for "nothing said", like an absent field.
        let Some(wire) = Option::<Wire<T>>::deserialize(deserializer)? else {
            return Ok(Iv::Unknown);
        };
        match (wire.status, wire.value) {
            (Status::Ignore, _) => Ok(Iv::Unknown),
            (Status::Delete, value) => Ok(Iv::Delete(value)),
            (Status::Save, Some(value)) => Ok(Iv::Save(value)),
            (Status::Save, None) => Err(de::Error::custom(
                "an InterchangeValue with status SAVE must have a value",
            )),
        }
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Iv<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("InterchangeValue_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let value = generator.subschema_for::<Option<T>>();
        schemars::json_schema!({
            "description": "EMAP InterchangeValue: IGNORE (source said nothing), DELETE (source cleared the field; value optional), SAVE (value required).",
            "type": "object",
            "properties": {
                "@class": { "const": INTERCHANGE_VALUE_CLASS },
                "status": { "enum": ["IGNORE", "DELETE", "SAVE"] },
                "value": value,
            },
            "required": ["status"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Iv<String>, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn each_state_reads_writes_and_applies() {
        let unknown = parse(r#"{"@class":"x","status":"IGNORE","value":null}"#).unwrap();
        assert_eq!(unknown, Iv::Unknown);
        assert_eq!(
            unknown.clone().apply_to(Some("old".into())),
            Some("old".into())
        );

        let delete = parse(r#"{"status":"DELETE"}"#).unwrap();
        assert_eq!(delete, Iv::Delete(None));
        assert_eq!(delete.apply_to(Some("old".into())), None);

        let delete_with_value = parse(r#"{"status":"DELETE","value":"10004000"}"#).unwrap();
        assert_eq!(delete_with_value, Iv::Delete(Some("10004000".into())));
        assert_eq!(
            delete_with_value.saved(),
            None,
            "a deleted value is not a value to store"
        );
        assert_eq!(delete_with_value.clone().apply_to(Some("old".into())), None);

        let save = parse(r#"{"status":"SAVE","value":"new"}"#).unwrap();
        assert_eq!(save.saved().map(String::as_str), Some("new"));
        assert_eq!(
            save.clone().apply_to(Some("old".into())),
            Some("new".into())
        );

        for value in [unknown, delete_with_value, save, Iv::delete()] {
            let json = serde_json::to_string(&value).unwrap();
            assert!(json.contains(INTERCHANGE_VALUE_CLASS));
            assert_eq!(parse(&json).unwrap(), value, "{json}");
        }
    }

    #[test]
    fn save_without_a_value_is_an_error() {
        let error = parse(r#"{"status":"SAVE"}"#).unwrap_err().to_string();
        assert!(error.contains("SAVE must have a value"), "{error}");
        assert!(parse(r#"{"status":"MAYBE"}"#).is_err());
    }

    #[test]
    fn null_means_nothing_said() {
        assert_eq!(parse("null").unwrap(), Iv::Unknown);
    }

    #[test]
    fn hl7_text_maps_to_states() {
        assert_eq!(Iv::from_hl7(None), Iv::Unknown);
        assert_eq!(Iv::from_hl7(Some("")), Iv::Unknown);
        assert_eq!(Iv::from_hl7(Some("\"\"")), Iv::delete());
        assert_eq!(Iv::from_hl7(Some("x")), Iv::Save("x".to_owned()));
    }
}
