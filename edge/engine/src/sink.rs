//! A websocket's direct write path: whoever produces a frame (a fan-out, a reply, a ping) writes it
//! to the socket at once, with no task switch, while nothing is waiting before it; what the kernel
//! does not take at once waits here, bounded, for the transport's flusher.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::{Bytes, BytesMut};
use herald_codec::ws::{self, Opcode};

use crate::frame::Outgoing;
use crate::stream::Stream;

/// Most buffers handed to one vectored write.
const MAX_SLICES: usize = 64;

/// What became of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The socket took all of it.
    Done,
    /// Some of it waits for the flusher (which must be woken if this is the first to wait).
    Waiting,
    /// The socket failed; nothing more will be written.
    Failed,
}

/// The write side of a websocket (see the module docs).
#[derive(Debug)]
pub struct Sink {
    stream: Arc<Stream>,
    /// Encoded frames not yet (fully) written, with the number of frames each holds.
    pending: VecDeque<(Bytes, usize)>,
    /// Bytes of the first pending buffer already written.
    offset: usize,
    /// Frames in `pending`.
    frames: usize,
    failed: bool,
    /// Frames are being gathered for one write (a batch of deliveries); [`Sink::uncork`] writes them.
    corked: bool,
}

impl Sink {
    pub fn new(stream: Arc<Stream>) -> Self {
        Sink {
            stream,
            pending: VecDeque::new(),
            offset: 0,
            frames: 0,
            failed: false,
            corked: false,
        }
    }

    /// Queues `bytes` without writing, until [`Sink::uncork`]; `true` if the sink was not corked yet
    /// (the caller must uncork it later).
    pub fn cork(&mut self, bytes: Bytes, frames: usize) -> bool {
        let first = !self.corked;
        self.corked = true;
        if !self.failed {
            self.pending.push_back((bytes, frames));
            self.frames = self.frames.saturating_add(frames);
        }
        first
    }

    /// Writes what was gathered, in as few writes as the socket allows; `false` when some of it
    /// waits for the flusher.
    pub fn uncork(&mut self) -> bool {
        self.corked = false;
        let done = matches!(self.flush_some(), Ok(true));
        if done {
            // A burst's buffer is not kept by an idle connection.
            self.pending = VecDeque::new();
        }
        done
    }

    /// Frames waiting for the flusher.
    pub fn waiting(&self) -> usize {
        self.frames
    }

    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Writes `bytes` (holding `frames` frames) now if nothing waits before it, else queues it.
    /// The caller bounds the queue with [`Sink::waiting`].
    pub fn write(&mut self, bytes: Bytes, frames: usize) -> Written {
        if self.failed {
            return Written::Failed;
        }
        if self.pending.is_empty() {
            match self.stream.try_write(&bytes) {
                // A TLS stream may hold some of it encrypted: the flusher sends that first.
                Ok(n) if n >= bytes.len() && self.stream.holds_unsent() => return Written::Waiting,
                Ok(n) if n >= bytes.len() => return Written::Done,
                Ok(n) => self.offset = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.offset = 0,
                Err(_) => {
                    self.failed = true;
                    return Written::Failed;
                }
            }
        }
        self.pending.push_back((bytes, frames));
        self.frames = self.frames.saturating_add(frames);
        Written::Waiting
    }

    /// Writes what the socket takes now. `Ok(true)` once nothing waits (in the sink or, encrypted,
    /// in the TLS stream); `Ok(false)` when the socket is full (wait until it is writable, then
    /// call again).
    pub fn flush_some(&mut self) -> io::Result<bool> {
        if self.failed {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        loop {
            // What the stream already took goes out before anything after it.
            match self.stream.flush_held() {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            }
            if self.pending.is_empty() {
                return Ok(true);
            }
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (i, (buf, _)) in self.pending.iter().take(MAX_SLICES).enumerate() {
                let start = if i == 0 { self.offset } else { 0 };
                slices[i] = IoSlice::new(buf.get(start..).unwrap_or_default());
                count = i + 1;
            }
            let written = match self.stream.try_write_vectored(&slices[..count]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            };
            if written == 0 {
                self.failed = true;
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
            self.advance(written);
        }
    }

    /// Marks `n` more bytes as written.
    fn advance(&mut self, mut n: usize) {
        while let Some((buf, frames)) = self.pending.front() {
            let left = buf.len().saturating_sub(self.offset);
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            self.frames = self.frames.saturating_sub(*frames);
            self.offset = 0;
            self.pending.pop_front();
        }
    }

    /// Gives up every waiting frame but the one partly written (the stream must stay well-formed).
    pub fn drop_unstarted(&mut self) {
        if self.offset == 0 {
            self.pending.clear();
            self.frames = 0;
        } else {
            self.pending.truncate(1);
            self.frames = self.pending.front().map_or(0, |(_, f)| *f);
        }
    }

    /// The socket, for waiting until it is writable.
    pub fn stream(&self) -> &Arc<Stream> {
        &self.stream
    }
}

/// A text frame and its binary attachments as websocket frames, in one buffer.
pub fn wire_frames(text: &str, attachments: &[Bytes]) -> Bytes {
    let len = attachments
        .iter()
        .fold(ws::frame_len(text.len()), |n, b| n + ws::frame_len(b.len()));
    let mut out = BytesMut::with_capacity(len);
    ws::encode_frame(Opcode::Text, text.as_bytes(), &mut out);
    for b in attachments {
        ws::encode_frame(Opcode::Binary, b, &mut out);
    }
    out.freeze()
}

/// Text frames as websocket frames, in one buffer.
pub fn wire_texts(texts: &[Utf8Bytes]) -> Bytes {
    let len = texts.iter().map(|t| ws::frame_len(t.len())).sum();
    let mut out = BytesMut::with_capacity(len);
    for t in texts {
        ws::encode_frame(Opcode::Text, t.as_bytes(), &mut out);
    }
    out.freeze()
}

/// One queued frame as a websocket frame.
pub fn wire_outgoing(f: &Outgoing) -> Bytes {
    match f {
        Outgoing::Text(t) => ws::frame(Opcode::Text, t.as_bytes()),
        Outgoing::Binary(b) => ws::frame(Opcode::Binary, b),
    }
}
