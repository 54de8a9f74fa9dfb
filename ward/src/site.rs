//! Flags for the site profile: the conventions of one hospital that the mapping depends on.

use anyhow::Context;
use message_reader::SiteConfig;
use message_reader::mapping::site::parse_code_table;

/// Site conventions, each a flag with an environment twin.
#[derive(Debug, clap::Args)]
pub struct SiteArgs {
    /// The site's time zone (IANA name): HL7 times without an offset are local time here.
    #[arg(long, env = "WARD_TIME_ZONE", default_value = "Europe/London")]
    time_zone: chrono_tz::Tz,

    /// Sending applications (MSH-3) whose ADT messages are trusted; ADT from others is ignored.
    #[arg(
        long,
        env = "WARD_TRUSTED_ADT_SENDERS",
        value_delimiter = ',',
        default_value = "EPIC"
    )]
    trusted_adt_senders: Vec<String>,

    /// A `code,name` CSV translating ethnic group codes (PID-22); the default is the NHS data
    /// dictionary's categories plus Epic's extra codes.
    #[arg(long, env = "WARD_ETHNIC_GROUPS")]
    ethnic_groups: Option<std::path::PathBuf>,

    /// `SENDER=CHARSET` pairs overriding MSH-18 for senders that declare it wrongly
    /// (e.g. `LEGACY=windows-1252`).
    #[arg(long, env = "WARD_CHARSET_OVERRIDES", value_delimiter = ',')]
    charset_overrides: Vec<String>,

    /// Battery coding systems (OBR-4.3) that mark an order or result as WinPath's.
    #[arg(
        long,
        env = "WARD_WINPATH_CODING_SYSTEMS",
        value_delimiter = ',',
        default_value = "WinPath"
    )]
    winpath_coding_systems: Vec<String>,

    /// Filler namespaces (OBR-3.2) or battery coding systems (OBR-4.3) that mark an order or
    /// result as CoPath's (histopathology).
    #[arg(
        long,
        env = "WARD_COPATH_CODES",
        value_delimiter = ',',
        default_value = "CoPathPlus,CPEAP"
    )]
    copath_codes: Vec<String>,

    /// The battery every CoPath order is stored under: CoPath renames an order's battery as it
    /// goes (Epic's UH, CoPath's H), but a request has one specimen number.
    #[arg(long, env = "WARD_COPATH_BATTERY", default_value = "UH")]
    copath_battery: String,

    /// Battery coding systems (OBR-4.3) that mark a result as an imaging report (PACS).
    #[arg(
        long,
        env = "WARD_IMAGING_CODING_SYSTEMS",
        value_delimiter = ',',
        default_value = "PACS"
    )]
    imaging_coding_systems: Vec<String>,

    /// OBR-4.4 values that mark an order or result as Bank Manager's (blood bank).
    #[arg(
        long,
        env = "WARD_BANK_MANAGER_CODES",
        value_delimiter = ',',
        default_value = "Profiles"
    )]
    bank_manager_codes: Vec<String>,

    /// Sending applications (MSH-3) of BIO-CONNECT point-of-care results.
    #[arg(
        long,
        env = "WARD_BIO_CONNECT_SENDERS",
        value_delimiter = ',',
        default_value = "BIO-CONNECT"
    )]
    bio_connect_senders: Vec<String>,

    /// Sending applications (MSH-3) of ABL90 FLEX blood gas results (ORU^R30).
    #[arg(
        long,
        env = "WARD_ABL90_SENDERS",
        value_delimiter = ',',
        default_value = "ABL90 FLEX Plus"
    )]
    abl90_senders: Vec<String>,

    /// Sending facilities (MSH-4) of flowsheet rows (vital signs): each OBX of their ORU^R01 is
    /// a row.
    #[arg(
        long,
        env = "WARD_FLOWSHEET_FACILITIES",
        value_delimiter = ',',
        default_value = "Vitals"
    )]
    flowsheet_facilities: Vec<String>,

    /// Sending facilities (MSH-4) of consultation requests (ORM^O01).
    #[arg(
        long,
        env = "WARD_CONSULT_FACILITIES",
        value_delimiter = ',',
        default_value = "Consult Orders"
    )]
    consult_facilities: Vec<String>,

    /// Sending facilities (MSH-4) of advance decisions such as DNACPR (ORM^O01); a facility
    /// also matches by its first sub-component.
    #[arg(
        long,
        env = "WARD_ADVANCE_DECISION_FACILITIES",
        value_delimiter = ',',
        default_value = "DNACPR"
    )]
    advance_decision_facilities: Vec<String>,
}

impl SiteArgs {
    /// The site profile these flags describe.
    pub fn site_config(&self) -> anyhow::Result<SiteConfig> {
        let mut site = SiteConfig {
            time_zone: self.time_zone,
            trusted_adt_senders: self.trusted_adt_senders.clone(),
            winpath_coding_systems: self.winpath_coding_systems.clone(),
            copath_codes: self.copath_codes.clone(),
            copath_battery: self.copath_battery.clone(),
            imaging_coding_systems: self.imaging_coding_systems.clone(),
            bank_manager_codes: self.bank_manager_codes.clone(),
            bio_connect_senders: self.bio_connect_senders.clone(),
            abl90_senders: self.abl90_senders.clone(),
            flowsheet_facilities: self.flowsheet_facilities.clone(),
            consult_facilities: self.consult_facilities.clone(),
            advance_decision_facilities: self.advance_decision_facilities.clone(),
            ..SiteConfig::default()
        };
        if let Some(path) = &self.ethnic_groups {
            let csv = std::fs::read_to_string(path)
                .with_context(|| format!("Failed to read {}", path.display()))?;
            site.ethnic_groups = parse_code_table(&csv)
                .with_context(|| format!("Invalid ethnic group table {}", path.display()))?;
        }
        for pair in &self.charset_overrides {
            let (sender, charset) = pair
                .split_once('=')
                .with_context(|| format!("--charset-overrides: `{pair}` is not SENDER=CHARSET"))?;
            let encoding = encoding_rs::Encoding::for_label(charset.as_bytes())
                .with_context(|| format!("--charset-overrides: unknown charset `{charset}`"))?;
            site.charset_overrides.insert(sender.to_owned(), encoding);
        }
        Ok(site)
    }
}
