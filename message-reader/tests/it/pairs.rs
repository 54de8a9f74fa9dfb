//! What EMAP's HL7 → interchange pairs are compared with: the corpus, messages as comparable
//! JSON (through the typed model, without `sourceMessageId`, as EMAP's tests ignore it) and the
//! fields in which two differ.

use std::path::{Path, PathBuf};

use interchange::Message;
use serde_json::Value;

/// EMAP's corpus, as copied into `testdata/`.
pub fn emap() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/UCLH-DHCT__emap")
}

/// The message as comparable JSON: through the typed model, without `sourceMessageId`.
pub fn comparable(message: &Message) -> Value {
    let mut value = serde_json::to_value(message).unwrap();
    if let Some(object) = value.as_object_mut() {
        object.remove("sourceMessageId");
    }
    value
}

/// The top-level fields in which two messages differ.
pub fn differences(expected: &Value, actual: &Value) -> Vec<String> {
    let (Some(e), Some(a)) = (expected.as_object(), actual.as_object()) else {
        return vec![format!("{expected} vs {actual}")];
    };
    let mut keys: Vec<&String> = e.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| e.get(*k) != a.get(*k))
        .map(|k| format!("{k}: expected {:?}, got {:?}", e.get(k), a.get(k)))
        .collect()
}
