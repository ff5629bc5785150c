//! Socket.IO v5 packets: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]`, plus binary reassembly.

use bytes::Bytes;
use serde_json::Value;

use crate::error::CodecError;
use crate::json_text;

/// The most binary attachments one packet may announce; larger counts are rejected by [`decode`] so a peer cannot
/// make the edge buffer an unbounded number of frames.
pub const MAX_ATTACHMENTS: usize = 1024;

/// Socket.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `0`
    Connect,
    /// `1`
    Disconnect,
    /// `2`
    Event,
    /// `3`
    Ack,
    /// `4`
    ConnectError,
    /// `5`
    BinaryEvent,
    /// `6`
    BinaryAck,
}

impl PacketKind {
    /// The kind for an ASCII type digit.
    pub fn from_digit(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => PacketKind::Connect,
            b'1' => PacketKind::Disconnect,
            b'2' => PacketKind::Event,
            b'3' => PacketKind::Ack,
            b'4' => PacketKind::ConnectError,
            b'5' => PacketKind::BinaryEvent,
            b'6' => PacketKind::BinaryAck,
            _ => return None,
        })
    }

    /// The ASCII type digit.
    pub fn digit(self) -> char {
        match self {
            PacketKind::Connect => '0',
            PacketKind::Disconnect => '1',
            PacketKind::Event => '2',
            PacketKind::Ack => '3',
            PacketKind::ConnectError => '4',
            PacketKind::BinaryEvent => '5',
            PacketKind::BinaryAck => '6',
        }
    }

    /// BINARY_EVENT or BINARY_ACK.
    pub fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }

    /// EVENT or BINARY_EVENT.
    pub fn is_event(self) -> bool {
        matches!(self, PacketKind::Event | PacketKind::BinaryEvent)
    }

    /// ACK or BINARY_ACK.
    pub fn is_ack(self) -> bool {
        matches!(self, PacketKind::Ack | PacketKind::BinaryAck)
    }
}

/// One Socket.IO packet (for binary kinds, without its attachments; see [`BinaryAssembly`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// Packet type.
    pub kind: PacketKind,
    /// Namespace, `"/"` by default.
    pub namespace: String,
    /// Acknowledgement id (EVENT: the sender wants an ack; ACK: the event being acknowledged).
    pub id: Option<u64>,
    /// The JSON payload.
    pub data: Option<Value>,
    /// Number of binary attachments that follow (binary kinds only).
    pub attachments: usize,
}

impl Packet {
    /// A packet of `kind` on `namespace` with no id, data or attachments.
    pub fn new(kind: PacketKind, namespace: impl Into<String>) -> Self {
        Packet {
            kind,
            namespace: namespace.into(),
            id: None,
            data: None,
            attachments: 0,
        }
    }

    /// True when binary frames must follow before the packet is complete.
    pub fn needs_attachments(&self) -> bool {
        self.kind.is_binary() && self.attachments > 0
    }
}

/// Parses one Socket.IO packet (the data of one Engine.IO message, without the leading Engine.IO `4`).
///
/// Validation: known type digit; an `<n>-` attachment count exactly on binary kinds (at most
/// [`MAX_ATTACHMENTS`]); a namespace starts with `/` and ends with `,` or with the packet; the ack id is a u64, required on
/// ACK/BINARY_ACK, allowed on EVENT/BINARY_EVENT, refused elsewhere; the data is JSON of the right shape
/// (CONNECT: object if present; DISCONNECT: none; EVENT: non-empty array starting with a string; ACK: array;
/// CONNECT_ERROR: object).
pub fn decode(text: &str) -> Result<Packet, CodecError> {
    let Some(&first) = text.as_bytes().first() else {
        return Err(CodecError::Empty);
    };
    let kind = PacketKind::from_digit(first)
        .ok_or_else(|| CodecError::UnknownType(text.chars().next().unwrap_or('\0')))?;
    // The type digit is ASCII, so index 1 is a char boundary.
    let mut rest = &text[1..];

    // <attachments>-
    let mut attachments = 0;
    let run = json_text::digit_run(rest);
    if kind.is_binary() {
        if run == 0 || rest.as_bytes().get(run) != Some(&b'-') {
            return Err(CodecError::BadAttachmentCount);
        }
        attachments = json_text::parse_digits(&rest[..run])
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= MAX_ATTACHMENTS)
            .ok_or(CodecError::BadAttachmentCount)?;
        rest = &rest[run + 1..];
    } else if run > 0 && rest.as_bytes().get(run) == Some(&b'-') {
        return Err(CodecError::AttachmentsOnNonBinary);
    }

    // <namespace>, or a namespace that ends the packet (`40/admin`, as the reference parser reads it)
    let mut namespace = "/";
    if rest.starts_with('/') {
        let (ns, after) = match rest.find(',') {
            Some(comma) => (&rest[..comma], &rest[comma + 1..]),
            None => (rest, ""),
        };
        if ns.len() > 1 {
            namespace = ns;
        }
        rest = after;
    }

    // <ack id>
    let run = json_text::digit_run(rest);
    let id = if run > 0 {
        let id = json_text::parse_digits(&rest[..run]).ok_or(CodecError::BadAckId)?;
        rest = &rest[run..];
        Some(id)
    } else {
        None
    };
    match (kind, id) {
        (PacketKind::Ack | PacketKind::BinaryAck, None) => return Err(CodecError::BadAckId),
        (PacketKind::Connect | PacketKind::Disconnect | PacketKind::ConnectError, Some(_)) => {
            return Err(CodecError::BadAckId);
        }
        _ => {}
    }

    // <JSON data>
    let data = if rest.is_empty() {
        None
    } else {
        Some(
            serde_json::from_str::<Value>(rest)
                .map_err(|e| CodecError::InvalidJson(e.to_string()))?,
        )
    };
    check_shape(kind, data.as_ref())?;

    Ok(Packet {
        kind,
        namespace: namespace.to_owned(),
        id,
        data,
        attachments,
    })
}

/// Checks that `data` has the shape the packet kind requires.
pub(crate) fn check_shape(kind: PacketKind, data: Option<&Value>) -> Result<(), CodecError> {
    use CodecError::WrongShape;
    match kind {
        PacketKind::Connect => match data {
            None | Some(Value::Object(_)) => Ok(()),
            Some(_) => Err(WrongShape("CONNECT data must be an object")),
        },
        PacketKind::Disconnect => match data {
            None => Ok(()),
            Some(_) => Err(WrongShape("DISCONNECT carries no data")),
        },
        PacketKind::Event | PacketKind::BinaryEvent => match data {
            Some(Value::Array(a)) if matches!(a.first(), Some(Value::String(_))) => Ok(()),
            Some(Value::Array(a)) if a.is_empty() => {
                Err(WrongShape("EVENT data must not be empty"))
            }
            Some(Value::Array(_)) => Err(WrongShape("EVENT name must be a string")),
            _ => Err(WrongShape("EVENT data must be an array")),
        },
        PacketKind::Ack | PacketKind::BinaryAck => match data {
            Some(Value::Array(_)) => Ok(()),
            _ => Err(WrongShape("ACK data must be an array")),
        },
        PacketKind::ConnectError => match data {
            Some(Value::Object(_)) => Ok(()),
            _ => Err(WrongShape("CONNECT_ERROR data must be an object")),
        },
    }
}

/// True when `namespace` is the main namespace, which is written without a prefix.
pub(crate) fn is_main_namespace(namespace: &str) -> bool {
    namespace.is_empty() || namespace == "/"
}

/// Encodes a packet (without the leading Engine.IO `4`). The namespace is written as is (it must not contain ',');
/// an empty namespace means `"/"`. The attachment count is written only for binary kinds.
pub fn encode(p: &Packet) -> String {
    let data = p.data.as_ref().map(Value::to_string);
    let main = is_main_namespace(&p.namespace);
    let len =
        1 + if p.kind.is_binary() {
            json_text::digits(p.attachments as u64) + 1
        } else {
            0
        } + if main { 0 } else { p.namespace.len() + 1 }
            + p.id.map_or(0, json_text::digits)
            + data.as_ref().map_or(0, String::len);
    let mut out = String::with_capacity(len);
    out.push(p.kind.digit());
    if p.kind.is_binary() {
        json_text::push_u64(&mut out, p.attachments as u64);
        out.push('-');
    }
    if !main {
        out.push_str(&p.namespace);
        out.push(',');
    }
    if let Some(id) = p.id {
        json_text::push_u64(&mut out, id);
    }
    if let Some(d) = &data {
        out.push_str(d);
    }
    out
}

/// Reassembles a BINARY_EVENT/BINARY_ACK from its attachments, holding at most a given number of
/// attachment bytes.
#[derive(Debug)]
pub struct BinaryAssembly {
    packet: Option<Packet>,
    expected: usize,
    received: Vec<Bytes>,
    /// Attachment bytes still allowed.
    room: usize,
}

/// A binary packet together with all its attachments, in arrival order (placeholder `num` = index).
#[derive(Debug, Clone, PartialEq)]
pub struct Complete {
    /// The BINARY_EVENT / BINARY_ACK header packet.
    pub packet: Packet,
    /// The attachments, index = placeholder `num`.
    pub attachments: Vec<Bytes>,
}

impl BinaryAssembly {
    /// Starts collecting attachments for `packet` (normally `packet.attachments > 0`; with 0 the assembly is
    /// complete at once: use [`BinaryAssembly::take_if_complete`]).
    pub fn new(packet: Packet) -> Self {
        Self::with_limit(packet, usize::MAX)
    }

    /// Like [`BinaryAssembly::new`], but the attachments together may hold at most `max_bytes` bytes.
    pub fn with_limit(packet: Packet, max_bytes: usize) -> Self {
        let expected = packet.attachments;
        BinaryAssembly {
            packet: Some(packet),
            expected,
            received: Vec::with_capacity(expected.min(16)),
            room: max_bytes,
        }
    }

    /// Feed one binary attachment; returns `Some(complete)` when all have arrived. Errors on too many attachments
    /// (including any push after completion) and on attachments over the byte limit together.
    pub fn push(&mut self, bin: Bytes) -> Result<Option<Complete>, CodecError> {
        if self.packet.is_none() || self.received.len() >= self.expected {
            return Err(CodecError::TooManyAttachments);
        }
        self.room = self
            .room
            .checked_sub(bin.len())
            .ok_or(CodecError::AttachmentsTooLarge)?;
        self.received.push(bin);
        Ok(self.take_if_complete())
    }

    /// Returns the complete packet if every announced attachment has arrived (immediately for 0 attachments).
    pub fn take_if_complete(&mut self) -> Option<Complete> {
        if self.received.len() < self.expected {
            return None;
        }
        let packet = self.packet.take()?;
        Some(Complete {
            packet,
            attachments: std::mem::take(&mut self.received),
        })
    }

    /// How many attachments the packet announced.
    pub fn expected(&self) -> usize {
        self.expected
    }

    /// How many attachments have arrived so far.
    pub fn received(&self) -> usize {
        self.received.len()
    }
}
