"""Nothing is lost or duplicated when a worker is killed mid-task or Herald itself restarts."""

from __future__ import annotations

import herald
from e2e_helpers import client_for, describe, ready_count, wait_terminal
from worker_proc import done_counts, wait_until


def test_kill_9_of_a_worker_mid_task_moves_its_tasks_to_another(server, spawn_worker) -> None:
    victim = spawn_worker(server.core_addr, "victim", concurrency=2, mode="hang")
    wait_until(lambda: ready_count([victim]) == 1, 60, "victim welcomed")
    with client_for(server) as client:
        ids = [client.submit("scrape", {"n": i}, attempt_timeout_ms=60_000).id for i in range(6)]
        wait_until(lambda: len(victim.task_ids("start")) == 2, 60, "victim holding 2 tasks")
        held = victim.task_ids("start")
        victim.kill9()
        rescuer = spawn_worker(server.core_addr, "rescuer", concurrency=2, mode="sleep")
        final = wait_terminal(client, ids, timeout=120)

    assert all(t.status is herald.TaskStatus.SUCCEEDED for t in final.values()), describe([victim, rescuer])
    assert victim.task_ids("done") == []
    counts = done_counts([victim, rescuer])
    assert set(counts) == set(ids) and set(counts.values()) == {1}
    for task_id in held:
        assert final[task_id].result["worker"] == "rescuer"
        assert final[task_id].attempt >= 2
    assert len(victim.task_ids("start")) == 2  # it never held more than its capacity


def test_restart_mid_run_loses_no_task(server_any_store, spawn_worker) -> None:
    server = server_any_store
    workers = [spawn_worker(server.core_addr, f"w{i}", concurrency=2, sleep_ms=50) for i in range(2)]
    wait_until(lambda: ready_count(workers) == 2, 60, "2 workers welcomed")
    with client_for(server) as client:
        ids = [client.submit("scrape", {"n": i}).id for i in range(40)]
    wait_until(lambda: sum(len(w.task_ids("done")) for w in workers) >= 8, 60, "some tasks done")

    assert server.stop() == 0, server.log_tail()
    server.start()
    with client_for(server) as client:
        final = wait_terminal(client, ids, timeout=120)

    assert all(t.status is herald.TaskStatus.SUCCEEDED for t in final.values()), describe(workers)
    assert len(final) == 40
    for task in final.values():
        assert task.result["task"] == task.id
    # Every task ran to completion at least once; the workers reconnected to the new process.
    assert set(done_counts(workers)) == set(ids)
    # Both reconnect to the new process (one may have had nothing left to do by the time it did).
    wait_until(lambda: all(len(w.records("ready")) >= 2 for w in workers), 60, "both workers welcomed again")


def test_a_crash_is_not_a_failed_attempt(server_any_store, spawn_worker) -> None:
    """A task on its last attempt when Herald is killed runs again after the restart, not dead."""
    server = server_any_store
    holder = spawn_worker(server.core_addr, "holder", concurrency=1, mode="hang")
    wait_until(lambda: ready_count([holder]) == 1, 60, "holder welcomed")
    with client_for(server) as client:
        task_id = client.submit("scrape", {"n": 1}, max_attempts=1, attempt_timeout_ms=60_000).id
    wait_until(lambda: holder.task_ids("start") == [task_id], 60, "holder running the task")

    server.kill()
    holder.kill9()
    server.start()
    rescuer = spawn_worker(server.core_addr, "rescuer", concurrency=1, mode="sleep")
    with client_for(server) as client:
        final = wait_terminal(client, [task_id], timeout=120)

    task = final[task_id]
    assert task.status is herald.TaskStatus.SUCCEEDED, describe([holder, rescuer])
    assert task.result["worker"] == "rescuer"
