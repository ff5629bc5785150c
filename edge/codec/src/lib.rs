//! Herald's pure Engine.IO v4 + Socket.IO v5 packet codec: text/bytes in, packets out; no I/O, no async, and no
//! panics on any input.
//!
//! - [`engine`]: Engine.IO frames, polling payloads and the OPEN handshake.
//! - [`socket`]: Socket.IO packets and binary attachment reassembly.
//! - [`event`]: events/acks as name + args, and the hot-path frame builders for the edge.
//! - [`ws`]: RFC 6455 WebSocket framing: handshake accept key, server frame encoding, client frame decoding.

pub mod engine;
pub mod error;
pub mod event;
mod json_text;
pub mod socket;
pub mod ws;

pub use engine::Handshake;
pub use error::CodecError;
pub use event::{
    Arg, Frame, ack_from_packet, encode_ack, encode_connect_error, encode_connect_ok,
    encode_disconnect, encode_event, event_from_packet, is_reserved_event,
};
pub use socket::{BinaryAssembly, Complete, PacketKind};
