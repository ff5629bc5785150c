//! Topic index shared by the core and the edge: which connections are in which
//! user, room and connection topic of which namespace, and target resolution.

mod index;
mod keys;
mod topic;

pub use index::{Conn, Index, IndexError, Removed};
pub use topic::{Topic, TopicError};
