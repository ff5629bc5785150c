"""Fencing: a result under a lease the worker lost is refused with FAILED_PRECONDITION (9)."""

from __future__ import annotations

import grpc

import herald
from e2e_helpers import client_for, raw_channel, wait_terminal
from raw_stream import RawWorker

FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION.value[0]


def test_result_with_the_lease_of_a_broken_stream_is_refused(server) -> None:
    with client_for(server) as client, raw_channel(server) as channel:
        task = client.submit("push", {"n": 1})
        first = RawWorker(channel)
        first.hello(["push"])
        first.next("welcome")
        old = first.next("assignment")
        assert old.task.id == task.id
        first.ack(task.id, old.lease_token)
        first.close()

        second = RawWorker(channel)
        second.hello(["push"])
        second.next("welcome")
        new = second.next("assignment")
        assert new.task.id == task.id and new.lease_token != old.lease_token
        second.ack(task.id, new.lease_token)

        second.result(task.id, old.lease_token, '"stale"')
        rejected = second.next("rejected")
        assert (rejected.task_id, rejected.lease_token, rejected.code) == (task.id, old.lease_token, FAILED_PRECONDITION)

        second.result(task.id, new.lease_token, '"fresh"')
        accepted = second.next("accepted")
        assert (accepted.task_id, accepted.lease_token) == (task.id, new.lease_token)
        second.close()
        final = wait_terminal(client, [task.id], 30)[task.id]
    assert final.status is herald.TaskStatus.SUCCEEDED and final.result == "fresh"


def test_result_after_the_lease_expired_is_refused(server) -> None:
    with client_for(server) as client, raw_channel(server) as channel:
        task = client.submit("push", {"n": 2}, attempt_timeout_ms=1000)
        raw = RawWorker(channel)
        raw.hello(["push"])
        raw.next("welcome")
        old = raw.next("assignment")
        raw.ack(task.id, old.lease_token)
        # No result: the lease lapses, the server takes the task back and hands it out again.
        revoked = raw.next("revoked")
        assert (revoked.task_id, revoked.lease_token) == (task.id, old.lease_token)
        new = raw.next("assignment")
        assert new.task.id == task.id and new.lease_token != old.lease_token and new.task.attempt == 2

        raw.result(task.id, old.lease_token, '"late"')
        rejected = raw.next("rejected")
        assert (rejected.lease_token, rejected.code) == (old.lease_token, FAILED_PRECONDITION)

        raw.ack(task.id, new.lease_token)
        raw.result(task.id, new.lease_token, '"on time"')
        raw.next("accepted")
        raw.close()
        final = wait_terminal(client, [task.id], 30)[task.id]
    assert final.status is herald.TaskStatus.SUCCEEDED and final.result == "on time"
