"""A test worker process built on the herald package; it appends one JSON line per event to a record file.

Lines: {"ev": "ready"} on each welcome, {"ev": "start"|"done"|"cancelled"|"failed", "task": ID, ...}.
The behaviour per task comes from the payload's "mode" (default --mode): sleep, fail, permanent, hang, scrape.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import herald

EXAMPLES = Path(__file__).resolve().parents[3] / "clients" / "python" / "examples"


class Recorder:
    """Appends JSON lines, each flushed at once (so a kill -9 loses nothing already written)."""

    def __init__(self, path: str, name: str) -> None:
        self._file = open(path, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()
        self._name = name
        self.active = 0
        self.max_active = 0

    def write(self, ev: str, **fields: Any) -> None:
        line = json.dumps({"ev": ev, "worker": self._name, "pid": os.getpid(), **fields})
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()


def make_handler(rec: Recorder, default_mode: str, sleep_ms: int) -> Any:
    async def handle(task: herald.Task) -> Any:
        payload = task.payload if isinstance(task.payload, dict) else {}
        mode = payload.get("mode", default_mode)
        rec.active += 1
        rec.max_active = max(rec.max_active, rec.active)
        rec.write("start", task=task.id, attempt=task.attempt, active=rec.active, max_active=rec.max_active)
        try:
            if mode == "sleep":
                await asyncio.sleep(payload.get("sleep_ms", sleep_ms) / 1000)
                result: Any = {"worker": rec._name, "task": task.id, "n": payload.get("n")}
            elif mode == "fail":
                raise RuntimeError(f"boom on attempt {task.attempt}")
            elif mode == "permanent":
                raise herald.PermanentError(f"cannot do {task.id}")
            elif mode == "hang":
                await asyncio.sleep(3600)
                result = None
            elif mode == "scrape":
                sys.path.insert(0, str(EXAMPLES))
                import scraper

                result = await scraper.scrape(task)
            else:
                raise herald.PermanentError(f"unknown mode {mode}")
        except asyncio.CancelledError:
            rec.write("cancelled", task=task.id, attempt=task.attempt)
            raise
        except Exception as err:
            rec.write("failed", task=task.id, attempt=task.attempt, error=str(err))
            raise
        finally:
            rec.active -= 1
        rec.write("done", task=task.id, attempt=task.attempt)
        return result

    return handle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--queue", action="append", default=[])
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--mode", default="sleep")
    parser.add_argument("--sleep-ms", type=int, default=20)
    parser.add_argument("--grace", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.name} %(name)s %(message)s")
    rec = Recorder(args.record, args.name)
    worker = herald.Worker(
        args.queue or ["scrape"], args.concurrency, args.url, name=args.name, grace_period=args.grace,
        backoff=herald.Backoff(0.1, 1.0), on_connect=lambda wid: rec.write("ready", worker_id=wid),
    )
    worker.run(make_handler(rec, args.mode, args.sleep_ms))
    rec.write("exit", max_active=rec.max_active)


if __name__ == "__main__":
    main()
