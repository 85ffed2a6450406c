"""What a run can reuse from the last one: post metadata and rendered HTML.

Pure: turns the caches into bytes and back. Every entry is checked before use (a
post's by its file's size, modification time and, when those moved, its digest),
and a cache that does not parse, or was written by another version or for another
time zone, is ignored and rebuilt: it is never trusted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from feeds.content.fields import shared_author
from feeds.model import EnclosureSource, Problem, Source

CACHE_VERSION = 3


@dataclass(frozen=True, slots=True)
class CachedPost:
    """One post file as a reader last read it."""

    size: int
    mtime_ns: int
    #: sha256 of the file's bytes
    digest: str
    #: the reader's result without its body (bodies are read again only when shown)
    source: Source
    #: False when the file changed too close to the run that read it for its
    #: size and time to prove it unchanged later: then its digest is checked
    settled: bool


@dataclass(frozen=True, slots=True)
class Caches:
    #: content path → cached metadata
    posts: Mapping[str, CachedPost]
    #: render key → (content HTML, summary HTML)
    rendered: Mapping[str, tuple[str, str]]


#: posts encoded at a time: the cache of a big site is written in pieces
_BATCH = 1000
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: the line between the posts and the rendered HTML
_RENDERED = b'"rendered"'


def dump_caches(caches: Caches, fingerprint: str) -> Iterator[bytes]:
    """The caches as JSON lines, in pieces (a site's whole cache is never one string in
    memory): a head, a line per post, ``"rendered"``, a line per rendered post, and the
    counts of both, which tell a cache cut short at the end of a line."""
    encode = _ENCODER.encode
    yield (encode({"fingerprint": fingerprint, "version": CACHE_VERSION}) + "\n").encode()
    posts = sorted(caches.posts.items())
    for start in range(0, len(posts), _BATCH):
        yield "".join(
            encode([path, c.size, c.mtime_ns, c.digest, c.settled, _source_out(c.source)]) + "\n"
            for path, c in posts[start : start + _BATCH]
        ).encode()
    yield _RENDERED + b"\n"
    rendered = sorted(caches.rendered.items())
    for start in range(0, len(rendered), _BATCH):
        yield "".join(
            encode([key, content, summary]) + "\n"
            for key, (content, summary) in rendered[start : start + _BATCH]
        ).encode()
    yield (encode({"posts": len(posts), "rendered": len(rendered)}) + "\n").encode()


def load_caches(lines: Iterable[bytes], fingerprint: str) -> Caches:
    """Parse what dump_caches wrote for the same ``fingerprint``, a line at a time (a
    file object will do: only one line is ever held); ValueError otherwise."""
    lines = iter(lines)
    try:
        head = json.loads(next(lines, b"null"))
        if head != {"fingerprint": fingerprint, "version": CACHE_VERSION}:
            raise ValueError("cache written for another version or configuration")
        posts: dict[str, CachedPost] = {}
        for line in lines:
            if line.rstrip(b"\n") == _RENDERED:
                break
            path, size, mtime, digest, settled, s = json.loads(line)
            # Interned: the listing, the state and the cache name a post by one string.
            path = sys.intern(_typed(path, str))
            posts[path] = CachedPost(
                _typed(size, int), _typed(mtime, int), sys.intern(_typed(digest, str)),
                _source_in(s, path), _typed(settled, bool),
            )  # fmt: skip
        rendered: dict[str, tuple[str, str]] = {}
        counts = None
        for line in lines:
            value = json.loads(line)
            if isinstance(value, dict):
                counts = value
                break
            key, content, summary = value
            rendered[_typed(key, str)] = (_typed(content, str), _typed(summary, str))
        if counts != {"posts": len(posts), "rendered": len(rendered)} or next(lines, None):
            raise ValueError("cut short, or more than was written")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"unusable cache: {e}") from e
    return Caches(posts, rendered)


def _date_out(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _date_in(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive date in cache")
    return parsed


def _source_out(s: Source) -> list[Any]:
    return [
        s.path,
        s.title,
        _date_out(s.date),
        _date_out(s.updated),
        [[a.name, a.email, a.url] for a in s.authors],
        s.summary,
        list(s.tags),
        s.slug,
        s.draft,
        s.id,
        s.link,
        s.image,
        [s.enclosure.url, s.enclosure.length, s.enclosure.type, s.enclosure.line]
        if s.enclosure
        else None,
        s.body_format,
        [[p.level, p.code, p.message, p.path, p.line, p.col] for p in s.warnings],
        s.duration,
    ]


T = TypeVar("T")


def _typed(value: object, kind: type[T]) -> T:
    """``value`` when it is a ``kind`` (never a bool for an int); ValueError otherwise:
    a cache is read back exactly as written, or not at all."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"expected {kind.__name__}, found {value!r}")
    return value


def _maybe(value: object, kind: type[T]) -> T | None:
    return None if value is None else _typed(value, kind)


def _problem_in(v: list[Any]) -> Problem:
    level, code, message, path, line, col = v
    if level not in ("error", "warning"):
        raise ValueError(f"bad level {level!r}")
    return Problem(
        level, _typed(code, str), _typed(message, str), _maybe(path, str), _maybe(line, int),
        _maybe(col, int),
    )  # fmt: skip


def _source_in(v: list[Any], path: str) -> Source:
    """The Source of the post at ``path``, which its record must name."""
    (named, title, date, updated, authors, summary, tags, slug, draft, ident, link, image,
     enclosure, body_format, warnings, duration) = v  # fmt: skip
    if named != path:
        raise ValueError(f"the record of {path!r} names {named!r}")
    if body_format not in ("markdown", "html", "text"):
        raise ValueError(f"bad body format {body_format!r}")
    if enclosure is not None:
        url, length, mime, line = enclosure
        enclosure = EnclosureSource(
            _typed(url, str), _maybe(length, int), _maybe(mime, str), _maybe(line, int)
        )
    return Source(
        path=path,
        title=_typed(title, str),
        date=_date_in(_maybe(date, str)),
        updated=_date_in(_maybe(updated, str)),
        authors=tuple(
            shared_author(_typed(n, str), _maybe(e, str), _maybe(u, str)) for n, e, u in authors
        ),
        summary=_maybe(summary, str),
        tags=tuple(sys.intern(_typed(t, str)) for t in tags),
        slug=_maybe(slug, str),
        draft=_typed(draft, bool),
        id=_maybe(ident, str),
        link=_maybe(link, str),
        image=_maybe(image, str),
        enclosure=enclosure,
        body="",
        body_format=body_format,
        warnings=tuple(_problem_in(p) for p in warnings),
        duration=_maybe(duration, int),
    )
