"""Completion reaches the submitting user's browser: a Socket.IO client of user:42 gets scrape_complete."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import socketio

import herald
from e2e_helpers import client_for, describe, wait_terminal
from worker_proc import wait_until

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "clients" / "python" / "examples"


def user_token(server, sub: str) -> str:
    out = subprocess.run(
        [str(server.binary), "token", "--sub", sub, "--config", str(server.config)],
        capture_output=True, text=True, timeout=30, check=True,
    )
    return out.stdout.strip()


class Browser:
    """A python-socketio client connected as one user, recording the events it gets."""

    def __init__(self, server, sub: str, events: list[str]) -> None:
        self.received: list[tuple[str, list[Any]]] = []
        self.changed = threading.Condition()
        token = user_token(server, sub)
        # Right after start-up the edge's link to its core may not be up yet ("core unavailable"):
        # retry that refusal only, a bounded number of times; any other refusal fails the test.
        for _ in range(40):
            self.sio = socketio.Client(reconnection=False)
            for name in events:
                self.sio.on(name, self._recorder(name))
            refusals: list[Any] = []
            self.sio.on("connect_error", refusals.append)
            try:
                self.sio.connect(
                    f"http://{server.edge_addr}", auth={"token": token}, transports=["websocket"], wait_timeout=20
                )
                return
            except socketio.exceptions.ConnectionError:
                if not any("core unavailable" in repr(r) for r in refusals):
                    raise
            time.sleep(0.25)
        raise AssertionError("the edge kept answering 'core unavailable'")

    def _recorder(self, name: str) -> Any:
        def record(*args: Any) -> None:
            with self.changed:
                self.received.append((name, list(args)))
                self.changed.notify_all()

        return record

    def events(self, name: str) -> list[list[Any]]:
        with self.changed:
            return [args for n, args in self.received if n == name]

    def close(self) -> None:
        self.sio.disconnect()


def test_user_receives_scrape_complete_for_their_task(server, spawn_worker) -> None:
    browser = Browser(server, "42", ["scrape_complete", "scrape_progress"])
    try:
        worker = spawn_worker(server.core_addr, "scraper", mode="scrape")
        notify = {"topic": "user:42", "completed_event": "scrape_complete", "progress_event": "scrape_progress"}
        with client_for(server) as client:
            task = client.submit("scrape", {"keyword": "plumber", "location": "Springfield"}, notify=notify)
            final = wait_terminal(client, [task.id], 60)[task.id]
        assert final.status is herald.TaskStatus.SUCCEEDED, describe([worker])
        assert final.result["leads_found"] == 5
        wait_until(lambda: len(browser.events("scrape_complete")) == 1, 30, "scrape_complete at the browser")
        args = browser.events("scrape_complete")[0]
        assert task.id in repr(args), args
        assert browser.events("scrape_progress"), "progress events were asked for"
    finally:
        browser.close()


def test_examples_submit_and_scraper_end_to_end(server, tmp_path) -> None:
    browser = Browser(server, "42", ["scrape_complete"])
    log = open(tmp_path / "scraper-example.log", "w")
    scraper = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "scraper.py"), "--url", server.core_addr, "--name", "example"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        out = subprocess.run(
            [sys.executable, str(EXAMPLES / "submit.py"), "--n", "3", "--url", server.core_addr],
            capture_output=True, text=True, timeout=120,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.count("succeeded, leads_found=") == 3, out.stdout
        assert "leads_found=5" in out.stdout and "leads_found=2" in out.stdout and "leads_found=1" in out.stdout
        wait_until(lambda: len(browser.events("scrape_complete")) == 3, 30, "3 scrape_complete events")
    finally:
        scraper.terminate()
        scraper.wait(30)
        browser.close()
    assert scraper.returncode == 0  # SIGTERM is a graceful stop
