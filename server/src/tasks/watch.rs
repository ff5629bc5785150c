//! `WatchTasks` subscribers: each follows task ids or a whole queue.

use std::collections::HashSet;

use herald_proto::v1::{Task, WatchTasksResponse};
use parking_lot::Mutex;
use tonic::Status;

use crate::feed::{Feed, FeedError};

struct Watcher {
    ids: HashSet<String>,
    queue: String,
    feed: Feed<WatchTasksResponse>,
}

/// Everyone watching task changes.
#[derive(Default)]
pub struct Watchers {
    list: Mutex<Vec<Watcher>>,
    /// Every change passes here: finished tasks are measured.
    pub metrics: crate::metrics::TaskMetrics,
}

impl Watchers {
    pub fn add(&self, ids: Vec<String>, queue: String, feed: Feed<WatchTasksResponse>) {
        self.list.lock().push(Watcher {
            ids: ids.into_iter().collect(),
            queue,
            feed,
        });
    }

    /// Sends the changed task to every watcher that follows it.
    pub fn publish(&self, task: &Task) {
        self.metrics.changed(task);
        self.list.lock().retain(|w| {
            let wanted = w.ids.contains(&task.id) || (!w.queue.is_empty() && w.queue == task.queue);
            if !wanted {
                return true;
            }
            match w.feed.try_send(WatchTasksResponse {
                task: Some(task.clone()),
            }) {
                Ok(()) => true,
                Err(FeedError::Full) => {
                    w.feed.close(Status::resource_exhausted(
                        "watcher cannot keep up: its queue is full",
                    ));
                    false
                }
                Err(FeedError::Closed) => false,
            }
        });
    }
}
