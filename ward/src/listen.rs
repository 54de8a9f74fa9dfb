//! `ward listen`: flags for the ids-listener, and the glue that binds its ports and runs it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::Stage;
use anyhow::Context;
use ids_listener::{AckPolicy, Config, Metrics, Resources, StoreConfig, tls::TlsFiles};
use tokio::net::TcpListener;

/// Flags of `ward listen`.
#[derive(Debug, clap::Args)]
pub struct ListenArgs {
    /// PostgreSQL URL of Ward's database, as the listener's login (its password from `~/.pgpass` or
    /// `PGPASSWORD` when the URL has none). It checks the schemas are current; `ward migrate`
    /// changes them.
    #[arg(
        long,
        env = "WARD_LISTENER_DATABASE_URL",
        default_value = "postgres://ward_listener@127.0.0.1:5432/ward",
        hide_env_values = true
    )]
    database_url: String,

    #[command(flatten)]
    ports: MllpArgs,

    /// Address serving Prometheus metrics at /metrics and a health check at /health.
    #[arg(long, env = "WARD_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    metrics_addr: SocketAddr,

    /// Largest message accepted, in bytes; larger frames are answered AR/CR and not stored.
    #[arg(long, env = "WARD_MAX_FRAME_BYTES", default_value_t = 16 * 1024 * 1024)]
    max_frame_bytes: usize,

    /// Connections served at once.
    #[arg(long, env = "WARD_MAX_CONNECTIONS", default_value_t = 256)]
    max_connections: usize,

    /// Close a connection after this long without traffic.
    #[arg(long, env = "WARD_IDLE_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,

    /// Close a connection whose started frame has not finished within this long.
    #[arg(long, env = "WARD_FRAME_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    frame_timeout: Duration,

    /// `as-requested` follows MSH-15/16 (commit ACKs in enhanced mode); `always-original`
    /// answers AA/AR to every message, for senders that cannot handle CA.
    #[arg(long, env = "WARD_ACK_POLICY", default_value = "as-requested")]
    ack_policy: AckPolicyArg,

    /// The site's time zone (IANA name): HL7 times without an offset are local time here.
    #[arg(long, env = "WARD_TIME_ZONE", default_value = "Europe/London")]
    time_zone: chrono_tz::Tz,

    /// Most messages committed in one IDS transaction.
    #[arg(long, env = "WARD_MAX_BATCH", default_value_t = 512)]
    max_batch: usize,

    /// How long to keep retrying while the IDS is unavailable before closing connections
    /// without ACK (senders then resend).
    #[arg(long, env = "WARD_STORE_RETRY_FOR", default_value = "60s", value_parser = humantime::parse_duration)]
    store_retry_for: Duration,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AckPolicyArg {
    AsRequested,
    AlwaysOriginal,
}

/// Where the listener takes MLLP: a plain port, a TLS port, or both (shared by `ward listen`
/// and `ward up`).
#[derive(Debug, clap::Args)]
pub struct MllpArgs {
    /// Address of the plain MLLP port, or `none` to take MLLP over TLS only.
    #[arg(long, env = "WARD_MLLP_ADDR", default_value = "127.0.0.1:2575")]
    mllp_addr: Port,

    /// Address of the MLLP-over-TLS port (needs --tls-cert and --tls-key).
    #[arg(long, env = "WARD_TLS_ADDR", requires_all = ["tls_cert", "tls_key"])]
    tls_addr: Option<SocketAddr>,

    /// PEM certificate chain for the TLS port.
    #[arg(long, env = "WARD_TLS_CERT")]
    tls_cert: Option<PathBuf>,

    /// PEM private key for the TLS port.
    #[arg(long, env = "WARD_TLS_KEY")]
    tls_key: Option<PathBuf>,

    /// PEM CA certificates; when given, TLS clients must present a certificate signed by one
    /// (its subject is stored with each message).
    #[arg(long, env = "WARD_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
}

/// A port to bind, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(Option<SocketAddr>);

impl std::str::FromStr for Port {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Port, Self::Err> {
        match s {
            "none" => Ok(Port(None)),
            addr => addr.parse().map(|a| Port(Some(a))),
        }
    }
}

/// The bound MLLP ports: plain, and TLS with its acceptor.
pub type Bound = (
    Option<TcpListener>,
    Option<(TcpListener, ids_listener::tls::TlsAcceptor)>,
);

impl MllpArgs {
    /// Binds the ports asked for; neither is a configuration error.
    pub async fn bind(&self) -> anyhow::Result<Bound> {
        let tls = match self.tls_addr {
            None => None,
            Some(addr) => {
                let (Some(cert), Some(key)) = (self.tls_cert.clone(), self.tls_key.clone()) else {
                    anyhow::bail!("--tls-addr needs --tls-cert and --tls-key");
                };
                let acceptor = ids_listener::tls::acceptor(&TlsFiles {
                    cert,
                    key,
                    client_ca: self.tls_client_ca.clone(),
                })
                .context("Failed to load the TLS certificate and key")?;
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("Failed to bind the TLS port {addr}"))?;
                Some((listener, acceptor))
            }
        };
        let plain = match self.mllp_addr.0 {
            None if tls.is_none() => {
                anyhow::bail!(
                    "--mllp-addr none needs --tls-addr: there would be no port to listen on"
                )
            }
            None => None,
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("Failed to bind the MLLP port {addr}"))?,
            ),
        };
        Ok((plain, tls))
    }
}

/// Runs the listener until Ctrl-C or SIGTERM.
pub async fn listen(args: ListenArgs) -> anyhow::Result<()> {
    let shutdown = crate::shutdown_on_signal();
    let (mllp, tls) = args.ports.bind().await?;
    let live = schema::StarSchema::live();
    let pool = crate::connect_stage(&args.database_url, Stage::Listener, &live, 8).await?;
    let http = TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("Failed to bind the metrics port {}", args.metrics_addr))?;
    let config = Config {
        max_frame_bytes: args.max_frame_bytes,
        max_connections: args.max_connections,
        idle_timeout: args.idle_timeout,
        frame_timeout: args.frame_timeout,
        ack_policy: match args.ack_policy {
            AckPolicyArg::AsRequested => AckPolicy::AsRequested,
            AckPolicyArg::AlwaysOriginal => AckPolicy::AlwaysOriginal,
        },
        time_zone: args.time_zone,
        store: StoreConfig {
            max_batch: args.max_batch,
            retry_for: args.store_retry_for,
        },
    };
    let resources = Resources {
        pool,
        mllp,
        tls,
        http: Some(http),
        metrics: Arc::new(Metrics::default()),
    };
    ids_listener::run(config, resources, shutdown).await;
    Ok(())
}
