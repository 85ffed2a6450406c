"""Validation by re-parsing: feed bytes in, problems out.

A pure module: it never prints and never touches the disk or the network.
Every check works on the bytes it is given, in three layers (SPEC §5):

1. **Well-formedness.** XML goes through a strict lxml parser (no recovery, no
   DTD loading, no entity substitution, no network), so XXE and entity
   expansion bombs cannot fire; a document that declares entities is an error
   and is not handed to feedparser. JSON goes through :mod:`json`, must be
   UTF-8, and duplicate keys or ``NaN``/``Infinity`` are errors (neither is
   portable JSON: readers disagree on which duplicate wins, and RFC 8259 has
   no such numbers).
2. **Re-parse.** RSS and Atom go through feedparser with sanitizing and URL
   resolution off; ``bozo`` must be false. feedparser reads the document in
   parts: its head (the document without its items or entries), and each item
   or entry alone, serialized from the strict parse and wrapped in a minimal
   document of the same format that carries what it inherits (namespace
   declarations, ``xml:base``, ``xml:lang``, the root's attributes). A post's
   entry has the same bytes in every feed that holds it, so an
   :class:`EntryMemo` kept across the feeds of a run parses each once. What
   only the whole document shows feedparser (how it decodes the bytes, and
   whether its XML parser accepts them so decoded) is checked on the whole
   document, without feedparser's slow handlers. When the posts a feed was
   built from are given, every entry's title, link, id, author names, dates
   (second precision, UTC) and summary must equal them. feedparser cannot read
   JSON Feed, so JSON is compared on the parsed JSON.
3. **Format rules.** The checks the W3C Feed Validation Service documents,
   for any RSS 2.0 or Atom 1.0 feed: which elements stand where and how
   often, their attributes, text and values (dates: RFC 822 in RSS, RFC 3339
   in Atom and JSON Feed, W3C-DTF in Dublin Core; URIs and ids; e-mail
   addresses; language tags; MIME types; numbers), duplicates, self links,
   HTML in text, and security risks in content (scripts, event handlers,
   ``javascript:`` URLs). JSON Feed 1.1 gets its own field rules. The
   WebSub hub link when one is asked for. RSS 2.0 iTunes tags podcast apps
   are strict about, and xml-stylesheet instructions. RFC 5005 archived
   feeds: ``current``, ``prev-archive`` and ``next-archive`` links at most
   once each, never to the document itself, and an ``fh:archive`` page with
   a ``current`` link and a link along the chain; when the links the feed was
   built with are given, exactly those.

Two sets of rules (``publishing`` in :func:`validate_feed`): a feed we
publish is also held to what SPEC §5 promises of it: a self link equal to
the URL it is served from, absolute http(s) URLs everywhere, one entry per
id, and canonical prefixes. Any other feed is held to its format only, as
the W3C validator holds it; where the two differ, the code differs too
(``missing-self`` or ``no-self``), so a code always has one level.
``rules`` below says which set reports a code; most are in both.

Problem codes; the level of a code never varies:

========================  =======  =======  ========================================================
code                      level    rules    meaning
========================  =======  =======  ========================================================
unknown-format            error    both     neither JSON nor XML rooted at rss/feed
wrong-format              error    both     the document is not in the format asked for
not-well-formed           error    both     the strict XML parser rejected the document
entity-declaration        error    both     a DOCTYPE declares entities
entity-reference          error    both     an entity reference is left unexpanded
doctype                   warning  both     a DOCTYPE without entity declarations
bad-encoding              error    both     JSON that is not UTF-8
not-json                  error    both     the JSON parser rejected the document
duplicate-key             error    both     a JSON object repeats a key
bad-number                error    both     NaN or Infinity in JSON
bozo                      error    both     feedparser flagged the document
entry-count               error    both     the feed holds another number of entries than built
entry-mismatch            error    both     an entry's field differs from the post it was built from
reader-mangled            warning  both     feedparser misreads a field (text it takes for mojibake)
bad-version               error    both     RSS version attribute or JSON Feed version is wrong
old-version               warning  both     JSON Feed 1.0 (checked against the 1.1 rules)
bad-namespace             error    both     root in another namespace; publish: a prefix misbound
missing-element           error    both     a required element (or an entry's author) is absent
duplicate-element         error    both     an element that may appear once appears again
undefined-element         error    both     an RSS (no namespace) or Atom element out of its place
misplaced-element         error    both     Atom feed metadata after the first entry
unexpected-text           error    both     text in an element that holds only elements
unexpected-whitespace     error    both     space around an Atom id, date, URI or e-mail address
unexpected-attribute      error    both     an attribute in no namespace the element does not define
missing-attribute         error    both     an attribute the element requires is absent
bad-value                 error    both     a number, day, hour, form name or Base64 out of its kind
duplicate-value           error    both     skipHours or skipDays names one hour or day twice
bad-language              error    both     not a language tag (en, en-GB) where one belongs
bad-mime-type             error    both     not a MIME type (single-part in Atom) where one belongs
duplicate-semantics       warning  both     an RSS item says one thing twice (author, dc:creator)
reserved-prefix           warning  any      a well-known prefix bound to another namespace URI
bad-attribute             error    both     an attribute holds a value its element does not allow
bad-xhtml                 error    both     Atom xhtml content that is not a single xhtml div
missing-field             error    both     a required JSON Feed field is absent or empty
bad-type                  error    both     a JSON Feed field of the wrong type
unknown-field             warning  both     a JSON Feed field neither defined nor ``_``-prefixed
deprecated-field          warning  both     JSON Feed 1.0's ``author`` field
bad-date                  error    both     not RFC 822 (RSS), RFC 3339 (Atom, JSON), W3C-DTF (dc)
bad-weekday               error    both     an RFC 822 date whose weekday is not that of its date
problematic-date          warning  both     RFC 822, but in a form some readers misread
implausible-date          warning  both     a date before 1990 or more than a day after ``now``
bad-url                   error    both     not a URL where one belongs; publish: not http(s)
bad-id                    error    both     an Atom id that is not a valid URI, or a blank JSON id
bad-guid                  error    both     a permalink guid that is not an absolute http(s) URL
empty-guid                warning  any      an empty guid marked isPermaLink="false"
duplicate-id              error    both     entries share an id (any: Atom, all of ten or more)
duplicate-entry           warning  any      Atom entries share an id: versions of one entry
missing-self              error    publish  no self link (RSS/Atom) or feed_url (JSON)
no-self                   warning  any      no self link (RSS/Atom) or feed_url (JSON)
duplicate-self            error    both     more than one self link
self-mismatch             error    publish  the self link is not the URL the feed is served from
self-elsewhere            warning  any      the self link is not the URL the feed was fetched from
duplicate-alternate       error    both     two Atom alternate links with one type and hreflang
bad-email                 error    both     an RSS author… or Atom email without an e-mail address
email-format              warning  any      an RSS e-mail address not written 'address (Name)'
bad-enclosure             error    both     an enclosure or attachment without a length or type
duplicate-updated         warning  both     two Atom entries share one ``updated``
undeclared-html           warning  both     HTML markup in an Atom text construct of type text
relative-url              warning  both     a relative href/src/srcset inside content HTML
security-risk             warning  both     script, event handlers, javascript: URLs in content
missing-hub               error    both     the WebSub hub asked for is not linked (or in ``hubs``)
duplicate-link            error    both     two feed-level RFC 5005 links of one rel
archive-link              error    both     an RFC 5005 link that leads back to the document
archive-conflict          error    both     marked both ``fh:archive`` and ``fh:complete``
archive-without-current   warning  both     an ``fh:archive`` document without a ``current`` link
archive-incomplete        warning  both     an ``fh:archive`` document with no prev/next link
history-rel-in-entry      warning  both     an RFC 5005 link in an item or entry (it means nothing)
history-mismatch          error    publish  RFC 5005 links or ``fh:archive`` differ from the build
bad-itunes                error    both     an iTunes tag podcast apps refuse (explicit, duration…)
itunes-incomplete         warning  both     a podcast channel without itunes:category or explicit
bad-stylesheet            error    both     an xml-stylesheet instruction without its type or href
unreadable                error    both     (``feeds validate`` only) the file or URL cannot be read
========================  =======  =======  ========================================================

``unknown-element`` (a warning before) is retired: ``undefined-element`` (an
error) says it.
"""

from __future__ import annotations

import contextlib
import html
import io
import itertools
import json
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, cast
from urllib.parse import unquote, urljoin, urlsplit
from xml.parsers import expat
from xml.sax import SAXParseException

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import replace_doctype
from lxml import etree

from feeds.model import EMAIL, FH_NS, LANGUAGE_TAG, Level, Post, Problem
from feeds.podcast import CATEGORIES
from feeds.readings import Bozo, EntryReading, KeptReadings, Reading, document_key

__all__ = [
    "FORMATS",
    "EntryMemo",
    "detect_format",
    "format_problem",
    "id_problem",
    "validate_feed",
]

# feedparser asks xml.sax for the drv_libxml2 driver before expat on every document;
# that driver is no longer distributed, and its failed import is a tenth of the cost
# of reading a small entry. It reads with expat, its text buffered, instead.
feedparser.api.PREFERRED_XML_PARSERS = ["feeds.saxdriver"]

#: the formats :func:`validate_feed` knows
FORMATS: Final = ("rss", "atom", "json")

ATOM_NS: Final = "http://www.w3.org/2005/Atom"
XHTML_NS: Final = "http://www.w3.org/1999/xhtml"
#: Clark-notation prefix of Atom element names
_A: Final = f"{{{ATOM_NS}}}"
_ATOM_LINK: Final = f"{_A}link"
_DC_CREATOR: Final = "{http://purl.org/dc/elements/1.1/}creator"
_DC_DATE: Final = "{http://purl.org/dc/elements/1.1/}date"
_CONTENT_ENCODED: Final = "{http://purl.org/rss/1.0/modules/content/}encoded"
_ITUNES_NS: Final = "http://www.itunes.com/dtds/podcast-1.0.dtd"
#: Clark-notation prefix of iTunes element names
_IT: Final = f"{{{_ITUNES_NS}}}"
#: what the W3C validator and podcast apps accept as itunes:duration
_DURATION_RE: Final = re.compile(r"\d+(?::[0-5]\d){0,2}")

#: the namespace URI every reader expects behind a well-known prefix
CANONICAL_NAMESPACES: Final[dict[str, str]] = {
    "atom": ATOM_NS,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "fh": FH_NS,
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "media": "http://search.yahoo.com/mrss/",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
}

JSONFEED_VERSION: Final = "https://jsonfeed.org/version/1.1"
_JSONFEED_V1: Final = "https://jsonfeed.org/version/1"

# Dates before this are almost always a zero or epoch value that leaked out.
_EARLIEST_PLAUSIBLE: Final = datetime(1990, 1, 1, tzinfo=UTC)


def detect_format(data: bytes) -> str | None:
    """Return ``"json"``, ``"rss"`` or ``"atom"`` for a document that looks like one, else None.

    JSON is recognised by its first non-blank character (``{`` or ``[``); XML by the
    local name of its root element (``rss`` or ``feed``), read without parsing
    past it. Says nothing about validity.
    """
    if _looks_like_json(data):
        return "json"
    try:
        for _event, element in etree.iterparse(
            io.BytesIO(data),
            events=("start",),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        ):
            return _format_of_root(element)
    except etree.LxmlError:
        return None
    return None


def validate_feed(
    data: bytes,
    url: str | None,
    *,
    fmt: str | None = None,
    expected: Sequence[Post] | None = None,
    path: str | None = None,
    now: datetime | None = None,
    memo: EntryMemo | None = None,
    links: Mapping[str, str] | None = None,
    hub: str | None = None,
    publishing: bool | None = None,
) -> tuple[Problem, ...]:
    """Validate one feed document and return every problem found, in document order:
    those of the whole document (no line) first, then by line and column, each line's
    in the order found.

    ``url`` is where the feed is served; its self link (``feed_url`` in JSON
    Feed) must equal it. With None (a file of unknown address) the self link
    must still be there, but is not compared. ``fmt`` is ``"rss"``,
    ``"atom"``, ``"json"``, or None to detect it. ``expected``, when given,
    holds the posts the feed was built from in feed order (newest first);
    each entry must match its post. ``path`` is copied into every problem.
    ``now`` (timezone-aware; naive means UTC), when given, makes dates more
    than a day after it implausible; without it only dates before 1990 are.
    ``memo`` keeps feedparser's reading of entries for the next call: pass one
    memo to every call of a run (its feeds share entries); without it each
    call starts afresh. The problems are the same either way. ``links``, when
    given for an RSS or Atom feed, are the RFC 5005 links it was built with
    (rel → URL): the feed must carry exactly these, and be marked
    ``fh:archive`` exactly when it has a ``next-archive`` link (a complete page).
    ``hub``, when given, is a WebSub hub the feed must link to (``rel="hub"``; in
    JSON Feed, an entry of ``hubs``).
    ``publishing`` holds the feed to what ``feeds`` promises of its own feeds
    (SPEC §5) on top of the format's rules: a self link (``feed_url``) that is
    the served URL, and absolute http(s) URLs everywhere. Without it, a feed
    is held to its format's rules only, as the W3C validator holds it: a
    missing or elsewhere self link is a warning, and a URL need only be a URI
    (absolute where the format asks for one). None means publishing when
    ``expected`` is given: only our own feeds are built from posts.

    The feed is valid when no problem has level ``"error"``. Never raises
    for any bytes; raises ValueError only for an ``fmt`` not in :data:`FORMATS`.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown feed format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if publishing is None:
        publishing = expected is not None
    sink = _Sink(path, now, publishing=publishing)
    if memo is None:
        memo = EntryMemo()
    is_json = _looks_like_json(data)
    if fmt is not None and (fmt == "json") != is_json and data.strip():
        found = "JSON" if is_json else "not JSON"
        sink.error("wrong-format", f"expected a {fmt} feed, found a document that is {found}")
    elif is_json or fmt == "json":
        _validate_json(data, url, expected, sink, memo, hub)
    else:
        _validate_xml(data, url, fmt, expected, sink, memo, links, hub)
    return tuple(sorted(sink.problems, key=lambda p: (p.line or 0, p.col or 0)))


def format_problem(p: Problem) -> str:
    """Render a problem as the one line ``feeds validate`` prints: ``LEVEL code line:col message``.

    Lines and columns are 1-based; ``0`` stands for an unknown line or column
    (JSON problems, and most element-level problems, have no column). The
    message is folded onto one line.
    """
    message = " ".join(p.message.split())
    return f"{p.level} {p.code} {p.line or 0}:{p.col or 0} {message}"


# --------------------------------------------------------------------------
# Collecting problems


class _Sink:
    """The problems of one document, with the path and clock they share."""

    def __init__(self, path: str | None, now: datetime | None, *, publishing: bool) -> None:
        self.path = path
        self.now = now
        #: hold the feed to what feeds promises of its own (see validate_feed)
        self.publishing = publishing
        self.problems: list[Problem] = []
        #: the XML document, whose tags give a problem at a line its column
        self.document: bytes | None = None
        self._columns: dict[int, int | None] | None = None

    def add(
        self, level: Level, code: str, message: str, line: int | None = None, col: int | None = None
    ) -> None:
        if col is None and line is not None and self.document is not None:
            if self._columns is None:  # only documents with problems pay for this
                self._columns = _tag_columns(self.document)
            col = self._columns.get(line)
        self.problems.append(Problem(level, code, message, self.path, line, col))

    def error(
        self, code: str, message: str, line: int | None = None, col: int | None = None
    ) -> None:
        self.add("error", code, message, line, col)

    def warning(
        self, code: str, message: str, line: int | None = None, col: int | None = None
    ) -> None:
        self.add("warning", code, message, line, col)

    def plausible(self, when: datetime, what: str, line: int | None) -> None:
        """Warn when ``when`` is before 1990 or more than a day after ``now``."""
        if when < _EARLIEST_PLAUSIBLE:
            self.warning("implausible-date", f"{what} {when.isoformat()} is before 1990", line)
        elif self.now is not None and when > self.now + timedelta(days=1):
            self.warning("implausible-date", f"{what} {when.isoformat()} is in the future", line)


def _tag_columns(data: bytes) -> dict[int, int | None]:
    """The 1-based column of the one start tag on each line that has one start tag
    (None where a line has several: which one a problem means is unknown)."""
    columns: dict[int, int | None] = {}
    parser = expat.ParserCreate()

    def start(_name: str, _attributes: object) -> None:
        line = parser.CurrentLineNumber
        columns[line] = None if line in columns else parser.CurrentColumnNumber + 1

    parser.StartElementHandler = start
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    with contextlib.suppress(expat.ExpatError):  # then the columns found so far
        parser.Parse(data, True)
    return columns


def _show(value: object, limit: int = 80) -> str:
    """A short repr of a value for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------
# Dates

_MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ZONES: Final = {
    "UT": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}
# RSS 2.0's own form of RFC 822: "Tue, 02 Jan 2024 09:30:00 +0000".
_RFC822_RE: Final = re.compile(
    r"(?:(?P<dow>Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(?P<day>\d{1,2}) "
    r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?P<year>\d{4}) "
    r"(?P<hh>\d{2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))? (?P<zone>[+-]\d{4}|UT|GMT|[ECMP][SD]T|Z)"
)
# What RFC 822 also allows: any case, more space, two-digit years, military zones.
_RFC822_LAX_RE: Final = re.compile(
    r"\s*(?:(?P<dow>[a-z]{3})\s*,\s*)?(?P<day>\d{1,2})\s+(?P<mon>[a-z]{3})\s+(?P<year>\d{4}|\d{2})"
    r"\s+(?P<hh>\d{2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?\s+(?P<zone>[+-]\d{4}|[a-z]{1,3})\s*",
    flags=re.IGNORECASE,
)
_MILITARY_ZONE_RE: Final = re.compile(r"[A-IK-Z]")


class _WrongWeekday(ValueError):
    """An RFC 822 date that is well-formed but names the wrong day of the week."""


_COMMENT_RE: Final = re.compile(r"\((?:[^()\\]|\\.)*\)")


def _without_comments(text: str) -> str:
    """``text`` with its RFC 822 comments (parenthesized, nested, with \\-escapes) made spaces."""
    while "(" in text:
        stripped = _COMMENT_RE.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return text


def _parse_rfc822(text: str) -> tuple[datetime, bool]:
    """Parse an RFC 822 date-time; return it and whether its form is unusual.

    The usual form is RSS 2.0's (``Tue, 02 Jan 2024 09:30:00 +0000``);
    lowercase names, extra space, two-digit years and military zones are
    RFC 822 too, but unusual. Raises _WrongWeekday for a wrong day name and
    ValueError for anything that is not RFC 822.
    """
    m = _RFC822_RE.fullmatch(text)
    unusual = m is None
    if m is None:
        m = _RFC822_LAX_RE.fullmatch(_without_comments(text))
    if m is None:
        raise ValueError("not an RFC 822 date")
    dow, month, zone = (m["dow"] or "").title(), m["mon"].title(), m["zone"].upper()
    if month not in _MONTHS or (dow and dow not in _WEEKDAYS):
        raise ValueError("not an RFC 822 date")
    if zone[0] in "+-":
        hours, minutes = int(zone[1:3]), int(zone[3:])
        if hours > 23 or minutes > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
    elif zone in _ZONES:
        offset = timedelta(hours=_ZONES[zone])
    elif _MILITARY_ZONE_RE.fullmatch(zone):
        offset = timedelta(0)  # RFC 2822 4.3: their meaning was botched; read as -0000
    else:
        raise ValueError(f"unknown time zone {zone}")
    year = int(m["year"])
    if len(m["year"]) == 2:  # RFC 2822 4.3
        year += 2000 if year < 50 else 1900
    seconds = int(m["ss"] or 0)
    if seconds > 60:
        raise ValueError("seconds out of range")
    when = datetime(
        year,
        _MONTHS[month],
        int(m["day"]),
        int(m["hh"]),
        int(m["mm"]),
        min(seconds, 59),  # a leap second is a valid time
        tzinfo=timezone(offset),
    )
    if dow and dow != _WEEKDAYS[when.weekday()]:
        raise _WrongWeekday(f"{when.date().isoformat()} is a {_WEEKDAYS[when.weekday()]}")
    return when, unusual


_RFC3339_RE: Final = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<hh>\d{2}):(?P<mm>\d{2}):(?P<ss>\d{2})"
    r"(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:\d{2})"
)


def _parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time with a time zone, uppercase T and Z (RFC 4287 §3.3).

    Raises ValueError when it is not one.
    """
    m = _RFC3339_RE.fullmatch(text)
    if m is None:
        raise ValueError("not an RFC 3339 date-time")
    tz = m["tz"]
    if tz == "Z":
        zone = UTC
    else:
        hours, minutes = int(tz[1:3]), int(tz[4:])
        if hours > 23 or minutes > 59:
            raise ValueError("offset out of range")
        zone = timezone(timedelta(hours=hours, minutes=minutes) * (-1 if tz[0] == "-" else 1))
    seconds = int(m["ss"])
    if seconds > 60:
        raise ValueError("seconds out of range")
    micro = int((m["frac"] or "").ljust(6, "0")[:6])
    return datetime(
        int(m["y"]),
        int(m["mo"]),
        int(m["d"]),
        int(m["hh"]),
        int(m["mm"]),
        min(seconds, 59),  # a leap second is a valid time
        micro,
        tzinfo=zone,
    )


def _utc_second(when: datetime) -> datetime:
    """``when`` in UTC, cut to the second: the precision feeds carry."""
    return when.astimezone(UTC).replace(microsecond=0)


# --------------------------------------------------------------------------
# URLs

# RFC 3987's characters, as those outside them (a class of the wide range inside is
# slow to compile): controls, space, "<>\\^`{|} and C1 controls.
_URI_CHARS_RE: Final = re.compile(r'[^\x00-\x20"<>\\^`{|}\x7f-\x9f]*')
_BAD_PERCENT_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_TAG_URI_RE: Final = re.compile(
    r"tag:[^,/?#\s]+,\d{4}(?:-\d{2}(?:-\d{2})?)?:[^\s]*", flags=re.IGNORECASE
)
_UUID_URN_RE: Final = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", flags=re.IGNORECASE
)


def _uri_chars_problem(value: str) -> str | None:
    """Why ``value`` cannot be a URI (IRI) as written, or None."""
    if not _URI_CHARS_RE.fullmatch(value):
        return "contains characters a URL cannot hold"
    if _BAD_PERCENT_RE.search(value):
        return "has a % not followed by two hex digits"
    return None


def _http_url_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute http(s) URL, or None when it is one."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "is not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "is not an absolute http(s) URL"
    return _server_url_problem(value)


def _server_url_problem(value: str) -> str | None:
    """Why ``value``, a URL of a scheme that names a server, names none, or None."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "is not a URL"
    if not parts.netloc:
        return f"names no server after {parts.scheme}://"
    return _uri_chars_problem(value)


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an entry id (an absolute URI), or None: the rule readers
    check front matter ``id`` against before a feed is built."""
    return _uri_problem(value)


def _uri_problem(value: str) -> str | None:
    """Why ``value`` is not a valid absolute URI (Atom id), or None."""
    if not _SCHEME_RE.match(value):
        return "is not an absolute URI"
    scheme = value.split(":", 1)[0].lower()
    if scheme in ("http", "https", "ftp"):
        return _http_url_problem(value) if scheme != "ftp" else _server_url_problem(value)
    if scheme == "tag" and not _TAG_URI_RE.fullmatch(value):
        return "is not a tag: URI (tag:authority,date:specific, RFC 4151)"
    if value.lower().startswith("urn:uuid:") and not _UUID_URN_RE.fullmatch(value):
        return "is not a urn:uuid: URI"
    return _uri_chars_problem(value)


# --------------------------------------------------------------------------
# HTML inside feeds


def _words(text: str) -> frozenset[str]:
    """The set of space-separated words in ``text``."""
    return frozenset(text.split())


# Elements the W3C validator does not accept in feed content.
_RISKY_ELEMENTS: Final = _words(
    "script style iframe frame frameset object embed applet base link meta noembed"
)
#: attributes whose URLs must be absolute in RSS and JSON Feed content
_RELATIVE_ATTRIBUTES: Final = frozenset(("href", "src", "srcset"))
#: attributes whose URL a browser may follow or run (by local name, lowercase)
_URL_ATTRIBUTES: Final = _RELATIVE_ATTRIBUTES | _words(
    "action formaction data poster background cite"
)
_DANGEROUS_SCHEMES: Final = ("javascript:", "vbscript:", "data:text/html")
# Browsers drop these before reading a scheme ("java\tscript:").
_SCHEME_NOISE_RE: Final = re.compile(r"[\x00-\x20]+")
_DANGEROUS_STYLE_RE: Final = re.compile(r"expression\s*\(|javascript:|url\s*\(", re.IGNORECASE)

#: the risky elements as lxml names them: from the HTML parser, or XHTML in Atom
_RISKY_TAGS: Final = (
    *sorted(_RISKY_ELEMENTS),
    *(f"{{{XHTML_NS}}}{n}" for n in sorted(_RISKY_ELEMENTS)),
)
# Every attribute below an element: XPath gathers them in C, faster than walking in Python.
_ATTRIBUTES_XPATH: Final = etree.XPath("descendant-or-self::*/@*")


# Markup in a text construct: a closing tag of a common HTML element.
_END_TAG_RE: Final = re.compile(r"</([A-Za-z][A-Za-z0-9]*)\s*>")
_COMMON_HTML: Final = _words(
    "a abbr b blockquote br cite code dd del div dl dt em figcaption figure h1 h2 h3 h4 h5 h6 "
    "i img ins kbd li ol p pre q s small span strong sub sup table tbody td th thead tr u ul"
)


#: what an HTML scan finds: the risks, and the relative URLs (each once, in order)
_Findings = tuple[tuple[str, ...], tuple[str, ...]]
#: what scanning HTML strings found, by the string and whether relative URLs counted
Scans = dict[tuple[str, bool], _Findings]


class _HtmlChecker:
    """Scans HTML strings from one feed for security risks and relative URLs.

    ``scans`` keeps what scanning a string found, for strings seen again: a post's
    summary and content are in every feed that holds it.
    """

    def __init__(self, sink: _Sink, scans: Scans) -> None:
        self.sink = sink
        self.scans = scans
        self.parser = etree.HTMLParser(
            no_network=True, remove_comments=True, remove_pis=True, recover=True
        )

    def check_text(self, text: str | None, what: str, line: int | None, *, relative: bool) -> None:
        """Parse ``text`` as HTML and report what is unsafe (and relative, if asked)."""
        if not text or "<" not in text:
            return
        found = self.scans.get((text, relative))
        if found is None:
            try:
                root = etree.fromstring(text, self.parser)
            except (ValueError, etree.LxmlError):
                root = None
            found = ((), ()) if root is None else _scan_html(root, relative=relative)
            self.scans[text, relative] = found
        self.report(found, what, line)

    def check_tree(
        self, root: etree._Element, what: str, line: int | None, *, relative: bool
    ) -> None:
        """Report risky elements, event handlers, styles and URLs in ``root`` and below."""
        self.report(_scan_html(root, relative=relative), what, line)

    def report(self, found: _Findings, what: str, line: int | None) -> None:
        """Warn of what a scan found in ``what``, at ``line``."""
        risks, relatives = found
        if risks:
            self.sink.warning("security-risk", f"{what} holds {', '.join(risks)}", line)
        if relatives:
            shown = ", ".join(_show(r, 40) for r in relatives)
            self.sink.warning("relative-url", f"{what} has relative URLs: {shown}", line)


def _scan_html(root: etree._Element, *, relative: bool) -> _Findings:
    """Risky elements, event handlers, styles and URLs in ``root`` and below; relative
    URLs too when ``relative``."""
    risks = [f"<{etree.QName(e).localname}>" for e in root.iter(*_RISKY_TAGS)]
    relatives: list[str] = []
    for value in cast("list[str]", _ATTRIBUTES_XPATH(root)):
        # lxml's XPath strings know the attribute they came from.
        attr = cast(Any, value).attrname.rpartition("}")[2].lower()
        if attr.startswith("on") and value.strip():
            risks.append(f"{attr}=")
        elif attr == "style" and _DANGEROUS_STYLE_RE.search(value):
            risks.append("style=")
        elif attr in _URL_ATTRIBUTES:
            for ref in _srcset_urls(value) if attr == "srcset" else [value.strip()]:
                if ref.startswith(("https://", "http://")):
                    continue  # the usual case, and nothing to report
                if _SCHEME_NOISE_RE.sub("", ref).lower().startswith(_DANGEROUS_SCHEMES):
                    risks.append(f"{attr}={ref[:40]!r}")
                elif relative and attr in _RELATIVE_ATTRIBUTES and not _SCHEME_RE.match(ref):
                    relatives.append(ref)
    return tuple(dict.fromkeys(risks)), tuple(dict.fromkeys(relatives))


def _srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset attribute."""
    return [c.split()[0] for c in value.split(",") if c.split()]


def _plain_text(text: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    if "<" in text or "&" in text:
        try:
            root = etree.fromstring(text, etree.HTMLParser(no_network=True))
        except (ValueError, etree.LxmlError):
            root = None
        text = (
            "".join(cast("Iterator[str]", root.itertext()))
            if root is not None
            else html.unescape(text)
        )
    return _collapse(text)


# --------------------------------------------------------------------------
# Comparing entries with the posts they were built from


#: every field an entry is compared on; formats carry a subset
_ENTRY_FIELDS: Final = ("title", "link", "id", "authors", "published", "updated", "summary")


@dataclass(frozen=True)
class _Seen:
    """What a reader sees of one entry, whatever the format."""

    line: int | None
    #: the fields this entry carries, of ``_ENTRY_FIELDS``
    fields: tuple[str, ...]
    #: its values (authors None when it names none and inherits none)
    read: EntryReading


@dataclass(frozen=True)
class _SummaryForm:
    """How a format carries a summary, and when two summaries count as equal."""

    #: the post's (HTML) summary as the format writes it
    written: Callable[[str], str]
    #: what must be equal for two written summaries to match
    key: Callable[[str], str]


def _compare_entries(
    expected: Sequence[Post], seen: Sequence[_Seen], form: _SummaryForm, sink: _Sink
) -> None:
    """Report every field of an entry that differs from the post it was built from.

    Entries and posts pair in order. A post without authors is not compared
    on authors (the writer may name the feed's author instead). A count
    mismatch is one problem, and entries are not compared then: every
    pairing would be off.
    """
    if len(seen) != len(expected):
        sink.error("entry-count", f"expected {len(expected)} entries, found {len(seen)}")
        return
    for number, (post, one) in enumerate(zip(expected, seen, strict=True), 1):
        entry = one.read
        summary = form.written(post.summary)
        pairs: dict[str, tuple[object, object]] = {
            "title": (post.title.strip(), entry.title.strip() if entry.title else entry.title),
            "link": (post.url, entry.link),
            "id": (post.id, entry.id),
            "authors": (tuple(a.name.strip() for a in post.authors), entry.authors),
            "published": (_utc_second(post.published), entry.published),
            "updated": (_utc_second(post.updated), entry.updated),
            "summary": (summary, entry.summary or ""),
        }
        for field in one.fields:
            if field == "authors" and not post.authors:
                continue
            wanted, found = pairs[field]
            if field == "summary":
                same = form.key(summary) == form.key(entry.summary or "")
            else:
                same = wanted == found
            if same:
                continue
            if _as_feedparser_reads(wanted) == found:
                sink.warning(
                    "reader-mangled",
                    f"entry {number} {field}: feedparser-based readers show "
                    f"{_show(_plain(found))} for {_show(_plain(wanted))}",
                    one.line,
                )
                continue
            sink.error(
                "entry-mismatch",
                f"entry {number} {field}: expected {_show(_plain(wanted))}, "
                f"found {_show(_plain(found))}",
                one.line,
            )


def _as_feedparser_reads(value: object) -> object:
    """``value`` as feedparser hands it back: it takes text that would be valid UTF-8
    if its characters were Latin-1 bytes for double-encoded, and decodes it again
    ("Ã©" becomes "é"). The feed is right; such a reader is not."""
    if isinstance(value, tuple):
        return tuple(_as_feedparser_reads(item) for item in value)
    if isinstance(value, str):
        try:
            return value.encode("iso-8859-1").decode("utf-8")
        except UnicodeError:
            return value
    return value


def _plain(value: object) -> object:
    """Dates as ISO strings for messages; anything else as it is."""
    return value.isoformat() if isinstance(value, datetime) else value


def _collapse(text: str) -> str:
    """Plain text with runs of whitespace made one space."""
    return " ".join(text.split())


#: RSS and Atom carry the HTML; feedparser hands it back without surrounding whitespace.
_HTML_SUMMARY: Final = _SummaryForm(written=str.strip, key=str.strip)
#: JSON Feed carries plain text; where blocks meet, writers may or may not put a space.
_TEXT_SUMMARY: Final = _SummaryForm(written=_plain_text, key=lambda text: "".join(text.split()))


# --------------------------------------------------------------------------
# XML: RSS and Atom


def _looks_like_json(data: bytes) -> bool:
    """True when the first non-blank character (after a UTF-8 BOM) opens a JSON object or array."""
    head = data[:64].removeprefix(b"\xef\xbb\xbf").lstrip()
    return head[:1] in (b"{", b"[")


def _format_of_root(root: etree._Element) -> str | None:
    """``"rss"`` or ``"atom"`` from the root element's local name, else None."""
    if not isinstance(root.tag, str):
        return None
    name = etree.QName(root).localname
    return {"rss": "rss", "feed": "atom"}.get(name)


def _validate_xml(
    data: bytes,
    url: str | None,
    fmt: str | None,
    expected: Sequence[Post] | None,
    sink: _Sink,
    memo: EntryMemo,
    links: Mapping[str, str] | None = None,
    hub: str | None = None,
) -> None:
    """Layers 1 to 3 for an XML document."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        line, col = e.position
        sink.error("not-well-formed", e.msg or "not well-formed XML", line or None, col or None)
        return
    found = _format_of_root(root)
    if found is None:
        name = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        sink.error(
            "unknown-format",
            f"root element <{name}> is neither RSS <rss> nor Atom <feed>",
            _line(root),
        )
        return
    if fmt is not None and found != fmt:
        sink.error("wrong-format", f"expected a {fmt} feed, found {found}", _line(root))
        return

    if not _check_doctype(root, data, sink):
        return  # never hand entity declarations to a parser that expands them
    _check_stylesheets(data, sink)
    sink.document = data  # no entities to expand: expat may read it for columns
    _check_tree(root, sink)
    _check_extensions(root, sink)
    elements = _entry_elements(root, found)
    feed_authors, entries, documents = _reparse(data, root, elements, found, memo, sink)
    shapes = _CleanShapes(documents, memo.shaped)
    html_checker = _HtmlChecker(sink, memo.scans)
    rules = _RightItems(documents, memo, sink)
    if found == "rss":
        _check_rss(root, elements, url, sink, html_checker, shapes, rules)
        head = root.find("channel")
    else:
        _check_atom(root, elements, url, sink, html_checker, shapes, rules)
        head = root if etree.QName(root).namespace == ATOM_NS else None
    if head is not None:
        link_tag = _ATOM_LINK if found == "rss" else f"{_A}link"
        _check_history(head, elements, link_tag, url, links, sink)
    if hub is not None:
        feed = root.find("channel") if found == "rss" else root
        found_links = [] if feed is None else feed.findall(_ATOM_LINK)
        hubs = [_resolved(a, a.get("href", "")) for a in found_links if a.get("rel") == "hub"]
        _check_hub(hubs, hub, "<channel>" if found == "rss" else "<feed>", sink)
    if expected is not None:
        seen = _seen_from_feedparser(entries, feed_authors, found)
        _compare_entries(expected, seen, _HTML_SUMMARY, sink)


def _check_doctype(root: etree._Element, data: bytes, sink: _Sink) -> bool:
    """Report a DOCTYPE; False when it declares entities (then nothing else may parse it)."""
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is None:
        return True
    # lxml gives no line for the DOCTYPE; find it in ASCII-compatible encodings.
    at = data.find(b"<!DOCTYPE")
    line = data.count(b"\n", 0, at) + 1 if at >= 0 else None
    # lxml-stubs do not know DTD.iterentities().
    names = [e.name for e in cast(Any, dtd).iterentities() if e.name]
    if names:
        sink.error(
            "entity-declaration",
            f"the DOCTYPE declares entities ({', '.join(names[:5])}); feeds must not",
            line,
        )
        return False
    sink.warning("doctype", "feeds need no DOCTYPE; readers ignore or refuse it", line)
    return True


def _check_stylesheets(data: bytes, sink: _Sink) -> None:
    """Each xml-stylesheet instruction before the root element (where browsers look for
    one, to show a feed as a page) names its ``type`` and ``href``."""
    if b"<?xml-stylesheet" not in data:
        return
    # The strict parse dropped instructions: read the prolog again, up to the root's start.
    events = etree.iterparse(
        io.BytesIO(data),
        events=("pi", "start"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    for event, node in events:
        if event == "start":
            return
        pi = cast(etree._ProcessingInstruction, node)
        if pi.target != "xml-stylesheet":
            continue
        for name in ("type", "href"):
            if not (pi.get(name) or "").strip():
                sink.error(
                    "bad-stylesheet", f"an xml-stylesheet instruction without {name}", _line(pi)
                )


_DC: Final = CANONICAL_NAMESPACES["dc"]
_DCTERMS: Final = CANONICAL_NAMESPACES["dcterms"]
_SLASH: Final = CANONICAL_NAMESPACES["slash"]
_TRACKBACK: Final = "http://madskills.com/public/xml/rss/module/trackback/"
_GEO: Final = "http://www.w3.org/2003/01/geo/wgs84_pos#"
#: the kind of value of well-known extension elements, by Clark name
_EXTENSION_VALUES: Final[dict[str, str]] = {
    f"{{{_DC}}}date": "w3cdtf",
    f"{{{_DC}}}language": "language",
    **{f"{{{_DCTERMS}}}{n}": "w3cdtf" for n in ("created", "issued", "modified", "date")},
    "{http://backend.userland.com/creativeCommonsRssModule}license": "uri",
    f"{{{_TRACKBACK}}}ping": "uri",
    f"{{{_TRACKBACK}}}about": "uri",
    f"{{{_GEO}}}lat": "latitude",
    f"{{{_GEO}}}long": "longitude",
    "{http://geourl.org/rss/module/}latitude": "latitude",
    "{http://geourl.org/rss/module/}longitude": "longitude",
    "{http://postneo.com/icbm}latitude": "latitude",
    "{http://postneo.com/icbm}longitude": "longitude",
    f"{{{_SLASH}}}comments": "count",
    f"{{{_SLASH}}}hit_parade": "counts",
}
# W3C-DTF (a profile of ISO 8601): a year, a month, a day, or a time with a zone.
_W3CDTF_RE: Final = re.compile(
    r"\d{4}(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(?:Z|[+-](\d{2}):(\d{2})))?)?)?"
)
_NUMBER_RE: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def _check_extensions(root: etree._Element, sink: _Sink) -> None:
    """The values of well-known extension elements: Dublin Core dates and languages,
    licence and trackback URIs, coordinates, Slashdot counts."""
    for element in root.iter(*_EXTENSION_VALUES):
        kind = _EXTENSION_VALUES[element.tag]
        text = _text(element)
        what = f"<{element.prefix}:{_local(element.tag)}>" if element.prefix else element.tag
        line = _line(element)
        if kind == "w3cdtf":
            if not _w3cdtf_ok(text):
                sink.error("bad-date", f"{what} {_show(text)} is not a W3C-DTF date", line)
        elif kind == "language":
            _check_language(text, what, line, sink)
        elif kind == "uri":
            _check_url(text, what, line, sink)
        elif kind in ("latitude", "longitude"):
            limit = 90 if kind == "latitude" else 180
            if not _NUMBER_RE.fullmatch(text) or abs(float(text)) > limit:
                sink.error("bad-value", f"{what} {_show(text)} is not a {kind}", line)
        elif not all(
            n.strip().isdigit() for n in (text.split(",") if kind == "counts" else [text])
        ):
            sink.error("bad-value", f"{what} {_show(text)} is not a count", line)


def _w3cdtf_ok(text: str) -> bool:
    """True for a W3C-DTF date whose month, day, time and zone are in range."""
    m = _W3CDTF_RE.fullmatch(text)
    if m is None:
        return False
    month, day, hh, mm, ss, zh, zm = (int(g) if g else 0 for g in m.groups())
    return (
        (not m[1] or 1 <= month <= 12)
        and (not m[2] or 1 <= day <= 31)
        and hh < 24
        and mm < 60
        and ss <= 60
        and zh < 24
        and zm < 60
    )


def _check_tree(root: etree._Element, sink: _Sink) -> None:
    """Walk every node once: canonical namespace URIs, unexpanded entity references."""
    reported: set[str] = set()
    for node in root.iter():
        if isinstance(node, etree._Entity):
            name = node.name or "?"
            if f"&{name};" not in reported:
                reported.add(f"&{name};")
                sink.error(
                    "entity-reference",
                    f"&{name}; is not a predefined entity and is left unexpanded",
                    _line(node),
                )
            continue
        if not isinstance(node.tag, str):
            continue
        prefix = node.prefix
        if prefix is None or prefix not in CANONICAL_NAMESPACES or prefix in reported:
            continue
        namespace = etree.QName(node).namespace
        if namespace != CANONICAL_NAMESPACES[prefix]:
            reported.add(prefix)
            message = (
                f"prefix {prefix}: is bound to {_show(namespace)}, "
                f"not {CANONICAL_NAMESPACES[prefix]}"
            )
            # XML lets any prefix stand for any namespace; only readers that go by
            # prefix misread it, and our own feeds must not lean on them.
            if sink.publishing:
                sink.error("bad-namespace", message, _line(node))
            else:
                sink.warning(
                    "reserved-prefix",
                    message + "; readers that go by prefix misread it",
                    _line(node),
                )


def _reparse(
    data: bytes,
    root: etree._Element,
    elements: Sequence[etree._Element],
    fmt: str,
    memo: EntryMemo,
    sink: _Sink,
) -> tuple[
    tuple[str, ...] | None,
    list[tuple[etree._Element | None, EntryReading]],
    dict[etree._Element, bytes],
]:
    """feedparser's reading of the document, in parts; reports ``bozo``.

    Returns the feed's author names; every entry feedparser found, each with
    the element it was read from: one of ``elements`` (the items or entries),
    or None for one it found in the head, where the checks see none; and the
    document each element was read as. A
    document feedparser flags as a whole has that one bozo problem; otherwise
    the head and each entry may have one.
    """
    whole = _whole_document_bozo(data)
    if whole is not None:
        sink.error("bozo", f"feedparser flags the feed: {whole.detail}", whole.line, whole.col)
    head, line = _read_head(root, elements, memo)
    if head.bozo is not None and whole is None:
        sink.error("bozo", f"feedparser flags the feed: {head.bozo.detail}", line)

    label = "item" if fmt == "rss" else "entry"
    entries: list[tuple[etree._Element | None, EntryReading]] = []
    wrappers: dict[etree._Element, tuple[bytes, bytes, int]] = {}
    documents: dict[etree._Element, bytes] = {}
    for number, element in enumerate(elements, 1):
        parent = _parent(element)
        if parent not in wrappers:
            wrappers[parent] = _wrapper(parent)
        start, end, depth = wrappers[parent]
        document = start + etree.tostring(element, encoding="utf-8", with_tail=False) + end
        documents[element] = document
        parsed = memo.read(document)
        if parsed.bozo is not None and whole is None:
            at = _line(element)
            if parsed.bozo.line is not None:
                originals = [None] * depth + list(element.iter("*"))
                at = _line_in_original(document, parsed.bozo.line, originals) or at
            sink.error("bozo", f"feedparser flags {label} {number}: {parsed.bozo.detail}", at)
        entries += [(element, entry) for entry in parsed.entries]
    entries += [(None, entry) for entry in head.entries]
    return head.authors, entries, documents


def _entry_elements(root: etree._Element, fmt: str) -> list[etree._Element]:
    """The items (RSS: of the first <channel>) or entries (Atom) that the checks
    look at and the posts pair with, in document order."""
    if fmt == "rss":
        channel = root.find("channel")
        return [] if channel is None else channel.findall("item")
    if etree.QName(root).namespace != ATOM_NS:
        return []
    return root.findall(f"{_A}entry")


def _whole_document_bozo(data: bytes) -> Bozo | None:
    """What feedparser flags reading ``data`` whole, up to its own handlers: how it
    decodes the bytes, and whether its XML parser takes them so decoded.

    The parts feedparser reads are serialized from lxml's tree: they cannot show a
    document that feedparser decodes otherwise than lxml did. expat runs here as
    feedparser's SAX driver sets it up, but with no handler to call, so it costs
    little; feedparser's handlers run on the parts.
    """
    result: dict[str, Any] = {}
    converted = convert_to_utf8({}, data, result)
    if result.get("encoding"):  # else feedparser skips its XML parser
        _version, converted, _entities = replace_doctype(converted)
        parser = expat.ParserCreate(None, " ")
        # Never loads external entities; feedparser turns that feature off too.
        parser.ExternalEntityRefHandler = lambda *args: 1
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_UNLESS_STANDALONE)
        try:
            parser.Parse(converted, True)
        except expat.ExpatError as e:
            return Bozo(f"SAXParseException: {expat.ErrorString(e.code)}", e.lineno, e.offset)
    return _bozo(result["bozo_exception"]) if result.get("bozo") else None


def _read_head(
    root: etree._Element, elements: Sequence[etree._Element], memo: EntryMemo
) -> tuple[Reading, int | None]:
    """feedparser's reading of the document without ``elements``, and the line in
    the document of the bozo it flags, if any.

    The elements are taken out of the tree for the while and put back as they were.
    """
    places = [(_parent(element), element) for element in elements]
    indexes = [parent.index(element) for parent, element in places]
    for parent, element in places:
        parent.remove(element)
    try:
        document = etree.tostring(root.getroottree(), encoding="utf-8", xml_declaration=True)
        head = memo.read(document)
        line = None
        if head.bozo is not None and head.bozo.line is not None:
            line = _line_in_original(document, head.bozo.line, list(root.iter("*")))
    finally:
        for (parent, element), index in zip(places, indexes, strict=True):
            parent.insert(index, element)
    return head, line


def _parent(element: etree._Element) -> etree._Element:
    """The parent of an item or entry (never the root)."""
    parent = element.getparent()
    assert parent is not None
    return parent


def _wrapper(parent: etree._Element) -> tuple[bytes, bytes, int]:
    """The start and end of a minimal document around one child of ``parent``, and
    how many elements the start opens.

    It repeats ``parent`` and its ancestors with their attributes and namespace
    declarations and nothing else, so a wrapped entry inherits what it does in
    the whole document: namespaces, xml:base, xml:lang, the RSS version. The
    child starts on line 2, after the XML declaration.
    """
    chain = [parent, *parent.iterancestors()]
    chain.reverse()
    # lxml-stubs type nsmap keys as str; None (the default namespace) is one too.
    nsmap = cast("dict[str, str]", chain[0].nsmap)
    top = inner = etree.Element(chain[0].tag, nsmap=nsmap)
    top.attrib.update(chain[0].attrib)
    for above, original in itertools.pairwise(chain):
        declared = {p: u for p, u in original.nsmap.items() if above.nsmap.get(p) != u}
        inner = etree.SubElement(inner, original.tag, nsmap=cast("dict[str, str]", declared))
        inner.attrib.update(original.attrib)
    inner.text = "X"
    document = etree.tostring(top, encoding="utf-8", xml_declaration=True)
    # Attribute values escape ">" and "<": only the marker is ">X</".
    start, _marker, end = document.rpartition(b">X</")
    return start + b">", b"</" + end, len(chain)


def _line_in_original(
    document: bytes, line: int, originals: Sequence[etree._Element | None]
) -> int | None:
    """The line in the validated document of ``line`` in ``document``, a part of it
    serialized anew.

    ``originals`` holds, in document order, the element of the validated document
    each element of ``document`` was serialized from (None for a wrapper's own).
    Lines are counted from the nearest element that starts at or before ``line``:
    comments the strict parser dropped, and entries taken out, shift the rest.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
    )
    try:
        serialized = etree.fromstring(document, parser)
    except (ValueError, etree.LxmlError):
        return None
    if serialized is None:
        return None
    found = None
    for copy, original in zip(serialized.iter("*"), originals, strict=False):
        start, original_start = _line(copy), None if original is None else _line(original)
        if start is None or start > line:
            break
        if original_start is not None:
            found = original_start + line - start
    return found


class _CleanShapes:
    """Which items or entries the structure checks found right, by the document
    each is read as (its bytes, with what it inherits): a post's entry is the same
    in every feed that holds it, and is walked once."""

    def __init__(self, documents: dict[etree._Element, bytes], known: set[bytes]) -> None:
        self.documents = documents
        self.known = known

    def check(
        self,
        element: etree._Element,
        label: str,
        walk: Callable[[etree._Element, str, _Sink], None],
        sink: _Sink,
    ) -> None:
        """Walk ``element`` unless it is known right; remember it when it is."""
        document = self.documents.get(element)
        if document is not None and document in self.known:
            return
        before = len(sink.problems)
        walk(element, label, sink)
        if document is not None and len(sink.problems) == before:
            self.known.add(document)


#: shapes that know no document: every item or entry is walked
_EVERY_SHAPE = _CleanShapes({}, set())


class _RightItems:
    """Which items or entries the format's rules found right, by the document each is
    read as (``_CleanShapes``) and what else those rules read: whether the feed is held
    to what feeds promises (``_Sink.publishing``) and the clock (a date may be up to a
    day after ``_Sink.now``). A post's item is the same in every feed of a run that holds
    it, and its rules are applied once; what each feed checks against its other items
    or entries (unique ids, an author of its own) is still checked by each."""

    def __init__(
        self, documents: dict[etree._Element, bytes], memo: EntryMemo, sink: _Sink
    ) -> None:
        self.documents = documents
        self.memo = memo
        self.context = f"{sink.publishing} {sink.now.isoformat() if sink.now else '-'}"

    def known(self, element: etree._Element) -> bool:
        """Whether the rules found ``element`` right, in this feed or another."""
        document = self.documents.get(element)
        return document is not None and self.memo.ruled_right(document, self.context)

    def found_right(self, element: etree._Element) -> None:
        """Remember that ``element``'s rules found nothing."""
        document = self.documents.get(element)
        if document is not None:
            self.memo.rule_right(document, self.context)


class EntryMemo:
    """feedparser's reading of the documents it has read (wrapped entries and feed
    heads), by their bytes.

    The feeds of a site share entries: a post's item is the same bytes in the site
    feed and in its tags' and authors' feeds. Passing one memo to every
    :func:`validate_feed` of a run has feedparser read each of them once. It
    keeps what feedparser read, never a verdict: every feed still compares its
    entries with its own posts. HTML scans of the summaries and contents are
    kept the same way. Not for sharing between threads.

    ``earlier`` is what an earlier run kept (:mod:`feeds.readings`), or what another
    process of this run read: a document it holds a reading of is not read again, nor
    are its elements walked again when the structure checks found them right (they
    check nothing but the document's bytes). ``scans`` are HTML scans made already (by
    another memo's validators: ``EntryMemo.scans``).
    """

    def __init__(self, earlier: KeptReadings | None = None, scans: Scans | None = None) -> None:
        self._read: dict[bytes, Reading] = {}
        self._keys: dict[bytes, str] = {}
        self._earlier = earlier or KeptReadings()
        #: every reading given out, by document key: what a later run may reuse
        self.readings: dict[str, Reading] = {}
        #: how many documents feedparser itself has read
        self.parsed = 0
        #: what scanning an HTML string for risks and relative URLs found
        self.scans: Scans = dict(scans or {})
        #: the entry documents whose elements the structure checks found right
        self.shaped: set[bytes] = set()
        #: the items the format's rules found right (``_RightItems``), by name: here, or
        #: in the memo ``earlier`` came from
        self._ruled: set[str] = set()

    def __len__(self) -> int:
        """How many distinct documents have been read (here or earlier)."""
        return len(self._read)

    def read(self, document: bytes) -> Reading:
        """feedparser's reading of ``document`` (a wrapped entry or a head), read once."""
        parsed = self._read.get(document)
        if parsed is None:
            key = self._keys[document] = document_key(document)
            parsed = self._earlier.readings.get(key)
            if parsed is None:
                parsed = _feedparse(document)
                self.parsed += 1
            self._read[document] = self.readings[key] = parsed
            if key in self._earlier.shaped:
                self.shaped.add(document)
        return parsed

    def ruled_right(self, document: bytes, context: str) -> bool:
        """Whether the format's rules found the item ``document`` holds right, read with
        ``context`` (``_RightItems``), here or in the memo ``earlier`` came from."""
        key = self._keys.get(document)
        if key is None:
            return False
        name = f"{key} {context}"
        if name in self._earlier.ruled:
            self._ruled.add(name)  # given out, as readings are
        return name in self._ruled

    def rule_right(self, document: bytes, context: str) -> None:
        """Remember that the format's rules found the item ``document`` holds right,
        read with ``context``; for a document this memo has read."""
        key = self._keys.get(document)
        if key is not None:
            self._ruled.add(f"{key} {context}")

    def kept(self) -> KeptReadings:
        """What a later run may reuse: every reading given out, and which of those
        documents the structure checks found right; and, for this run's other
        processes alone, which items the format's rules found right."""
        shaped = frozenset(self._keys[d] for d in self.shaped if d in self._keys)
        return KeptReadings(dict(self.readings), shaped, frozenset(self._ruled))


def _feedparse(document: bytes) -> Reading:
    """feedparser's reading of a document, sanitizing and URL resolution off (they
    would hide defects).

    The bytes go in as a stream, so feedparser never treats them as a path or a URL.
    """
    with warnings.catch_warnings():
        # feedparser and its sgmllib shim raise DeprecationWarnings we cannot act on, and
        # reading updated_parsed where only published exists warns (feedparser issue 310).
        warnings.simplefilter("ignore")
        parsed = feedparser.parse(
            io.BytesIO(document), sanitize_html=False, resolve_relative_uris=False
        )
        atom = str(parsed.get("version", "")).startswith("atom")
        entries = tuple(
            EntryReading(
                title=_title_text(entry, atom),
                link=entry.get("link"),
                id=entry.get("id"),
                authors=_author_names(entry.get("authors")),
                published=_from_struct(entry.get("published_parsed")),
                updated=_from_struct(entry.get("updated_parsed")),
                summary=entry.get("summary"),
            )
            for entry in parsed.entries
        )
    bozo = _bozo(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    return Reading(bozo, _author_names(parsed.feed.get("authors")), entries)


def _title_text(entry: Any, atom: bool) -> str | None:
    """An entry's title as feedparser reads it; an Atom title of ``type="html"`` that
    holds no markup as the text a reader shows (escaped HTML, unescaped once)."""
    title = entry.get("title")
    detail = entry.get("title_detail") or {}
    if atom and title and detail.get("type") == "text/html" and "<" not in title:
        return html.unescape(title)
    return cast("str | None", title)


def _bozo(exc: BaseException | None) -> Bozo:
    """A bozo exception as a problem's detail and position."""
    if exc is None:
        return Bozo("no detail", None, None)
    if isinstance(exc, SAXParseException):
        # Its position goes in the problem's line and column, mapped to the document.
        return Bozo(
            f"{type(exc).__name__}: {exc.getMessage()}",
            exc.getLineNumber(),
            exc.getColumnNumber(),
        )
    return Bozo(f"{type(exc).__name__}: {exc}", None, None)


def _seen_from_feedparser(
    entries: Sequence[tuple[etree._Element | None, EntryReading]],
    feed_authors: tuple[str, ...] | None,
    fmt: str,
) -> list[_Seen]:
    """feedparser's entries as :class:`_Seen` records; lines come from lxml's elements.

    RSS has no ``updated`` of its own: it is compared only where an item
    carries ``atom:updated``. Atom entries without authors inherit the feed's.
    """
    inherited = feed_authors if fmt == "atom" else None
    seen: list[_Seen] = []
    for element, entry in entries:
        fields: tuple[str, ...] = _ENTRY_FIELDS
        if fmt == "rss" and (element is None or element.find(f"{_A}updated") is None):
            fields = tuple(f for f in _ENTRY_FIELDS if f != "updated")
        seen.append(
            _Seen(
                line=_line(element) if element is not None else None,
                fields=fields,
                read=entry if entry.authors is not None else replace(entry, authors=inherited),
            )
        )
    return seen


def _author_names(authors: Any) -> tuple[str, ...] | None:
    """Names of feedparser's author dicts (an e-mail when it took the name for one)."""
    if not authors:
        return None
    return tuple(str(a.get("name") or a.get("email") or "").strip() for a in authors)


def _from_struct(value: Any) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime."""
    if value is None:
        return None
    return datetime(*value[:6]).replace(tzinfo=UTC)


def _text(element: etree._Element) -> str:
    """All the text inside an element, stripped."""
    return "".join(cast("Iterator[str]", element.itertext())).strip()


def _line(node: etree._Element) -> int | None:
    """The line a node starts on, when the parser knows it."""
    # lxml-stubs leave sourceline untyped; it is an int or None.
    return cast("int | None", node.sourceline)


def _children(element: etree._Element) -> Iterator[etree._Element]:
    """The child elements (no comments, entities or processing instructions)."""
    return (child for child in element if isinstance(child.tag, str))


def _local(tag: str) -> str:
    """The local part of a Clark-notation tag."""
    return tag.rpartition("}")[2]


def _resolved(element: etree._Element, reference: str) -> str:
    """``reference`` resolved against the element's xml:base, if it has one."""
    base = element.base
    return urljoin(base, reference) if base else reference


def _check_url(
    value: str,
    what: str,
    line: int | None,
    sink: _Sink,
    *,
    relative: bool = False,
    iri: bool = False,
) -> None:
    """Report ``value`` unless it is a URL as the rules want it.

    Publishing: an absolute http(s) URL. Otherwise a URI reference, absolute
    unless ``relative``, with characters beyond ASCII only where ``iri`` (Atom
    takes IRIs, RSS 2.0 URIs).
    """
    if sink.publishing:
        problem = _http_url_problem(value)
    elif not iri and not value.isascii():
        problem = "holds characters beyond ASCII; RSS takes URIs, so percent-encode them"
    elif relative and not _SCHEME_RE.match(value):
        problem = _uri_chars_problem(value)
    else:
        problem = _uri_problem(value)
    if problem:
        sink.error("bad-url", f"{what} {_show(value)} {problem}", line)


def _check_hub(hubs: Sequence[str], hub: str, where: str, sink: _Sink) -> None:
    """``hub`` is among the hubs the feed names (without it, subscribers never hear of it)."""
    if hub not in hubs:
        named = f" (it names {', '.join(_show(h) for h in hubs)})" if hubs else ""
        sink.error("missing-hub", f"{where} does not link to the WebSub hub {hub}{named}")


def _check_language(value: str, what: str, line: int | None, sink: _Sink) -> None:
    """Report ``value`` unless it is a language tag (RFC 3066: ISO 639 code, subtags)."""
    if not LANGUAGE_TAG.fullmatch(value):
        sink.error(
            "bad-language", f"{what} {_show(value)} is not a language tag such as en or en-GB", line
        )


def _check_self_links(
    links: Sequence[tuple[str, int | None]], url: str | None, where: str, sink: _Sink
) -> None:
    """Exactly one self link, and it is ``url`` (when known)."""
    if not links:
        if sink.publishing:
            sink.error("missing-self", f'{where} has no rel="self" link')
        else:
            sink.warning(
                "no-self",
                f'{where} has no rel="self" link; readers and hubs cannot tell where it lives',
            )
        return
    for _href, line in links[1:]:
        sink.error("duplicate-self", f'{where} has more than one rel="self" link', line)
    href, line = links[0]
    if url is not None and href != url:
        if sink.publishing:
            sink.error("self-mismatch", f"self link {_show(href)} is not {url}", line)
        else:
            sink.warning("self-elsewhere", f"self link {_show(href)} is not {url}", line)


# -- RFC 5005 archived feeds ------------------------------------------------

#: RFC 5005's link relations for archived feeds
HISTORY_RELS: Final = ("current", "prev-archive", "next-archive")
_FH_ARCHIVE: Final = f"{{{FH_NS}}}archive"
_FH_COMPLETE: Final = f"{{{FH_NS}}}complete"


def _check_history(
    head: etree._Element,
    entries: Sequence[etree._Element],
    link_tag: str,
    url: str | None,
    expected: Mapping[str, str] | None,
    sink: _Sink,
) -> None:
    """RFC 5005 in the feed's head (Atom <feed> or RSS <channel>): each archive link once,
    none to the document itself, an fh:archive page findable from and linking onward."""
    where = f"<{_local(head.tag)}>"
    found: dict[str, tuple[str, int | None]] = {}
    for link in head.findall(link_tag):
        rel = link.get("rel", "")
        if rel not in HISTORY_RELS:
            continue
        href, line = _resolved(link, link.get("href", "")), _line(link)
        if rel in found:
            sink.error("duplicate-link", f'{where} has more than one rel="{rel}" link', line)
            continue
        found[rel] = (href, line)
        if url is not None and href == url:
            sink.error("archive-link", f'rel="{rel}" link {_show(href)} is this document', line)
    marks = head.findall(_FH_ARCHIVE)
    for extra in marks[1:]:
        sink.error("duplicate-element", f"{where} has more than one fh:archive", _line(extra))
    complete = head.find(_FH_COMPLETE)
    if marks and complete is not None:
        sink.error(
            "archive-conflict",
            "marked fh:archive and fh:complete: a document is an archive page or a whole feed",
            _line(complete),
        )
    elif marks:
        if "current" not in found:
            sink.warning(
                "archive-without-current",
                'fh:archive page without a rel="current" link to the feed it belongs to',
                _line(marks[0]),
            )
        if "prev-archive" not in found and "next-archive" not in found:
            sink.warning(
                "archive-incomplete",
                "fh:archive page with neither a prev-archive nor a next-archive link",
                _line(marks[0]),
            )
    for number, entry in enumerate(entries, 1):
        for link in entry.findall(link_tag):
            if link.get("rel") in HISTORY_RELS:
                sink.warning(
                    "history-rel-in-entry",
                    f'entry {number} has a rel="{link.get("rel")}" link; it belongs to the feed',
                    _line(link),
                )
    if expected is None:
        return
    for rel in HISTORY_RELS:
        want, (got, line) = expected.get(rel), found.get(rel, (None, _line(head)))
        if want != got:
            sink.error(
                "history-mismatch",
                f'rel="{rel}" link is {_show(got)}, built as {_show(want)}',
                line,
            )
    if bool(marks) != ("next-archive" in expected):
        sink.error(
            "history-mismatch",
            "marked fh:archive but built as a page that may change"
            if marks
            else "a complete archive page not marked fh:archive",
            _line(head),
        )


# -- RSS 2.0 ---------------------------------------------------------------

#: what each RSS 2.0 element may hold: its children (by name, with how many: "1" exactly
#: one, "?" at most one, "+" at least one, "*" any number) and its attributes
_RSS_SHAPES: Final[dict[str, tuple[dict[str, str], frozenset[str]]]] = {
    "rss": ({"channel": "1"}, frozenset({"version"})),
    "channel": (
        {
            **dict.fromkeys(("title", "link", "description"), "1"),
            **dict.fromkeys(
                (
                    "language copyright managingEditor webMaster pubDate lastBuildDate "
                    "generator docs cloud ttl image rating textInput skipHours skipDays"
                ).split(),
                "?",
            ),
            **dict.fromkeys(("category", "item"), "*"),
        },
        frozenset(),
    ),
    "item": (
        {
            **dict.fromkeys(
                "title link description author comments guid pubDate source".split(), "?"
            ),
            **dict.fromkeys(("category", "enclosure"), "*"),
        },
        frozenset(),
    ),
    "image": (
        {
            **dict.fromkeys(("url", "title", "link"), "1"),
            **dict.fromkeys(("width", "height", "description"), "?"),
        },
        frozenset(),
    ),
    "textInput": (dict.fromkeys(("title", "description", "name", "link"), "1"), frozenset()),
    "skipHours": ({"hour": "+"}, frozenset()),
    "skipDays": ({"day": "+"}, frozenset()),
    "cloud": ({}, frozenset({"domain", "port", "path", "registerProcedure", "protocol"})),
    "guid": ({}, frozenset({"isPermaLink"})),
    "enclosure": ({}, frozenset({"url", "length", "type"})),
    "source": ({}, frozenset({"url"})),
    "category": ({}, frozenset({"domain"})),
}
_RSS_VALUE: Final[tuple[dict[str, str], frozenset[str] | None]] = ({}, None)
#: every element name RSS 2.0 defines, anywhere
_ALL_RSS_NAMES: Final = frozenset(n for children, _ in _RSS_SHAPES.values() for n in children)
#: RSS elements that hold other elements, never text of their own
_RSS_CONTAINERS: Final = frozenset(
    ("rss", "channel", "item", "image", "textInput", "skipHours", "skipDays")
)
_WEEKDAY_NAMES: Final = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
# An HTML form control's name, as textInput's name must be.
_FORM_NAME_RE: Final = re.compile(r"[A-Za-z_:][A-Za-z0-9_:.\-]*")
_EMAIL_RE: Final = re.compile(r"[^@\s()<>]+@[^@\s()<>]+\.[^@\s()<>]+(?:\s+\(.*\))?")
# An address anywhere in a value ("Name <user@example.org>", a mailto: URL…).
_ADDR_IN_TEXT_RE: Final = re.compile(r"[^@\s()<>,:;\"]+@[^@\s()<>,;:\"]+\.[^@\s()<>,;:\"?]+")


def _check_rss(
    root: etree._Element,
    items: Sequence[etree._Element],
    url: str | None,
    sink: _Sink,
    html_checker: _HtmlChecker,
    shapes: _CleanShapes,
    rules: _RightItems,
) -> None:
    """RSS 2.0 rules; ``items`` are the <item> elements of the channel; ``rules`` knows
    those found right already, of which only the guids are looked at."""
    namespace = etree.QName(root).namespace
    if namespace is not None:
        sink.error(
            "bad-namespace",
            f"<rss> is in namespace {_show(namespace)}; RSS 2.0 elements are in none",
            _line(root),
        )
        return
    version = root.get("version")
    if version not in ("2.0", "0.91", "0.92"):
        sink.error("bad-version", f'<rss> version is {_show(version)}, not "2.0"', _line(root))
    _check_rss_shape(root, "<rss>", sink, shapes)
    channel = root.find("channel")
    if channel is None:
        return
    self_links: list[tuple[str, int | None]] = []
    for child in _children(channel):
        tag = child.tag
        if tag == "item":
            continue  # checked one by one below
        if tag == "link":
            _check_url(_text(child), "channel <link>", _line(child), sink)
        elif tag == "docs":
            _check_url(_text(child), "channel <docs>", _line(child), sink)
        elif tag in ("pubDate", "lastBuildDate"):
            _check_rfc822(child, f"channel <{tag}>", sink)
        elif tag in ("managingEditor", "webMaster"):
            _check_email(child, sink)
        elif tag in ("image", "textInput"):
            _check_rss_box(child, sink)
        elif tag == "ttl":
            _check_integer(child, "channel <ttl>", sink, low=1)
        elif tag == "language":
            _check_language(_text(child), "channel <language>", _line(child), sink)
        elif tag == "cloud":
            _check_cloud(child, sink)
        elif tag in ("skipHours", "skipDays"):
            _check_skip(child, sink)
        elif tag == _ATOM_LINK:
            href = _resolved(child, child.get("href", ""))
            _check_url(href, "atom:link href", _line(child), sink)
            if child.get("rel") == "self":
                self_links.append((href, _line(child)))
        elif tag.startswith(_IT):
            _check_itunes_channel(child, sink)
    _check_self_links(self_links, url, "<channel>", sink)
    if any(child.tag.startswith(_IT) for child in _children(channel)):
        for tag in ("category", "explicit"):
            if channel.find(f"{_IT}{tag}") is None:
                sink.warning(
                    "itunes-incomplete",
                    f"a podcast <channel> without itunes:{tag}: podcast directories ask for it",
                    _line(channel),
                )

    guids: dict[str, int | None] = {}
    for number, item in enumerate(items, 1):
        if rules.known(item):
            # Its guids are not empty (that is a problem): whether they repeat is left.
            for child in _children(item):
                if child.tag == "guid":
                    _unique_guid(_text(child), f"item {number}", _line(child), guids, sink)
            continue
        before = len(sink.problems)
        _check_rss_item(item, number, guids, sink, html_checker)
        if len(sink.problems) == before:
            rules.found_right(item)


def _check_rss_item(
    item: etree._Element,
    number: int,
    guids: dict[str, int | None],
    sink: _Sink,
    html_checker: _HtmlChecker,
) -> None:
    """The rules of one RSS <item>; ``guids`` collects the guids seen so far."""
    label = f"item {number}"
    if item.find("title") is None and item.find("description") is None:
        sink.error("missing-element", f"{label} has neither <title> nor <description>", _line(item))
    for child in _children(item):
        tag = child.tag
        line = _line(child)
        if tag in ("link", "comments"):
            _check_url(_text(child), f"{label} <{tag}>", line, sink)
        elif tag == "pubDate":
            _check_rfc822(child, f"{label} <pubDate>", sink)
        elif tag in (f"{_A}updated", f"{_A}published"):
            _check_rfc3339(child, f"{label} atom:{_local(tag)}", sink)
        elif tag == "author":
            _check_email(child, sink)
        elif tag == "guid":
            _check_guid(child, label, guids, sink)
        elif tag == "enclosure":
            _check_enclosure(child, label, sink)
        elif tag == "source":
            _check_url(child.get("url", ""), f"{label} <source> url", line, sink)
        elif tag in ("description", _CONTENT_ENCODED):
            name = "content:encoded" if tag == _CONTENT_ENCODED else tag
            html_checker.check_text(_text(child), f"{label} <{name}>", line, relative=True)
        elif tag == _ATOM_LINK:
            _check_url(child.get("href", ""), f"{label} atom:link href", line, sink)
        elif tag == f"{_IT}duration" and not _DURATION_RE.fullmatch(_text(child)):
            sink.error(
                "bad-itunes",
                f"{label} itunes:duration {_show(_text(child))} is not seconds or H:MM:SS",
                line,
            )
    for plain, extension in (("author", _DC_CREATOR), ("pubDate", _DC_DATE)):
        twin = item.find(extension)
        if item.find(plain) is not None and twin is not None:
            sink.warning(
                "duplicate-semantics",
                f"{label} has both <{plain}> and dc:{_local(extension)}",
                _line(twin),
            )


def _check_itunes_channel(element: etree._Element, sink: _Sink) -> None:
    """The channel's iTunes tags that podcast apps (and the W3C validator) are strict about."""
    name = _local(element.tag)
    line = _line(element)
    if name == "explicit" and _text(element) not in ("true", "false"):
        sink.error(
            "bad-itunes", f"itunes:explicit {_show(_text(element))} is not true or false", line
        )
    elif name == "category":
        top = element.get("text")
        if top not in CATEGORIES:
            sink.error("bad-itunes", f"itunes:category {_show(top)} is not Apple's", line)
            return
        for sub in element.findall(f"{_IT}category"):
            if sub.get("text") not in CATEGORIES[top]:
                sink.error(
                    "bad-itunes",
                    f"itunes:category {_show(sub.get('text'))} is not one of {top!r}",
                    _line(sub),
                )
    elif name == "image":
        _check_url(element.get("href", ""), "itunes:image href", line, sink)
    elif name == "owner" and element.find(f"{_IT}email") is None:
        sink.error("missing-element", "itunes:owner has no itunes:email", line)


def _check_rss_shape(
    element: etree._Element, label: str, sink: _Sink, shapes: _CleanShapes = _EVERY_SHAPE
) -> None:
    """Which elements stand where, how many, with which attributes, for ``element``
    and every RSS element below it (extension elements are left alone); items
    ``shapes`` knows to be right are not walked again."""
    # Every element of every feed passes here: few calls, no work for what is right.
    name = element.tag
    assert isinstance(name, str)
    # A value (title, link…) holds no RSS elements, and any attributes.
    children, attributes = _RSS_SHAPES.get(name, _RSS_VALUE)
    for attr in cast("list[str]", element.keys()):
        if attributes is not None and attr[0] != "{" and attr not in attributes:
            sink.error(
                "unexpected-attribute",
                f"{label} has an attribute {attr}= that RSS 2.0 does not define",
                _line(element),
            )
    container = name in _RSS_CONTAINERS
    loose = (element.text or "").strip() if container else ""
    counts: dict[str, int] = {}
    items = 0
    for child in element:
        if container and loose == "":
            loose = (child.tail or "").strip()
        tag = child.tag
        if not isinstance(tag, str) or tag[0] == "{":
            continue  # an extension: its own namespace says what it holds
        how = children.get(tag)
        if how is None:
            known = tag in _RSS_SHAPES or tag in _ALL_RSS_NAMES
            sink.error(
                "undefined-element",
                f"<{tag}> in {label} is not an RSS 2.0 element "
                + ("where it stands" if known else "at all; extensions belong in a namespace"),
                _line(child),
            )
            continue
        if tag == "item":
            items += 1
            shapes.check(child, f"item {items}", _check_rss_shape, sink)
            continue
        seen = counts[tag] = counts.get(tag, 0) + 1
        if seen == 2 and how in "1?":
            sink.error("duplicate-element", f"{label} has more than one <{tag}>", _line(child))
        if tag in _RSS_SHAPES or len(child):  # else a value with nothing below it
            # The channel passes ``shapes`` on to its items.
            _check_rss_shape(child, f"<{tag}>", sink, shapes)
    if loose:
        sink.error("unexpected-text", f"{label} holds text {_show(loose, 40)}", _line(element))
    for tag, how in children.items():
        if how in "1+" and tag not in counts:
            sink.error("missing-element", f"{label} has no <{tag}>", _line(element))


def _check_rss_box(box: etree._Element, sink: _Sink) -> None:
    """A channel's <image> or <textInput>: its links, sizes and form name."""
    label = f"<{box.tag}>"
    for part in _children(box):
        what, line = f"{label} <{part.tag}>", _line(part)
        if part.tag == "link" or (part.tag == "url" and box.tag == "image"):
            _check_url(_text(part), what, line, sink)
        elif part.tag in ("width", "height") and box.tag == "image":
            # RSS 2.0: at most 144 pixels wide and 400 high.
            _check_integer(part, what, sink, low=1, high=144 if part.tag == "width" else 400)
        elif (
            part.tag == "name"
            and box.tag == "textInput"
            and not _FORM_NAME_RE.fullmatch(_text(part))
        ):
            sink.error("bad-value", f"{what} {_show(_text(part))} is not a form field name", line)


def _check_integer(
    element: etree._Element, what: str, sink: _Sink, *, low: int, high: int | None = None
) -> None:
    """The element holds a whole number from ``low`` to ``high``."""
    text = _text(element)
    bounds = f"from {low}" + (f" to {high}" if high is not None else " up")
    if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        sink.error(
            "bad-value", f"{what} {_show(text)} is not a whole number {bounds}", _line(element)
        )


def _check_cloud(cloud: etree._Element, sink: _Sink) -> None:
    """<cloud> names every attribute RSS 2.0 requires, with a port number."""
    for attr in ("domain", "port", "path", "registerProcedure", "protocol"):
        if cloud.get(attr) is None:
            sink.error("missing-attribute", f"<cloud> has no {attr}=", _line(cloud))
    port = cloud.get("port")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        sink.error("bad-value", f"<cloud> port={_show(port)} is not a port number", _line(cloud))


def _check_skip(skip: etree._Element, sink: _Sink) -> None:
    """<skipHours> holds distinct hours 0–23 (24 also means midnight), <skipDays>
    distinct English day names."""
    hours = skip.tag == "skipHours"
    seen: set[str] = set()
    values = [v for v in _children(skip) if v.tag == ("hour" if hours else "day")]
    for value in values:
        text, line = _text(value), _line(value)
        what = f"<{skip.tag}> <{value.tag}>"
        if hours and not (text.isdigit() and int(text) <= 24):
            sink.error("bad-value", f"{what} {_show(text)} is not an hour from 0 to 23", line)
            continue
        if not hours and text not in _WEEKDAY_NAMES:
            sink.error("bad-value", f"{what} {_show(text)} is not a day name (Monday…)", line)
            continue
        key = str(int(text) % 24) if hours else text  # 24 is midnight, as 0 is
        if key in seen:
            sink.error("duplicate-value", f"{what} {_show(text)} appears twice", line)
        seen.add(key)
    if len(values) > (24 if hours else 7):
        sink.error("bad-value", f"<{skip.tag}> names more than {24 if hours else 7}", _line(skip))


def _check_rfc822(element: etree._Element, what: str, sink: _Sink) -> None:
    """An RSS date: RFC 822 in RSS 2.0's usual form, with the right weekday, plausible."""
    text = _text(element)
    line = _line(element)
    try:
        when, unusual = _parse_rfc822(text)
    except _WrongWeekday as e:
        sink.error("bad-weekday", f"{what} {_show(text)}: {e}", line)
        return
    except ValueError:
        sink.error("bad-date", f"{what} {_show(text)} is not an RFC 822 date", line)
        return
    if unusual:
        sink.warning(
            "problematic-date",
            f"{what} {_show(text)} is RFC 822 in a form some readers misread; "
            "write it like 'Tue, 02 Jan 2024 09:30:00 +0000'",
            line,
        )
    sink.plausible(when, what, line)


def _check_email(element: etree._Element, sink: _Sink) -> None:
    """RSS's author, managingEditor and webMaster hold an e-mail address."""
    text = _text(element)
    if _EMAIL_RE.fullmatch(text):
        return
    # An address in a comment ("Name (user@example.org)") is not the address.
    if not sink.publishing and _ADDR_IN_TEXT_RE.search(_without_comments(unquote(text))):
        sink.warning(
            "email-format",
            f"<{element.tag}> {_show(text)} is not written 'user@example.org (Name)'",
            _line(element),
        )
    else:
        sink.error(
            "bad-email",
            f"<{element.tag}> {_show(text)} is not an e-mail address (use dc:creator for names)",
            _line(element),
        )


def _check_guid(
    guid: etree._Element, label: str, guids: dict[str, int | None], sink: _Sink
) -> None:
    """A guid is non-empty, unique, and a URL when it claims to be a permalink."""
    text = _text(guid)
    line = _line(guid)
    permalink = guid.get("isPermaLink", "true")
    if permalink not in ("true", "false"):
        sink.error(
            "bad-attribute", f'{label} guid isPermaLink={permalink!r}, not "true"/"false"', line
        )
    if not text:
        if sink.publishing or permalink == "true":
            sink.error("bad-guid", f"{label} has an empty <guid>, and no URL to link to", line)
        else:
            sink.warning("empty-guid", f"{label} has an empty <guid>; readers cannot tell it", line)
        return
    if permalink == "true":
        problem = _http_url_problem(text)
        if problem:
            sink.error(
                "bad-guid",
                f'{label} guid {_show(text)} {problem}; mark it isPermaLink="false"',
                line,
            )
    _unique_guid(text, label, line, guids, sink)


def _unique_guid(
    text: str, label: str, line: int | None, guids: dict[str, int | None], sink: _Sink
) -> None:
    """A guid ``text`` is not one of ``guids`` (by text, with its line), which it joins."""
    if text in guids:
        sink.error("duplicate-id", f"{label} guid {_show(text)} repeats line {guids[text]}", line)
    else:
        guids[text] = line


def _check_enclosure(enclosure: etree._Element, label: str, sink: _Sink) -> None:
    """An enclosure has an absolute url, an integer length and a MIME type."""
    line = _line(enclosure)
    _check_url(enclosure.get("url", ""), f"{label} enclosure url", line, sink)
    length = enclosure.get("length", "")
    if not length.isdigit():
        sink.error(
            "bad-enclosure", f"{label} enclosure length {_show(length)} is not a byte count", line
        )
    if "/" not in enclosure.get("type", ""):
        sink.error("bad-enclosure", f"{label} enclosure has no MIME type", line)


# -- Atom 1.0 --------------------------------------------------------------

_TEXT_TYPES: Final = ("text", "html", "xhtml")
#: vocabularies whose elements never stand inside XHTML content
_FEED_NAMESPACES: Final = frozenset((ATOM_NS, "http://www.w3.org/2007/app"))
#: how Atom takes a URL: an IRI, relative to xml:base or the document's own URL
_IRI_REF: Final = {"relative": True, "iri": True}


def _check_atom(
    root: etree._Element,
    entries: Sequence[etree._Element],
    url: str | None,
    sink: _Sink,
    html_checker: _HtmlChecker,
    shapes: _CleanShapes,
    rules: _RightItems,
) -> None:
    """RFC 4287 rules; ``entries`` are the <entry> elements of the feed; ``rules`` knows
    those found right already, whose ids, dates and authors are looked at against the
    feed's others alone."""
    namespace = etree.QName(root).namespace
    if namespace != ATOM_NS:
        sink.error(
            "bad-namespace",
            f"<feed> is in namespace {_show(namespace)}, not {ATOM_NS} (Atom 1.0)",
            _line(root),
        )
        return
    _check_atom_shape(root, "<feed>", sink, shapes)
    _check_xml_attributes(root, sink)
    _check_atom_common(root, "<feed>", sink, html_checker)
    _atom_date(root, "updated", "<feed>", sink, required=True)
    for tag in ("icon", "logo"):
        el = root.find(f"{_A}{tag}")
        if el is not None:
            _check_url(_resolved(el, _text(el)), f"<feed> <{tag}>", _line(el), sink, **_IRI_REF)
    self_links = [
        (_resolved(link, link.get("href", "")), _line(link))
        for link in root.findall(f"{_A}link")
        if link.get("rel") == "self"
    ]
    _check_self_links(self_links, url, "<feed>", sink)

    feed_has_author = root.find(f"{_A}author") is not None
    ids: dict[str, int | None] = {}
    updated: dict[datetime, int | None] = {}
    for number, entry in enumerate(entries, 1):
        label = f"entry {number}"
        own: int | None = None  # what the entry's own rules found, when applied here
        if rules.known(entry):
            entry_id, when = _atom_keys(entry)
        else:
            before = len(sink.problems)
            entry_id, when = _check_atom_entry_head(entry, label, sink, html_checker)
            own = len(sink.problems) - before
        if entry_id is not None:
            if entry_id in ids:
                message = f"{label} id {_show(entry_id)} repeats line {ids[entry_id]}"
                if sink.publishing:
                    sink.error("duplicate-id", message, _line(entry))
                else:
                    # RFC 4287 §4.1.1: entries sharing an id are versions of one entry.
                    sink.warning(
                        "duplicate-entry", message + "; readers show one version", _line(entry)
                    )
            else:
                ids[entry_id] = _line(entry)
        if when is not None:
            if when in updated:
                sink.warning(
                    "duplicate-updated",
                    f"{label} has the same <updated> as the entry at line {updated[when]}",
                    _line(entry),
                )
            else:
                updated[when] = _line(entry)
        has_author = (
            entry.find(f"{_A}author") is not None
            or entry.find(f"{_A}source/{_A}author") is not None
        )
        if not has_author and not feed_has_author:
            sink.error(
                "missing-element",
                f"{label} has no <author> and the feed has none",
                _line(entry),
            )
        if own is not None:
            before = len(sink.problems)
            _check_atom_entry_content(entry, label, sink, html_checker)
            if own == 0 and len(sink.problems) == before:
                rules.found_right(entry)
    if not sink.publishing and len(entries) >= 10 and len(ids) == 1:
        sink.error(
            "duplicate-id",
            f"all {len(entries)} entries share one id: the feed is one entry, not {len(entries)}",
            _line(root),
        )


def _check_atom_entry_head(
    entry: etree._Element, label: str, sink: _Sink, html_checker: _HtmlChecker
) -> tuple[str | None, datetime | None]:
    """The rules of an entry's own up to its dates: what it shares with the feed (its
    <source> too) and its dates; returns its id and its <updated>."""
    entry_id = _check_atom_common(entry, label, sink, html_checker)
    for source in entry.findall(f"{_A}source"):
        _check_atom_common(source, f"{label} <source>", sink, html_checker)
    when = _atom_date(entry, "updated", label, sink, required=True)
    _atom_date(entry, "published", label, sink, required=False)
    return entry_id, when


def _atom_keys(entry: etree._Element) -> tuple[str | None, datetime | None]:
    """The id and <updated> instant of an entry its own rules found right, as
    ``_check_atom_entry_head`` returns them."""
    id_element, date = entry.find(f"{_A}id"), entry.find(f"{_A}updated")
    entry_id = None if id_element is None else _text(id_element)
    return entry_id, None if date is None else _parse_rfc3339(_text(date))


def _check_atom_entry_content(
    entry: etree._Element, label: str, sink: _Sink, html_checker: _HtmlChecker
) -> None:
    """The rules of an entry's <content>, and its links to what it is about."""
    content = entry.find(f"{_A}content")
    if content is not None:
        if entry.find(f"{_A}summary") is None and _content_is_opaque(content):
            sink.error(
                "missing-element",
                f"{label} has no <summary>, and its <content> is not text to show",
                _line(entry),
            )
        if content.get("src") is not None:
            _check_url(
                _resolved(content, content.get("src", "")),
                f"{label} <content> src",
                _line(content),
                sink,
                **_IRI_REF,
            )
        else:
            _check_text_construct(content, label, sink, html_checker, content=True)
    alternates = [
        link for link in entry.findall(f"{_A}link") if link.get("rel", "alternate") == "alternate"
    ]
    if content is None and not alternates:
        sink.error(
            "missing-element",
            f'{label} has neither <content> nor a rel="alternate" link',
            _line(entry),
        )


_ATOM_HEAD: Final = dict.fromkeys(
    "id title updated subtitle rights icon logo generator".split(), "?"
) | dict.fromkeys(("author", "contributor", "category", "link"), "*")
#: what each Atom element may hold: its Atom children (by local name, with how many:
#: "1" exactly one, "?" at most one, "*" any number) and its attributes
_ATOM_SHAPES: Final[dict[str, tuple[dict[str, str], frozenset[str]]]] = {
    "feed": (
        _ATOM_HEAD | dict.fromkeys(("id", "title", "updated"), "1") | {"entry": "*"},
        frozenset(),
    ),
    "entry": (
        _ATOM_HEAD
        | dict.fromkeys(("id", "title", "updated"), "1")
        | dict.fromkeys(("published", "summary", "content", "source"), "?"),
        frozenset(),
    ),
    "source": (_ATOM_HEAD, frozenset()),
    "author": ({"name": "1", "uri": "?", "email": "?"}, frozenset()),
    "contributor": ({"name": "1", "uri": "?", "email": "?"}, frozenset()),
    "link": ({}, frozenset(("href", "rel", "type", "hreflang", "title", "length"))),
    "category": ({}, frozenset(("term", "scheme", "label"))),
    "generator": ({}, frozenset(("uri", "version"))),
    "content": ({}, frozenset(("type", "src"))),
    **{name: ({}, frozenset(("type",))) for name in ("title", "subtitle", "summary", "rights")},
    **{name: ({}, frozenset()) for name in "id updated published icon logo name uri email".split()},
}
#: Atom elements whose value is one token: no space around it (RFC 4287 §3.3, §4.2.6…)
_ATOM_TOKENS: Final = frozenset("id updated published icon logo uri email".split())
_ATOM_CONTAINERS: Final = frozenset(("feed", "entry", "source", "author", "contributor"))
#: Atom elements whose children are markup (text constructs and content)
_ATOM_MARKUP: Final = frozenset(("title", "subtitle", "summary", "rights", "content"))
#: Atom elements whose attribute values have rules of their own
_ATOM_ATTRIBUTED: Final = frozenset(("link", "category", "generator", "content"))
_A_LENGTH: Final = len(_A)
_XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_BASE: Final = "{http://www.w3.org/XML/1998/namespace}base"
# The elements that carry either: XPath finds them in C.
_XML_ATTRIBUTES_XPATH: Final = etree.XPath("descendant-or-self::*[@xml:lang or @xml:base]")
_MIME_RE: Final = re.compile(r"[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+(?:\s*;.*)?", re.DOTALL)
# A link relation: a registered name (no colon) or an IRI (RFC 4287 §4.2.7.2).
_REL_NAME_RE: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=@%]+")
# RFC 2822's addr-spec, roughly: a host needs no dot ("user@localhost").
_BASE64_RE: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _check_atom_shape(
    element: etree._Element, label: str, sink: _Sink, shapes: _CleanShapes = _EVERY_SHAPE
) -> None:
    """Which Atom elements stand where, how many, with which attributes and values,
    for ``element`` and every Atom element below it; extensions are left alone, and
    text constructs' content to :func:`_check_text_construct`; entries ``shapes``
    knows to be right are not walked again."""
    # Every element of every feed passes here: few calls, no work for what is right.
    name = element.tag[_A_LENGTH:]
    children, attributes = _ATOM_SHAPES[name]
    for attr in cast("list[str]", element.keys()):
        if attr[0] != "{" and attr not in attributes:
            sink.error(
                "unexpected-attribute",
                f"{label} has an attribute {attr}= that Atom does not define",
                _line(element),
            )
    if name in _ATOM_TOKENS:
        value = element.text or ""
        if value != value.strip():
            sink.error(
                "unexpected-whitespace",
                f"{label} has space around its value {_show(value)}",
                _line(element),
            )
        if name == "email" and not EMAIL.fullmatch(value.strip()):
            sink.error(
                "bad-email", f"{label} {_show(value)} is not an e-mail address", _line(element)
            )
    elif name in _ATOM_ATTRIBUTED:
        _check_atom_attributes(element, label, sink)
    if name in _ATOM_MARKUP:
        return  # their children are markup, checked with the text construct
    loose = (element.text or "").strip() if name in _ATOM_CONTAINERS else ""
    counts: dict[str, int] = {}
    entries = 0
    for child in element:
        if loose == "" and name in _ATOM_CONTAINERS:
            loose = (child.tail or "").strip()
        tag = child.tag
        if not isinstance(tag, str) or not tag.startswith(_A):
            continue  # an extension: its own namespace says what it holds
        tag = tag[_A_LENGTH:]
        how = children.get(tag)
        if how is None:
            sink.error(
                "undefined-element",
                f"<{tag}> in {label} is not an Atom element there",
                _line(child),
            )
            continue
        if tag == "entry":
            entries += 1
            shapes.check(child, f"entry {entries}", _check_atom_shape, sink)
            continue
        if entries:
            sink.error(
                "misplaced-element",
                f"{label} <{tag}> comes after an entry; feed metadata goes first",
                _line(child),
            )
        seen = counts[tag] = counts.get(tag, 0) + 1
        if seen == 2 and how != "*":
            sink.error("duplicate-element", f"{label} has more than one <{tag}>", _line(child))
        _check_atom_shape(child, f"{label} <{tag}>", sink)
    if loose:
        sink.error("unexpected-text", f"{label} holds text {_show(loose, 40)}", _line(element))
    for tag, how in children.items():
        if how == "1" and tag not in counts:
            sink.error("missing-element", f"{label} has no <{tag}>", _line(element))


def _check_atom_attributes(element: etree._Element, label: str, sink: _Sink) -> None:
    """The attribute values of a link, category, generator or content element."""
    line = _line(element)
    name = _local(element.tag)
    if name == "category":
        if element.get("term") is None:
            sink.error("missing-attribute", f"{label} has no term=", line)
        if (scheme := element.get("scheme")) is not None:
            _check_url(_resolved(element, scheme), f"{label} scheme", line, sink, iri=True)
    elif name == "generator":
        if (uri := element.get("uri")) is not None:
            _check_url(_resolved(element, uri), f"{label} uri", line, sink, **_IRI_REF)
    elif name == "link":
        rel = (element.get("rel") or "").strip() or None
        if rel is not None and not _REL_NAME_RE.fullmatch(rel):
            _check_url(rel, f"{label} rel", line, sink, iri=True)
        if (kind := element.get("type")) is not None and not _MIME_RE.fullmatch(kind):
            sink.error("bad-mime-type", f"{label} type={_show(kind)} is not a MIME type", line)
        if (lang := element.get("hreflang")) is not None:
            _check_language(lang, f"{label} hreflang", line, sink)
        length = element.get("length")
        if length is not None and not length.strip().isdigit():
            sink.error("bad-value", f"{label} length={_show(length)} is not a byte count", line)
    else:
        _check_atom_content(element, label, sink)


def _content_is_opaque(content: etree._Element) -> bool:
    """True for content a reader cannot show as text: by reference (src) or Base64
    (RFC 4287 §4.1.1.1: then the entry needs a summary)."""
    kind = (content.get("type") or "text").lower().split(";")[0].strip()
    if content.get("src") is not None:
        return True
    return kind not in _TEXT_TYPES and not kind.startswith("text/") and not kind.endswith("xml")


def _check_atom_content(content: etree._Element, label: str, sink: _Sink) -> None:
    """RFC 4287 §4.1.3: what content holds for its type and src."""
    line = _line(content)
    kind = content.get("type")
    src = content.get("src")
    markup = list(_children(content))
    text = (content.text or "").strip() or any((c.tail or "").strip() for c in content)
    # A type without a slash and without src is the text construct check's to report.
    if (
        kind is not None
        and kind not in _TEXT_TYPES
        and ("/" in kind or src is not None)
        and (not _MIME_RE.fullmatch(kind) or kind.lower().startswith(("multipart/", "message/")))
    ):
        sink.error(
            "bad-mime-type", f"{label} type={_show(kind)} is not a single-part MIME type", line
        )
        return
    if src is not None:
        if kind in _TEXT_TYPES:
            sink.error(
                "bad-mime-type", f'{label} with src= takes a MIME type, not type="{kind}"', line
            )
        if markup:
            sink.error("undefined-element", f"{label} with src= holds an element", _line(markup[0]))
        elif text:
            sink.error("unexpected-text", f"{label} with src= holds text", line)
        return
    if kind is None or kind in ("text", "html"):
        if markup:
            sink.error(
                "undefined-element",
                f"{label} of type {kind or 'text'} holds an element <{_local(markup[0].tag)}>",
                _line(markup[0]),
            )
        return
    if kind == "xhtml":
        return  # checked with the text construct
    lowered = kind.lower().split(";")[0].strip()
    if lowered.endswith(("+xml", "/xml")):
        if text:
            sink.error("unexpected-text", f"{label} of type {kind} holds text beside its XML", line)
    elif markup:
        sink.error("undefined-element", f"{label} of type {kind} holds an element", line)
    elif not lowered.startswith("text/") and not _BASE64_RE.fullmatch(
        "".join((content.text or "").split())
    ):
        sink.error("bad-value", f"{label} of type {kind} is not Base64", line)


def _check_xml_attributes(root: etree._Element, sink: _Sink) -> None:
    """xml:lang holds a language tag (or nothing) and xml:base a URI, wherever they stand."""
    for element in cast("list[etree._Element]", _XML_ATTRIBUTES_XPATH(root)):
        lang = element.get(_XML_LANG)
        if lang:
            _check_language(lang, f"<{_local(element.tag)}> xml:lang", _line(element), sink)
        base = element.get(_XML_BASE)
        if base is not None:
            problem = _uri_chars_problem(base)
            if problem:
                sink.error(
                    "bad-url",
                    f"<{_local(element.tag)}> xml:base {_show(base)} {problem}",
                    _line(element),
                )


def _check_atom_common(
    element: etree._Element, label: str, sink: _Sink, html_checker: _HtmlChecker
) -> str | None:
    """What feed and entry share: id, title, text constructs, links, authors. Returns the id."""
    title = element.find(f"{_A}title")
    if title is not None:
        _check_text_construct(title, label, sink, html_checker, content=False)
    for tag in ("subtitle", "summary", "rights"):
        for el in element.findall(f"{_A}{tag}"):
            _check_text_construct(el, label, sink, html_checker, content=False)

    alternates: dict[tuple[str | None, str | None], int | None] = {}
    for link in element.findall(f"{_A}link"):
        href = link.get("href")
        if href is None:
            sink.error("bad-attribute", f"{label} has a <link> without href", _line(link))
            continue
        rel = link.get("rel", "alternate")
        _check_url(
            _resolved(link, href), f'{label} link rel="{rel}"', _line(link), sink, **_IRI_REF
        )
        if rel == "alternate":
            key = (link.get("type"), link.get("hreflang"))
            if key in alternates:
                sink.error(
                    "duplicate-alternate",
                    f'{label} has two rel="alternate" links with one type and hreflang',
                    _line(link),
                )
            alternates[key] = _line(link)
    for tag in ("author", "contributor"):
        for person in element.findall(f"{_A}{tag}"):
            uri = person.find(f"{_A}uri")
            if uri is not None:
                _check_url(
                    _resolved(uri, _text(uri)),
                    f"{label} <{tag}> <uri>",
                    _line(uri),
                    sink,
                    **_IRI_REF,
                )

    id_element = element.find(f"{_A}id")
    if id_element is None:
        return None
    value = _text(id_element)
    problem = _uri_problem(value)
    if problem:
        sink.error("bad-id", f"{label} id {_show(value)} {problem}", _line(id_element))
    return value


def _atom_date(
    element: etree._Element, name: str, label: str, sink: _Sink, *, required: bool
) -> datetime | None:
    """Check an Atom date element (RFC 3339, plausible); return its instant when valid."""
    date = element.find(f"{_A}{name}")
    if date is None:
        return None
    return _check_rfc3339(date, f"{label} <{name}>", sink)


def _check_rfc3339(element: etree._Element, what: str, sink: _Sink) -> datetime | None:
    """An Atom date: RFC 3339 with uppercase T and Z, plausible; its instant when valid."""
    text = _text(element)
    try:
        when = _parse_rfc3339(text)
    except ValueError:
        sink.error("bad-date", f"{what} {_show(text)} is not an RFC 3339 date", _line(element))
        return None
    sink.plausible(when, what, _line(element))
    return when


def _check_text_construct(
    element: etree._Element,
    label: str,
    sink: _Sink,
    html_checker: _HtmlChecker,
    *,
    content: bool,
) -> None:
    """type is text, html or xhtml (or a MIME type for content); the HTML in it is safe."""
    kind = element.get("type", "text")
    what = f"{label} <{_local(element.tag)}>"
    line = _line(element)
    if kind not in _TEXT_TYPES and not (content and "/" in kind):
        sink.error("bad-attribute", f'{what} type="{kind}" is not text, html or xhtml', line)
        return
    # Relative references in Atom resolve against xml:base; only flag them without one.
    relative = element.base is None
    if kind == "html":
        html_checker.check_text(_text(element), what, line, relative=relative)
    elif kind == "xhtml":
        divs = list(_children(element))
        if len(divs) != 1 or divs[0].tag != f"{{{XHTML_NS}}}div" or (element.text or "").strip():
            sink.error("bad-xhtml", f'{what} type="xhtml" must hold a single xhtml <div>', line)
            return
        for inner in divs[0].iter("*"):
            namespace = etree.QName(inner).namespace
            if namespace is None:
                sink.error(
                    "bad-xhtml",
                    f"{what} holds <{inner.tag}> in no namespace, not XHTML's",
                    _line(inner),
                )
                break
            if namespace in _FEED_NAMESPACES:
                sink.error(
                    "undefined-element",
                    f"{what} holds <{_local(inner.tag)}> of {_show(namespace)}, a feed element",
                    _line(inner),
                )
                break
        html_checker.check_tree(divs[0], what, line, relative=relative)
    elif kind == "text":
        tags = [t for t in _END_TAG_RE.findall(_text(element)) if t.lower() in _COMMON_HTML]
        if tags:
            sink.warning(
                "undeclared-html",
                f'{what} holds HTML (</{tags[0]}>) but is type="text"; use type="html"',
                line,
            )


# --------------------------------------------------------------------------
# JSON Feed 1.1

_FEED_FIELDS: Final[dict[str, str]] = {
    "version": "str",
    "title": "str",
    "home_page_url": "url",
    "feed_url": "url",
    "description": "str",
    "user_comment": "str",
    "next_url": "url",
    "icon": "url",
    "favicon": "url",
    "authors": "authors",
    "author": "author",
    "language": "language",
    "expired": "bool",
    "hubs": "hubs",
    "items": "items",
}
_ITEM_FIELDS: Final[dict[str, str]] = {
    "id": "id",
    "url": "url",
    "external_url": "url",
    "title": "str",
    "content_html": "str",
    "content_text": "str",
    "summary": "str",
    "image": "url",
    "banner_image": "url",
    "date_published": "date",
    "date_modified": "date",
    "authors": "authors",
    "author": "author",
    "tags": "strs",
    "language": "language",
    "attachments": "attachments",
}
_ATTACHMENT_FIELDS: Final[dict[str, str]] = {
    "url": "url",
    "mime_type": "mime",
    "title": "str",
    "size_in_bytes": "count",
    "duration_in_seconds": "number",
}


def _validate_json(
    data: bytes,
    url: str | None,
    expected: Sequence[Post] | None,
    sink: _Sink,
    memo: EntryMemo,
    hub: str | None = None,
) -> None:
    """Layers 1 and 3 for JSON Feed, and the comparison with the posts."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        sink.error("bad-encoding", f"JSON Feed must be UTF-8: byte {e.start} is not")
        return
    duplicates: list[str] = []
    constants: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    def constant(name: str) -> float:
        constants.append(name)
        return float(name.lower().replace("-infinity", "-inf").replace("infinity", "inf"))

    try:
        document = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as e:
        sink.error("not-json", e.msg, e.lineno, e.colno)
        return
    for key in dict.fromkeys(duplicates):
        sink.error(
            "duplicate-key",
            f"key {key!r} appears twice in one object; readers disagree on which wins",
        )
    for name in dict.fromkeys(constants):
        sink.error("bad-number", f"{name} is not a JSON number")
    if not isinstance(document, dict):
        sink.error("bad-type", f"a JSON Feed is an object, not {_json_type(document)}")
        return

    checker = _JsonChecker(sink, memo.scans)
    checker.check_feed(document, url)
    if hub is not None:
        listed = document.get("hubs")
        entries = listed if isinstance(listed, list) else []
        hubs = [h.get("url") for h in entries if isinstance(h, dict)]
        _check_hub([h for h in hubs if isinstance(h, str)], hub, "hubs", sink)
    if expected is not None:
        _compare_entries(expected, _seen_from_json(document), _TEXT_SUMMARY, sink)


def _json_type(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class _JsonChecker:
    """JSON Feed 1.1 rules over a parsed document."""

    def __init__(self, sink: _Sink, scans: Scans) -> None:
        self.sink = sink
        self.html = _HtmlChecker(sink, scans)

    def check_feed(self, feed: dict[str, Any], url: str | None) -> None:
        version = feed.get("version")
        if version == _JSONFEED_V1:
            self.sink.warning("old-version", f"JSON Feed 1.0; checked as {JSONFEED_VERSION}")
        elif version is None:
            self.sink.error("missing-field", "version is missing")
        elif version != JSONFEED_VERSION:
            self.sink.error("bad-version", f"version {_show(version)} is not {JSONFEED_VERSION}")
        for key in ("title", "items"):
            if key not in feed:
                self.sink.error("missing-field", f"{key} is missing")
        title = feed.get("title")
        if isinstance(title, str) and not title.strip():
            self.sink.error("missing-field", "title is empty")
        feed_url = feed.get("feed_url")
        if feed_url is None:
            if self.sink.publishing:
                self.sink.error("missing-self", "feed_url is missing")
            else:
                self.sink.warning(
                    "no-self", "feed_url is missing; readers cannot tell where it lives"
                )
        elif isinstance(feed_url, str) and url is not None and feed_url != url:
            message = f"feed_url {_show(feed_url)} is not {url}"
            if self.sink.publishing:
                self.sink.error("self-mismatch", message)
            else:
                self.sink.warning("self-elsewhere", message)
        # After the feed's own: the fields hold the items, whose problems come after.
        self.fields(feed, _FEED_FIELDS, "")

    def fields(self, obj: dict[str, Any], schema: dict[str, str], where: str) -> None:
        """Check every field of ``obj`` against ``schema`` (field name → kind)."""
        for key, value in obj.items():
            name = f"{where}{key}"
            kind = schema.get(key)
            if kind is None:
                if not key.startswith("_"):
                    self.sink.warning("unknown-field", f"{name} is not a JSON Feed 1.1 field")
                continue
            self.value(value, kind, name)

    def value(self, value: object, kind: str, name: str) -> None:
        """Check one field value of the given kind."""
        if kind == "author-url" and isinstance(value, str) and value.lower().startswith("mailto:"):
            # JSON Feed 1.1: an author's url may be a mailto: link.
            if not EMAIL.fullmatch(unquote(value[7:].split("?")[0])):
                self.sink.error("bad-url", f"{name} {_show(value)} is not a mailto: address")
            return
        if kind == "author-url":
            kind = "url"
        if kind in ("str", "url", "date", "id", "language", "mime") and not isinstance(value, str):
            self.sink.error("bad-type", f"{name} is {_json_type(value)}, not a string")
        elif kind == "mime":
            assert isinstance(value, str)
            if not _MIME_RE.fullmatch(value):
                self.sink.error("bad-mime-type", f"{name} {_show(value)} is not a MIME type")
        elif kind == "language":
            assert isinstance(value, str)
            _check_language(value, name, None, self.sink)
        elif kind == "url":
            assert isinstance(value, str)
            # JSON Feed's URLs are absolute; ours are http(s), as in RSS and Atom.
            problem = _http_url_problem(value) if self.sink.publishing else _uri_problem(value)
            if problem:
                self.sink.error("bad-url", f"{name} {_show(value)} {problem}")
        elif kind == "date":
            assert isinstance(value, str)
            try:
                # RFC 3339 lets t and z be lowercase; Atom does not, JSON Feed does.
                when = _parse_rfc3339(value.upper())
            except ValueError:
                self.sink.error("bad-date", f"{name} {_show(value)} is not an RFC 3339 date")
            else:
                self.sink.plausible(when, name, None)
        elif kind == "id":
            assert isinstance(value, str)
            if not value.strip():
                self.sink.error("bad-id", f"{name} is empty")
        elif kind == "bool" and not isinstance(value, bool):
            self.sink.error("bad-type", f"{name} is {_json_type(value)}, not a boolean")
        elif kind in ("count", "number"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.sink.error("bad-type", f"{name} is {_json_type(value)}, not a number")
            elif kind == "count" and (not isinstance(value, int) or value < 0):
                self.sink.error("bad-enclosure", f"{name} {value!r} is not a byte count")
        elif kind == "strs":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self.sink.error("bad-type", f"{name} is not an array of strings")
        elif kind == "author":
            self.sink.warning("deprecated-field", f"{name} is JSON Feed 1.0; use authors")
            self.author(value, name)
        elif kind in ("authors", "hubs", "items", "attachments"):
            if not isinstance(value, list):
                self.sink.error("bad-type", f"{name} is {_json_type(value)}, not an array")
            elif kind == "authors":
                for i, author in enumerate(value):
                    self.author(author, f"{name}[{i}]")
            elif kind == "hubs":
                for i, hub in enumerate(value):
                    self.hub(hub, f"{name}[{i}]")
            elif kind == "items":
                self.items(value)
            else:
                for i, attachment in enumerate(value):
                    self.attachment(attachment, f"{name}[{i}]")

    def author(self, author: object, name: str) -> None:
        if not isinstance(author, dict):
            self.sink.error("bad-type", f"{name} is {_json_type(author)}, not an object")
            return
        if not any(author.get(k) for k in ("name", "url", "avatar")):
            self.sink.error("missing-field", f"{name} has none of name, url, avatar")
        self.fields(author, {"name": "str", "url": "author-url", "avatar": "url"}, f"{name}.")

    def hub(self, hub: object, name: str) -> None:
        if not isinstance(hub, dict):
            self.sink.error("bad-type", f"{name} is {_json_type(hub)}, not an object")
            return
        for key in ("type", "url"):
            if key not in hub:
                self.sink.error("missing-field", f"{name}.{key} is missing")
        self.fields(hub, {"type": "str", "url": "url"}, f"{name}.")

    def attachment(self, attachment: object, name: str) -> None:
        if not isinstance(attachment, dict):
            self.sink.error("bad-type", f"{name} is {_json_type(attachment)}, not an object")
            return
        for key in ("url", "mime_type"):
            if key not in attachment:
                self.sink.error("bad-enclosure", f"{name}.{key} is missing")
        self.fields(attachment, _ATTACHMENT_FIELDS, f"{name}.")

    def items(self, items: list[Any]) -> None:
        ids: dict[str, int] = {}
        for i, item in enumerate(items):
            name = f"items[{i}]"
            if not isinstance(item, dict):
                self.sink.error("bad-type", f"{name} is {_json_type(item)}, not an object")
                continue
            if "id" not in item:
                self.sink.error("missing-field", f"{name}.id is missing")
            elif isinstance(item["id"], str) and item["id"].strip():
                if item["id"] in ids:
                    self.sink.error(
                        "duplicate-id",
                        f"{name}.id {_show(item['id'])} repeats items[{ids[item['id']]}]",
                    )
                else:
                    ids[item["id"]] = i
            if not any(isinstance(item.get(k), str) for k in ("content_html", "content_text")):
                self.sink.error(
                    "missing-field", f"{name} has neither content_html nor content_text"
                )
            self.fields(item, _ITEM_FIELDS, f"{name}.")
            content = item.get("content_html")
            if isinstance(content, str):
                self.html.check_text(content, f"{name}.content_html", None, relative=True)


def _seen_from_json(feed: dict[str, Any]) -> list[_Seen]:
    """What a reader sees of each JSON Feed item (authors inherit the feed's, per the spec)."""

    def string(obj: dict[str, Any], key: str) -> str | None:
        value = obj.get(key)
        return value if isinstance(value, str) else None

    def names(obj: dict[str, Any]) -> tuple[str, ...] | None:
        authors = obj.get("authors")
        if not isinstance(authors, list) or not authors:
            return None
        return tuple(
            str(a.get("name") or "").strip() if isinstance(a, dict) else "" for a in authors
        )

    def date(obj: dict[str, Any], key: str) -> datetime | None:
        value = string(obj, key)
        if value is None:
            return None
        try:
            return _utc_second(_parse_rfc3339(value.upper()))
        except ValueError:
            return None

    items = feed.get("items")
    if not isinstance(items, list):
        return []
    feed_authors = names(feed)
    seen: list[_Seen] = []
    for item in items:
        if not isinstance(item, dict):
            item = {}
        authors = names(item)
        seen.append(
            _Seen(
                line=None,
                fields=_ENTRY_FIELDS,
                read=EntryReading(
                    title=string(item, "title"),
                    link=string(item, "url"),
                    id=string(item, "id"),
                    authors=authors if authors is not None else feed_authors,
                    published=date(item, "date_published"),
                    updated=date(item, "date_modified"),
                    summary=string(item, "summary"),
                ),
            )
        )
    return seen
