//! Topic names: `user:{id}`, `room:{name}`, `conn:{id}` and `*` (the whole namespace).

use std::fmt;

/// What an event is addressed to inside a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic<'a> {
    /// Every connection of a user, on every device.
    User(&'a str),
    /// Every member of a room.
    Room(&'a str),
    /// One connection.
    Conn(&'a str),
    /// Every connection of the namespace.
    All,
}

/// Why a topic name is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic {0:?}: expected \"user:ID\", \"room:NAME\", \"conn:ID\" or \"*\"")]
    Syntax(String),
    #[error("topic {0:?}: the name after the colon is empty")]
    EmptyName(String),
    #[error("topic {0:?}: longer than {max} bytes", max = Topic::MAX_LEN)]
    TooLong(String),
    #[error(
        "topic {0:?}: '*' is only allowed alone (the whole namespace) or at the end of a subscription pattern"
    )]
    Wildcard(String),
}

impl<'a> Topic<'a> {
    /// Longest accepted topic name, in bytes.
    pub const MAX_LEN: usize = 512;

    /// Parses a topic name.
    pub fn parse(s: &'a str) -> Result<Self, TopicError> {
        if s.len() > Self::MAX_LEN {
            return Err(TopicError::TooLong(s.chars().take(64).collect()));
        }
        if s == "*" {
            return Ok(Topic::All);
        }
        let (kind, name) = s
            .split_once(':')
            .ok_or_else(|| TopicError::Syntax(s.to_owned()))?;
        if name.is_empty() {
            return Err(TopicError::EmptyName(s.to_owned()));
        }
        if name.contains('*') {
            return Err(TopicError::Wildcard(s.to_owned()));
        }
        match kind {
            "user" => Ok(Topic::User(name)),
            "room" => Ok(Topic::Room(name)),
            "conn" => Ok(Topic::Conn(name)),
            _ => Err(TopicError::Syntax(s.to_owned())),
        }
    }
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::User(id) => write!(f, "user:{id}"),
            Topic::Room(name) => write!(f, "room:{name}"),
            Topic::Conn(id) => write!(f, "conn:{id}"),
            Topic::All => f.write_str("*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!(Topic::parse("user:42"), Ok(Topic::User("42")));
        assert_eq!(
            Topic::parse("room:whatsapp:acc-1"),
            Ok(Topic::Room("whatsapp:acc-1"))
        );
        assert_eq!(Topic::parse("conn:abc"), Ok(Topic::Conn("abc")));
        assert_eq!(Topic::parse("*"), Ok(Topic::All));
    }

    #[test]
    fn refuses_bad_names() {
        assert!(matches!(Topic::parse("user"), Err(TopicError::Syntax(_))));
        assert!(matches!(Topic::parse("team:x"), Err(TopicError::Syntax(_))));
        assert!(matches!(
            Topic::parse("room:"),
            Err(TopicError::EmptyName(_))
        ));
        assert!(matches!(Topic::parse(""), Err(TopicError::Syntax(_))));
        assert!(matches!(
            Topic::parse("room:a*"),
            Err(TopicError::Wildcard(_))
        ));
        let long = format!("room:{}", "x".repeat(600));
        assert!(matches!(Topic::parse(&long), Err(TopicError::TooLong(_))));
    }

    #[test]
    fn display_round_trips() {
        for s in ["user:a", "room:b:c", "conn:d", "*"] {
            assert_eq!(Topic::parse(s).unwrap().to_string(), s);
        }
    }
}
