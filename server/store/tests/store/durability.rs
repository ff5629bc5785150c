//! Restart behaviour: requeueing tasks a crash left running, data surviving a reconnect, connect errors.

use herald_store::{AttemptOutcome, RESTART_ERROR, Store, StoreError, TaskStatus};

use crate::common::{Ctx, task};

pub async fn requeue_running_after_crash(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("retry", "scrape", 0)).await.unwrap();
    let mut last = task("last", "scrape", 0);
    last.max_attempts = 1;
    store.submit(last).await.unwrap();
    store.submit(task("waiting", "scrape", 0)).await.unwrap();
    store.submit(task("done", "scrape", 0)).await.unwrap();
    store.start_attempt("retry", "w", 1, 100, 1).await.unwrap();
    store.start_attempt("last", "w", 2, 100, 1).await.unwrap();
    store.start_attempt("done", "w", 3, 100, 1).await.unwrap();
    store.succeed("done", 3, "{}", 2).await.unwrap();

    assert_eq!(store.requeue_running(50).await.unwrap(), 2);

    let retry = store.get("retry").await.unwrap().unwrap();
    assert_eq!(retry.status, TaskStatus::Queued);
    assert_eq!((retry.attempt, retry.run_at_ms), (1, 50));
    assert_eq!(retry.last_error, RESTART_ERROR);
    let attempts = store.attempts("retry").await.unwrap();
    assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Restarted));
    assert_eq!(attempts[0].ended_ms, Some(50));

    // A restart is not a failed attempt: the task on its last attempt is queued again, not dead.
    let last = store.get("last").await.unwrap().unwrap();
    assert_eq!(last.status, TaskStatus::Queued);
    assert_eq!(last.last_error, RESTART_ERROR);
    assert!(store.dead_letters().await.unwrap().is_empty());
    assert_eq!(
        store.get("waiting").await.unwrap().unwrap().status,
        TaskStatus::Queued
    );
    assert_eq!(
        store.get("done").await.unwrap().unwrap().status,
        TaskStatus::Succeeded
    );
    assert_eq!(store.requeue_running(60).await.unwrap(), 0);
    assert!(store.dead_letters().await.unwrap().is_empty());

    // Its one real attempt still runs, and counts: a retryable failure of it is its last.
    let row = store.start_attempt("last", "w2", 5, 200, 60).await.unwrap();
    assert_eq!(row.attempt, 2);
    store.requeue_running(70).await.unwrap();
    let row = store.start_attempt("last", "w3", 6, 300, 80).await.unwrap();
    assert_eq!(
        row.attempt, 3,
        "two restarts, still one attempt of the task's own"
    );
    let failed = store.fail("last", 6, "boom", true, 90, 90).await.unwrap();
    assert_eq!(
        failed.status,
        TaskStatus::Dead,
        "max_attempts = 1 real attempt"
    );
    assert_eq!(store.dead_letters().await.unwrap().len(), 1);

    // The old lease is gone; the next attempt is number 2.
    match store.succeed("retry", 1, "{}", 60).await {
        Err(StoreError::StaleLease { .. }) => {}
        other => panic!("expected StaleLease, got {other:?}"),
    }
    let row = store
        .start_attempt("retry", "w2", 4, 200, 60)
        .await
        .unwrap();
    assert_eq!(row.attempt, 2);
}

pub async fn reconnect_keeps_tasks(ctx: Ctx) {
    let store = ctx.store;
    let mut t = task("keep", "scrape", 0);
    t.idempotency_key = "k".to_owned();
    store.submit(t).await.unwrap();
    store.start_attempt("keep", "w", 77, 100, 1).await.unwrap();
    let before = store
        .progress("keep", 77, r#"{"pct":10}"#, 2)
        .await
        .unwrap();
    store.close().await;

    // A new process opening the same database (migrations already applied) sees everything.
    let reopened = Store::connect(&ctx.url).await.unwrap();
    assert_eq!(reopened.get("keep").await.unwrap(), Some(before.clone()));
    assert_eq!(reopened.attempts("keep").await.unwrap().len(), 1);
    let mut again = task("other", "scrape", 3);
    again.idempotency_key = "k".to_owned();
    let (row, created) = reopened.submit(again).await.unwrap();
    assert!(!created);
    assert_eq!(row.id, "keep");
    assert_eq!(reopened.requeue_running(4).await.unwrap(), 1);
    reopened.close().await;

    let third = Store::connect(&ctx.url).await.unwrap();
    let row = third.get("keep").await.unwrap().unwrap();
    assert_eq!((row.status, row.attempt), (TaskStatus::Queued, 1));
    third.close().await;
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    match Store::connect("mysql://root:hunter2@localhost/x").await {
        Err(StoreError::UnsupportedUrl { url }) => {
            assert!(!url.contains("hunter2"), "password leaked: {url}");
            assert!(url.contains("localhost"));
        }
        other => panic!("expected UnsupportedUrl, got {other:?}"),
    }
}

#[tokio::test]
async fn connect_errors_name_the_url() {
    let missing_dir = std::env::temp_dir().join("herald_store_no_such_dir/sub/x.db");
    let url = format!("sqlite://{}", missing_dir.display());
    let err = Store::connect(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("x.db"), "{err}");

    // Nothing listens on port 1.
    let err = Store::connect("postgres://herald:hunter2@127.0.0.1:1/herald")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("127.0.0.1:1") && !text.contains("hunter2"),
        "{text}"
    );
}

#[tokio::test]
async fn store_call_futures_are_send() {
    fn is_send<T: Send>(t: T) -> T {
        t
    }
    let store = Store::connect("sqlite::memory:").await.unwrap();
    is_send(store.submit(task("x", "q", 0))).await.unwrap();
    is_send(store.start_attempt("x", "w", 1, 10, 0))
        .await
        .unwrap();
    is_send(store.fail("x", 1, "e", true, 0, 1)).await.unwrap();
    is_send(store.requeue_running(2)).await.unwrap();
    store.close().await;
}
