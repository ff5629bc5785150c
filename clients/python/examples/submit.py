"""Example backend: submits N scrape tasks that notify user:42 on completion, and watches them finish.

Run: python clients/python/examples/submit.py [--n 4] [--url 127.0.0.1:50051]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys

import herald

SEARCHES = [("plumber", "Springfield"), ("dentist", "Springfield"), ("plumber", "Shelbyville")]
NOTIFY = herald.Notify(topic="user:42", completed_event="scrape_complete", failed_event="scrape_failed")


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
        pending = set(ids)
        with client.watch(ids=ids) as changes:
            # Tasks that finished before the watch started are read directly.
            for task_id in list(pending):
                if client.get(task_id).done:
                    pending.discard(task_id)
            for task in changes:
                if task.id not in pending:
                    continue
                print(f"{task.id}: {task.status.value} (attempt {task.attempt})")
                if task.done:
                    pending.discard(task.id)
                if not pending:
                    break
        failed = 0
        for task_id in ids:
            task = client.get(task_id)
            leads = task.result.get("leads_found") if isinstance(task.result, dict) else None
            print(f"{task_id}: {task.status.value}, leads_found={leads}, last_error={task.last_error!r}")
            failed += task.status is not herald.TaskStatus.SUCCEEDED
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
