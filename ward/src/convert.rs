//! `ward convert`: what each HL7 message in some files maps to, with no database or broker.
//!
//! Integration engineers check a feed's mapping before go-live with it. Each interchange message
//! is printed as one JSON line on stdout; each ignored or rejected message as one line on stderr
//! naming the file and the message's position. The exit code is 1 when any message was rejected.

use std::path::PathBuf;

use anyhow::Context;
use message_reader::{Mapped, map_message};

use crate::site::SiteArgs;

/// Flags of `ward convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// Files of HL7 messages: CR, LF or CRLF segment ends, several messages per file, MLLP
    /// framing or none.
    #[arg(required = true)]
    files: Vec<PathBuf>,

    #[command(flatten)]
    site: SiteArgs,
}

/// Converts every message in the files; `Ok(false)` when any was rejected.
pub fn convert(args: ConvertArgs) -> anyhow::Result<bool> {
    let site = args.site.site_config()?;
    let mut all_mapped = true;
    for file in &args.files {
        let bytes =
            std::fs::read(file).with_context(|| format!("Failed to read {}", file.display()))?;
        let messages = hl7::split_messages(&bytes);
        if messages.is_empty() {
            eprintln!("{}: no HL7 message found", file.display());
            all_mapped = false;
        }
        for (n, message) in messages.into_iter().enumerate() {
            let at = format!("{}#{}", file.display(), n + 1);
            match map_message(message, &(n + 1).to_string(), &site) {
                Ok(Mapped::Messages(list)) => {
                    for interchange in list {
                        println!("{}", String::from_utf8_lossy(&interchange.to_json()));
                    }
                }
                Ok(Mapped::Ignored(ignored)) => {
                    eprintln!("{at}: ignored ({}): {}", ignored.kind, ignored.reason)
                }
                Err(error) => {
                    eprintln!("{at}: rejected: {error}");
                    all_mapped = false;
                }
            }
        }
    }
    Ok(all_mapped)
}
