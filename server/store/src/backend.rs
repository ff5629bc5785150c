//! Opening a pool for the URL's database (SQLite or PostgreSQL), running the embedded migrations, and the
//! `with_pool!` macro that runs the same query code on either pool.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Database, Transaction};

use crate::error::StoreError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a statement waits for SQLite's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a caller waits for a pooled connection (keeps "database down" errors quick).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// The same for PostgreSQL, shorter: an unreachable server must turn into an error a caller sees within
/// about a second and a half (a `SubmitTask` answers UNAVAILABLE within 2 s).
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);
const SQLITE_FILE_CONNECTIONS: u32 = 8;
const POSTGRES_CONNECTIONS: u32 = 16;

/// The pool of the configured database.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, so one piece of query code serves both backends.
macro_rules! with_pool {
    ($backend:expr, $pool:ident => $body:expr) => {
        match $backend {
            $crate::backend::Backend::Sqlite($pool) => $body,
            $crate::backend::Backend::Postgres($pool) => $body,
        }
    };
}

/// Starting a transaction that will write.
pub(crate) trait BeginWrite {
    type Db: Database;
    /// SQLite takes the write lock up front (`BEGIN IMMEDIATE`), so a transaction never fails half-way on a
    /// lock upgrade; PostgreSQL's row locks need nothing special.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}

impl Backend {
    /// Opens the database named by `url` and brings its schema up to date.
    pub(crate) async fn connect(url: &str) -> Result<Backend, StoreError> {
        let shown = redact(url);
        let connect_err = |source| StoreError::Connect {
            url: shown.clone(),
            source,
        };
        if url.starts_with("sqlite:") {
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let mut opts = SqliteConnectOptions::from_str(url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let mut pool_opts = SqlitePoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
            if in_memory {
                // One connection kept forever: the database lives exactly as long as the pool.
                pool_opts = pool_opts
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            } else {
                opts = opts
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal);
                pool_opts = pool_opts.max_connections(SQLITE_FILE_CONNECTIONS);
            }
            let pool = pool_opts.connect_with(opts).await.map_err(connect_err)?;
            SQLITE_MIGRATIONS.run(&pool).await?;
            Ok(Backend::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_CONNECTIONS)
                .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
                .connect(url)
                .await
                .map_err(connect_err)?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Ok(Backend::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl { url: shown })
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    pub(crate) async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// The URL with any password replaced by `***`, fit for logs and error messages.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &authority[..colon],
        &rest[at..]
    )
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://bob:s3cret@db:5432/herald?sslmode=disable"),
            "postgres://bob:***@db:5432/herald?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://bob@db/herald"),
            "postgres://bob@db/herald"
        );
        assert_eq!(redact("sqlite://herald.db"), "sqlite://herald.db");
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
    }
}
