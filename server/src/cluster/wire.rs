//! What travels through Redis for one event: a one-line text header (sequence, namespace epoch,
//! ack reference, origin, positions) followed by the protobuf `Event`, as the emit script
//! publishes it and stores it in each topic's log. Pure: no I/O.

use herald_proto::v1::{DeliveryClass, Event, Position};
use prost::Message;

/// Where a published event came from: the node, and for relays the link that delivered it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    pub node: u32,
    /// Non-zero for a relay the origin edge already delivered to its own members.
    pub link: u64,
}

/// A decoded message: the event with its seq, offset and positions filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub event: Event,
    /// The namespace epoch its seq belongs to ("-" for relays).
    pub ns_epoch: String,
    pub ack_ref: u64,
    pub origin: Origin,
}

/// Why a message from Redis could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("no header line")]
    NoHeader,
    #[error("malformed header: {0}")]
    Header(&'static str),
    #[error("event does not decode: {0}")]
    Event(String),
}

/// The header of a relay (no sequence, no positions), written by the core itself.
pub fn relay_header(origin: Origin) -> String {
    format!("0 - 0 {} {} 0\n", origin.node, origin.link)
}

/// The body the emit script puts after its header: the event without positions, seq or offset.
pub fn body(event: &Event) -> Vec<u8> {
    event.encode_to_vec()
}

/// Reads `"{seq} {ns_epoch} {ack_ref} {node} {link} {n} {epoch:offset}...\n" + event`.
pub fn decode(payload: &[u8]) -> Result<Decoded, WireError> {
    let nl = payload
        .iter()
        .position(|b| *b == b'\n')
        .ok_or(WireError::NoHeader)?;
    let header = std::str::from_utf8(&payload[..nl]).map_err(|_| WireError::Header("not UTF-8"))?;
    let mut it = header.split(' ');
    let mut next = |what: &'static str| it.next().ok_or(WireError::Header(what));
    let seq: u64 = next("seq")?.parse().map_err(|_| WireError::Header("seq"))?;
    let ns_epoch = next("epoch")?.to_owned();
    let ack_ref: u64 = next("ack_ref")?
        .parse()
        .map_err(|_| WireError::Header("ack_ref"))?;
    let node: u32 = next("node")?
        .parse()
        .map_err(|_| WireError::Header("node"))?;
    let link: u64 = next("link")?
        .parse()
        .map_err(|_| WireError::Header("link"))?;
    let n: usize = next("count")?
        .parse()
        .map_err(|_| WireError::Header("count"))?;
    let mut positions = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let p = next("position")?;
        let (epoch, offset) = p.rsplit_once(':').ok_or(WireError::Header("position"))?;
        let offset: u64 = offset.parse().map_err(|_| WireError::Header("offset"))?;
        positions.push((epoch.to_owned(), offset));
    }
    let mut event =
        Event::decode(&payload[nl + 1..]).map_err(|e| WireError::Event(e.to_string()))?;
    event.seq = seq;
    if !positions.is_empty() {
        if positions.len() != event.targets.len() {
            return Err(WireError::Header("positions do not match the targets"));
        }
        event.positions = event
            .targets
            .iter()
            .zip(positions)
            .map(|(topic, (epoch, offset))| Position {
                topic: topic.clone(),
                offset,
                epoch,
            })
            .collect();
    }
    if seq != 0 && event.delivery == DeliveryClass::Recoverable as i32 {
        event.offset = format!("{ns_epoch}:{seq}");
    }
    Ok(Decoded {
        event,
        ns_epoch,
        ack_ref,
        origin: Origin { node, link },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(delivery: DeliveryClass) -> Event {
        Event {
            id: "e1".into(),
            namespace: "/".into(),
            targets: vec!["room:a".into(), "user:u".into()],
            name: "x".into(),
            delivery: delivery.into(),
            ..Default::default()
        }
    }

    #[test]
    fn recoverable_event_gets_positions_seq_and_offset() {
        let mut payload = b"42 nsE 7 3 0 2 ta:5 tu:1\n".to_vec();
        payload.extend(body(&ev(DeliveryClass::Recoverable)));
        let d = decode(&payload).unwrap();
        assert_eq!(d.event.seq, 42);
        assert_eq!(d.event.offset, "nsE:42");
        assert_eq!(d.ack_ref, 7);
        assert_eq!(d.origin, Origin { node: 3, link: 0 });
        let p: Vec<_> = d
            .event
            .positions
            .iter()
            .map(|p| (p.topic.as_str(), p.epoch.as_str(), p.offset))
            .collect();
        assert_eq!(p, [("room:a", "ta", 5), ("user:u", "tu", 1)]);
    }

    #[test]
    fn relays_carry_their_origin_and_no_sequence() {
        let mut payload = relay_header(Origin { node: 9, link: 4 }).into_bytes();
        payload.extend(body(&ev(DeliveryClass::Volatile)));
        let d = decode(&payload).unwrap();
        assert_eq!(d.event.seq, 0);
        assert!(d.event.offset.is_empty() && d.event.positions.is_empty());
        assert_eq!(d.origin, Origin { node: 9, link: 4 });
    }

    #[test]
    fn bad_messages_are_errors_not_panics() {
        assert_eq!(decode(b"no newline"), Err(WireError::NoHeader));
        assert!(decode(b"x nsE 0 1 0 0\n").is_err());
        assert!(decode(b"1 nsE 0 1 0 3 a:1\n").is_err());
        let mut mismatch = b"1 nsE 0 1 0 1 a:1\n".to_vec();
        mismatch.extend(body(&ev(DeliveryClass::Recoverable)));
        assert!(decode(&mismatch).is_err(), "one position for two targets");
        assert!(decode(b"1 nsE 0 1 0 0\n\xff\xff\xff").is_err());
    }
}
