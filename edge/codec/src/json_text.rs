//! JSON string escaping and decimal digits with exact length precomputation, so frames are built in one allocation.

/// Hex digits used for `\u00XX` escapes (lowercase, like serde_json).
const HEX: &[u8; 16] = b"0123456789abcdef";

/// The escape sequence for one byte, or `None` when the byte is written as is.
/// Only ASCII bytes are ever escaped, so multi-byte UTF-8 sequences pass through untouched.
fn escape_of(b: u8) -> Option<Escape> {
    match b {
        b'"' => Some(Escape::Short(b'"')),
        b'\\' => Some(Escape::Short(b'\\')),
        b'\n' => Some(Escape::Short(b'n')),
        b'\r' => Some(Escape::Short(b'r')),
        b'\t' => Some(Escape::Short(b't')),
        0x08 => Some(Escape::Short(b'b')),
        0x0c => Some(Escape::Short(b'f')),
        0x00..=0x1f => Some(Escape::Unicode(b)),
        _ => None,
    }
}

enum Escape {
    /// `\x` (2 bytes)
    Short(u8),
    /// `\u00XX` (6 bytes)
    Unicode(u8),
}

impl Escape {
    fn len(&self) -> usize {
        match self {
            Escape::Short(_) => 2,
            Escape::Unicode(_) => 6,
        }
    }
}

/// Length in bytes of `s` as a quoted JSON string literal.
pub(crate) fn quoted_len(s: &str) -> usize {
    s.bytes()
        .map(|b| escape_of(b).map_or(1, |e| e.len()))
        .sum::<usize>()
        + 2
}

/// Appends `s` as a quoted JSON string literal (same escaping as serde_json).
pub(crate) fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let Some(esc) = escape_of(b) else { continue };
        // `i` is the index of an ASCII byte, hence always a char boundary.
        out.push_str(&s[start..i]);
        match esc {
            Escape::Short(c) => {
                out.push('\\');
                out.push(char::from(c));
            }
            Escape::Unicode(c) => {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(c >> 4)]));
                out.push(char::from(HEX[usize::from(c & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Number of decimal digits of `n`.
pub(crate) fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Appends `n` in decimal without any intermediate allocation.
pub(crate) fn push_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

/// Parses a run of ASCII digits (already known to be non-empty and all digits) into a u64, `None` on overflow.
pub(crate) fn parse_digits(run: &str) -> Option<u64> {
    let mut n: u64 = 0;
    for b in run.bytes() {
        n = n
            .checked_mul(10)?
            .checked_add(u64::from(b.wrapping_sub(b'0')))?;
    }
    Some(n)
}

/// Length of the leading run of ASCII digits in `s`.
pub(crate) fn digit_run(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_serde_json() {
        let samples = [
            "",
            "plain",
            "quote\"back\\slash",
            "ctl\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "unicode é € 𝄞 \u{2028}",
            "/chat,",
        ];
        for s in samples {
            let mut out = String::new();
            push_quoted(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap(), "for {s:?}");
            assert_eq!(out.len(), quoted_len(s), "for {s:?}");
        }
    }

    #[test]
    fn digits_and_push() {
        for n in [0u64, 9, 10, 99, 100, 12345, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
            assert_eq!(digits(n), out.len());
        }
    }

    #[test]
    fn parse_digits_overflow() {
        assert_eq!(parse_digits("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_digits("18446744073709551616"), None);
        assert_eq!(parse_digits(&"9".repeat(10_000)), None);
        assert_eq!(parse_digits("007"), Some(7));
    }
}
