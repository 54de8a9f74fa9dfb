//! A fresh world per integration test, against the real PostgreSQL and RabbitMQ.
//!
//! Each test asks for its own database ([`TestDb::migrated`]), created under a unique name,
//! migrated with Ward's real migrators and dropped again when the handle is dropped, and for
//! uniquely named queues ([`unique_name`]), so `cargo test` runs tests in parallel without one
//! seeing another's rows or messages. Databases a crashed run left behind are dropped by the
//! next run once they are an hour old. The server comes from `WARD_TEST_DATABASE_URL`, else
//! `WARD_DATABASE_URL`, else the local default that `scripts/setup` creates. Where a test needs a
//! server configured otherwise (TLS only), [`servers`] starts one of its own.
//!
//! This crate is only ever a dev-dependency; a failure to build the world is a failed test, so it
//! panics with a message saying what to run.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod mysql;
mod proxy;
pub mod servers;

pub use mysql::{DEFAULT_MYSQL_URL, TestMysql, mysql_server_url};
pub use proxy::Proxy;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};

/// The local server `scripts/setup` prepares.
pub const DEFAULT_DATABASE_URL: &str = "postgres://ward:ward@127.0.0.1:5432/ward";
/// The local broker `scripts/setup` prepares.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

const PREFIX: &str = "ward_test_";
const LEFTOVER_AGE_SECS: u64 = 3600;

/// The server tests create their databases on.
pub fn server_url() -> String {
    std::env::var("WARD_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("WARD_DATABASE_URL"))
        .unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// The broker tests declare their queues on.
pub fn amqp_url() -> String {
    std::env::var("WARD_TEST_AMQP_URL")
        .or_else(|_| std::env::var("WARD_AMQP_URL"))
        .unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

/// A name no other test (or run) uses, for queues, exchanges and the like.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

/// Runs `sql` as `role` (or as the test's own superuser when `None`) in a transaction that is
/// rolled back, and returns the SQLSTATE it failed with (`42501` for a refused privilege).
pub async fn sqlstate_as(pool: &PgPool, role: Option<&str>, sql: &str) -> Option<String> {
    let mut tx = pool.begin().await.expect("begin");
    if let Some(role) = role {
        tx.execute(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
            .await
            .expect("SET ROLE");
    }
    let result = tx.execute(sqlx::AssertSqlSafe(sql.to_owned())).await;
    tx.rollback().await.expect("rollback");
    match result {
        Ok(_) => None,
        Err(sqlx::Error::Database(e)) => e.code().map(|c| c.into_owned()),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Sends `tracing` output to the test's stderr when `TEST_LOG` is set; silent otherwise.
pub fn init_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "debug".into()),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

/// A private database for one test; dropped (with its connections) when this is dropped.
pub struct TestDb {
    /// A pool connected to the private database as the server's user.
    pub pool: PgPool,
    /// A URL of the private database, for code under test that connects by itself.
    pub url: String,
    name: String,
}

impl TestDb {
    /// A new empty database, without Ward's schemas.
    pub async fn empty() -> TestDb {
        init_logs();
        let server = server_url();
        let mut admin = PgConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {server}: {e}; run scripts/setup first")
        });
        drop_leftovers(&mut admin).await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let name = format!("{PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create test database");
        admin.close().await.ok();

        let options = PgConnectOptions::from_str(&server)
            .expect("valid database URL")
            .database(&name)
            .options([("search_path", schema::StarSchema::live().search_path())]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("connect to test database");
        let url = with_database(&server, &name);
        TestDb { pool, url, name }
    }

    /// A new database with every schema Ward owns, migrated by Ward's own migrators.
    pub async fn migrated() -> TestDb {
        let db = TestDb::empty().await;
        schema::migrate(&db.pool)
            .await
            .expect("migrate test database");
        db
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's address, e.g. to put a [`Proxy`] in front of it.
    pub fn server_addr(&self) -> SocketAddr {
        let options = PgConnectOptions::from_str(&server_url()).expect("valid database URL");
        let host = match options.get_host() {
            "localhost" => "127.0.0.1",
            host => host,
        };
        format!("{host}:{}", options.get_port())
            .parse()
            .expect("the test server is reached over TCP by IP address")
    }

    /// Connect options for this database as the login `role` (its password from `~/.pgpass`,
    /// where `scripts/setup` writes it), to test what a role sees when it really logs in.
    pub fn options_as(&self, role: &str) -> PgConnectOptions {
        let server = PgConnectOptions::from_str(&server_url()).expect("valid database URL");
        // Parsed from a URL without a password, so that `~/.pgpass` supplies the role's.
        let url = format!(
            "postgres://{role}@{}:{}/{}",
            server.get_host(),
            server.get_port(),
            self.name
        );
        PgConnectOptions::from_str(&url).expect("valid database URL")
    }

    /// Connect options for this database through another address (a [`Proxy`]).
    pub fn options_via(&self, addr: SocketAddr) -> PgConnectOptions {
        PgConnectOptions::from_str(&server_url())
            .expect("valid database URL")
            .host(&addr.ip().to_string())
            .port(addr.port())
            .database(&self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside or outside a runtime; a thread with its own runtime works in both.
        // The pool is not closed first: its connections belong to the test's runtime, which is
        // blocked here, so closing would wait forever. `WITH (FORCE)` ends them instead.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for dropping a test database");
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&server_url()).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[authority_end..]
        .find('/')
        .map(|i| authority_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn drop_leftovers(admin: &mut PgConnection) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'ward_test_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|c| c + LEFTOVER_AGE_SECS < now) {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://a:b@h:5432/ward?sslmode=disable", "x"),
            "postgres://a:b@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
