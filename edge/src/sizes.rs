//! Sizes of the per-session state and of the futures spawned per connection (printed by
//! `cargo test -p herald-edge --lib sizes -- --nocapture`; memory per idle connection matters).

use std::future::Future;

/// The size of the future an async function of two arguments returns.
fn fut2<A, B, R: Future, F: FnOnce(A, B) -> R>(_: &F) -> usize {
    std::mem::size_of::<R>()
}

/// The size of the future an async function of four arguments returns.
fn fut4<A, B, C, D, R: Future, F: FnOnce(A, B, C, D) -> R>(_: &F) -> usize {
    std::mem::size_of::<R>()
}

#[test]
fn sizes() {
    use crate::socketio::state::Sio as Edge;
    use herald_engine::{takeover, ws};
    let session = std::mem::size_of::<crate::socketio::session::Session>();
    let driver = fut2(&herald_engine::driver::run::<Edge>);
    let serve = fut4(&ws::serve::<Edge>);
    let takeover = fut4(&takeover::run::<Edge>);
    println!("SIZES session={session} driver={driver} ws_serve={serve} takeover={takeover}");
    assert!(session > 0 && driver > 0 && serve > 0 && takeover > 0);
}
