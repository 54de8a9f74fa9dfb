//! Starts a listener for one test and talks MLLP to it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use ids_listener::codec::{Inbound, MllpCodec};
use ids_listener::{Config, Metrics, Resources, StoreConfig};
use sqlx::PgPool;
use testkit::TestDb;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

/// A configuration with short timeouts, so tests of them are quick.
pub fn test_config() -> Config {
    Config {
        frame_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_secs(30),
        store: StoreConfig {
            max_batch: 128,
            retry_for: Duration::from_secs(20),
        },
        ..Config::default()
    }
}

pub struct TestListener {
    pub db: TestDb,
    pub addr: SocketAddr,
    pub tls_addr: Option<SocketAddr>,
    pub http_addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub struct Options {
    pub config: Config,
    /// The pool the listener uses (e.g. through a proxy); the test database's own by default.
    pub pool: Option<PgPool>,
    pub tls: Option<TlsAcceptor>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: test_config(),
            pool: None,
            tls: None,
        }
    }
}

impl TestListener {
    pub async fn start() -> TestListener {
        TestListener::start_with(TestDb::migrated().await, Options::default()).await
    }

    pub async fn start_with(db: TestDb, options: Options) -> TestListener {
        let mllp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = mllp.local_addr().unwrap();
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_addr = http.local_addr().unwrap();
        let (tls, tls_addr) = match options.tls {
            Some(acceptor) => {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let tls_addr = listener.local_addr().unwrap();
                (Some((listener, acceptor)), Some(tls_addr))
            }
            None => (None, None),
        };
        let metrics = Arc::new(Metrics::default());
        let shutdown = CancellationToken::new();
        let resources = Resources {
            pool: options.pool.unwrap_or_else(|| db.pool.clone()),
            mllp: Some(mllp),
            tls,
            http: Some(http),
            metrics: Arc::clone(&metrics),
        };
        let task = tokio::spawn(ids_listener::run(
            options.config,
            resources,
            shutdown.clone(),
        ));
        TestListener {
            db,
            addr,
            tls_addr,
            http_addr,
            metrics,
            shutdown,
            task: Some(task),
        }
    }

    pub async fn client(&self) -> Client<TcpStream> {
        Client::new(TcpStream::connect(self.addr).await.unwrap())
    }

    /// Shuts the listener down and waits until it has stopped.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("listener stops within 30 s")
                .unwrap();
        }
    }

    pub async fn rows(&self) -> Vec<Row> {
        sqlx::query_as(
            "SELECT id, payload, control_id, duplicate_of, header_error, transport,
                    client_certificate_subject
             FROM ids.message ORDER BY id",
        )
        .fetch_all(&self.db.pool)
        .await
        .unwrap()
    }

    pub async fn http_get(&self, path: &str) -> String {
        use tokio::io::AsyncReadExt;
        let mut stream = TcpStream::connect(self.http_addr).await.unwrap();
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }
}

impl Drop for TestListener {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub payload: Vec<u8>,
    pub control_id: Option<String>,
    pub duplicate_of: Option<i64>,
    pub header_error: Option<String>,
    pub transport: String,
    pub client_certificate_subject: Option<String>,
}

/// An MLLP sender.
pub struct Client<S> {
    framed: Framed<S, MllpCodec>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(stream: S) -> Client<S> {
        Client {
            framed: Framed::new(stream, MllpCodec::new(1 << 20)),
        }
    }

    /// Sends one framed message and returns its ACK.
    pub async fn send(&mut self, payload: &[u8]) -> Ack {
        self.framed
            .send(Bytes::copy_from_slice(payload))
            .await
            .unwrap();
        self.recv().await.expect("an ACK")
    }

    /// Writes raw bytes (framing included) as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.framed.get_mut().write_all(bytes).await.unwrap();
        self.framed.get_mut().flush().await.unwrap();
    }

    /// The next ACK, or `None` if the connection closed or nothing came within 5 s.
    pub async fn recv(&mut self) -> Option<Ack> {
        self.recv_within(Duration::from_secs(5)).await
    }

    pub async fn recv_within(&mut self, wait: Duration) -> Option<Ack> {
        match tokio::time::timeout(wait, self.framed.next()).await {
            Ok(Some(Ok(Inbound::Frame(bytes)))) => Some(Ack::parse(&bytes)),
            _ => None,
        }
    }

    /// Whether the listener has closed the connection (reads EOF or an error within 5 s).
    pub async fn closed_by_listener(&mut self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.framed.next()).await,
            Ok(None) | Ok(Some(Err(_)))
        )
    }
}

/// An ACK split into segments and fields.
#[derive(Debug, Clone)]
pub struct Ack {
    pub text: String,
}

impl Ack {
    fn parse(bytes: &[u8]) -> Ack {
        Ack {
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    /// Field `n` of the first segment named `segment` (MSH numbered as HL7 does).
    pub fn field(&self, segment: &str, n: usize) -> String {
        let line = self
            .text
            .split('\r')
            .find(|s| s.starts_with(segment))
            .unwrap_or_else(|| panic!("no {segment} in {:?}", self.text));
        let sep = line.as_bytes()[3] as char;
        let index = if segment == "MSH" { n - 1 } else { n };
        line.split(sep).nth(index).unwrap_or("").to_owned()
    }

    pub fn code(&self) -> String {
        self.field("MSA", 1)
    }

    pub fn acked_control_id(&self) -> String {
        self.field("MSA", 2)
    }
}

/// A small ADT message with the given control id and version.
pub fn adt(control_id: &str, version: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|EPIC|UCLH|WARD|UCLH|20240102030405||ADT^A01^ADT_A01|{control_id}|P|{version}\r\
         EVN|A01|20240102030405\r\
         PID|1||40800000^^^UCLH^MRN||TEST^PATIENT||19800101|M\r\
         PV1|1|I|T42^B1^01^UCLH||||||||||||||||1234567890\r"
    )
    .into_bytes()
}
