//! A private MariaDB/MySQL database per test, for the table-reader's sources: created under a
//! unique name on the server `scripts/setup` prepares and dropped afterwards.

use sqlx::{Connection, Executor};

use crate::{PREFIX, init_logs};

/// The MariaDB/MySQL server tests create source databases on (`scripts/setup` makes the login).
pub fn mysql_server_url() -> String {
    std::env::var("WARD_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
}

/// The local MariaDB login `scripts/setup` prepares.
pub const DEFAULT_MYSQL_URL: &str = "mysql://ward:ward@127.0.0.1:3306";

/// A private MariaDB/MySQL database for one test (a table-reader source); dropped when this is.
pub struct TestMysql {
    /// A pool connected to it.
    pub pool: sqlx::MySqlPool,
    /// Its URL.
    pub url: String,
    name: String,
}

impl TestMysql {
    /// A new empty database.
    pub async fn new() -> TestMysql {
        init_logs();
        let server = mysql_server_url();
        let name = format!("{PREFIX}{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::MySqlConnection::connect(&server)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach MariaDB at {server}: {e}; run scripts/setup first")
            });
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = format!("{server}/{name}");
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("connect to the test database");
        TestMysql { pool, url, name }
    }
}

impl Drop for TestMysql {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for dropping a test database");
            runtime.block_on(async move {
                if let Ok(mut admin) = sqlx::MySqlConnection::connect(&mysql_server_url()).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name}"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}
