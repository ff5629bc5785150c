//! Property-style check: random operations applied to the index and to a naive model (a list of
//! connections scanned in full) must agree on every query and every resolution.

use std::collections::BTreeSet;

use herald_index::{Index, Topic};

/// A small deterministic generator (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const IDS: [&str; 24] = [
    "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12", "c13", "c14",
    "c15", "c16", "c17", "c18", "c19", "c20", "c21", "c22", "c23",
];
const SPACES: [&str; 3] = ["/", "/chat", "/admin"];
const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
const ROOMS: [&str; 5] = ["lobby", "news", "r1", "r2", "r3"];

#[derive(Debug, Clone)]
struct ModelConn {
    id: String,
    ns: String,
    user: Option<String>,
    rooms: BTreeSet<String>,
    value: u8,
}

#[derive(Default)]
struct Model {
    conns: Vec<ModelConn>,
}

impl Model {
    fn get(&self, id: &str) -> Option<&ModelConn> {
        self.conns.iter().find(|c| c.id == id)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut ModelConn> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    fn matches(c: &ModelConn, t: &Topic<'_>) -> bool {
        match *t {
            Topic::All => true,
            Topic::Conn(id) => c.id == id,
            Topic::User(u) => c.user.as_deref() == Some(u),
            Topic::Room(r) => c.rooms.contains(r),
        }
    }

    fn resolve(&self, ns: &str, targets: &[Topic<'_>], except: &[Topic<'_>]) -> Vec<String> {
        let mut out: Vec<String> = self
            .conns
            .iter()
            .filter(|c| c.ns == ns)
            .filter(|c| targets.iter().any(|t| Self::matches(c, t)))
            .filter(|c| !except.iter().any(|t| Self::matches(c, t)))
            .map(|c| c.id.clone())
            .collect();
        out.sort();
        out
    }

    fn counts(&self, ns: &str) -> (usize, usize, usize) {
        let in_ns: Vec<&ModelConn> = self.conns.iter().filter(|c| c.ns == ns).collect();
        let users: BTreeSet<&str> = in_ns.iter().filter_map(|c| c.user.as_deref()).collect();
        let rooms: BTreeSet<&str> = in_ns
            .iter()
            .flat_map(|c| c.rooms.iter().map(String::as_str))
            .collect();
        (in_ns.len(), users.len(), rooms.len())
    }

    fn online(&self, ns: &str, user: &str) -> bool {
        self.conns
            .iter()
            .any(|c| c.ns == ns && c.user.as_deref() == Some(user))
    }
}

fn random_topic<'a>(rng: &mut Rng) -> Topic<'a> {
    match rng.below(9) {
        0 => Topic::All,
        1 | 2 => Topic::Conn(rng.pick(&IDS)),
        3 | 4 => Topic::User(rng.pick(&USERS)),
        _ => Topic::Room(rng.pick(&ROOMS)),
    }
}

fn resolved(ix: &Index<u8>, ns: &str, targets: &[Topic<'_>], except: &[Topic<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    let n = ix.resolve(ns, targets, except, |c| out.push(c.id.to_string()));
    assert_eq!(n, out.len(), "resolve's count matches its calls");
    let unique: BTreeSet<&String> = out.iter().collect();
    assert_eq!(unique.len(), out.len(), "each connection once");
    out.sort();
    out
}

fn check_queries(ix: &Index<u8>, model: &Model, rng: &mut Rng, step: usize) {
    assert_eq!(ix.len(), model.conns.len(), "len at step {step}");
    assert_eq!(ix.is_empty(), model.conns.is_empty());
    for ns in SPACES {
        assert_eq!(
            ix.counts(ns),
            model.counts(ns),
            "counts of {ns} at step {step}"
        );
        for user in USERS {
            assert_eq!(ix.is_online(ns, user), model.online(ns, user));
            let mut got: Vec<String> = ix
                .user_connections(ns, user)
                .map(|c| c.id.to_string())
                .collect();
            got.sort();
            assert_eq!(got, model.resolve(ns, &[Topic::User(user)], &[]));
            for room in ROOMS {
                let expect = model.conns.iter().any(|c| {
                    c.ns == ns && c.user.as_deref() == Some(user) && c.rooms.contains(room)
                });
                assert_eq!(ix.user_in_room(ns, user, room), expect);
            }
        }
        for room in ROOMS {
            let mut got: Vec<String> = ix
                .room_members(ns, room)
                .map(|c| c.id.to_string())
                .collect();
            got.sort();
            assert_eq!(got, model.resolve(ns, &[Topic::Room(room)], &[]));
        }
    }
    for id in IDS {
        match (ix.get(id), model.get(id)) {
            (None, None) => {}
            (Some(c), Some(m)) => {
                assert_eq!(&*c.id, m.id);
                assert_eq!(&*c.namespace, m.ns);
                assert_eq!(c.user.as_deref(), m.user.as_deref());
                assert_eq!(c.value, m.value);
                let rooms: BTreeSet<String> = c.rooms.iter().map(|r| r.to_string()).collect();
                assert_eq!(rooms, m.rooms);
            }
            (a, b) => panic!("get({id}) differs at step {step}: {a:?} vs {b:?}"),
        }
    }
    for _ in 0..6 {
        let ns = rng.pick(&SPACES);
        let targets: Vec<Topic> = (0..1 + rng.below(3)).map(|_| random_topic(rng)).collect();
        let except: Vec<Topic> = (0..rng.below(3)).map(|_| random_topic(rng)).collect();
        assert_eq!(
            resolved(ix, ns, &targets, &except),
            model.resolve(ns, &targets, &except),
            "resolve({ns}, {targets:?}, except {except:?}) at step {step}"
        );
    }
}

fn run(seed: u64, steps: usize) {
    let mut rng = Rng(seed);
    let mut ix: Index<u8> = Index::new();
    let mut model = Model::default();
    for step in 0..steps {
        match rng.below(10) {
            0..=2 => {
                let id = rng.pick(&IDS);
                let ns = rng.pick(&SPACES);
                let user = (rng.below(4) > 0).then(|| rng.pick(&USERS));
                let value = rng.below(3) as u8;
                let ok = ix.insert(id, ns, user, value).is_ok();
                assert_eq!(ok, model.get(id).is_none(), "insert {id} at step {step}");
                if ok {
                    model.conns.push(ModelConn {
                        id: id.to_owned(),
                        ns: ns.to_owned(),
                        user: user.map(str::to_owned),
                        rooms: BTreeSet::new(),
                        value,
                    });
                }
            }
            3 => {
                let id = rng.pick(&IDS);
                let removed = ix.remove(id);
                let pos = model.conns.iter().position(|c| c.id == id);
                assert_eq!(
                    removed.is_some(),
                    pos.is_some(),
                    "remove {id} at step {step}"
                );
                if let (Some(r), Some(pos)) = (removed, pos) {
                    let m = model.conns.remove(pos);
                    assert_eq!(&*r.conn.id, m.id);
                    let offline = m.user.as_deref().is_some_and(|u| !model.online(&m.ns, u));
                    assert_eq!(r.user_offline, offline, "user_offline at step {step}");
                }
            }
            4..=6 => {
                let id = rng.pick(&IDS);
                let room = rng.pick(&ROOMS);
                let got = ix.join(id, room);
                match model.get_mut(id) {
                    Some(m) => assert_eq!(got, Ok(m.rooms.insert(room.to_owned()))),
                    None => assert!(got.is_err()),
                }
            }
            7 | 8 => {
                let id = rng.pick(&IDS);
                let room = rng.pick(&ROOMS);
                let got = ix.leave(id, room);
                match model.get_mut(id) {
                    Some(m) => assert_eq!(got, Ok(m.rooms.remove(room))),
                    None => assert!(got.is_err()),
                }
            }
            _ => {
                if rng.below(4) == 0 {
                    let value = rng.below(3) as u8;
                    let mut gone: Vec<String> = ix
                        .remove_where(|v| *v == value)
                        .into_iter()
                        .map(|r| r.conn.id.to_string())
                        .collect();
                    gone.sort();
                    let mut expect: Vec<String> = model
                        .conns
                        .iter()
                        .filter(|c| c.value == value)
                        .map(|c| c.id.clone())
                        .collect();
                    expect.sort();
                    model.conns.retain(|c| c.value != value);
                    assert_eq!(gone, expect, "remove_where at step {step}");
                }
            }
        }
        check_queries(&ix, &model, &mut rng, step);
    }
}

#[test]
fn index_agrees_with_a_naive_model_over_random_operations() {
    for seed in 1..=40u64 {
        run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1, 400);
    }
}

#[test]
fn slots_are_reused_after_removal() {
    let mut ix: Index<u8> = Index::new();
    for round in 0..50u8 {
        for i in 0..20 {
            ix.insert(&format!("c{i}"), "/", Some("u"), round).unwrap();
            ix.join(&format!("c{i}"), "room").unwrap();
        }
        let mut n = 0;
        ix.resolve("/", &[Topic::Room("room")], &[Topic::Conn("c3")], |c| {
            assert_eq!(c.value, round);
            n += 1;
        });
        assert_eq!(n, 19);
        assert_eq!(ix.remove_where(|_| true).len(), 20);
        assert!(ix.is_empty());
        assert_eq!(ix.counts("/"), (0, 0, 0));
    }
}
