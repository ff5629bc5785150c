"""Example backend: submits N scrape tasks that notify user:42 on completion, and watches them finish.

Run: python clients/python/examples/submit.py [--n 4] [--url 127.0.0.1:50051]
"""

from __future__ import annotations

import argparse
import itertools
import os
import queue
import sys
import threading

import herald

SEARCHES = [("plumber", "Springfield"), ("dentist", "Springfield"), ("plumber", "Shelbyville")]
NOTIFY = herald.Notify(topic="user:42", completed_event="scrape_complete", failed_event="scrape_failed")


def follow(client: herald.Client, ids: list[str]) -> None:
    """Prints status changes from a watch until every task is done.

    The watch only reports changes after it is registered, so tasks are also re-read whenever the
    watch is quiet for a second: a change that happened before the watch was live is not missed.
    """
    pending = set(ids)
    changes: queue.Queue[herald.TaskInfo | None] = queue.Queue(maxsize=1024)
    stream = client.watch(ids=ids)

    def pump() -> None:
        try:
            for change in stream:
                changes.put(change)
        finally:
            changes.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while pending:
            try:
                change = changes.get(timeout=1.0)
            except queue.Empty:
                pending = {i for i in pending if not client.get(i).done}
                continue
            if change is None:
                raise SystemExit("the watch ended early")
            if change.id in pending:
                print(f"{change.id}: {change.status.value} (attempt {change.attempt})")
                if change.done:
                    pending.discard(change.id)
    finally:
        stream.cancel()


def main() -> int:
    """Submits the tasks, prints each status change, and exits non-zero if any task did not succeed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--url", default=os.environ.get("HERALD_URL", herald.DEFAULT_URL))
    parser.add_argument("--token", default=os.environ.get("HERALD_TOKEN", herald.DEFAULT_TOKEN))
    args = parser.parse_args()
    with herald.Client(args.url, args.token) as client:
        searches = itertools.islice(itertools.cycle(SEARCHES), args.n)
        ids = []
        for keyword, location in searches:
            task = client.submit("scrape", {"keyword": keyword, "location": location}, notify=NOTIFY)
            ids.append(task.id)
            print(f"submitted {task.id}: {keyword} in {location}")
        follow(client, ids)
        failed = 0
        for task_id in ids:
            task = client.get(task_id)
            leads = task.result.get("leads_found") if isinstance(task.result, dict) else None
            print(f"{task_id}: {task.status.value}, leads_found={leads}, last_error={task.last_error!r}")
            failed += task.status is not herald.TaskStatus.SUCCEEDED
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
