"""The HTTP app: serves the output folder from memory with exact validators.

An ASGI application (run by uvicorn). Every file of the output folder is held in
memory with its gzip copy, strong ETags and Last-Modified computed once per
publish; a request is a dictionary lookup, so nothing outside the folder can be
named and no request touches the disk.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from feeds.media import MEDIA_TYPES
from feeds.websub import link_header

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Content-Type by file suffix; feed types set by hand (mimetypes gets them wrong)
CONTENT_TYPES: dict[str, str] = {
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".xsl": "text/xsl; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    # What else a site may keep beside its feeds (images its posts show, an icon).
    ".svg": "image/svg+xml",
    ".gif": "image/gif",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    # Enclosures kept in the output folder: binary, so no charset.
    **MEDIA_TYPES,
}
#: file names of the feeds, whose types are more precise than their suffix's
FEED_TYPES: dict[str, str] = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
#: bodies smaller than this are not worth compressing
GZIP_MIN_BYTES = 256
#: Cache-Control of a complete RFC 5005 archive page: its bytes never change
COMPLETE_ARCHIVE_CACHE = "public, max-age=31536000, immutable"
#: how a complete archive page announces itself in its head: the fh:archive marker
_FH_ARCHIVE = re.compile(rb"<fh:archive\s*/>|<fh:archive>\s*</fh:archive>")
#: where the head of an RSS or Atom document ends
_FIRST_ENTRY = re.compile(rb"<(?:item|entry)[\s>]")
MAX_REQUEST_LINE = 8 * 1024
MAX_HEADERS = 16 * 1024
ALLOW = b"GET, HEAD"


Headers = Sequence[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Representation:
    """One encoding of a file, with every header of its answers made once per publish."""

    body: bytes
    #: strong ETag, quoted
    etag: bytes
    #: headers of a 200 answer
    ok: Headers
    #: headers of a 304 answer: the validators, Cache-Control and Vary again
    not_modified: Headers


@dataclass(frozen=True)
class Resource:
    """One file ready to send: both encodings and their validators."""

    identity: Representation
    gzip: Representation | None
    #: the modification time, whole seconds, for If-Modified-Since
    modified: datetime
    #: for a feed with an XSL stylesheet: the same bytes as ``application/xml`` (identity,
    #: gzip), sent to browsers, which apply XSLT to XML types but show feed types as text
    browser: tuple[Representation, Representation | None] | None = None


#: the type a feed is sent to browsers with, when it names a stylesheet
BROWSER_FEED_TYPE = "application/xml; charset=utf-8"


def make_resource(
    name: str, data: bytes, modified: datetime, max_age: int, headers: Headers = ()
) -> Resource:
    """Precompute everything a response needs for a file's bytes; ``headers`` are added to
    its 200 answers (both encodings)."""
    digest = hashlib.sha256(data).hexdigest()[:32]
    feed_type = FEED_TYPES.get(name.rsplit("/", 1)[-1])
    kind = feed_type or CONTENT_TYPES.get(
        PurePosixPath(name).suffix.lower(), "application/octet-stream"
    )
    cache_control = f"max-age={max_age}"
    if feed_type is not None and complete_archive(data):
        cache_control = COMPLETE_ARCHIVE_CACHE
    modified = modified.replace(microsecond=0)
    last_modified = format_datetime(modified, usegmt=True).encode()
    styled = _has_stylesheet(name, data)
    vary = b"Accept-Encoding, Accept" if styled else b"Accept-Encoding"

    def representation(body: bytes, etag: str, kind: str, extra: Headers) -> Representation:
        common = (
            (b"etag", etag.encode()),
            (b"cache-control", cache_control.encode()),
            (b"vary", vary),
            (b"last-modified", last_modified),
        )
        ok = (
            *common,
            (b"content-type", kind.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"accept-ranges", b"bytes"),
            *headers,
            *extra,
        )
        return Representation(body, etag.encode(), ok, common)

    packed = None
    if len(data) >= GZIP_MIN_BYTES:
        # mtime=0: the same bytes always compress to the same bytes (and the same ETag).
        packed = gzip.compress(data, compresslevel=9, mtime=0)
        if len(packed) >= len(data):
            packed = None

    def pair(tag: str, kind: str) -> tuple[Representation, Representation | None]:
        """The identity and gzip representations with this type; ``tag`` tells their
        ETags from other types' (a strong ETag names one representation)."""
        plain = representation(data, f'"{digest}{tag}"', kind, ())
        if packed is None:
            return plain, None
        gz = ((b"content-encoding", b"gzip"),)
        return plain, representation(packed, f'"{digest}{tag}-gz"', kind, gz)

    identity, compressed = pair("", kind)
    browser = pair("-x", BROWSER_FEED_TYPE) if styled else None
    return Resource(identity, compressed, modified, browser)


def _has_stylesheet(name: str, data: bytes) -> bool:
    """True for a feed file whose prolog names an XSL stylesheet (feeds.stylesheet)."""
    return name.rsplit("/", 1)[-1] in FEED_TYPES and b"<?xml-stylesheet" in data[:512]


def complete_archive(data: bytes) -> bool:
    """True for an RSS or Atom document marked ``fh:archive`` in its head: a complete
    archive page, which feeds never changes (RFC 5005 archives are stable)."""
    end = _FIRST_ENTRY.search(data)
    return _FH_ARCHIVE.search(data, 0, end.start() if end else len(data)) is not None


def load_folder(
    folder: Path,
    max_age: int,
    previous: Mapping[str, Resource] | None = None,
    *,
    hub: str | None = None,
    base_url: str = "",
) -> dict[str, Resource]:
    """Every file under ``folder`` (hidden files excepted) as a Resource keyed by URL path.

    Files whose bytes did not change keep their previous Resource, so validators stay.
    A link that leads out of the folder is not served.
    With a WebSub ``hub``, feeds are answered with a ``Link`` header naming the hub and
    the feed's own URL, ``base_url`` followed by its path.
    """
    previous = previous or {}
    resources: dict[str, Resource] = {}
    root = folder.resolve()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or not path.is_file():
            continue
        if not path.resolve().is_relative_to(root):
            continue
        try:
            data = path.read_bytes()
            mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError:
            continue  # removed while we looked: the next publish reloads
        old = previous.get(rel)
        if old is not None and old.identity.body == data:
            resources[rel] = old
            continue
        headers: Headers = ()
        if hub is not None and rel.rsplit("/", 1)[-1] in FEED_TYPES:
            headers = ((b"link", link_header(hub, base_url + rel)),)
        resources[rel] = make_resource(rel, data, mtime, max_age, headers)
    return resources


@dataclass
class Health:
    """What /healthz reports about the last run."""

    status: int = 503
    body: bytes = b'{"result": "starting"}'


@dataclass
class FeedApp:
    """The ASGI app. ``swap`` replaces the served files in one assignment."""

    resources: dict[str, Resource] = field(default_factory=dict)
    #: paths served once and no longer made (a tag with no posts left): 410 Gone
    gone: frozenset[str] = frozenset()
    max_age: int = 900
    health: Health = field(default_factory=Health)
    #: the path of ``site.base_url`` (``/blog/``): the feeds' own URLs name it, so a
    #: request under it is answered as one without it (direct, or through a proxy that
    #: passes the path on); ``/`` when the site is at the top
    prefix: str = "/"

    def swap(self, resources: dict[str, Resource]) -> None:
        """Serve a new set of files; paths that disappear answer 410 from now on."""
        vanished = set(self.resources) - set(resources)
        self.gone = frozenset((self.gone | vanished) - set(resources))
        self.resources = resources

    def forget(self, paths: Iterable[str]) -> None:
        """Answer 410 Gone for ``paths`` that are not served (files removed before)."""
        self.gone = frozenset((self.gone | set(paths)) - set(self.resources))

    def report(self, published: bool, summary: Mapping[str, Any]) -> None:
        body = json.dumps(summary, indent=1, sort_keys=True, default=str).encode()
        self.health = Health(200 if published else 503, body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        status, headers, body = self.respond(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def respond(self, scope: Scope) -> tuple[int, Headers, bytes]:
        """Status, headers and body for one ASGI request; pure apart from reading self."""
        method = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        if len(method) + len(raw_path) + len(query) + 12 > MAX_REQUEST_LINE:
            return plain_answer(414, "request line too long")
        headers = scope["headers"]
        if sum(len(k) + len(v) + 4 for k, v in headers) > MAX_HEADERS:
            return plain_answer(431, "request headers too large")
        return self.answer(method, scope["path"], dict(headers))

    def answer(
        self, method: str, path: str, headers: Mapping[bytes, bytes]
    ) -> tuple[int, Headers, bytes]:
        """The answer to a request whose size was checked; header names in lower case."""
        if method not in ("GET", "HEAD"):
            status, hdrs, body = plain_answer(405, "method not allowed")
            return status, [*hdrs, (b"allow", ALLOW)], body
        head = method == "HEAD"
        if self.prefix != "/" and (path.startswith(self.prefix) or path + "/" == self.prefix):
            path = "/" + path[len(self.prefix) :]
        if path == "/healthz":
            hdrs = [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"content-length", str(len(self.health.body)).encode()),
            ]
            return self.health.status, hdrs, b"" if head else self.health.body
        key = "index.html" if path == "/" else path[1:]
        resource = self.resources.get(key) if path.startswith("/") else None
        if resource is None:
            return plain_answer(
                410 if key in self.gone else 404, "gone" if key in self.gone else "not found"
            )
        return self._send(resource, headers, head)

    def _send(
        self, res: Resource, headers: Mapping[bytes, bytes], head: bool
    ) -> tuple[int, Headers, bytes]:
        identity, compressed = res.identity, res.gzip
        if res.browser is not None and _wants_html(headers.get(b"accept", b"")):
            identity, compressed = res.browser
        rep = identity
        if compressed is not None and _accepts_gzip(headers.get(b"accept-encoding", b"")):
            rep = compressed
        if _not_modified(headers, rep.etag, res.modified):
            return 304, rep.not_modified, b""
        wanted = headers.get(b"range")
        if wanted is not None and _if_range(headers.get(b"if-range"), identity.etag, res.modified):
            # Bytes of the identity representation (a podcast app seeking in an episode).
            span = _byte_range(wanted, len(identity.body))
            if span == "unsatisfiable":
                status, hdrs, body = plain_answer(416, "range not satisfiable")
                whole = f"bytes */{len(identity.body)}".encode()
                return status, [*hdrs, (b"content-range", whole)], body
            if span is not None:
                return _partial(identity, *span, head)
        return 200, rep.ok, b"" if head else rep.body


def _partial(rep: Representation, start: int, end: int, head: bool) -> tuple[int, Headers, bytes]:
    """206 with bytes ``start`` to ``end`` (inclusive) of ``rep``."""
    part = rep.body[start : end + 1]
    hdrs = [(k, v) for k, v in rep.ok if k != b"content-length"]
    hdrs += [
        (b"content-length", str(len(part)).encode()),
        (b"content-range", f"bytes {start}-{end}/{len(rep.body)}".encode()),
    ]
    return 206, hdrs, b"" if head else part


def _byte_range(value: bytes, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """The first and last byte of a ``Range`` of one byte range (RFC 9110 §14.1.2), or
    "unsatisfiable"; None for anything else, which is answered whole (several ranges,
    another unit, bad syntax: a server may ignore a Range)."""
    unit, _, spec = value.partition(b"=")
    if unit.strip().lower() != b"bytes" or b"," in spec:
        return None
    first, dash, last = spec.strip().partition(b"-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # the last N bytes
        if not last.isdigit():
            return None
        n = _count(last)
        return (max(0, size - n), size - 1) if n > 0 and size > 0 else "unsatisfiable"
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = _count(first)
    if last and _count(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    end = min(_count(last), size - 1) if last else size - 1
    return start, end


def _count(digits: bytes) -> int:
    """A byte position written in ``digits``; any of more than 20 digits is past every
    file (Python refuses to read a number of over 4,300 digits from text)."""
    digits = digits.lstrip(b"0") or b"0"
    return int(digits) if len(digits) <= 20 else 10**20


def _if_range(value: bytes | None, etag: bytes, modified: datetime) -> bool:
    """Whether a Range applies: no If-Range, or one naming this very representation (its
    strong ETag, or its exact Last-Modified date)."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith((b'"', b"W/")):
        return value == etag
    return _http_date(value) == modified


def _not_modified(headers: Mapping[bytes, bytes], etag: bytes, modified: datetime) -> bool:
    """RFC 9110 §13.1.2–13.1.3: If-None-Match first; If-Modified-Since only without it."""
    inm = headers.get(b"if-none-match")
    if inm == etag:  # what a reader sends back: nothing to parse
        return True
    if inm is not None:
        return any(tag == b"*" or _weak_equal(tag, etag) for tag in _etags(inm))
    since = _http_date(headers.get(b"if-modified-since"))
    return since is not None and modified <= since  # not an HTTP-date: ignored (RFC 9110)


def _http_date(value: bytes | None) -> datetime | None:
    """An HTTP-date header value as an aware datetime; None for none, or anything else."""
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(value.decode("latin-1"))
    except (TypeError, ValueError, IndexError, OverflowError):  # year 99999999999999: overflow
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _etags(value: bytes) -> Iterable[bytes]:
    for part in value.split(b","):
        tag = part.strip()
        if tag and tag != b'""':
            yield tag


def _weak_equal(a: bytes, b: bytes) -> bool:
    return a.removeprefix(b"W/") == b.removeprefix(b"W/")


#: what a feed reader asks for when it asks for a feed
_FEED_MEDIA = frozenset({b"application/rss+xml", b"application/atom+xml", b"application/xml",
                         b"text/xml"})  # fmt: skip


@functools.lru_cache(maxsize=64)
def _wants_html(value: bytes) -> bool:
    """A browser opening a page: it prefers HTML to every feed type it names. Readers
    may name HTML too, below the feed types (SimplePie: ``text/html;q=0.7``)."""
    html = feed = 0.0
    for name, q in _weighted(value):
        if name == b"text/html":
            html = max(html, q)
        elif name in _FEED_MEDIA:
            feed = max(feed, q)
    return html > 0 and html > feed


@functools.lru_cache(maxsize=64)  # readers send a handful of distinct values
def _accepts_gzip(value: bytes) -> bool:
    for name, q in _weighted(value):
        if name in (b"gzip", b"x-gzip", b"*"):
            return q > 0
    return False


def _weighted(value: bytes) -> Iterator[tuple[bytes, float]]:
    """The names of an Accept or Accept-Encoding value, lower case, each with its q
    (1 when it has none, 0 when it cannot be read)."""
    for part in value.lower().split(b","):
        name, _, params = part.partition(b";")
        q = 1.0
        for param in params.split(b";"):
            key, _, number = param.partition(b"=")
            if key.strip() == b"q":
                try:
                    q = float(number)
                except ValueError:
                    q = 0.0
        yield name.strip(), q


def plain_answer(status: int, text: str) -> tuple[int, Headers, bytes]:
    body = f"{status} {text}\n".encode()
    return (
        status,
        [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ],
        body,
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
