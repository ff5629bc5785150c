//! Request validation shared by the RPCs and the node: namespaces, topics, event names, arguments.

use herald_index::Topic;
use herald_proto::v1::{Arg, arg};

use crate::CoreError;
use crate::run::CoreConfig;

/// Longest event name accepted.
const MAX_EVENT_NAME: usize = 256;

/// The namespace, "/" when empty; it must be configured.
pub fn namespace(config: &CoreConfig, ns: &str) -> Result<String, CoreError> {
    let ns = if ns.is_empty() { "/" } else { ns };
    if !config.namespaces.iter().any(|n| n == ns) {
        return Err(CoreError::InvalidArgument(format!(
            "unknown namespace {ns:?}; configured: {}",
            config.namespaces.join(", ")
        )));
    }
    Ok(ns.to_owned())
}

/// Parses a list of topics; `what` names the field in errors.
pub fn topics<'a>(list: &'a [String], what: &str) -> Result<Vec<Topic<'a>>, CoreError> {
    list.iter()
        .map(|t| Topic::parse(t).map_err(|e| CoreError::InvalidArgument(format!("{what}: {e}"))))
        .collect()
}

/// Subscription topics: a topic, "*", or a prefix pattern ending in '*' ("room:campaign:*").
pub fn subscription_topics(list: &[String]) -> Result<(), CoreError> {
    for t in list {
        match t.strip_suffix('*') {
            Some(prefix) if !prefix.is_empty() => {
                let kind = prefix.split_once(':').map(|(k, _)| k);
                if !matches!(kind, Some("user" | "room" | "conn")) || prefix.contains('*') {
                    return Err(CoreError::InvalidArgument(format!(
                        "topics: {t:?} is not a pattern; write e.g. \"room:campaign:*\" ('*' only at the end)"
                    )));
                }
            }
            _ => {
                herald_index::Topic::parse(t)
                    .map_err(|e| CoreError::InvalidArgument(format!("topics: {e}")))?;
            }
        }
    }
    Ok(())
}

pub fn event_name(name: &str) -> Result<(), CoreError> {
    if name.is_empty() {
        return Err(CoreError::InvalidArgument("event: name is empty".into()));
    }
    if name.len() > MAX_EVENT_NAME {
        return Err(CoreError::InvalidArgument(format!(
            "event: name longer than {MAX_EVENT_NAME} bytes"
        )));
    }
    if herald_codec::event::is_reserved_event(name) {
        return Err(CoreError::InvalidArgument(format!(
            "event: {name:?} is reserved by Socket.IO"
        )));
    }
    Ok(())
}

/// Checks every JSON argument parses and the total size is within the limit.
pub fn args(list: &[Arg], max_bytes: usize) -> Result<(), CoreError> {
    let mut total = 0usize;
    for (i, a) in list.iter().enumerate() {
        match &a.value {
            Some(arg::Value::Json(s)) => {
                total += s.len();
                serde_json::from_str::<serde::de::IgnoredAny>(s).map_err(|e| {
                    CoreError::InvalidArgument(format!("args[{i}]: not valid JSON: {e}"))
                })?;
            }
            Some(arg::Value::Binary(b)) => total += b.len(),
            None => {
                return Err(CoreError::InvalidArgument(format!(
                    "args[{i}]: set either json or binary"
                )));
            }
        }
    }
    if total > max_bytes {
        return Err(CoreError::TooLarge(format!(
            "event arguments are {total} bytes; the limit is {max_bytes}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Arg {
        Arg {
            value: Some(arg::Value::Json(s.into())),
        }
    }

    #[test]
    fn argument_checks() {
        assert!(args(&[json("{\"a\":1}"), json("[1,2]"), json("\"s\"")], 100).is_ok());
        assert!(matches!(
            args(&[json("{a:1}")], 100),
            Err(CoreError::InvalidArgument(_))
        ));
        assert!(matches!(
            args(&[json("1 2")], 100),
            Err(CoreError::InvalidArgument(_))
        ));
        assert!(matches!(
            args(&[Arg { value: None }], 100),
            Err(CoreError::InvalidArgument(_))
        ));
        assert!(matches!(
            args(&[json("\"0123456789\"")], 5),
            Err(CoreError::TooLarge(_))
        ));
    }

    #[test]
    fn subscription_patterns() {
        let ok = |v: &[&str]| {
            subscription_topics(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        };
        assert!(ok(&["room:campaign:*", "user:*", "*", "room:x"]).is_ok());
        assert!(ok(&["room:a*b"]).is_err());
        assert!(ok(&["room:**"]).is_err());
        assert!(ok(&["team:*"]).is_err());
        assert!(ok(&["room*"]).is_err());
    }

    #[test]
    fn names() {
        assert!(event_name("new_message").is_ok());
        assert!(event_name("").is_err());
        assert!(event_name("disconnect").is_err());
        assert!(event_name(&"x".repeat(300)).is_err());
    }
}
