-- The workers connected to each core of a cluster, as each core last published them.
CREATE TABLE task_workers (
    core TEXT NOT NULL,
    worker TEXT NOT NULL,
    name TEXT NOT NULL,
    queues TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    running INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (core, worker)
);
