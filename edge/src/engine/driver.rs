//! Per-session timers: server pings and the pong deadline, the CONNECT deadline, and token expiry.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::{Instant, sleep_until};

use crate::edge::Edge;
use crate::engine::session::{PushError, SLOW_CONSUMER, Session};

/// Longest wait for a polling client to fetch the last frames of a closed session.
const LINGER_MAX: Duration = Duration::from_secs(5);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs until the session closes, then until it is out of the edge's table.
pub(crate) async fn run(edge: Arc<Edge>, session: Arc<Session>) {
    tick(&edge, &session).await;
    let linger = edge.config.ping_timeout.min(LINGER_MAX);
    let _ = tokio::time::timeout(linger, session.finished.cancelled()).await;
    session.finish(&edge);
}

/// Heartbeat and deadlines until the session closes.
async fn tick(edge: &Arc<Edge>, session: &Arc<Session>) {
    let cfg = &edge.config;
    let mut next_ping = Instant::now() + cfg.ping_interval;
    let mut pong_deadline: Option<Instant> = None;
    let connect_deadline = Instant::now() + cfg.connect_timeout;
    loop {
        let now = Instant::now();
        let mut wake = pong_deadline.unwrap_or(next_ping);
        if !session.ever_connected() {
            wake = wake.min(connect_deadline);
        }
        // When the token is refused (exp plus the leeway, as at connect); a far-future exp never
        // wakes the driver rather than overflowing the clock.
        let exp = session
            .earliest_exp()
            .map(|(exp, ns)| (cfg.verifier.refused_from(exp), ns));
        if let Some((exp, _)) = &exp
            && let Some(at) = now.checked_add(Duration::from_secs(exp.saturating_sub(unix_now())))
        {
            wake = wake.min(at);
        }
        tokio::select! {
            () = session.closed.cancelled() => return,
            () = session.pong.notified() => {
                if pong_deadline.take().is_some() {
                    next_ping = Instant::now() + cfg.ping_interval;
                }
                continue;
            }
            () = session.changed.notified() => continue,
            () = sleep_until(wake) => {}
        }
        let now = Instant::now();
        if pong_deadline.is_some_and(|d| now >= d) {
            tracing::debug!(sid = %session.sid, "no pong within ping_timeout");
            session.close(edge, "ping timeout");
            return;
        }
        if pong_deadline.is_none() && now >= next_ping {
            match session.push_text("2") {
                Ok(()) | Err(PushError::Closed) => {}
                Err(PushError::Full) => {
                    session.disconnect_all(edge, SLOW_CONSUMER, false);
                    return;
                }
            }
            pong_deadline = Some(now + cfg.ping_timeout);
        }
        if !session.ever_connected() && now >= connect_deadline {
            tracing::debug!(sid = %session.sid, "no socket.io CONNECT within connect_timeout");
            session.close(edge, "connect timeout");
            return;
        }
        if let Some((exp, ns)) = exp
            && unix_now() >= exp
        {
            crate::socketio::commands::kick(edge, session, &ns, "token expired");
        }
    }
}
