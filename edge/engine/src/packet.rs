//! One packet from the client on an established transport: the packet rate of its address,
//! pongs, the close packet, and messages for the layer above.

use std::sync::Arc;

use herald_codec::engine::Packet;

use crate::handler::{Close, Handler};
use crate::limits::Limit;
use crate::session::Session;

/// What the transport does after a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The session is over (client close or protocol error); it has been closed.
    Closed,
}

/// Handles one packet received from the client.
pub async fn on_packet<H: Handler>(
    handler: &Arc<H>,
    session: &Arc<Session<H::Data>>,
    packet: Packet,
) -> Flow {
    if let Some(a) = session.admitted.get()
        && !handler.engine().limits.allow_packet(a)
    {
        handler.engine().limits.refuse(
            Limit::MessageRate,
            Some(a.ip()),
            "packets over messages_per_ip_per_sec: disconnecting the session",
        );
        handler.close(session, Close::RateLimited);
        return Flow::Closed;
    }
    let result = match packet {
        Packet::Pong(_) => {
            session.pong.notify_one();
            Ok(())
        }
        Packet::Message(text) => handler.message(session, text).await,
        Packet::Binary(bin) => handler.binary(session, bin).await,
        Packet::Close => {
            // The client closed its engine on purpose; nothing is left for it to fetch.
            handler.close(session, Close::ClientClose);
            handler.finish(session);
            return Flow::Closed;
        }
        Packet::Noop => Ok(()),
        Packet::Open(_) | Packet::Ping(_) | Packet::Upgrade => {
            malformed(&**handler, session, &"unexpected engine.io packet");
            return Flow::Closed;
        }
    };
    match result {
        Ok(()) => Flow::Continue,
        Err(e) => {
            malformed(&**handler, session, &e);
            Flow::Closed
        }
    }
}

/// A protocol error closes the session.
pub fn malformed<H: Handler>(
    handler: &H,
    session: &Arc<Session<H::Data>>,
    error: &dyn std::fmt::Display,
) {
    tracing::info!(sid = %session.sid, error = %error, "protocol error: closing the session");
    handler.close(session, Close::ParseError);
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::config::Rate;
    use crate::fake::{Fake, session};

    const UNLIMITED: Rate = Rate {
        per_sec: 0,
        burst: 0,
    };

    #[tokio::test]
    async fn messages_reach_the_handler_and_a_close_packet_ends_the_session() {
        let fake = Fake::new(UNLIMITED);
        let s = session(&fake);
        assert_eq!(
            on_packet(&fake, &s, Packet::Message("40".into())).await,
            Flow::Continue
        );
        let bin = Packet::Binary(Bytes::from_static(b"abc"));
        assert_eq!(on_packet(&fake, &s, bin).await, Flow::Continue);
        assert_eq!(on_packet(&fake, &s, Packet::Noop).await, Flow::Continue);
        assert_eq!(*fake.seen.lock(), ["40", "binary 3"]);
        assert_eq!(on_packet(&fake, &s, Packet::Close).await, Flow::Closed);
        assert_eq!(*fake.closed.lock(), [Close::ClientClose]);
        assert!(s.closed_by_client());
        assert!(s.finished.is_cancelled());
    }

    #[tokio::test]
    async fn a_refused_message_or_a_server_packet_from_the_client_is_a_parse_error() {
        let fake = Fake::new(UNLIMITED);
        let s = session(&fake);
        assert_eq!(
            on_packet(&fake, &s, Packet::Message("bad".into())).await,
            Flow::Closed
        );
        assert_eq!(*fake.closed.lock(), [Close::ParseError]);
        let s = session(&fake);
        assert_eq!(on_packet(&fake, &s, Packet::Upgrade).await, Flow::Closed);
        assert_eq!(*fake.closed.lock(), [Close::ParseError, Close::ParseError]);
    }

    #[tokio::test]
    async fn packets_over_the_address_rate_close_the_session_as_rate_limited() {
        let fake = Fake::new(Rate {
            per_sec: 1,
            burst: 2,
        });
        let s = session(&fake);
        for _ in 0..2 {
            assert_eq!(on_packet(&fake, &s, Packet::Noop).await, Flow::Continue);
        }
        assert_eq!(on_packet(&fake, &s, Packet::Noop).await, Flow::Closed);
        assert_eq!(*fake.closed.lock(), [Close::RateLimited]);
        assert_eq!(crate::fake::refused(&fake), [(Limit::MessageRate, 1)]);
    }
}
