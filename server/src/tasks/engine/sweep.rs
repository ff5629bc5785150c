//! Leases that outlived their holder, and waking for work queued on other cores. Every core sweeps: a
//! running attempt whose lease deadline passed a grace ago is re-queued with the fenced release, so of two
//! cores sweeping at once one wins and the other is refused; the holding core (if alive) has normally
//! revoked it by then. On PostgreSQL, `LISTEN` wakes the engine when any core queues a task.

use std::time::Duration;

use herald_store::{Heard, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Cmd, Engine, Pending, ms};
use crate::clock::now_ms;

/// How long after its deadline a lease is taken back by the sweep (the holder revokes it at the deadline).
pub(super) const SWEEP_GRACE: Duration = Duration::from_millis(500);
/// Leases re-queued per sweep round (the next round follows at once while some are left).
const SWEEP_BATCH: u32 = 200;
/// How often the store is read anyway when notifications wake the engine (a safety net, not the path).
pub(super) const LISTENING_POLL: Duration = Duration::from_secs(5);
/// Pause before listening again after the database refused the listening connection.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

impl Engine {
    /// Re-queues the leases that ended before `now - SWEEP_GRACE` and sets when to sweep next.
    pub(super) async fn sweep(&mut self) {
        let now = now_ms();
        if now < self.next_sweep_ms {
            return;
        }
        let before = now - ms(SWEEP_GRACE);
        let expired = match self.store.expired_leases(before, SWEEP_BATCH).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read expired leases");
                self.next_sweep_ms = now + ms(self.idle_poll());
                return;
            }
        };
        let full = expired.len() == SWEEP_BATCH as usize;
        for lease in expired {
            // A lease this core holds is revoked and released by `expire_leases` (or waits for the store
            // to record the outcome the worker sent in time).
            if self.held.contains_key(&lease.task_id) {
                continue;
            }
            let outcome = Pending::Release("lease expired");
            match self
                .write(&lease.task_id, lease.lease_token, &outcome)
                .await
            {
                Ok(row) => {
                    tracing::info!(task = %row.id, status = %row.status, "expired lease taken back");
                    self.announce(&row).await;
                }
                Err(e) if e.is_final() => {
                    tracing::debug!(task = %lease.task_id, error = %e, "expired lease already taken back");
                }
                Err(e) => {
                    tracing::warn!(task = %lease.task_id, error = %e, "cannot take back an expired lease");
                    self.next_sweep_ms = now + ms(self.idle_poll());
                    return;
                }
            }
        }
        self.resend_owed().await;
        self.next_sweep_ms = if full {
            now
        } else {
            match self.store.next_lease_deadline().await {
                Ok(Some(d)) => (d + ms(SWEEP_GRACE)).min(now + ms(self.idle_poll())),
                _ => now + ms(self.idle_poll()),
            }
        };
    }

    /// How long the engine waits without news before reading the store.
    pub(super) fn idle_poll(&self) -> Duration {
        if self.listening {
            LISTENING_POLL
        } else {
            self.config.poll_interval
        }
    }
}

/// Listens for queued tasks until `cancel`, waking the engine on each (and after a lost connection,
/// when some may have been missed). Returns `None` on SQLite.
pub(super) async fn spawn_listener(
    store: &Store,
    cmd: mpsc::Sender<Cmd>,
    cancel: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>, herald_store::StoreError> {
    let Some(mut listener) = store.listener().await? else {
        return Ok(None);
    };
    Ok(Some(tokio::spawn(async move {
        loop {
            let heard = tokio::select! {
                () = cancel.cancelled() => break,
                h = listener.next() => h,
            };
            match heard {
                Ok(Heard::Queued(_)) => {}
                Ok(Heard::Lost) => {
                    tracing::warn!("task notifications lost their connection; listening again")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for task notifications; trying again");
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(LISTEN_RETRY) => {}
                    }
                }
            }
            // A dropped wake is fine: the engine is busy and reads the store when it is done.
            let _ = cmd.try_send(Cmd::Wake);
        }
    })))
}
