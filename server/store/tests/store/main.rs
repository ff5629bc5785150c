//! Store tests: every scenario runs against SQLite (a temp file) and PostgreSQL (a fresh database), some also
//! against `sqlite::memory:`.

mod common;
mod durability;
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
