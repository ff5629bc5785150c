"""The Python examples of README.md and clients/python/README.md, run as written against a real
`herald serve` (only its address replaces the documented default `127.0.0.1:50051`)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ADDR = "127.0.0.1:50051"


def python_blocks(relpath: str) -> list[str]:
    text = (REPO / relpath).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def at(code: str, addr: str) -> str:
    assert "Worker(" in code or DEFAULT_ADDR in code, "the example names the documented address"
    code = code.replace(DEFAULT_ADDR, addr)
    # Worker() without a url uses the documented default: point it at the test server.
    return code.replace("Worker(queues=", f'Worker(url="{addr}", queues=')


def start_worker(code: str, tmp_path: Path, name: str) -> tuple[subprocess.Popen[str], Path]:
    script = tmp_path / f"{name}.py"
    script.write_text(code, encoding="utf-8")
    out = tmp_path / f"{name}.out"
    proc = subprocess.Popen([sys.executable, str(script)], stdout=out.open("w"), stderr=subprocess.STDOUT, text=True)
    return proc, out


def wait_for(path: Path, needle: str, proc: subprocess.Popen[str], what: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if needle in text:
            return text
        if proc.poll() is not None:
            raise AssertionError(f"{what}: exited with {proc.returncode}:\n{text}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n{path.read_text(encoding='utf-8')}")


def test_readme_worker_example_says_it_waits_and_works(server, tmp_path: Path) -> None:
    import herald

    [worker_code] = [b for b in python_blocks("README.md") if "Worker(" in b]
    proc, out = start_worker(at(worker_code, server.core_addr), tmp_path, "readme_worker")
    try:
        wait_for(out, "waiting for scrape tasks", proc, "the worker's ready line")
        with herald.Client(server.core_addr, token="herald-dev-service-token") as client:
            task = client.submit("scrape", {"keyword": "plumber"})
            deadline = time.monotonic() + 60
            while not (info := client.get(task.id)).done:
                assert time.monotonic() < deadline, f"task not done: {info}"
                time.sleep(0.05)
            assert info.result == {"leads_found": 42, "keyword": "plumber"}
        wait_for(out, f"task {task.id}: scraping", proc, "the worker's task line")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_python_client_readme_examples_run_as_written(server, tmp_path: Path) -> None:
    blocks = python_blocks("clients/python/README.md")
    [worker_code] = [b for b in blocks if "Worker(" in b]
    [client_code] = [b for b in blocks if "herald.Client(" in b]
    worker, wout = start_worker(at(worker_code, server.core_addr), tmp_path, "worker")
    try:
        wait_for(wout, "ready as", worker, "the worker's ready line")
        script = tmp_path / "client.py"
        script.write_text(at(client_code, server.core_addr), encoding="utf-8")
        r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"the client example failed:\n{r.stdout}\n{r.stderr}"
        lines = r.stdout.strip().splitlines()
        assert "SUCCEEDED" in lines[-2], r.stdout
        assert lines[-1].endswith("CANCELLED"), r.stdout
        wait_for(wout, "working on", worker, "the worker's task line")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
