//! Retries, dead letters and non-retryable failures.

use herald_store::{AttemptOutcome, StoreError, TaskStatus};

use crate::common::{Ctx, task};

pub async fn retries_then_dead(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("t", "scrape", 0)).await.unwrap();
    let mut now = 0;
    for attempt in 1..=3u32 {
        now += 10;
        let token = u64::from(attempt) * 100;
        let row = store
            .start_attempt("t", "w", token, now + 1_000, now)
            .await
            .unwrap();
        assert_eq!(row.attempt, attempt);
        let row = store
            .fail(
                "t",
                token,
                &format!("boom {attempt}"),
                true,
                now + 5,
                now + 1,
            )
            .await
            .unwrap();
        assert_eq!(row.last_error, format!("boom {attempt}"));
        if attempt < 3 {
            assert_eq!(row.status, TaskStatus::Queued);
            assert_eq!(row.run_at_ms, now + 5);
            assert!(store.dead_letters().await.unwrap().is_empty());
            now += 5;
        } else {
            assert_eq!(row.status, TaskStatus::Dead);
        }
    }
    let row = store.get("t").await.unwrap().unwrap();
    assert_eq!((row.status, row.attempt), (TaskStatus::Dead, 3));
    assert_eq!(row.last_error, "boom 3");
    match store.start_attempt("t", "w", 999, 10_000, 10_000).await {
        Err(StoreError::Conflict { status, .. }) => assert_eq!(status, TaskStatus::Dead),
        other => panic!("expected Conflict, got {other:?}"),
    }

    let dead = store.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].task_id, "t");
    assert_eq!(dead[0].queue, "scrape");
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error, "boom 3");
    assert_eq!(dead[0].payload_json, row.payload_json);
    assert_eq!(dead[0].dead_ms, row.updated_ms);

    let attempts = store.attempts("t").await.unwrap();
    assert_eq!(attempts.len(), 3);
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a.attempt as usize, i + 1);
        assert_eq!(a.outcome, Some(AttemptOutcome::Failed));
        assert_eq!(a.error, format!("boom {}", i + 1));
        assert!(a.ended_ms.is_some());
    }
}

pub async fn release_on_last_attempt_is_dead(ctx: Ctx) {
    let store = ctx.store;
    let mut t = task("t", "push", 0);
    t.max_attempts = 1;
    store.submit(t).await.unwrap();
    store.start_attempt("t", "w", 5, 100, 0).await.unwrap();
    let row = store
        .release("t", 5, "lease expired", 200, 100)
        .await
        .unwrap();
    assert_eq!(row.status, TaskStatus::Dead);
    assert_eq!(row.last_error, "lease expired");
    let dead = store.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].task_id.as_str(), dead[0].attempts), ("t", 1));
    assert_eq!(dead[0].last_error, "lease expired");
    let attempts = store.attempts("t").await.unwrap();
    assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Released));
}

pub async fn non_retryable_failure(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("t", "scrape", 0)).await.unwrap();
    store.start_attempt("t", "w", 1, 100, 0).await.unwrap();
    let row = store
        .fail("t", 1, "404 not found", false, 50, 10)
        .await
        .unwrap();
    assert_eq!(row.status, TaskStatus::Failed);
    assert_eq!(row.last_error, "404 not found");
    assert_eq!(row.attempt, 1);
    assert!(store.dead_letters().await.unwrap().is_empty());
    assert!(
        store
            .runnable("scrape", 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    match store.start_attempt("t", "w", 2, 1_000, 1_000).await {
        Err(StoreError::Conflict { status, .. }) => assert_eq!(status, TaskStatus::Failed),
        other => panic!("expected Conflict, got {other:?}"),
    }
    let attempts = store.attempts("t").await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Failed));
}
