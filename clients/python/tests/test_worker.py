"""Worker behaviour against the in-process fake TaskService: hello, acks, results, limits, revokes, stop."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

import grpc
import pytest

import herald
from herald.v1 import tasks_pb2
from fake_server import FakeStream, FakeTasks, start_fake

WELCOME = tasks_pb2.WorkerWelcome(worker_id="w-1", heartbeat_interval_ms=50)


def scenario(handler: Any, body: Callable[[FakeTasks, herald.Worker], Awaitable[None]], **worker_kw: Any) -> None:
    """Runs a worker with `handler` against a fake server while `body` drives the fake; then stops it."""

    async def main() -> None:
        server, fake, url = await start_fake()
        kw = {"queues": ["scrape"], "concurrency": 2, "name": "unit", "token": "tok", "grace_period": 5.0}
        kw.update(worker_kw)
        worker = herald.Worker(url=url, backoff=herald.Backoff(0.01, 0.05), **kw)
        running = asyncio.create_task(worker.run_async(handler))
        try:
            await body(fake, worker)
        finally:
            worker.stop()
            await asyncio.wait_for(running, 15)
            await server.stop(None)

    asyncio.run(main())


async def welcomed(fake: FakeTasks) -> tuple[FakeStream, Any]:
    stream = await fake.next_stream()
    hello = await stream.next("hello")
    stream.send(welcome=WELCOME)
    return stream, hello


def test_hello_ack_result_and_auth_metadata() -> None:
    async def handler(task: herald.Task) -> dict[str, Any]:
        await task.progress({"step": 1})
        return {"echo": task.payload, "attempt": task.attempt}

    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        stream, hello = await welcomed(fake)
        assert stream.metadata["authorization"] == "Bearer tok"
        assert (hello.name, list(hello.queues), hello.capacity) == ("unit", ["scrape"], 2)
        assert dict(hello.labels) == {"zone": "a"}
        stream.assign("t1", 7, payload='{"keyword":"plumber"}', attempt=2)
        ack = await stream.next("ack")
        assert (ack.task_id, ack.lease_token) == ("t1", 7)
        progress = await stream.next("progress")
        assert json.loads(progress.progress_json) == {"step": 1}
        result = await stream.next("result")
        assert (result.task_id, result.lease_token) == ("t1", 7)
        assert json.loads(result.result_json) == {"echo": {"keyword": "plumber"}, "attempt": 2}

    scenario(handler, body, labels={"zone": "a"})


def test_heartbeats_follow_welcome_interval_and_ping_is_answered() -> None:
    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        stream, _ = await welcomed(fake)
        await stream.next("heartbeat")
        await stream.next("heartbeat")
        stream.send(ping=tasks_pb2.WorkerPing())
        await stream.next("heartbeat")

    scenario(lambda task: None, body)


def test_exceptions_become_failures() -> None:
    def handler(task: herald.Task) -> None:  # a plain function: runs in a thread
        if task.payload["kind"] == "permanent":
            raise herald.PermanentError("bad input")
        raise RuntimeError("flaky")

    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        stream, _ = await welcomed(fake)
        stream.assign("p", 1, payload='{"kind":"permanent"}')
        await stream.next("ack")
        failure = await stream.next("failure")
        assert (failure.task_id, failure.error, failure.retryable) == ("p", "bad input", False)
        stream.assign("r", 2, payload='{"kind":"retry"}')
        await stream.next("ack")
        failure = await stream.next("failure")
        assert failure.task_id == "r" and failure.retryable and "flaky" in failure.error

    scenario(handler, body)


def test_never_more_than_concurrency_and_extra_assignment_is_handed_back() -> None:
    gate = asyncio.Event()
    active = {"now": 0, "max": 0}

    async def handler(task: herald.Task) -> str:
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        await gate.wait()
        active["now"] -= 1
        return task.id

    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        stream, _ = await welcomed(fake)
        for i in range(3):
            stream.assign(f"t{i}", 10 + i)
        await stream.next("ack")
        await stream.next("ack")
        extra = await stream.next("failure")
        assert (extra.task_id, extra.retryable) == ("t2", True)
        assert worker.running == 2
        gate.set()
        done = {(await stream.next("result")).task_id, (await stream.next("result")).task_id}
        assert done == {"t0", "t1"}
        assert active["max"] == 2

    scenario(handler, body)


def test_revoked_cancels_the_running_handler() -> None:
    cancelled: list[str] = []

    async def handler(task: herald.Task) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(task.id)
            raise

    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        stream, _ = await welcomed(fake)
        stream.assign("t1", 5)
        await stream.next("ack")
        stream.send(revoked=tasks_pb2.TaskRevoked(task_id="t1", lease_token=5, reason="cancelled"))
        for _ in range(200):
            if cancelled:
                break
            await asyncio.sleep(0.02)
        assert cancelled == ["t1"]
        assert worker.running == 0
        # The slot is free again: a new assignment is acked.
        stream.assign("t2", 6)
        assert (await stream.next("ack")).task_id == "t2"

    scenario(handler, body)


def test_invalid_payload_fails_permanently() -> None:
    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        stream, _ = await welcomed(fake)
        stream.assign("bad", 3, payload="{not json")
        failure = await stream.next("failure")
        assert (failure.task_id, failure.retryable) == ("bad", False)
        assert "not JSON" in failure.error

    scenario(lambda task: None, body)


def test_unencodable_result_fails_permanently() -> None:
    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        stream, _ = await welcomed(fake)
        stream.assign("t", 3)
        await stream.next("ack")
        failure = await stream.next("failure")
        assert failure.retryable is False and "JSON" in failure.error

    scenario(lambda task: {1, 2}, body)


def test_reconnects_after_the_stream_breaks() -> None:
    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        first, _ = await welcomed(fake)
        first.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        second, hello = await welcomed(fake)
        assert hello.capacity == 2
        second.assign("t", 1)
        await second.next("ack")
        assert (await second.next("result")).task_id == "t"

    scenario(lambda task: "ok", body)


def test_an_unanswered_result_is_sent_again_on_the_next_stream_until_answered() -> None:
    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        first, _ = await welcomed(fake)
        first.assign("t", 5)
        await first.next("ack")
        assert (await first.next("result")).task_id == "t"
        # The stream breaks before the server answered: the next stream carries the result again.
        first.abort(grpc.StatusCode.UNAVAILABLE, "core went away")
        second, _ = await welcomed(fake)
        again = await second.next("result")
        assert (again.task_id, again.lease_token, json.loads(again.result_json)) == ("t", 5, "ok")
        # UNAVAILABLE (the store is away): sent again on the same stream a moment later.
        second.send(rejected=tasks_pb2.TaskRejected(task_id="t", lease_token=5, code=14, message="store down"))
        assert (await second.next("result")).lease_token == 5
        # Answered for good: not sent again.
        second.send(accepted=tasks_pb2.TaskAccepted(task_id="t", lease_token=5))
        second.abort(grpc.StatusCode.UNAVAILABLE, "going away again")
        third, _ = await welcomed(fake)
        third.assign("u", 6)
        assert (await third.next("ack")).task_id == "u"
        assert (await third.next("result")).task_id == "u"

    scenario(lambda task: "ok", body)


def test_refusal_before_welcome_is_fatal() -> None:
    async def main() -> None:
        server, fake, url = await start_fake()
        worker = herald.Worker(["nope"], url=url, backoff=herald.Backoff(0.01, 0.05))
        running = asyncio.create_task(worker.run_async(lambda task: None))
        stream = await fake.next_stream()
        await stream.next("hello")
        stream.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown queue nope")
        with pytest.raises(herald.WorkerConfigError, match="unknown queue"):
            await asyncio.wait_for(running, 10)
        await server.stop(None)

    asyncio.run(main())


def test_stop_finishes_in_flight_then_closes_and_refuses_new_work() -> None:
    gate = asyncio.Event()

    async def handler(task: herald.Task) -> str:
        await gate.wait()
        return "finished"

    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        stream, _ = await welcomed(fake)
        stream.assign("t1", 1)
        await stream.next("ack")
        worker.stop()  # called in the loop's thread: draining starts at once
        stream.assign("t2", 2)
        refused = await stream.next("failure")
        assert (refused.task_id, refused.retryable) == ("t2", True)
        gate.set()
        result = await stream.next("result")
        assert json.loads(result.result_json) == "finished"
        await asyncio.wait_for(stream.closed_by_worker.wait(), 10)

    scenario(handler, body)


def test_grace_period_abandons_stuck_tasks() -> None:
    async def handler(task: herald.Task) -> None:
        await asyncio.sleep(60)

    async def body(fake: FakeTasks, worker: herald.Worker) -> None:
        stream, _ = await welcomed(fake)
        stream.assign("t1", 1)
        await stream.next("ack")
        worker.stop()
        await asyncio.wait_for(stream.closed_by_worker.wait(), 10)
        assert worker.running == 0

    scenario(handler, body, grace_period=0.2)


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        herald.Worker([], concurrency=1)
    with pytest.raises(ValueError):
        herald.Worker(["scrape"], concurrency=0)
