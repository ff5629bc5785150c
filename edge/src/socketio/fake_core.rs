//! A scripted core for the Socket.IO layer's tests: it records every message it gets on a channel
//! the test reads, and answers requests as the test's script says (or is out of reach).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use herald_proto::v1::{Applied, link_request::Msg};
use tokio::sync::mpsc;

use crate::socketio::core::{Core, CoreError};

/// Most messages recorded and not read yet; a test that lets more pile up fails loudly.
const RECORDED: usize = 256;

/// A message the core got, and how it was sent.
#[derive(Debug)]
pub(crate) enum Got {
    /// A request; `limit` is how long its sender waits for the `Applied`.
    Request { msg: Msg, limit: Duration },
    /// A relay sent without waiting.
    Relay(Msg),
    /// A message owed to the core.
    Owed(Msg),
}

/// The core's answer to one request, possibly after the test let it go.
pub(crate) type Answer = BoxFuture<'static, Result<Applied, CoreError>>;

/// An answer given at once.
pub(crate) fn now(answer: Result<Applied, CoreError>) -> Answer {
    Box::pin(futures::future::ready(answer))
}

type Script = Box<dyn Fn(&Msg) -> Answer + Send + Sync>;

/// The fake core; see the module docs.
pub(crate) struct FakeCore {
    got: mpsc::Sender<Got>,
    /// How requests are answered; `None`: the core is out of reach.
    script: Option<Script>,
}

impl FakeCore {
    /// A reachable core answering each request with `script(request)`; the receiver gets every
    /// message it is sent.
    pub fn new(
        script: impl Fn(&Msg) -> Answer + Send + Sync + 'static,
    ) -> (Arc<Self>, mpsc::Receiver<Got>) {
        Self::build(Some(Box::new(script)))
    }

    /// A reachable core applying every request.
    pub fn applying() -> (Arc<Self>, mpsc::Receiver<Got>) {
        Self::new(|_| now(Ok(Applied::default())))
    }

    /// A core that cannot be reached: waits and requests fail with `Unavailable`.
    pub fn unavailable() -> (Arc<Self>, mpsc::Receiver<Got>) {
        Self::build(None)
    }

    fn build(script: Option<Script>) -> (Arc<Self>, mpsc::Receiver<Got>) {
        let (got, rx) = mpsc::channel(RECORDED);
        (Arc::new(FakeCore { got, script }), rx)
    }

    /// Records `got` for the test; a test that dropped its receiver reads nothing, and one that
    /// let too much pile up fails loudly.
    fn record(&self, got: Got) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.got.try_send(got) {
            panic!("the fake core's record is full: read what it got");
        }
    }
}

impl Core for FakeCore {
    fn wait_up(&self) -> BoxFuture<'_, Result<(), CoreError>> {
        let up = if self.script.is_some() {
            Ok(())
        } else {
            Err(CoreError::Unavailable)
        };
        Box::pin(futures::future::ready(up))
    }

    fn request_applied(
        &self,
        msg: Msg,
        limit: Duration,
    ) -> BoxFuture<'_, Result<Applied, CoreError>> {
        let answer = match &self.script {
            Some(script) => script(&msg),
            None => now(Err(CoreError::Unavailable)),
        };
        self.record(Got::Request { msg, limit });
        answer
    }

    fn send_relay(&self, msg: Msg) -> bool {
        self.record(Got::Relay(msg));
        self.script.is_some()
    }

    fn send_owed(&self, msg: Msg) {
        self.record(Got::Owed(msg));
    }
}

/// The next message the core got, waiting for it with a generous deadline.
pub(crate) async fn next_got(rx: &mut mpsc::Receiver<Got>) -> Got {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a message for the core in time")
        .expect("the fake core is alive")
}
