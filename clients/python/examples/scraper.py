"""Example worker: scrapes business leads for {keyword, location} tasks from the offline fixture pages.

Run: python clients/python/examples/scraper.py [--url 127.0.0.1:50051] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import herald  # noqa: E402
from listings import FIXTURES, first_page, parse_page, resolve_next  # noqa: E402

MAX_PAGES = 20


async def scrape(task: herald.Task, root: Path = FIXTURES) -> dict[str, Any]:
    """The task handler: follows the result pages of one search and returns every lead found."""
    payload = task.payload if isinstance(task.payload, dict) else {}
    keyword, location = payload.get("keyword"), payload.get("location")
    if not isinstance(keyword, str) or not isinstance(location, str) or not keyword or not location:
        raise herald.PermanentError("payload needs string fields keyword and location")
    leads: list[dict[str, Any]] = []
    page_path: Path | None = first_page(keyword, location, root)
    pages = 0
    while page_path is not None and page_path.is_file() and pages < MAX_PAGES:
        html = await asyncio.to_thread(page_path.read_text, encoding="utf-8")
        page = parse_page(html)
        pages += 1
        leads.extend(lead.to_json() for lead in page.leads)
        await task.progress({"pages": pages, "leads_so_far": len(leads)})
        page_path = resolve_next(page_path, page.next_href, root) if page.next_href else None
    return {"keyword": keyword, "location": location, "pages": pages, "leads_found": len(leads), "leads": leads}


def main() -> None:
    """Command-line entry point: runs the scraper worker until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description="Herald example scraper worker")
    parser.add_argument("--url", default=os.environ.get("HERALD_URL", herald.DEFAULT_URL))
    parser.add_argument("--token", default=os.environ.get("HERALD_TOKEN", herald.DEFAULT_TOKEN))
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    worker = herald.Worker(["scrape"], args.concurrency, args.url, args.token, name=args.name)
    worker.run(scrape)


if __name__ == "__main__":
    main()
