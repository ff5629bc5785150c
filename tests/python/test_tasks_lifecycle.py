"""Task life cycle through the real server: retries to dead, permanent failure, cancel, idempotency, watch."""

from __future__ import annotations

import queue
import threading
import time

import herald
from e2e_helpers import any_record, client_for, describe, ready_count, wait_terminal
from worker_proc import wait_until


def test_always_failing_task_goes_dead_with_its_last_error(server_any_store, spawn_worker) -> None:
    server = server_any_store
    worker = spawn_worker(server.core_addr, "w", concurrency=2)
    with client_for(server) as client:
        task = client.submit("scrape", {"mode": "fail"}, max_attempts=3)
        assert task.status is herald.TaskStatus.QUEUED and task.max_attempts == 3
        final = wait_terminal(client, [task.id], timeout=60)[task.id]
    assert final.status is herald.TaskStatus.DEAD, describe([worker])
    assert final.attempt == 3
    assert "boom on attempt 3" in final.last_error
    assert [r["attempt"] for r in worker.records("failed")] == [1, 2, 3]


def test_permanent_error_fails_at_once(server, spawn_worker) -> None:
    worker = spawn_worker(server.core_addr, "w")
    with client_for(server) as client:
        task = client.submit("scrape", {"mode": "permanent"}, max_attempts=5)
        final = wait_terminal(client, [task.id], timeout=60)[task.id]
    assert final.status is herald.TaskStatus.FAILED, describe([worker])
    assert final.attempt == 1 and f"cannot do {task.id}" in final.last_error


def test_cancel_reaches_the_worker_and_frees_its_slot(server, spawn_worker) -> None:
    worker = spawn_worker(server.core_addr, "w", concurrency=1)
    with client_for(server) as client:
        task = client.submit("scrape", {"mode": "hang"})
        wait_until(lambda: any_record([worker], "start", task.id), 60, "task started")
        cancelled = client.cancel(task.id, reason="user asked")
        assert cancelled.id == task.id
        wait_until(lambda: any_record([worker], "cancelled", task.id), 60, "worker saw the revoke")
        assert client.get(task.id).status is herald.TaskStatus.CANCELLED
        # Its only slot is free again.
        follow = client.submit("scrape", {"n": 1})
        assert wait_terminal(client, [follow.id], 60)[follow.id].status is herald.TaskStatus.SUCCEEDED
    assert worker.task_ids("done") == [follow.id]


def test_cancel_of_a_queued_task_means_it_never_runs(server, spawn_worker) -> None:
    with client_for(server) as client:
        task = client.submit("push", {"to": "nobody"})
        assert client.cancel(task.id).status is herald.TaskStatus.CANCELLED
        worker = spawn_worker(server.core_addr, "late", queues=["push"])
        wait_until(lambda: ready_count([worker]) == 1, 60, "worker welcomed")
        assert client.get(task.id).status is herald.TaskStatus.CANCELLED
    assert worker.task_ids("start") == []


def test_idempotent_resubmit_returns_the_same_task(server) -> None:
    with client_for(server) as client:
        first = client.submit("push", {"v": 1}, idempotency_key="order-7")
        again = client.submit("push", {"v": 2}, idempotency_key="order-7")
        other = client.submit("push", {"v": 1}, idempotency_key="order-8")
    assert first.created is True and again.created is False
    assert again.id == first.id and again.payload == {"v": 1} and again.idempotency_key == "order-7"
    assert other.id != first.id and other.created is True


def test_watch_follows_a_queue_to_success(server, spawn_worker) -> None:
    with client_for(server) as client:
        task = client.submit("push", {"n": 1})
        stream = client.watch(queue="push")
        changes: queue.Queue[herald.TaskInfo | None] = queue.Queue()

        def read() -> None:
            for change in stream:
                changes.put(change)
            changes.put(None)

        threading.Thread(target=read, daemon=True).start()
        try:
            # Cancel probe tasks until one shows up: then the watch is live before any worker runs.
            for _ in range(30):
                probe = client.cancel(client.submit("push", {"probe": True}).id)
                if _wait_for(changes, lambda c: c.id == probe.id and c.status is herald.TaskStatus.CANCELLED, 2.0):
                    break
            else:
                raise AssertionError("the watch never reported a probe")
            spawn_worker(server.core_addr, "pusher", queues=["push"])
            seen: list[herald.TaskInfo] = []
            assert _wait_for(changes, lambda c: seen.append(c) or (c.id == task.id and c.done), 60.0), seen
        finally:
            stream.cancel()
    mine = [c for c in seen if c.id == task.id]
    assert mine[-1].status is herald.TaskStatus.SUCCEEDED and mine[-1].result["task"] == task.id


def _wait_for(changes: "queue.Queue[herald.TaskInfo | None]", pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            change = changes.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return False
        if change is None:
            raise AssertionError("the watch ended")
        if pred(change):
            return True
