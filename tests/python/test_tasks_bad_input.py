"""Bad input gets a clear status (or a TaskRejected with a code) and the server keeps serving."""

from __future__ import annotations

import asyncio

import grpc
import pytest

import herald
from e2e_helpers import client_for, raw_channel, wait_terminal
from raw_stream import METADATA, RawWorker
from herald.v1 import tasks_pb2, tasks_pb2_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION.value[0]
NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]


def test_submit_to_an_unknown_queue_is_invalid_argument(server) -> None:
    with client_for(server) as client:
        with pytest.raises(herald.RpcError) as err:
            client.submit("no-such-queue", {})
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "no-such-queue" in err.value.details


def test_payload_that_is_not_json_is_invalid_argument(server) -> None:
    with raw_channel(server) as channel:
        stub = tasks_pb2_grpc.TaskServiceStub(channel)
        for bad in ("{not json", ""):
            with pytest.raises(grpc.RpcError) as err:
                stub.SubmitTask(tasks_pb2.SubmitTaskRequest(queue="scrape", payload_json=bad), metadata=METADATA)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad


def test_calls_without_the_service_token_are_unauthenticated(server) -> None:
    with herald.Client(server.core_addr, token="wrong") as client:
        with pytest.raises(herald.RpcError) as err:
            client.submit("scrape", {})
    assert err.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_unknown_task_id_is_not_found(server) -> None:
    with client_for(server) as client:
        for call in (client.get, client.cancel):
            with pytest.raises(herald.RpcError) as err:
                call("t_does_not_exist")
            assert err.value.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "hello",
    [
        tasks_pb2.WorkerHello(name="zero", queues=["scrape"], capacity=0),
        tasks_pb2.WorkerHello(name="nowhere", queues=["no-such-queue"], capacity=1),
        tasks_pb2.WorkerHello(name="none", queues=[], capacity=1),
    ],
    ids=["capacity-0", "unknown-queue", "no-queue"],
)
def test_bad_hello_ends_the_stream_with_invalid_argument(server, hello) -> None:
    with raw_channel(server) as channel:
        raw = RawWorker(channel)
        raw.send(hello=hello)
        err = raw.wait_closed()
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT, err


def test_first_message_must_be_a_hello(server) -> None:
    with raw_channel(server) as channel:
        raw = RawWorker(channel)
        raw.ack("t_x", 1)
        err = raw.wait_closed()
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_worker_config_error_surfaces_from_the_worker_api(server) -> None:
    worker = herald.Worker(["no-such-queue"], url=server.core_addr)
    with pytest.raises(herald.WorkerConfigError, match="INVALID_ARGUMENT"):
        asyncio.run(asyncio.wait_for(worker.run_async(lambda task: None), 30))


def test_messages_about_tasks_the_worker_does_not_hold_are_rejected(server) -> None:
    with client_for(server) as client, raw_channel(server) as channel:
        other = client.submit("push", {"held": False})  # queued, assigned to nobody on "scrape"
        raw = RawWorker(channel)
        raw.hello(["scrape"])
        raw.next("welcome")
        raw.result("t_does_not_exist", 1)
        rejected = raw.next("rejected")
        assert rejected.task_id == "t_does_not_exist" and rejected.code in (FAILED_PRECONDITION, NOT_FOUND)
        raw.result(other.id, 1)
        rejected = raw.next("rejected")
        assert rejected.task_id == other.id and rejected.code == FAILED_PRECONDITION
        assert client.get(other.id).status is herald.TaskStatus.QUEUED

        # A held task with a result that is not JSON: rejected with INVALID_ARGUMENT, the lease stays valid.
        held = client.submit("scrape", {"n": 1})
        assignment = raw.next("assignment")
        assert assignment.task.id == held.id
        raw.ack(held.id, assignment.lease_token)
        raw.result(held.id, assignment.lease_token, "{broken")
        rejected = raw.next("rejected")
        assert rejected.code == INVALID_ARGUMENT
        raw.result(held.id, assignment.lease_token, '{"ok":true}')
        assert raw.next("accepted").task_id == held.id
        raw.close()

        # Still serving: a fresh task runs to the end.
        assert wait_terminal(client, [held.id], 30)[held.id].result == {"ok": True}
        assert client.cancel(other.id).status is herald.TaskStatus.CANCELLED
