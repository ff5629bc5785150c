//! Submitting and reading tasks, idempotency keys.

use herald_store::{Store, StoreError, TaskStatus};
use tokio::task::JoinSet;

use crate::common::{Ctx, task};

pub async fn submit_and_get(ctx: Ctx) {
    let store = ctx.store;
    let new = task("t1", "scrape", 1_000);
    let (row, created) = store.submit(new.clone()).await.unwrap();
    assert!(created);
    assert_eq!(row.id, "t1");
    assert_eq!(row.queue, "scrape");
    assert_eq!(row.payload_json, new.payload_json);
    assert_eq!(row.notify_json, new.notify_json);
    assert_eq!(row.status, TaskStatus::Queued);
    assert_eq!(row.attempt, 0);
    assert_eq!(row.max_attempts, 3);
    assert_eq!(row.attempt_timeout_ms, 60_000);
    assert_eq!(
        (row.run_at_ms, row.created_ms, row.updated_ms),
        (1_000, 1_000, 1_000)
    );
    assert_eq!(row.result_json, "");
    assert_eq!(row.last_error, "");
    assert_eq!(row.worker, "");

    assert_eq!(store.get("t1").await.unwrap(), Some(row));
    assert_eq!(store.get("nope").await.unwrap(), None);
    assert!(store.attempts("t1").await.unwrap().is_empty());

    // The same id again (no key) is refused, and the stored task is untouched.
    let mut again = task("t1", "other", 2_000);
    again.payload_json = "{}".to_owned();
    match store.submit(again).await {
        Err(StoreError::Conflict { id, status }) => {
            assert_eq!((id.as_str(), status), ("t1", TaskStatus::Queued))
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.get("t1").await.unwrap().unwrap().queue, "scrape");
}

pub async fn idempotent_submit(ctx: Ctx) {
    let store = ctx.store;
    let mut first = task("a", "scrape", 10);
    first.idempotency_key = "job-1".to_owned();
    let (a, created) = store.submit(first).await.unwrap();
    assert!(created);
    assert_eq!(a.idempotency_key, "job-1");

    let mut second = task("b", "scrape", 20);
    second.idempotency_key = "job-1".to_owned();
    let (b, created) = store.submit(second).await.unwrap();
    assert!(!created);
    assert_eq!(b.id, "a");
    assert_eq!(b, a);
    assert_eq!(store.get("b").await.unwrap(), None);

    // Empty keys never collide.
    store.submit(task("c", "scrape", 30)).await.unwrap();
    let (_, created) = store.submit(task("d", "scrape", 30)).await.unwrap();
    assert!(created);
    // A different key makes a new task.
    let mut other = task("e", "scrape", 40);
    other.idempotency_key = "job-2".to_owned();
    assert!(store.submit(other).await.unwrap().1);
    assert_eq!(store.runnable("scrape", 100, 100).await.unwrap().len(), 4);
}

pub async fn concurrent_idempotent_submit(ctx: Ctx) {
    let store: Store = ctx.store;
    let mut set = JoinSet::new();
    for i in 0..10 {
        let store = store.clone();
        set.spawn(async move {
            let mut t = task(&format!("dup-{i}"), "scrape", 5);
            t.idempotency_key = "same-key".to_owned();
            store.submit(t).await.unwrap()
        });
    }
    let mut ids = Vec::new();
    let mut created = 0;
    while let Some(res) = set.join_next().await {
        let (row, was_created) = res.unwrap();
        ids.push(row.id);
        created += usize::from(was_created);
    }
    assert_eq!(created, 1, "exactly one submit creates the task");
    ids.dedup();
    assert_eq!(ids.len(), 1, "every submit returns the same task: {ids:?}");
    let all = store.runnable("scrape", 5, 100).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, ids[0]);
}
