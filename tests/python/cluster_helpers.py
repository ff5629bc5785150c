"""What the cluster task tests share: a PostgreSQL database per test, cores on it, and submitters that
count the completion events their topic receives."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import herald
import pg
from cluster_proc import CoreProcess, write_cluster_config
from worker_proc import wait_until


def start_cores(herald_bin: Path, tmp_path: Path, store_url: str, n: int, attempt_timeout_ms: int,
                queues: list[str] | None = None) -> list[CoreProcess]:
    config = write_cluster_config(tmp_path / "cluster.toml", store_url, queues or ["scrape"], attempt_timeout_ms)
    cores = [CoreProcess(herald_bin, config, tmp_path, f"core{i}") for i in range(n)]
    for c in cores:
        c.start()
    return cores


class Submitter:
    """A backend submitting through one core and following its own user topic through another."""

    def __init__(self, name: str, submit_core: CoreProcess, follow_core: CoreProcess) -> None:
        self.name = name
        self.topic = f"user:{name}"
        self.submit_core = submit_core
        self.client = herald.Client(submit_core.addr, timeout=30)
        self._follower = herald.Client(follow_core.addr, timeout=30)
        self.completions: Counter[str] = Counter()
        self.probes = 0
        self._lock = threading.Lock()
        self._stream = self._follower.subscribe(self.topic)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        # The subscription is live once an event emitted to the topic comes back.
        wait_until(self._probe_seen, 30, f"{name}'s subscription live", poll=0.2)

    def _probe_seen(self) -> bool:
        self._follower.emit("probe", self.topic, [{"from": self.name}])
        with self._lock:
            return self.probes > 0

    def _read(self) -> None:
        try:
            for ev in self._stream:
                with self._lock:
                    if ev.name == "probe":
                        self.probes += 1
                    elif ev.name == "task_done":
                        body: Any = ev.args[0] if ev.args else {}
                        self.completions[body.get("task_id", "")] += 1
        except Exception:  # the stream ends when the test cancels it
            pass

    def submit(self, n: int, max_attempts: int = 50) -> list[str]:
        notify = herald.Notify(topic=self.topic, completed_event="task_done", failed_event="task_failed")
        return [
            self.client.submit("scrape", {"n": i, "by": self.name}, max_attempts=max_attempts, notify=notify).id
            for i in range(n)
        ]

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.completions)

    def close(self) -> None:
        self._stream.cancel()
        self._follower.close()
        self.client.close()


def status_counts(store_url: str) -> dict[str, int]:
    """Tasks per status, read from the store."""
    return {row[0]: int(row[1]) for row in pg.query(store_url, "SELECT status, COUNT(*) FROM tasks GROUP BY status")}


def wait_settled(store_url: str, total: int, timeout: float) -> dict[str, int]:
    """Waits until `total` tasks exist and none is queued or running (the timeout is a hang guard)."""
    last: dict[str, int] = {}

    def settled() -> bool:
        nonlocal last
        last = status_counts(store_url)
        return sum(last.values()) == total and not last.get("queued") and not last.get("running")

    try:
        wait_until(settled, timeout, "every task finished", poll=0.3)
    except AssertionError as err:
        raise AssertionError(f"{err}: {last}") from None
    return last
