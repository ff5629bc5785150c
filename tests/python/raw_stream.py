"""A hand-driven ScrapeTask stream over the raw generated stubs (for lease, fencing and bad-input tests)."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import grpc

from herald.v1 import tasks_pb2, tasks_pb2_grpc

METADATA = (("authorization", "Bearer herald-dev-service-token"),)
_END = object()


class RawWorker:
    """Sends what the test says; collects every response; heartbeats in the background once welcomed."""

    def __init__(self, channel: grpc.Channel, heartbeat_s: float = 0.25) -> None:
        self._out: queue.Queue[Any] = queue.Queue()
        self.responses: queue.Queue[Any] = queue.Queue()
        self._closed = threading.Event()
        stub = tasks_pb2_grpc.TaskServiceStub(channel)
        self.call = stub.ScrapeTask(self._requests(), metadata=METADATA)
        self.error: grpc.RpcError | None = None
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._beat, args=(heartbeat_s,), daemon=True).start()

    def _requests(self) -> Any:
        while True:
            item = self._out.get()
            if item is _END:
                return
            yield item

    def _read(self) -> None:
        try:
            for resp in self.call:
                self.responses.put(resp)
        except grpc.RpcError as err:
            self.error = err
        finally:
            self._closed.set()
            self.responses.put(None)

    def _beat(self, interval: float) -> None:
        while not self._closed.wait(interval):
            self._out.put(tasks_pb2.ScrapeTaskRequest(heartbeat=tasks_pb2.WorkerHeartbeat()))

    def send(self, **kwargs: Any) -> None:
        self._out.put(tasks_pb2.ScrapeTaskRequest(**kwargs))

    def hello(self, queues: list[str], capacity: int = 1, name: str = "raw") -> None:
        self.send(hello=tasks_pb2.WorkerHello(name=name, queues=queues, capacity=capacity))

    def ack(self, task_id: str, lease: int) -> None:
        self.send(ack=tasks_pb2.TaskAck(task_id=task_id, lease_token=lease))

    def result(self, task_id: str, lease: int, result_json: str = '"ok"') -> None:
        self.send(result=tasks_pb2.TaskResult(task_id=task_id, lease_token=lease, result_json=result_json))

    def next(self, kind: str, timeout: float = 30.0, skip: tuple[str, ...] = ("ping",)) -> Any:
        """The next response of `kind`, skipping `skip` kinds; fails on others or on stream end."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                resp = self.responses.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {kind} within {timeout}s") from None
            if resp is None:
                self.responses.put(None)
                raise AssertionError(f"stream ended while waiting for {kind}: {self.error!r}")
            which = resp.WhichOneof("msg")
            if which == kind:
                return getattr(resp, which)
            if which not in skip:
                raise AssertionError(f"expected {kind}, got {which}: {resp}")

    def wait_closed(self, timeout: float = 30.0) -> grpc.RpcError | None:
        """Waits for the server to end the stream; returns the error status it ended with."""
        if not self._closed.wait(timeout):
            raise AssertionError(f"stream still open after {timeout}s")
        return self.error

    def close(self) -> None:
        """Half-closes and cancels the stream (the server sees the worker go away)."""
        self._out.put(_END)
        self.call.cancel()
        self._closed.wait(10)
