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
3. **Format rules.** Dates (RFC 822 in RSS, RFC 3339 in Atom and JSON Feed),
   absolute http(s) URLs, unique ids, exactly one self link equal to the URL
   the feed is served from, the WebSub hub link when one is asked for, canonical
   namespace URIs, required elements and fields, and the W3C validator's
   warnings worth meeting (duplicate Atom ``updated``, relative URLs and
   scripts in content, implausible dates).
   RFC 5005 archived feeds: ``current``, ``prev-archive`` and ``next-archive``
   links at most once each, never to the document itself, and an ``fh:archive``
   page with a ``current`` link and a link along the chain; when the links the
   feed was built with are given, exactly those.

Problem codes; the level of a code never varies:

========================  =======  ==============================================
code                      level    meaning
========================  =======  ==============================================
unknown-format            error    neither JSON nor an XML document rooted at rss/feed
wrong-format              error    the document is not in the format asked for
not-well-formed           error    the strict XML parser rejected the document
entity-declaration        error    a DOCTYPE declares entities
entity-reference          error    an entity reference is left unexpanded
doctype                   warning  a DOCTYPE without entity declarations
bad-encoding              error    JSON that is not UTF-8
not-json                  error    the JSON parser rejected the document
duplicate-key             error    a JSON object repeats a key
bad-number                error    NaN or Infinity in JSON
bozo                      error    feedparser flagged the document
entry-count               error    the feed holds another number of entries than built
entry-mismatch            error    an entry's field differs from the post it was built from
reader-mangled            warning  feedparser reads a field otherwise (text it takes for mojibake)
bad-version               error    RSS version attribute or JSON Feed version is wrong
old-version               warning  JSON Feed 1.0 (checked against the 1.1 rules)
bad-namespace             error    a well-known prefix or the Atom root bound to another URI
missing-element           error    a required element (or an entry's author) is absent
duplicate-element         error    an element that may appear once appears again
unknown-element           warning  an RSS element in no namespace that RSS 2.0 does not define
duplicate-semantics       warning  an RSS item says one thing twice (author and dc:creator…)
bad-attribute             error    an attribute holds a value its element does not allow
bad-xhtml                 error    Atom xhtml content that is not a single xhtml div
missing-field             error    a required JSON Feed field is absent or empty
bad-type                  error    a JSON Feed field of the wrong type
unknown-field             warning  a JSON Feed field that is neither defined nor ``_``-prefixed
deprecated-field          warning  JSON Feed 1.0's ``author`` field
bad-date                  error    not an RFC 822 (RSS) or RFC 3339 (Atom, JSON) date
bad-weekday               error    an RFC 822 date whose weekday is not that of its date
problematic-date          warning  RFC 822, but lowercase, two-digit year, odd spacing or zone
implausible-date          warning  a date before 1990 or more than a day after ``now``
bad-url                   error    a link that is not an absolute http(s) URL
bad-id                    error    an Atom id that is not a valid URI, or a blank JSON id
bad-guid                  error    an RSS permalink guid that is not an absolute http(s) URL
duplicate-id              error    two entries share an id or guid
missing-self              error    no self link (RSS/Atom) or feed_url (JSON)
duplicate-self            error    more than one self link
self-mismatch             error    the self link is not the URL the feed is served from
missing-hub               error    the WebSub hub asked for is not linked (rel="hub", JSON hubs)
duplicate-alternate       error    two Atom alternate links with one type and hreflang
bad-email                 error    an RSS author/managingEditor/webMaster without an e-mail
bad-enclosure             error    an enclosure or attachment without a length or type
duplicate-updated         warning  two Atom entries share one ``updated``
undeclared-html           warning  HTML markup in an Atom text construct of type text
relative-url              warning  a relative href/src/srcset inside content HTML
security-risk             warning  script, iframe, event handlers or javascript: URLs in content
duplicate-link            error    two feed-level RFC 5005 links (current, prev-archive…) of one rel
archive-link              error    an RFC 5005 link that leads back to the document itself
archive-conflict          error    marked both ``fh:archive`` and ``fh:complete``
archive-without-current   warning  an ``fh:archive`` document without a ``current`` link
archive-incomplete        warning  an ``fh:archive`` document with no prev- or next-archive link
history-rel-in-entry      warning  an RFC 5005 link inside an item or entry, where it means nothing
history-mismatch          error    RFC 5005 links or ``fh:archive`` differ from what was built
bad-itunes                error    an iTunes tag podcast apps refuse (explicit, duration, category)
itunes-incomplete         warning  a podcast channel without itunes:category or itunes:explicit
bad-stylesheet            error    an xml-stylesheet instruction without its type or href
========================  =======  ==============================================
"""

from __future__ import annotations

import html
import io
import itertools
import json
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, cast
from urllib.parse import urljoin, urlsplit
from xml.parsers import expat
from xml.sax import SAXParseException

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import replace_doctype
from lxml import etree

from feeds.model import FH_NS, Level, Post, Problem
from feeds.podcast import CATEGORIES

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
# of reading a small entry. expat is what it ends up with anyway.
feedparser.api.PREFERRED_XML_PARSERS = []

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
) -> tuple[Problem, ...]:
    """Validate one feed document and return every problem found, in the order found.

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

    The feed is valid when no problem has level ``"error"``. Never raises
    for any bytes; raises ValueError only for an ``fmt`` not in :data:`FORMATS`.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown feed format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    sink = _Sink(path, now)
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
    return tuple(sink.problems)


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

    def __init__(self, path: str | None, now: datetime | None) -> None:
        self.path = path
        self.now = now
        self.problems: list[Problem] = []

    def add(
        self, level: Level, code: str, message: str, line: int | None = None, col: int | None = None
    ) -> None:
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
        m = _RFC822_LAX_RE.fullmatch(text)
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

_URI_CHARS_RE: Final = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%\u00a0-\U0010ffff]*")
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
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "is not an absolute http(s) URL"
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
    if scheme in ("http", "https"):
        return _http_url_problem(value)
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


class _HtmlChecker:
    """Scans HTML strings from one feed for security risks and relative URLs.

    ``scans`` keeps what scanning a string found, for strings seen again: a post's
    summary and content are in every feed that holds it.
    """

    def __init__(self, sink: _Sink, scans: dict[tuple[str, bool], _Findings]) -> None:
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
    title: str | None
    link: str | None
    id: str | None
    #: None when the entry names no author (and inherits none)
    authors: tuple[str, ...] | None
    published: datetime | None
    updated: datetime | None
    summary: str | None


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
    for number, (post, entry) in enumerate(zip(expected, seen, strict=True), 1):
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
        for field in entry.fields:
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
                    entry.line,
                )
                continue
            sink.error(
                "entry-mismatch",
                f"entry {number} {field}: expected {_show(_plain(wanted))}, "
                f"found {_show(_plain(found))}",
                entry.line,
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
    _check_tree(root, sink)
    elements = _entry_elements(root, found)
    feed_authors, entries = _reparse(data, root, elements, found, memo, sink)
    html_checker = _HtmlChecker(sink, memo.scans)
    if found == "rss":
        _check_rss(root, elements, url, sink, html_checker)
        head = root.find("channel")
    else:
        _check_atom(root, elements, url, sink, html_checker)
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
            sink.error(
                "bad-namespace",
                f"prefix {prefix}: is bound to {_show(namespace)}, "
                f"not {CANONICAL_NAMESPACES[prefix]}",
                _line(node),
            )


def _reparse(
    data: bytes,
    root: etree._Element,
    elements: Sequence[etree._Element],
    fmt: str,
    memo: EntryMemo,
    sink: _Sink,
) -> tuple[tuple[str, ...] | None, list[tuple[etree._Element | None, _ParsedEntry]]]:
    """feedparser's reading of the document, in parts; reports ``bozo``.

    Returns the feed's author names and every entry feedparser found, each with
    the element it was read from: one of ``elements`` (the items or entries),
    or None for one it found in the head, where the checks see none. A
    document feedparser flags as a whole has that one bozo problem; otherwise
    the head and each entry may have one.
    """
    whole = _whole_document_bozo(data)
    if whole is not None:
        sink.error("bozo", f"feedparser flags the feed: {whole.detail}", whole.line, whole.col)
    head, line = _read_head(root, elements)
    if head.bozo is not None and whole is None:
        sink.error("bozo", f"feedparser flags the feed: {head.bozo.detail}", line)

    label = "item" if fmt == "rss" else "entry"
    entries: list[tuple[etree._Element | None, _ParsedEntry]] = []
    wrappers: dict[etree._Element, tuple[bytes, bytes, int]] = {}
    for number, element in enumerate(elements, 1):
        parent = _parent(element)
        if parent not in wrappers:
            wrappers[parent] = _wrapper(parent)
        start, end, depth = wrappers[parent]
        document = start + etree.tostring(element, encoding="utf-8", with_tail=False) + end
        parsed = memo.read(document)
        if parsed.bozo is not None and whole is None:
            at = _line(element)
            if parsed.bozo.line is not None:
                originals = [None] * depth + list(element.iter("*"))
                at = _line_in_original(document, parsed.bozo.line, originals) or at
            sink.error("bozo", f"feedparser flags {label} {number}: {parsed.bozo.detail}", at)
        entries += [(element, entry) for entry in parsed.entries]
    entries += [(None, entry) for entry in head.entries]
    return head.authors, entries


def _entry_elements(root: etree._Element, fmt: str) -> list[etree._Element]:
    """The items (RSS: of the first <channel>) or entries (Atom) that the checks
    look at and the posts pair with, in document order."""
    if fmt == "rss":
        channel = root.find("channel")
        return [] if channel is None else channel.findall("item")
    if etree.QName(root).namespace != ATOM_NS:
        return []
    return root.findall(f"{_A}entry")


def _whole_document_bozo(data: bytes) -> _Bozo | None:
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
            return _Bozo(f"SAXParseException: {expat.ErrorString(e.code)}", e.lineno, e.offset)
    return _bozo(result["bozo_exception"]) if result.get("bozo") else None


def _read_head(
    root: etree._Element, elements: Sequence[etree._Element]
) -> tuple[_Parsed, int | None]:
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
        head = _feedparse(document)
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


@dataclass(frozen=True)
class _Bozo:
    """Why feedparser flagged a document, and where (in that document)."""

    detail: str
    line: int | None
    col: int | None


@dataclass(frozen=True)
class _ParsedEntry:
    """What feedparser read of an entry, of the fields compared with posts."""

    title: str | None
    link: str | None
    id: str | None
    #: None when the entry names no author
    authors: tuple[str, ...] | None
    published: datetime | None
    updated: datetime | None
    summary: str | None


@dataclass(frozen=True)
class _Parsed:
    """What feedparser read of one document: a feed's head or one wrapped entry."""

    bozo: _Bozo | None
    #: the feed's own author names (Atom entries without authors inherit them)
    authors: tuple[str, ...] | None
    entries: tuple[_ParsedEntry, ...]


class EntryMemo:
    """feedparser's reading of the entry documents it has read, by their bytes.

    The feeds of a site share entries: a post's item is the same bytes in the site
    feed and in its tags' and authors' feeds. Passing one memo to every
    :func:`validate_feed` of a run has feedparser read each of them once. It
    keeps what feedparser read, never a verdict: every feed still compares its
    entries with its own posts. HTML scans of the summaries and contents are
    kept the same way. Not for sharing between threads.
    """

    def __init__(self) -> None:
        self._read: dict[bytes, _Parsed] = {}
        #: what scanning an HTML string for risks and relative URLs found
        self.scans: dict[tuple[str, bool], _Findings] = {}

    def __len__(self) -> int:
        """How many distinct entry documents feedparser has read."""
        return len(self._read)

    def read(self, document: bytes) -> _Parsed:
        """feedparser's reading of ``document`` (a wrapped entry), read once."""
        parsed = self._read.get(document)
        if parsed is None:
            parsed = self._read[document] = _feedparse(document)
        return parsed


def _feedparse(document: bytes) -> _Parsed:
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
        entries = tuple(
            _ParsedEntry(
                title=entry.get("title"),
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
    return _Parsed(bozo, _author_names(parsed.feed.get("authors")), entries)


def _bozo(exc: BaseException | None) -> _Bozo:
    """A bozo exception as a problem's detail and position."""
    if exc is None:
        return _Bozo("no detail", None, None)
    if isinstance(exc, SAXParseException):
        # Its position goes in the problem's line and column, mapped to the document.
        return _Bozo(
            f"{type(exc).__name__}: {exc.getMessage()}",
            exc.getLineNumber(),
            exc.getColumnNumber(),
        )
    return _Bozo(f"{type(exc).__name__}: {exc}", None, None)


def _seen_from_feedparser(
    entries: Sequence[tuple[etree._Element | None, _ParsedEntry]],
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
                title=entry.title,
                link=entry.link,
                id=entry.id,
                authors=entry.authors if entry.authors is not None else inherited,
                published=entry.published,
                updated=entry.updated,
                summary=entry.summary,
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


def _check_once(
    parent: etree._Element,
    tag: str,
    label: str,
    sink: _Sink,
    *,
    required: bool,
) -> etree._Element | None:
    """The one ``tag`` child of ``parent``; reports it missing (when required) or repeated."""
    found = parent.findall(tag)
    if not found:
        if required:
            sink.error("missing-element", f"{label} has no <{_local(tag)}>", _line(parent))
        return None
    for extra in found[1:]:
        sink.error("duplicate-element", f"{label} has more than one <{_local(tag)}>", _line(extra))
    return found[0]


def _local(tag: str) -> str:
    """The local part of a Clark-notation tag."""
    return tag.rpartition("}")[2]


def _resolved(element: etree._Element, reference: str) -> str:
    """``reference`` resolved against the element's xml:base, if it has one."""
    base = element.base
    return urljoin(base, reference) if base else reference


def _check_url(value: str, what: str, line: int | None, sink: _Sink) -> None:
    """Report ``value`` unless it is an absolute http(s) URL."""
    problem = _http_url_problem(value)
    if problem:
        sink.error("bad-url", f"{what} {_show(value)} {problem}", line)


def _check_hub(hubs: Sequence[str], hub: str, where: str, sink: _Sink) -> None:
    """``hub`` is among the hubs the feed names (without it, subscribers never hear of it)."""
    if hub not in hubs:
        named = f" (it names {', '.join(_show(h) for h in hubs)})" if hubs else ""
        sink.error("missing-hub", f"{where} does not link to the WebSub hub {hub}{named}")


def _check_self_links(
    links: Sequence[tuple[str, int | None]], url: str | None, where: str, sink: _Sink
) -> None:
    """Exactly one self link, and it is ``url`` (when known)."""
    if not links:
        sink.error("missing-self", f'{where} has no rel="self" link')
        return
    for _href, line in links[1:]:
        sink.error("duplicate-self", f'{where} has more than one rel="self" link', line)
    href, line = links[0]
    if url is not None and href != url:
        sink.error("self-mismatch", f"self link {_show(href)} is not {url}", line)


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

_RSS_CHANNEL_ONCE: Final = (
    "language",
    "copyright",
    "managingEditor",
    "webMaster",
    "pubDate",
    "lastBuildDate",
    "generator",
    "docs",
    "cloud",
    "ttl",
    "image",
    "rating",
    "textInput",
    "skipHours",
    "skipDays",
)
_RSS_CHANNEL_MANY: Final = frozenset(("category", "item"))
_RSS_ITEM_ONCE: Final = (
    "title",
    "link",
    "description",
    "author",
    "comments",
    "guid",
    "pubDate",
    "source",
)
_RSS_ITEM_MANY: Final = frozenset(("category", "enclosure"))
_EMAIL_RE: Final = re.compile(r"[^@\s()<>]+@[^@\s()<>]+\.[^@\s()<>]+(?:\s+\(.*\))?")


def _check_rss(
    root: etree._Element,
    items: Sequence[etree._Element],
    url: str | None,
    sink: _Sink,
    html_checker: _HtmlChecker,
) -> None:
    """RSS 2.0 rules; ``items`` are the <item> elements of the channel."""
    version = root.get("version")
    if version not in ("2.0", "0.91", "0.92"):
        sink.error("bad-version", f'<rss> version is {_show(version)}, not "2.0"', _line(root))
    channel = _check_once(root, "channel", "<rss>", sink, required=True)
    if channel is None:
        return
    known = {"title", "link", "description", *_RSS_CHANNEL_ONCE, *_RSS_CHANNEL_MANY}
    for tag in ("title", "link", "description"):
        _check_once(channel, tag, "<channel>", sink, required=True)
    for tag in _RSS_CHANNEL_ONCE:
        _check_once(channel, tag, "<channel>", sink, required=False)

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
        elif tag == "image":
            for part in ("url", "link"):
                el = child.find(part)
                if el is not None:
                    _check_url(_text(el), f"<image> <{part}>", _line(el), sink)
        elif tag == _ATOM_LINK:
            href = _resolved(child, child.get("href", ""))
            _check_url(href, "atom:link href", _line(child), sink)
            if child.get("rel") == "self":
                self_links.append((href, _line(child)))
        elif tag.startswith(_IT):
            _check_itunes_channel(child, sink)
        elif "}" not in tag and tag not in known:
            sink.warning(
                "unknown-element", f"<{tag}> is not an RSS 2.0 channel element", _line(child)
            )
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
        _check_rss_item(item, number, guids, sink, html_checker)


def _check_rss_item(
    item: etree._Element,
    number: int,
    guids: dict[str, int | None],
    sink: _Sink,
    html_checker: _HtmlChecker,
) -> None:
    """The rules of one RSS <item>; ``guids`` collects the guids seen so far."""
    label = f"item {number}"
    for tag in _RSS_ITEM_ONCE:
        _check_once(item, tag, label, sink, required=False)
    if item.find("title") is None and item.find("description") is None:
        sink.error("missing-element", f"{label} has neither <title> nor <description>", _line(item))
    known = {*_RSS_ITEM_ONCE, *_RSS_ITEM_MANY}
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
        elif "}" not in tag and tag not in known:
            sink.warning("unknown-element", f"<{tag}> is not an RSS 2.0 item element", line)
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
    if not _EMAIL_RE.fullmatch(text):
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
        sink.error("bad-guid", f"{label} has an empty <guid>", line)
        return
    if permalink == "true":
        problem = _http_url_problem(text)
        if problem:
            sink.error(
                "bad-guid",
                f'{label} guid {_show(text)} {problem}; mark it isPermaLink="false"',
                line,
            )
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


def _check_atom(
    root: etree._Element,
    entries: Sequence[etree._Element],
    url: str | None,
    sink: _Sink,
    html_checker: _HtmlChecker,
) -> None:
    """RFC 4287 rules; ``entries`` are the <entry> elements of the feed."""
    namespace = etree.QName(root).namespace
    if namespace != ATOM_NS:
        sink.error(
            "bad-namespace",
            f"<feed> is in namespace {_show(namespace)}, not {ATOM_NS} (Atom 1.0)",
            _line(root),
        )
        return
    _check_atom_common(root, "<feed>", sink, html_checker)
    _atom_date(root, "updated", "<feed>", sink, required=True)
    for tag in ("icon", "logo"):
        el = _check_once(root, f"{_A}{tag}", "<feed>", sink, required=False)
        if el is not None:
            _check_url(_resolved(el, _text(el)), f"<feed> <{tag}>", _line(el), sink)
    _check_once(root, f"{_A}subtitle", "<feed>", sink, required=False)
    _check_once(root, f"{_A}generator", "<feed>", sink, required=False)
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
        entry_id = _check_atom_common(entry, label, sink, html_checker)
        if entry_id is not None:
            if entry_id in ids:
                sink.error(
                    "duplicate-id",
                    f"{label} id {_show(entry_id)} repeats line {ids[entry_id]}",
                    _line(entry),
                )
            else:
                ids[entry_id] = _line(entry)
        when = _atom_date(entry, "updated", label, sink, required=True)
        if when is not None:
            if when in updated:
                sink.warning(
                    "duplicate-updated",
                    f"{label} has the same <updated> as the entry at line {updated[when]}",
                    _line(entry),
                )
            else:
                updated[when] = _line(entry)
        _atom_date(entry, "published", label, sink, required=False)
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
        _check_once(entry, f"{_A}summary", label, sink, required=False)
        content = _check_once(entry, f"{_A}content", label, sink, required=False)
        if content is not None:
            if content.get("src") is not None:
                _check_url(
                    _resolved(content, content.get("src", "")),
                    f"{label} <content> src",
                    _line(content),
                    sink,
                )
            else:
                _check_text_construct(content, label, sink, html_checker, content=True)
        alternates = [
            link
            for link in entry.findall(f"{_A}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        if content is None and not alternates:
            sink.error(
                "missing-element",
                f'{label} has neither <content> nor a rel="alternate" link',
                _line(entry),
            )


def _check_atom_common(
    element: etree._Element, label: str, sink: _Sink, html_checker: _HtmlChecker
) -> str | None:
    """What feed and entry share: id, title, text constructs, links, authors. Returns the id."""
    title = _check_once(element, f"{_A}title", label, sink, required=True)
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
        _check_url(_resolved(link, href), f'{label} link rel="{rel}"', _line(link), sink)
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
            _check_once(person, f"{_A}name", f"{label} <{tag}>", sink, required=True)
            uri = person.find(f"{_A}uri")
            if uri is not None:
                _check_url(
                    _resolved(uri, _text(uri)),
                    f"{label} <{tag}> <uri>",
                    _line(uri),
                    sink,
                )

    id_element = _check_once(element, f"{_A}id", label, sink, required=True)
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
    date = _check_once(element, f"{_A}{name}", label, sink, required=required)
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
    "language": "str",
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
    "language": "str",
    "attachments": "attachments",
}
_ATTACHMENT_FIELDS: Final[dict[str, str]] = {
    "url": "url",
    "mime_type": "str",
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

    def __init__(self, sink: _Sink, scans: dict[tuple[str, bool], _Findings]) -> None:
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
        self.fields(feed, _FEED_FIELDS, "")
        feed_url = feed.get("feed_url")
        if feed_url is None:
            self.sink.error("missing-self", "feed_url is missing")
        elif isinstance(feed_url, str) and url is not None and feed_url != url:
            self.sink.error("self-mismatch", f"feed_url {_show(feed_url)} is not {url}")

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
        if kind in ("str", "url", "date", "id") and not isinstance(value, str):
            self.sink.error("bad-type", f"{name} is {_json_type(value)}, not a string")
        elif kind == "url":
            assert isinstance(value, str)
            problem = _http_url_problem(value)
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
        self.fields(author, {"name": "str", "url": "url", "avatar": "url"}, f"{name}.")

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
                title=string(item, "title"),
                link=string(item, "url"),
                id=string(item, "id"),
                authors=authors if authors is not None else feed_authors,
                published=date(item, "date_published"),
                updated=date(item, "date_modified"),
                summary=string(item, "summary"),
            )
        )
    return seen
