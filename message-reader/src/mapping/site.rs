//! Site conventions the mapping depends on: configuration, never constants.
//!
//! Which senders are trusted for ADT (EMAP hard-codes `EPIC`), the site's time zone (HL7 times
//! without an offset are local time there), how ethnic group codes read (the NHS data
//! dictionary's ethnic categories plus Epic's extra codes by default), and per-sender charset
//! overrides for senders whose MSH-18 is wrong, how each lab system names itself in its
//! orders and results, and which facilities send flowsheet rows, consultation requests and
//! advance decisions.

use std::collections::HashMap;

use chrono_tz::Tz;
use encoding_rs::Encoding;

const DEFAULT_ETHNIC_GROUPS: &str = include_str!("ethnic_group.csv");

/// The site profile the mapping uses.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// Zone of HL7 times that carry no offset.
    pub time_zone: Tz,
    /// MSH-3 values whose ADT messages are believed; ADT from others is ignored.
    pub trusted_adt_senders: Vec<String>,
    /// Ethnic group code (PID-22.1) → name; unknown codes pass through unchanged.
    pub ethnic_groups: HashMap<String, String>,
    /// Sending application (MSH-3) → charset to decode with, overriding its MSH-18.
    pub charset_overrides: HashMap<String, &'static Encoding>,
    /// Battery coding systems (OBR-4.3) of WinPath orders and results, as the lab sends them.
    pub winpath_coding_systems: Vec<String>,
    /// Filler namespaces (OBR-3.2) or battery coding systems (OBR-4.3) of CoPath orders and
    /// results.
    pub copath_codes: Vec<String>,
    /// The battery every CoPath order is stored under (CoPath renames batteries as an order
    /// goes; a request has one specimen number).
    pub copath_battery: String,
    /// Battery coding systems (OBR-4.3) of imaging reports.
    pub imaging_coding_systems: Vec<String>,
    /// OBR-4.4 values of Bank Manager (blood bank) orders and results.
    pub bank_manager_codes: Vec<String>,
    /// Sending applications (MSH-3) of BIO-CONNECT point-of-care results.
    pub bio_connect_senders: Vec<String>,
    /// Sending applications (MSH-3) of ABL90 FLEX blood gas results.
    pub abl90_senders: Vec<String>,
    /// Sending facilities (MSH-4) of flowsheet rows (vital signs), each OBX a row.
    pub flowsheet_facilities: Vec<String>,
    /// Sending facilities (MSH-4) of consultation requests (ORM^O01).
    pub consult_facilities: Vec<String>,
    /// Sending facilities (MSH-4) of advance decisions such as DNACPR (ORM^O01).
    pub advance_decision_facilities: Vec<String>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            time_zone: chrono_tz::Europe::London,
            trusted_adt_senders: vec!["EPIC".to_owned()],
            ethnic_groups: parse_code_table(DEFAULT_ETHNIC_GROUPS).unwrap_or_default(),
            charset_overrides: HashMap::new(),
            winpath_coding_systems: vec!["WinPath".to_owned()],
            copath_codes: vec!["CoPathPlus".to_owned(), "CPEAP".to_owned()],
            copath_battery: "UH".to_owned(),
            imaging_coding_systems: vec!["PACS".to_owned()],
            bank_manager_codes: vec!["Profiles".to_owned()],
            bio_connect_senders: vec!["BIO-CONNECT".to_owned()],
            abl90_senders: vec!["ABL90 FLEX Plus".to_owned()],
            flowsheet_facilities: vec!["Vitals".to_owned()],
            consult_facilities: vec!["Consult Orders".to_owned()],
            advance_decision_facilities: vec!["DNACPR".to_owned()],
        }
    }
}

/// Why a code table is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the code table is not `code,name`")]
pub struct CodeTableError {
    /// 1-based line number.
    pub line: usize,
}

/// Reads a two-column CSV (`code,name`, header line first; double quotes around values that
/// contain commas).
pub fn parse_code_table(csv: &str) -> Result<HashMap<String, String>, CodeTableError> {
    let mut table = HashMap::new();
    for (n, line) in csv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (code, name) = split_csv_pair(line).ok_or(CodeTableError { line: n + 1 })?;
        table.insert(code, name);
    }
    Ok(table)
}

fn split_csv_pair(line: &str) -> Option<(String, String)> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut current)),
            (c, _) => current.push(c),
        }
    }
    fields.push(current);
    match fields.as_slice() {
        [code, name] if !code.is_empty() => Some((code.clone(), name.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ethnic_groups_read() {
        let site = SiteConfig::default();
        assert_eq!(
            site.ethnic_groups.get("Z2").map(String::as_str),
            Some("Refused to Give")
        );
        assert_eq!(
            site.ethnic_groups.get("Not Hispanic").map(String::as_str),
            Some("Not Hispanic, Latino/a, or Spanish origin")
        );
        assert_eq!(site.ethnic_groups.len(), 29);
    }

    #[test]
    fn bad_tables_are_errors() {
        assert_eq!(
            parse_code_table("code,name\nA,B,C\n"),
            Err(CodeTableError { line: 2 })
        );
    }
}
