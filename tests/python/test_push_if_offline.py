"""Emit with push_if_offline: one push task per targeted offline user, keyed so a retried Emit adds none."""

from __future__ import annotations

import json

import grpc
import pytest

import herald
from e2e_helpers import client_for


def test_one_task_per_offline_user_keyed_by_the_emit(server) -> None:
    with client_for(server) as client:
        push = {"queue": "push", "payload": {"title": "alice", "preview": "lunch?"}}
        first = client.emit("new_message", to=["user:bob", "user:carol"], args=[{"text": "lunch?"}],
                            idempotency_key="msg-1", push_if_offline=push)
        assert sorted(first.offline_users) == ["bob", "carol"]
        for user in ("bob", "carol"):
            # The task the Emit submitted answers to its derived key: submitting it again creates nothing.
            again = client.submit("push", {"other": True}, idempotency_key=f"push:msg-1:{user}")
            assert again.created is False, user
            assert again.payload == {"user_id": user, "event_id": first.event_id, "namespace": "/",
                                     "event": "new_message", "payload": push["payload"]}
        retried = client.emit("new_message", to=["user:bob", "user:carol"], args=[{"text": "lunch?"}],
                              idempotency_key="msg-1", push_if_offline=push)
        assert retried.event_id == first.event_id

        # Without an Emit key the task key comes from the event id.
        plain = client.emit("new_message", to="user:bob", args=[1], push_if_offline={"queue": "push"})
        task = client.submit("push", None, idempotency_key=f"push:{plain.event_id}:bob")
        assert task.created is False
        assert task.payload["payload"] is None and task.payload["event_id"] == plain.event_id


def test_bad_push_options_are_refused_before_anything_is_sent(server) -> None:
    with client_for(server) as client:
        with pytest.raises(herald.RpcError) as err:
            client.emit("x", to="user:bob", push_if_offline={"queue": "nope"})
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "push_if_offline.queue" in err.value.details
        # Not retried under the same key: nothing was accepted.
        ok = client.emit("x", to="user:bob", idempotency_key="bad-then-good", push_if_offline={"queue": "push"})
        task = client.submit("push", None, idempotency_key="push:bad-then-good:bob")
        assert task.created is False and task.payload["event_id"] == ok.event_id
        assert json.dumps(task.payload["user_id"]) == '"bob"'
