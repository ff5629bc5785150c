//! Notifications of finished tasks survive the core that should have sent them. The store records that a
//! finished task owes its notification; the announcing core clears that a moment after sending (batched),
//! and every core's sweep sends again what stayed owed too long (its core died in between). The event
//! carries an idempotency key, so a notification sent twice reaches its topic once.

use std::time::Duration;

use herald_store::TaskRow;

use super::{Engine, ms};
use crate::clock::now_ms;

/// How long after sending a notification it is marked as sent (one write per task, off the hot path).
const SETTLE: Duration = Duration::from_secs(1);
/// How long a notification may stay owed before another core sends it again.
pub(super) const OWED_GRACE: Duration = Duration::from_secs(5);
/// Owed notifications sent again per sweep.
const OWED_BATCH: u32 = 200;
/// Sent notifications remembered until marked; beyond this the oldest are left to the sweep.
const MAX_UNPAID: usize = 10_000;

/// The idempotency key of a task's final notification: one per task, attempt and outcome.
pub(super) fn announce_key(row: &TaskRow) -> String {
    format!("herald-task:{}:{}:{}", row.id, row.attempt, row.status)
}

impl Engine {
    /// Remembers that the final notification of `row` went out now.
    pub(super) fn sent_final(&mut self, row: &TaskRow) {
        if !self.shared {
            return;
        }
        if self.unpaid.len() >= MAX_UNPAID {
            self.unpaid.pop_front();
        }
        self.unpaid.push_back((row.id.clone(), now_ms()));
    }

    /// Marks as sent the notifications that went out at least `SETTLE` ago.
    pub(super) async fn pay_sent(&mut self) {
        if now_ms() < self.pay_retry_ms {
            return;
        }
        let settled = now_ms() - ms(SETTLE);
        while let Some((id, at)) = self.unpaid.front().cloned() {
            if at > settled {
                break;
            }
            if let Err(e) = self.store.announced(&id, at).await {
                tracing::debug!(task = %id, error = %e, "cannot mark a notification as sent yet");
                self.pay_retry_ms = now_ms() + ms(SETTLE);
                break;
            }
            self.unpaid.pop_front();
        }
    }

    /// When the oldest sent notification is to be marked.
    pub(super) fn next_payment_ms(&self) -> Option<i64> {
        self.unpaid
            .front()
            .map(|(_, at)| (at + ms(SETTLE)).max(self.pay_retry_ms))
    }

    /// Sends again the notifications left owed by a core that died before sending them.
    pub(super) async fn resend_owed(&mut self) {
        let before = now_ms() - ms(OWED_GRACE);
        let owed = match self.store.owed_announces(before, OWED_BATCH).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read owed task notifications");
                return;
            }
        };
        for o in owed {
            if self.unpaid.iter().any(|(id, _)| *id == o.task.id) {
                continue;
            }
            tracing::info!(task = %o.task.id, "sending a task notification another core left owed");
            self.announce(&o.task).await;
        }
    }
}
