"""Tasks across a cluster: two cores on one PostgreSQL store and one Redis, workers behind a load balancer.
Workers and a core are killed with SIGKILL mid-run; every task still succeeds exactly once."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

import pg
from herald.connection import auth_metadata, sync_channel
from herald.v1 import tasks_pb2, tasks_pb2_grpc
from cluster_helpers import Submitter, start_cores, status_counts, wait_settled
from cluster_proc import CoreProcess
from tcp_proxy import TcpProxy
from worker_proc import WorkerProcess, wait_until

@pytest.fixture
def cores_of(herald_bin: Path, tmp_path: Path) -> Iterator[Callable[..., list[CoreProcess]]]:
    started: list[CoreProcess] = []

    def start(store_url: str, n: int = 2, attempt_timeout_ms: int = 3000) -> list[CoreProcess]:
        cores = start_cores(herald_bin, tmp_path, store_url, n, attempt_timeout_ms)
        started.extend(cores)
        return cores

    yield start
    for c in started:
        c.stop()


@pytest.fixture
def balancer() -> Iterator[Callable[[list[str]], TcpProxy]]:
    made: list[TcpProxy] = []

    def make(backends: list[str]) -> TcpProxy:
        p = TcpProxy(backends)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def list_workers(core: CoreProcess) -> list[tasks_pb2.WorkerInfo]:
    stub = tasks_pb2_grpc.TaskServiceStub(sync_channel(core.addr))
    resp = stub.ListWorkers(tasks_pb2.ListWorkersRequest(), metadata=auth_metadata("herald-dev-service-token"),
                            timeout=30)
    return list(resp.workers)


def describe(cores: list[CoreProcess], workers: list[WorkerProcess]) -> str:
    return "\n".join(
        [f"--- {c.name}\n{c.log_tail(25)}" for c in cores] + [f"--- {w.name}\n{w.log_tail(10)}" for w in workers]
    )


def test_1000_tasks_two_cores_survive_worker_and_core_kills(postgres_db, cores_of, balancer, spawn_worker) -> None:
    n_tasks = 1000
    cores = cores_of(postgres_db, attempt_timeout_ms=3000)
    lb = balancer([c.addr for c in cores])
    names = [f"w{i}" for i in range(4)]
    workers = {n: spawn_worker(lb.addr, n, concurrency=2, sleep_ms=80) for n in names}
    every_worker = list(workers.values())
    wait_until(lambda: all(w.records("ready") for w in workers.values()), 60, "4 workers welcomed")
    # One submitter per core, each following its topic through the core that is never killed.
    subs = [Submitter("sub0", cores[0], cores[0]), Submitter("sub1", cores[1], cores[0])]
    started = time.monotonic()
    ids = {s.name: s.submit(n_tasks // 2) for s in subs}
    all_ids = [t for group in ids.values() for t in group]
    assert len(set(all_ids)) == n_tasks

    core_killed = False
    rng = random.Random(15)
    while True:
        counts = status_counts(postgres_db)
        if not counts.get("queued") and not counts.get("running"):
            break
        assert time.monotonic() - started < 100, f"not done after 100 s: {counts}\n{describe(cores, every_worker)}"
        if not core_killed and counts.get("succeeded", 0) >= n_tasks // 3:
            cores[1].kill()
            core_killed = True
            cores[1].start()
        victim = workers[rng.choice(names)]
        victim.kill9()
        workers[victim.name] = spawn_worker(lb.addr, victim.name, concurrency=2, sleep_ms=80)
        every_worker.append(workers[victim.name])
        time.sleep(2.0)  # the pace of the chaos, not a wait for a condition
    final = wait_settled(postgres_db, n_tasks, 30)
    elapsed = time.monotonic() - started

    assert core_killed
    assert final == {"succeeded": n_tasks}, final
    # No attempt's result was accepted twice, and each task has exactly one successful attempt.
    twice = pg.query(
        postgres_db,
        "SELECT task_id, COUNT(*) FROM attempts WHERE outcome = 'succeeded' GROUP BY task_id HAVING COUNT(*) <> 1",
    )
    assert twice == []
    ok = pg.query(postgres_db, "SELECT COUNT(DISTINCT task_id) FROM attempts WHERE outcome = 'succeeded'")
    assert ok == [[str(n_tasks)]]
    # The kills really took tasks away mid-run, and they were queued again.
    lost = dict(pg.query(postgres_db, "SELECT error, COUNT(*) FROM attempts WHERE outcome = 'released' GROUP BY error"))
    assert lost, "no attempt was cut short by the kills"
    # Each submitter receives exactly one completion event per task, whichever core ran it.
    for s in subs:
        wait_until(lambda s=s: len(s.counts()) >= len(ids[s.name]), 30, f"{s.name}'s completions")
        got = s.counts()
        assert set(got) == set(ids[s.name]), (s.name, len(got))
        assert [t for t, n in got.items() if n != 1] == [], s.name
    for s in subs:
        s.close()
    print(f"1000 tasks with kills settled in {elapsed:.1f}s; attempts cut short: {lost}")


def test_tasks_balance_across_both_cores_workers(postgres_db, cores_of, balancer, spawn_worker) -> None:
    """Equal capacities on both cores: each worker's share is within 20% of the mean."""
    n_tasks = 400
    cores = cores_of(postgres_db, attempt_timeout_ms=30_000)
    lb = balancer([c.addr for c in cores])
    workers = [spawn_worker(lb.addr, f"b{i}", concurrency=2, sleep_ms=100) for i in range(4)]
    wait_until(lambda: all(w.records("ready") for w in workers), 60, "4 workers welcomed")
    # The load balancer spread the workers over both cores, and either core lists all four.
    joined = {c.name: c.log_tail(400).count("worker joined") for c in cores}
    assert all(n >= 1 for n in joined.values()), joined
    for c in cores:
        wait_until(lambda c=c: sorted(w.name for w in list_workers(c)) == ["b0", "b1", "b2", "b3"], 30,
                   f"{c.name} listing every core's workers")
        assert len({w.worker_id for w in list_workers(c)}) == 4
    subs = [Submitter(f"bal{i}", c, c) for i, c in enumerate(cores)]
    for s in subs:
        s.submit(n_tasks // 2, max_attempts=3)
    wait_settled(postgres_db, n_tasks, 120)

    done = {w.name: len(w.task_ids("done")) for w in workers}
    assert sum(done.values()) == n_tasks, done
    mean = n_tasks / len(workers)
    assert all(abs(n - mean) <= 0.2 * mean for n in done.values()), done
    print(f"tasks per worker across both cores: {done}")
    for w in workers:
        assert max(r["active"] for r in w.records("start")) <= 2, w.name
    # The workers really were spread over both cores.
    ran_by = pg.query(postgres_db, "SELECT COUNT(DISTINCT worker) FROM attempts")
    assert ran_by == [["4"]]
    for s in subs:
        s.close()


def test_a_stopping_core_hands_its_tasks_to_the_other_core_at_once(postgres_db, cores_of, spawn_worker) -> None:
    """SIGTERM of a core: the task its worker held runs on the other core's worker long before its lease ends."""
    cores = cores_of(postgres_db, attempt_timeout_ms=120_000)
    holder = spawn_worker(cores[1].addr, "holder", concurrency=1, mode="hang")
    wait_until(lambda: bool(holder.records("ready")), 60, "holder welcomed")
    sub = Submitter("handback", cores[0], cores[0])
    (task_id,) = sub.submit(1, max_attempts=3)
    wait_until(lambda: holder.task_ids("start") == [task_id], 30, "holder running the task")
    rescuer = spawn_worker(cores[0].addr, "rescuer", concurrency=1, mode="sleep")
    wait_until(lambda: bool(rescuer.records("ready")), 60, "rescuer welcomed")
    stopped_at = time.monotonic()
    cores[1].stop()
    wait_until(lambda: sub.counts()[task_id] == 1, 30, "the completion event")
    took = time.monotonic() - stopped_at
    assert took < 30, took  # the lease had two minutes left
    assert rescuer.task_ids("done") == [task_id]
    # Handed back by the stopping core (its worker's stream closed, or the core's own hand-back).
    outcomes = pg.query(postgres_db, f"SELECT outcome, error FROM attempts WHERE task_id = '{task_id}' ORDER BY attempt")
    assert [o for o, _ in outcomes] == ["released", "succeeded"], outcomes
    assert outcomes[0][1] in ("worker disconnected", "core shut down"), outcomes
    sub.close()
