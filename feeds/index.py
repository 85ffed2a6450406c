"""The last full run's reading of the site, for runs that only edit posts' bodies.

A full run leaves ``index.json`` in ``state_dir``: every post file as it read it
(path, size, modification time and the digest of its bytes) and the posts its feeds
show, resolved, with their HTML. Resolving and planning depend on posts' metadata
(everything a reader finds in a file but the body), never on their bodies: a later
run whose changed files all keep their metadata (as ``cache.json`` holds it for the
digest indexed here) would give every post the same id, slug, URL and dates and
every feed the same posts. That run takes the shown posts from here instead of
reading, resolving and planning every post again (``pipeline._quick_run``).

Pure: turns the index into bytes and back. An index that does not parse, does not
match the digest of its bytes that ends it, or was written by other code or for
another config, is not used.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring
from types import NoneType
from typing import Any, overload

from feeds.cache import CachedPost, json_records, signed, verified
from feeds.content.discover import FoundFile
from feeds.content.fields import shared_author
from feeds.model import Enclosure, Post
from feeds.state import date_in

INDEX_VERSION = 8
#: lines encoded at a time: the index of a big site is written in pieces
_BATCH = 1000
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Indexed:
    """One post file as the full run read it."""

    size: int
    mtime_ns: int
    #: sha256 of its bytes; None for a file that could not be read as a post
    digest: str | None


@dataclass(frozen=True, slots=True)
class Shown:
    """A post some feed shows, as the full run resolved it, with its HTML."""

    #: summary and content empty, as resolved
    post: Post
    #: sha256 of the post file's bytes
    digest: str
    #: content and summary HTML, when the run had them
    html: tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class Taken:
    """What a post added since the run must not meet for the run's posts to resolve as
    they did (``site.resolve_added``)."""

    #: every slug a post took
    slugs: frozenset[str]
    #: every id a post took or keeps
    ids: frozenset[str]
    #: the ``updated`` instant of every published post, in microseconds since the epoch
    #: (``dates.epoch_us``), sorted
    updates: tuple[int, ...]
    #: the digests of posts deleted (``State.retired``): a file come back with those
    #: bytes has its old id again, which only a full run gives
    gone: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Index:
    #: the code and config the run ran with (``pipeline``'s index key)
    key: str
    #: sha256 (hex) of the state file the run wrote: the ids and dates it resolved with
    state: str
    #: when the run listed the post files (ns since the epoch)
    listed_ns: int
    #: sha256 of the problems the listing reported
    listed: str
    #: the record of the run (``runs.dump_last_run``): what it read and reported
    run: bytes
    #: every feed file of the run → the fingerprint of what it was made from
    fingerprints: Mapping[str, str]
    #: post path → (digest, metadata as ``cache.source_record`` gives it) of each post the
    #: run read whose record in ``cache.json`` it left out of date (a cache is written
    #: again only once it misses enough)
    records: Mapping[str, tuple[str, list[Any]]]
    #: every post file found, sorted by path, as :func:`file_line` writes it: a run
    #: compares its listing with these lines and parses only those that differ
    files: Sequence[str]
    #: the posts the feeds show, newest first
    shown: tuple[Shown, ...]
    #: what the run's posts took (``Taken``), as ``taken_line`` writes it: read by
    #: ``taken_in`` only when a post was added since
    taken: bytes
    #: the digest of each piece of the listing ``files`` were made from
    #: (``runs.Listing.pieces``)
    pieces: tuple[str, ...]


def file_line(path: str, size: int, mtime_ns: int, digest: str | None) -> str:
    """A post file's line in the index: ``[path, size, mtime_ns, digest]`` in JSON."""
    digest_out = "null" if digest is None else encode_basestring(digest)
    return f"{_file_head(path, size, mtime_ns)}{digest_out}]"


class FileLines(Sequence[str]):
    """The index lines of listed files, each made when it is read: a big site's, made
    all at once, would weigh 16 MB more while the index is written."""

    def __init__(self, found: Sequence[FoundFile], read: Mapping[str, CachedPost]) -> None:
        #: the files as listed, sorted by path
        self.found = found
        #: path → how it was read, for each file read as a post
        self.read = read

    def __len__(self) -> int:
        return len(self.found)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self._line(item) for item in self.found[i]]
        return self._line(self.found[i])

    def _line(self, item: FoundFile) -> str:
        entry = self.read.get(item.path)
        digest = None if entry is None else entry.digest
        return file_line(item.path, item.size, item.mtime_ns, digest)


def _file_head(path: str, size: int, mtime_ns: int) -> str:
    # Made by hand: the encoder takes four times as long, at 100,000 files.
    return f"[{encode_basestring(path)},{size},{mtime_ns},"


def changed_files(
    index: Index,
    found: Sequence[FoundFile],
    settled_ns: int,
    pieces: Sequence[tuple[str, int]] = (),
    piece: int = 1,
) -> tuple[list[tuple[FoundFile, Indexed]], list[FoundFile]] | None:
    """The files of ``found`` that are not as the index has them, or changed at
    ``settled_ns`` or later (their time may not show a later change), each with how the
    indexed run read it; and the files added since. None when a file of the index is
    gone (or its line is damaged).

    ``pieces`` are those of the listing of ``found``, of ``piece`` files each
    (``runs.Listing.pieces``): one with the digest of the index's piece in the same
    place, and settled, holds the files of the index's lines there, unchanged."""
    extra = len(found) - len(index.files)
    if extra < 0:
        return None
    changed: list[tuple[FoundFile, Indexed]] = []
    added: list[FoundFile] = []
    lines = index.files
    at = 0  # the first line of the index no file has matched yet
    for n, start in enumerate(range(0, len(found), piece)):
        files = found[start : start + piece]
        if (
            at == start
            and n < len(pieces)
            and n < len(index.pieces)
            and pieces[n][0] == index.pieces[n]
            and pieces[n][1] < settled_ns
        ):
            at += len(files)  # the same files, in the same places, as the index's lines
            continue
        for item in files:
            line = lines[at] if at < len(lines) else ""
            if item.mtime_ns < settled_ns and line.startswith(
                _file_head(item.path, item.size, item.mtime_ns)
            ):
                at += 1
                continue
            if line:
                try:
                    path, size, mtime, digest = json.loads(line)
                except ValueError:
                    return None
                if path == item.path:
                    if type(size) is not int or type(mtime) is not int:
                        return None
                    if type(digest) not in (str, NoneType):
                        return None
                    changed.append((item, Indexed(size, mtime, digest)))
                    at += 1
                    continue
            # Listed in the order of the index: a file that is not the next one indexed
            # was added, or that one is gone, and then more files seem added than there are.
            added.append(item)
            if len(added) > extra:
                return None
    return (changed, added) if at == len(lines) else None


def listing_digest(problems: Sequence[object]) -> str:
    """A digest of the problems a listing of the content folder reported."""
    return hashlib.sha256(repr(tuple(problems)).encode()).hexdigest()


def dump_index(index: Index) -> Iterator[bytes]:
    """The index as JSON lines: a head, an array per file, their count, an array per
    shown post, their count, the sha256 of all that."""
    return signed(_index_lines(index))


def _index_lines(index: Index) -> Iterator[bytes]:
    encode = _ENCODER.encode
    head = {"fingerprints": dict(sorted(index.fingerprints.items())), "key": index.key,
            "listed": index.listed, "listed_ns": index.listed_ns, "pieces": list(index.pieces),
            "records": {path: list(r) for path, r in sorted(index.records.items())},
            "run": index.run.decode(), "state": index.state, "version": INDEX_VERSION}  # fmt: skip
    yield (encode(head) + "\n").encode()
    files = index.files
    for start in range(0, len(files), _BATCH):
        yield "".join(f"{line}\n" for line in files[start : start + _BATCH]).encode()
    yield (encode({"files": len(files)}) + "\n").encode()
    for start in range(0, len(index.shown), _BATCH):
        yield "".join(
            encode(_shown_out(shown)) + "\n" for shown in index.shown[start : start + _BATCH]
        ).encode()
    yield (encode({"shown": len(index.shown)}) + "\n").encode()
    yield index.taken


def load_index(data: bytes, key: str) -> Index:
    """Parse what dump_index wrote for ``key``; ValueError otherwise."""
    try:
        data = verified(data)
    except ValueError as e:
        raise ValueError(f"unusable index: {e}") from e
    head_end = data.find(b"\n") + 1
    # The file lines end at the first line that is an object: their count.
    files_end = data.find(b"\n{", head_end - 1) + 1
    lines = iter(data[files_end:].splitlines(keepends=True))
    try:
        head = json.loads(data[:head_end] or b"null")
        if not isinstance(head, dict) or head.get("version") != INDEX_VERSION:
            raise ValueError("written by another version")
        if head.get("key") != key:
            raise ValueError("written for other code or another config")
        listed_ns, listed, state, run = (head[k] for k in ("listed_ns", "listed", "state", "run"))
        if type(listed_ns) is not int or type(listed) is not str or type(state) is not str:
            raise ValueError("bad head")
        if type(run) is not str:
            raise ValueError("bad record of the run")
        pieces = head["pieces"]
        if type(pieces) is not list or not all(type(piece) is str for piece in pieces):
            raise ValueError("bad pieces of the listing")
        fingerprints = head["fingerprints"]
        if type(fingerprints) is not dict or not all(type(v) is str for v in fingerprints.values()):
            raise ValueError("bad fingerprints")
        records = {}
        for path, (digest, record) in head["records"].items():
            if type(digest) is not str or type(record) is not list:
                raise ValueError(f"bad metadata record for {path!r}")
            records[path] = (digest, record)
        # Lines as written, decoded at once; checked where they are compared
        # (``changed_files``).
        files = data[head_end : files_end - 1].decode().split("\n") if files_end > head_end else []
        if (
            not head_end
            or not files_end
            or json.loads(next(lines, b"null")) != {"files": len(files)}
        ):
            raise ValueError("cut short in its files")
        end: dict[str, Any] = {}
        shown = tuple(_shown_in(record) for record in json_records(lines, end))
        if end != {"shown": len(shown)}:
            raise ValueError("cut short in its posts")
        taken = next(lines, b"")
        if not taken.startswith(b'{"taken":') or next(lines, None) is not None:
            raise ValueError("cut short in what its posts took, or followed by more")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"unusable index: {e}") from e
    return Index(
        key, state, listed_ns, listed, run.encode(), fingerprints, records, files, shown, taken,
        tuple(pieces),
    )  # fmt: skip


def taken_line(taken: Taken) -> bytes:
    """``taken`` as the index's last line: ``{"taken": [slugs, ids, updates, gone]}``,
    sorted."""
    value = [sorted(taken.slugs), sorted(taken.ids), taken.updates, sorted(taken.gone)]
    return (_ENCODER.encode({"taken": value}) + "\n").encode()


def taken_in(line: bytes) -> Taken:
    """What ``taken_line`` wrote; ValueError for anything else."""
    try:
        slugs, ids, updates, gone = json.loads(line)["taken"]
        if not all(type(part) is list for part in (slugs, ids, updates, gone)):
            raise ValueError("not lists")
        if not all(type(text) is str for text in (*slugs, *ids, *gone)):
            raise ValueError("not text")
        if not all(type(n) is int for n in updates) or updates != sorted(updates):
            raise ValueError("instants not sorted whole numbers")
        return Taken(frozenset(slugs), frozenset(ids), tuple(updates), frozenset(gone))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"unusable index: bad taken names: {e}") from e


def _date_in(value: object) -> datetime:
    """A date a shown post must have."""
    parsed = date_in(value)
    if parsed is None:
        raise ValueError("no date")
    return parsed


def _shown_out(shown: Shown) -> list[Any]:
    p = shown.post
    enclosure = [p.enclosure.url, p.enclosure.length, p.enclosure.type] if p.enclosure else None
    return [
        p.path, p.id, p.slug, p.url, p.title, p.published.isoformat(), p.updated.isoformat(),
        [[a.name, a.email, a.url] for a in p.authors], list(p.tags), p.image, enclosure,
        p.duration, shown.digest, list(shown.html) if shown.html else None,
    ]  # fmt: skip


def _shown_in(v: list[Any]) -> Shown:
    (path, ident, slug, url, title, published, updated, authors, tags, image, enclosure,
     duration, digest, html) = v  # fmt: skip
    texts = (path, ident, slug, url, title, digest, *tags)
    if not all(type(text) is str for text in texts) or type(authors) is not list:
        raise ValueError(f"bad shown post {path!r}")
    if image is not None and type(image) is not str:
        raise ValueError(f"bad image for {path!r}")
    if duration is not None and type(duration) is not int:
        raise ValueError(f"bad duration for {path!r}")
    if enclosure is not None:
        e_url, length, mime = enclosure
        if type(e_url) is not str or type(length) is not int or type(mime) is not str:
            raise ValueError(f"bad enclosure for {path!r}")
        enclosure = Enclosure(e_url, length, mime)
    if html is not None:
        content, summary = html
        if type(content) is not str or type(summary) is not str:
            raise ValueError(f"bad HTML for {path!r}")
        html = (content, summary)
    people = []
    for name, email, home in authors:
        if type(name) is not str or type(email) not in (str, NoneType):
            raise ValueError(f"bad author for {path!r}")
        if type(home) not in (str, NoneType):
            raise ValueError(f"bad author for {path!r}")
        people.append(shared_author(name, email, home))
    post = Post(
        path=sys.intern(path), id=ident, slug=slug, url=url, title=title,
        published=_date_in(published), updated=_date_in(updated), authors=tuple(people),
        summary="", content="", tags=tuple(map(sys.intern, tags)), image=image,
        enclosure=enclosure, duration=duration,
    )  # fmt: skip
    return Shown(post, digest, html)
