//! What a session sends and how: one outgoing frame, an event's frames encoded once for many
//! sessions, the transport carrying a session, and why a frame was not queued.

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;

use crate::sink::wire_frames;

/// One frame on its way to the client.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// An Engine.IO text packet (`"2"`, `"42[...]"`, ...).
    Text(Utf8Bytes),
    /// A binary attachment.
    Binary(Bytes),
}

/// One event's frames, encoded once and shared by every recipient: the Engine.IO text and its
/// attachments (for polling) and the same as websocket frames in one buffer.
#[derive(Debug, Clone)]
pub struct SharedFrame {
    pub text: Utf8Bytes,
    pub attachments: Vec<Bytes>,
    pub wire: Bytes,
}

impl SharedFrame {
    pub fn new(text: Utf8Bytes, attachments: Vec<Bytes>) -> Self {
        let wire = wire_frames(text.as_str(), &attachments);
        SharedFrame {
            text,
            attachments,
            wire,
        }
    }
}

/// Which transport carries a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Polling,
    /// A websocket is probing; polling still works.
    Upgrading,
    Websocket,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue had no room: the client does not keep up.
    Full,
    /// The session finished while waiting for room: nothing will read the queue any more.
    Closed,
}
