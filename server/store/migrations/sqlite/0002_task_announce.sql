-- When a task reached its final state and its notification may not have gone out yet (0: nothing owed).
ALTER TABLE tasks ADD COLUMN announce_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tasks_announce ON tasks (announce_ms) WHERE announce_ms > 0;
