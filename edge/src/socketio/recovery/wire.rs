//! What connection-state recovery looks like on the wire: the `pid`/`offset` of a CONNECT, the
//! offset argument of recoverable events and its sequence number.

use herald_codec::event::Arg;
use serde_json::Value;

/// Longest `pid` accepted from a client (ours are 22 characters).
const MAX_PID_LEN: usize = 64;
/// Longest `offset` accepted from a client (`"{epoch}:{seq}"`).
const MAX_OFFSET_LEN: usize = 128;

/// A returning client's claim: its private session id and the offset of the last event it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    pub pid: String,
    pub offset: String,
}

/// The `pid` and `offset` of a CONNECT auth payload, when both are plausible strings; anything
/// else (missing, not a string, empty, too long, odd characters) means a fresh session.
pub(crate) fn resume_request(auth: Option<&Value>) -> Option<Resume> {
    let o = auth?.as_object()?;
    let pid = o.get("pid")?.as_str()?;
    let offset = o.get("offset")?.as_str()?;
    let pid_ok = !pid.is_empty()
        && pid.len() <= MAX_PID_LEN
        && pid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let offset_ok = offset.len() <= MAX_OFFSET_LEN
        && offset.bytes().all(|b| b.is_ascii_graphic())
        && offset_seq(offset).is_some();
    (pid_ok && offset_ok).then(|| Resume {
        pid: pid.to_owned(),
        offset: offset.to_owned(),
    })
}

/// The broker-wide sequence number of an offset `"{epoch}:{seq}"`.
pub(crate) fn offset_seq(offset: &str) -> Option<u64> {
    let (epoch, seq) = offset.rsplit_once(':')?;
    if epoch.is_empty() {
        return None;
    }
    seq.parse().ok()
}

/// The offset as the extra last argument of an event (a JSON string).
pub(crate) fn offset_arg(offset: &str) -> Arg {
    Arg::Json(Value::String(offset.to_owned()).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resume_needs_two_plausible_strings() {
        let ok = json!({"token":"t","pid":"abc_DEF-1","offset":"e1:42"});
        assert_eq!(
            resume_request(Some(&ok)),
            Some(Resume {
                pid: "abc_DEF-1".into(),
                offset: "e1:42".into()
            })
        );
        for bad in [
            json!({"pid":"abc"}),
            json!({"offset":"e:1"}),
            json!({"pid":5,"offset":"e:1"}),
            json!({"pid":"abc","offset":7}),
            json!({"pid":["abc"],"offset":"e:1"}),
            json!({"pid":"","offset":"e:1"}),
            json!({"pid":"a/b","offset":"e:1"}),
            json!({"pid":"x".repeat(65),"offset":"e:1"}),
            json!({"pid":"abc","offset":"nope"}),
            json!({"pid":"abc","offset":":5"}),
            json!({"pid":"abc","offset":"e:-1"}),
            json!({"pid":"abc","offset":format!("e:{}", "9".repeat(200))}),
            json!("pid"),
        ] {
            assert_eq!(resume_request(Some(&bad)), None, "{bad}");
        }
        assert_eq!(resume_request(None), None);
    }

    #[test]
    fn seq_and_arg() {
        assert_eq!(offset_seq("abc:17"), Some(17));
        assert_eq!(offset_seq("a:b:18"), Some(18));
        assert_eq!(offset_seq("17"), None);
        assert_eq!(offset_arg("e:1"), Arg::Json("\"e:1\"".into()));
    }
}
