"""ListTasks, RetryTask and ListWorkers (what the admin console uses), through the generated stubs, on
SQLite and PostgreSQL."""

from __future__ import annotations

import grpc
import pytest

from e2e_helpers import client_for, wait_terminal
from herald.connection import auth_metadata, sync_channel
from herald.v1 import tasks_pb2, tasks_pb2_grpc
from worker_proc import wait_until

S = tasks_pb2


def stub(server) -> tasks_pb2_grpc.TaskServiceStub:
    return tasks_pb2_grpc.TaskServiceStub(sync_channel(server.core_addr))


def call(method, req):
    return method(req, metadata=auth_metadata("herald-dev-service-token"), timeout=30)


def test_list_by_status_and_queue_then_retry_a_dead_task(server_any_store, spawn_worker) -> None:
    tasks = stub(server_any_store)
    with client_for(server_any_store) as client:
        bad = client.submit("scrape", {"mode": "permanent"}, max_attempts=1)
        queued = client.submit("push", {"n": 1})
        assert [t.id for t in call(tasks.ListTasks, S.ListTasksRequest()).tasks] == [queued.id, bad.id]
        assert [t.id for t in call(tasks.ListTasks, S.ListTasksRequest(queue="push")).tasks] == [queued.id]
        assert call(tasks.ListTasks, S.ListTasksRequest(status=S.TASK_STATUS_RUNNING)).tasks == []

        # Not finished: refused, with the status in the message.
        with pytest.raises(grpc.RpcError) as err:
            call(tasks.RetryTask, S.RetryTaskRequest(id=bad.id))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.RpcError) as err:
            call(tasks.RetryTask, S.RetryTaskRequest(id="no-such-task"))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

        worker = spawn_worker(server_any_store.core_addr, "w1", concurrency=3, queues=["scrape"])
        wait_until(lambda: len(call(tasks.ListWorkers, S.ListWorkersRequest()).workers) == 1, 30, "the worker")
        (info,) = call(tasks.ListWorkers, S.ListWorkersRequest()).workers
        assert (info.name, list(info.queues), info.capacity) == ("w1", ["scrape"], 3)
        final = wait_terminal(client, [bad.id])[bad.id]
        assert final.status.name in ("FAILED", "DEAD")
        failed = call(tasks.ListTasks, S.ListTasksRequest(status=S.TASK_STATUS_FAILED)).tasks
        dead = call(tasks.ListTasks, S.ListTasksRequest(status=S.TASK_STATUS_DEAD)).tasks
        (row,) = list(failed) + list(dead)
        assert row.id == bad.id and row.attempt == 1 and "cannot do" in row.last_error

        again = call(tasks.RetryTask, S.RetryTaskRequest(id=bad.id)).task
        # The attempt made stays on record; as many attempts as at first lie ahead.
        assert (again.status, again.attempt, again.max_attempts) == (S.TASK_STATUS_QUEUED, 1, 2)
        # The worker takes it again: a second start is recorded, and it ends as before.
        wait_until(lambda: worker.task_ids("start").count(bad.id) == 2, 30, "the retried attempt")
        final = wait_terminal(client, [bad.id])[bad.id]
        assert (final.attempt, final.max_attempts) == (2, 2) and "cannot do" in final.last_error

        with pytest.raises(grpc.RpcError) as err:
            call(tasks.ListTasks, S.ListTasksRequest(limit=501))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
