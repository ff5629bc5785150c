//! Operator commands the engine answers: the live workers with their load, and tasks queued again.

use herald_proto::v1::WorkerInfo;
use herald_store::TaskRow;
use tokio::sync::oneshot;

use super::Engine;

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
                let mut workers: Vec<WorkerInfo> = self
                    .workers
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
                    .collect();
                workers.sort_by_key(|w| w.worker_id.parse::<u64>().unwrap_or(0));
                let _ = reply.send(workers);
            }
            AdminCmd::Retried(task) => self.announce(&task).await,
        }
    }
}
