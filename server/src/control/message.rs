//! What nodes say to each other: a command (a client ack, a membership change, a disconnect, a
//! client event for a handler) or a reply, with the sender and a request id; and how arguments
//! and client events travel inside them. Pure: no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use herald_proto::v1::{Arg, ClientEvent};
use prost::Message as _;
use serde::{Deserialize, Serialize};

/// A message on a node's control channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Command {
    /// The sender, to reply to.
    pub from: u32,
    /// Non-zero when the sender waits for a reply.
    pub req: u64,
    pub body: Body,
}

/// What a command asks, or a reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Body {
    /// A client acked an event the receiving node emitted.
    Ack {
        ack_ref: u64,
        conn: String,
        args: Vec<String>,
    },
    /// Join or leave rooms for connections the receiving node holds.
    Membership {
        ns: String,
        conns: Vec<String>,
        rooms: Vec<String>,
        join: bool,
    },
    /// Disconnect connections the receiving node holds.
    Disconnect {
        ns: String,
        conns: Vec<String>,
        reason: String,
    },
    /// A client event for one of the receiving node's handlers.
    Handle { event: String, wants_reply: bool },
    /// The answer to a request.
    Reply(Reply),
}

/// A reply: a count (membership, disconnect), a handler's arguments, or an error.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Reply {
    pub count: u32,
    pub args: Vec<String>,
    pub error: String,
}

/// Arguments as they travel between nodes (each protobuf-encoded, base64).
pub fn encode_args(args: &[Arg]) -> Vec<String> {
    args.iter().map(|a| B64.encode(a.encode_to_vec())).collect()
}

pub fn decode_args(args: &[String]) -> Vec<Arg> {
    args.iter()
        .filter_map(|a| B64.decode(a).ok())
        .filter_map(|b| Arg::decode(b.as_slice()).ok())
        .collect()
}

pub fn encode_event(ev: &ClientEvent) -> String {
    B64.encode(ev.encode_to_vec())
}

pub fn decode_event(s: &str) -> Option<ClientEvent> {
    ClientEvent::decode(B64.decode(s).ok()?.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_proto::v1::arg;

    #[test]
    fn commands_and_args_round_trip() {
        let args = vec![
            Arg {
                value: Some(arg::Value::Json("{\"a\":1}".into())),
            },
            Arg {
                value: Some(arg::Value::Binary(vec![0, 255, 7].into())),
            },
        ];
        let cmd = Command {
            from: 7,
            req: 3,
            body: Body::Ack {
                ack_ref: 1 << 40,
                conn: "c1".into(),
                args: encode_args(&args),
            },
        };
        let back: Command = serde_json::from_slice(&serde_json::to_vec(&cmd).unwrap()).unwrap();
        assert_eq!(back, cmd);
        let Body::Ack { args: a, .. } = back.body else {
            unreachable!()
        };
        assert_eq!(decode_args(&a), args);
        assert!(decode_event("not base64 !").is_none());
    }
}
