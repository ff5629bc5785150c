//! The Socket.IO layer's side of the engine's handler: client messages to the Socket.IO layer, the
//! Socket.IO deadlines of a session (its CONNECT, its tokens' expiry), and closing a session
//! the engine gives up on through both layers.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use herald_engine::{Close, Engine, Handler};
use tokio::time::Instant;

use crate::socketio::ProtocolError;
use crate::socketio::reason::Reason;
use crate::socketio::session::{Session, SessionExt, SioData};
use crate::socketio::state::Sio;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Sio {
    /// When the first socket's token is refused (exp plus the leeway, as at connect), and its
    /// namespace; a far-future exp never wakes the driver rather than overflowing the clock.
    fn expiry(&self, session: &Session) -> Option<(u64, Arc<str>)> {
        session
            .earliest_exp()
            .map(|(exp, ns)| (self.config.verifier.refused_from(exp), ns))
    }
}

impl Handler for Sio {
    type Data = SioData;
    type Error = ProtocolError;

    fn engine(&self) -> &Engine<SioData> {
        &self.engine
    }

    fn session_data(&self, bearer: Option<Box<str>>) -> SioData {
        SioData::new(bearer)
    }

    fn accepting(&self) -> bool {
        !self.shutdown.is_cancelled()
    }

    /// Counts the session and starts its driver (heartbeat and deadlines) as one of the edge's
    /// tasks.
    fn opened(self: &Arc<Self>, session: &Arc<Session>) {
        self.metrics.session_opened(session.transport());
        self.engine
            .tasks
            .spawn(herald_engine::driver::run(self.clone(), session.clone()));
    }

    async fn message(
        self: &Arc<Self>,
        session: &Arc<Session>,
        text: String,
    ) -> Result<(), ProtocolError> {
        crate::socketio::on_message(self, session, &text).await
    }

    async fn binary(
        self: &Arc<Self>,
        session: &Arc<Session>,
        data: Bytes,
    ) -> Result<(), ProtocolError> {
        crate::socketio::on_binary(self, session, data).await
    }

    fn deadline(&self, session: &Session, opened: Instant) -> Option<Instant> {
        let connect = (!session.ever_connected()).then(|| opened + self.config.connect_timeout);
        let expiry = self.expiry(session).and_then(|(exp, _)| {
            Instant::now().checked_add(Duration::from_secs(exp.saturating_sub(unix_now())))
        });
        match (connect, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn deadline_reached(&self, session: &Arc<Session>, opened: Instant) -> bool {
        if !session.ever_connected() && Instant::now() >= opened + self.config.connect_timeout {
            tracing::debug!(sid = %session.sid, "no socket.io CONNECT within connect_timeout");
            session.close(self, Reason::ConnectTimeout);
            return false;
        }
        if let Some((exp, ns)) = self.expiry(session)
            && unix_now() >= exp
        {
            crate::socketio::commands::kick(self, session, &ns, Reason::TokenExpired);
        }
        true
    }

    fn close(&self, session: &Arc<Session>, reason: Close) {
        match reason {
            Close::SlowConsumer | Close::RateLimited => {
                session.disconnect_all(self, reason.into(), false);
            }
            other => session.close(self, other.into()),
        }
    }

    fn finish(&self, session: &Session) {
        SessionExt::finish(session, self);
    }
}
