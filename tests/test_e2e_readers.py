"""End to end: the real `feeds serve` over loopback HTTP, read by the feed readers people use.

Every test starts `python -m feeds serve` as a child process on a temporary site
(tests/service.py) and stops it with SIGTERM, which must end it with status 0.
The clients are the ones NOTES.md describes: the `reader` library (RSS, Atom and
JSON Feed), newsboat and sfeed (RSS and Atom). A missing client binary is a
failure, not a skip: CI installs them (.ci/run).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import html
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from reader import Reader, UpdatedFeed, make_reader

from tests.conftest import Site
from tests.service import ChildExited, Service, free_port, recording, wait_for

#: the URL path of each format of a feed
FEEDS = {"rss": "/rss.xml", "atom": "/atom.xml", "json": "/feed.json"}
SITE_TZ = ZoneInfo("Europe/Madrid")  # conftest's site.timezone: tag URIs use its dates


@dataclass(frozen=True, order=True)
class Entry:
    """An entry as a client stored it."""

    id: str
    title: str
    link: str
    #: every author, joined with ", "
    author: str
    #: the "Body of <title>." sentence Site.post writes, found in the entry's content
    body: str


def entry(slug: str, published: datetime, title: str, author: str) -> Entry:
    date = published.astimezone(SITE_TZ).date().isoformat()
    url = f"https://example.org/{slug}/"
    return Entry(f"tag:example.org,{date}:/{slug}", title, url, author, f"Body of {title}.")


def day(n: int) -> datetime:
    return datetime(2024, 5, n, 10, 0, tzinfo=UTC)


def post(site: Site, slug: str, title: str, when: datetime, **extra: str) -> Path:
    return site.post(f"{slug}.md", title, when.strftime("%Y-%m-%dT%H:%M:%SZ"), **extra)


def write_posts(site: Site) -> None:
    post(site, "first", "First post", day(1), author="Ann Writer", tags="[alpha]")
    post(site, "second", "Café & crème", day(2), author="Bob Writer", tags="[beta]")
    post(site, "third", "Third post", day(3), tags="[alpha]")  # the site's author: Desk


EXPECTED = [
    entry("first", day(1), "First post", "Ann Writer"),
    entry("second", day(2), "Café & crème", "Bob Writer"),
    entry("third", day(3), "Third post", "Desk"),
]
FOURTH = entry("fourth", day(4), "Fourth post", "Ann Writer")
REVISED = replace(EXPECTED[0], title="First post, revised", body="Body of First post, revised.")

_BODY = re.compile(r"Body of [^<\n]*?\.")


def body_of(*texts: str | None) -> str:
    for text in texts:
        if text and (found := _BODY.search(text)):
            return html.unescape(found.group(0))
    return ""


def now() -> datetime:
    return datetime.now(UTC)


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(
            f"{binary} is not installed; CI installs it in .ci/run "
            "(apt-get install newsboat sfeed sqlite3 curl)"
        )
    return path


# -- the service ------------------------------------------------------------------------------


def start(
    site: Site,
    started: list[Service],
    interval: str = "1s",
    up: tuple[int, ...] | None = (200,),
    extra: str = "",
) -> Service:
    """`feeds serve` on a free port, once /healthz answers one of ``up`` (None: at once).

    Retried if another process takes the port first.
    """
    for attempt in range(3):
        port = free_port()
        site.configure(
            f"schedule:\n  interval: {interval}\nserver:\n  host: 127.0.0.1\n  port: {port}\n"
            + extra
        )
        service = Service(site.config_path, port, site.root / f"serve-{port}.log")
        started.append(service)
        if up is None:
            return service
        try:
            service.wait_until_up(up)
        except ChildExited as e:
            if "address already in use" not in e.log.lower() or attempt == 2:
                raise
            started.remove(service)  # it exited 1 because another process took the port
            continue
        return service
    raise AssertionError("unreachable")


@contextlib.contextmanager
def stopped_cleanly(started: list[Service]) -> Iterator[None]:
    """Stop every service started inside with SIGTERM; each must exit 0 (SPEC §1)."""
    try:
        yield
    finally:
        statuses = [(service, service.stop()) for service in started]
        failed = [(s, status) for s, status in statuses if status != 0]
        assert not failed, "\n".join(
            f"feeds serve on port {s.port} exited {status} after SIGTERM, not 0 "
            f"(SPEC §1: 0 on a clean stop); its log:\n{s.log_text()[-2000:]}"
            for s, status in failed
        )


Serve = Callable[..., Service]


@pytest.fixture
def serve(site: Site) -> Iterator[Serve]:
    """Start `feeds serve` on ``site``: serve(interval="1s", up=(200,))."""
    started: list[Service] = []
    with stopped_cleanly(started):
        yield lambda interval="1s", up=(200,): start(site, started, interval, up)


@pytest.fixture
def service(site: Site, serve: Serve) -> Service:
    """The three posts, served and regenerated every second."""
    write_posts(site)
    return serve()


# -- the clients --------------------------------------------------------------------------------


class Client(Protocol):
    formats: tuple[str, ...]

    def poll(self) -> dict[str, list[Entry]]:
        """Fetch every subscribed feed; the entries the client now holds, per format."""

    def close(self) -> None: ...


class ReaderClient:
    """The `reader` library, subscribed to every format."""

    formats = ("rss", "atom", "json")

    def __init__(self, folder: Path, base: str) -> None:
        self.reader: Reader = make_reader(str(folder / "reader.sqlite"))
        self.urls = {fmt: base + FEEDS[fmt] for fmt in self.formats}
        for url in self.urls.values():
            self.reader.add_feed(url)

    def update(self) -> dict[str, UpdatedFeed | None]:
        """One update of every feed: UpdatedFeed counts, or None for "not modified"."""
        results = {r.url: r.value for r in self.reader.update_feeds_iter(scheduled=False)}
        assert set(results) == set(self.urls.values())
        by_format: dict[str, UpdatedFeed | None] = {}
        for fmt, url in self.urls.items():
            value = results[url]
            assert not isinstance(value, Exception), f"reader could not update {url}: {value!r}"
            by_format[fmt] = value
        return by_format

    def entries(self, fmt: str) -> list[Entry]:
        return sorted(
            Entry(
                e.id,
                e.title or "",
                e.link or "",
                ", ".join(a.name or "" for a in e.authors),
                body_of(*(c.value for c in e.content), e.summary),
            )
            for e in self.reader.get_entries(feed=self.urls[fmt])
        )

    def poll(self) -> dict[str, list[Entry]]:
        self.update()
        return {fmt: self.entries(fmt) for fmt in self.formats}

    def close(self) -> None:
        self.reader.close()


class NewsboatClient:
    """newsboat, one profile per format: it matches items by guid across all its feeds."""

    formats = ("rss", "atom")

    def __init__(self, folder: Path, base: str) -> None:
        self.binary = require("newsboat")
        self.urls = {fmt: base + FEEDS[fmt] for fmt in self.formats}
        self.homes = {fmt: folder / f"newsboat-{fmt}" for fmt in self.formats}
        for fmt, home in self.homes.items():
            home.mkdir(parents=True)
            (home / "urls").write_text(self.urls[fmt] + "\n", encoding="utf-8")
            (home / "config").write_text("", encoding="utf-8")

    def reload(self, fmt: str) -> None:
        home = self.homes[fmt]
        done = subprocess.run(
            [self.binary, "-u", "urls", "-c", "cache.db", "-C", "config", "-x", "reload"],
            cwd=home,
            env={**os.environ, "HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr

    def _query(self, fmt: str, sql: str) -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(self.homes[fmt] / "cache.db")) as db:
            return db.execute(sql).fetchall()

    def entries(self, fmt: str) -> list[Entry]:
        rows = self._query(
            fmt, "SELECT guid, title, url, author, content FROM rss_item WHERE deleted = 0"
        )
        return sorted(
            Entry(str(guid), str(title), str(url), str(author), body_of(str(content)))
            for guid, title, url, author, content in rows
        )

    def validators(self, fmt: str) -> tuple[str, int]:
        """The ETag and Last-Modified (Unix time) newsboat stored for the feed."""
        ((etag, modified),) = self._query(fmt, "SELECT etag, lastmodified FROM rss_feed")
        return str(etag), int(str(modified))

    def poll(self) -> dict[str, list[Entry]]:
        for fmt in self.formats:
            self.reload(fmt)
        return {fmt: self.entries(fmt) for fmt in self.formats}

    def close(self) -> None:
        pass


class SfeedClient:
    """sfeed behind curl's ETag flow, as sfeed_update's documented fetch() does it."""

    formats = ("rss", "atom")

    def __init__(self, folder: Path, base: str) -> None:
        self.curl, self.sfeed = require("curl"), require("sfeed")
        self.folder = folder
        self.urls = {fmt: base + FEEDS[fmt] for fmt in self.formats}
        self.held: dict[str, list[Entry]] = {fmt: [] for fmt in self.formats}
        for fmt in self.formats:
            # An empty ETag file: the first request sends `If-None-Match: ""` (NOTES.md).
            self.etag_file(fmt).write_text("", encoding="utf-8")

    def etag_file(self, fmt: str) -> Path:
        return self.folder / f"{fmt}.etag"

    def fetch(self, fmt: str) -> int:
        """One fetch; the HTTP status. A 200 is parsed by sfeed, a 304 keeps what was held."""
        body = self.folder / f"{fmt}.body"
        body.unlink(missing_ok=True)
        etag = str(self.etag_file(fmt))
        done = subprocess.run(
            [self.curl, "-f", "-s", "-m", "15", "-L", "--max-redirs", "0", "-H", "User-Agent:",
             "--compressed", "--etag-save", etag, "--etag-compare", etag,
             "-o", str(body), "-w", "%{http_code}", self.urls[fmt]],
            capture_output=True,
            text=True,
            timeout=30,
        )  # fmt: skip
        assert done.returncode == 0, f"curl exited {done.returncode}: {done.stderr}"
        status = int(done.stdout)
        if status == 304:
            assert not body.exists() or body.stat().st_size == 0, "a 304 came with a body"
            return status
        assert status == 200
        parsed = subprocess.run(
            [self.sfeed], input=body.read_bytes(), capture_output=True, timeout=30, check=True
        )
        self.held[fmt] = sorted(
            _sfeed_entry(line) for line in parsed.stdout.decode().splitlines() if line
        )
        return status

    def poll(self) -> dict[str, list[Entry]]:
        for fmt in self.formats:
            self.fetch(fmt)
        return {fmt: list(self.held[fmt]) for fmt in self.formats}

    def close(self) -> None:
        pass


def _sfeed_entry(line: str) -> Entry:
    # sfeed(5): timestamp, title, link, content, content-type, id, author, enclosure, category
    fields = line.split("\t")
    return Entry(fields[5], fields[1], fields[2], fields[6], body_of(fields[3]))


CLIENTS: dict[str, Callable[[Path, str], Client]] = {
    "reader": ReaderClient,
    "newsboat": NewsboatClient,
    "sfeed": SfeedClient,
}


@contextlib.contextmanager
def subscribed(name: str, folder: Path, base: str) -> Iterator[Client]:
    folder.mkdir(parents=True, exist_ok=True)
    client = CLIENTS[name](folder, base)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(params=list(CLIENTS))
def client(request: pytest.FixtureRequest, service: Service, tmp_path: Path) -> Iterator[Client]:
    with subscribed(request.param, tmp_path / "clients" / request.param, service.base) as c:
        yield c


def everywhere(client: Client, entries: list[Entry]) -> dict[str, list[Entry]]:
    return {fmt: sorted(entries) for fmt in client.formats}


# -- 1–3: what every client sees ------------------------------------------------------------------


def test_subscribing_gets_every_entry(client: Client) -> None:
    assert client.poll() == everywhere(client, EXPECTED)


def test_a_new_post_is_exactly_one_new_entry(client: Client, service: Service, site: Site) -> None:
    assert client.poll() == everywhere(client, EXPECTED)
    post(site, "fourth", "Fourth post", day(4), author="Ann Writer", tags="[alpha]")
    service.wait_for_run_after(now())  # a run that saw the new file has published
    assert client.poll() == everywhere(client, [*EXPECTED, FOURTH])
    assert client.poll() == everywhere(client, [*EXPECTED, FOURTH])  # polling again adds none


def test_an_edited_post_updates_in_place(client: Client, service: Service, site: Site) -> None:
    assert client.poll() == everywhere(client, EXPECTED)
    post(site, "first", "First post, revised", day(1), author="Ann Writer", tags="[alpha]")
    service.wait_for_run_after(now())
    assert client.poll() == everywhere(client, [REVISED, *EXPECTED[1:]])


# -- 4: a poll with nothing changed is answered 304 -----------------------------------------------


def test_reader_sends_validators_and_is_not_sent_the_feed_again(
    service: Service, tmp_path: Path
) -> None:
    with recording(service.port) as wire, subscribed("reader", tmp_path / "r", wire.url("")) as c:
        assert isinstance(c, ReaderClient)
        first = c.update()
        assert first == {fmt: UpdatedFeed(url, new=3) for fmt, url in c.urls.items()}
        updated = {fmt: c.reader.get_feed(url).last_updated for fmt, url in c.urls.items()}
        service.wait_for_run_after(now())  # a run that rewrote nothing must change no validator
        assert c.update() == dict.fromkeys(c.formats)  # None: "not modified", nothing parsed
        assert {fmt: c.reader.get_feed(url).last_updated for fmt, url in c.urls.items()} == updated
        assert {fmt: c.entries(fmt) for fmt in c.formats} == everywhere(c, EXPECTED)
        exchanges = wire.exchanges()
    for fmt, path in FEEDS.items():
        seen = [x for x in exchanges if x.path == path]
        assert [x.status for x in seen] == [200, 304], fmt
        full, quiet = seen
        assert "if-none-match" not in full.sent
        assert full.received["content-encoding"] == "gzip"  # reader asks for gzip
        assert quiet.sent["if-none-match"] == full.received["etag"]
        assert quiet.sent["if-modified-since"] == full.received["last-modified"]
        assert quiet.received["etag"] == full.received["etag"]


def test_newsboat_stores_validators_and_its_third_fetch_is_304(
    service: Service, tmp_path: Path
) -> None:
    with recording(service.port) as wire, subscribed("newsboat", tmp_path / "n", wire.url("")) as c:
        assert isinstance(c, NewsboatClient)
        held = [c.poll(), c.poll()]
        service.wait_for_run_after(now())  # a run that rewrote nothing must change no validator
        held.append(c.poll())
        stored = {fmt: c.validators(fmt) for fmt in c.formats}
        exchanges = wire.exchanges()
    assert held == [everywhere(c, EXPECTED)] * 3
    for fmt in c.formats:
        seen = [x for x in exchanges if x.path == FEEDS[fmt]]
        # newsboat keeps the validators only after its second fetch (NOTES.md).
        assert [(x.status, "if-none-match" in x.sent) for x in seen] == [
            (200, False),
            (200, False),
            (304, True),
        ], fmt
        etag, last_modified = seen[1].received["etag"], seen[1].received["last-modified"]
        assert seen[2].sent["if-none-match"] == etag
        assert stored[fmt] == (etag, int(parsedate_to_datetime(last_modified).timestamp()))


def test_sfeed_etag_flow_gets_304_until_a_post_is_added(
    service: Service, site: Site, tmp_path: Path
) -> None:
    with recording(service.port) as wire, subscribed("sfeed", tmp_path / "s", wire.url("")) as c:
        assert isinstance(c, SfeedClient)
        assert {fmt: [c.fetch(fmt), c.fetch(fmt)] for fmt in c.formats} == {
            fmt: [200, 304] for fmt in c.formats
        }
        assert c.held == everywhere(c, EXPECTED)
        post(site, "fourth", "Fourth post", day(4), author="Ann Writer")
        service.wait_for_run_after(now())
        assert {fmt: [c.fetch(fmt), c.fetch(fmt)] for fmt in c.formats} == {
            fmt: [200, 304] for fmt in c.formats
        }
        assert c.held == everywhere(c, [*EXPECTED, FOURTH])
        saved = {fmt: c.etag_file(fmt).read_text(encoding="utf-8").strip() for fmt in c.formats}
        exchanges = wire.exchanges()
    for fmt in c.formats:
        seen = [x for x in exchanges if x.path == FEEDS[fmt]]
        sent = [x.sent["if-none-match"] for x in seen]
        etags = [x.received["etag"] for x in seen]
        # The first request's empty tag `""` must match nothing.
        assert sent == ['""', etags[0], etags[0], etags[2]], fmt
        assert etags[0] == etags[1] != etags[2] == etags[3] == saved[fmt], fmt
        assert etags[0].endswith('-gz"')  # curl --compressed: the gzip copy's own ETag


# -- 5: a future-dated post goes live at its time -------------------------------------------------


def test_a_future_post_appears_at_its_time_for_every_client(
    site: Site, serve: Serve, tmp_path: Path
) -> None:
    write_posts(site)
    due = (now() + timedelta(seconds=4)).replace(microsecond=0)  # 3–4 s from now
    post(site, "soon", "Soon", due, author="Ann Writer")
    soon = entry("soon", due, "Soon", "Ann Writer")
    service = serve(interval="1h")  # only the wake-up at the post's time can publish it
    health = service.health()
    assert health["next_future_post"] == due.isoformat(), "the first run did not hold it back"
    with contextlib.ExitStack() as stack:
        clients = {
            name: stack.enter_context(subscribed(name, tmp_path / name, service.base))
            for name in CLIENTS
        }
        before = {name: c.poll() for name, c in clients.items()}
        assert before == {name: everywhere(c, EXPECTED) for name, c in clients.items()}

        def published() -> dict[str, Any] | None:
            health = service.health()
            return health if health["posts"] == 4 else None

        health = wait_for(published, "the future post to be published", timeout=20)
        seen = now()
        run = datetime.fromisoformat(health["time"])
        assert due <= run <= due + timedelta(seconds=2), (due, run)
        assert seen - due < timedelta(seconds=5)
        assert health["next_future_post"] is None
        assert service.process.poll() is None
        after = {name: c.poll() for name, c in clients.items()}
        assert after == {name: everywhere(c, [*EXPECTED, soon]) for name, c in clients.items()}


# -- HTTP over the real server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for the read-only HTTP tests below."""
    site = Site(tmp_path_factory.mktemp("http"))
    write_posts(site)
    started: list[Service] = []
    with stopped_cleanly(started):
        yield start(site, started)


def test_healthz_reports_the_last_run(served: Service) -> None:
    response = served.get("/healthz")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    health = response.json()
    assert {k: health[k] for k in ("result", "exit_status", "posts", "feeds", "problems")} == {
        "result": "published",
        "exit_status": 0,
        "posts": 3,
        # (site + tags alpha, beta + authors Ann, Bob, Desk) x (rss, atom, json)
        "feeds": 18,
        "problems": [],
    }
    assert health["next_future_post"] is None
    assert now() - datetime.fromisoformat(health["time"]) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
        ("/tags/alpha/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/authors/ann-writer/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
    ],
)
def test_content_types(served: Service, path: str, content_type: str) -> None:
    response = served.get(path)
    assert response.status == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "max-age=1"  # the schedule interval


def test_feeds_over_http_hold_every_entry(served: Service) -> None:
    ids = sorted(e.id for e in EXPECTED)
    rss = ElementTree.fromstring(served.get("/rss.xml").body)
    assert sorted(g.text or "" for g in rss.iter("guid")) == ids
    atom = ElementTree.fromstring(served.get("/atom.xml").body)
    entries = atom.iter("{http://www.w3.org/2005/Atom}entry")
    assert sorted(e.findtext("{http://www.w3.org/2005/Atom}id") or "" for e in entries) == ids
    assert sorted(item["id"] for item in served.get("/feed.json").json()["items"]) == ids


def test_gzip_is_a_representation_with_its_own_etag(served: Service) -> None:
    plain = served.get("/atom.xml")
    packed = served.get("/atom.xml", Accept_Encoding="gzip")
    assert packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(packed.body) == plain.body
    assert int(packed.headers["content-length"]) == len(packed.body) < len(plain.body)
    assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
    assert packed.headers["etag"] != plain.headers["etag"]
    assert not packed.headers["etag"].startswith("W/")
    # Each ETag validates only its own representation.
    gz_etag = packed.headers["etag"]
    assert served.get("/atom.xml", Accept_Encoding="gzip", If_None_Match=gz_etag).status == 304
    assert served.get("/atom.xml", If_None_Match=gz_etag).status == 200


def test_conditional_requests(served: Service) -> None:
    full = served.get("/rss.xml")
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    quiet = served.get("/rss.xml", If_None_Match=etag)
    assert (quiet.status, quiet.body) == (304, b"")
    assert {k: quiet.headers[k] for k in ("etag", "cache-control", "vary")} == {
        "etag": etag,
        "cache-control": "max-age=1",
        "vary": "Accept-Encoding",
    }
    assert served.get("/rss.xml", If_None_Match='""').status == 200
    assert served.get("/rss.xml", If_Modified_Since=modified).status == 304
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    stale = served.get("/rss.xml", If_None_Match='"other"', If_Modified_Since=modified)
    assert stale.status == 200
    assert stale.body == full.body


def test_head_sends_the_headers_of_get_and_no_body(served: Service) -> None:
    get = served.get("/feed.json")
    head = served.get("/feed.json", method="HEAD")
    assert head.status == 200
    keys = ("content-type", "content-length", "etag", "last-modified", "cache-control", "vary")
    assert {k: head.headers[k] for k in keys} == {k: get.headers[k] for k in keys}
    assert int(head.headers["content-length"]) == len(get.body) > 0
    # On the wire: nothing follows the headers.
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
        s.sendall(b"HEAD /feed.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 200 ")
    assert raw.endswith(b"\r\n\r\n") and raw.count(b"\r\n\r\n") == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405(served: Service, method: str) -> None:
    response = served.get("/rss.xml", method=method)
    assert response.status == 405
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/../config.yaml",
        "/tags/../../config.yaml",
        "/%2e%2e/config.yaml",
        "/..%2fconfig.yaml",
        "/tags/alpha/%2e%2e/%2e%2e/%2e%2e/config.yaml",
        "/../.feeds/state.json",
        "/..\\config.yaml",
        "//etc/passwd",
    ],
)
def test_path_traversal_is_404(served: Service, path: str, tmp_path: Path) -> None:
    body = tmp_path / "body"
    done = subprocess.run(
        [require("curl"), "-s", "--path-as-is", "-o", str(body), "-w", "%{http_code}",
         served.url(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert done.stdout == "404"
    assert body.read_bytes() == b"404 not found\n"


# -- the service's life ----------------------------------------------------------------------------


def test_a_tag_whose_last_post_is_removed_answers_410(site: Site, serve: Serve) -> None:
    write_posts(site)
    solo = post(site, "solo", "Solo", day(5), author="Sol Writer", tags="[solo]")
    service = serve()
    paths = [f"/{folder}{feed}" for folder in ("tags/solo", "authors/sol-writer")
             for feed in FEEDS.values()]  # fmt: skip
    assert [service.get(p).status for p in paths] == [200] * 6
    solo.unlink()
    service.wait_for_run_after(now())
    assert [service.get(p).status for p in paths] == [410] * 6
    assert service.get("/tags/never-was/rss.xml").status == 404
    assert service.get("/tags/alpha/rss.xml").status == 200
    assert b"Solo" not in service.get("/rss.xml").body
    # Restarted (after a change to config.yaml, say), it still says so.
    assert service.stop(signal.SIGTERM) == 0
    again = serve()
    assert [again.get(p).status for p in paths] == [410] * 6
    assert again.get("/tags/never-was/rss.xml").status == 404


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_service_with_status_0(
    site: Site, serve: Serve, signum: signal.Signals
) -> None:
    write_posts(site)
    service = serve()
    status = service.stop(signum)
    log = service.log_text()
    assert status == 0, f"exit status {status} after {signum.name}:\n{log}"
    assert "Traceback" not in log


def test_a_stopped_service_leaves_no_temporary_folder(
    site: Site, serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its workers start from a fork server, whose socket multiprocessing keeps in a
    folder of its own under TMPDIR: one was left behind at every stop."""
    write_posts(site)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    service = serve()
    assert list(temporary.iterdir()), "the service started no fork server: nothing is tested"
    assert service.stop(signal.SIGINT) == 0, service.log_text()
    assert list(temporary.iterdir()) == []


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler installed for ``signum`` (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    (mask,) = re.findall(r"^SigCgt:\s*([0-9a-f]+)$", status, re.M)
    return bool(int(mask, 16) >> (signum - 1) & 1)


def test_a_signal_during_start_up_exits_0(site: Site, serve: Serve) -> None:
    write_posts(site)
    # Loading (and compressing) a big output folder keeps the service in its start-up.
    site.public.mkdir()
    for n in range(32):
        (site.public / f"big-{n}.bin").write_bytes(os.urandom(1 << 20))
    service = serve(up=None)

    def handling_sigterm() -> bool:
        assert service.process.poll() is None, service.log_text()
        return catches(service.process.pid, signal.SIGTERM)

    wait_for(handling_sigterm, "feeds serve to install its SIGTERM handler", timeout=20)
    status = service.stop()
    log = service.log_text()
    assert "Uvicorn running" not in log, "the signal came too late to test the start-up"
    assert status == 0, f"exit status {status} after SIGTERM during start-up:\n{log}"
    assert "Traceback" not in log


@contextlib.contextmanager
def holding_lock(state_dir: Path) -> Iterator[None]:
    """Hold the publisher's run lock, as a `feeds build` from cron would."""
    with (state_dir / "lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGTERM,), (signal.SIGTERM, signal.SIGINT)],
    ids=["SIGTERM", "SIGTERM-then-SIGINT"],
)
def test_a_signal_during_a_run_keeps_the_previous_feeds_and_exits_0(
    site: Site, serve: Serve, signals: tuple[signal.Signals, ...]
) -> None:
    write_posts(site)
    built = subprocess.run(
        [sys.executable, "-m", "feeds", "build", "-q", "-c", str(site.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    previous = site.outputs()
    post(site, "fourth", "Fourth post", day(4), author="Ann Writer", tags="[alpha]")
    with holding_lock(site.root / ".feeds"):
        # The service's first run starts at once and waits for the lock: it is in progress.
        # Until then /healthz tells of the run whose feeds it serves: the build above.
        service = serve(up=(200,))
        health = service.health()
        assert (health["result"], health["by"], health["posts"]) == (
            "published",
            "an earlier run",
            3,
        )
        assert service.get("/rss.xml").body == previous["rss.xml"]
        for signum in signals:  # a second one is an impatient user's second Ctrl-C
            service.send(signum)
            time.sleep(0.3)
            assert service.process.poll() is None, (
                f"feeds serve exited {service.process.returncode} on {signum.name} while a "
                f"run was in progress, instead of letting it publish:\n{service.log_text()}"
            )
        assert site.outputs() == previous
    status = service.process.wait(timeout=15)
    log = service.log_text()
    assert status == 0, f"exit status {status}:\n{log}"
    assert "Traceback" not in log
    assert log.index("Shutting down") < log.index("run published"), log
    # The run that was in progress published whole feeds, and nothing half-written is left.
    outputs = site.outputs()
    ids = sorted(e.id for e in [*EXPECTED, FOURTH])
    rss = ElementTree.fromstring(outputs["rss.xml"])
    assert sorted(g.text or "" for g in rss.iter("guid")) == ids
    atom = ElementTree.fromstring(outputs["atom.xml"])
    entries = atom.iter("{http://www.w3.org/2005/Atom}entry")
    assert sorted(e.findtext("{http://www.w3.org/2005/Atom}id") or "" for e in entries) == ids
    assert sorted(i["id"] for i in json.loads(outputs["feed.json"])["items"]) == ids
    assert not list(site.public.rglob(".*")), "temporary files left behind"
    with (site.root / ".feeds" / "lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again


# -- podcasts: enclosures as readers see them ---------------------------------------------------

EPISODE = b"\xff\xfb\x90\x64" + bytes(4096)


def test_readers_see_the_enclosure_measured_from_the_served_file(
    site: Site, tmp_path: Path
) -> None:
    media = site.public / "media"
    media.mkdir(parents=True)
    (media / "ep1.mp3").write_bytes(EPISODE)
    post(site, "ep1", "Episode one", day(1), enclosure="/media/ep1.mp3", duration="3723")
    podcast = "podcast:\n  category: Technology\n  explicit: false\n"
    started: list[Service] = []
    with stopped_cleanly(started):
        service = start(site, started, "1m", extra=podcast)
        href = "https://example.org/media/ep1.mp3"
        # The file the enclosure describes is served, with the length the feeds claim.
        served = service.get("/media/ep1.mp3")
        assert (served.status, served.body) == (200, EPISODE)
        assert served.headers["content-type"] == "audio/mpeg"

        with subscribed("reader", tmp_path / "reader", service.base) as client:
            assert isinstance(client, ReaderClient)
            client.update()
            for fmt in client.formats:
                (entry,) = client.reader.get_entries(feed=client.urls[fmt])
                assert [(e.href, e.type, e.length) for e in entry.enclosures] == [
                    (href, "audio/mpeg", len(EPISODE))
                ], fmt
        with subscribed("newsboat", tmp_path / "newsboat", service.base) as client:
            assert isinstance(client, NewsboatClient)
            client.poll()
            for fmt in client.formats:
                rows = client._query(fmt, "SELECT enclosure_url, enclosure_type FROM rss_item")
                assert rows == [(href, "audio/mpeg")], fmt
