//! What the Socket.IO layer needs from a core: the `Core` interface (requests answered with
//! `Applied`, fire-and-forget relays, owed messages), its error, and the layer's time limits.

use std::time::Duration;

use futures::future::BoxFuture;
use herald_proto::v1::{Applied, Arg, link_request::Msg};

/// How long a request waits for its `Applied`.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a forwarded client event waits for its handler's reply (the core bounds it first).
pub(crate) const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a request to the core did not take effect (clients see the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CoreError {
    #[error("core unavailable")]
    Unavailable,
    #[error("{0}")]
    Refused(String),
    #[error("core did not answer in time")]
    Timeout,
}

/// A core as the Socket.IO layer sees it (in production, the edge's link to one).
pub(crate) trait Core: Send + Sync + 'static {
    /// Waits a little for a core that is starting or reconnecting; `Unavailable` when it stays
    /// out of reach.
    fn wait_up(&self) -> BoxFuture<'_, Result<(), CoreError>>;

    /// Sends `msg` and waits up to `limit` for the core's `Applied` (an error in it is `Refused`).
    fn request_applied(
        &self,
        msg: Msg,
        limit: Duration,
    ) -> BoxFuture<'_, Result<Applied, CoreError>>;

    /// Sends a relay event without an ack, without waiting; returns whether it went out (it is
    /// dropped when the core cannot take it now).
    fn send_relay(&self, msg: Msg) -> bool;

    /// Sends a message the core must get (a close notice, a client's ack), never dropping it.
    fn send_owed(&self, msg: Msg);

    /// Sends `msg` and waits until the core applied it.
    fn request(&self, msg: Msg) -> BoxFuture<'_, Result<(), CoreError>> {
        Box::pin(async move { self.request_applied(msg, REQUEST_TIMEOUT).await.map(|_| ()) })
    }

    /// Sends `msg` and waits up to `limit` for the core's `Applied`; returns its args.
    fn request_reply(
        &self,
        msg: Msg,
        limit: Duration,
    ) -> BoxFuture<'_, Result<Vec<Arg>, CoreError>> {
        Box::pin(async move { self.request_applied(msg, limit).await.map(|a| a.args) })
    }
}
