"""Parses business listings (name, phone, address, rating) out of directory pages with html.parser."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIELDS = ("name", "phone", "address", "rating")
_VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "wbr"})


@dataclass(frozen=True)
class Lead:
    """One business found on a page."""

    id: str
    name: str
    phone: str
    address: str
    rating: float | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Page:
    """What one page holds: its leads and the link to the next page, if any."""

    leads: list[Lead]
    next_href: str | None


class _ListingParser(HTMLParser):
    """Collects `div.listing` blocks (sponsored ones skipped) and the rel=next link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.leads: list[Lead] = []
        self.next_href: str | None = None
        self._listing: dict[str, Any] | None = None
        self._listing_depth = 0
        self._field: str | None = None
        self._field_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        classes = attr.get("class", "").split()
        if tag == "a" and attr.get("rel") == "next":
            self.next_href = attr.get("href") or None
        if tag in _VOID:
            if tag == "br" and self._field is not None and self._listing is not None:
                self._listing[self._field].append(" ")
            return
        if self._listing is None:
            if tag == "div" and "listing" in classes and "sponsored" not in classes:
                self._listing = {f: [] for f in FIELDS}
                self._listing["id"] = attr.get("data-id", "")
                self._listing["rating_value"] = None
                self._listing_depth = 1
            return
        self._listing_depth += 1
        if self._field is not None:
            self._field_depth += 1
            return
        field = next((c for c in classes if c in FIELDS), None)
        if field is not None:
            self._field = field
            self._field_depth = 1
            if field == "rating":
                self._listing["rating_value"] = attr.get("data-value")

    def handle_endtag(self, tag: str) -> None:
        if self._listing is None or tag in _VOID:
            return
        if self._field is not None:
            self._field_depth -= 1
            if self._field_depth == 0:
                self._field = None
        self._listing_depth -= 1
        if self._listing_depth == 0:
            self.leads.append(_lead_of(self._listing))
            self._listing = None

    def handle_data(self, data: str) -> None:
        if self._listing is not None and self._field is not None:
            self._listing[self._field].append(data)


def _clean(parts: list[str]) -> str:
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _rating(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def _lead_of(block: dict[str, Any]) -> Lead:
    return Lead(
        id=block["id"],
        name=_clean(block["name"]),
        phone=_clean(block["phone"]),
        address=_clean(block["address"]),
        rating=_rating(block["rating_value"]),
    )


def parse_page(html: str) -> Page:
    """Parses one directory page."""
    parser = _ListingParser()
    parser.feed(html)
    parser.close()
    return Page(leads=[lead for lead in parser.leads if lead.name], next_href=parser.next_href)


def slug(text: str) -> str:
    """"New York" -> "new-york"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def first_page(keyword: str, location: str, root: Path = FIXTURES) -> Path:
    """Where the first result page of a search lives (it may not exist: no results)."""
    return root / f"{slug(keyword)}-{slug(location)}-p1.html"


def resolve_next(current: Path, href: str, root: Path = FIXTURES) -> Path | None:
    """The next page's file, kept inside the fixture directory (anything else is ignored)."""
    candidate = (current.parent / href).resolve()
    if candidate.parent != root.resolve() or not candidate.is_file():
        return None
    return candidate
