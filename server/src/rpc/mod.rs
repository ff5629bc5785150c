//! The gRPC services: one file per RPC, translating requests, answers and statuses to and from
//! the node, which holds the semantics.

mod disconnect;
mod emit;
mod handle;
mod history;
mod link;
mod presence;
mod push;
mod rooms;
mod scrape;
mod service;
mod stats;
mod subscribe;
mod task_admin;
mod tasks;
pub mod too_large;

use crate::validate;

use std::sync::Arc;

pub use crate::node::Node as Api;
pub use link::EdgeApi;

/// `herald.v1.HeraldService`.
#[derive(Clone)]
pub struct HeraldApi(pub Arc<Api>);

/// `herald.v1.TaskService`.
#[derive(Clone)]
pub struct TaskApi(pub Arc<Api>);
