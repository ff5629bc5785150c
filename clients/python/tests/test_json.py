"""Payload/result JSON handling: codec, request builders, proto -> dataclass conversion, handler outcomes."""

from __future__ import annotations

import asyncio
import json

import pytest

import herald
from herald import codec, handler, requests
from herald.models import EmitResult, TaskInfo, TaskStatus
from herald.v1 import event_pb2, herald_pb2, tasks_pb2


def test_dumps_is_compact_unicode_and_strict() -> None:
    assert codec.dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    with pytest.raises(ValueError):
        codec.dumps(float("nan"))
    with pytest.raises(TypeError):
        codec.dumps(object())
    assert codec.loads_or_none("") is None
    assert codec.loads_or_none("null") is None
    assert codec.loads_or_none('{"x":1}') == {"x": 1}


def test_args_round_trip_json_and_binary() -> None:
    assert codec.to_arg({"k": 1}).json == '{"k":1}'
    assert codec.to_arg(b"\x00\x01").binary == b"\x00\x01"
    assert codec.from_arg(event_pb2.Arg(json="[1,2]")) == [1, 2]
    assert codec.from_arg(event_pb2.Arg(binary=b"zz")) == b"zz"


def test_emit_request_fills_targets_except_and_args() -> None:
    req = requests.emit_request("ping", "user:1", args=[{"n": 1}, b"raw"], except_=["conn:9"], ack_timeout_ms=50)
    assert list(req.targets) == ["user:1"]
    assert list(getattr(req, "except")) == ["conn:9"]
    assert req.args[0].json == '{"n":1}' and req.args[1].binary == b"raw"
    assert (req.event, req.namespace, req.ack_timeout_ms) == ("ping", "/", 50)


def test_submit_request_encodes_payload_and_notify() -> None:
    req = requests.submit_request(
        "scrape", {"keyword": "plumber"}, idempotency_key="k1", max_attempts=5,
        notify={"topic": "user:42", "completed_event": "scrape_complete"},
    )
    assert json.loads(req.payload_json) == {"keyword": "plumber"}
    assert (req.idempotency_key, req.max_attempts, req.attempt_timeout_ms) == ("k1", 5, 0)
    assert (req.notify.topic, req.notify.completed_event, req.notify.namespace) == ("user:42", "scrape_complete", "/")
    assert not requests.submit_request("push", [1]).HasField("notify")
    with pytest.raises(ValueError, match="unknown notify keys"):
        requests.submit_request("scrape", {}, notify={"topic": "user:1", "bogus": "x"})
    with pytest.raises(TypeError):
        requests.submit_request("scrape", {1, 2})


def test_watch_request_needs_ids_or_queue() -> None:
    assert list(requests.watch_request(ids="t1").ids) == ["t1"]
    assert requests.watch_request(queue="scrape").queue == "scrape"
    with pytest.raises(ValueError):
        requests.watch_request()


def test_task_info_decodes_json_fields_and_status() -> None:
    msg = tasks_pb2.Task(
        id="t1", queue="scrape", payload_json='{"keyword":"x"}', status=tasks_pb2.TASK_STATUS_SUCCEEDED,
        attempt=2, max_attempts=3, result_json='{"leads_found":3}', progress_json="not json",
        notify=tasks_pb2.TaskNotify(topic="user:42", completed_event="done"),
    )
    info = TaskInfo.from_proto(msg, created=True)
    assert info.payload == {"keyword": "x"} and info.result == {"leads_found": 3}
    assert info.progress == "not json"  # undecodable JSON is kept as text, not raised
    assert info.status is TaskStatus.SUCCEEDED and info.done and info.created is True
    assert info.notify == herald.Notify(topic="user:42", completed_event="done")
    queued = TaskInfo.from_proto(tasks_pb2.Task(id="q", status=tasks_pb2.TASK_STATUS_QUEUED))
    assert not queued.done and queued.notify is None and queued.result is None
    assert TaskStatus.from_proto(99) is TaskStatus.UNSPECIFIED


def test_emit_result_decodes_acks() -> None:
    resp = herald_pb2.EmitResponse(
        event_id="e1", connections=2, offline_users=["bob"],
        acks=[herald_pb2.Ack(connection_id="c1", user_id="u", acked=True, args=[event_pb2.Arg(json='"ok"')])],
    )
    res = EmitResult.from_proto(resp)
    assert (res.event_id, res.connections, res.offline_users) == ("e1", 2, ["bob"])
    assert res.acks[0].args == ["ok"] and res.acks[0].acked


def _task() -> herald.Task:
    loop = asyncio.new_event_loop()

    async def send(msg: tasks_pb2.ScrapeTaskRequest) -> None:
        return None

    try:
        assignment = tasks_pb2.TaskAssignment(
            task=tasks_pb2.Task(id="t9", queue="push", payload_json='{"to":"x"}', attempt=1), lease_token=44
        )
        return herald.Task.from_assignment(assignment, send, loop)
    finally:
        loop.close()


def test_outcomes_become_result_or_failure_messages() -> None:
    task = _task()
    assert task.payload == {"to": "x"}
    ok = handler.outcome_message(task, value={"sent": True})
    assert ok.result.result_json == '{"sent":true}' and ok.result.lease_token == 44
    none = handler.outcome_message(task, value=None)
    assert none.result.result_json == "null"
    perm = handler.outcome_message(task, error=herald.PermanentError("no such user"))
    assert (perm.failure.error, perm.failure.retryable) == ("no such user", False)
    retry = handler.outcome_message(task, error=TimeoutError("slow"))
    assert retry.failure.retryable and retry.failure.error == "TimeoutError: slow"
    bad = handler.outcome_message(task, value=object())
    assert not bad.failure.retryable and "JSON" in bad.failure.error
    long = handler.outcome_message(task, error=RuntimeError("x" * 10_000))
    assert len(long.failure.error) == handler.MAX_ERROR_LEN
    assert json.loads(task.progress_message({"p": 1}).progress.progress_json) == {"p": 1}


def test_assignment_with_bad_payload_raises_value_error() -> None:
    loop = asyncio.new_event_loop()
    try:
        bad = tasks_pb2.TaskAssignment(task=tasks_pb2.Task(id="t", payload_json="{oops"), lease_token=1)
        with pytest.raises(ValueError):
            herald.Task.from_assignment(bad, None, loop)  # type: ignore[arg-type]
    finally:
        loop.close()


def test_backoff_grows_with_jitter_and_resets() -> None:
    import random

    b = herald.Backoff(1.0, 8.0, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(6)]
    for d, ceiling in zip(delays, [1, 2, 4, 8, 8, 8]):
        assert ceiling / 2 <= d <= ceiling
    b.reset()
    assert b.next_delay() <= 1.0


def test_target_normalisation() -> None:
    from herald.connection import normalize_target

    assert normalize_target("http://127.0.0.1:50051/") == "127.0.0.1:50051"
    assert normalize_target("localhost:1") == "localhost:1"
    with pytest.raises(ValueError):
        normalize_target("  ")
