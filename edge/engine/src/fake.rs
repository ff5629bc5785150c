//! A handler for the engine's tests: it records the messages and closes that reach it, and may
//! keep one deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::config::Rate;
use crate::engine::{Engine, Settings};
use crate::frame::Transport;
use crate::handler::{Close, Handler};
use crate::limits::Limits;
use crate::session::Session;

/// A handler that records what reaches it; a message `bad` is refused. With `after`, each
/// session has one deadline that long after its opening, which closes it (`TransportClose`).
pub struct Fake {
    pub engine: Engine<()>,
    pub after: Option<Duration>,
    /// How many deadlines came.
    pub reached: AtomicU64,
    pub seen: parking_lot::Mutex<Vec<String>>,
    pub closed: parking_lot::Mutex<Vec<Close>>,
    /// The sids announced by `opened`.
    pub opened: parking_lot::Mutex<Vec<String>>,
}

/// No rate limit.
const UNLIMITED: Rate = Rate {
    per_sec: 0,
    burst: 0,
};

impl Fake {
    pub fn new(messages: Rate) -> Arc<Self> {
        Arc::new(Fake::with_limits(Limits::new(0, 0, UNLIMITED, messages)))
    }

    /// A fake without limits whose sessions each have a deadline `after` their opening.
    pub fn with_deadline(after: Duration) -> Arc<Self> {
        let mut fake = Fake::with_limits(Limits::new(0, 0, UNLIMITED, UNLIMITED));
        fake.after = Some(after);
        Arc::new(fake)
    }

    pub fn with_limits(limits: Limits) -> Self {
        let mut engine = Engine::new(Settings {
            max_payload: 100,
            ..Settings::default()
        });
        engine.limits = limits;
        Fake {
            engine,
            after: None,
            reached: AtomicU64::new(0),
            seen: Default::default(),
            closed: Default::default(),
            opened: Default::default(),
        }
    }
}

impl Handler for Fake {
    type Data = ();
    type Error = &'static str;

    fn engine(&self) -> &Engine<()> {
        &self.engine
    }

    fn session_data(&self, _: Option<Box<str>>) {}

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

    fn deadline(&self, _: &Session<()>, opened: Instant) -> Option<Instant> {
        self.after.map(|d| opened + d)
    }

    fn deadline_reached(&self, session: &Arc<Session<()>>, _: Instant) -> bool {
        self.reached.fetch_add(1, Ordering::Relaxed);
        self.close(session, Close::TransportClose);
        false
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
        self.engine.sessions.finish(session, &self.engine.limits);
    }
}

/// The limits that refused something, with how often.
pub fn refused(fake: &Fake) -> Vec<(crate::limits::Limit, u64)> {
    fake.engine
        .limits
        .refusals()
        .filter(|(_, n)| *n > 0)
        .collect()
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
    let _ = s.admitted.set(
        fake.engine
            .limits
            .admit("10.0.0.1".parse().unwrap())
            .unwrap(),
    );
    s
}
