//! Store tests: every scenario runs against SQLite (a temp file) and PostgreSQL (a fresh database), some also
//! against `sqlite::memory:`.

mod common;
mod durability;
mod leases;
mod lifecycle;
mod retries;
mod submit;

/// For each scenario `name(ctx: Ctx)`, generates `name::sqlite` and `name::postgres` tests.
macro_rules! on_both_backends {
    ($($module:ident :: $name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    crate::common::run_sqlite(crate::$module::$name).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    crate::common::run_postgres(crate::$module::$name).await
                }
            }
        )*
    };
}

on_both_backends!(
    submit::submit_and_get,
    submit::idempotent_submit,
    submit::concurrent_idempotent_submit,
    lifecycle::start_attempt_once_under_concurrency,
    lifecycle::start_attempt_respects_run_at,
    lifecycle::succeed_with_right_token,
    lifecycle::succeed_once_under_concurrency,
    lifecycle::stale_token_after_release,
    lifecycle::cancel_queued_running_and_terminal,
    lifecycle::runnable_order_and_run_at,
    retries::retries_then_dead,
    retries::release_on_last_attempt_is_dead,
    retries::non_retryable_failure,
    durability::requeue_running_after_crash,
    durability::reconnect_keeps_tasks,
    leases::concurrent_claims_take_each_task_once,
    leases::claim_takes_the_earliest_due_task,
    leases::expired_leases_are_taken_back_once,
    leases::reports_after_the_deadline_are_refused,
    leases::finished_tasks_owe_their_notification_until_paid,
    leases::workers_published_per_core,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_submit() {
    common::run_memory(submit::concurrent_idempotent_submit).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_lifecycle() {
    common::run_memory(lifecycle::stale_token_after_release).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_retries() {
    common::run_memory(retries::retries_then_dead).await
}

/// A task queued on one connection wakes a listener on another (PostgreSQL's trigger and LISTEN).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_listener_hears_queued_tasks() {
    common::run_postgres(|ctx| async move {
        let other = herald_store::Store::connect(&ctx.url).await.unwrap();
        let mut listener = other.listener().await.unwrap().expect("postgres listens");
        ctx.store
            .submit(common::task("n1", "push", 0))
            .await
            .unwrap();
        let heard = tokio::time::timeout(std::time::Duration::from_secs(10), listener.next())
            .await
            .expect("a notification within 10 s")
            .unwrap();
        assert_eq!(heard, herald_store::Heard::Queued("push".into()));
        drop(listener);
        other.close().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_has_no_listener() {
    common::run_memory(|ctx| async move {
        assert!(ctx.store.listener().await.unwrap().is_none());
    })
    .await
}
