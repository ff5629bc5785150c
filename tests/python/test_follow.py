"""Client.follow against a real core: a stream broken by the network or by a restart resumes from its positions,
with each event once and in order, and a lost log is reported as NotRecovered rather than skipped."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any

import herald
from e2e_helpers import client_for
from server_proc import HeraldProcess
from tcp_proxy import TcpProxy

GUARD = 60.0


def consume(sub: herald.Subscription) -> "queue.Queue[Any]":
    items: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            for item in sub:
                items.put(item)
        except herald.RpcError as err:
            items.put(err)

    threading.Thread(target=run, daemon=True).start()
    return items


def take(items: "queue.Queue[Any]", n: int) -> list[Any]:
    out = []
    deadline = time.monotonic() + GUARD
    while len(out) < n:
        item = items.get(timeout=max(0.1, deadline - time.monotonic()))
        assert not isinstance(item, herald.RpcError), f"the subscription failed: {item}"
        out.append(item)
    return out


def test_a_broken_stream_resumes_from_its_positions_without_gap_or_duplicate(server: HeraldProcess) -> None:
    proxy = TcpProxy([server.core_addr])
    direct = client_for(server)
    via = herald.Client(proxy.addr, timeout=30)
    sub = via.follow("room:f")
    try:
        items = consume(sub)
        assert sub.wait_live(GUARD)
        for i in range(3):
            direct.emit("n", "room:f", [i])
        first = take(items, 3)
        proxy.cut()
        # Sent while the subscriber is cut off: only a resume from its positions can bring them.
        for i in range(3, 6):
            direct.emit("n", "room:f", [i])
        proxy.restore()
        rest = take(items, 3)
        got = first + rest
        assert all(isinstance(e, herald.Event) for e in got), got
        assert [e.args[0] for e in got] == list(range(6))
        assert sub.resumed >= 1
        direct.emit("n", "room:f", [6])
        assert take(items, 1)[0].args == [6]
        assert items.empty(), "nothing twice"
        assert [p.offset for p in sub.positions] == [7]
    finally:
        sub.cancel()
        proxy.close()
        via.close()
        direct.close()


def test_a_restart_that_lost_the_log_is_reported_then_the_subscription_goes_on(server: HeraldProcess) -> None:
    direct = client_for(server)
    via = herald.Client(server.core_addr, timeout=30)
    sub = via.follow("room:r")
    try:
        items = consume(sub)
        assert sub.wait_live(GUARD)
        direct.emit("n", "room:r", ["before"])
        assert take(items, 1)[0].args == ["before"]
        # The in-memory broker's logs die with the process: a new epoch begins.
        direct.close()
        server.restart()
        direct = client_for(server)
        notice = take(items, 1)[0]
        assert isinstance(notice, herald.NotRecovered), notice
        assert notice.topic == "room:r"
        direct.emit("n", "room:r", ["after"])
        after = take(items, 1)[0]
        assert isinstance(after, herald.Event) and after.args == ["after"]
        assert sub.resumed >= 1
    finally:
        sub.cancel()
        via.close()
        direct.close()


def test_the_asyncio_subscription_resumes_the_same_way(server: HeraldProcess) -> None:
    proxy = TcpProxy([server.core_addr])
    direct = client_for(server)

    async def scenario() -> list[Any]:
        via = herald.AsyncClient(proxy.addr, timeout=30)
        sub = via.follow("room:a")
        got: list[Any] = []

        async def run() -> None:
            async for item in sub:
                got.append(item)
                if len(got) == 4:
                    return

        reader = asyncio.ensure_future(run())
        await asyncio.wait_for(sub.wait_live(), GUARD)
        direct.emit("n", "room:a", [0])
        direct.emit("n", "room:a", [1])
        async def two() -> None:
            while len(got) < 2:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(two(), GUARD)
        proxy.cut()
        direct.emit("n", "room:a", [2])
        direct.emit("n", "room:a", [3])
        proxy.restore()
        await asyncio.wait_for(reader, GUARD)
        assert sub.resumed >= 1
        await via.close()
        return got

    try:
        got = asyncio.run(scenario())
        assert [e.args[0] for e in got] == [0, 1, 2, 3]
    finally:
        proxy.close()
        direct.close()
