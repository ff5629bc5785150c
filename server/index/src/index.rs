//! The index proper: connections in a slab (looked up by id through one map), and per namespace
//! the sets of slab keys of each user and room; resolves targets minus exclusions. Maps use a fast
//! seeded hasher (foldhash): ids and names are hashed on every lookup of the hot path.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;
use std::sync::Arc;

use crate::Topic;
use crate::keys::{Key, KeySet};

/// One connection as the index knows it; `V` is what the owner attaches
/// (the core: the edge link it came through; the edge: the socket handle).
#[derive(Debug)]
pub struct Conn<V> {
    pub id: Arc<str>,
    pub namespace: Arc<str>,
    /// `None` for anonymous connections.
    pub user: Option<Arc<str>>,
    pub rooms: HashSet<Arc<str>, RandomState>,
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
    #[error("the index holds as many connections as it can")]
    Full,
}

#[derive(Debug, Default)]
struct Space {
    all: KeySet,
    users: HashMap<Arc<str>, KeySet, RandomState>,
    rooms: HashMap<Arc<str>, KeySet, RandomState>,
}

/// Connections, users and rooms of every namespace.
#[derive(Debug)]
pub struct Index<V> {
    /// The connections; a vacant slot is on the free list.
    slots: Vec<Option<Conn<V>>>,
    free: Vec<Key>,
    /// Slab key of every connection id.
    by_id: HashMap<Arc<str>, Key, RandomState>,
    spaces: HashMap<Arc<str>, Space, RandomState>,
}

impl<V> Default for Index<V> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::default(),
            spaces: HashMap::default(),
        }
    }
}

/// Exclusions as key sets of the namespace, checked per candidate key.
struct Except<'s> {
    all: bool,
    conns: Vec<Key>,
    sets: Vec<&'s KeySet>,
}

impl Except<'_> {
    fn is_empty(&self) -> bool {
        !self.all && self.conns.is_empty() && self.sets.is_empty()
    }

    fn excludes(&self, k: Key) -> bool {
        self.all || self.conns.contains(&k) || self.sets.iter().any(|s| s.contains(&k))
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
        if self.by_id.contains_key(id) {
            return Err(IndexError::Duplicate(id.to_owned()));
        }
        let key = match self.free.pop() {
            Some(k) => k,
            None => Key::try_from(self.slots.len()).map_err(|_| IndexError::Full)?,
        };
        let id: Arc<str> = Arc::from(id);
        let space_key = match self.spaces.get_key_value(namespace) {
            Some((k, _)) => k.clone(),
            None => Arc::from(namespace),
        };
        let space = self.spaces.entry(space_key.clone()).or_default();
        space.all.insert(key);
        let user: Option<Arc<str>> = user.map(|u| {
            let name = match space.users.get_key_value(u) {
                Some((k, _)) => k.clone(),
                None => Arc::from(u),
            };
            space.users.entry(name.clone()).or_default().insert(key);
            name
        });
        let conn = Conn {
            id: id.clone(),
            namespace: space_key,
            user,
            rooms: HashSet::default(),
            value,
        };
        match self.slots.get_mut(key as usize) {
            Some(slot) => *slot = Some(conn),
            None => self.slots.push(Some(conn)),
        }
        self.by_id.insert(id, key);
        Ok(())
    }

    /// Unregisters a connection and takes it out of every topic.
    pub fn remove(&mut self, id: &str) -> Option<Removed<V>> {
        let key = *self.by_id.get(id)?;
        self.remove_key(key)
    }

    fn remove_key(&mut self, key: Key) -> Option<Removed<V>> {
        let conn = self.slots.get_mut(key as usize)?.take()?;
        self.by_id.remove(&*conn.id);
        self.free.push(key);
        let mut user_offline = false;
        if let Some(space) = self.spaces.get_mut(&*conn.namespace) {
            space.all.remove(&key);
            if let Some(user) = &conn.user
                && let Some(set) = space.users.get_mut(&**user)
            {
                set.remove(&key);
                if set.is_empty() {
                    space.users.remove(&**user);
                    user_offline = true;
                }
            }
            for room in &conn.rooms {
                remove_member(&mut space.rooms, room, key);
            }
            if space.all.is_empty() {
                self.spaces.remove(&*conn.namespace);
            }
        }
        Some(Removed { conn, user_offline })
    }

    /// Removes every connection whose value matches; used when an edge link drops.
    pub fn remove_where(&mut self, mut pred: impl FnMut(&V) -> bool) -> Vec<Removed<V>> {
        let keys: Vec<Key> = self
            .slots
            .iter()
            .zip(0..)
            .filter_map(|(slot, k)| slot.as_ref().filter(|c| pred(&c.value)).map(|_| k))
            .collect();
        keys.into_iter()
            .filter_map(|k| self.remove_key(k))
            .collect()
    }

    /// Puts a connection in a room; `Ok(false)` when it was already a member.
    pub fn join(&mut self, id: &str, room: &str) -> Result<bool, IndexError> {
        let (key, conn) = lookup_mut(&self.by_id, &mut self.slots, id)?;
        if conn.rooms.contains(room) {
            return Ok(false);
        }
        let space = self.spaces.entry(conn.namespace.clone()).or_default();
        let room_key = match space.rooms.get_key_value(room) {
            Some((k, _)) => k.clone(),
            None => Arc::from(room),
        };
        space.rooms.entry(room_key.clone()).or_default().insert(key);
        conn.rooms.insert(room_key);
        Ok(true)
    }

    /// Takes a connection out of a room; `Ok(false)` when it was not a member.
    pub fn leave(&mut self, id: &str, room: &str) -> Result<bool, IndexError> {
        let (key, conn) = lookup_mut(&self.by_id, &mut self.slots, id)?;
        if !conn.rooms.remove(room) {
            return Ok(false);
        }
        if let Some(space) = self.spaces.get_mut(&*conn.namespace) {
            remove_member(&mut space.rooms, room, key);
        }
        Ok(true)
    }

    pub fn get(&self, id: &str) -> Option<&Conn<V>> {
        self.by_id.get(id).and_then(|k| self.slot(*k))
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Conn<V>> {
        let k = *self.by_id.get(id)?;
        self.slots.get_mut(k as usize)?.as_mut()
    }

    /// Total number of connections, all namespaces.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
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
        let except = self.except(space, except);
        if except.all {
            return 0;
        }
        let check = !except.is_empty();
        let mut count = 0;
        let mut visit = |k: Key| {
            if check && except.excludes(k) {
                return;
            }
            if let Some(c) = self.slot(k) {
                count += 1;
                f(c);
            }
        };
        if targets.contains(&Topic::All) {
            space.all.iter().for_each(|k| visit(*k));
            return count;
        }
        let mut sets: Vec<&KeySet> = Vec::with_capacity(targets.len());
        let mut conn_targets: Vec<Key> = Vec::new();
        for t in targets {
            match *t {
                Topic::User(u) => sets.extend(space.users.get(u)),
                Topic::Room(r) => sets.extend(space.rooms.get(r)),
                Topic::Conn(c) => conn_targets.extend(
                    self.by_id
                        .get(c)
                        .filter(|k| self.slot(**k).is_some_and(|c| *c.namespace == *namespace)),
                ),
                Topic::All => {}
            }
        }
        // A single set needs no de-duplication: it holds each key once.
        if sets.len() == 1 && conn_targets.is_empty() {
            sets[0].iter().for_each(|k| visit(*k));
            return count;
        }
        let mut seen = KeySet::default();
        for k in sets.into_iter().flatten().copied().chain(conn_targets) {
            if seen.insert(k) {
                visit(k);
            }
        }
        count
    }

    fn slot(&self, k: Key) -> Option<&Conn<V>> {
        self.slots.get(k as usize).and_then(Option::as_ref)
    }

    /// The exclusions as key sets of `space`; names that match nothing are dropped.
    fn except<'s>(&'s self, space: &'s Space, topics: &[Topic<'_>]) -> Except<'s> {
        let mut e = Except {
            all: false,
            conns: Vec::new(),
            sets: Vec::new(),
        };
        for t in topics {
            match *t {
                Topic::All => e.all = true,
                Topic::Conn(c) => e.conns.extend(self.by_id.get(c)),
                Topic::User(u) => e.sets.extend(space.users.get(u)),
                Topic::Room(r) => e.sets.extend(space.rooms.get(r)),
            }
        }
        e
    }

    fn members<'s>(
        &'s self,
        namespace: &str,
        pick: impl FnOnce(&'s Space) -> Option<&'s KeySet>,
    ) -> impl Iterator<Item = &'s Conn<V>> + 's {
        self.spaces
            .get(namespace)
            .and_then(pick)
            .into_iter()
            .flatten()
            .filter_map(|k| self.slot(*k))
    }
}

/// The slab key and connection of an id.
fn lookup_mut<'s, V>(
    by_id: &HashMap<Arc<str>, Key, RandomState>,
    slots: &'s mut [Option<Conn<V>>],
    id: &str,
) -> Result<(Key, &'s mut Conn<V>), IndexError> {
    by_id
        .get(id)
        .and_then(|k| Some((*k, slots.get_mut(*k as usize)?.as_mut()?)))
        .ok_or_else(|| IndexError::UnknownConnection(id.to_owned()))
}

fn remove_member(rooms: &mut HashMap<Arc<str>, KeySet, RandomState>, room: &str, key: Key) {
    if let Some(set) = rooms.get_mut(room) {
        set.remove(&key);
        if set.is_empty() {
            rooms.remove(room);
        }
    }
}
