//! Random identifiers: Engine.IO session ids and Socket.IO socket ids (16 random bytes, base64url).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// 22 url-safe characters from 128 random bits.
pub fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}
