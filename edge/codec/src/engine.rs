//! Engine.IO v4 packets: WebSocket text frames, HTTP long-polling payloads and the OPEN handshake.
//!
//! Wire format: one ASCII type digit followed by the packet data (`0` open, `1` close, `2` ping, `3` pong,
//! `4` message, `5` upgrade, `6` noop). Binary messages travel as WebSocket binary frames (raw bytes, no prefix)
//! or, inside polling payloads, as records `b<base64>`. Polling payloads join records with the 0x1e separator.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use bytes::Bytes;

use crate::error::CodecError;
use crate::json_text;

/// The record separator between packets of a polling payload.
pub const RECORD_SEPARATOR: char = '\x1e';

/// Standard alphabet; padding is optional when decoding (encoders differ), always written when encoding.
const B64_DECODE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One Engine.IO v4 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0` + the JSON handshake text (see [`Handshake::to_json`]).
    Open(String),
    /// `1`
    Close,
    /// `2` with optional data (`2probe` during the upgrade).
    Ping(Option<String>),
    /// `3` with optional data (`3probe` during the upgrade).
    Pong(Option<String>),
    /// `4` + text message (a Socket.IO packet for us).
    Message(String),
    /// A binary message (WebSocket binary frame, or `b<base64>` in polling payloads).
    Binary(Bytes),
    /// `5`
    Upgrade,
    /// `6`
    Noop,
}

impl Packet {
    /// Text form for a WebSocket text frame / one polling record. Binary → `None` (sent as a WS binary frame).
    pub fn encode_text(&self) -> Option<String> {
        if matches!(self, Packet::Binary(_)) {
            return None;
        }
        let mut out = String::with_capacity(self.record_len());
        self.push_record(&mut out);
        Some(out)
    }

    /// Length of this packet as a polling record (binary as `b<base64>`).
    fn record_len(&self) -> usize {
        match self {
            Packet::Open(s) | Packet::Message(s) => 1 + s.len(),
            Packet::Ping(d) | Packet::Pong(d) => 1 + d.as_ref().map_or(0, String::len),
            Packet::Binary(b) => 1 + base64_len(b.len()),
            Packet::Close | Packet::Upgrade | Packet::Noop => 1,
        }
    }

    /// Appends this packet as a polling record (binary as `b<base64>`).
    fn push_record(&self, out: &mut String) {
        match self {
            Packet::Open(s) => {
                out.push('0');
                out.push_str(s);
            }
            Packet::Close => out.push('1'),
            Packet::Ping(d) => {
                out.push('2');
                out.push_str(d.as_deref().unwrap_or(""));
            }
            Packet::Pong(d) => {
                out.push('3');
                out.push_str(d.as_deref().unwrap_or(""));
            }
            Packet::Message(s) => {
                out.push('4');
                out.push_str(s);
            }
            Packet::Binary(b) => {
                out.push('b');
                general_purpose::STANDARD.encode_string(b, out);
            }
            Packet::Upgrade => out.push('5'),
            Packet::Noop => out.push('6'),
        }
    }
}

/// Length of padded standard base64 for `n` bytes.
fn base64_len(n: usize) -> usize {
    n.div_ceil(3).saturating_mul(4)
}

/// One WebSocket text frame or one polling record (`"4hello"`, `"2probe"`, `"3"`, `"bAQID"`, ...).
pub fn decode_text(s: &str) -> Result<Packet, CodecError> {
    let mut chars = s.chars();
    let Some(kind) = chars.next() else {
        return Err(CodecError::Empty);
    };
    let data = chars.as_str();
    let no_data = |p: Packet| {
        if data.is_empty() {
            Ok(p)
        } else {
            Err(CodecError::UnexpectedData(kind))
        }
    };
    let optional = || (!data.is_empty()).then(|| data.to_owned());
    match kind {
        '0' => {
            check_handshake_json(data)?;
            Ok(Packet::Open(data.to_owned()))
        }
        '1' => no_data(Packet::Close),
        '2' => Ok(Packet::Ping(optional())),
        '3' => Ok(Packet::Pong(optional())),
        '4' => Ok(Packet::Message(data.to_owned())),
        '5' => no_data(Packet::Upgrade),
        '6' => no_data(Packet::Noop),
        'b' => decode_base64(data).map(Packet::Binary),
        other => Err(CodecError::UnknownType(other)),
    }
}

/// One WebSocket binary frame: in Engine.IO v4 the frame is the message itself, with no type prefix.
pub fn decode_binary(frame: Bytes) -> Packet {
    Packet::Binary(frame)
}

/// The OPEN packet data must be a JSON object.
fn check_handshake_json(data: &str) -> Result<(), CodecError> {
    let raw: &serde_json::value::RawValue =
        serde_json::from_str(data).map_err(|e| CodecError::InvalidJson(e.to_string()))?;
    if raw.get().starts_with('{') {
        Ok(())
    } else {
        Err(CodecError::WrongShape("OPEN data must be a JSON object"))
    }
}

fn decode_base64(data: &str) -> Result<Bytes, CodecError> {
    B64_DECODE
        .decode(data)
        .map(Bytes::from)
        .map_err(|_| CodecError::BadBase64)
}

/// A polling POST body: records separated by `'\x1e'`; a record `b<base64>` is a binary message.
pub fn decode_payload(body: &[u8]) -> Result<Vec<Packet>, CodecError> {
    if body.is_empty() {
        return Err(CodecError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(|_| CodecError::BadUtf8)?;
    text.split(RECORD_SEPARATOR).map(decode_text).collect()
}

/// A polling GET response body for these packets (binary as `b<base64>`), records joined by `'\x1e'`.
pub fn encode_payload(packets: &[Packet]) -> String {
    let len =
        packets.iter().map(Packet::record_len).sum::<usize>() + packets.len().saturating_sub(1);
    let mut out = String::with_capacity(len);
    for (i, p) in packets.iter().enumerate() {
        if i > 0 {
            out.push(RECORD_SEPARATOR);
        }
        p.push_record(&mut out);
    }
    out
}

/// Joins already-encoded records (e.g. [`crate::event::Frame::text`] and [`encode_binary_record`] outputs) into one
/// polling body.
pub fn join_records<'a, I>(records: I) -> String
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: Clone,
{
    let iter = records.into_iter();
    let (len, count) = iter
        .clone()
        .fold((0usize, 0usize), |(l, c), r| (l + r.len(), c + 1));
    let mut out = String::with_capacity(len + count.saturating_sub(1));
    for (i, r) in iter.enumerate() {
        if i > 0 {
            out.push(RECORD_SEPARATOR);
        }
        out.push_str(r);
    }
    out
}

/// One binary message as a polling record: `b<base64>`.
pub fn encode_binary_record(bin: &[u8]) -> String {
    let mut out = String::with_capacity(1 + base64_len(bin.len()));
    out.push('b');
    general_purpose::STANDARD.encode_string(bin, &mut out);
    out
}

/// Handshake data sent in the OPEN packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The Engine.IO session id.
    pub sid: String,
    /// Transports the client may upgrade to (`["websocket"]` on polling, `[]` on websocket).
    pub upgrades: Vec<String>,
    /// Server ping interval.
    pub ping_interval_ms: u64,
    /// How long the server waits for a pong.
    pub ping_timeout_ms: u64,
    /// Largest accepted payload in bytes.
    pub max_payload: u64,
}

impl Handshake {
    /// `{"sid":..,"upgrades":[..],"pingInterval":..,"pingTimeout":..,"maxPayload":..}`
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(
            67 + json_text::digits(self.ping_interval_ms)
                + json_text::digits(self.ping_timeout_ms)
                + json_text::digits(self.max_payload)
                + json_text::quoted_len(&self.sid)
                + self
                    .upgrades
                    .iter()
                    .map(|u| json_text::quoted_len(u) + 1)
                    .sum::<usize>(),
        );
        out.push_str("{\"sid\":");
        json_text::push_quoted(&mut out, &self.sid);
        out.push_str(",\"upgrades\":[");
        for (i, u) in self.upgrades.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_text::push_quoted(&mut out, u);
        }
        out.push_str("],\"pingInterval\":");
        json_text::push_u64(&mut out, self.ping_interval_ms);
        out.push_str(",\"pingTimeout\":");
        json_text::push_u64(&mut out, self.ping_timeout_ms);
        out.push_str(",\"maxPayload\":");
        json_text::push_u64(&mut out, self.max_payload);
        out.push('}');
        debug_assert!(out.len() <= out.capacity());
        out
    }

    /// Parses the OPEN packet data (used by clients and tests).
    pub fn from_json(text: &str) -> Result<Self, CodecError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| CodecError::InvalidJson(e.to_string()))?;
        let shape = CodecError::WrongShape("handshake fields missing or mistyped");
        let num = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_u64)
                .ok_or(shape.clone())
        };
        let sid = v
            .get("sid")
            .and_then(|s| s.as_str())
            .ok_or(shape.clone())?
            .to_owned();
        let upgrades = v
            .get("upgrades")
            .and_then(|u| u.as_array())
            .ok_or(shape.clone())?
            .iter()
            .map(|u| u.as_str().map(str::to_owned).ok_or(shape.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Handshake {
            sid,
            upgrades,
            ping_interval_ms: num("pingInterval")?,
            ping_timeout_ms: num("pingTimeout")?,
            max_payload: num("maxPayload")?,
        })
    }
}
