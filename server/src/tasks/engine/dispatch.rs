//! Handing due tasks to this core's workers: claimed one at a time from the store (so each goes to exactly
//! one core however many claim at once), the freest worker first, and the assignment sent on its stream.

use herald_proto::v1::{TaskAssignment, scrape_task_response};
use herald_store::StoreError;

use super::{Engine, Held, ms, new_token};
use crate::clock::now_ms;
use crate::tasks::model::to_proto;
use crate::tasks::pick::{free_on, pick};

impl Engine {
    /// Claims due tasks for the local workers with room, one task per claim, the freest worker first.
    /// Tasks are claimed in the store, so each goes to exactly one core however many claim at once.
    pub(super) async fn dispatch(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        self.next_due_ms = None;
        let queues = self.config.queues.clone();
        for queue in queues {
            if free_on(&self.slots, &queue) == 0 {
                continue;
            }
            while let Some(worker) = pick(&self.slots, &queue) {
                match self.assign(worker, &queue).await {
                    Ok(true) => {}
                    Ok(false) => {
                        self.note_next_due(&queue).await;
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, queue, "cannot claim tasks");
                        return;
                    }
                }
            }
        }
    }

    /// Remembers when the earliest queued task of `queue` that is not due yet becomes due.
    pub(super) async fn note_next_due(&mut self, queue: &str) {
        if let Ok(Some(at)) = self.store.next_run_at(queue).await
            && at > now_ms()
        {
            self.next_due_ms = Some(self.next_due_ms.map_or(at, |d| d.min(at)));
        }
    }

    /// Claims the next due task of `queue` for `worker` and sends it the assignment. `Ok(false)`: nothing
    /// of `queue` is due.
    pub(super) async fn assign(&mut self, worker: u64, queue: &str) -> Result<bool, StoreError> {
        let token = new_token();
        let now = now_ms();
        let name = self
            .workers
            .get(&worker)
            .map(|w| w.name.clone())
            .unwrap_or_default();
        let default_timeout = ms(self.config.default_attempt_timeout);
        let Some(row) = self
            .store
            .claim(queue, &name, token, default_timeout, now)
            .await?
        else {
            return Ok(false);
        };
        let deadline = row.lease_deadline_ms;
        self.picks += 1;
        if let Some(s) = self.slots.get_mut(&worker) {
            s.busy += 1;
            s.last_pick = self.picks;
        }
        self.held.insert(
            row.id.clone(),
            Held {
                worker,
                token,
                deadline_ms: deadline,
                pending: None,
                retry_ms: 0,
            },
        );
        self.watchers.publish(&to_proto(&row));
        let sent = self.send(
            worker,
            scrape_task_response::Msg::Assignment(TaskAssignment {
                task: Some(to_proto(&row)),
                lease_token: token,
                lease_deadline_ms: deadline,
            }),
        );
        if !sent {
            self.worker_gone(worker).await;
        }
        Ok(true)
    }
}
