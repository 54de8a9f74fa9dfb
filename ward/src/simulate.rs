//! `ward simulate`: flags for the synthetic hospital feed, and sending it or writing it out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDateTime;

/// Flags of `ward simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The seed: the same seed and flags give the same feed.
    #[arg(long, env = "WARD_SIM_SEED", default_value_t = 1)]
    seed: u64,

    /// Patients arriving during the period.
    #[arg(long, env = "WARD_SIM_PATIENTS", default_value_t = 200)]
    patients: usize,

    /// Start of the simulated period, site local time.
    #[arg(long, env = "WARD_SIM_START", default_value = "2026-11-30T00:00:00")]
    start: NaiveDateTime,

    /// Length of the simulated period in hours.
    #[arg(long, env = "WARD_SIM_HOURS", default_value_t = 24)]
    hours: u32,

    /// Fraction of messages delivered late.
    #[arg(long, env = "WARD_SIM_OUT_OF_ORDER", default_value_t = 0.02)]
    out_of_order: f64,

    /// Fraction of messages resent identically.
    #[arg(long, env = "WARD_SIM_DUPLICATES", default_value_t = 0.01)]
    duplicates: f64,

    /// Fraction of patients registered twice and merged.
    #[arg(long, env = "WARD_SIM_MERGES", default_value_t = 0.02)]
    merges: f64,

    /// Fraction of admissions, transfers and discharges cancelled and corrected.
    #[arg(long, env = "WARD_SIM_CANCELS", default_value_t = 0.03)]
    cancels: f64,

    /// Fraction of admissions with blood tests: WinPath orders, sample receipt and results
    /// (0 for an ADT-only feed).
    #[arg(long, env = "WARD_SIM_LABS", default_value_t = 0.5)]
    labs: f64,

    /// Fraction of admissions whose vital signs are charted on flowsheets every few hours
    /// (0 for none).
    #[arg(long, env = "WARD_SIM_VITALS", default_value_t = 0.5)]
    vitals: f64,

    /// Fraction of admissions with allergies, problems or infection flags recorded (0 for
    /// none).
    #[arg(long, env = "WARD_SIM_CONDITIONS", default_value_t = 0.5)]
    conditions: f64,

    /// Fraction of admissions with consultation requests or advance decisions (0 for none).
    #[arg(long, env = "WARD_SIM_REQUESTS", default_value_t = 0.5)]
    requests: f64,

    /// MSH-3 of the messages.
    #[arg(long, env = "WARD_SIM_SENDER", default_value = "EPIC")]
    sender: String,

    /// Where to send over MLLP.
    #[arg(long, env = "WARD_SIM_TO", default_value = "127.0.0.1:2575")]
    to: SocketAddr,

    /// MLLP connections, each waiting for every ACK.
    #[arg(long, env = "WARD_SIM_CONNECTIONS", default_value_t = 4)]
    connections: usize,

    /// Messages per second over all connections (default: as fast as ACKs return).
    #[arg(long, env = "WARD_SIM_RATE")]
    rate: Option<f64>,

    /// Write the feed to this file (MLLP-framed, as `ward convert` reads) instead of sending.
    #[arg(long)]
    file: Option<PathBuf>,
}

impl SimulateArgs {
    fn config(&self) -> anyhow::Result<simulator::Config> {
        for (name, rate) in [
            ("--out-of-order", self.out_of_order),
            ("--duplicates", self.duplicates),
            ("--merges", self.merges),
            ("--cancels", self.cancels),
            ("--labs", self.labs),
            ("--vitals", self.vitals),
            ("--conditions", self.conditions),
            ("--requests", self.requests),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                anyhow::bail!("{name} must be a fraction between 0 and 1, not {rate}");
            }
        }
        Ok(simulator::Config {
            seed: self.seed,
            patients: self.patients,
            start: self.start,
            hours: self.hours,
            out_of_order: self.out_of_order,
            duplicates: self.duplicates,
            merges: self.merges,
            cancels: self.cancels,
            sender: self.sender.clone(),
            labs: self.labs,
            vitals: self.vitals,
            conditions: self.conditions,
            requests: self.requests,
        })
    }
}

/// Generates the feed and sends it (or writes it); fails when any message was refused.
pub async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let feed = simulator::generate(&args.config()?);
    if let Some(path) = &args.file {
        let mut out = Vec::new();
        for message in &feed {
            out.push(0x0b);
            out.extend_from_slice(&message.bytes);
            out.extend_from_slice(&[0x1c, 0x0d]);
        }
        std::fs::write(path, out).with_context(|| format!("Failed to write {}", path.display()))?;
        println!(
            "{} messages for {} patients written to {}",
            feed.len(),
            args.patients,
            path.display()
        );
        return Ok(());
    }
    let started = Instant::now();
    let sent = simulator::send::send(args.to, &feed, args.connections, args.rate)
        .await
        .with_context(|| {
            format!(
                "Failed to send to {} (is `ward up` or `ward listen` running?)",
                args.to
            )
        })?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} messages for {} patients sent to {} in {seconds:.1} s ({:.0} msg/s): {} accepted, {} refused",
        feed.len(),
        args.patients,
        args.to,
        feed.len() as f64 / seconds.max(0.001),
        sent.accepted,
        sent.refused
    );
    if sent.refused > 0 {
        anyhow::bail!("{} messages were refused", sent.refused);
    }
    Ok(())
}
