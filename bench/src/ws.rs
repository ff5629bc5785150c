//! Minimal WebSocket (RFC 6455) framing shared by the load generator and the floor peer:
//! parse one frame (unmasking in place), encode text / control frames, build the upgrade request.

use std::ops::Range;

pub const OP_TEXT: u8 = 0x1;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// A frame found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub opcode: u8,
    pub fin: bool,
    /// Where the (unmasked) payload lies in the buffer.
    pub payload: Range<usize>,
    /// Bytes the whole frame takes.
    pub len: usize,
}

/// Why a frame could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    TooLarge(u64),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLarge(n) => write!(f, "frame of {n} bytes is too large"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Parses the frame at the start of `buf`; `Ok(None)` when more bytes are needed.
/// A masked payload is unmasked in place.
pub fn parse(buf: &mut [u8], max: usize) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    let opcode = buf[0] & 0x0F;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7F {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b), 10)
        }
        n => (u64::from(n), 2),
    };
    if len > max as u64 {
        return Err(FrameError::TooLarge(len));
    }
    let len = len as usize;
    let mask = if masked {
        if buf.len() < at + 4 {
            return Ok(None);
        }
        let m = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(m)
    } else {
        None
    };
    if buf.len() < at + len {
        return Ok(None);
    }
    if let Some(m) = mask {
        for (i, b) in buf[at..at + len].iter_mut().enumerate() {
            *b ^= m[i & 3];
        }
    }
    Ok(Some(Frame {
        opcode,
        fin,
        payload: at..at + len,
        len: at + len,
    }))
}

fn header(out: &mut Vec<u8>, opcode: u8, len: usize, masked: bool) {
    out.push(0x80 | opcode);
    let m = if masked { 0x80 } else { 0 };
    if len < 126 {
        out.push(m | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends a client (masked) frame.
pub fn encode_masked(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    header(out, opcode, payload.len(), true);
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
}

/// Appends a server (unmasked) frame.
#[cfg(test)]
pub fn encode_unmasked(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    header(out, opcode, payload.len(), false);
    out.extend_from_slice(payload);
}

/// The HTTP/1.1 request that opens an Engine.IO v4 WebSocket transport.
pub fn upgrade_request(host: &str) -> String {
    format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: aGVyYWxkLWJlbmNoLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Index just past the `\r\n\r\n` that ends an HTTP head, if present.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_round_trip_of_every_length_class() {
        for n in [0usize, 5, 125, 126, 300, 70_000] {
            let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let mut out = Vec::new();
            encode_masked(&mut out, OP_TEXT, &payload, [1, 2, 3, 4]);
            let f = parse(&mut out, 1 << 20).unwrap().unwrap();
            assert_eq!(f.opcode, OP_TEXT);
            assert!(f.fin);
            assert_eq!(f.len, out.len());
            assert_eq!(&out[f.payload], &payload[..]);
        }
    }

    #[test]
    fn partial_frames_need_more_bytes_and_limits_hold() {
        let mut out = Vec::new();
        encode_unmasked(&mut out, OP_TEXT, b"42[\"x\"]");
        for cut in 0..out.len() {
            assert_eq!(parse(&mut out[..cut].to_vec(), 100).unwrap(), None);
        }
        assert_eq!(parse(&mut out, 3), Err(FrameError::TooLarge(7)));
    }
}
