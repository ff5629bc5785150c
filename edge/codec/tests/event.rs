//! Event/ack extraction (including binary placeholders) and the hot-path frame builders.

use bytes::Bytes;
use herald_codec::engine;
use herald_codec::socket::{self, BinaryAssembly, PacketKind};
use herald_codec::{
    Arg, CodecError, ack_from_packet, encode_ack, encode_connect_error, encode_connect_ok,
    encode_disconnect, encode_event, event_from_packet, is_reserved_event,
};

fn json(s: &str) -> Arg {
    Arg::Json(s.into())
}

fn bin(b: &'static [u8]) -> Arg {
    Arg::Binary(Bytes::from_static(b))
}

#[test]
fn reserved_events() {
    for n in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        assert!(is_reserved_event(n), "{n}");
    }
    for n in [
        "join",
        "leave",
        "Connect",
        "message",
        "",
        "herald:disconnect",
    ] {
        assert!(!is_reserved_event(n), "{n}");
    }
}

#[test]
fn plain_event_to_name_and_args() {
    let p = socket::decode("2/chat,7[\"msg\",{\"a\":1},\"x\",null,[1,2]]").unwrap();
    let (name, args) = event_from_packet(&p, &[]).unwrap();
    assert_eq!(name, "msg");
    assert_eq!(
        args,
        vec![
            json("{\"a\":1}"),
            json("\"x\""),
            json("null"),
            json("[1,2]")
        ]
    );
    // No args at all.
    let p = socket::decode("2[\"ping\"]").unwrap();
    assert_eq!(
        event_from_packet(&p, &[]).unwrap(),
        ("ping".to_string(), vec![])
    );
}

#[test]
fn placeholder_lookalikes_in_plain_events_stay_json() {
    let p = socket::decode("2[\"e\",{\"_placeholder\":true,\"num\":0}]").unwrap();
    let (_, args) = event_from_packet(&p, &[]).unwrap();
    assert_eq!(args, vec![json("{\"_placeholder\":true,\"num\":0}")]);
}

#[test]
fn binary_event_after_reassembly() {
    let p = socket::decode(
        "52-[\"up\",{\"_placeholder\":true,\"num\":1},\"mid\",{\"_placeholder\":true,\"num\":0}]",
    )
    .unwrap();
    let mut asm = BinaryAssembly::new(p);
    assert!(asm.push(Bytes::from_static(b"zero")).unwrap().is_none());
    let done = asm.push(Bytes::from_static(b"one")).unwrap().unwrap();
    let (name, args) = event_from_packet(&done.packet, &done.attachments).unwrap();
    assert_eq!(name, "up");
    assert_eq!(args, vec![bin(b"one"), json("\"mid\""), bin(b"zero")]);
}

#[test]
fn binary_ack_args() {
    let p = socket::decode("61-/x,4[{\"_placeholder\":true,\"num\":0},{\"k\":2}]").unwrap();
    let args = ack_from_packet(&p, &[Bytes::from_static(b"\x00\xff")]).unwrap();
    assert_eq!(args, vec![bin(b"\x00\xff"), json("{\"k\":2}")]);
    let p = socket::decode("31[]").unwrap();
    assert_eq!(ack_from_packet(&p, &[]).unwrap(), vec![]);
}

#[test]
fn extraction_errors() {
    let ev = socket::decode("51-[\"e\",{\"_placeholder\":true,\"num\":0}]").unwrap();
    let one = [Bytes::from_static(b"a")];
    // Wrong kind.
    assert_eq!(ack_from_packet(&ev, &one), Err(CodecError::WrongKind));
    let ack = socket::decode("31[]").unwrap();
    assert_eq!(event_from_packet(&ack, &[]), Err(CodecError::WrongKind));
    // Attachment count mismatch.
    assert_eq!(
        event_from_packet(&ev, &[]),
        Err(CodecError::AttachmentMismatch {
            expected: 1,
            got: 0
        })
    );
    let plain = socket::decode("2[\"e\"]").unwrap();
    assert_eq!(
        event_from_packet(&plain, &one),
        Err(CodecError::AttachmentMismatch {
            expected: 0,
            got: 1
        })
    );
    // Placeholder index out of range / missing / not an integer.
    for text in [
        "51-[\"e\",{\"_placeholder\":true,\"num\":1}]",
        "51-[\"e\",{\"_placeholder\":true}]",
        "51-[\"e\",{\"_placeholder\":true,\"num\":-1}]",
        "51-[\"e\",{\"_placeholder\":true,\"num\":0.5}]",
        "51-[\"e\",{\"_placeholder\":true,\"num\":\"0\"}]",
        "51-[\"e\",{\"_placeholder\":true,\"num\":99999999999999999999999}]",
    ] {
        let p = socket::decode(text).unwrap();
        assert_eq!(
            event_from_packet(&p, &one),
            Err(CodecError::BadPlaceholder),
            "{text}"
        );
    }
    // Nested placeholders are refused.
    for text in [
        "51-[\"e\",{\"file\":{\"_placeholder\":true,\"num\":0}}]",
        "51-[\"e\",[1,[{\"_placeholder\":true,\"num\":0}]]]",
    ] {
        let p = socket::decode(text).unwrap();
        assert_eq!(
            event_from_packet(&p, &one),
            Err(CodecError::NestedBinary),
            "{text}"
        );
    }
    // `_placeholder` other than `true` is plain JSON.
    let p = socket::decode(
        "51-[\"e\",{\"_placeholder\":false,\"num\":0},{\"_placeholder\":true,\"num\":0}]",
    )
    .unwrap();
    let (_, args) = event_from_packet(&p, &one).unwrap();
    assert_eq!(args[0], json("{\"_placeholder\":false,\"num\":0}"));
    // Hand-built packets with bad shapes are refused, not panicked on.
    let mut bad = socket::Packet::new(PacketKind::Event, "/");
    assert!(matches!(
        event_from_packet(&bad, &[]),
        Err(CodecError::WrongShape(_))
    ));
    bad.data = Some(serde_json::json!([]));
    assert!(matches!(
        event_from_packet(&bad, &[]),
        Err(CodecError::WrongShape(_))
    ));
    bad.data = Some(serde_json::json!([1]));
    assert!(matches!(
        event_from_packet(&bad, &[]),
        Err(CodecError::WrongShape(_))
    ));
    let bad_ack = socket::Packet::new(PacketKind::Ack, "/");
    assert!(matches!(
        ack_from_packet(&bad_ack, &[]),
        Err(CodecError::WrongShape(_))
    ));
}

#[test]
fn encode_plain_events() {
    let f = encode_event("/", None, "name", &[json("{\"a\":1}")]);
    assert_eq!(f.text, "42[\"name\",{\"a\":1}]");
    assert!(f.attachments.is_empty());
    let f = encode_event("/chat", Some(7), "n", &[json("1")]);
    assert_eq!(f.text, "42/chat,7[\"n\",1]");
    let f = encode_event("", None, "bare", &[]);
    assert_eq!(f.text, "42[\"bare\"]");
    // Event names are JSON-escaped.
    let f = encode_event("/", None, "we\"ird\n\\é", &[]);
    assert_eq!(f.text, "42[\"we\\\"ird\\n\\\\é\"]");
    // Empty JSON text is written as null.
    let f = encode_event("/", None, "e", &[json(""), json("2")]);
    assert_eq!(f.text, "42[\"e\",null,2]");
    assert_eq!(
        f.text.capacity(),
        f.text.len(),
        "exactly one allocation of the right size"
    );
}

#[test]
fn encode_binary_events() {
    let f = encode_event(
        "/ns",
        None,
        "up",
        &[json("{\"a\":1}"), bin(b"xy"), bin(b"z")],
    );
    assert_eq!(
        f.text,
        "452-/ns,[\"up\",{\"a\":1},{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"
    );
    assert_eq!(
        f.attachments,
        vec![Bytes::from_static(b"xy"), Bytes::from_static(b"z")]
    );
    assert_eq!(f.text.capacity(), f.text.len());
    // Decodes back through the engine and socket layers to the same args.
    let engine::Packet::Message(sio) = engine::decode_text(&f.text).unwrap() else {
        panic!("not a message")
    };
    let p = socket::decode(&sio).unwrap();
    assert_eq!(p.kind, PacketKind::BinaryEvent);
    assert_eq!(p.namespace, "/ns");
    let (name, args) = event_from_packet(&p, &f.attachments).unwrap();
    assert_eq!(name, "up");
    assert_eq!(args, vec![json("{\"a\":1}"), bin(b"xy"), bin(b"z")]);
}

#[test]
fn encode_many_binary_args_counts_digits() {
    let args: Vec<Arg> = (0..12).map(|_| bin(b"q")).collect();
    let f = encode_event("/", Some(123), "many", &args);
    assert!(f.text.starts_with("4512-123[\"many\","));
    assert!(f.text.ends_with("{\"_placeholder\":true,\"num\":11}]"));
    assert_eq!(f.text.capacity(), f.text.len());
    assert_eq!(f.attachments.len(), 12);
}

#[test]
fn encode_acks() {
    let f = encode_ack("/", 5, &[json("{\"ok\":true}")]);
    assert_eq!(f.text, "435[{\"ok\":true}]");
    let f = encode_ack("/chat", 18446744073709551615, &[]);
    assert_eq!(f.text, "43/chat,18446744073709551615[]");
    let f = encode_ack("/", 1, &[bin(b"b"), json("2")]);
    assert_eq!(f.text, "461-1[{\"_placeholder\":true,\"num\":0},2]");
    assert_eq!(f.attachments, vec![Bytes::from_static(b"b")]);
    let p = socket::decode(&f.text[1..]).unwrap();
    assert_eq!(p.id, Some(1));
    assert_eq!(
        ack_from_packet(&p, &f.attachments).unwrap(),
        vec![bin(b"b"), json("2")]
    );
}

#[test]
fn connect_replies() {
    assert_eq!(encode_connect_ok("/", "abc", None), "40{\"sid\":\"abc\"}");
    assert_eq!(
        encode_connect_ok("/admin", "abc", Some("p\"1")),
        "40/admin,{\"sid\":\"abc\",\"pid\":\"p\\\"1\"}"
    );
    assert_eq!(
        encode_connect_error("/", "missing token"),
        "44{\"message\":\"missing token\"}"
    );
    assert_eq!(
        encode_connect_error("/nope", "Invalid namespace"),
        "44/nope,{\"message\":\"Invalid namespace\"}"
    );
    assert_eq!(encode_disconnect("/"), "41");
    assert_eq!(encode_disconnect("/chat"), "41/chat,");
    // Each decodes as the matching Socket.IO packet.
    let p = socket::decode(&encode_connect_ok("/a", "s", None)[1..]).unwrap();
    assert_eq!((p.kind, p.namespace.as_str()), (PacketKind::Connect, "/a"));
    let p = socket::decode(&encode_connect_error("/a", "m\n")[1..]).unwrap();
    assert_eq!(p.data.unwrap()["message"], "m\n");
    let p = socket::decode(&encode_disconnect("/a")[1..]).unwrap();
    assert_eq!(
        (p.kind, p.namespace.as_str()),
        (PacketKind::Disconnect, "/a")
    );
}
