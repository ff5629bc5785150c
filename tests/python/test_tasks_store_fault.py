"""PostgreSQL unreachable (cut through a TCP proxy the test controls, never the shared server): submits fail
fast with UNAVAILABLE, nothing acknowledged is lost, running workers keep their tasks, a result sent during
the outage is recorded when the store returns (or refused by fencing when its lease ended meanwhile), and the
core recovers by itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import grpc
import pytest

import herald
import pg
from cluster_helpers import start_cores, wait_settled
from cluster_proc import CoreProcess
from tcp_proxy import TcpProxy
from worker_proc import wait_until

SUBMIT_LIMIT_S = 2.0


@pytest.fixture
def proxied_db(postgres_ready: None) -> Iterator[tuple[str, str, TcpProxy]]:
    """(direct URL, URL through the proxy, proxy) of a fresh database, dropped afterwards."""
    with pg.fresh_database("herald_fault") as url:
        parts = urlsplit(url)
        proxy = TcpProxy([f"{parts.hostname}:{parts.port or 5432}"])
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{proxy.port}"
        via = urlunsplit((parts.scheme, f"{netloc[0]}@{host}" if len(netloc) == 2 else host, parts.path, parts.query, ""))
        try:
            yield url, via, proxy
        finally:
            proxy.close()


def attempts_of(url: str, task_id: str) -> list[str]:
    rows = pg.query(url, f"SELECT outcome FROM attempts WHERE task_id = '{task_id}' ORDER BY attempt")
    return [r[0] for r in rows]


def test_store_outage(proxied_db, herald_bin: Path, tmp_path: Path, spawn_worker) -> None:
    direct, via, proxy = proxied_db
    cores: list[CoreProcess] = start_cores(herald_bin, tmp_path, via, 1, attempt_timeout_ms=20_000)
    core = cores[0]
    try:
        worker = spawn_worker(core.addr, "keeper", concurrency=2, sleep_ms=1500)
        wait_until(lambda: bool(worker.records("ready")), 60, "worker welcomed")
        client = herald.Client(core.addr, timeout=10)
        acked = [client.submit("scrape", {"n": i, "sleep_ms": 1}, idempotency_key=f"before-{i}").id for i in range(20)]
        wait_settled(direct, 20, 60)
        # Two tasks running across the outage: one whose lease outlives it, one whose lease ends inside it.
        keeps = client.submit("scrape", {"n": 100}, attempt_timeout_ms=20_000).id
        lapses = client.submit("scrape", {"n": 101}, attempt_timeout_ms=2_500).id
        wait_until(lambda: {keeps, lapses} <= set(worker.task_ids("start")), 30, "both tasks running")
        lapses_started = time.monotonic()

        proxy.cut()
        cut_at = time.monotonic()
        # SubmitTask answers UNAVAILABLE within 2 s.
        for i in range(3):
            t0 = time.monotonic()
            with pytest.raises(herald.RpcError) as err:
                client.submit("scrape", {"n": 200 + i}, idempotency_key=f"during-{i}")
            took = time.monotonic() - t0
            assert err.value.code == grpc.StatusCode.UNAVAILABLE, err.value
            assert took < SUBMIT_LIMIT_S, f"UNAVAILABLE after {took:.2f}s"
            print(f"submit during the outage: UNAVAILABLE after {took:.3f}s")
        # The worker sends both results while the store is away.
        wait_until(lambda: {keeps, lapses} <= set(worker.task_ids("done")), 30, "both results sent")
        # Stay down until the short lease has surely ended (2.5 s after its start, plus a margin).
        wait_until(lambda: time.monotonic() - lapses_started > 4.0, 10, "the short lease over")
        assert time.monotonic() - cut_at < 10
        proxy.restore()
        restored_at = time.monotonic()

        # The core recovers by itself: a submit succeeds again without any restart.
        recovered = None
        while recovered is None:
            try:
                recovered = client.submit("scrape", {"n": 300, "sleep_ms": 1}, idempotency_key="after").id
            except herald.RpcError as err:
                assert err.code == grpc.StatusCode.UNAVAILABLE, err
                assert time.monotonic() - restored_at < 30, "the core did not recover within 30 s"
                time.sleep(0.2)
        print(f"submits accepted again {time.monotonic() - restored_at:.2f}s after the store returned")
        final = wait_settled(direct, 23, 60)
        assert final == {"succeeded": 23}, final

        # Nothing that returned OK was lost.
        for task_id in acked + [keeps, lapses, recovered]:
            assert client.get(task_id).status is herald.TaskStatus.SUCCEEDED
        # The result sent during the outage within its lease was recorded on the first attempt.
        assert attempts_of(direct, keeps) == ["succeeded"]
        assert client.get(keeps).attempt == 1
        # The one whose lease ended during the outage was refused by fencing and ran again.
        assert attempts_of(direct, lapses)[0] == "released", attempts_of(direct, lapses)
        assert attempts_of(direct, lapses)[-1] == "succeeded"
        assert worker.task_ids("done").count(lapses) == 2
        # The worker kept its stream (and so its tasks) through the outage.
        assert len(worker.records("ready")) == 1, worker.log_tail()
        assert worker.task_ids("cancelled") == []
        client.close()
    finally:
        for c in cores:
            c.stop()
