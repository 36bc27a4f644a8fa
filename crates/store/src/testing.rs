//! Test support (feature `testing`): a fresh PostgreSQL database per test, on the server
//! `FERRITE_TEST_DATABASE_URL` names (`scripts/test.sh` starts a throwaway cluster and sets
//! it). Without the variable a PostgreSQL test fails, saying so, rather than passing without
//! having run.
// Test support: failing loudly, with the reason, is what a test wants.
#![allow(clippy::panic, clippy::expect_used)]

use std::future::Future;

use crate::postgres::{PostgresOptions, connect};

/// The variable naming the PostgreSQL server tests use: a URL whose user may create and drop
/// databases (`postgres://USER:PASSWORD@127.0.0.1:PORT/postgres`).
pub const DATABASE_URL_VARIABLE: &str = "FERRITE_TEST_DATABASE_URL";

/// A database created for one test, empty (no schema), dropped by [`TestDatabase::drop`].
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a database with a random name on the server of `FERRITE_TEST_DATABASE_URL`.
    /// Panics if the variable is unset or the server refuses.
    pub async fn create() -> TestDatabase {
        let admin_url = server_url();
        let mut random = [0u8; 8];
        aws_lc_rs::rand::fill(&mut random).expect("random database name");
        let name = format!(
            "ferrite_test_{}",
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|e| panic!("{DATABASE_URL_VARIABLE} is not a URL: {e}"));
        url.set_path(&format!("/{name}"));
        admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
        TestDatabase {
            admin_url,
            name,
            url: url.to_string(),
        }
    }

    /// The new database's URL (the server's URL with the database name replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's URL (`FERRITE_TEST_DATABASE_URL`), for tests of the connection itself.
    pub fn server_url(&self) -> &str {
        &self.admin_url
    }

    /// Drops the database, closing whatever connections still use it.
    pub async fn drop(self) {
        admin(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        )
        .await;
    }
}

/// Runs `test` with the URL of a fresh database and drops the database afterwards, also when
/// the test panics (the panic then goes on).
pub async fn with_database<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let database = TestDatabase::create().await;
    let outcome = tokio::spawn(test(database.url().to_owned())).await;
    database.drop().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
}

/// `FERRITE_TEST_DATABASE_URL`, or a panic that says how to get one.
fn server_url() -> String {
    match std::env::var(DATABASE_URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{DATABASE_URL_VARIABLE} is not set: this test needs a PostgreSQL server. Run \
             scripts/test.sh (it starts a throwaway cluster), or set {DATABASE_URL_VARIABLE} to \
             postgres://USER:PASSWORD@127.0.0.1:PORT/postgres of a server where USER may create \
             databases"
        ),
    }
}

/// Runs one statement on the server's maintenance database.
async fn admin(server_url: &str, sql: &str) {
    let target = connect::target(server_url, &PostgresOptions::default())
        .unwrap_or_else(|e| panic!("{DATABASE_URL_VARIABLE}: {e}"));
    let (client, connection) = target
        .config
        .connect(target.tls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {DATABASE_URL_VARIABLE}'s server: {e}"));
    let driver = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = driver.await;
}
