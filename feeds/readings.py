"""feedparser's readings of feed entries, kept from one run to the next.

The validator has feedparser read every item and entry of a feed on its own,
wrapped in a minimal document (``validate._reparse``). What feedparser reads of
such a document depends on its bytes and on feedparser alone, and most of a
feed's entries have the same bytes run after run: a run that edits one post
makes its feeds again, but only that post's entry is new. So a run keeps, in
``state_dir``, the readings its validator had, by the digest of each document,
and the next run hands them to its validator, which then has feedparser read
only the documents it has not seen. Every feed is still compared, entry by
entry, with the posts it was built from: a reading replaces feedparser's
parse of the same bytes, never a verdict on the feed. The one verdict kept is
on the document alone: whether the structure checks found its elements right,
which depends on nothing but its bytes.

Pure: readings to bytes and back. A file written by other code or another
feedparser, or damaged in any way, is not used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import NoneType
from typing import Any

from feeds.cache import signed, verified
from feeds.state import date_in, date_out

READINGS_VERSION = 2


@dataclass(frozen=True)
class Bozo:
    """Why feedparser flagged a document, and where (in that document)."""

    detail: str
    line: int | None
    col: int | None


@dataclass(frozen=True)
class EntryReading:
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
class Reading:
    """What feedparser read of one document: a feed's head or one wrapped entry."""

    bozo: Bozo | None
    #: the feed's own author names (Atom entries without authors inherit them)
    authors: tuple[str, ...] | None
    entries: tuple[EntryReading, ...]


@dataclass(frozen=True)
class KeptReadings:
    """What a run keeps for the next one's validator."""

    #: feedparser's readings, by document key
    readings: Mapping[str, Reading] = field(default_factory=dict)
    #: the keys of the documents whose elements the structure checks found right
    shaped: frozenset[str] = frozenset()
    #: the documents whose item or entry the format's rules found right, each named by
    #: its key and what else those rules read (``validate.EntryMemo``): the run's clock
    #: among them, so these hold within one run (its processes) and are never written
    ruled: frozenset[str] = frozenset()

    def joined(self, other: KeptReadings) -> KeptReadings:
        """What both hold."""
        return KeptReadings(
            {**self.readings, **other.readings},
            self.shaped | other.shaped,
            self.ruled | other.ruled,
        )


def document_key(document: bytes) -> str:
    """The name a document's reading is kept under: the sha256 of its bytes."""
    return hashlib.sha256(document).hexdigest()


def dump_readings(kept: KeptReadings, key: str) -> bytes:
    """The readings as JSON lines: a head that names the code that made them, one line
    of ``[document key, shaped, reading]`` records, and the sha256 of both
    (``cache.signed``)."""
    head = json.dumps({"key": key, "version": READINGS_VERSION}, sort_keys=True)
    body = json.dumps(
        # By key: the same readings make the same bytes, in whatever order they were read.
        [
            [name, name in kept.shaped, *_reading_out(r)]
            for name, r in sorted(kept.readings.items())
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return b"".join(signed([f"{head}\n".encode(), f"{body}\n".encode()]))


def load_readings(data: bytes, key: str) -> KeptReadings:
    """What dump_readings wrote for ``key``; ValueError otherwise."""
    try:
        head_line, _, body = verified(data).partition(b"\n")
        head = json.loads(head_line)
        if not isinstance(head, dict) or head.get("version") != READINGS_VERSION:
            raise ValueError("written by another version")
        if head.get("key") != key:
            raise ValueError("written by other code")
        readings, shaped = {}, set()
        for name, is_shaped, *rest in json.loads(body):
            if type(name) is not str or type(is_shaped) is not bool:
                raise ValueError("bad record")
            readings[name] = _reading_in(rest)
            if is_shaped:
                shaped.add(name)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"unusable readings: {e}") from e
    return KeptReadings(readings, frozenset(shaped))


def _reading_out(reading: Reading) -> list[Any]:
    bozo = reading.bozo
    return [
        None if bozo is None else [bozo.detail, bozo.line, bozo.col],
        _names_out(reading.authors),
        [
            [e.title, e.link, e.id, _names_out(e.authors), date_out(e.published),
             date_out(e.updated), e.summary]
            for e in reading.entries
        ],
    ]  # fmt: skip


def _reading_in(record: list[Any]) -> Reading:
    bozo, authors, entries = record
    if bozo is not None:
        detail, line, col = bozo
        if type(detail) is not str or not {type(line), type(col)} <= {int, NoneType}:
            raise ValueError("bad bozo")
        bozo = Bozo(detail, line, col)
    read = []
    for title, link, ident, names, published, updated, summary in entries:
        if not {type(title), type(link), type(ident), type(summary)} <= {str, NoneType}:
            raise ValueError("bad entry")
        read.append(
            EntryReading(
                title,
                link,
                ident,
                _names_in(names),
                date_in(published),
                date_in(updated),
                summary,
            )
        )
    return Reading(bozo, _names_in(authors), tuple(read))


def _names_out(names: tuple[str, ...] | None) -> list[str] | None:
    return None if names is None else list(names)


def _names_in(names: object) -> tuple[str, ...] | None:
    if names is None:
        return None
    if type(names) is not list or not all(type(name) is str for name in names):
        raise ValueError("bad author names")
    return tuple(names)


def to_keep(used: KeptReadings, earlier: KeptReadings, room: int) -> KeptReadings:
    """What to keep for the next run: what this run used, then what earlier runs kept
    (the feeds this run did not make again still hold their entries), ``room``
    readings at most."""
    chosen = dict(used.readings)
    for name, reading in earlier.readings.items():
        if len(chosen) >= room:
            break
        chosen.setdefault(name, reading)
    shaped = (used.shaped | earlier.shaped) & chosen.keys()
    return KeptReadings(chosen, frozenset(shaped))
