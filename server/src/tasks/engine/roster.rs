//! With a shared store, this core's workers are published to it every second (replacing the previous
//! list), so that `ListWorkers` on any core shows the workers of every core.

use std::time::Duration;

use herald_store::WorkerRow;

use super::{Engine, ms};
use crate::clock::now_ms;

/// How often a core publishes its workers.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// Published workers older than this are left out (their core stopped publishing: it is gone).
pub(super) const WORKERS_FRESH: Duration = Duration::from_secs(5);

/// A random id for this core's rows (a core that restarts publishes under a new one).
pub(super) fn new_core_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

impl Engine {
    /// Publishes this core's workers when due (and once more after the last one left, to clear them).
    pub(super) async fn publish_workers(&mut self) {
        let now = now_ms();
        if now < self.next_publish_ms {
            return;
        }
        self.next_publish_ms = now + ms(PUBLISH_EVERY);
        if self.slots.is_empty() && !self.published_any {
            return;
        }
        let rows: Vec<WorkerRow> = self
            .local_workers()
            .into_iter()
            .map(|w| WorkerRow {
                core: self.core_id.clone(),
                worker: w.worker_id,
                name: w.name,
                queues: w.queues,
                capacity: w.capacity,
                running: w.running,
                seen_ms: now,
            })
            .collect();
        match self.store.publish_workers(&self.core_id, &rows, now).await {
            Ok(()) => self.published_any = !rows.is_empty(),
            Err(e) => tracing::debug!(error = %e, "cannot publish this core's workers"),
        }
    }

    /// When the workers are to be published next, if there is anything to publish.
    pub(super) fn next_publish_at(&self) -> Option<i64> {
        (!self.slots.is_empty() || self.published_any).then_some(self.next_publish_ms)
    }
}
