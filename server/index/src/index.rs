//! The index proper: connections keyed by id, and per namespace the sets of
//! connections of each user and room; resolves targets minus exclusions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::Topic;

/// One connection as the index knows it; `V` is what the owner attaches
/// (the core: the edge link it came through; the edge: the socket handle).
#[derive(Debug)]
pub struct Conn<V> {
    pub id: Arc<str>,
    pub namespace: Arc<str>,
    /// `None` for anonymous connections.
    pub user: Option<Arc<str>>,
    pub rooms: HashSet<Arc<str>>,
    pub value: V,
}

/// What removing a connection changed.
#[derive(Debug)]
pub struct Removed<V> {
    pub conn: Conn<V>,
    /// The user had no other connection in the namespace: now offline.
    pub user_offline: bool,
}

/// Index operations that refer to something that is not there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("connection {0} is already registered")]
    Duplicate(String),
    #[error("unknown connection {0}")]
    UnknownConnection(String),
}

#[derive(Debug, Default)]
struct Space {
    all: HashSet<Arc<str>>,
    users: HashMap<Arc<str>, HashSet<Arc<str>>>,
    rooms: HashMap<Arc<str>, HashSet<Arc<str>>>,
}

/// Connections, users and rooms of every namespace.
#[derive(Debug)]
pub struct Index<V> {
    conns: HashMap<Arc<str>, Conn<V>>,
    spaces: HashMap<Arc<str>, Space>,
}

impl<V> Default for Index<V> {
    fn default() -> Self {
        Self {
            conns: HashMap::new(),
            spaces: HashMap::new(),
        }
    }
}

/// Exclusions split by kind, checked per candidate connection.
struct Except<'a> {
    all: bool,
    conns: Vec<&'a str>,
    users: Vec<&'a str>,
    rooms: Vec<&'a str>,
}

impl<'a> Except<'a> {
    fn new(topics: &[Topic<'a>]) -> Self {
        let mut e = Except {
            all: false,
            conns: Vec::new(),
            users: Vec::new(),
            rooms: Vec::new(),
        };
        for t in topics {
            match *t {
                Topic::All => e.all = true,
                Topic::Conn(c) => e.conns.push(c),
                Topic::User(u) => e.users.push(u),
                Topic::Room(r) => e.rooms.push(r),
            }
        }
        e
    }

    fn is_empty(&self) -> bool {
        !self.all && self.conns.is_empty() && self.users.is_empty() && self.rooms.is_empty()
    }

    fn excludes<V>(&self, c: &Conn<V>) -> bool {
        self.all
            || self.conns.iter().any(|x| **x == *c.id)
            || c.user.as_deref().is_some_and(|u| self.users.contains(&u))
            || self.rooms.iter().any(|r| c.rooms.contains(*r))
    }
}

impl<V> Index<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a connection; it is in its user and conn topics from now on.
    pub fn insert(
        &mut self,
        id: &str,
        namespace: &str,
        user: Option<&str>,
        value: V,
    ) -> Result<(), IndexError> {
        if self.conns.contains_key(id) {
            return Err(IndexError::Duplicate(id.to_owned()));
        }
        let id: Arc<str> = Arc::from(id);
        let space_key = match self.spaces.get_key_value(namespace) {
            Some((k, _)) => k.clone(),
            None => Arc::from(namespace),
        };
        let space = self.spaces.entry(space_key.clone()).or_default();
        space.all.insert(id.clone());
        let user: Option<Arc<str>> = user.map(|u| {
            let key = match space.users.get_key_value(u) {
                Some((k, _)) => k.clone(),
                None => Arc::from(u),
            };
            space
                .users
                .entry(key.clone())
                .or_default()
                .insert(id.clone());
            key
        });
        self.conns.insert(
            id.clone(),
            Conn {
                id,
                namespace: space_key,
                user,
                rooms: HashSet::new(),
                value,
            },
        );
        Ok(())
    }

    /// Unregisters a connection and takes it out of every topic.
    pub fn remove(&mut self, id: &str) -> Option<Removed<V>> {
        let conn = self.conns.remove(id)?;
        let mut user_offline = false;
        if let Some(space) = self.spaces.get_mut(&*conn.namespace) {
            space.all.remove(id);
            if let Some(user) = &conn.user
                && let Some(set) = space.users.get_mut(&**user)
            {
                set.remove(id);
                if set.is_empty() {
                    space.users.remove(&**user);
                    user_offline = true;
                }
            }
            for room in &conn.rooms {
                remove_member(&mut space.rooms, room, id);
            }
            if space.all.is_empty() {
                self.spaces.remove(&*conn.namespace);
            }
        }
        Some(Removed { conn, user_offline })
    }

    /// Removes every connection whose value matches; used when an edge link drops.
    pub fn remove_where(&mut self, mut pred: impl FnMut(&V) -> bool) -> Vec<Removed<V>> {
        let ids: Vec<Arc<str>> = self
            .conns
            .values()
            .filter(|c| pred(&c.value))
            .map(|c| c.id.clone())
            .collect();
        ids.iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Puts a connection in a room; `Ok(false)` when it was already a member.
    pub fn join(&mut self, id: &str, room: &str) -> Result<bool, IndexError> {
        let conn = self
            .conns
            .get_mut(id)
            .ok_or_else(|| IndexError::UnknownConnection(id.to_owned()))?;
        if conn.rooms.contains(room) {
            return Ok(false);
        }
        let space = self.spaces.entry(conn.namespace.clone()).or_default();
        let room_key = match space.rooms.get_key_value(room) {
            Some((k, _)) => k.clone(),
            None => Arc::from(room),
        };
        space
            .rooms
            .entry(room_key.clone())
            .or_default()
            .insert(conn.id.clone());
        conn.rooms.insert(room_key);
        Ok(true)
    }

    /// Takes a connection out of a room; `Ok(false)` when it was not a member.
    pub fn leave(&mut self, id: &str, room: &str) -> Result<bool, IndexError> {
        let conn = self
            .conns
            .get_mut(id)
            .ok_or_else(|| IndexError::UnknownConnection(id.to_owned()))?;
        if !conn.rooms.remove(room) {
            return Ok(false);
        }
        if let Some(space) = self.spaces.get_mut(&*conn.namespace) {
            remove_member(&mut space.rooms, room, id);
        }
        Ok(true)
    }

    pub fn get(&self, id: &str) -> Option<&Conn<V>> {
        self.conns.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Conn<V>> {
        self.conns.get_mut(id)
    }

    /// Total number of connections, all namespaces.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Ids of a user's connections in a namespace.
    pub fn user_connections<'s>(
        &'s self,
        namespace: &str,
        user: &str,
    ) -> impl Iterator<Item = &'s Conn<V>> + 's {
        self.members(namespace, |s| s.users.get(user))
    }

    /// A room's member connections in a namespace.
    pub fn room_members<'s>(
        &'s self,
        namespace: &str,
        room: &str,
    ) -> impl Iterator<Item = &'s Conn<V>> + 's {
        self.members(namespace, |s| s.rooms.get(room))
    }

    /// Whether a user has at least one connection in the namespace.
    pub fn is_online(&self, namespace: &str, user: &str) -> bool {
        self.spaces
            .get(namespace)
            .is_some_and(|s| s.users.contains_key(user))
    }

    /// Whether any connection of `user` is in `room`.
    pub fn user_in_room(&self, namespace: &str, user: &str, room: &str) -> bool {
        self.user_connections(namespace, user)
            .any(|c| c.rooms.contains(room))
    }

    /// Connections, online users and non-empty rooms of a namespace.
    pub fn counts(&self, namespace: &str) -> (usize, usize, usize) {
        self.spaces
            .get(namespace)
            .map_or((0, 0, 0), |s| (s.all.len(), s.users.len(), s.rooms.len()))
    }

    /// Namespaces that have at least one connection.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.spaces.keys().map(|k| &**k)
    }

    /// Calls `f` once for every connection of `namespace` in any of `targets`
    /// and in none of `except`, however many targets it matches. Returns how many.
    pub fn resolve(
        &self,
        namespace: &str,
        targets: &[Topic<'_>],
        except: &[Topic<'_>],
        mut f: impl FnMut(&Conn<V>),
    ) -> usize {
        let Some(space) = self.spaces.get(namespace) else {
            return 0;
        };
        let except = Except::new(except);
        let mut count = 0;
        let mut visit = |id: &Arc<str>| {
            if let Some(c) = self.conns.get(id)
                && (except.is_empty() || !except.excludes(c))
            {
                count += 1;
                f(c);
            }
        };
        if targets.contains(&Topic::All) {
            space.all.iter().for_each(&mut visit);
            return count;
        }
        let mut sets: Vec<&HashSet<Arc<str>>> = Vec::with_capacity(targets.len());
        let mut conn_targets: Vec<&str> = Vec::new();
        for t in targets {
            match *t {
                Topic::User(u) => sets.extend(space.users.get(u)),
                Topic::Room(r) => sets.extend(space.rooms.get(r)),
                Topic::Conn(c) => conn_targets.push(c),
                Topic::All => {}
            }
        }
        // A single set needs no de-duplication: it holds each id once.
        if sets.len() == 1 && conn_targets.is_empty() {
            sets[0].iter().for_each(&mut visit);
            return count;
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for set in sets {
            for id in set {
                if seen.insert(id) {
                    visit(id);
                }
            }
        }
        for c in conn_targets {
            if let Some((id, conn)) = self.conns.get_key_value(c)
                && *conn.namespace == *namespace
                && seen.insert(c)
            {
                visit(id);
            }
        }
        count
    }

    fn members<'s>(
        &'s self,
        namespace: &str,
        pick: impl FnOnce(&'s Space) -> Option<&'s HashSet<Arc<str>>>,
    ) -> impl Iterator<Item = &'s Conn<V>> + 's {
        self.spaces
            .get(namespace)
            .and_then(pick)
            .into_iter()
            .flatten()
            .filter_map(|id| self.conns.get(id))
    }
}

fn remove_member(rooms: &mut HashMap<Arc<str>, HashSet<Arc<str>>>, room: &str, id: &str) {
    if let Some(set) = rooms.get_mut(room) {
        set.remove(id);
        if set.is_empty() {
            rooms.remove(room);
        }
    }
}
