"""RFC 5005 archives end to end: the real `feeds serve` over loopback, feedparser as the
reader walking prev-archive links, and the caching complete pages are given."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime

import feedparser
import pytest

from tests.conftest import Site
from tests.service import ChildExited, Service, free_port

LIMIT = 3


def post(site: Site, n: int) -> None:
    site.post(f"p{n:02d}.md", f"Post {n}", f"2024-05-{n:02d}T10:00:00Z")


@pytest.fixture
def service(site: Site) -> Iterator[Service]:
    for n in range(1, 12):
        post(site, n)
    started: Service | None = None
    for attempt in range(3):
        port = free_port()
        site.configure(
            f"feeds:\n  limit: {LIMIT}\n  archives: true\n"
            f"schedule:\n  interval: 1s\nserver:\n  host: 127.0.0.1\n  port: {port}\n"
        )
        started = Service(site.config_path, port, site.root / f"serve-{port}.log")
        try:
            started.wait_until_up()
            break
        except ChildExited as e:
            if "address already in use" not in e.log.lower() or attempt == 2:
                raise
    assert started is not None
    try:
        yield started
    finally:
        assert started.stop() == 0


def walk(service: Service, path: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Entry ids met following prev-archive links from ``path``, as a reader asking for
    gzip gets them, and each document's response headers by path."""
    ids: list[str] = []
    headers: dict[str, dict[str, str]] = {}
    at: str | None = path
    while at is not None:
        response = service.get(at, Accept_Encoding="gzip")
        assert response.status == 200, at
        headers[at] = response.headers
        body = response.body
        if response.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        parsed = feedparser.parse(body)
        assert not parsed.bozo, at
        ids += [entry.id for entry in parsed.entries]
        prev = [link.href for link in parsed.feed.get("links", []) if link.rel == "prev-archive"]
        at = prev[0].removeprefix("https://example.org") if prev else None
        assert at not in headers, "the chain loops"
    return ids, headers


def test_a_reader_walking_from_the_main_feed_meets_every_post_once(
    site: Site, service: Service
) -> None:
    for path in ("/atom.xml", "/rss.xml"):
        ids, headers = walk(service, path)
        assert len(ids) == len(set(ids)) == 11, path
        assert len(headers) == 1 + 3  # main feed, complete pages 1 and 2, open page 3
        complete = [p for p in headers if p.startswith("/archive/") and p[9] in "12"]
        for p, h in headers.items():
            immutable = "immutable" in h["cache-control"]
            assert immutable == (p in complete), (p, h["cache-control"])
        assert len(complete) == 2

    # A new post: the complete pages keep their bytes and ETags; the walk finds it too.
    before = {p: service.get(p).headers["etag"] for p in ("/archive/1/atom.xml",
                                                           "/archive/2/rss.xml")}  # fmt: skip
    since = datetime.now(UTC)
    post(site, 12)
    post(site, 13)
    service.wait_for_run_after(since)
    ids, headers = walk(service, "/atom.xml")
    assert len(ids) == len(set(ids)) == 13
    for p, etag in before.items():
        again = service.get(p, If_None_Match=etag)
        assert again.status == 304, p
        assert "immutable" in again.headers["cache-control"]
