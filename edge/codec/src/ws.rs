//! RFC 6455 WebSocket framing for the server side of the edge: the handshake accept key, server→client frame
//! encoding and an incremental client→server frame decoder; no I/O, no async, and no panics on any input.
//!
//! No extensions are ever negotiated, so any reserved bit is a protocol error. The decoder reassembles fragmented
//! data messages, returns control frames as they come (also in the middle of a fragmented message), unmasks client
//! payloads in place and checks every declared length against the message limit as soon as the header is read.
//! Lengths encoded in more bytes than needed are accepted (the RFC only asks senders to use the minimal form).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use sha1::{Digest, Sha1};
use thiserror::Error;

/// The GUID RFC 6455 appends to `Sec-WebSocket-Key` before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key (SHA-1 of key+GUID, standard base64).
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// Largest payload a control frame (Close, Ping, Pong) may carry.
const MAX_CONTROL_PAYLOAD: usize = 125;
/// FIN bit of the first header byte.
const FIN: u8 = 0x80;
/// RSV1..RSV3 bits of the first header byte.
const RSV: u8 = 0x70;
/// MASK bit of the second header byte.
const MASK: u8 = 0x80;

/// A WebSocket frame opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// 0: continues a fragmented data message.
    Continuation,
    /// 1: first (or only) frame of a UTF-8 text message.
    Text,
    /// 2: first (or only) frame of a binary message.
    Binary,
    /// 8: connection close.
    Close,
    /// 9: ping.
    Ping,
    /// 10: pong.
    Pong,
}

impl Opcode {
    /// The 4-bit wire value.
    const fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
        }
    }

    /// The opcode for a 4-bit wire value, `None` for the reserved ones.
    const fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(Opcode::Continuation),
            1 => Some(Opcode::Text),
            2 => Some(Opcode::Binary),
            8 => Some(Opcode::Close),
            9 => Some(Opcode::Ping),
            10 => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// Close, Ping and Pong.
    const fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// Bytes a final unmasked server frame with `payload_len` bytes takes (header + payload).
pub fn frame_len(payload_len: usize) -> usize {
    let header = if payload_len < 126 {
        2
    } else if payload_len <= usize::from(u16::MAX) {
        4
    } else {
        10
    };
    payload_len.saturating_add(header)
}

/// Appends one final (FIN), unmasked server frame to `out`: 2-byte header for len<126, 126+u16 for <65536, else
/// 127+u64.
pub fn encode_frame(opcode: Opcode, payload: &[u8], out: &mut BytesMut) {
    out.reserve(frame_len(payload.len()));
    out.put_u8(FIN | opcode.bits());
    let len = payload.len();
    if let Some(small) = u8::try_from(len).ok().filter(|&l| l < 126) {
        out.put_u8(small);
    } else if let Ok(medium) = u16::try_from(len) {
        out.put_u8(126);
        out.put_u16(medium);
    } else {
        out.put_u8(127);
        // usize is at most 64 bits on every supported target, so this never saturates in practice.
        out.put_u64(u64::try_from(len).unwrap_or(u64::MAX));
    }
    out.put_slice(payload);
}

/// Convenience: a whole frame as Bytes (exactly sized allocation).
pub fn frame(opcode: Opcode, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(frame_len(payload.len()));
    encode_frame(opcode, payload, &mut out);
    out.freeze()
}

/// A Close frame with a status code and (truncated to fit 125 bytes total, on a char boundary) reason.
pub fn close_frame(code: u16, reason: &str) -> Bytes {
    let max_reason = MAX_CONTROL_PAYLOAD.saturating_sub(2);
    let mut end = reason.len().min(max_reason);
    while !reason.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let reason = reason.as_bytes().get(..end).unwrap_or_default();
    let payload_len = reason.len().saturating_add(2);
    let mut out = BytesMut::with_capacity(frame_len(payload_len));
    out.put_u8(FIN | Opcode::Close.bits());
    // payload_len <= 125, so it always fits the 7-bit length.
    out.put_u8(u8::try_from(payload_len).unwrap_or(125));
    out.put_u16(code);
    out.put_slice(reason);
    out.freeze()
}

/// One complete message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A complete, valid UTF-8 text message (fragments joined).
    Text(String),
    /// A complete binary message (fragments joined).
    Binary(Bytes),
    /// A ping; the server should answer with a pong carrying the same payload.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame: its status code and reason, `None` when the frame had no payload.
    Close(Option<(u16, String)>),
}

/// Why the client's byte stream is not valid RFC 6455 (without extensions). The edge fails the connection with
/// [`WsError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WsError {
    /// A client frame without the MASK bit.
    #[error("client frame is not masked")]
    Unmasked,
    /// RSV1, RSV2 or RSV3 is set but no extension was negotiated.
    #[error("reserved bits {0:#04x} set without a negotiated extension")]
    ReservedBits(u8),
    /// An opcode RFC 6455 reserves (3-7, 11-15).
    #[error("unknown opcode {0}")]
    UnknownOpcode(u8),
    /// A control frame whose payload is longer than 125 bytes.
    #[error("control frame payload longer than 125 bytes")]
    ControlTooLong,
    /// A control frame without FIN.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A continuation frame while no fragmented message is open.
    #[error("continuation frame without a started message")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is still open.
    #[error("new data frame while a fragmented message is open")]
    MessageInterrupted,
    /// A 64-bit payload length with its most significant bit set.
    #[error("64-bit payload length has its top bit set")]
    BadLength,
    /// The message (fragmented message so far plus this frame) is larger than the decoder's limit.
    #[error("message larger than the {limit}-byte limit")]
    TooBig {
        /// The decoder's `max_message`.
        limit: usize,
    },
    /// A text message that is not valid UTF-8.
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// A close frame with a 1-byte payload.
    #[error("close frame payload of 1 byte")]
    CloseTooShort,
    /// A close frame with a status code RFC 6455 (7.4) does not allow on the wire.
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A close frame whose reason is not valid UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
}

impl WsError {
    /// Close code to send: 1002 protocol error, 1007 invalid UTF-8, 1009 too big.
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::InvalidUtf8 | WsError::InvalidCloseReason => 1007,
            WsError::TooBig { .. } => 1009,
            WsError::Unmasked
            | WsError::ReservedBits(_)
            | WsError::UnknownOpcode(_)
            | WsError::ControlTooLong
            | WsError::FragmentedControl
            | WsError::UnexpectedContinuation
            | WsError::MessageInterrupted
            | WsError::BadLength
            | WsError::CloseTooShort
            | WsError::InvalidCloseCode(_) => 1002,
        }
    }
}

/// Whether a peer may send `code` in a close frame (RFC 6455 7.4 plus the IANA-registered 1012-1014).
fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// XORs `data` with the 4-byte masking `key` (starting at key byte 0), 8 bytes at a time.
fn unmask(data: &mut [u8], key: [u8; 4]) {
    let [a, b, c, d] = key;
    let wide = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        if let Ok(word) = <[u8; 8]>::try_from(&*chunk) {
            chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
        }
    }
    // The remainder starts at a multiple of 8, so the key lines up from byte 0 again.
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

/// A parsed client frame header.
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    opcode: Opcode,
    /// Header bytes including the masking key.
    header_len: usize,
    payload_len: usize,
    mask: [u8; 4],
}

/// A fragmented data message being received.
#[derive(Debug)]
struct Partial {
    text: bool,
    data: Vec<u8>,
    /// For text: `data[..utf8_checked]` is known to be valid UTF-8 and ends on a char boundary.
    utf8_checked: usize,
}

impl Partial {
    /// Validates the UTF-8 received since the last check. An incomplete sequence at the end is fine unless `fin`.
    fn check_utf8(&mut self, fin: bool) -> Result<(), WsError> {
        if !self.text {
            return Ok(());
        }
        let tail = self.data.get(self.utf8_checked..).unwrap_or_default();
        match std::str::from_utf8(tail) {
            Ok(_) => self.utf8_checked = self.data.len(),
            Err(e) if e.error_len().is_none() && !fin => {
                self.utf8_checked = self.utf8_checked.saturating_add(e.valid_up_to());
            }
            Err(_) => return Err(WsError::InvalidUtf8),
        }
        Ok(())
    }
}

/// Incremental decoder of client→server frames.
#[derive(Debug)]
pub struct Decoder {
    max_message: usize,
    /// The fragmented message being received, boxed so an idle decoder stays two words.
    partial: Option<Box<Partial>>,
}

impl Decoder {
    /// A decoder refusing data messages larger than `max_message` bytes (control frames are limited to 125 bytes
    /// by the protocol and do not count against it).
    pub fn new(max_message: usize) -> Self {
        Decoder {
            max_message,
            partial: None,
        }
    }

    /// Whether a fragmented message is partly received.
    pub fn in_message(&self) -> bool {
        self.partial.is_some()
    }

    /// Takes the next complete message out of `buf` (consuming its frames' bytes; control frames interleaved in a
    /// fragmented message are returned as they come). `Ok(None)`: more bytes needed, `buf` keeps the incomplete
    /// frame. Client frames must be masked; payloads are unmasked here.
    ///
    /// The declared length of a frame (and the fragmented message so far + this frame) is checked against
    /// `max_message` as soon as the header is read, so a huge declared length fails at once without waiting for
    /// (or allocating) the payload. Never panics, whatever the bytes. After an error the connection must be failed
    /// with [`WsError::close_code`]: header errors leave the frame in `buf`, payload errors (UTF-8, close payload)
    /// have consumed it, and what the decoder returns afterwards is unspecified (it still never panics).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, WsError> {
        loop {
            let Some(header) = self.header(buf)? else {
                return Ok(None);
            };
            let Some(total) = header.header_len.checked_add(header.payload_len) else {
                return Err(WsError::TooBig {
                    limit: self.max_message,
                });
            };
            if buf.len() < total {
                return Ok(None);
            }
            let mut payload = buf.split_to(total);
            payload.advance(header.header_len);
            unmask(&mut payload, header.mask);
            if let Some(message) = self.finish_frame(header, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// Parses (and checks) the frame header at the start of `buf`; `Ok(None)` if it is not all there yet. Every
    /// check is made as soon as the bytes it needs are present.
    fn header(&self, buf: &[u8]) -> Result<Option<Header>, WsError> {
        let Some(&b0) = buf.first() else {
            return Ok(None);
        };
        let fin = b0 & FIN != 0;
        let rsv = b0 & RSV;
        if rsv != 0 {
            return Err(WsError::ReservedBits(rsv));
        }
        let bits = b0 & 0x0f;
        let opcode = Opcode::from_bits(bits).ok_or(WsError::UnknownOpcode(bits))?;
        let control = opcode.is_control();
        match opcode {
            _ if control && !fin => return Err(WsError::FragmentedControl),
            Opcode::Continuation if self.partial.is_none() => {
                return Err(WsError::UnexpectedContinuation);
            }
            Opcode::Text | Opcode::Binary if self.partial.is_some() => {
                return Err(WsError::MessageInterrupted);
            }
            _ => {}
        }

        let Some(&b1) = buf.get(1) else {
            return Ok(None);
        };
        if b1 & MASK == 0 {
            return Err(WsError::Unmasked);
        }
        let len7 = b1 & 0x7f;
        if control && usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(WsError::ControlTooLong);
        }
        let (payload_len, len_end) = match len7 {
            126 => match buf.get(2..4) {
                Some(&[h, l]) => (usize::from(u16::from_be_bytes([h, l])), 4),
                _ => return Ok(None),
            },
            127 => match buf.get(2..10).map(<[u8; 8]>::try_from) {
                Some(Ok(be)) => {
                    let len = u64::from_be_bytes(be);
                    if len >> 63 != 0 {
                        return Err(WsError::BadLength);
                    }
                    // Lengths beyond usize are beyond any usize limit too.
                    (usize::try_from(len).unwrap_or(usize::MAX), 10)
                }
                _ => return Ok(None),
            },
            short => (usize::from(short), 2),
        };
        if !control {
            let so_far = self.partial.as_ref().map_or(0, |p| p.data.len());
            let too_big = so_far
                .checked_add(payload_len)
                .is_none_or(|total| total > self.max_message);
            if too_big {
                return Err(WsError::TooBig {
                    limit: self.max_message,
                });
            }
        }

        let header_len: usize = len_end + 4;
        let Some(mask) = buf
            .get(len_end..header_len)
            .and_then(|m| <[u8; 4]>::try_from(m).ok())
        else {
            return Ok(None);
        };
        Ok(Some(Header {
            fin,
            opcode,
            header_len,
            payload_len,
            mask,
        }))
    }

    /// Handles one whole frame whose header passed [`Decoder::header`]; `payload` is already unmasked. Returns
    /// the message it completes, if any.
    fn finish_frame(
        &mut self,
        header: Header,
        payload: BytesMut,
    ) -> Result<Option<Message>, WsError> {
        let message = match header.opcode {
            Opcode::Ping => Message::Ping(payload.freeze()),
            Opcode::Pong => Message::Pong(payload.freeze()),
            Opcode::Close => Message::Close(parse_close(&payload)?),
            Opcode::Binary if header.fin => Message::Binary(payload.freeze()),
            Opcode::Text if header.fin => match std::str::from_utf8(&payload) {
                Ok(text) => Message::Text(text.to_owned()),
                Err(_) => return Err(WsError::InvalidUtf8),
            },
            Opcode::Text | Opcode::Binary => {
                let mut partial = Box::new(Partial {
                    text: header.opcode == Opcode::Text,
                    data: payload.to_vec(),
                    utf8_checked: 0,
                });
                partial.check_utf8(false)?;
                self.partial = Some(partial);
                return Ok(None);
            }
            Opcode::Continuation => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err(WsError::UnexpectedContinuation);
                };
                partial.data.extend_from_slice(&payload);
                partial.check_utf8(header.fin)?;
                if !header.fin {
                    return Ok(None);
                }
                let Some(partial) = self.partial.take() else {
                    return Err(WsError::UnexpectedContinuation);
                };
                let Partial { text, data, .. } = *partial;
                if text {
                    Message::Text(String::from_utf8(data).map_err(|_| WsError::InvalidUtf8)?)
                } else {
                    Message::Binary(Bytes::from(data))
                }
            }
        };
        Ok(Some(message))
    }
}

/// Parses a close frame payload: empty, or a valid status code followed by a UTF-8 reason.
fn parse_close(payload: &[u8]) -> Result<Option<(u16, String)>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::CloseTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !valid_close_code(code) {
                return Err(WsError::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::InvalidCloseReason)?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmask_matches_bytewise_xor() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..40 {
            let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut data = original.clone();
            unmask(&mut data, key);
            let expected: Vec<u8> = original
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(data, expected, "len {len}");
        }
    }

    #[test]
    fn idle_decoder_is_two_words() {
        assert_eq!(
            std::mem::size_of::<Decoder>(),
            2 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn opcode_bits_roundtrip() {
        for bits in 0..16u8 {
            if let Some(op) = Opcode::from_bits(bits) {
                assert_eq!(op.bits(), bits);
            }
        }
    }
}
