"""The demo's workers, written with the `herald` package: a lead scraper and a push sender.

- `scrape` tasks ({keyword, location}) read the offline fixture `fixtures/leads.json` a page of 10 at a
  time, report progress, and return {"leads_found": N, ...}; Herald tells the submitting user with
  `scrape_progress` and `scrape_complete`.
- `push` tasks are submitted by Herald itself for a `new_message` whose recipient has no connection
  (`push_if_offline`). A real worker would call a push provider; this one tells the sender's devices
  with `push_sent` {to, text}, so the demo page can show "push sent to bob".

Run: python examples/demo/workers.py [--url 127.0.0.1:50061]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import herald

LEADS = Path(__file__).resolve().parent / "fixtures" / "leads.json"
PAGE = 10
log = logging.getLogger("demo-workers")


async def scrape(task: herald.Task) -> dict[str, Any]:
    payload = task.payload if isinstance(task.payload, dict) else {}
    keyword = str(payload.get("keyword", "")).strip().lower()
    location = str(payload.get("location", "")).strip()
    if not keyword or not location:
        raise herald.PermanentError("payload needs keyword and location")
    found: list[dict[str, Any]] = []
    candidates = json.loads(LEADS.read_text(encoding="utf-8")).get(keyword, [])
    pages = max(1, -(-len(candidates) // PAGE))
    for page in range(pages):
        found.extend(dict(lead, city=location) for lead in candidates[page * PAGE:(page + 1) * PAGE])
        await task.progress({"page": page + 1, "pages": pages, "leads_so_far": len(found)})
        await asyncio.sleep(0.2)  # a real scraper waits for the next result page here
    return {"keyword": keyword, "location": location, "leads_found": len(found), "leads": found}


def push_sender(client: herald.AsyncClient) -> Any:
    async def push(task: herald.Task) -> dict[str, Any]:
        p = task.payload if isinstance(task.payload, dict) else {}
        message = p.get("payload") if isinstance(p.get("payload"), dict) else {}
        to, sender = p.get("user_id"), message.get("from")
        log.info("push to %s: %s", to, message.get("text"))
        if sender:
            await client.emit("push_sent", to=f"user:{sender}", args=[{"to": to, "text": message.get("text", "")}])
        return {"pushed": to}

    return push


async def main_async(url: str, token: str) -> None:
    async with herald.AsyncClient(url, token=token) as client:
        scrapers = herald.Worker(["scrape"], concurrency=2, url=url, token=token, name="demo-scraper")
        pushers = herald.Worker(["push"], concurrency=4, url=url, token=token, name="demo-push")
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, lambda: [w.stop(5) for w in (scrapers, pushers)])
        await asyncio.gather(scrapers.run_async(scrape), pushers.run_async(push_sender(client)))


def main() -> None:
    parser = argparse.ArgumentParser(description="Herald demo workers (scrape, push)")
    parser.add_argument("--url", default=os.environ.get("HERALD_URL", "127.0.0.1:50061"))
    parser.add_argument("--token", default=os.environ.get("HERALD_TOKEN", herald.DEFAULT_TOKEN))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(main_async(args.url, args.token))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
