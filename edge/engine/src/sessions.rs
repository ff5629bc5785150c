//! The table of a server's open sessions by sid: opening a session (admitted by the limits,
//! registered, announced to the handler) and finishing it (out of the table, its limits released).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Refusal;
use crate::frame::Transport;
use crate::handler::Handler;
use crate::ids::random_id;
use crate::limits::Limits;
use crate::session::Session;

/// The open sessions, by sid.
pub struct Sessions<D> {
    map: Mutex<HashMap<Arc<str>, Arc<Session<D>>>>,
}

impl<D> Default for Sessions<D> {
    fn default() -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<D> Sessions<D> {
    /// The session of `sid`, if open.
    pub fn get(&self, sid: &str) -> Option<Arc<Session<D>>> {
        self.map.lock().get(sid).cloned()
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }

    /// Every open session.
    pub fn all(&self) -> Vec<Arc<Session<D>>> {
        self.map.lock().values().cloned().collect()
    }

    /// Takes a closed session out of the table and releases its place in `limits` (idempotent).
    pub fn finish(&self, session: &Session<D>, limits: &Limits) {
        let removed = self.map.lock().remove(&session.sid).is_some();
        if removed && let Some(a) = session.admitted.get() {
            limits.release(a);
        }
        session.finished.cancel();
    }
}

/// Opens a new session on `transport` for a client at `ip` (a random sid, the handler's data
/// for the handshake's `bearer` credential); refused when a limit says so.
pub fn start<H: Handler>(
    handler: &Arc<H>,
    transport: Transport,
    bearer: Option<Box<str>>,
    ip: IpAddr,
) -> Result<Arc<Session<H::Data>>, Refusal> {
    let engine = handler.engine();
    let session = Session::new(
        Arc::from(random_id()),
        engine.settings.outbound_queue,
        transport,
        engine.frames_sent.clone(),
        handler.session_data(bearer),
    );
    open(handler, session, ip)
}

/// Opens `session` for a client at `ip`: refused when a limit says so, else registered in the
/// handler's table and announced to it ([`Handler::opened`]).
pub fn open<H: Handler>(
    handler: &Arc<H>,
    session: Session<H::Data>,
    ip: IpAddr,
) -> Result<Arc<Session<H::Data>>, Refusal> {
    let engine = handler.engine();
    let admitted = engine.limits.admit(ip)?;
    let session = Arc::new(session);
    let _ = session.admitted.set(admitted);
    engine
        .sessions
        .map
        .lock()
        .insert(session.sid.clone(), session.clone());
    handler.opened(&session);
    Ok(session)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::config::Rate;
    use crate::fake::Fake;
    use crate::limits::Limit;

    fn new_session(sid: &str) -> Session<()> {
        Session::new(
            Arc::from(sid),
            16,
            Transport::Polling,
            Arc::new(AtomicU64::new(0)),
            (),
        )
    }

    #[test]
    fn sessions_open_within_the_limits_and_finishing_frees_their_place() {
        let unlimited = Rate {
            per_sec: 0,
            burst: 0,
        };
        let fake = Arc::new(Fake::with_limits(Limits::new(0, 1, unlimited, unlimited)));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let a = open(&fake, new_session("a"), ip).unwrap();
        assert!(fake.engine.sessions.get("a").is_some());
        assert_eq!(*fake.opened.lock(), ["a"]);
        // One session per address: the second is refused and not registered.
        assert!(open(&fake, new_session("b"), ip).is_err());
        assert!(fake.engine.sessions.get("b").is_none());
        assert_eq!(crate::fake::refused(&fake), [(Limit::SessionsPerIp, 1)]);
        fake.engine.sessions.finish(&a, &fake.engine.limits);
        fake.engine.sessions.finish(&a, &fake.engine.limits);
        assert!(a.finished.is_cancelled() && fake.engine.sessions.is_empty());
        open(&fake, new_session("c"), ip).unwrap();
        assert_eq!(fake.engine.sessions.len(), 1);
    }
}
