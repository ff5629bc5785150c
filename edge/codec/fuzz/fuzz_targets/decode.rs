//! Fuzz target `decode`: feeds arbitrary bytes to every decoder in herald-codec; any panic is a bug.
#![no_main]

use bytes::Bytes;
use herald_codec::{BinaryAssembly, ack_from_packet, engine, event_from_packet, socket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = engine::decode_payload(data);
    let _ = engine::decode_binary(Bytes::copy_from_slice(data));
    let text = String::from_utf8_lossy(data);
    let _ = engine::decode_text(&text);
    let _ = engine::Handshake::from_json(&text);
    if let Ok(engine::Packet::Message(sio)) = engine::decode_text(&text) {
        check_socket(&sio);
    }
    check_socket(&text);
});

fn check_socket(text: &str) {
    let Ok(packet) = socket::decode(text) else {
        return;
    };
    // Re-encoding a decoded packet must decode to the same packet.
    assert_eq!(
        socket::decode(&socket::encode(&packet)).as_ref(),
        Ok(&packet)
    );
    let attachments: Vec<Bytes> = (0..packet.attachments)
        .map(|i| Bytes::from(vec![i as u8]))
        .collect();
    let mut assembly = BinaryAssembly::new(packet.clone());
    let mut complete = assembly.take_if_complete();
    for a in &attachments {
        if let Ok(Some(c)) = assembly.push(a.clone()) {
            complete = Some(c);
        }
    }
    assert!(assembly.push(Bytes::new()).is_err());
    if let Some(c) = complete {
        let _ = event_from_packet(&c.packet, &c.attachments);
        let _ = ack_from_packet(&c.packet, &c.attachments);
    }
    let _ = event_from_packet(&packet, &[]);
    let _ = ack_from_packet(&packet, &[]);
}
