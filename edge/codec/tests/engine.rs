//! Engine.IO v4 codec tests: every packet type both ways, polling payloads, handshake, malformed input.

use bytes::Bytes;
use herald_codec::CodecError;
use herald_codec::engine::{
    Handshake, Packet, decode_binary, decode_payload, decode_text, encode_binary_record,
    encode_payload, join_records,
};

#[test]
fn encode_every_text_packet() {
    let cases = [
        (Packet::Open("{\"sid\":\"a\"}".into()), "0{\"sid\":\"a\"}"),
        (Packet::Close, "1"),
        (Packet::Ping(None), "2"),
        (Packet::Ping(Some("probe".into())), "2probe"),
        (Packet::Pong(None), "3"),
        (Packet::Pong(Some("probe".into())), "3probe"),
        (Packet::Message("hello".into()), "4hello"),
        (Packet::Message(String::new()), "4"),
        (Packet::Upgrade, "5"),
        (Packet::Noop, "6"),
    ];
    for (p, text) in cases {
        assert_eq!(p.encode_text().as_deref(), Some(text), "{p:?}");
        assert_eq!(decode_text(text).unwrap(), p, "{text:?}");
    }
}

#[test]
fn binary_has_no_text_form() {
    assert_eq!(
        Packet::Binary(Bytes::from_static(b"\x01\x02")).encode_text(),
        None
    );
    assert_eq!(
        decode_binary(Bytes::from_static(b"\x01\x02\x03")),
        Packet::Binary(Bytes::from_static(b"\x01\x02\x03"))
    );
}

#[test]
fn decode_base64_record() {
    assert_eq!(
        decode_text("bAQID").unwrap(),
        Packet::Binary(Bytes::from_static(&[1, 2, 3]))
    );
    // Padding optional on input.
    assert_eq!(
        decode_text("bAQIDBA==").unwrap(),
        Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))
    );
    assert_eq!(
        decode_text("bAQIDBA").unwrap(),
        Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))
    );
    assert_eq!(decode_text("b").unwrap(), Packet::Binary(Bytes::new()));
}

#[test]
fn message_keeps_unicode_and_separators_inside_frames() {
    let p = decode_text("4€€€ 𝄞").unwrap();
    assert_eq!(p, Packet::Message("€€€ 𝄞".into()));
}

#[test]
fn malformed_text_frames() {
    assert_eq!(decode_text(""), Err(CodecError::Empty));
    assert_eq!(decode_text("7"), Err(CodecError::UnknownType('7')));
    assert_eq!(decode_text("x4"), Err(CodecError::UnknownType('x')));
    assert_eq!(decode_text("€"), Err(CodecError::UnknownType('€')));
    assert_eq!(decode_text("1x"), Err(CodecError::UnexpectedData('1')));
    assert_eq!(decode_text("5probe"), Err(CodecError::UnexpectedData('5')));
    assert_eq!(decode_text("6 "), Err(CodecError::UnexpectedData('6')));
    assert_eq!(decode_text("b!!!"), Err(CodecError::BadBase64));
    assert_eq!(decode_text("bA"), Err(CodecError::BadBase64));
    assert_eq!(decode_text("bAQID="), Err(CodecError::BadBase64));
    assert!(matches!(decode_text("0"), Err(CodecError::InvalidJson(_))));
    assert!(matches!(decode_text("0{"), Err(CodecError::InvalidJson(_))));
    assert!(matches!(
        decode_text("0[1]"),
        Err(CodecError::WrongShape(_))
    ));
}

#[test]
fn payload_mixed_text_and_binary_round_trip() {
    let packets = vec![
        Packet::Message("hello".into()),
        Packet::Binary(Bytes::from_static(&[1, 2, 3])),
        Packet::Ping(Some("probe".into())),
        Packet::Message("€€€".into()),
        Packet::Close,
    ];
    let body = encode_payload(&packets);
    assert_eq!(body, "4hello\x1ebAQID\x1e2probe\x1e4€€€\x1e1");
    assert_eq!(decode_payload(body.as_bytes()).unwrap(), packets);
}

#[test]
fn payload_single_and_empty_list() {
    assert_eq!(encode_payload(&[]), "");
    assert_eq!(encode_payload(&[Packet::Noop]), "6");
    assert_eq!(
        decode_payload(b"40").unwrap(),
        vec![Packet::Message("0".into())]
    );
}

#[test]
fn malformed_payloads() {
    assert_eq!(decode_payload(b""), Err(CodecError::Empty));
    assert_eq!(decode_payload(b"4a\x1e"), Err(CodecError::Empty));
    assert_eq!(decode_payload(b"\x1e4a"), Err(CodecError::Empty));
    assert_eq!(decode_payload(b"4a\x1e\x1e4b"), Err(CodecError::Empty));
    assert_eq!(
        decode_payload(b"4a\x1e9"),
        Err(CodecError::UnknownType('9'))
    );
    assert_eq!(decode_payload(b"4a\x1eb***"), Err(CodecError::BadBase64));
    assert_eq!(decode_payload(b"4\xff\xfe"), Err(CodecError::BadUtf8));
}

#[test]
fn join_records_and_binary_record() {
    let bin = encode_binary_record(&[1, 2, 3]);
    assert_eq!(bin, "bAQID");
    let body = join_records(["42[\"a\"]", bin.as_str()]);
    assert_eq!(body, "42[\"a\"]\x1ebAQID");
    assert_eq!(
        decode_payload(body.as_bytes()).unwrap(),
        vec![
            Packet::Message("2[\"a\"]".into()),
            Packet::Binary(Bytes::from_static(&[1, 2, 3]))
        ]
    );
    assert_eq!(join_records(Vec::<&str>::new()), "");
}

#[test]
fn handshake_json() {
    let h = Handshake {
        sid: "abc\"def".into(),
        upgrades: vec!["websocket".into()],
        ping_interval_ms: 25000,
        ping_timeout_ms: 20000,
        max_payload: 1_000_000,
    };
    let json = h.to_json();
    assert_eq!(
        json,
        r#"{"sid":"abc\"def","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["sid"], "abc\"def");
    assert_eq!(Handshake::from_json(&json).unwrap(), h);
    let open = Packet::Open(json);
    let text = open.encode_text().unwrap();
    assert_eq!(decode_text(&text).unwrap(), open);

    let no_upgrades = Handshake {
        upgrades: vec![],
        ..h
    };
    assert!(no_upgrades.to_json().contains("\"upgrades\":[]"));
    assert!(matches!(
        Handshake::from_json("{}"),
        Err(CodecError::WrongShape(_))
    ));
    assert!(matches!(
        Handshake::from_json("nope"),
        Err(CodecError::InvalidJson(_))
    ));
}
