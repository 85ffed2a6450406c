"""The data model: frozen dataclasses that flow from content to feeds."""

from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, TypeVar

Level = Literal["error", "warning"]
BodyFormat = Literal["markdown", "html", "text"]

Class = TypeVar("Class", bound=type)


def pickled_by_fields(cls: Class) -> Class:
    """A frozen dataclass pickled as its field values, and unpickled by its ``__init__``.

    A first run sends every post read between processes (10,000 at a time); the default
    for a class with slots, a ``__setstate__`` that sets its fields one by one, takes
    two to three times as long each way.
    """
    names = tuple(field.name for field in fields(cls))
    if len(names) < 2:  # attrgetter gives a tuple for two names or more
        raise TypeError(f"{cls.__name__} has fewer than two fields")
    values = operator.attrgetter(*names)

    def __reduce__(self: Any) -> tuple[type, tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign,assignment]
    return cls


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Problem:
    """One thing worth telling the user: a skipped post, a warning, a validation failure."""

    level: Level
    #: short stable identifier, e.g. ``bad-date`` or ``bozo``
    code: str
    message: str
    #: the file (content path relative to content_dir, or a feed's output path)
    path: str | None = None
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.level}: {self.message}"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Author:
    name: str
    email: str | None = None
    url: str | None = None


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    #: size in bytes
    length: int
    #: MIME type, e.g. ``audio/mpeg``
    type: str


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class EnclosureSource:
    """An enclosure as a post gives it: for a file on this site, length and type may be
    left out, to be read from the file."""

    #: as written: absolute, or relative to the post's page
    url: str
    #: size in bytes, when given
    length: int | None
    #: MIME type, when given
    type: str | None
    #: the line of ``enclosure`` in the post file, for errors found later
    line: int | None = None


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Podcast:
    """What the iTunes tags of the site's RSS feed say about the show."""

    category: str
    subcategory: str | None
    explicit: bool
    #: absolute URL of the cover art (``.jpg`` or ``.png``)
    image: str | None
    #: who podcast directories contact: a name and an e-mail address
    owner: Author


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Source:
    """What a reader got out of one file: the post's own say, before the site fills the gaps."""

    #: path relative to content_dir, with ``/`` separators
    path: str
    title: str | None
    #: published; timezone-aware (naive values were placed in site.timezone by the reader)
    date: datetime | None
    updated: datetime | None
    authors: tuple[Author, ...]
    #: HTML as written in front matter (sanitized later), or None to derive one
    summary: str | None
    tags: tuple[str, ...]
    slug: str | None
    draft: bool
    #: an ``id`` pinned in front matter
    id: str | None
    #: canonical URL elsewhere
    link: str | None
    image: str | None
    enclosure: EnclosureSource | None
    #: the body, in ``body_format``: Markdown source, HTML, or already-paragraphed HTML for text
    body: str
    body_format: BodyFormat
    #: non-fatal findings while reading (e.g. Windows-1252 fallback, title made from file name)
    warnings: tuple[Problem, ...] = ()
    #: length of the episode (``duration``), in seconds
    duration: int | None = None


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Post:
    """A post ready to publish: every field resolved, HTML sanitized and made absolute."""

    #: path relative to content_dir, with ``/`` separators
    path: str
    #: stable id; survives edits, retitling, moves and permalink changes
    id: str
    slug: str
    #: absolute URL of the post: its canonical ``link`` if given, else the permalink
    url: str
    title: str
    published: datetime
    updated: datetime
    authors: tuple[Author, ...]
    #: sanitized HTML (a derived summary is escaped plain text)
    summary: str
    #: sanitized HTML with absolute URLs
    content: str
    tags: tuple[str, ...]
    image: str | None = None
    #: with an absolute URL, and length and type read from the file when it is on this site
    enclosure: Enclosure | None = None
    #: length of the episode, in seconds
    duration: int | None = None


FeedKind = Literal["site", "tag", "author"]

#: namespace of RFC 5005's ``fh:archive`` marker
FH_NS = "http://purl.org/syndication/history/1.0"


@dataclass(frozen=True)
class History:
    """A feed document's place in its RFC 5005 archive chain; links name output folders."""

    #: archive page number, 1 the oldest; None for the main feed
    page: int | None
    #: folder of the main feed: the ``current`` link of archive pages
    current: str
    #: folder of the next older archive page: the ``prev-archive`` link
    prev: str | None = None
    #: folder of the next newer archive page: the ``next-archive`` link
    next: str | None = None
    #: a complete archive page, whose bytes never change: marked ``fh:archive``
    complete: bool = False

    def links(self) -> dict[str, str]:
        """RFC 5005 link relation → folder, for the links this document carries."""
        found = {} if self.page is None else {"current": self.current}
        if self.prev is not None:
            found["prev-archive"] = self.prev
        if self.next is not None:
            found["next-archive"] = self.next
        return found


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed (in every format): what it is called, where it lives, which posts it holds."""

    kind: FeedKind
    #: tag or author name for tag/author feeds; empty for the site feed
    key: str
    #: output folder relative to output_dir: "" for the site, "tags/<slug>/" otherwise
    folder: str
    title: str
    description: str
    #: the site's base URL, absolute, ending in ``/``; also the home page (alternate link)
    base_url: str
    language: str
    #: newest first
    posts: tuple[Post, ...]
    #: the author of the feed when entries lack one (site default author)
    author: Author
    #: RFC 5005 links, when the site has archives (``feeds.archives``)
    history: History | None = None
    #: iTunes tags for this feed (the site feed, when ``podcast:`` is configured)
    podcast: Podcast | None = None

    def path(self, fmt: str) -> str:
        """Output path of this feed's file in format ``fmt``, relative to output_dir."""
        return f"{self.folder}{FEED_FILES[fmt]}"

    def url(self, fmt: str) -> str:
        """Absolute URL this feed's file in format ``fmt`` is served from (its self link)."""
        return f"{self.base_url}{self.path(fmt)}"

    def history_links(self, fmt: str) -> dict[str, str]:
        """RFC 5005 link relation → absolute URL of the linked document in format ``fmt``."""
        if self.history is None:
            return {}
        return {
            rel: f"{self.base_url}{folder}{FEED_FILES[fmt]}"
            for rel, folder in self.history.links().items()
        }


#: file name of each format, relative to the feed's folder
FEED_FILES: dict[str, str] = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}

#: an e-mail address, as far as feeds and its validator check one (RFC 5322's addr-spec,
#: without its quoted and bracketed forms)
EMAIL = re.compile(r"[^@\s()<>,;:\"\[\]]+@[^@\s()<>,;:\"\[\]]+")
#: the longest name of a post's author or tag: one is shown in every entry of its feeds,
#: and a feed per name lists every name of the post (names of 20,000 characters made
#: hundreds of megabytes of feeds, and the address patterns below took minutes over them)
MAX_NAME_CHARS = 200

#: what feedparser takes for an e-mail address in an author's name, and moves out of it
#: (its own pattern, as it matches: a top-level domain of two to four letters or one to
#: three digits, so it may take only part of an address)
_READER_ADDRESS = re.compile(
    r"[A-Za-z0-9_.+-]+@(?:\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.|(?:[A-Za-z0-9-]+\.)+)"
    r"(?:[A-Za-z]{2,4}|[0-9]{1,3})\]?(?:\?subject=\S+)?"
)
#: ``Name <address>``, ``address (Name)``, ``Name (address)``, ``mailto:address``
_NAMED_ADDRESS = (
    re.compile(r"(?P<name>[^<>]*?)\s*<(?:mailto:)?(?P<email>[^<>\s@]+@[^<>\s@]+)>"),
    re.compile(r"(?:mailto:)?(?P<email>[^()\s@]+@[^()\s@]+)\s*\((?P<name>[^()]*)\)"),
    re.compile(r"(?P<name>[^()]*?)\s*\((?:mailto:)?(?P<email>[^()\s@]+@[^()\s@]+)\)"),
    re.compile(r"(?P<name>)mailto:(?P<email>[^\s@]+@[^\s@]+)"),
)


@functools.lru_cache(maxsize=4096)  # a site has a few authors, on every post
def split_author(text: str) -> tuple[str, str | None]:
    """An author written as one string, as a name and an e-mail address: ``Name
    <address>``, ``address (Name)``, ``Name (address)``, or ``mailto:address``,
    ``<address>`` or a bare address (then the address is the name too), or a name alone.

    Raises ValueError for a name with an address elsewhere inside: feed readers would
    cut the address out of the name, and show another name than the one published.
    """
    if "@" not in text:  # no address: nothing for the forms below to find
        return text, None
    for form in _NAMED_ADDRESS:
        if match := form.fullmatch(text):
            email = match["email"]
            if not EMAIL.fullmatch(email):
                raise ValueError(f"{text!r}: {email!r} is not an e-mail address")
            name = match["name"].strip() or email
            if name != email:
                check_name(name)
            return name, email
    check_name(text)
    return text, text if EMAIL.fullmatch(text) else None


def check_name(name: str) -> None:
    """Raise ValueError when readers would take part of ``name`` for an e-mail address and
    cut it out. A name that is all one address is shown as it is."""
    found = _READER_ADDRESS.search(name) if "@" in name else None
    if found and found.group() != name:
        raise ValueError(
            f"{name!r}: readers take {found.group()!r} in it for an e-mail address and cut "
            "it out of the name; write 'Name <address>' or {name: Name, email: address}"
        )


#: a language tag (RFC 3066, as RSS and xml:lang take it): an ISO 639 code, then subtags
LANGUAGE_TAG = re.compile(r"(?:[A-Za-z]{2,3}|[iIxX])(?:-[A-Za-z0-9]{1,8})*")
