//! Per-user client-event rate: one token bucket shared by a user's sockets of a namespace on this
//! edge (an anonymous socket has one of its own); events over it are refused.

use std::sync::Arc;

use tokio::time::Instant;

use crate::config::NamespaceConfig;
use crate::socketio::relay::TokenBucket;
use crate::socketio::session::Session;
use crate::socketio::state::Sio;

/// The error a refused client event gets as its ack.
pub(crate) const RATE_LIMITED: &str = "rate limited";

/// A bucket shared by the sockets of one user.
pub(crate) type UserRate = Arc<parking_lot::Mutex<TokenBucket>>;

/// The bucket for a new socket of `user` in `cfg`'s namespace: that of one of the user's live
/// sockets on this edge, else a full new one; `None` when the namespace has no limit.
pub(crate) fn bucket_for(sio: &Sio, cfg: &NamespaceConfig, user: Option<&str>) -> Option<UserRate> {
    if cfg.user_event_rate_per_sec == 0 {
        return None;
    }
    let shared = user.and_then(|u| {
        // Read the index first, then the session (never both locks at once).
        let sibling = sio
            .index
            .read()
            .user_connections(&cfg.name, u)
            .next()
            .map(|c| c.value.session.clone());
        sibling?
            .with_socket(&cfg.name, |s| s.user_rate.clone())
            .flatten()
    });
    Some(shared.unwrap_or_else(|| {
        Arc::new(parking_lot::Mutex::new(TokenBucket::new(
            cfg.user_event_rate_per_sec,
            cfg.user_event_burst,
            Instant::now(),
        )))
    }))
}

/// Takes a token for one client event of the socket of `ns`; `false`: its user is over the rate.
pub(crate) fn allow(session: &Session, ns: &str) -> bool {
    let bucket = session.with_socket(ns, |s| s.user_rate.clone()).flatten();
    bucket.is_none_or(|b| b.lock().take(Instant::now()))
}
