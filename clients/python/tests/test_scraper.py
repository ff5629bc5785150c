"""The example scraper: the listing parser on the fixture pages and the handler end to end (no server)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

import herald  # noqa: E402
import listings  # noqa: E402
import scraper  # noqa: E402


def test_parses_listings_skips_ads_and_decodes_entities() -> None:
    page = listings.parse_page((listings.FIXTURES / "plumber-springfield-p1.html").read_text())
    assert [lead.id for lead in page.leads] == ["sp-101", "sp-102", "sp-103"]
    first = page.leads[0]
    assert first.name == "Acme Plumbing & Heating"
    assert (first.phone, first.address, first.rating) == ("(555) 010-1234", "12 Main St, Springfield", 4.6)
    assert page.leads[1].address == "400 Elm Ave Springfield"  # <br> becomes a space
    assert page.next_href == "plumber-springfield-p2.html"


def test_missing_rating_is_none_and_last_page_has_no_next() -> None:
    page = listings.parse_page((listings.FIXTURES / "plumber-springfield-p2.html").read_text())
    assert [(lead.name, lead.rating) for lead in page.leads] == [("Flow Masters", 4.9), ("New Leaf Plumbing", None)]
    assert page.next_href is None
    dentists = listings.parse_page((listings.FIXTURES / "dentist-springfield-p1.html").read_text())
    assert dentists.leads[1].name == "Dr. Riviera's Family Dentistry"


def test_garbage_html_gives_no_leads() -> None:
    assert listings.parse_page("<div class='listing'><span>").leads == []
    assert listings.parse_page("not html at all").leads == []


def test_next_links_cannot_leave_the_fixture_dir() -> None:
    start = listings.FIXTURES / "plumber-springfield-p1.html"
    assert listings.resolve_next(start, "../listings.py") is None
    assert listings.resolve_next(start, "missing.html") is None
    assert listings.resolve_next(start, "plumber-springfield-p2.html") == (
        listings.FIXTURES / "plumber-springfield-p2.html"
    ).resolve()


class _FakeTask:
    def __init__(self, payload: Any) -> None:
        self.payload = payload
        self.reports: list[Any] = []

    async def progress(self, data: Any) -> None:
        self.reports.append(data)


def test_handler_follows_pages_and_reports_progress() -> None:
    task = _FakeTask({"keyword": "Plumber", "location": "Springfield"})
    result = asyncio.run(scraper.scrape(task))  # type: ignore[arg-type]
    assert result["leads_found"] == 5 and result["pages"] == 2
    assert [lead["id"] for lead in result["leads"]] == ["sp-101", "sp-102", "sp-103", "sp-104", "sp-105"]
    assert task.reports == [{"pages": 1, "leads_so_far": 3}, {"pages": 2, "leads_so_far": 5}]


def test_unknown_search_finds_nothing_and_bad_payload_is_permanent() -> None:
    nothing = asyncio.run(scraper.scrape(_FakeTask({"keyword": "llama", "location": "Nowhere"})))  # type: ignore[arg-type]
    assert nothing["leads_found"] == 0 and nothing["leads"] == []
    with pytest.raises(herald.PermanentError):
        asyncio.run(scraper.scrape(_FakeTask({"keyword": "plumber"})))  # type: ignore[arg-type]
