//! Property-style tests with a small deterministic pseudo-random generator: random packets round-trip, random
//! frames decode back to their args, and random garbage never panics any decoder.

use bytes::Bytes;
use herald_codec::engine;
use herald_codec::socket::{self, Packet, PacketKind};
use herald_codec::{Arg, encode_ack, encode_event, event_from_packet};
use serde_json::{Value, json};

/// xorshift64*: tiny, deterministic, good enough to spread test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn string(&mut self) -> String {
        const POOL: &[&str] = &[
            "a", "Z", "0", " ", "\"", "\\", "\n", "\u{1}", "é", "€", "𝄞", ",", "/", "-", "[", "{",
        ];
        (0..self.below(8))
            .map(|_| POOL[self.below(POOL.len() as u64) as usize])
            .collect()
    }
    fn value(&mut self, depth: u32) -> Value {
        match self.below(if depth > 2 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => json!(self.next() >> self.below(64)),
            3 => json!(-(self.below(1_000_000) as i64)),
            4 => Value::String(self.string()),
            5 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => Value::Object(
                (0..self.below(4))
                    .map(|_| (self.string(), self.value(depth + 1)))
                    .collect(),
            ),
        }
    }
    fn namespace(&mut self) -> String {
        match self.below(3) {
            0 => "/".into(),
            1 => "/chat".into(),
            _ => format!("/n{}é", self.below(100)),
        }
    }
}

fn random_packet(rng: &mut Rng) -> Packet {
    let kind = PacketKind::from_digit(b'0' + rng.below(7) as u8).unwrap();
    let mut p = Packet::new(kind, rng.namespace());
    let args = |rng: &mut Rng| (0..rng.below(4)).map(|_| rng.value(0)).collect::<Vec<_>>();
    match kind {
        PacketKind::Connect => {
            if rng.below(2) == 0 {
                p.data = Some(json!({ "token": rng.string() }));
            }
        }
        PacketKind::Disconnect => {}
        PacketKind::Event | PacketKind::BinaryEvent => {
            let mut a = vec![Value::String(rng.string())];
            a.extend(args(rng));
            p.data = Some(Value::Array(a));
            p.id = (rng.below(2) == 0).then(|| rng.next());
        }
        PacketKind::Ack | PacketKind::BinaryAck => {
            p.data = Some(Value::Array(args(rng)));
            p.id = Some(rng.next());
        }
        PacketKind::ConnectError => p.data = Some(json!({ "message": rng.string() })),
    }
    if kind.is_binary() {
        p.attachments = rng.below(5) as usize;
    }
    p
}

#[test]
fn random_socket_packets_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..5_000 {
        let p = random_packet(&mut rng);
        let text = socket::encode(&p);
        assert_eq!(socket::decode(&text).as_ref(), Ok(&p), "{text:?}");
    }
}

#[test]
fn random_event_frames_decode_to_their_args() {
    let mut rng = Rng(42);
    for _ in 0..3_000 {
        let ns = rng.namespace();
        let name = rng.string();
        let id = (rng.below(2) == 0).then(|| rng.next());
        let args: Vec<Arg> = (0..rng.below(5))
            .map(|_| {
                if rng.below(3) == 0 {
                    Arg::Binary(Bytes::from(rng.string().into_bytes()))
                } else {
                    Arg::Json(rng.value(0).to_string())
                }
            })
            .collect();
        let frame = encode_event(&ns, id, &name, &args);
        assert_eq!(frame.text.capacity(), frame.text.len());
        let engine::Packet::Message(sio) = engine::decode_text(&frame.text).unwrap() else {
            panic!("not a message: {:?}", frame.text)
        };
        let p = socket::decode(&sio).unwrap();
        assert_eq!(p.id, id);
        assert_eq!(p.namespace, ns);
        let (got_name, got_args) = event_from_packet(&p, &frame.attachments).unwrap();
        assert_eq!(got_name, name);
        assert_eq!(got_args, args);

        let ack = encode_ack(&ns, id.unwrap_or(0), &args);
        let p = socket::decode(&ack.text[1..]).unwrap();
        assert_eq!(
            herald_codec::ack_from_packet(&p, &ack.attachments).unwrap(),
            args
        );
    }
}

#[test]
fn random_engine_payloads_round_trip() {
    let mut rng = Rng(7);
    for _ in 0..2_000 {
        let packets: Vec<engine::Packet> = (0..1 + rng.below(5))
            .map(|_| match rng.below(8) {
                0 => engine::Packet::Close,
                1 => engine::Packet::Ping((rng.below(2) == 0).then(|| "probe".to_string())),
                2 => engine::Packet::Pong(None),
                3 => engine::Packet::Upgrade,
                4 => engine::Packet::Noop,
                5 => engine::Packet::Binary(Bytes::from(rng.string().into_bytes())),
                _ => engine::Packet::Message(rng.string().replace('\u{1e}', "")),
            })
            .collect();
        let body = engine::encode_payload(&packets);
        assert_eq!(
            engine::decode_payload(body.as_bytes()).as_ref(),
            Ok(&packets),
            "{body:?}"
        );
    }
}

/// Mutates valid frames (byte flips, truncation, insertion) and feeds them to every decoder: errors are fine,
/// panics are not.
#[test]
fn garbage_never_panics() {
    let seeds = [
        "42[\"a\",{\"b\":1}]",
        "452-/ns,7[\"up\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
        "461-/x,4[{\"_placeholder\":true,\"num\":0}]",
        "0{\"sid\":\"x\",\"upgrades\":[],\"pingInterval\":1,\"pingTimeout\":2,\"maxPayload\":3}",
        "2probe\u{1e}bAQID\u{1e}40/chat,{\"token\":\"t\"}",
    ];
    let mut rng = Rng(1234);
    for _ in 0..20_000 {
        let mut bytes = seeds[rng.below(seeds.len() as u64) as usize]
            .as_bytes()
            .to_vec();
        for _ in 0..1 + rng.below(4) {
            let pos = rng.below(bytes.len() as u64 + 1) as usize;
            match rng.below(4) {
                0 if pos < bytes.len() => bytes[pos] = rng.next() as u8,
                1 => bytes.truncate(pos),
                2 => bytes.insert(pos, b"0123456789-/,[]{}\"b\x1e_"[rng.below(21) as usize]),
                _ => bytes.insert(pos, rng.next() as u8),
            }
        }
        feed_everything(&bytes);
    }
}

fn feed_everything(bytes: &[u8]) {
    let _ = engine::decode_payload(bytes);
    let text = String::from_utf8_lossy(bytes);
    let _ = engine::decode_text(&text);
    let _ = engine::Handshake::from_json(&text);
    for candidate in [&text[..], text.get(1..).unwrap_or("")] {
        if let Ok(p) = socket::decode(candidate) {
            let atts: Vec<Bytes> = (0..p.attachments)
                .map(|_| Bytes::from_static(b"x"))
                .collect();
            let _ = event_from_packet(&p, &atts);
            let _ = herald_codec::ack_from_packet(&p, &atts);
            let mut asm = socket::BinaryAssembly::new(p.clone());
            for b in &atts {
                let _ = asm.push(b.clone());
            }
            // Whatever decodes must re-encode to something that decodes to the same packet.
            assert_eq!(socket::decode(&socket::encode(&p)).as_ref(), Ok(&p));
        }
    }
}
