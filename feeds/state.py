"""What the publisher remembers between runs: ids, first-seen dates, published files.

Pure: turns State into bytes and back. publish.py reads and writes the file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Remembered:
    """One post as the publisher first saw it."""

    #: the post's id, kept through edits, retitling, moves and permalink changes
    id: str
    #: when the publisher first saw the post: the date of a post that gives none
    first_seen: datetime
    #: sha256 of the file's bytes, to recognise the post when it moves
    digest: str
    #: the slug the post was given (None before it was published): its URL stays,
    #: whatever posts come later
    slug: str | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """A feed file as the last good run left it."""

    #: hash of everything the file was made from (see pipeline.fingerprint)
    fingerprint: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Sealed:
    """A complete archive page of the site feed: written once, then never made again
    while its files are intact."""

    #: the page number, counted from the oldest page (1)
    page: int
    #: ids of the posts it holds, newest first, as when it was sealed
    ids: tuple[str, ...]
    #: format → the file as written: fingerprint is the sha256 of its bytes
    files: Mapping[str, Output] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class State:
    #: content path → what is remembered of it
    posts: Mapping[str, Remembered] = field(default_factory=dict)
    #: output files (relative to output_dir) the last good run published
    published: tuple[str, ...] = ()
    #: feed file → what it was made from, so an unchanged feed is not made again
    outputs: Mapping[str, Output] = field(default_factory=dict)
    #: the site feed's complete archive pages, page 1 first
    archives: tuple[Sealed, ...] = ()
    #: id → what was remembered of a post since deleted: its id is never made again
    #: for another post (readers know it as that one), and is its own again when the
    #: same file comes back
    retired: Mapping[str, Remembered] = field(default_factory=dict)


def dump_state(state: State) -> Iterator[bytes]:
    """Serialize deterministically, in pieces (a big site's state is never one string in
    memory): sorted keys, one post or output per line (readable diffs)."""
    if state.archives:
        # Absent when empty, so sites without archives keep their state's bytes.
        pages = ",\n".join(f" {_json(_dump_sealed(sealed))}" for sealed in state.archives)
        yield f'{{\n"archives": [\n{pages}\n],\n"outputs": '.encode()
    else:
        yield b'{\n"outputs": '
    outputs = sorted(state.outputs.items())
    yield from _one_per_line(
        f" {encode_basestring(path)}: [{encode_basestring(o.fingerprint)}, {o.size}, {o.mtime_ns}]"
        for path, o in outputs
    )
    yield b',\n"posts": '
    yield from _one_per_line(_remembered_lines(state.posts))
    yield b',\n"published": '
    yield from _one_per_line(
        (f" {encode_basestring(path)}" for path in sorted(state.published)), "[]"
    )
    if state.retired:
        # Absent when empty, so sites that never deleted a post keep their state's bytes.
        yield b',\n"retired": '
        yield from _one_per_line(_remembered_lines(state.retired))
    yield f',\n"version": {STATE_VERSION}\n}}\n'.encode()


def _remembered_lines(posts: Mapping[str, Remembered]) -> Iterator[str]:
    for path, r in sorted(posts.items()):
        slug = "" if r.slug is None else f', "slug": {encode_basestring(r.slug)}'
        yield (
            f' {encode_basestring(path)}: {{"digest": {encode_basestring(r.digest)}, '
            f'"first_seen": "{r.first_seen.isoformat()}", "id": {encode_basestring(r.id)}'
            f"{slug}}}"
        )


def _dump_sealed(sealed: Sealed) -> dict[str, object]:
    files = {fmt: [o.fingerprint, o.size, o.mtime_ns] for fmt, o in sorted(sealed.files.items())}
    return {"files": files, "ids": list(sealed.ids), "page": sealed.page}


def _load_sealed(raw: object, page: int) -> Sealed:
    """One archive page's record; ValueError unless it is what _dump_sealed wrote for
    page ``page``."""
    if not isinstance(raw, dict) or raw.get("page") != page:
        raise ValueError(f"bad record for archive page {page}")
    ids, files = raw.get("ids"), raw.get("files")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError(f"bad ids for archive page {page}")
    if not isinstance(files, dict):
        raise ValueError(f"bad files for archive page {page}")
    try:
        outputs = {
            str(fmt): Output(str(fp), int(size), int(mtime))
            for fmt, (fp, size, mtime) in files.items()
        }
    except (TypeError, ValueError) as e:
        raise ValueError(f"bad files for archive page {page}: {e}") from e
    return Sealed(page, tuple(ids), outputs)


# One encoder for every member: json.dumps with options makes a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
#: members encoded at a time
_BATCH = 1000


def _json(value: object) -> str:
    return _ENCODER.encode(value)


def _one_per_line(lines: Iterable[str], brackets: str = "{}") -> Iterator[bytes]:
    """A JSON object (or array) with one member a line, from its members' lines."""
    opening, closing = brackets[0], brackets[1]
    batch: list[str] = []
    written = False
    for line in lines:
        batch.append(line)
        if len(batch) == _BATCH:
            yield (",\n" if written else f"{opening}\n").encode() + ",\n".join(batch).encode()
            written, batch = True, []
    if batch:
        yield (",\n" if written else f"{opening}\n").encode() + ",\n".join(batch).encode()
        written = True
    yield f"\n{closing}".encode() if written else brackets.encode()


def date_out(value: datetime | None) -> str | None:
    """A date as the state files write it: ISO 8601 with its offset."""
    return None if value is None else value.isoformat()


def date_in(value: object) -> datetime | None:
    """A date as ``date_out`` wrote it; ValueError for anything else, a date without
    an offset included."""
    if value is None:
        return None
    if type(value) is not str:
        raise ValueError(f"bad date {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive date")
    return parsed


def load_state(data: bytes) -> State:
    """Parse what dump_state wrote. Raises ValueError on anything else: a corrupt state is
    never trusted."""
    try:
        # Each post's record becomes its Remembered as it is parsed: a big site's state
        # never holds a dict per post (at 100,000 posts, some 20 MiB).
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_object)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
        raise ValueError("unknown state version")
    posts_raw = doc.get("posts")
    published = doc.get("published")
    if not isinstance(posts_raw, dict) or not isinstance(published, list):
        raise ValueError("state has no posts or published list")
    posts: dict[str, Remembered] = {}
    for path, entry in posts_raw.items():
        if type(entry) is not Remembered:
            raise ValueError(f"bad entry for {path}")
        # Interned: the listing, the state and the cache name a post by one string.
        posts[sys.intern(path)] = entry
    retired = doc.get("retired", {})
    if not isinstance(retired, dict) or not all(
        type(entry) is Remembered for entry in retired.values()
    ):
        raise ValueError("bad retired posts")
    if not all(isinstance(p, str) for p in published):
        raise ValueError("bad published list")
    try:
        outputs = {
            str(path): Output(str(fp), int(size), int(mtime))
            for path, (fp, size, mtime) in doc.get("outputs", {}).items()
        }
    except (TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"bad outputs: {e}") from e
    archives_raw = doc.get("archives", [])
    if not isinstance(archives_raw, list):
        raise ValueError("bad archives list")
    archives = tuple(_load_sealed(raw, n) for n, raw in enumerate(archives_raw, 1))
    return State(posts, tuple(published), outputs, archives, retired)


#: how ``dump_state`` begins and ends the complete archive pages, which come first
_ARCHIVES_START = b'{\n"archives": '
_ARCHIVES_END = b'\n],\n"outputs": '
_NO_ARCHIVES = b'{\n"outputs": '


def load_archives(data: bytes) -> tuple[Sealed, ...]:
    """The complete archive pages of a state file ``dump_state`` wrote (``data`` must be
    its bytes, unchanged), read without the rest: a big site's posts come after them.
    ValueError for anything else."""
    if data.startswith(_NO_ARCHIVES):
        return ()
    # A JSON string holds no raw line break: the first such end is the list's.
    end = data.find(_ARCHIVES_END)
    if not data.startswith(_ARCHIVES_START) or end < 0:
        raise ValueError("not a state file")
    try:
        raw = json.loads(data[len(_ARCHIVES_START) : end + 2].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not JSON: {e}") from e
    if not isinstance(raw, list):
        raise ValueError("bad archives list")
    return tuple(_load_sealed(page, n) for n, page in enumerate(raw, 1))


def _object(pairs: list[tuple[str, Any]]) -> Any:
    """A JSON object of a state file: a post's record becomes its Remembered; anything
    else, a record that does not read as one included, stays a dict."""
    fields = dict(pairs)
    ident, digest, slug = fields.get("id"), fields.get("digest"), fields.get("slug")
    if type(ident) is not str or type(digest) is not str:
        return fields
    if slug is not None and type(slug) is not str:
        return fields
    try:
        first_seen = date_in(fields.get("first_seen"))
    except ValueError:
        return fields
    if first_seen is None:
        return fields
    return Remembered(ident, first_seen, sys.intern(digest), slug)
