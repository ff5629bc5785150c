//! Operator commands the engine answers: the live workers with their load (with a shared store, those of
//! every core: this core's from memory, the others' as they last published them), and tasks queued again.

use herald_proto::v1::WorkerInfo;
use herald_store::TaskRow;
use tokio::sync::oneshot;

use super::roster::WORKERS_FRESH;
use super::{Engine, ms};
use crate::clock::now_ms;

/// What an operator asks of the engine.
pub enum AdminCmd {
    /// The connected workers, by id.
    Workers(oneshot::Sender<Vec<WorkerInfo>>),
    /// A task was queued again in the store: tell watchers; the next dispatch picks it up.
    Retried(Box<TaskRow>),
}

impl Engine {
    pub(super) async fn admin(&mut self, cmd: AdminCmd) {
        match cmd {
            AdminCmd::Workers(reply) => {
                let mut workers = self.local_workers();
                workers.sort_by_key(|w| w.worker_id.parse::<u64>().unwrap_or(0));
                if self.shared {
                    for w in &mut workers {
                        w.worker_id = format!("{}/{}", self.core_id, w.worker_id);
                    }
                    match self.store.workers_since(now_ms() - ms(WORKERS_FRESH)).await {
                        Ok(rows) => {
                            workers.extend(rows.into_iter().filter(|r| r.core != self.core_id).map(
                                |r| WorkerInfo {
                                    worker_id: format!("{}/{}", r.core, r.worker),
                                    name: r.name,
                                    queues: r.queues,
                                    capacity: r.capacity,
                                    running: r.running,
                                },
                            ))
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read the other cores' workers")
                        }
                    }
                }
                let _ = reply.send(workers);
            }
            AdminCmd::Retried(task) => self.announce(&task).await,
        }
    }

    /// This core's workers and their load.
    pub(super) fn local_workers(&self) -> Vec<WorkerInfo> {
        self.workers
            .iter()
            .filter_map(|(id, w)| {
                let slot = self.slots.get(id)?;
                Some(WorkerInfo {
                    worker_id: id.to_string(),
                    name: w.name.clone(),
                    queues: slot.queues.clone(),
                    capacity: slot.capacity,
                    running: slot.busy,
                })
            })
            .collect()
    }
}
