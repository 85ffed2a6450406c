"""What a run can reuse from the last one: post metadata and rendered HTML.

Pure: turns the caches into bytes and back. Every entry is checked before use (a
post's by its file's size, modification time and, when those moved, its digest),
and a cache that does not parse, does not match the digest of its bytes that ends
it, or was written by another version or for another time zone, is ignored and
rebuilt: it is never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import mmap
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import NoneType
from typing import Any, TypeVar

from feeds.content.fields import shared_author
from feeds.model import Author, EnclosureSource, Problem, Source, pickled_by_fields
from feeds.state import date_in, date_out

CACHE_VERSION = 4


@pickled_by_fields
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
    """The caches as JSON lines, in pieces (a site's whole cache is never one string in
    memory): a head; an array per post, then their count; an array per rendered post,
    then their count; the sha256 of all that. The counts tell a cache cut short at the
    end of a line, the digest one changed anywhere (a byte in a title still parses)."""
    return signed(_cache_lines(caches, fingerprint))


def _cache_lines(caches: Caches, fingerprint: str) -> Iterator[bytes]:
    encode = _ENCODER.encode
    yield (encode({"fingerprint": fingerprint, "version": CACHE_VERSION}) + "\n").encode()
    posts = sorted(caches.posts.items())
    for start in range(0, len(posts), _BATCH):
        yield "".join(
            f"{encode(_post_record(path, c))}\n" for path, c in posts[start : start + _BATCH]
        ).encode()
    yield (encode({"posts": len(posts)}) + "\n").encode()
    rendered = sorted(caches.rendered.items())
    for start in range(0, len(rendered), _BATCH):
        yield "".join(
            encode([key, content, summary]) + "\n"
            for key, (content, summary) in rendered[start : start + _BATCH]
        ).encode()
    yield (encode({"rendered": len(rendered)}) + "\n").encode()


def load_caches(lines: Iterable[bytes], fingerprint: str) -> Caches:
    """Parse what dump_caches wrote for the same ``fingerprint``, a batch of lines at a
    time (a file object will do: it is never whole in memory); ValueError otherwise."""
    signature = hashlib.sha256()
    lines = _hashed(lines, signature)
    try:
        head = json.loads(next(lines, b"null"))
        if head != {"fingerprint": fingerprint, "version": CACHE_VERSION}:
            raise ValueError("cache written for another version or configuration")
        posts: dict[str, CachedPost] = {}
        end: dict[str, Any] = {}
        for record in json_records(lines, end):
            path, size, mtime, digest, settled, s = record
            # Interned: the listing, the state and the cache name a post by one string.
            path = sys.intern(path)
            if type(size) is not int or type(mtime) is not int or type(settled) is not bool:
                raise ValueError(f"bad record for {path!r}")
            posts[path] = CachedPost(size, mtime, sys.intern(digest), _source_in(s, path), settled)
        if end != {"posts": len(posts)}:
            raise ValueError("cut short in its posts")
        rendered: dict[str, tuple[str, str]] = {}
        end = {}
        for record in json_records(lines, end):
            key, content, summary = record
            if type(key) is not str or type(content) is not str or type(summary) is not str:
                raise ValueError(f"bad rendered HTML for {key!r}")
            rendered[key] = (content, summary)
        if end != {"rendered": len(rendered)}:
            raise ValueError("cut short in its HTML")
        expected = {"digest": signature.hexdigest()}
        if json.loads(next(lines, b"null")) != expected or next(lines, None) is not None:
            raise ValueError("changed since it was written, cut short, or followed by more")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"unusable cache: {e}") from e
    return Caches(posts, rendered)


def signed(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks``, then a line ``{"digest": …}`` with the sha256 of their bytes."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    yield (_ENCODER.encode({"digest": digest.hexdigest()}) + "\n").encode()


def verified(data: bytes) -> bytes:
    """``data`` without the digest line ``signed`` ended it with; ValueError when that
    line is missing or does not match (the bytes changed since, or were cut short)."""
    end = data.rfind(b"\n", 0, len(data) - 1) + 1
    digest = {"digest": hashlib.sha256(memoryview(data)[:end]).hexdigest()}
    if not data.endswith(b"\n") or json.loads(data[end:] or b"null") != digest:
        raise ValueError("changed since it was written, or cut short")
    return data[:end]


def _hashed(lines: Iterable[bytes], digest: Any) -> Iterator[bytes]:
    """``lines``, each added to ``digest`` as it is read."""
    for line in lines:
        digest.update(line)
        yield line


def json_records(lines: Iterator[bytes], end: dict[str, Any]) -> Iterator[list[Any]]:
    """The arrays on ``lines`` up to the object that ends their section (put in ``end``),
    parsed a batch at a time: one call of the JSON parser for many lines."""
    batch: list[bytes] = []
    for line in lines:
        if line.startswith(b"{"):
            end.update(json.loads(line))
            break
        batch.append(line)
        if len(batch) == _BATCH:
            yield from _arrays(batch)
            batch = []
    else:
        raise ValueError("cut short")
    yield from _arrays(batch)


def _arrays(lines: list[bytes]) -> list[list[Any]]:
    """The JSON arrays, one a line, of ``lines``."""
    values = json.loads(b"[" + b",".join(lines) + b"]")
    if not all(type(value) is list for value in values):
        raise ValueError("a record that is not an array")
    return values  # type: ignore[no-any-return]


def _post_record(path: str, c: CachedPost) -> list[Any]:
    return [path, c.size, c.mtime_ns, c.digest, c.settled, source_record(c.source)]


def find_metadata(
    cache: bytes | mmap.mmap, path: str, fingerprint: str
) -> tuple[str, list[Any]] | None:
    """The digest and the metadata (``source_record``) that the cache file ``cache``
    holds for the post file at ``path``, found without parsing the rest; None when it
    holds none, or was written for another fingerprint. The file's digest is not
    checked: a record changed on disk can only differ from the post it is compared
    with, which makes a full run."""
    head = cache[: cache.find(b"\n")]
    try:
        if json.loads(head) != {"fingerprint": fingerprint, "version": CACHE_VERSION}:
            return None
        start = cache.find(b"\n[" + _ENCODER.encode(path).encode() + b",")
        if start < 0:
            return None
        found, _size, _mtime, digest, _settled, record = json.loads(
            cache[start : cache.find(b"\n", start + 1)]
        )
    except (ValueError, TypeError):
        return None
    if found != path or type(digest) is not str or type(record) is not list:
        return None
    return digest, record


def source_record(s: Source) -> list[Any]:
    """A post's metadata as JSON values: every field of its Source but the body."""
    return [
        s.path,
        s.title,
        date_out(s.date),
        date_out(s.updated),
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


_TEXT_OR_NONE = frozenset({str, NoneType})


def _source_in(v: list[Any], path: str) -> Source:
    """The Source of the post at ``path``, which its record must name."""
    (named, title, date, updated, authors, summary, tags, slug, draft, ident, link, image,
     enclosure, body_format, warnings, duration) = v  # fmt: skip
    # One set of types for the optional texts: a hundred thousand posts load in a second.
    texts = {type(date), type(updated), type(summary), type(slug), type(ident), type(link),
             type(image)}  # fmt: skip
    if named != path or type(title) is not str or type(draft) is not bool:
        raise ValueError(f"bad record for {path!r}")
    if not texts <= _TEXT_OR_NONE or not (duration is None or type(duration) is int):
        raise ValueError(f"bad record for {path!r}")
    if body_format not in ("markdown", "html", "text"):
        raise ValueError(f"bad body format {body_format!r}")
    if type(authors) is not list or type(tags) is not list or type(warnings) is not list:
        raise ValueError(f"bad record for {path!r}")
    if not all(type(author) is list for author in authors):
        raise ValueError(f"bad authors for {path!r}")
    if enclosure is not None:
        url, length, mime, line = enclosure
        enclosure = EnclosureSource(
            _typed(url, str), _maybe(length, int), _maybe(mime, str), _maybe(line, int)
        )
    return Source(
        path,
        title,
        date_in(date),
        date_in(updated),
        tuple(_author_in(*author) for author in authors),
        summary,
        # sys.intern takes nothing but text: it checks each tag, too.
        tuple(map(sys.intern, tags)),
        slug,
        draft,
        ident,
        link,
        image,
        enclosure,
        "",
        body_format,
        tuple(_problem_in(p) for p in warnings) if warnings else (),
        duration,
    )


@functools.lru_cache(maxsize=4096)  # a site has a few authors and many posts
def _author_in(name: object, email: object, url: object) -> Author:
    return shared_author(_typed(name, str), _maybe(email, str), _maybe(url, str))
