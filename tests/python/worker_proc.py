"""Runs tests/python/workers/record_worker.py processes and reads what they recorded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

SCRIPT = Path(__file__).resolve().parent / "workers" / "record_worker.py"


class WorkerProcess:
    """One worker process; `records()` parses its record file."""

    def __init__(self, url: str, name: str, workdir: Path, queues: list[str], concurrency: int,
                 mode: str, sleep_ms: int) -> None:
        self.name = name
        self.record = workdir / f"{name}.jsonl"
        self.log = workdir / f"{name}.log"
        cmd = [sys.executable, str(SCRIPT), "--url", url, "--name", name, "--record", str(self.record),
               "--concurrency", str(concurrency), "--mode", mode, "--sleep-ms", str(sleep_ms)]
        for q in queues:
            cmd += ["--queue", q]
        self.record.touch()
        self._log = open(self.log, "w", encoding="utf-8")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)

    def records(self, ev: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in self.record.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            if ev is None or rec["ev"] == ev:
                out.append(rec)
        return out

    def task_ids(self, ev: str) -> list[str]:
        return [r["task"] for r in self.records(ev)]

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def wait_until(cond: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> None:
    """Polls `cond` until true; the timeout is only a hang guard."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll)


def done_counts(workers: list[WorkerProcess]) -> Counter[str]:
    """How many times each task id was recorded as done across the workers."""
    return Counter(tid for w in workers for tid in w.task_ids("done"))
