//! Writing what became of a lease to the store: a worker's result or failure, a release, and the same
//! for a lease this core does not hold (adopted from a worker that reconnected). Each write is fenced by
//! the store (token and deadline); an outcome the store could not write stays pending and is written again.

use herald_proto::v1::{TaskAccepted, scrape_task_response};
use herald_store::{StoreError, TaskRow, TaskStatus as Stored};
use tonic::Code;

use super::{Engine, Pending, ms};
use crate::clock::now_ms;
use crate::tasks::model::status;

impl Engine {
    /// An outcome for a lease this core does not hold: the worker kept it across a reconnect (its core
    /// died, or the store was away). The store alone decides, by token and deadline: the attempt is still
    /// running under this token, or the report is refused. Nothing is kept here if the write fails: the
    /// worker is told UNAVAILABLE and sends it again.
    pub(super) async fn adopt(&mut self, worker: u64, task_id: &str, token: u64, outcome: Pending) {
        match self.write(task_id, token, &outcome).await {
            Ok(row) => {
                tracing::info!(task = %task_id, worker, "outcome of a lease held before a reconnect recorded");
                self.accepted(worker, token, &row);
                self.announce(&row).await;
            }
            Err(StoreError::NotFound(_)) => {
                let msg = format!("task {task_id} is not held by this worker (no such task)");
                self.reject(worker, task_id, token, Code::FailedPrecondition, msg);
            }
            Err(e) => self.refused(worker, task_id, token, e).await,
        }
    }

    pub(super) async fn attempt_of(&self, task_id: &str) -> u32 {
        match self.store.get(task_id).await {
            Ok(Some(r)) => r.attempt,
            _ => 1,
        }
    }

    /// Writes `outcome` of the attempt under `token` to the store.
    pub(super) async fn write(
        &self,
        task_id: &str,
        token: u64,
        outcome: &Pending,
    ) -> Result<TaskRow, StoreError> {
        let now = now_ms();
        match outcome {
            Pending::Succeed(json) => self.store.succeed(task_id, token, json, now).await,
            Pending::Fail { error, retryable } => {
                let retry_at = self.retry_at(self.attempt_of(task_id).await);
                self.store
                    .fail(task_id, token, error, *retryable, retry_at, now)
                    .await
            }
            Pending::Release(reason) => {
                let retry_at = self.retry_at(self.attempt_of(task_id).await);
                self.store
                    .release(task_id, token, reason, retry_at, now)
                    .await
            }
        }
    }

    /// Tells the worker its report was recorded.
    pub(super) fn accepted(&mut self, worker: u64, token: u64, row: &TaskRow) {
        self.send(
            worker,
            scrape_task_response::Msg::Accepted(TaskAccepted {
                task_id: row.id.clone(),
                lease_token: token,
                status: status(row.status).into(),
            }),
        );
    }

    /// Tells the worker why its report was refused; a report refused because its lease ended while the
    /// attempt still runs takes the task back at once.
    pub(super) async fn refused(&mut self, worker: u64, task_id: &str, token: u64, e: StoreError) {
        let lapsed = matches!(
            &e,
            StoreError::StaleLease {
                status: Stored::Running,
                ..
            }
        );
        self.store_refusal(worker, task_id, token, e);
        if lapsed {
            self.take_back_lapsed(task_id, token).await;
        }
    }

    /// Writes what became of the lease on `task_id` to the store. Once the store has recorded it
    /// (or refused it for good: a stale lease, a cancelled task) the lease is let go and everyone is
    /// told; when the write fails the lease is kept with the outcome pending, written again later.
    pub(super) async fn record(&mut self, task_id: &str, outcome: Pending) {
        let Some(h) = self.held.get_mut(task_id) else {
            return;
        };
        h.pending = Some(outcome.clone());
        let (worker, token) = (h.worker, h.token);
        let written = self.write(task_id, token, &outcome).await;
        if let Err(e) = &written
            && !e.is_final()
        {
            tracing::warn!(task = %task_id, error = %e, "store did not record the outcome; retrying");
            if let Some(h) = self.held.get_mut(task_id) {
                h.retry_ms = now_ms() + ms(self.config.poll_interval);
            }
            return;
        }
        let reported = !matches!(outcome, Pending::Release(_));
        if let Some(h) = self.held.remove(task_id)
            && reported
            && h.takes_slot()
        {
            self.release_slot(worker);
        }
        match written {
            Ok(row) => {
                if reported {
                    self.accepted(worker, token, &row);
                }
                self.announce(&row).await;
            }
            Err(e) if reported => self.refused(worker, task_id, token, e).await,
            Err(e) => tracing::debug!(task = %task_id, error = %e, "release refused"),
        }
    }

    /// A report came too late for its lease (the store was away until after the deadline): the task is
    /// queued again now, fenced by the token, rather than left to the sweep.
    pub(super) async fn take_back_lapsed(&mut self, task_id: &str, token: u64) {
        let outcome = Pending::Release("lease expired");
        match self.write(task_id, token, &outcome).await {
            Ok(row) => self.announce(&row).await,
            Err(e) => {
                tracing::debug!(task = %task_id, error = %e, "lapsed lease already taken back")
            }
        }
    }

    /// Writes again the outcomes the store could not record yet.
    pub(super) async fn retry_pending(&mut self) {
        let now = now_ms();
        let due: Vec<(String, Pending)> = self
            .held
            .iter()
            .filter(|(_, h)| h.retry_ms <= now)
            .filter_map(|(id, h)| h.pending.clone().map(|p| (id.clone(), p)))
            .collect();
        for (id, outcome) in due {
            self.record(&id, outcome).await;
        }
    }

    pub(super) fn store_refusal(&mut self, worker: u64, task_id: &str, token: u64, e: StoreError) {
        let (code, msg) = match &e {
            StoreError::StaleLease { .. } | StoreError::Conflict { .. } => {
                (Code::FailedPrecondition, format!("refused: {e}"))
            }
            StoreError::NotFound(_) => (Code::NotFound, e.to_string()),
            _ => {
                tracing::error!(error = %e, "store failed");
                (Code::Unavailable, format!("store unavailable: {e}"))
            }
        };
        self.reject(worker, task_id, token, code, msg);
    }
}
