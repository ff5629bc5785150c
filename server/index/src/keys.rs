//! Slab keys of connections and a cheap hasher for the sets of them (user, room and namespace
//! members): keys are small integers the index hands out itself, so no DoS-resistant hash is needed.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A connection's slot in the index's slab.
pub(crate) type Key = u32;

/// A set of connection keys.
pub(crate) type KeySet = HashSet<Key, BuildHasherDefault<KeyHasher>>;

/// Multiplicative hashing: the low bits of the product (the bucket) are a bijection of the low
/// bits of the key, so consecutive keys never collide; the high bits (the tag) are well mixed.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(MUL);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(n)).wrapping_mul(MUL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_keys_land_in_distinct_buckets() {
        let bucket = |k: Key| {
            let mut h = KeyHasher::default();
            h.write_u32(k);
            h.finish() & 1023
        };
        let buckets: HashSet<u64> = (0..1024).map(bucket).collect();
        assert_eq!(buckets.len(), 1024);
    }

    #[test]
    fn sets_behave() {
        let mut s = KeySet::default();
        assert!(s.insert(7));
        assert!(!s.insert(7));
        assert!(s.contains(&7));
        assert!(s.remove(&7));
        assert!(s.is_empty());
    }
}
