"""The one place a post's fields are checked and typed, whatever format they came in.

Markdown front matter, a text file's ``Key: value`` header and HTML ``<meta>`` tags
all end up here as a mapping of keys to values, with the line of each key.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from feeds.dates import parse_date
from feeds.exceptions import ContentError
from feeds.model import (
    EMAIL,
    MAX_NAME_CHARS,
    Author,
    BodyFormat,
    EnclosureSource,
    Problem,
    Source,
    check_name,
    split_author,
)
from feeds.podcast import parse_duration
from feeds.render import absolute_url, clean_text, strip_illegal
from feeds.words import meant, shown

#: every key a post may set (SPEC §3); others are ignored with a warning
KNOWN_KEYS = (
    "title", "date", "updated", "author", "authors", "summary", "tags",
    "slug", "draft", "id", "link", "image", "enclosure", "duration",
    "published", "status", "password",
)  # fmt: skip

#: ``status`` values (Pelican, WordPress) of a post that is out for everyone to read
_PUBLIC_STATUS = frozenset({"publish", "published", "public", "live", "future"})

#: the most tags a post has: a thousand on one post made three thousand feeds, each
#: listing the thousand, and a run of minutes
MAX_TAGS = 100
#: unknown keys of one post named one by one; the others are counted in one warning (a
#: post of 300,000 keys printed 300,000 lines)
MAX_UNKNOWN_SHOWN = 10
#: the longest summary written in a post: longer ones are cut there (one of 8 MB took
#: minutes to render and sanitize, for every feed's entry)
MAX_SUMMARY_CHARS = 20_000
#: the most authors a post has, for the same reason (authors have feeds as tags do)
MAX_AUTHORS = 100

#: the largest enclosure length: JSON numbers beyond 2**53 lose their last digits in
#: most JSON Feed readers (9 PB; no file is near it)
MAX_ENCLOSURE_LENGTH = 2**53 - 1

#: the keys of an ``image`` written as a mapping (jekyll-seo-tag's, and ``url``)
_IMAGE_KEYS = ("path", "url", "alt", "width", "height")

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_MIME = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(\s*;.*)?")
#: a file name's leading date, as Jekyll reads one: month and day of one digit or two
_DATE_PREFIX = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[-_ .]+|$)")


def make_source(
    path: str,
    values: Mapping[str, object],
    lines: Mapping[str, int],
    *,
    body: str,
    body_format: BodyFormat,
    tz: ZoneInfo,
    warnings: Iterable[Problem] = (),
) -> Source:
    """Check and type a post's fields; return the Source, or raise ContentError.

    Keys match case-insensitively. ``lines`` gives the file line of each key (and of
    nested keys as ``key.sub``); errors and warnings point there. A missing or empty
    title is made from the file name with a ``no-title`` warning; an unknown key gives
    an ``unknown-key`` warning. Every text field comes out free of control characters
    and of characters XML 1.0 cannot hold.
    """
    fields = _Fields(path, values, lines)
    found = list(warnings)
    unknown = fields.unknown()
    for key in unknown[:MAX_UNKNOWN_SHOWN]:
        found.append(
            Problem(
                "warning",
                "unknown-key",
                f"unknown key '{key}' ignored{meant(key, KNOWN_KEYS)} (known: "
                f"{', '.join(KNOWN_KEYS)})",
                path,
                fields.line(key),
            )
        )
    if len(unknown) > MAX_UNKNOWN_SHOWN:
        found.append(
            Problem(
                "warning",
                "unknown-key",
                f"{len(unknown) - MAX_UNKNOWN_SHOWN:,} more unknown keys ignored",
                path,
                fields.line(unknown[MAX_UNKNOWN_SHOWN]),
            )
        )
    title = fields.text("title")
    if title is None:
        title = title_from_path(path)
        found.append(
            Problem("warning", "no-title", f"no title; using {title!r} from the file name", path)
        )
    date = fields.date("date", tz)
    if date is None and (named := _DATE_PREFIX.match(PurePosixPath(path).name)):
        # Jekyll's way: a post's date is the start of its file name.
        year, month, day = named.groups()
        with contextlib.suppress(ValueError):
            date = parse_date(f"{year}-{int(month):02d}-{int(day):02d}", tz)
    updated = fields.date("updated", tz)
    if date is not None and updated is not None and updated < date:
        found.append(
            Problem(
                "warning",
                "updated-before-date",
                "'updated' is earlier than 'date'; using 'date'",
                path,
                fields.line("updated"),
            )
        )
        updated = None
    draft = fields.boolean("draft") or _held_back(fields, path, found)
    authors = fields.authors()
    image = fields.image()
    tags = fields.tags()
    summary = fields.html("summary")
    found += fields.warnings
    return Source(
        path=path,
        title=title,
        date=date,
        updated=updated,
        authors=authors,
        summary=summary,
        tags=tags,
        slug=fields.text("slug"),
        draft=draft,
        id=fields.identifier("id"),
        link=fields.url("link", absolute=True),
        image=image,
        enclosure=fields.enclosure(),
        body=strip_illegal(body),
        body_format=body_format,
        warnings=tuple(found),
        duration=fields.duration(),
    )


def _held_back(fields: _Fields, path: str, found: list[Problem]) -> bool:
    """Whether another tool's marker keeps the post unpublished, as ``draft: true`` does:
    ``published: false`` and a ``_drafts`` folder (Jekyll), a ``status`` other than
    published (Pelican, WordPress: draft, hidden, private…), a ``password`` (WordPress).
    A ``status`` feeds does not know keeps it back too, with a warning."""
    raw = fields.raw
    if "published" not in raw and "password" not in raw and "status" not in raw:
        return path.startswith("_drafts/") or "/_drafts/" in path
    if path.startswith("_drafts/") or "/_drafts/" in path:
        return True
    if fields.get("published") is not None and not fields.boolean("published"):
        return True
    if fields.text("password"):
        return True
    status = fields.text("status")
    if status is None or status.lower() in _PUBLIC_STATUS:
        return False
    if status.lower() not in ("draft", "hidden", "private", "pending", "trash"):
        found.append(
            Problem(
                "warning",
                "unknown-status",
                f"status {status!r} is not one feeds knows; the post is kept unpublished "
                f"(published: {', '.join(sorted(_PUBLIC_STATUS))})",
                path,
                fields.line("status"),
            )
        )
    return True


@functools.lru_cache(maxsize=4096)
def shared_author(name: str, email: str | None = None, url: str | None = None) -> Author:
    """The one Author object for these values: a site has a few authors and many posts,
    and at 100,000 posts a copy each costs tens of megabytes."""
    return Author(name, email, url)


@functools.lru_cache(maxsize=4096)  # a site has a few hundred tags, on every post
def _tag(text: str) -> tuple[str, str]:
    """A tag as shown (clean text in NFC, one string object for every post) and the key
    that makes "Python" and "python" one tag."""
    tag = sys.intern(unicodedata.normalize("NFC", clean_text(text)))
    return tag.casefold(), tag


@functools.lru_cache(maxsize=4096)  # a site has a few authors, on every post
def _name(text: str) -> str:
    """An author's name as shown: in NFC, so that one name typed on two systems
    (``é`` as one character or as ``e`` and an accent) is one author, spelled one way."""
    return unicodedata.normalize("NFC", clean_text(text))


def without_date(stem: str) -> str:
    """A file name's stem without a leading date: ``2024-01-05-my-post`` (or
    ``2024-1-5-my-post``) → ``my-post`` (empty when the stem is only a date)."""
    return _DATE_PREFIX.sub("", stem)


def title_from_path(path: str) -> str:
    """A title made from a file name: ``2024-01-05-my_first-post.md`` → ``My first post``.

    A leading date is dropped and dashes and underscores become spaces; for
    ``folder/index.md`` the folder names the post.
    """
    p = PurePosixPath(path)
    stem = p.stem
    if stem.lower() == "index" and p.parent.name:
        stem = p.parent.name
    words = clean_text(re.sub(r"[-_]+", " ", without_date(stem)))
    if not words:
        words = clean_text(stem) or "Untitled"
    return words[0].upper() + words[1:]


class _Fields:
    """The post's raw values with their lines; each method types one kind of field."""

    def __init__(self, path: str, values: Mapping[str, object], lines: Mapping[str, int]) -> None:
        self.path = path
        self.lines = lines
        #: warnings about values that were read all the same
        self.warnings: list[Problem] = []
        #: lowercase key → (key as written, value)
        self.raw: dict[str, tuple[str, object]] = {}
        for key, value in values.items():
            lower = key.lower()
            if lower in self.raw:
                raise ContentError(path, lines.get(key), f"duplicate key '{key}'")
            self.raw[lower] = (key, value)

    def unknown(self) -> list[str]:
        return [written for lower, (written, _) in self.raw.items() if lower not in KNOWN_KEYS]

    def line(self, key: str) -> int | None:
        """The line of ``key`` (as written or lowercase, possibly dotted), or of its parent."""
        head, _, rest = key.partition(".")
        written = self.raw.get(head.lower(), (head, None))[0]
        dotted = f"{written}.{rest}" if rest else written
        while True:
            if dotted in self.lines:
                return self.lines[dotted]
            if "." not in dotted:
                return None
            dotted = dotted.rsplit(".", 1)[0]

    def error(self, key: str, message: str) -> ContentError:
        return ContentError(self.path, self.line(key), message)

    def get(self, key: str) -> object:
        return self.raw.get(key, (key, None))[1]

    def text(self, key: str) -> str | None:
        """One line of text (numbers are taken as text); None when absent or empty."""
        value = self.get(key)
        if value is None:
            return None
        return self._one_line(key, value) or None

    def _one_line(self, key: str, value: object, what: str = "") -> str:
        """``value`` as one line of clean text; ``what`` names it in errors (default: key)."""
        what = what or f"'{key}'"
        if isinstance(value, bool):
            # YAML reads yes/no/on/off as booleans; the original spelling is lost.
            raise self.error(key, f"{what} must be text; put it in quotes")
        if isinstance(value, int | float | str):
            return clean_text(str(value))
        raise self.error(key, f"{what} must be text, not {_kind(value)}")

    def html(self, key: str) -> str | None:
        """HTML text, kept as written apart from illegal characters; None when empty."""
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.error(key, f"'{key}' must be text (HTML), not {_kind(value)}")
        cleaned = strip_illegal(str(value)).strip()
        if len(cleaned) > MAX_SUMMARY_CHARS:
            self.warnings.append(
                Problem(
                    "warning",
                    "summary-too-long",
                    f"'{key}' is over {MAX_SUMMARY_CHARS:,} characters: its first "
                    f"{MAX_SUMMARY_CHARS:,} are used (a summary is shown in every feed's "
                    "entry; the body is the place for more)",
                    self.path,
                    self.line(key),
                )
            )
            cleaned = cleaned[:MAX_SUMMARY_CHARS]
        return cleaned or None

    def date(self, key: str, tz: ZoneInfo) -> datetime | None:
        value = self.get(key)
        if value is None:
            return None
        try:
            return parse_date(value, tz)
        except ValueError as e:
            raise self.error(key, f"'{key}': {e}") from e

    def boolean(self, key: str) -> bool:
        value = self.get(key)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self.error(key, f"'{key}' must be true or false, not {shown(value)}")

    def tags(self) -> tuple[str, ...]:
        """A list of tags, or one comma-separated string; empty ones and repeats dropped."""
        value = self.get("tags")
        if value is None:
            return ()
        if isinstance(value, str):
            items: list[object] = list(value.split(","))
        elif isinstance(value, list):
            items = list(value)
        else:
            raise self.error(
                "tags", f"'tags' must be a list or comma-separated text, not {_kind(value)}"
            )
        tags: dict[str, str] = {}
        too_long = 0
        for item in items:
            if item is None:
                continue
            text = item if type(item) is str else self._one_line("tags", item, "each of 'tags'")
            key, tag = _tag(text)
            if len(tag) > MAX_NAME_CHARS:
                too_long += 1
                continue
            # "Python" and "python" are one tag; the first spelling wins.
            if tag:
                tags.setdefault(key, tag)
        if too_long:
            self.warnings.append(
                Problem(
                    "warning",
                    "tag-too-long",
                    f"{too_long} tag(s) over {MAX_NAME_CHARS} characters left out (a tag "
                    "is a feed's title, and every entry of the post's feeds lists it)",
                    self.path,
                    self.line("tags"),
                )
            )
        if len(tags) > MAX_TAGS:
            self.warnings.append(
                Problem(
                    "warning",
                    "too-many-tags",
                    f"{len(tags)} tags; only the first {MAX_TAGS} are used (each tag is a "
                    "feed, and each of its feeds lists every tag of the post)",
                    self.path,
                    self.line("tags"),
                )
            )
            return tuple(tags.values())[:MAX_TAGS]
        return tuple(tags.values())

    def authors(self) -> tuple[Author, ...]:
        """``author`` (a name or {name, email, url}) then ``authors`` (a list of those, or
        comma-separated names); a name given twice counts once."""
        found: list[Author] = []
        one = self.get("author")
        if isinstance(one, list):
            found.extend(self._author("author", item) for item in one if item is not None)
        elif one is not None:
            found.append(self._author("author", one))
        many = self.get("authors")
        if isinstance(many, str):
            many = [name for name in many.split(",") if name.strip()]
        elif isinstance(many, dict):
            many = [many]
        if isinstance(many, list):
            found.extend(self._author("authors", item) for item in many if item is not None)
        elif many is not None:
            raise self.error("authors", f"'authors' must be a list of names, not {_kind(many)}")
        # One person named twice is one author; the first mention wins.
        unique: dict[str, Author] = {}
        for author in found:
            unique.setdefault(author.name.casefold(), author)
        if len(unique) > MAX_AUTHORS:
            key = "authors" if "authors" in self.lines else "author"
            self.warnings.append(
                Problem(
                    "warning",
                    "too-many-authors",
                    f"{len(unique)} authors; only the first {MAX_AUTHORS} are used (each "
                    "author is a feed, and each of its feeds lists every author of the post)",
                    self.path,
                    self.line(key),
                )
            )
            return tuple(unique.values())[:MAX_AUTHORS]
        return tuple(unique.values())

    def _author(self, key: str, value: object) -> Author:
        if isinstance(value, dict):
            unknown = sorted(str(k) for k in value if k not in ("name", "email", "url"))
            if unknown:
                # As a post's own unknown keys: other tools write more of an author
                # (twitter, login, display_name…), and the post is still good.
                self.warnings.append(
                    Problem(
                        "warning",
                        "unknown-key",
                        f"'{key}' key(s) {', '.join(unknown)} ignored (known: name, email, url)",
                        self.path,
                        self.line(key),
                    )
                )
            email = value.get("email")
            if email is not None:
                email = self._one_line(f"{key}.email", email)
                if not EMAIL.fullmatch(email):
                    raise self.error(
                        f"{key}.email", f"'{key}.email' is not an e-mail address: {email!r}"
                    )
            name = self._one_line(f"{key}.name", value.get("name", ""))
            # An author known by an address alone is shown by it, as a bare address is.
            name = unicodedata.normalize("NFC", name) or email or ""
            if not name:
                raise self.error(key, f"'{key}' needs a name or an email")
            if len(name) > MAX_NAME_CHARS:
                raise self.error(f"{key}.name", f"'{key}.name' is over {MAX_NAME_CHARS} characters")
            try:
                check_name(name)
            except ValueError as e:
                raise self.error(f"{key}.name", f"'{key}.name' {e}") from None
            url = value.get("url")
            if url is not None:
                url = self._one_line(f"{key}.url", url)
                if not _is_absolute(url):
                    raise self.error(f"{key}.url", f"'{key}.url' must be an absolute http(s) URL")
            return shared_author(name, email or None, url or None)
        if isinstance(value, list):
            raise self.error(key, f"each of '{key}' must be a name or {{name, email, url}}")
        name = _name(value) if type(value) is str else self._one_line(key, value)
        if not name:
            raise self.error(key, f"'{key}' has an empty name")
        if len(name) > MAX_NAME_CHARS + 256:  # room for an address beside the name
            raise self.error(key, f"'{key}' is over {MAX_NAME_CHARS} characters")
        try:
            name, email = split_author(name)
        except ValueError as e:
            raise self.error(key, f"'{key}' {e}") from None
        if len(name) > MAX_NAME_CHARS:
            raise self.error(key, f"'{key}' is over {MAX_NAME_CHARS} characters")
        return shared_author(name, email)

    def identifier(self, key: str) -> str | None:
        """An entry id: an absolute URI, as Atom requires (``tag:``, ``urn:``, ``https:``…)."""
        value = self.text(key)
        if value is None:
            return None
        # The validator's own rule, here at the key's line: an id it would refuse
        # would otherwise stop every feed from being published.
        from feeds.validate import id_problem

        problem = id_problem(value)
        if problem is not None:
            raise self.error(key, f"'{key}' {problem}: {value!r}")
        return value

    def url(self, key: str, *, absolute: bool) -> str | None:
        value = self.text(key)
        if value is None:
            return None
        if absolute and not _is_absolute(value):
            raise self.error(key, f"'{key}' must be an absolute http(s) URL, not {value!r}")
        if _scheme(value) not in ("", "http", "https"):
            raise self.error(key, f"'{key}' must be an http(s) URL or a relative path")
        if absolute:
            # As a browser takes it: spaces and other characters a URL cannot hold
            # literally percent-encoded (readers are given URIs).
            encoded = absolute_url(value, value)
            if encoded is None or not _is_absolute(encoded) or not _port_ok(encoded):
                raise self.error(key, f"'{key}' is not a URL: {value!r}")
            return encoded
        return value

    def image(self) -> str | None:
        """``image``: a URL, or a mapping with its ``path`` (jekyll-seo-tag's way) or its
        ``url``; ``alt``, ``width`` and ``height`` there are left out (a feed names an
        image alone), other keys too, with a warning."""
        value = self.get("image")
        if not isinstance(value, dict):
            return self.url("image", absolute=False)
        keys = {str(k).lower(): k for k in value}
        unknown = sorted(str(k) for k in value if str(k).lower() not in _IMAGE_KEYS)
        if unknown:
            self.warnings.append(
                Problem(
                    "warning",
                    "unknown-key",
                    f"'image' key(s) {', '.join(unknown)} ignored (known: "
                    f"{', '.join(_IMAGE_KEYS)})",
                    self.path,
                    self.line("image"),
                )
            )
        given = [k for k in ("path", "url") if k in keys and value[keys[k]] is not None]
        if len(given) != 1:
            raise self.error("image", "'image' must be a URL, or a mapping with 'path' or 'url'")
        key = f"image.{keys[given[0]]}"
        url = self._one_line(key, value[keys[given[0]]], f"'image.{given[0]}'")
        if not url:
            return None
        if _scheme(url) not in ("", "http", "https"):
            raise self.error(key, f"'image.{given[0]}' must be an http(s) URL or a relative path")
        return url

    def enclosure(self) -> EnclosureSource | None:
        """``{url, length, type}``; length and type may be left out (they are read from
        the file when the URL points into the site, and required otherwise)."""
        value = self.get("enclosure")
        if value is None:
            return None
        if isinstance(value, str):
            value = {"url": value}
        if not isinstance(value, dict):
            raise self.error(
                "enclosure", "'enclosure' must be a URL or a mapping {url, length, type}"
            )
        unknown = sorted(str(k) for k in value if k not in ("url", "length", "type"))
        if unknown:
            raise self.error("enclosure", f"'enclosure' has unknown key(s) {', '.join(unknown)}")
        if value.get("url") is None:
            raise self.error("enclosure", "'enclosure' needs 'url'")
        url = self._one_line("enclosure.url", value["url"])
        if not url or _scheme(url) not in ("", "http", "https"):
            raise self.error("enclosure.url", "'enclosure.url' must be an http(s) URL or a path")
        length = value.get("length")
        if isinstance(length, str) and length.strip().isdigit() and len(length.strip()) < 20:
            length = int(length)
        if length is not None and (
            isinstance(length, bool) or not isinstance(length, int) or length < 0
        ):
            raise self.error("enclosure.length", "'enclosure.length' must be a size in bytes")
        if length is not None and length > MAX_ENCLOSURE_LENGTH:
            raise self.error(
                "enclosure.length",
                f"'enclosure.length' {shown(length)} is too large to be a size in bytes "
                f"(at most {MAX_ENCLOSURE_LENGTH:,}: JSON readers lose larger numbers)",
            )
        mime = value.get("type")
        if mime is not None:
            mime = self._one_line("enclosure.type", mime)
            if not _MIME.fullmatch(mime):
                raise self.error(
                    "enclosure.type", f"'enclosure.type' must be a MIME type, not {mime!r}"
                )
        return EnclosureSource(url, length, mime, self.line("enclosure.url"))

    def duration(self) -> int | None:
        """An episode's length: seconds, or ``H:MM:SS`` / ``M:SS``."""
        value = self.get("duration")
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError as e:
            raise self.error("duration", f"'duration' {e}") from e


def _scheme(url: str) -> str | None:
    """The URL's scheme in lowercase, ``""`` for a relative URL, None if it cannot be parsed."""
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return None


def _is_absolute(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _port_ok(url: str) -> bool:
    """Whether ``url``'s port, if it names one, is a port (0-65535)."""
    try:
        urlsplit(url).port  # noqa: B018 (ValueError for a port out of range)
    except ValueError:
        return False
    return True


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return type(value).__name__
