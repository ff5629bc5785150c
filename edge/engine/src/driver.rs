//! A session's driver: the server's pings and the pong deadline, the layer above's deadlines,
//! and, once the session closed, the wait for a polling client's last fetch.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use crate::frame::PushError;
use crate::handler::{Close, Handler};
use crate::session::Session;

/// Longest wait for a polling client to fetch the last frames of a closed session.
const LINGER_MAX: Duration = Duration::from_secs(5);

/// Runs until the session closes, then until it is out of the server's table. (The timing is
/// read from the handler when needed rather than held: this future lives as long as the session.)
pub async fn run<H: Handler>(handler: Arc<H>, session: Arc<Session<H::Data>>) {
    tick(&*handler, &session).await;
    let linger = handler.engine().settings.ping_timeout.min(LINGER_MAX);
    let _ = tokio::time::timeout(linger, session.finished.cancelled()).await;
    handler.finish(&session);
}

/// Heartbeat and deadlines until the session closes.
async fn tick<H: Handler>(handler: &H, session: &Arc<Session<H::Data>>) {
    let opened = Instant::now();
    let mut next_ping = opened + handler.engine().settings.ping_interval;
    let mut pong_deadline: Option<Instant> = None;
    loop {
        let mut wake = pong_deadline.unwrap_or(next_ping);
        let upper = handler.deadline(session, opened);
        if let Some(at) = upper {
            wake = wake.min(at);
        }
        tokio::select! {
            () = session.closed.cancelled() => return,
            () = session.pong.notified() => {
                if pong_deadline.take().is_some() {
                    next_ping = Instant::now() + handler.engine().settings.ping_interval;
                }
                continue;
            }
            () = session.changed.notified() => continue,
            () = sleep_until(wake) => {}
        }
        let now = Instant::now();
        if pong_deadline.is_some_and(|d| now >= d) {
            tracing::debug!(sid = %session.sid, "no pong within ping_timeout");
            handler.close(session, Close::PingTimeout);
            return;
        }
        if pong_deadline.is_none() && now >= next_ping {
            match session.push_text("2") {
                Ok(()) | Err(PushError::Closed) => {}
                Err(PushError::Full) => {
                    handler.close(session, Close::SlowConsumer);
                    return;
                }
            }
            pong_deadline = Some(now + handler.engine().settings.ping_timeout);
        }
        if upper.is_some_and(|at| now >= at) && !handler.deadline_reached(session, opened) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::config::Rate;
    use crate::fake::Fake;
    use crate::frame::{Outgoing, Transport};

    fn fake() -> Arc<Fake> {
        Fake::new(Rate {
            per_sec: 0,
            burst: 0,
        })
    }

    /// The heartbeat of the default settings.
    struct Beat {
        ping_interval: Duration,
        ping_timeout: Duration,
    }

    const BEAT: Beat = Beat {
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
    };

    fn session() -> Arc<Session<()>> {
        Arc::new(Session::new(
            Arc::from("sid"),
            16,
            Transport::Polling,
            Arc::new(AtomicU64::new(0)),
            (),
        ))
    }

    fn queued(s: &Session<()>) -> Vec<String> {
        let mut rx = s.try_reader().unwrap();
        std::iter::from_fn(|| rx.try_recv())
            .map(|f| match f {
                Outgoing::Text(t) => t.as_str().to_owned(),
                Outgoing::Binary(_) => "binary".to_owned(),
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_answers_no_ping_is_closed_for_ping_timeout() {
        let fake = fake();
        let s = session();
        let driver = tokio::spawn(run(fake.clone(), s.clone()));
        tokio::time::sleep(BEAT.ping_interval + Duration::from_millis(1)).await;
        assert_eq!(queued(&s), ["2"], "a ping after ping_interval");
        assert!(fake.closed.lock().is_empty());
        tokio::time::sleep(BEAT.ping_timeout).await;
        assert_eq!(*fake.closed.lock(), [Close::PingTimeout]);
        driver.await.unwrap();
        assert!(s.finished.is_cancelled(), "the driver finishes the session");
    }

    #[tokio::test(start_paused = true)]
    async fn pongs_keep_the_session_open() {
        let fake = fake();
        let s = session();
        let driver = tokio::spawn(run(fake.clone(), s.clone()));
        for _ in 0..5 {
            tokio::time::sleep(BEAT.ping_interval + Duration::from_millis(1)).await;
            assert_eq!(queued(&s), ["2"]);
            s.pong.notify_one();
        }
        assert!(fake.closed.lock().is_empty(), "{:?}", fake.closed.lock());
        assert!(!driver.is_finished());
        fake.close(&s, Close::ClientClose);
        s.finished.cancel();
        driver.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_upper_layers_deadline_is_kept() {
        let fake = Fake::with_deadline(Duration::from_secs(3));
        let s = session();
        let driver = tokio::spawn(run(fake.clone(), s.clone()));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(fake.reached.load(std::sync::atomic::Ordering::Relaxed), 0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(fake.reached.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(*fake.closed.lock(), [Close::TransportClose]);
        driver.await.unwrap();
    }
}
