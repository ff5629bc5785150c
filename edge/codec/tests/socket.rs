//! Socket.IO v5 codec tests: every packet kind both ways, binary reassembly, and malformed packets.

use bytes::Bytes;
use herald_codec::CodecError;
use herald_codec::socket::{BinaryAssembly, MAX_ATTACHMENTS, Packet, PacketKind, decode, encode};
use serde_json::json;

fn packet(
    kind: PacketKind,
    ns: &str,
    id: Option<u64>,
    data: Option<serde_json::Value>,
    att: usize,
) -> Packet {
    Packet {
        kind,
        namespace: ns.into(),
        id,
        data,
        attachments: att,
    }
}

#[test]
fn every_kind_both_ways() {
    use PacketKind::*;
    let cases = vec![
        ("0", packet(Connect, "/", None, None, 0)),
        (
            "0{\"token\":\"t\"}",
            packet(Connect, "/", None, Some(json!({"token": "t"})), 0),
        ),
        ("0/admin,", packet(Connect, "/admin", None, None, 0)),
        (
            "0/admin,{\"sid\":\"x\"}",
            packet(Connect, "/admin", None, Some(json!({"sid": "x"})), 0),
        ),
        ("1", packet(Disconnect, "/", None, None, 0)),
        ("1/admin,", packet(Disconnect, "/admin", None, None, 0)),
        (
            "2[\"hello\",1]",
            packet(Event, "/", None, Some(json!(["hello", 1])), 0),
        ),
        (
            "2/admin,456[\"project:delete\",123]",
            packet(
                Event,
                "/admin",
                Some(456),
                Some(json!(["project:delete", 123])),
                0,
            ),
        ),
        (
            "212[\"a\"]",
            packet(Event, "/", Some(12), Some(json!(["a"])), 0),
        ),
        (
            "3/admin,456[]",
            packet(Ack, "/admin", Some(456), Some(json!([])), 0),
        ),
        (
            "31[\"ok\",{\"x\":null}]",
            packet(Ack, "/", Some(1), Some(json!(["ok", {"x": null}])), 0),
        ),
        (
            "4{\"message\":\"Not authorized\"}",
            packet(
                ConnectError,
                "/",
                None,
                Some(json!({"message": "Not authorized"})),
                0,
            ),
        ),
        (
            "4/admin,{\"message\":\"m\"}",
            packet(
                ConnectError,
                "/admin",
                None,
                Some(json!({"message": "m"})),
                0,
            ),
        ),
        (
            "51-[\"hello\",{\"_placeholder\":true,\"num\":0}]",
            packet(
                BinaryEvent,
                "/",
                None,
                Some(json!(["hello", {"_placeholder": true, "num": 0}])),
                1,
            ),
        ),
        (
            "52-/admin,7[\"x\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
            packet(
                BinaryEvent,
                "/admin",
                Some(7),
                Some(
                    json!(["x", {"_placeholder": true, "num": 0}, {"_placeholder": true, "num": 1}]),
                ),
                2,
            ),
        ),
        (
            "61-/admin,456[{\"_placeholder\":true,\"num\":0}]",
            packet(
                BinaryAck,
                "/admin",
                Some(456),
                Some(json!([{"_placeholder": true, "num": 0}])),
                1,
            ),
        ),
        (
            "50-[\"zero\"]",
            packet(BinaryEvent, "/", None, Some(json!(["zero"])), 0),
        ),
    ];
    for (text, p) in cases {
        let decoded = decode(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(decoded, p, "{text:?}");
        let encoded = encode(&p);
        assert_eq!(decode(&encoded).unwrap(), p, "{text:?} -> {encoded:?}");
        // serde_json keeps object keys sorted; all objects above have one key or sorted keys, so text is stable.
        assert_eq!(encoded, text);
    }
}

#[test]
fn explicit_main_namespace_and_empty_namespace() {
    assert_eq!(decode("2/,[\"a\"]").unwrap().namespace, "/");
    let p = packet(PacketKind::Event, "", None, Some(json!(["a"])), 0);
    assert_eq!(encode(&p), "2[\"a\"]");
}

#[test]
fn kind_helpers() {
    for d in b'0'..=b'6' {
        let k = PacketKind::from_digit(d).unwrap();
        assert_eq!(k.digit() as u8, d);
    }
    assert_eq!(PacketKind::from_digit(b'7'), None);
    assert!(PacketKind::BinaryAck.is_binary() && PacketKind::BinaryAck.is_ack());
    assert!(!PacketKind::Event.is_binary() && PacketKind::Event.is_event());
    assert!(decode("51-[\"a\",{}]").unwrap().needs_attachments());
    assert!(!decode("50-[\"a\"]").unwrap().needs_attachments());
}

/// A predicate on the expected error.
type ErrorCheck = fn(&CodecError) -> bool;

#[test]
fn malformed_packets() {
    use CodecError::*;
    let long_digits = "9".repeat(100_000);
    let cases: Vec<(String, ErrorCheck)> = vec![
        (String::new(), |e| *e == Empty),
        ("7".into(), |e| *e == UnknownType('7')),
        ("a[\"x\"]".into(), |e| *e == UnknownType('a')),
        ("é".into(), |e| *e == UnknownType('é')),
        // a namespace without comma runs to the end: the data is missing
        ("2/admin[\"a\"]".into(), |e| matches!(e, WrongShape(_))),
        // non-numeric / overflowing ids
        ("2abc[\"a\"]".into(), |e| matches!(e, InvalidJson(_))),
        ("218446744073709551616[\"a\"]".into(), |e| *e == BadAckId),
        (format!("2{long_digits}[\"a\"]"), |e| *e == BadAckId),
        (format!("3{long_digits}[]"), |e| *e == BadAckId),
        ("3[]".into(), |e| *e == BadAckId),
        ("3/admin,[]".into(), |e| *e == BadAckId),
        ("01{}".into(), |e| *e == BadAckId),
        ("11".into(), |e| *e == BadAckId),
        // invalid JSON
        ("2[\"a\"".into(), |e| matches!(e, InvalidJson(_))),
        ("2[\"a\"]x".into(), |e| matches!(e, InvalidJson(_))),
        ("0{".into(), |e| matches!(e, InvalidJson(_))),
        ("2 ".into(), |e| matches!(e, InvalidJson(_))),
        // wrong shapes
        ("2".into(), |e| matches!(e, WrongShape(_))),
        ("2{\"a\":1}".into(), |e| matches!(e, WrongShape(_))),
        ("2\"a\"".into(), |e| matches!(e, WrongShape(_))),
        ("2[]".into(), |e| matches!(e, WrongShape(_))),
        ("2[1,2]".into(), |e| matches!(e, WrongShape(_))),
        ("2[null]".into(), |e| matches!(e, WrongShape(_))),
        ("31{}".into(), |e| matches!(e, WrongShape(_))),
        ("31".into(), |e| matches!(e, WrongShape(_))),
        ("0[]".into(), |e| matches!(e, WrongShape(_))),
        ("0\"x\"".into(), |e| matches!(e, WrongShape(_))),
        ("1{}".into(), |e| matches!(e, WrongShape(_))),
        ("4".into(), |e| matches!(e, WrongShape(_))),
        ("4\"plain string\"".into(), |e| matches!(e, WrongShape(_))),
        ("51-{}".into(), |e| matches!(e, WrongShape(_))),
        ("61-1{}".into(), |e| matches!(e, WrongShape(_))),
        // attachments count on non-binary kinds, missing/bad on binary kinds
        ("21-[\"a\"]".into(), |e| *e == AttachmentsOnNonBinary),
        ("31-1[]".into(), |e| *e == AttachmentsOnNonBinary),
        ("5[\"a\"]".into(), |e| *e == BadAttachmentCount),
        ("5-[\"a\"]".into(), |e| *e == BadAttachmentCount),
        ("51[\"a\"]".into(), |e| *e == BadAttachmentCount),
        ("5x-[\"a\"]".into(), |e| *e == BadAttachmentCount),
        ("6".into(), |e| *e == BadAttachmentCount),
        (format!("5{long_digits}-[\"a\"]"), |e| {
            *e == BadAttachmentCount
        }),
        (format!("5{}-[\"a\"]", MAX_ATTACHMENTS + 1), |e| {
            *e == BadAttachmentCount
        }),
    ];
    for (text, check) in cases {
        match decode(&text) {
            Ok(p) => panic!("{:?} decoded to {p:?}", truncate(&text)),
            Err(e) => assert!(check(&e), "{:?}: unexpected error {e:?}", truncate(&text)),
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[test]
fn max_attachments_is_accepted() {
    let p = decode(&format!("5{MAX_ATTACHMENTS}-[\"a\"]")).unwrap();
    assert_eq!(p.attachments, MAX_ATTACHMENTS);
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let deep = format!("2[\"a\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(decode(&deep), Err(CodecError::InvalidJson(_))));
}

#[test]
fn binary_reassembly() {
    let p = decode(
        "52-/admin,3[\"up\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
    )
    .unwrap();
    let mut asm = BinaryAssembly::new(p.clone());
    assert_eq!(asm.expected(), 2);
    assert_eq!(asm.take_if_complete(), None);
    assert_eq!(asm.push(Bytes::from_static(b"one")).unwrap(), None);
    assert_eq!(asm.received(), 1);
    let complete = asm.push(Bytes::from_static(b"two")).unwrap().unwrap();
    assert_eq!(complete.packet, p);
    assert_eq!(
        complete.attachments,
        vec![Bytes::from_static(b"one"), Bytes::from_static(b"two")]
    );
    // Anything after completion is one too many.
    assert_eq!(
        asm.push(Bytes::from_static(b"three")),
        Err(CodecError::TooManyAttachments)
    );
}

#[test]
fn namespace_without_trailing_comma() {
    // As the reference parser reads them: the namespace runs to the end of the packet.
    let p = decode("0/custom").unwrap();
    assert_eq!(
        (p.kind, p.namespace.as_str(), p.data),
        (PacketKind::Connect, "/custom", None)
    );
    let p = decode("1/custom").unwrap();
    assert_eq!(
        (p.kind, p.namespace.as_str()),
        (PacketKind::Disconnect, "/custom")
    );
    let p = decode("0/").unwrap();
    assert_eq!(p.namespace, "/");
}

#[test]
fn binary_reassembly_bytes_are_bounded() {
    let p =
        decode("52-[\"up\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]")
            .unwrap();
    let mut asm = BinaryAssembly::with_limit(p.clone(), 5);
    assert_eq!(asm.push(Bytes::from_static(b"abc")).unwrap(), None);
    assert_eq!(
        asm.push(Bytes::from_static(b"def")),
        Err(CodecError::AttachmentsTooLarge)
    );
    let mut asm = BinaryAssembly::with_limit(p, 6);
    assert_eq!(asm.push(Bytes::from_static(b"abc")).unwrap(), None);
    assert!(
        asm.push(Bytes::from_static(b"def")).unwrap().is_some(),
        "exactly the limit"
    );
}

#[test]
fn binary_reassembly_zero_attachments() {
    let p = decode("60-/x,9[]").unwrap();
    let mut asm = BinaryAssembly::new(p.clone());
    assert_eq!(asm.push(Bytes::new()), Err(CodecError::TooManyAttachments));
    let done = asm.take_if_complete().unwrap();
    assert_eq!(done.packet, p);
    assert!(done.attachments.is_empty());
    assert_eq!(asm.take_if_complete(), None);
}
