//! Fuzz target `ws`: feeds arbitrary bytes in arbitrary chunks to a WebSocket `Decoder`; any panic is a bug.
#![no_main]

use bytes::BytesMut;
use herald_codec::ws::{Decoder, Message};
use libfuzzer_sys::fuzz_target;

/// Message limits to pick from (the first input byte chooses one).
const LIMITS: [usize; 6] = [0, 1, 125, 126, 65_536, 1 << 20];

fuzz_target!(|data: &[u8]| {
    // Byte 0 picks the limit, byte 1 seeds the chunk sizes; the rest is the stream.
    let [sel, seed, stream @ ..] = data else {
        return;
    };
    let max = LIMITS[usize::from(*sel) % LIMITS.len()];
    let mut chunk_state = *seed;
    let mut dec = Decoder::new(max);
    let mut buf = BytesMut::new();
    let mut rest = stream;
    while !rest.is_empty() {
        // A cheap varying chunk size in 1..=64, or everything left when the state says so.
        chunk_state = chunk_state.wrapping_mul(37).wrapping_add(11);
        let n = if chunk_state < 16 {
            rest.len()
        } else {
            usize::from(chunk_state % 64) + 1
        };
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(message)) => check(&message, max),
                Ok(None) => break,
                Err(e) => {
                    assert!(matches!(e.close_code(), 1002 | 1007 | 1009));
                    return;
                }
            }
        }
    }
});

fn check(message: &Message, max: usize) {
    match message {
        Message::Text(t) => assert!(t.len() <= max),
        Message::Binary(b) => assert!(b.len() <= max),
        Message::Ping(b) | Message::Pong(b) => assert!(b.len() <= 125),
        Message::Close(Some((code, reason))) => {
            assert!(*code >= 1000 && *code < 5000);
            assert!(reason.len() <= 123);
        }
        Message::Close(None) => {}
    }
}
