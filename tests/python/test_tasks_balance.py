"""300 tasks over 3 workers of capacity 2: exactly once, balanced, never above capacity."""

from __future__ import annotations

from collections import Counter

import herald
from e2e_helpers import client_for, describe, ready_count, wait_terminal
from worker_proc import done_counts, wait_until

N_TASKS = 300
CAPACITY = 2


def test_300_tasks_on_3_workers_run_exactly_once_balanced_within_capacity(server, spawn_worker) -> None:
    # Each task takes long next to a worker's own per-task overhead, so the share each worker gets
    # reflects the dispatcher, not how much CPU the machine gave each worker process.
    workers = [spawn_worker(server.core_addr, f"w{i}", concurrency=CAPACITY, sleep_ms=100) for i in range(3)]
    wait_until(lambda: ready_count(workers) == 3, 60, "3 workers welcomed")
    with client_for(server) as client:
        ids = [client.submit("scrape", {"n": i}).id for i in range(N_TASKS)]
        assert len(set(ids)) == N_TASKS
        final = wait_terminal(client, ids, timeout=150)

    statuses = Counter(t.status for t in final.values())
    assert statuses == Counter({herald.TaskStatus.SUCCEEDED: N_TASKS}), describe(workers)
    # Exactly once: every task recorded as done by exactly one worker, and that worker produced the result.
    counts = done_counts(workers)
    assert set(counts) == set(ids)
    assert [t for t, n in counts.items() if n != 1] == []
    ran_by = {tid: w.name for w in workers for tid in w.task_ids("done")}
    for task in final.values():
        assert task.result == {"worker": ran_by[task.id], "task": task.id, "n": task.payload["n"]}

    per_worker = {w.name: len(w.task_ids("done")) for w in workers}
    assert sum(per_worker.values()) == N_TASKS
    assert max(per_worker.values()) - min(per_worker.values()) <= 0.2 * max(per_worker.values()), per_worker

    for w in workers:
        starts = w.records("start")
        assert starts, w.name
        assert max(r["active"] for r in starts) <= CAPACITY, (w.name, max(r["active"] for r in starts))
