-- Wakes every core listening on `herald_tasks` when a task becomes queued (submitted, retried, re-queued),
-- with the queue as payload. PostgreSQL delivers a notification at commit and merges duplicates within
-- one transaction.
CREATE FUNCTION herald_task_queued() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('herald_tasks', NEW.queue);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tasks_queued_notify
    AFTER INSERT OR UPDATE OF status ON tasks
    FOR EACH ROW WHEN (NEW.status = 'queued')
    EXECUTE FUNCTION herald_task_queued();

-- The lease sweep reads running tasks by deadline.
CREATE INDEX tasks_running_deadline ON tasks (lease_deadline_ms) WHERE status = 'running';
