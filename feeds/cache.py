"""What a run can reuse from the last one: post metadata and rendered HTML.

Pure: turns the caches into bytes and back. Every entry is checked before use (a
post's by its file's size, modification time and, when those moved, its digest),
and a cache that does not parse, or was written by another version or for another
time zone, is ignored and rebuilt: it is never trusted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from feeds.content.fields import shared_author
from feeds.model import EnclosureSource, Problem, Source

CACHE_VERSION = 2


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


def dump_caches(caches: Caches, fingerprint: str) -> Iterator[bytes]:
    """The caches as one JSON document, in pieces (a site's whole cache is never one
    string in memory)."""
    encode = _ENCODER.encode
    head = {"version": CACHE_VERSION, "fingerprint": fingerprint}
    yield (encode(head)[:-1] + ',"posts":{').encode()
    posts = sorted(caches.posts.items())
    for start in range(0, len(posts), _BATCH):
        members = (
            f"{encode(path)}:"
            + encode([c.size, c.mtime_ns, c.digest, c.settled, _source_out(c.source)])
            for path, c in posts[start : start + _BATCH]
        )
        yield (("," if start else "") + ",".join(members)).encode()
    rendered = ",".join(
        f"{encode(key)}:{encode(list(value))}" for key, value in sorted(caches.rendered.items())
    )
    yield ('},"rendered":{' + rendered + "}}").encode()


def load_caches(data: bytes, fingerprint: str) -> Caches:
    """Parse what dump_caches wrote for the same ``fingerprint``; ValueError otherwise."""
    try:
        doc = json.loads(data)
        del data  # what the caller does not keep is freed before the posts are made
        if doc["version"] != CACHE_VERSION or doc["fingerprint"] != fingerprint:
            raise ValueError("cache written for another version or configuration")
        raw = doc.pop("posts")
        posts: dict[str, CachedPost] = {}
        # Popped one by one: each post's JSON is freed as its objects are made, so the
        # two are never both whole in memory.
        while raw:
            path, (size, mtime, digest, settled, s) = raw.popitem()
            posts[_typed(path, str)] = CachedPost(
                _typed(size, int), _typed(mtime, int), _typed(digest, str), _source_in(s),
                _typed(settled, bool),
            )  # fmt: skip
        rendered = {
            _typed(k, str): (_typed(c, str), _typed(s, str))
            for k, (c, s) in doc["rendered"].items()
        }
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


def _source_in(v: list[Any]) -> Source:
    (path, title, date, updated, authors, summary, tags, slug, draft, ident, link, image,
     enclosure, body_format, warnings, duration) = v  # fmt: skip
    if body_format not in ("markdown", "html", "text"):
        raise ValueError(f"bad body format {body_format!r}")
    if enclosure is not None:
        url, length, mime, line = enclosure
        enclosure = EnclosureSource(
            _typed(url, str), _maybe(length, int), _maybe(mime, str), _maybe(line, int)
        )
    return Source(
        path=_typed(path, str),
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
