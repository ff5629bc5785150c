//! Recognizing the websocket requests a server answers without an HTTP stack: a valid
//! `GET /socket.io/?EIO=4&transport=websocket` (a new session, or the upgrade of a polling one)
//! whose origin is allowed, and serving it: the `101` and the Engine.IO open packet go out in one
//! write, and the connection's task becomes the websocket's. Anything it does not fully recognize
//! is left to the HTTP stack, which serves it or answers the error.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::BytesMut;
use herald_codec::ws::{self, Opcode};

use crate::frame::Transport;
use crate::handler::{Close, Handler};
use crate::handshake::{bearer_value, switching_head, upgrade_accept};
use crate::origin::Origins;
use crate::peer::TrustedProxies;
use crate::session::Session;
use crate::sessions::{self, Sessions};
use crate::stream::Stream;
use crate::ws::{Conn, abandon, refuse_upgraded, serve, upgraded, write_all, write_refusal};

/// A websocket request taken over from the HTTP stack.
pub enum Takeover<D> {
    /// A new websocket-only session from `ip` (the client's, behind trusted proxies), with the
    /// request's bearer credential if any.
    Open {
        accept: String,
        token: Option<Box<str>>,
        ip: IpAddr,
    },
    /// The upgrade of a polling session.
    Upgrade {
        accept: String,
        session: Arc<Session<D>>,
    },
    /// A second websocket for a session that already has one (or is getting one): accepted, then
    /// closed, as the reference server does.
    Refuse { accept: String },
}

/// What the recognition reads of the server.
pub struct Accepting<'a, D> {
    pub origins: &'a Origins,
    pub proxies: &'a TrustedProxies,
    pub sessions: &'a Sessions<D>,
    /// Whether new sessions are accepted (not while shutting down).
    pub new_sessions: bool,
}

/// The takeover for a request head from `peer`, if it is a valid websocket request the fast path
/// handles (anything else, refusals included, is for the HTTP stack).
pub fn recognize<D>(
    req: &httparse::Request<'_, '_>,
    peer: IpAddr,
    at: &Accepting<'_, D>,
) -> Option<Takeover<D>> {
    // HTTP/1.0 has no upgrade.
    if req.method? != "GET" || req.version? != 1 {
        return None;
    }
    let (route, query) = req.path?.split_once('?')?;
    // Escaped values are left to the HTTP stack's query parser.
    if !matches!(route, "/socket.io/" | "/socket.io") || query.contains(['%', '+']) {
        return None;
    }
    let (mut eio, mut transport, mut sid) = (None, None, None);
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("EIO", v)) => eio = Some(v),
            Some(("transport", v)) => transport = Some(v),
            Some(("sid", v)) => sid = Some(v),
            _ => {}
        }
    }
    if eio != Some("4") || transport != Some("websocket") {
        return None;
    }
    let headers = req.headers.iter().map(|h| (h.name, h.value));
    let origin = headers
        .clone()
        .find(|(n, _)| n.eq_ignore_ascii_case("origin"))
        .map(|(_, v)| v);
    if !at.origins.allows(origin) {
        return None;
    }
    let accept = upgrade_accept(headers.clone())?;
    match sid {
        None if !at.new_sessions => None,
        None => {
            let forwarded = headers
                .clone()
                .filter(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-for"))
                .map(|(_, v)| v);
            let ip = at.proxies.client_ip(peer, forwarded);
            let token = headers
                .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .find_map(|(_, v)| bearer_value(std::str::from_utf8(v).ok()?));
            Some(Takeover::Open { accept, token, ip })
        }
        Some(sid) => {
            let session = at.sessions.get(sid)?;
            Some(if session.transport() == Transport::Polling {
                Takeover::Upgrade { accept, session }
            } else {
                Takeover::Refuse { accept }
            })
        }
    }
}

/// Serves a taken-over connection until its session ends; `rest` is what the client sent after
/// its request head.
pub async fn run<H: Handler>(
    handler: &Arc<H>,
    stream: Stream,
    rest: BytesMut,
    t: Takeover<H::Data>,
) {
    match t {
        Takeover::Open { accept, token, ip } => {
            let session = match sessions::start(handler, Transport::Websocket, token, ip) {
                Ok(s) => s,
                Err(refusal) => {
                    Box::pin(write_refusal(&stream, refusal)).await;
                    return;
                }
            };
            let mut out = switching_head(&accept);
            let hello = handler.engine().open_packet(&session.sid, false);
            out.extend_from_slice(&ws::frame(Opcode::Text, hello.as_bytes()));
            if write_all(&stream, &out).await.is_err() {
                handler.close(&session, Close::TransportError);
                return;
            }
            serve(
                handler,
                &session,
                Conn::for_handler(stream, rest, &**handler),
                None,
            )
            .await;
        }
        // The rarer cases are boxed: the task is sized for its largest state, and every idle
        // websocket would otherwise pay for theirs.
        Takeover::Upgrade { accept, session } => {
            Box::pin(async move {
                session.set_transport(Transport::Upgrading);
                if write_all(&stream, &switching_head(&accept)).await.is_err() {
                    abandon(&session);
                    return;
                }
                upgraded(
                    handler,
                    session,
                    Conn::for_handler(stream, rest, &**handler),
                )
                .await;
            })
            .await;
        }
        Takeover::Refuse { accept } => {
            Box::pin(async move {
                if write_all(&stream, &switching_head(&accept)).await.is_ok() {
                    refuse_upgraded(stream).await;
                }
            })
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    fn with<R>(head: &str, f: impl FnOnce(&httparse::Request<'_, '_>) -> R) -> R {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        assert!(req.parse(head.as_bytes()).unwrap().is_complete());
        f(&req)
    }

    fn recognized(head: &str, at: &Accepting<'_, ()>) -> Option<Takeover<()>> {
        with(head, |req| recognize(req, "10.0.0.1".parse().unwrap(), at))
    }

    #[test]
    fn a_valid_websocket_request_opens_a_session_with_its_bearer_token() {
        let (origins, proxies, sessions) = (
            Origins::default(),
            TrustedProxies::default(),
            Sessions::default(),
        );
        let at = Accepting {
            origins: &origins,
            proxies: &proxies,
            sessions: &sessions,
            new_sessions: true,
        };
        let head = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n{UPGRADE}Authorization: Bearer abc\r\n\r\n"
        );
        match recognized(&head, &at) {
            Some(Takeover::Open { accept, token, ip }) => {
                assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
                assert_eq!(token.as_deref(), Some("abc"));
                assert_eq!(ip, "10.0.0.1".parse::<IpAddr>().unwrap());
            }
            _ => panic!("an open takeover"),
        }
        // Not while shutting down; not for polling, another version, an escaped query or a plain GET.
        let closing = Accepting {
            new_sessions: false,
            ..at
        };
        assert!(recognized(&head, &closing).is_none());
        for other in [
            format!("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n{UPGRADE}\r\n"),
            format!("GET /socket.io/?EIO=3&transport=websocket HTTP/1.1\r\n{UPGRADE}\r\n"),
            format!("GET /socket.io/?EIO=4&transport=web%73ocket HTTP/1.1\r\n{UPGRADE}\r\n"),
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        ] {
            assert!(recognized(&other, &closing).is_none(), "{other}");
            assert!(
                recognized(
                    &other,
                    &Accepting {
                        new_sessions: true,
                        ..closing
                    }
                )
                .is_none(),
                "{other}"
            );
        }
    }

    #[test]
    fn a_known_sid_upgrades_a_polling_session_once_and_an_unknown_one_is_left_alone() {
        let (origins, proxies) = (Origins::default(), TrustedProxies::default());
        let fake = crate::fake::Fake::new(crate::config::Rate {
            per_sec: 0,
            burst: 0,
        });
        let session = crate::sessions::open(
            &fake,
            Session::new(Arc::from("s1"), 16, Transport::Polling, Arc::default(), ()),
            "10.0.0.1".parse().unwrap(),
        )
        .unwrap();
        let at = Accepting {
            origins: &origins,
            proxies: &proxies,
            sessions: &fake.engine.sessions,
            new_sessions: true,
        };
        let head = |sid: &str| {
            format!("GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\n{UPGRADE}\r\n")
        };
        assert!(matches!(
            recognized(&head("s1"), &at),
            Some(Takeover::Upgrade { .. })
        ));
        session.set_transport(Transport::Websocket);
        assert!(matches!(
            recognized(&head("s1"), &at),
            Some(Takeover::Refuse { .. })
        ));
        assert!(recognized(&head("nope"), &at).is_none());
    }
}
