//! Claims by several cores at once, leases that end in the store, and fencing by deadline.

use std::collections::HashSet;

use herald_store::{AttemptOutcome, ExpiredLease, StoreError, TaskStatus};
use tokio::task::JoinSet;

use crate::common::{Ctx, task};

pub async fn concurrent_claims_take_each_task_once(ctx: Ctx) {
    let store = ctx.store;
    for i in 0..20 {
        store
            .submit(task(&format!("t{i:02}"), "scrape", i))
            .await
            .unwrap();
    }
    store.submit(task("other", "push", 0)).await.unwrap();
    let mut set = JoinSet::new();
    for claimer in 0..4u64 {
        let store = store.clone();
        set.spawn(async move {
            let mut got = Vec::new();
            for n in 0..10u64 {
                let token = claimer * 100 + n + 1;
                match store
                    .claim("scrape", &format!("w{claimer}"), token, 60_000, 100)
                    .await
                    .unwrap()
                {
                    Some(row) => {
                        assert_eq!(row.status, TaskStatus::Running);
                        assert_eq!(row.lease_token, token);
                        got.push(row.id);
                    }
                    None => break,
                }
            }
            got
        });
    }
    let mut all = Vec::new();
    while let Some(res) = set.join_next().await {
        all.extend(res.unwrap());
    }
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 20, "every scrape task claimed: {all:?}");
    assert_eq!(unique.len(), 20, "no task claimed twice");
    assert!(!unique.contains("other"));
    assert_eq!(
        store.get("other").await.unwrap().unwrap().status,
        TaskStatus::Queued
    );
    assert_eq!(
        store.claim("scrape", "w", 999, 60_000, 100).await.unwrap(),
        None
    );
}

pub async fn claim_takes_the_earliest_due_task(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("late", "scrape", 500)).await.unwrap();
    store.submit(task("early", "scrape", 100)).await.unwrap();
    assert_eq!(
        store.claim("scrape", "w", 1, 60_000, 50).await.unwrap(),
        None
    );
    let row = store
        .claim("scrape", "w", 1, 60_000, 600)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.id.as_str(), row.attempt), ("early", 1));
    let attempts = store.attempts("early").await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0].lease_token, attempts[0].worker.as_str()),
        (1, "w")
    );
}

pub async fn expired_leases_are_taken_back_once(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("a", "scrape", 0)).await.unwrap();
    store.submit(task("b", "scrape", 0)).await.unwrap();
    store.start_attempt("a", "w", 7, 1_000, 10).await.unwrap();
    store.start_attempt("b", "w", 8, 5_000, 10).await.unwrap();
    assert_eq!(store.next_lease_deadline().await.unwrap(), Some(1_000));
    assert_eq!(store.expired_leases(999, 10).await.unwrap(), vec![]);
    let expired = store.expired_leases(1_000, 10).await.unwrap();
    assert_eq!(
        expired,
        vec![ExpiredLease {
            task_id: "a".into(),
            lease_token: 7
        }]
    );
    // Two cores sweep the same expired lease at once: one re-queues it, the other is refused.
    let (r1, r2) = tokio::join!(
        store.release("a", 7, "lease expired", 1_100, 1_050),
        store.release("a", 7, "lease expired", 1_100, 1_050),
    );
    let won = [r1.is_ok(), r2.is_ok()];
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let row = store.get("a").await.unwrap().unwrap();
    assert_eq!(row.status, TaskStatus::Queued);
    assert_eq!(row.last_error, "lease expired");
    let attempts = store.attempts("a").await.unwrap();
    assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Released));
    // The late result of the old attempt is refused by its token.
    match store.succeed("a", 7, "{}", 1_060).await {
        Err(StoreError::StaleLease { status, .. }) => assert_eq!(status, TaskStatus::Queued),
        other => panic!("expected a stale lease, got {other:?}"),
    }
    assert_eq!(store.next_lease_deadline().await.unwrap(), Some(5_000));
}

pub async fn reports_after_the_deadline_are_refused(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("t", "scrape", 0)).await.unwrap();
    store.start_attempt("t", "w", 3, 1_000, 10).await.unwrap();
    for res in [
        store.succeed("t", 3, "{}", 1_000).await,
        store.progress("t", 3, "{}", 1_001).await,
        store.fail("t", 3, "late", true, 1_100, 1_002).await,
    ] {
        match res {
            Err(StoreError::StaleLease { status, .. }) => assert_eq!(status, TaskStatus::Running),
            other => panic!("expected a stale lease, got {other:?}"),
        }
    }
    // The lease is still taken back after its deadline.
    let row = store
        .release("t", 3, "lease expired", 1_100, 1_003)
        .await
        .unwrap();
    assert_eq!(row.status, TaskStatus::Queued);
}

pub async fn finished_tasks_owe_their_notification_until_paid(ctx: Ctx) {
    let store = ctx.store;
    store.submit(task("done", "scrape", 0)).await.unwrap();
    store.submit(task("gone", "scrape", 0)).await.unwrap();
    store.submit(task("open", "scrape", 0)).await.unwrap();
    store
        .start_attempt("done", "w", 1, 1_000, 10)
        .await
        .unwrap();
    store.succeed("done", 1, "{}", 20).await.unwrap();
    store.cancel("gone", "no", 30).await.unwrap();
    assert_eq!(store.owed_announces(19, 10).await.unwrap(), vec![]);
    let owed = store.owed_announces(100, 10).await.unwrap();
    let ids: Vec<_> = owed
        .iter()
        .map(|o| (o.task.id.as_str(), o.since_ms))
        .collect();
    assert_eq!(ids, [("done", 20), ("gone", 30)]);
    assert_eq!(owed[0].task.status, TaskStatus::Succeeded);
    // Paid before the debt: nothing changes; paid after it: settled.
    store.announced("gone", 29).await.unwrap();
    store.announced("done", 25).await.unwrap();
    let owed = store.owed_announces(100, 10).await.unwrap();
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].task.id, "gone");
}

pub async fn workers_published_per_core(ctx: Ctx) {
    use herald_store::WorkerRow;
    let store = ctx.store;
    let w = |core: &str, worker: &str, running: u32| WorkerRow {
        core: core.into(),
        worker: worker.into(),
        name: format!("{core}-{worker}"),
        queues: vec!["scrape".into(), "push".into()],
        capacity: 4,
        running,
        seen_ms: 0,
    };
    store
        .publish_workers("a", &[w("a", "1", 1), w("a", "2", 0)], 1_000)
        .await
        .unwrap();
    store
        .publish_workers("b", &[w("b", "1", 3)], 2_000)
        .await
        .unwrap();
    let all = store.workers_since(1_000).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].queues, ["scrape", "push"]);
    assert_eq!(
        (all[2].core.as_str(), all[2].running, all[2].seen_ms),
        ("b", 3, 2_000)
    );
    // A new publish replaces the core's rows; old ones are left out by the reader's cut-off.
    store
        .publish_workers("a", &[w("a", "2", 2)], 3_000)
        .await
        .unwrap();
    let names: Vec<_> = store
        .workers_since(1_500)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a-2", "b-1"]);
    assert_eq!(store.workers_since(2_500).await.unwrap().len(), 1);
}
