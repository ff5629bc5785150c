//! Test harness: a fresh store per test on SQLite (temp file or memory) or PostgreSQL (a new database, dropped
//! afterwards), and task builders.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use herald_store::{NewTask, Store};
use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// What a scenario gets: an open store and the URL it was opened with (to reconnect).
pub struct Ctx {
    pub store: Store,
    pub url: String,
}

/// A queued task of `queue` submitted at `now_ms`, three attempts, no idempotency key.
pub fn task(id: &str, queue: &str, now_ms: i64) -> NewTask {
    NewTask {
        id: id.to_owned(),
        queue: queue.to_owned(),
        payload_json: format!(r#"{{"url":"https://example.test/{id}"}}"#),
        idempotency_key: String::new(),
        max_attempts: 3,
        attempt_timeout_ms: 60_000,
        notify_json: r#"{"topic":"user:42","completed_event":"scrape_complete"}"#.to_owned(),
        now_ms,
    }
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs the scenario on its own task so a failed assertion still lets the harness clean up, then re-raises it.
async fn run<F, Fut>(
    store: Store,
    url: String,
    body: F,
) -> Result<(), Box<dyn std::any::Any + Send>>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(body(Ctx {
        store: store.clone(),
        url,
    }))
    .await;
    store.close().await;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if e.is_panic() => Err(e.into_panic()),
        Err(e) => panic!("scenario task did not finish: {e}"),
    }
}

pub async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let path: PathBuf = std::env::temp_dir().join(format!("{}.db", unique("herald_store_test")));
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend_name(), "sqlite");
    let outcome = run(store, url, body).await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

pub async fn run_memory<F, Fut>(body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = "sqlite::memory:".to_owned();
    let store = Store::connect(&url).await.unwrap();
    if let Err(panic) = run(store, url, body).await {
        std::panic::resume_unwind(panic);
    }
}

/// The admin URL with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let host_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[host_start..]
        .find('/')
        .map(|i| host_start + i)
        .unwrap_or(base.len());
    format!("{}/{db}{query}", &base[..path_start])
}

pub fn postgres_admin_url() -> String {
    std::env::var("HERALD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

pub async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = postgres_admin_url();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is unreachable at {admin_url} ({e}). The store tests need it: start PostgreSQL or \
             point HERALD_TEST_DATABASE_URL at a server where this user may CREATE DATABASE."
        )
    });
    let db = unique("herald_store_test");
    admin
        .execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    let url = with_database(&admin_url, &db);
    let outcome = match Store::connect(&url).await {
        Ok(store) => {
            assert_eq!(store.backend_name(), "postgres");
            run(store, url, body).await
        }
        Err(e) => Err(Box::new(format!("cannot open the test database: {e}")) as _),
    };
    admin
        .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn database_is_swapped_in_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@h/x?sslmode=disable", "t2"),
        "postgres://u:p@h/t2?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "t3"),
        "postgres://h:5432/t3"
    );
}
