//! A handler for the engine's tests: it records the messages and closes that reach it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::time::Instant;

use crate::config::Rate;
use crate::frame::Transport;
use crate::handler::{Close, Handler, Heartbeat, TransportSettings};
use crate::limits::Limits;
use crate::session::Session;
use crate::sessions::Sessions;

/// A handler that records what reaches it; a message `bad` is refused.
pub struct Fake {
    pub limits: Limits,
    pub seen: parking_lot::Mutex<Vec<String>>,
    pub closed: parking_lot::Mutex<Vec<Close>>,
    pub sent: AtomicU64,
    pub sessions: Sessions<()>,
    /// The sids announced by `opened`.
    pub opened: parking_lot::Mutex<Vec<String>>,
}

impl Fake {
    pub fn new(messages: Rate) -> Arc<Self> {
        let none = Rate {
            per_sec: 0,
            burst: 0,
        };
        Arc::new(Fake::with_limits(Limits::new(0, 0, none, messages)))
    }

    pub fn with_limits(limits: Limits) -> Self {
        Fake {
            limits,
            seen: Default::default(),
            closed: Default::default(),
            sent: AtomicU64::new(0),
            sessions: Sessions::default(),
            opened: Default::default(),
        }
    }
}

impl Handler for Fake {
    type Data = ();
    type Error = &'static str;

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat {
            ping_interval: std::time::Duration::from_secs(25),
            ping_timeout: std::time::Duration::from_secs(20),
        }
    }

    fn transport(&self) -> TransportSettings {
        TransportSettings {
            max_payload: 100,
            poll_body_timeout: std::time::Duration::from_secs(10),
        }
    }

    fn frames_sent(&self, frames: u64) {
        self.sent.fetch_add(frames, Ordering::Relaxed);
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn sessions(&self) -> &Sessions<()> {
        &self.sessions
    }

    fn opened(self: &Arc<Self>, session: &Arc<Session<()>>) {
        self.opened.lock().push(session.sid.to_string());
    }

    async fn message(
        self: &Arc<Self>,
        _: &Arc<Session<()>>,
        text: String,
    ) -> Result<(), &'static str> {
        if text == "bad" {
            return Err("refused");
        }
        self.seen.lock().push(text);
        Ok(())
    }

    async fn binary(
        self: &Arc<Self>,
        _: &Arc<Session<()>>,
        data: Bytes,
    ) -> Result<(), &'static str> {
        self.seen.lock().push(format!("binary {}", data.len()));
        Ok(())
    }

    fn deadline(&self, _: &Session<()>, _: Instant) -> Option<Instant> {
        None
    }

    fn deadline_reached(&self, _: &Arc<Session<()>>, _: Instant) -> bool {
        true
    }

    fn close(&self, session: &Arc<Session<()>>, reason: Close) {
        if session
            .begin_close(reason == Close::ClientClose, Vec::new(), false)
            .is_some()
        {
            self.closed.lock().push(reason);
            session.closed.cancel();
        }
    }

    fn finish(&self, session: &Session<()>) {
        self.sessions.finish(session, &self.limits);
    }
}

/// A websocket session admitted by the fake's limits.
pub fn session(fake: &Fake) -> Arc<Session<()>> {
    session_on(fake, Transport::Websocket)
}

/// A session on `transport` admitted by the fake's limits.
pub fn session_on(fake: &Fake, transport: Transport) -> Arc<Session<()>> {
    let s = Arc::new(Session::new(
        Arc::from("sid"),
        16,
        transport,
        Arc::new(AtomicU64::new(0)),
        (),
    ));
    let _ = s
        .admitted
        .set(fake.limits.admit("10.0.0.1".parse().unwrap()).unwrap());
    s
}
