//! Servers of a test's own, for what the shared ones cannot show without being reconfigured:
//! PostgreSQL and RabbitMQ that speak only TLS, with a certificate from a CA made for the test.
//! Each runs from Debian's binaries on a free port, with its files in a temporary directory,
//! and is stopped (its whole process group) and removed when dropped.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A CA made for one test, and a server certificate it signed for `localhost` and 127.0.0.1.
pub struct TestCa {
    /// The CA certificate (PEM): what a client trusts.
    pub ca_pem: String,
    /// The server's certificate (PEM).
    pub server_cert_pem: String,
    /// The server's private key (PEM).
    pub server_key_pem: String,
}

impl TestCa {
    /// A new CA and server certificate.
    pub fn new() -> TestCa {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Ward test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");
        let server_key = rcgen::KeyPair::generate().expect("server key");
        let mut server_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server certificate parameters");
        server_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let server = server_params
            .signed_by(&server_key, &ca)
            .expect("server certificate");
        TestCa {
            ca_pem: ca.pem(),
            server_cert_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }

    /// Another CA's certificate, which a client must refuse the server's certificate against.
    pub fn stranger_pem() -> String {
        TestCa::new().ca_pem
    }
}

impl Default for TestCa {
    fn default() -> TestCa {
        TestCa::new()
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A process group and a directory, both gone when this is dropped.
struct Owned {
    child: Child,
    dir: PathBuf,
}

impl Drop for Owned {
    fn drop(&mut self) {
        // Throwaway servers: killed outright, with every process they started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(crate::unique_name(prefix));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let said = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} did not start on port {port}:\n{said}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `program` as the `postgres` OS user when the test runs as root (PostgreSQL refuses to
/// run as root), else as the test's own user.
fn as_postgres(program: &Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false);
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn postgres_bin() -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's binaries under /usr/lib/postgresql (scripts/setup installs them)");
    let newest = versions
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .expect("a PostgreSQL version under /usr/lib/postgresql");
    PathBuf::from(format!("/usr/lib/postgresql/{newest}/bin"))
}

/// A PostgreSQL server that accepts only TLS connections (`hostssl`, trust), with the user
/// `ward` a superuser and a database `ward`.
pub struct TlsPostgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    _server: Owned,
}

impl TlsPostgres {
    /// Starts one with `ca`'s server certificate.
    pub fn start(ca: &TestCa) -> TlsPostgres {
        let dir = temp_dir("ward-tls-pg");
        let data = dir.join("data");
        let (cert, key, log) = (
            dir.join("server.crt"),
            dir.join("server.key"),
            dir.join("log"),
        );
        std::fs::write(&cert, &ca.server_cert_pem).expect("write certificate");
        std::fs::write(&key, &ca.server_key_pem).expect("write key");
        let owner = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status();
        let _ = owner; // needed only as root; as another user the files are already its own
        let _ = Command::new("chmod").arg("600").arg(&key).status();
        let bin = postgres_bin();
        let initdb = as_postgres(&bin.join("initdb"))
            .args(["-N", "-A", "trust", "-U", "ward", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run initdb");
        assert!(initdb.success(), "initdb of a private server");
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .expect("pg_hba.conf");
        let port = free_port();
        let log_file = std::fs::File::create(&log).expect("log file");
        let err_file = log_file.try_clone().expect("log file");
        let child = as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "ssl=on",
                "-c",
                "fsync=off",
            ])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", cert.display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", key.display()))
            .stdout(log_file)
            .stderr(err_file)
            .process_group(0)
            .spawn()
            .expect("start a private PostgreSQL");
        let server = Owned { child, dir };
        wait_for_port(port, "PostgreSQL", &log);
        let created = Command::new("psql")
            .args(["-X", "-q", "-h"])
            .arg(&server.dir)
            .args(["-p", &port.to_string(), "-U", "ward", "-d", "postgres"])
            .args(["-c", "CREATE DATABASE ward"])
            .stdout(Stdio::null())
            .status()
            .expect("run psql");
        assert!(created.success(), "create the private server's database");
        TlsPostgres {
            port,
            _server: server,
        }
    }
}

/// A RabbitMQ node that listens only for AMQP over TLS, with `guest` allowed from loopback.
pub struct TlsRabbit {
    /// Its TLS port on 127.0.0.1.
    pub port: u16,
    _server: Owned,
}

impl TlsRabbit {
    /// Starts one with `ca`'s server certificate (it takes a few seconds, as RabbitMQ does).
    pub fn start(ca: &TestCa) -> TlsRabbit {
        let dir = temp_dir("ward-tls-rabbit");
        let (cert, key, ca_file) = (
            dir.join("server.crt"),
            dir.join("server.key"),
            dir.join("ca.pem"),
        );
        std::fs::write(&cert, &ca.server_cert_pem).expect("write certificate");
        std::fs::write(&key, &ca.server_key_pem).expect("write key");
        std::fs::write(&ca_file, &ca.ca_pem).expect("write CA");
        let (port, dist_port) = (free_port(), free_port());
        let config = dir.join("rabbitmq.conf");
        std::fs::write(
            &config,
            format!(
                "listeners.tcp = none\n\
                 listeners.ssl.default = 127.0.0.1:{port}\n\
                 ssl_options.cacertfile = {}\n\
                 ssl_options.certfile = {}\n\
                 ssl_options.keyfile = {}\n\
                 ssl_options.verify = verify_none\n\
                 ssl_options.fail_if_no_peer_cert = false\n\
                 loopback_users = none\n",
                ca_file.display(),
                cert.display(),
                key.display()
            ),
        )
        .expect("rabbitmq.conf");
        std::fs::write(dir.join("enabled_plugins"), "[].\n").expect("enabled_plugins");
        let log = dir.join("out");
        let log_file = std::fs::File::create(&log).expect("log file");
        let err_file = log_file.try_clone().expect("log file");
        let node = format!("ward-{}@localhost", port);
        let child = Command::new("/usr/lib/rabbitmq/bin/rabbitmq-server")
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_CONFIG_FILE", &config)
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", dir.join("pid"))
            .stdout(log_file)
            .stderr(err_file)
            .process_group(0)
            .spawn()
            .expect("start a private RabbitMQ (scripts/setup installs rabbitmq-server)");
        let server = Owned { child, dir };
        wait_for_port(port, "RabbitMQ", &log);
        // The port opens before the broker takes connections on a busy machine: wait for an
        // AMQP handshake over TLS too.
        let (url, ca_pem, log_path) = (
            format!("amqps://guest:guest@localhost:{port}/%2f"),
            ca.ca_pem.clone(),
            log.clone(),
        );
        // On a thread of its own: the caller may be inside a runtime already.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let deadline = Instant::now() + Duration::from_secs(90);
            while !runtime.block_on(amqp_handshake(&url, &ca_pem)) {
                if Instant::now() > deadline {
                    let said = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!("RabbitMQ did not take AMQP connections on port {port}:\n{said}");
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
        .join()
        .expect("RabbitMQ ready");
        TlsRabbit {
            port,
            _server: server,
        }
    }
}

async fn amqp_handshake(url: &str, ca_pem: &str) -> bool {
    let tls = lapin::tcp::OwnedTLSConfig {
        identity: None,
        cert_chain: Some(ca_pem.to_owned()),
    };
    let Ok(runtime) = lapin::runtime::default_runtime() else {
        return false;
    };
    match lapin::Connection::connect_with_config(url, Default::default(), tls, runtime).await {
        Ok(connection) => {
            let _ = connection.close(200, "ready".into()).await;
            true
        }
        Err(_) => false,
    }
}
