//! RFC 6455 framing tests: accept key, server frame encoding, client frame decoding (roundtrips, fragmentation,
//! every protocol error), plus seeded randomized streams cut at random points and random garbage.

use bytes::{Bytes, BytesMut};
use herald_codec::ws::{
    Decoder, GUID, Message, Opcode, WsError, accept_key, close_frame, encode_frame, frame,
    frame_len,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------------------------
// A small client-side encoder (what a browser sends), written independently of the decoder under test.

/// How the 7-bit length field is used.
#[derive(Clone, Copy, Debug)]
enum LenForm {
    /// The smallest form for the length (what a conforming client sends).
    Minimal,
    /// Always `126` + u16.
    Medium,
    /// Always `127` + u64.
    Long,
}

/// One client frame: `b0` is the whole first header byte (FIN | RSV | opcode); the payload is masked with `key`
/// unless `key` is `None` (then the MASK bit is clear too).
fn raw_frame(b0: u8, payload: &[u8], key: Option<[u8; 4]>, form: LenForm) -> Vec<u8> {
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    let mut out = vec![b0];
    let len = payload.len();
    match form {
        LenForm::Minimal if len < 126 => out.push(mask_bit | len as u8),
        LenForm::Minimal | LenForm::Medium if len <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match key {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A masked client frame with the minimal length form. `op` is the raw 4-bit opcode.
fn client_frame(fin: bool, op: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    raw_frame(
        if fin { 0x80 } else { 0 } | op,
        payload,
        Some(key),
        LenForm::Minimal,
    )
}

/// Turns an unmasked server frame (as produced by the encoder under test) into the same frame masked with `key`,
/// as a client would send it.
fn mask_server_frame(server: &[u8], key: [u8; 4]) -> Vec<u8> {
    assert_eq!(server[1] & 0x80, 0, "server frames are unmasked");
    let header_len = match server[1] & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    let mut out = server[..header_len].to_vec();
    out[1] |= 0x80;
    out.extend_from_slice(&key);
    out.extend(
        server[header_len..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4]),
    );
    out
}

/// Feeds `bytes` to `dec` all at once and drains every message, stopping at the first error.
fn decode_all(dec: &mut Decoder, bytes: &[u8]) -> Result<Vec<Message>, WsError> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(m) = dec.decode(&mut buf)? {
        out.push(m);
    }
    Ok(out)
}

/// Feeds `bytes` in the given chunk sizes (the last chunk takes the rest), draining messages after each chunk.
fn decode_chunked(
    dec: &mut Decoder,
    bytes: &[u8],
    cuts: &[usize],
) -> Result<Vec<Message>, WsError> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut cuts = cuts.iter();
    while !rest.is_empty() {
        let n = cuts.next().copied().unwrap_or(rest.len()).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        while let Some(m) = dec.decode(&mut buf)? {
            out.push(m);
        }
    }
    assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
    Ok(out)
}

fn decode_one(bytes: &[u8]) -> Result<Option<Message>, WsError> {
    Decoder::new(MIB).decode(&mut BytesMut::from(bytes))
}

// ---------------------------------------------------------------------------------------------------------------
// Handshake and encoding.

#[test]
fn accept_key_matches_rfc_example() {
    assert_eq!(GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    // RFC 6455 section 1.3.
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_ne!(accept_key("dGhlIHNhbXBsZSBub25jZR=="), accept_key("x"));
}

#[test]
fn header_sizes_at_the_boundaries() {
    let cases: [(usize, &[u8]); 6] = [
        (0, &[0x82, 0]),
        (125, &[0x82, 125]),
        (126, &[0x82, 126, 0, 126]),
        (65535, &[0x82, 126, 0xff, 0xff]),
        (65536, &[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        (70_000, &[0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]),
    ];
    for (len, header) in cases {
        let payload = vec![0xa5; len];
        assert_eq!(frame_len(len), header.len() + len, "len {len}");
        let f = frame(Opcode::Binary, &payload);
        assert_eq!(f.len(), frame_len(len), "len {len}");
        assert_eq!(&f[..header.len()], header, "len {len}");
        assert_eq!(&f[header.len()..], &payload[..], "len {len}");
    }
}

#[test]
fn every_opcode_is_encoded_final_and_unmasked() {
    let cases = [
        (Opcode::Continuation, 0x80),
        (Opcode::Text, 0x81),
        (Opcode::Binary, 0x82),
        (Opcode::Close, 0x88),
        (Opcode::Ping, 0x89),
        (Opcode::Pong, 0x8a),
    ];
    for (op, b0) in cases {
        assert_eq!(&frame(op, b"hi")[..], &[b0, 2, b'h', b'i'], "{op:?}");
    }
}

#[test]
fn encode_frame_appends() {
    let mut out = BytesMut::from(&b"xy"[..]);
    encode_frame(Opcode::Text, b"abc", &mut out);
    encode_frame(Opcode::Pong, b"", &mut out);
    assert_eq!(&out[..], b"xy\x81\x03abc\x8a\x00");
}

#[test]
fn close_frame_layout_and_truncation() {
    assert_eq!(
        &close_frame(1000, "bye")[..],
        &[0x88, 5, 0x03, 0xe8, b'b', b'y', b'e']
    );
    assert_eq!(&close_frame(1001, "")[..], &[0x88, 2, 0x03, 0xe9]);

    let long = "a".repeat(200);
    let f = close_frame(1000, &long);
    assert_eq!(f.len(), 127);
    assert_eq!(f[1], 125);

    // 122 ASCII bytes then a 3-byte char: 125 would split it, so the reason stops at 122 bytes.
    let reason = format!("{}€€", "a".repeat(122));
    let f = close_frame(4000, &reason);
    assert_eq!(f[1] as usize, 2 + 122);
    let msgs = decode_all(&mut Decoder::new(0), &mask_server_frame(&f, KEY)).unwrap();
    assert_eq!(msgs, [Message::Close(Some((4000, "a".repeat(122))))]);

    // 120 ASCII + "€" is exactly 123 reason bytes and fits; a further char is dropped.
    for reason in [
        format!("{}€", "a".repeat(120)),
        format!("{}€x", "a".repeat(120)),
    ] {
        let f = close_frame(1000, &reason);
        assert_eq!(f.len(), 127);
        let msgs = decode_all(&mut Decoder::new(0), &mask_server_frame(&f, KEY)).unwrap();
        assert_eq!(
            msgs,
            [Message::Close(Some((
                1000,
                format!("{}€", "a".repeat(120))
            )))]
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding valid streams.

const SIZES: [usize; 14] = [
    0, 1, 3, 7, 8, 9, 16, 125, 126, 127, 1000, 65535, 65536, 70_001,
];

#[test]
fn roundtrip_binary_and_text_of_many_sizes() {
    for &len in &SIZES {
        let binary: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        let wire = mask_server_frame(&frame(Opcode::Binary, &binary), KEY);
        let msgs = decode_all(&mut Decoder::new(MIB), &wire).unwrap();
        assert_eq!(msgs, [Message::Binary(Bytes::from(binary))], "len {len}");

        let text: String = "aé€𝄞".chars().cycle().take(len).collect();
        let wire = mask_server_frame(&frame(Opcode::Text, text.as_bytes()), [9, 8, 7, 6]);
        let msgs = decode_all(&mut Decoder::new(MIB), &wire).unwrap();
        assert_eq!(msgs, [Message::Text(text)], "len {len}");
    }
}

#[test]
fn control_frames_roundtrip() {
    let mut wire = Vec::new();
    wire.extend(mask_server_frame(&frame(Opcode::Ping, b"p1"), KEY));
    wire.extend(mask_server_frame(&frame(Opcode::Pong, &[7; 125]), KEY));
    wire.extend(mask_server_frame(&frame(Opcode::Ping, b""), KEY));
    wire.extend(mask_server_frame(&close_frame(1000, "done"), KEY));
    let msgs = decode_all(&mut Decoder::new(MIB), &wire).unwrap();
    assert_eq!(
        msgs,
        [
            Message::Ping(Bytes::from_static(b"p1")),
            Message::Pong(Bytes::from(vec![7; 125])),
            Message::Ping(Bytes::new()),
            Message::Close(Some((1000, "done".into()))),
        ]
    );
}

#[test]
fn several_frames_in_one_buffer_are_taken_one_at_a_time() {
    let mut wire = client_frame(true, 1, b"one", KEY);
    wire.extend(client_frame(true, 2, b"two", KEY));
    wire.extend(&client_frame(true, 1, b"three", KEY)[..4]);
    let mut buf = BytesMut::from(&wire[..]);
    let mut dec = Decoder::new(MIB);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Message::Text("one".into()))
    );
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Message::Binary(Bytes::from_static(b"two")))
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    assert_eq!(buf.len(), 4, "the incomplete frame stays in the buffer");
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    assert_eq!(buf.len(), 4);
}

#[test]
fn non_minimal_length_forms_are_accepted() {
    for form in [LenForm::Minimal, LenForm::Medium, LenForm::Long] {
        let wire = raw_frame(0x82, b"abc", Some(KEY), form);
        assert_eq!(
            decode_one(&wire).unwrap(),
            Some(Message::Binary(Bytes::from_static(b"abc"))),
            "{form:?}"
        );
    }
}

#[test]
fn fragmented_text_with_a_ping_in_between() {
    let mut wire = client_frame(false, 1, "hé".as_bytes(), KEY);
    wire.extend(client_frame(false, 0, b"llo ", [1, 2, 3, 4]));
    wire.extend(client_frame(true, 9, b"are you there", [5, 6, 7, 8]));
    wire.extend(client_frame(false, 0, b"", KEY));
    wire.extend(client_frame(
        true,
        0,
        "wörld".as_bytes(),
        [0xff, 0, 0xff, 0],
    ));
    wire.extend(client_frame(true, 1, b"next", KEY));

    let mut dec = Decoder::new(MIB);
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Message::Ping(Bytes::from_static(b"are you there")))
    );
    assert!(dec.in_message());
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Message::Text("héllo wörld".into()))
    );
    assert!(!dec.in_message());
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Message::Text("next".into()))
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    assert!(buf.is_empty());
}

#[test]
fn fragmented_binary_and_in_message() {
    let mut dec = Decoder::new(MIB);
    assert!(!dec.in_message());
    let first = client_frame(false, 2, &[1, 2, 3], KEY);
    assert_eq!(decode_all(&mut dec, &first).unwrap(), []);
    assert!(dec.in_message());
    let last = client_frame(true, 0, &[4, 5], KEY);
    assert_eq!(
        decode_all(&mut dec, &last).unwrap(),
        [Message::Binary(Bytes::from_static(&[1, 2, 3, 4, 5]))]
    );
    assert!(!dec.in_message());
}

#[test]
fn byte_at_a_time_equals_all_at_once() {
    let mut wire = Vec::new();
    wire.extend(client_frame(true, 1, "first ✓".as_bytes(), KEY));
    wire.extend(client_frame(false, 2, &[0; 300], [1, 1, 1, 1]));
    wire.extend(client_frame(true, 10, b"pong", KEY));
    wire.extend(client_frame(true, 0, &[9; 70_000], [3, 1, 4, 1]));
    wire.extend(client_frame(false, 1, &"𝄞".as_bytes()[..1], KEY));
    wire.extend(client_frame(false, 0, &"𝄞".as_bytes()[1..3], KEY));
    wire.extend(client_frame(true, 0, &"𝄞".as_bytes()[3..], KEY));
    wire.extend(client_frame(true, 8, &[0x03, 0xe8, b'o', b'k'], KEY));

    let whole = decode_all(&mut Decoder::new(MIB), &wire).unwrap();
    assert_eq!(whole.len(), 5);
    assert_eq!(whole[4], Message::Close(Some((1000, "ok".into()))));
    assert_eq!(whole[3], Message::Text("𝄞".into()));

    let mut dec = Decoder::new(MIB);
    let mut buf = BytesMut::new();
    let mut one_by_one = Vec::new();
    for &b in &wire {
        buf.extend_from_slice(&[b]);
        while let Some(m) = dec.decode(&mut buf).unwrap() {
            one_by_one.push(m);
        }
    }
    assert!(buf.is_empty());
    assert_eq!(one_by_one, whole);
}

#[test]
fn close_payloads() {
    assert_eq!(
        decode_one(&client_frame(true, 8, b"", KEY)).unwrap(),
        Some(Message::Close(None))
    );
    let mut payload = 1001u16.to_be_bytes().to_vec();
    payload.extend_from_slice("going away ✈".as_bytes());
    assert_eq!(
        decode_one(&client_frame(true, 8, &payload, KEY)).unwrap(),
        Some(Message::Close(Some((1001, "going away ✈".into()))))
    );
    assert_eq!(
        decode_one(&client_frame(true, 8, &[0x03, 0xe8], KEY)).unwrap(),
        Some(Message::Close(Some((1000, String::new()))))
    );
    let err = decode_one(&client_frame(true, 8, &[0x03], KEY)).unwrap_err();
    assert_eq!(err, WsError::CloseTooShort);
    assert_eq!(err.close_code(), 1002);
}

#[test]
fn close_codes_per_rfc_6455_section_7_4() {
    let valid = [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ];
    for code in valid {
        let wire = client_frame(true, 8, &code.to_be_bytes(), KEY);
        assert_eq!(
            decode_one(&wire).unwrap(),
            Some(Message::Close(Some((code, String::new())))),
            "{code}"
        );
    }
    let invalid = [
        0u16, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ];
    for code in invalid {
        let wire = client_frame(true, 8, &code.to_be_bytes(), KEY);
        let err = decode_one(&wire).unwrap_err();
        assert_eq!(err, WsError::InvalidCloseCode(code));
        assert_eq!(err.close_code(), 1002);
    }
}

#[test]
fn limit_applies_to_data_messages_only() {
    let mut dec = Decoder::new(4);
    let exact = client_frame(true, 2, &[1, 2, 3, 4], KEY);
    assert_eq!(decode_all(&mut dec, &exact).unwrap().len(), 1);
    let ping = client_frame(true, 9, &[0; 125], KEY);
    assert_eq!(decode_all(&mut dec, &ping).unwrap().len(), 1);
    let over = client_frame(true, 1, b"hello", KEY);
    assert_eq!(
        decode_all(&mut dec, &over).unwrap_err(),
        WsError::TooBig { limit: 4 }
    );

    // The fragmented message so far counts too.
    let mut dec = Decoder::new(4);
    assert_eq!(
        decode_all(&mut dec, &client_frame(false, 2, &[1, 2, 3], KEY)).unwrap(),
        []
    );
    let mut buf = BytesMut::from(&client_frame(true, 0, &[4, 5], KEY)[..2]);
    assert_eq!(dec.decode(&mut buf), Err(WsError::TooBig { limit: 4 }));
}

// ---------------------------------------------------------------------------------------------------------------
// Errors.

#[test]
fn every_error_and_its_close_code() {
    let mut mid_message = client_frame(false, 1, b"a", KEY);
    mid_message.extend(client_frame(true, 2, b"b", KEY));
    let long_ping = client_frame(true, 9, &[0; 126], KEY);
    let cases: Vec<(&str, Vec<u8>, WsError, u16)> = vec![
        (
            "unmasked",
            raw_frame(0x81, b"hi", None, LenForm::Minimal),
            WsError::Unmasked,
            1002,
        ),
        (
            "rsv1",
            client_frame(true, 0x41, b"x", KEY),
            WsError::ReservedBits(0x40),
            1002,
        ),
        (
            "rsv2+3",
            client_frame(true, 0x32, b"x", KEY),
            WsError::ReservedBits(0x30),
            1002,
        ),
        (
            "opcode 3",
            client_frame(true, 3, b"", KEY),
            WsError::UnknownOpcode(3),
            1002,
        ),
        (
            "opcode 15",
            client_frame(true, 15, b"", KEY),
            WsError::UnknownOpcode(15),
            1002,
        ),
        ("long ping", long_ping, WsError::ControlTooLong, 1002),
        (
            "fragmented ping",
            client_frame(false, 9, b"", KEY),
            WsError::FragmentedControl,
            1002,
        ),
        (
            "fragmented close",
            client_frame(false, 8, b"", KEY),
            WsError::FragmentedControl,
            1002,
        ),
        (
            "lone continuation",
            client_frame(true, 0, b"x", KEY),
            WsError::UnexpectedContinuation,
            1002,
        ),
        (
            "data frame mid-message",
            mid_message,
            WsError::MessageInterrupted,
            1002,
        ),
        (
            "64-bit length top bit",
            vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0],
            WsError::BadLength,
            1002,
        ),
        (
            "too big",
            client_frame(true, 2, &[0; 2000], KEY),
            WsError::TooBig { limit: 1000 },
            1009,
        ),
        (
            "invalid utf-8",
            client_frame(true, 1, &[b'a', 0xff], KEY),
            WsError::InvalidUtf8,
            1007,
        ),
        (
            "truncated utf-8",
            client_frame(true, 1, &"€".as_bytes()[..2], KEY),
            WsError::InvalidUtf8,
            1007,
        ),
        (
            "1-byte close",
            client_frame(true, 8, &[3], KEY),
            WsError::CloseTooShort,
            1002,
        ),
        (
            "close code 1005",
            client_frame(true, 8, &[0x03, 0xed], KEY),
            WsError::InvalidCloseCode(1005),
            1002,
        ),
        (
            "close reason utf-8",
            client_frame(true, 8, &[0x03, 0xe8, 0xc0, 0x80], KEY),
            WsError::InvalidCloseReason,
            1007,
        ),
    ];
    for (name, wire, expected, code) in cases {
        let mut dec = Decoder::new(1000);
        let got = decode_all(&mut dec, &wire);
        assert_eq!(got, Err(expected.clone()), "{name}");
        assert_eq!(expected.close_code(), code, "{name}");
        assert!(!expected.to_string().is_empty());
    }
}

#[test]
fn header_errors_need_only_the_header_bytes() {
    let early: [(&[u8], WsError); 7] = [
        (&[0xc1], WsError::ReservedBits(0x40)),
        (&[0x84], WsError::UnknownOpcode(4)),
        (&[0x09], WsError::FragmentedControl),
        (&[0x80], WsError::UnexpectedContinuation),
        (&[0x81, 0x05], WsError::Unmasked),
        (&[0x89, 0xfe], WsError::ControlTooLong),
        (
            &[0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            WsError::BadLength,
        ),
    ];
    for (bytes, expected) in early {
        let mut buf = BytesMut::from(bytes);
        assert_eq!(
            Decoder::new(MIB).decode(&mut buf),
            Err(expected),
            "{bytes:?}"
        );
        assert_eq!(&buf[..], bytes, "the offending frame stays in the buffer");
    }
}

#[test]
fn huge_declared_length_fails_from_the_header_alone() {
    // 2^40 bytes declared; only the 10 length bytes are present (not even the mask key).
    let header = [0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0];
    let mut buf = BytesMut::from(&header[..]);
    let mut dec = Decoder::new(MIB);
    assert_eq!(dec.decode(&mut buf), Err(WsError::TooBig { limit: MIB }));
    assert_eq!(dec.decode(&mut buf).unwrap_err().close_code(), 1009);
    assert!(
        buf.capacity() < 1024,
        "nothing is allocated for the payload"
    );

    // One byte short of the length field: still just waiting.
    let mut buf = BytesMut::from(&header[..9]);
    assert_eq!(dec.decode(&mut buf), Ok(None));

    // Largest u64 without the top bit: too big for a limit one below it, merely awaited (not allocated) under an
    // unbounded limit. Then a 16-bit length and a continuation over the limit.
    let max_len = [0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let limit = usize::try_from(u64::MAX >> 1).unwrap_or(usize::MAX) - 1;
    let mut buf = BytesMut::from(&max_len[..]);
    assert_eq!(
        Decoder::new(limit).decode(&mut buf),
        Err(WsError::TooBig { limit })
    );
    let mut buf = BytesMut::from(&max_len[..]);
    buf.extend_from_slice(&KEY);
    buf.extend_from_slice(b"abc");
    assert_eq!(Decoder::new(usize::MAX).decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), 17);
    let mut buf = BytesMut::from(&[0x82, 0xfe, 0x10, 0x00][..]);
    assert_eq!(
        Decoder::new(4095).decode(&mut buf),
        Err(WsError::TooBig { limit: 4095 })
    );
    let mut dec = Decoder::new(MIB);
    let mut buf = BytesMut::from(&client_frame(false, 1, b"abc", KEY)[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    buf.extend_from_slice(&[0x80, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0]);
    assert_eq!(dec.decode(&mut buf), Err(WsError::TooBig { limit: MIB }));
}

#[test]
fn invalid_utf8_split_across_fragments() {
    let euro = "€".as_bytes(); // e2 82 ac

    // A valid char split over three fragments is fine.
    let mut wire = client_frame(false, 1, &euro[..1], KEY);
    wire.extend(client_frame(false, 0, &euro[1..2], KEY));
    wire.extend(client_frame(true, 0, &euro[2..], KEY));
    assert_eq!(
        decode_all(&mut Decoder::new(MIB), &wire).unwrap(),
        [Message::Text("€".into())]
    );

    // A started sequence continued by a non-continuation byte fails at that fragment (before the message ends).
    let mut dec = Decoder::new(MIB);
    let mut wire = client_frame(false, 1, &[b'o', b'k', 0xe2, 0x82], KEY);
    wire.extend(client_frame(false, 0, b"A", KEY));
    assert_eq!(decode_all(&mut dec, &wire), Err(WsError::InvalidUtf8));

    // An invalid byte fails on the first fragment already.
    let wire = client_frame(false, 1, &[0xff], KEY);
    assert_eq!(
        decode_all(&mut Decoder::new(MIB), &wire),
        Err(WsError::InvalidUtf8)
    );

    // A sequence still incomplete when the message ends fails.
    let mut wire = client_frame(false, 1, b"x", KEY);
    wire.extend(client_frame(true, 0, &euro[..2], KEY));
    let err = decode_all(&mut Decoder::new(MIB), &wire).unwrap_err();
    assert_eq!(err, WsError::InvalidUtf8);
    assert_eq!(err.close_code(), 1007);

    // Binary messages are never checked.
    let mut wire = client_frame(false, 2, &euro[..2], KEY);
    wire.extend(client_frame(true, 0, &[0xff], KEY));
    assert_eq!(
        decode_all(&mut Decoder::new(MIB), &wire).unwrap(),
        [Message::Binary(Bytes::from_static(&[0xe2, 0x82, 0xff]))]
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Randomized.

/// Random cut points for a stream of `len` bytes: mostly small chunks, sometimes big ones.
fn random_cuts(rng: &mut StdRng, len: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut total = 0;
    while total < len {
        let n = match rng.random_range(0..4) {
            0 => 1,
            1 => rng.random_range(1..16),
            2 => rng.random_range(1..200),
            _ => rng.random_range(1..=len),
        };
        cuts.push(n);
        total += n;
    }
    cuts
}

fn random_text(rng: &mut StdRng, max_chars: usize) -> String {
    const POOL: [char; 8] = ['a', 'Z', ' ', '\0', 'é', '€', '𝄞', '\u{10ffff}'];
    let n = rng.random_range(0..=max_chars);
    (0..n)
        .map(|_| POOL[rng.random_range(0..POOL.len())])
        .collect()
}

fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let n = match rng.random_range(0..40) {
        0..4 => 0,
        4..8 => rng.random_range(120..=130),
        8 => rng.random_range(65_530..=65_540),
        _ => rng.random_range(0..=max),
    };
    let mut bytes = vec![0; n];
    rng.fill(&mut bytes[..]);
    bytes
}

/// A random valid client stream and the messages it must decode to, in order.
fn random_stream(rng: &mut StdRng) -> (Vec<u8>, Vec<Message>) {
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    let key = |rng: &mut StdRng| -> [u8; 4] { rng.random() };
    let control = |rng: &mut StdRng, wire: &mut Vec<u8>, expected: &mut Vec<Message>| {
        let payload: Vec<u8> = (0..rng.random_range(0..=125))
            .map(|_| rng.random())
            .collect();
        let k = key(rng);
        if rng.random_bool(0.5) {
            wire.extend(client_frame(true, 9, &payload, k));
            expected.push(Message::Ping(Bytes::from(payload)));
        } else {
            wire.extend(client_frame(true, 10, &payload, k));
            expected.push(Message::Pong(Bytes::from(payload)));
        }
    };
    for _ in 0..rng.random_range(1..8) {
        if rng.random_bool(0.25) {
            control(rng, &mut wire, &mut expected);
            continue;
        }
        let text = rng.random_bool(0.5);
        let (payload, message) = if text {
            let s = random_text(rng, 300);
            (s.as_bytes().to_vec(), Message::Text(s))
        } else {
            let b = random_bytes(rng, 300);
            (b.clone(), Message::Binary(Bytes::from(b)))
        };
        // Split at arbitrary byte positions (also inside UTF-8 sequences), possibly into empty fragments.
        let pieces = rng.random_range(1..5);
        let mut cuts: Vec<usize> = (1..pieces)
            .map(|_| rng.random_range(0..=payload.len()))
            .collect();
        cuts.push(0);
        cuts.push(payload.len());
        cuts.sort_unstable();
        let last = cuts.len() - 2;
        for i in 0..=last {
            let op = if i == 0 { if text { 1 } else { 2 } } else { 0 };
            let form = match rng.random_range(0..8) {
                0 => LenForm::Medium,
                1 => LenForm::Long,
                _ => LenForm::Minimal,
            };
            let b0 = if i == last { 0x80 } else { 0 } | op;
            wire.extend(raw_frame(
                b0,
                &payload[cuts[i]..cuts[i + 1]],
                Some(key(rng)),
                form,
            ));
            if i != last && rng.random_bool(0.3) {
                control(rng, &mut wire, &mut expected);
            }
        }
        expected.push(message);
    }
    if rng.random_bool(0.3) {
        let code = [1000u16, 1001, 1011, 3000, 4999][rng.random_range(0..5)];
        let reason = random_text(rng, 30);
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        wire.extend(client_frame(true, 8, &payload, key(rng)));
        expected.push(Message::Close(Some((code, reason))));
    }
    (wire, expected)
}

#[test]
fn random_valid_streams_decode_to_what_was_encoded() {
    for seed in 0..3000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (wire, expected) = random_stream(&mut rng);
        let cuts = random_cuts(&mut rng, wire.len());
        let mut dec = Decoder::new(MIB);
        let got =
            decode_chunked(&mut dec, &wire, &cuts).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(got, expected, "seed {seed}");
        assert!(!dec.in_message(), "seed {seed}");
    }
}

/// Feeds `bytes` in random chunks, continuing past errors by dropping a byte; only checks nothing panics and
/// that what comes out respects the limits.
fn feed_garbage(rng: &mut StdRng, bytes: &[u8], max: usize) {
    let mut dec = Decoder::new(max);
    let mut buf = BytesMut::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rng.random_range(1..=rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(m)) => match m {
                    Message::Text(t) => assert!(t.len() <= max),
                    Message::Binary(b) => assert!(b.len() <= max),
                    Message::Ping(b) | Message::Pong(b) => assert!(b.len() <= 125),
                    Message::Close(c) => assert!(c.is_none_or(|(_, r)| r.len() <= 123)),
                },
                Ok(None) => break,
                Err(e) => {
                    assert!([1002, 1007, 1009].contains(&e.close_code()));
                    if buf.is_empty() {
                        break;
                    }
                    let _ = buf.split_to(1);
                }
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    for seed in 0..4000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let max = [0, 1, 16, 125, 300, MIB][rng.random_range(0..6)];
        let len = rng.random_range(0..600);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Make plausible headers more likely: mask bit set, sane opcodes, no RSV bits.
        if rng.random_bool(0.5) {
            for i in (0..bytes.len()).step_by(rng.random_range(2..40)) {
                bytes[i] &= 0x8f;
                if let Some(b) = bytes.get_mut(i + 1) {
                    *b |= 0x80;
                }
            }
        }
        feed_garbage(&mut rng, &bytes, max);
    }
}

#[test]
fn mutated_valid_streams_never_panic() {
    for seed in 0..3000u64 {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let (mut wire, _) = random_stream(&mut rng);
        for _ in 0..rng.random_range(1..6) {
            let i = rng.random_range(0..wire.len());
            match rng.random_range(0..3) {
                0 => wire[i] ^= 1 << rng.random_range(0..8),
                1 => wire[i] = rng.random(),
                _ => {
                    wire.truncate(i.max(1));
                }
            }
        }
        let max = [16, 300, MIB][rng.random_range(0..3)];
        feed_garbage(&mut rng, &wire, max);
    }
}
