//! Events and acks as name + args (what the edge hands to the core), and the hot-path frame builders for
//! server→client events, acks, CONNECT replies, CONNECT_ERROR and DISCONNECT.
//!
//! Binary support: an argument that is itself a binary placeholder `{"_placeholder":true,"num":N}` becomes
//! [`Arg::Binary`]. A placeholder nested inside an object or array argument cannot be represented as an [`Arg`]
//! and is refused with [`CodecError::NestedBinary`]. In plain (non-binary) EVENT/ACK packets placeholder-looking
//! objects are ordinary JSON and are passed through untouched.

use bytes::Bytes;
use serde_json::Value;

use crate::error::CodecError;
use crate::json_text;
use crate::socket::{Packet, PacketKind, check_shape, is_main_namespace};

/// Event names a client may not emit (Socket.IO reserves them).
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// True for the event names Socket.IO reserves (neither a client nor a server may emit them).
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

/// One event/ack argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A JSON value as text.
    Json(String),
    /// A binary attachment.
    Binary(Bytes),
}

/// An EVENT/BINARY_EVENT (after reassembly) as name + args; top-level placeholders become [`Arg::Binary`].
pub fn event_from_packet(
    p: &Packet,
    attachments: &[Bytes],
) -> Result<(String, Vec<Arg>), CodecError> {
    if !p.kind.is_event() {
        return Err(CodecError::WrongKind);
    }
    let items = checked_items(p, attachments)?;
    let Some((Value::String(name), rest)) = items.split_first() else {
        return Err(CodecError::WrongShape("EVENT name must be a string"));
    };
    let args = convert_args(rest, p.kind.is_binary(), attachments)?;
    Ok((name.clone(), args))
}

/// ACK / BINARY_ACK args; top-level placeholders become [`Arg::Binary`].
pub fn ack_from_packet(p: &Packet, attachments: &[Bytes]) -> Result<Vec<Arg>, CodecError> {
    if !p.kind.is_ack() {
        return Err(CodecError::WrongKind);
    }
    let items = checked_items(p, attachments)?;
    convert_args(items, p.kind.is_binary(), attachments)
}

/// Validates shape and attachment count, returning the data array.
fn checked_items<'a>(p: &'a Packet, attachments: &[Bytes]) -> Result<&'a [Value], CodecError> {
    let expected = if p.kind.is_binary() { p.attachments } else { 0 };
    if attachments.len() != expected {
        return Err(CodecError::AttachmentMismatch {
            expected,
            got: attachments.len(),
        });
    }
    check_shape(p.kind, p.data.as_ref())?;
    match &p.data {
        Some(Value::Array(a)) => Ok(a),
        _ => Err(CodecError::WrongShape("data must be an array")),
    }
}

fn convert_args(
    values: &[Value],
    binary: bool,
    attachments: &[Bytes],
) -> Result<Vec<Arg>, CodecError> {
    values
        .iter()
        .map(|v| {
            if !binary {
                return Ok(Arg::Json(v.to_string()));
            }
            if let Some(num) = placeholder(v) {
                let bin = num
                    .and_then(|n| usize::try_from(n).ok())
                    .and_then(|n| attachments.get(n))
                    .ok_or(CodecError::BadPlaceholder)?;
                return Ok(Arg::Binary(bin.clone()));
            }
            if contains_placeholder(v) {
                return Err(CodecError::NestedBinary);
            }
            Ok(Arg::Json(v.to_string()))
        })
        .collect()
}

/// `Some(num)` when `v` is a placeholder object (`"_placeholder": true`); `num` is `None` if missing or not a u64.
fn placeholder(v: &Value) -> Option<Option<u64>> {
    let obj = v.as_object()?;
    if obj.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    Some(obj.get("num").and_then(Value::as_u64))
}

/// True when a placeholder object appears anywhere inside `v` (iterative, so depth cannot overflow the stack).
fn contains_placeholder(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        if placeholder(v).is_some() {
            return true;
        }
        match v {
            Value::Array(a) => stack.extend(a),
            Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    false
}

/// A server→client frame: the Engine.IO text frame plus the binary attachments to send after it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Includes the leading Engine.IO `4`.
    pub text: String,
    /// Binary frames to send right after `text` (WebSocket binary frames, or `b<base64>` polling records).
    pub attachments: Vec<Bytes>,
}

/// `{"_placeholder":true,"num":` … `}`
const PLACEHOLDER_HEAD: &str = "{\"_placeholder\":true,\"num\":";

/// Text written for an [`Arg::Json`] whose text is empty (so the frame stays valid JSON).
const EMPTY_JSON: &str = "null";

fn json_arg(text: &str) -> &str {
    if text.is_empty() { EMPTY_JSON } else { text }
}

/// The Engine.IO text frame for a server→client event, e.g. `42["name",{"a":1}]` or `42/chat,7["n",1]`; with binary
/// args `45<n>-/ns,["name",{"_placeholder":true,"num":0}]` plus the attachments. JSON args are trusted text and are
/// concatenated without re-parsing (an empty text is written as `null`). One allocation for the text.
pub fn encode_event(namespace: &str, ack_id: Option<u64>, name: &str, args: &[Arg]) -> Frame {
    build(PacketKind::Event, namespace, ack_id, Some(name), args)
}

/// The Engine.IO text frame for a server→client ack: `43/ns,<id>[args]` or `46<n>-/ns,<id>[...]`.
pub fn encode_ack(namespace: &str, ack_id: u64, args: &[Arg]) -> Frame {
    build(PacketKind::Ack, namespace, Some(ack_id), None, args)
}

fn build(
    kind: PacketKind,
    namespace: &str,
    id: Option<u64>,
    name: Option<&str>,
    args: &[Arg],
) -> Frame {
    let binary_count = args.iter().filter(|a| matches!(a, Arg::Binary(_))).count();
    let kind = match (kind, binary_count > 0) {
        (PacketKind::Event, true) => PacketKind::BinaryEvent,
        (PacketKind::Ack, true) => PacketKind::BinaryAck,
        (k, _) => k,
    };
    let main = is_main_namespace(namespace);

    // Exact length first, so the String is allocated once.
    let mut len = 2; // '4' + kind digit
    if binary_count > 0 {
        len += json_text::digits(binary_count as u64) + 1;
    }
    if !main {
        len += namespace.len() + 1;
    }
    len += id.map_or(0, json_text::digits);
    len += 2; // '[' ']'
    let mut items = 0usize;
    if let Some(n) = name {
        len += json_text::quoted_len(n);
        items += 1;
    }
    let mut num = 0u64;
    for a in args {
        len += match a {
            Arg::Json(t) => json_arg(t).len(),
            Arg::Binary(_) => {
                let l = PLACEHOLDER_HEAD.len() + json_text::digits(num) + 1;
                num += 1;
                l
            }
        };
        items += 1;
    }
    len += items.saturating_sub(1); // commas

    let mut text = String::with_capacity(len);
    let mut attachments = Vec::with_capacity(binary_count);
    text.push('4');
    text.push(kind.digit());
    if binary_count > 0 {
        json_text::push_u64(&mut text, binary_count as u64);
        text.push('-');
    }
    if !main {
        text.push_str(namespace);
        text.push(',');
    }
    if let Some(id) = id {
        json_text::push_u64(&mut text, id);
    }
    text.push('[');
    let mut first = true;
    if let Some(n) = name {
        json_text::push_quoted(&mut text, n);
        first = false;
    }
    for a in args {
        if !first {
            text.push(',');
        }
        first = false;
        match a {
            Arg::Json(t) => text.push_str(json_arg(t)),
            Arg::Binary(b) => {
                text.push_str(PLACEHOLDER_HEAD);
                json_text::push_u64(&mut text, attachments.len() as u64);
                text.push('}');
                attachments.push(b.clone());
            }
        }
    }
    text.push(']');
    debug_assert_eq!(text.len(), len, "length precomputation must be exact");
    Frame { text, attachments }
}

/// Length of the `4<kind>[/ns,]` head.
fn head_len(namespace: &str) -> usize {
    2 + if is_main_namespace(namespace) {
        0
    } else {
        namespace.len() + 1
    }
}

fn push_head(out: &mut String, kind: PacketKind, namespace: &str) {
    out.push('4');
    out.push(kind.digit());
    if !is_main_namespace(namespace) {
        out.push_str(namespace);
        out.push(',');
    }
}

/// CONNECT reply `40{"sid":"..."}` (`40/ns,{"sid":"...","pid":"..."}` with a namespace and a private session id).
pub fn encode_connect_ok(namespace: &str, sid: &str, pid: Option<&str>) -> String {
    let len = head_len(namespace)
        + "{\"sid\":}".len()
        + json_text::quoted_len(sid)
        + pid.map_or(0, |p| ",\"pid\":".len() + json_text::quoted_len(p));
    let mut out = String::with_capacity(len);
    push_head(&mut out, PacketKind::Connect, namespace);
    out.push_str("{\"sid\":");
    json_text::push_quoted(&mut out, sid);
    if let Some(p) = pid {
        out.push_str(",\"pid\":");
        json_text::push_quoted(&mut out, p);
    }
    out.push('}');
    out
}

/// CONNECT_ERROR `44{"message":"..."}` (with the namespace prefix when not `"/"`).
pub fn encode_connect_error(namespace: &str, message: &str) -> String {
    let len = head_len(namespace) + "{\"message\":}".len() + json_text::quoted_len(message);
    let mut out = String::with_capacity(len);
    push_head(&mut out, PacketKind::ConnectError, namespace);
    out.push_str("{\"message\":");
    json_text::push_quoted(&mut out, message);
    out.push('}');
    out
}

/// DISCONNECT `41` (`41/ns,` for other namespaces).
pub fn encode_disconnect(namespace: &str) -> String {
    let mut out = String::with_capacity(head_len(namespace));
    push_head(&mut out, PacketKind::Disconnect, namespace);
    out
}
