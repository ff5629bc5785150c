//! Control of a core that runs alone: there is no other node, so every connection and handler
//! is local and a command addressed elsewhere cannot be delivered.

use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, ready};

use super::{Body, Command, Control, ControlError, PeerStats, Reply};

/// Control with no peers.
#[derive(Debug, Default)]
pub struct MemoryControl;

impl Control for MemoryControl {
    fn node(&self) -> u32 {
        0
    }

    fn alone(&self) -> bool {
        true
    }

    fn tell(&self, node: u32, _body: Body) -> BoxFuture<'_, Result<(), ControlError>> {
        ready(Err(ControlError::NoReply(node))).boxed()
    }

    fn ask(
        &self,
        node: u32,
        _body: Body,
        _timeout: Duration,
    ) -> BoxFuture<'_, Result<Reply, ControlError>> {
        ready(Err(ControlError::NoReply(node))).boxed()
    }

    fn reply<'a>(
        &'a self,
        _to: &'a Command,
        _reply: Reply,
    ) -> BoxFuture<'a, Result<(), ControlError>> {
        ready(Ok(())).boxed()
    }

    fn count_handlers<'a>(
        &'a self,
        _ns: &'a str,
        _event: &'a str,
        _delta: i64,
    ) -> BoxFuture<'a, Result<(), ControlError>> {
        // The process's own registry of handlers is the whole picture.
        ready(Ok(())).boxed()
    }

    fn handler_nodes<'a>(
        &'a self,
        _ns: &'a str,
        _event: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u32>, ControlError>> {
        ready(Ok(Vec::new())).boxed()
    }

    fn peers(&self) -> BoxFuture<'_, Result<Vec<PeerStats>, ControlError>> {
        ready(Ok(Vec::new())).boxed()
    }
}
