//! Attempts, leases, results, cancellation and the runnable queue.

use herald_store::{AttemptOutcome, StoreError, TaskStatus};
use tokio::task::JoinSet;

use crate::common::{Ctx, task};

fn assert_stale<T: std::fmt::Debug>(res: Result<T, StoreError>, token: u64, status: TaskStatus) {
    match res {
        Err(StoreError::StaleLease {
            lease_token,
            status: s,
            ..
        }) => assert_eq!((lease_token, s), (token, status)),
        other => panic!("expected StaleLease({token}, {status}), got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(res: Result<T, StoreError>, status: TaskStatus) {
    match res {
        Err(StoreError::Conflict { status: s, .. }) => assert_eq!(s, status),
        other => panic!("expected Conflict({status}), got {other:?}"),
    }
}

pub async fn start_attempt_once_under_concurrency(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("t", "scrape", 0)).await.unwrap();
    let mut set = JoinSet::new();
    for token in 1..=10u64 {
        let store = store.clone();
        set.spawn(async move {
            (
                token,
                store
                    .start_attempt("t", &format!("w{token}"), token, 60_000, 10)
                    .await,
            )
        });
    }
    let mut winners = Vec::new();
    while let Some(res) = set.join_next().await {
        match res.unwrap() {
            (token, Ok(row)) => winners.push((token, row)),
            (_, Err(StoreError::Conflict { status, .. })) => {
                assert_eq!(status, TaskStatus::Running)
            }
            (_, Err(e)) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one caller starts the attempt");
    let (token, row) = &winners[0];
    assert_eq!(row.status, TaskStatus::Running);
    assert_eq!(row.attempt, 1);
    assert_eq!(row.lease_token, *token);
    assert_eq!(row.worker, format!("w{token}"));
    assert_eq!(row.lease_deadline_ms, 60_000);
    let attempts = store.attempts("t").await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].lease_token, *token);
    assert_eq!(attempts[0].attempt, 1);
    assert_eq!(attempts[0].started_ms, 10);
    assert_eq!(attempts[0].ended_ms, None);
    assert_eq!(attempts[0].outcome, None);
}

pub async fn start_attempt_respects_run_at(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("t", "scrape", 1_000)).await.unwrap();
    assert_conflict(
        store.start_attempt("t", "w", 1, 2_000, 999).await,
        TaskStatus::Queued,
    );
    match store.start_attempt("ghost", "w", 1, 2_000, 999).await {
        Err(StoreError::NotFound(id)) => assert_eq!(id, "ghost"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let row = store
        .start_attempt("t", "w", 1, 2_000, 1_000)
        .await
        .unwrap();
    assert_eq!(row.status, TaskStatus::Running);
}

pub async fn succeed_with_right_token(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("t", "scrape", 0)).await.unwrap();
    // The largest u64 survives the BIGINT column.
    let token = u64::MAX;
    store
        .start_attempt("t", "w1", token, 60_000, 1)
        .await
        .unwrap();
    assert_eq!(store.get("t").await.unwrap().unwrap().lease_token, token);

    let row = store
        .progress("t", token, r#"{"pct":50}"#, 2)
        .await
        .unwrap();
    assert_eq!(row.progress_json, r#"{"pct":50}"#);
    assert_eq!(row.updated_ms, 2);
    assert_stale(
        store.progress("t", 7, "{}", 2).await,
        7,
        TaskStatus::Running,
    );
    assert_stale(store.succeed("t", 7, "{}", 3).await, 7, TaskStatus::Running);

    let row = store
        .succeed("t", token, r#"{"ok":true}"#, 4)
        .await
        .unwrap();
    assert_eq!(row.status, TaskStatus::Succeeded);
    assert_eq!(row.result_json, r#"{"ok":true}"#);
    assert_eq!(row.updated_ms, 4);
    assert_eq!(store.get("t").await.unwrap().unwrap(), row);

    // Once finished, even the right token is refused.
    assert_stale(
        store.succeed("t", token, "{}", 5).await,
        token,
        TaskStatus::Succeeded,
    );
    assert_stale(
        store.progress("t", token, "{}", 5).await,
        token,
        TaskStatus::Succeeded,
    );
    assert_stale(
        store.fail("t", token, "late", true, 5, 5).await,
        token,
        TaskStatus::Succeeded,
    );
    match store.succeed("ghost", 1, "{}", 5).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }

    let attempts = store.attempts("t").await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].ended_ms, Some(4));
    assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Succeeded));
    assert_eq!(attempts[0].lease_token, token);
}

pub async fn succeed_once_under_concurrency(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("t", "scrape", 0)).await.unwrap();
    store.start_attempt("t", "w", 42, 60_000, 0).await.unwrap();
    let mut set = JoinSet::new();
    for i in 0..10 {
        let store = store.clone();
        set.spawn(async move {
            if i % 2 == 0 {
                store.succeed("t", 42, &format!(r#"{{"n":{i}}}"#), 1).await
            } else {
                store.fail("t", 42, "boom", false, 0, 1).await
            }
        });
    }
    let mut ok = Vec::new();
    while let Some(res) = set.join_next().await {
        match res.unwrap() {
            Ok(row) => ok.push(row),
            Err(StoreError::StaleLease { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(ok.len(), 1, "exactly one report is accepted");
    assert_eq!(store.get("t").await.unwrap().unwrap(), ok[0]);
}

pub async fn stale_token_after_release(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("t", "scrape", 0)).await.unwrap();
    store.start_attempt("t", "w1", 1, 100, 10).await.unwrap();

    let row = store.release("t", 1, "worker lost", 500, 20).await.unwrap();
    assert_eq!(row.status, TaskStatus::Queued);
    assert_eq!(row.run_at_ms, 500);
    assert_eq!(row.last_error, "worker lost");
    assert_eq!(row.attempt, 1);
    // Not before the backoff.
    assert_conflict(
        store.start_attempt("t", "w2", 2, 900, 499).await,
        TaskStatus::Queued,
    );
    // The old holder is refused even before the next attempt starts.
    assert_stale(store.succeed("t", 1, "{}", 30).await, 1, TaskStatus::Queued);

    let row = store.start_attempt("t", "w2", 2, 900, 500).await.unwrap();
    assert_eq!(
        (row.attempt, row.worker.as_str(), row.lease_token),
        (2, "w2", 2)
    );
    assert_stale(
        store.succeed("t", 1, "{}", 510).await,
        1,
        TaskStatus::Running,
    );
    assert_stale(
        store.progress("t", 1, "{}", 510).await,
        1,
        TaskStatus::Running,
    );
    assert_stale(
        store.fail("t", 1, "x", true, 0, 510).await,
        1,
        TaskStatus::Running,
    );
    assert_stale(
        store.release("t", 1, "x", 0, 510).await,
        1,
        TaskStatus::Running,
    );

    let row = store.succeed("t", 2, r#"{"done":1}"#, 520).await.unwrap();
    assert_eq!(row.status, TaskStatus::Succeeded);

    let attempts = store.attempts("t").await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].attempt, 1);
    assert_eq!(attempts[0].worker, "w1");
    assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Released));
    assert_eq!(attempts[0].error, "worker lost");
    assert_eq!(attempts[0].ended_ms, Some(20));
    assert_eq!(attempts[1].attempt, 2);
    assert_eq!(attempts[1].worker, "w2");
    assert_eq!(attempts[1].outcome, Some(AttemptOutcome::Succeeded));
    assert_eq!(attempts[1].ended_ms, Some(520));
}

pub async fn cancel_queued_running_and_terminal(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("q", "scrape", 0)).await.unwrap();
    store.submit(task("r", "scrape", 0)).await.unwrap();
    store.submit(task("s", "scrape", 0)).await.unwrap();

    let row = store.cancel("q", "user asked", 5).await.unwrap();
    assert_eq!(row.status, TaskStatus::Cancelled);
    assert_eq!(row.last_error, "user asked");
    assert_eq!(row.updated_ms, 5);
    assert_conflict(
        store.start_attempt("q", "w", 1, 100, 6).await,
        TaskStatus::Cancelled,
    );

    store.start_attempt("r", "w", 9, 100, 1).await.unwrap();
    let row = store.cancel("r", "too slow", 6).await.unwrap();
    assert_eq!(row.status, TaskStatus::Cancelled);
    assert_eq!((row.worker.as_str(), row.lease_token), ("w", 9));
    assert_stale(
        store.succeed("r", 9, "{}", 7).await,
        9,
        TaskStatus::Cancelled,
    );
    let attempts = store.attempts("r").await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Cancelled));
    assert_eq!(attempts[0].error, "too slow");
    assert_eq!(attempts[0].ended_ms, Some(6));

    assert_conflict(store.cancel("r", "again", 8).await, TaskStatus::Cancelled);
    store.start_attempt("s", "w", 3, 100, 1).await.unwrap();
    store.succeed("s", 3, "{}", 2).await.unwrap();
    assert_conflict(store.cancel("s", "late", 8).await, TaskStatus::Succeeded);
    assert_eq!(
        store.get("s").await.unwrap().unwrap().status,
        TaskStatus::Succeeded
    );
    match store.cancel("ghost", "x", 8).await {
        Err(StoreError::NotFound(id)) => assert_eq!(id, "ghost"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(store.runnable("scrape", 100, 10).await.unwrap().is_empty());
}

pub async fn runnable_order_and_run_at(ctx: Ctx) {
    let store = ctx.store;
    assert_eq!(store.next_run_at("scrape").await.unwrap(), None);
    store.submit(task("a", "scrape", 100)).await.unwrap();
    store.submit(task("b", "scrape", 50)).await.unwrap();
    store.submit(task("c", "scrape", 100)).await.unwrap();
    store.submit(task("d", "scrape", 500)).await.unwrap();
    store.submit(task("e", "push", 10)).await.unwrap();

    let ids = |rows: Vec<herald_store::TaskRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.runnable("scrape", 200, 10).await.unwrap()),
        ["b", "a", "c"]
    );
    assert_eq!(
        ids(store.runnable("scrape", 200, 2).await.unwrap()),
        ["b", "a"]
    );
    assert_eq!(
        ids(store.runnable("scrape", 49, 10).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(store.runnable("scrape", 500, 10).await.unwrap()),
        ["b", "a", "c", "d"]
    );
    assert_eq!(ids(store.runnable("push", 500, 10).await.unwrap()), ["e"]);
    assert_eq!(store.next_run_at("scrape").await.unwrap(), Some(50));
    assert_eq!(store.next_run_at("push").await.unwrap(), Some(10));
    assert_eq!(store.next_run_at("none").await.unwrap(), None);

    // Running tasks leave the queue; a retry comes back at its run_at.
    store.start_attempt("b", "w", 1, 1_000, 200).await.unwrap();
    assert_eq!(store.next_run_at("scrape").await.unwrap(), Some(100));
    assert_eq!(
        ids(store.runnable("scrape", 200, 10).await.unwrap()),
        ["a", "c"]
    );
    store.fail("b", 1, "flaky", true, 300, 210).await.unwrap();
    assert_eq!(
        ids(store.runnable("scrape", 299, 10).await.unwrap()),
        ["a", "c"]
    );
    assert_eq!(
        ids(store.runnable("scrape", 300, 10).await.unwrap()),
        ["a", "c", "b"]
    );
}
