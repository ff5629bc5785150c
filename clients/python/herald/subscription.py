"""Subscriptions that keep their place: each topic's position is tracked, and a broken stream resumes from there."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, AsyncIterator, Callable, Iterable, Iterator, Union

import grpc

from herald.backoff import Backoff
from herald.errors import RpcError
from herald.models import Event, NotRecovered, Position
from herald.v1 import herald_pb2

Item = Union[Event, NotRecovered]

# Statuses after which subscribing again from the tracked positions loses nothing: the core went away or
# restarted, resynchronised with its broker, or dropped this subscriber as too slow.
RESUMABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


def subscribe_opener(stub: Any, metadata: Any) -> Callable[..., Any]:
    """Opens a Subscribe call on `stub` (sync or asyncio) for a request, waiting for the channel when asked."""

    def open_call(req: herald_pb2.SubscribeRequest, wait_for_ready: bool | None = None) -> Any:
        return stub.Subscribe(req, metadata=metadata, wait_for_ready=wait_for_ready)

    return open_call


class Tracker:
    """The positions of a subscription's topics, and what each message from the core means for them."""

    def __init__(self, namespace: str, topics: Iterable[str] | str, since: Iterable[Position] = ()) -> None:
        self.namespace = namespace
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self.positions: dict[str, Position] = {p.topic: p for p in since}

    def request(self) -> herald_pb2.SubscribeRequest:
        """Subscribe again, after what was already seen."""
        return herald_pb2.SubscribeRequest(
            namespace=self.namespace,
            topics=self.topics,
            since=[p.to_proto() for p in self.positions.values()],
        )

    def items(self, msg: herald_pb2.SubscribeResponse) -> list[Item]:
        """What to hand to the caller for one message: nothing for a copy already seen or the live marker."""
        kind = msg.WhichOneof("item")
        if kind == "not_recovered":
            n = msg.not_recovered
            if n.HasField("current"):
                self.positions[n.topic] = Position.from_proto(n.current)
            return [NotRecovered(topic=n.topic, reason=n.reason)]
        if kind != "event":
            return []
        event = Event.from_proto(msg.event)
        out: list[Item] = []
        followed = [p for p in event.positions if p.topic in self.topics]
        fresh = not followed
        for p in followed:
            last = self.positions.get(p.topic)
            if last is not None and last.epoch == p.epoch and p.offset <= last.offset:
                continue  # replayed after a resume, and seen before the break
            if last is not None and last.epoch and last.epoch != p.epoch:
                out.append(NotRecovered(topic=p.topic, reason="epoch changed"))
            fresh = True
            self.positions[p.topic] = p
        if fresh:
            out.append(event)
        return out


class _Resumes:
    """What the sync and asyncio subscriptions share: the tracker, and when a broken stream may be resumed."""

    def __init__(self, open_call: Callable[..., Any], tracker: Tracker, max_resumes: int) -> None:
        self._open = open_call
        self._tracker = tracker
        self._max_resumes = max_resumes
        self._failures = 0
        self._backoff = Backoff(initial=0.1, maximum=5.0)
        self._call: Any = None
        self._cancelled = False
        self.resumed = 0

    @property
    def positions(self) -> list[Position]:
        """Where each followed topic stands (pass as `since` to follow again later)."""
        return list(self._tracker.positions.values())

    def _start(self) -> Any:
        # After a break, wait for the channel to connect again rather than fail at once.
        self._call = self._open(self._tracker.request(), wait_for_ready=self.resumed > 0 or None)
        return self._call

    def _items(self, msg: herald_pb2.SubscribeResponse) -> list[Item]:
        items = self._tracker.items(msg)
        if items:
            self._failures = 0
            self._backoff.reset()
        return items

    def _broken(self, err: grpc.RpcError) -> float | None:
        """None when the iteration ends quietly (cancelled); else the pause before resuming. Raises when it may not."""
        if self._cancelled or err.code() == grpc.StatusCode.CANCELLED:
            return None
        self._failures += 1
        if err.code() not in RESUMABLE or self._failures > self._max_resumes:
            raise RpcError.from_grpc(err) from None
        self.resumed += 1
        return self._backoff.next_delay()


class Subscription(_Resumes):
    """Iterate for events (and NotRecovered notices) in order, once each, across broken streams; cancel() stops."""

    def __init__(self, open_call: Callable[..., Any], tracker: Tracker, max_resumes: int = 5) -> None:
        super().__init__(open_call, tracker, max_resumes)
        self._lock = threading.Lock()
        self._live = threading.Event()

    def wait_live(self, timeout: float | None = None) -> bool:
        """Blocks until the first stream is live (replay done), while another thread iterates."""
        return self._live.wait(timeout)

    def __iter__(self) -> Iterator[Item]:
        try:
            while True:
                with self._lock:
                    if self._cancelled:
                        return
                    call = self._start()
                try:
                    for msg in call:
                        if msg.WhichOneof("item") == "subscribed":
                            self._live.set()
                        yield from self._items(msg)
                    return
                except grpc.RpcError as err:
                    pause = self._broken(err)
                    if pause is None:
                        return
                    time.sleep(pause)
        finally:
            self.cancel()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Stops the subscription; the iterator ends."""
        with self._lock:
            self._cancelled = True
            if self._call is not None:
                self._call.cancel()


class AsyncSubscription(_Resumes):
    """Subscription for asyncio: `async for` events (and NotRecovered notices); cancel() stops."""

    def __init__(self, open_call: Callable[..., Any], tracker: Tracker, max_resumes: int = 5) -> None:
        super().__init__(open_call, tracker, max_resumes)
        self._live = asyncio.Event()

    async def wait_live(self) -> None:
        """Returns once the first stream is live (replay done), while another task iterates."""
        await self._live.wait()

    async def __aiter__(self) -> AsyncIterator[Item]:
        try:
            while not self._cancelled:
                call = self._start()
                try:
                    async for msg in call:
                        if msg.WhichOneof("item") == "subscribed":
                            self._live.set()
                        for item in self._items(msg):
                            yield item
                    return
                except asyncio.CancelledError:
                    if self._cancelled or call.cancelled():
                        return
                    raise
                except grpc.RpcError as err:
                    pause = self._broken(err)
                    if pause is None:
                        return
                    await asyncio.sleep(pause)
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stops the subscription."""
        self._cancelled = True
        if self._call is not None:
            self._call.cancel()
