"""What a run did, and how the next one knows that nothing has changed since.

A published run leaves a record in ``state_dir``: a digest of its inputs (the code,
the config, the state it wrote, and every post file's path, size and time), the
size and time of every file it published, and what it reported. A run that finds
the same inputs, every published file untouched and no future post fallen due has
nothing to do: it reports the record and stops, without reading a post or loading
the libraries that make and check feeds (this module imports none of them).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib.util
import json
import os
import posixpath
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from feeds.config import Config
from feeds.content.discover import FoundFile, discover
from feeds.cores import alongside, core_count
from feeds.exceptions import PublishError
from feeds.model import FEED_FILES, Problem
from feeds.publish import STATE_FILE, run_lock

#: called as work advances: (stage, done, total)
Progress = Callable[[str, int, int], None]

#: the record of the last published run, in state_dir
LAST_RUN_FILE = "last-run.json"
RECORD_VERSION = 1
#: post files hashed at a time into the inputs digest (a big listing is never one string),
#: and the files of each piece of a listing (``Listing.pieces``)
LISTING_PIECE = 1000
#: a content folder that held this many post files at the last run is listed by two
#: processes: below it, the second would take a core from the run loading its libraries
LIST_IN_TWO_FROM = 50_000

#: a file changed less than this before it was read may change again unseen within
#: the same clock tick: its digest is checked next time
SETTLE_NS = 2_000_000_000


@dataclass(frozen=True)
class RunResult:
    """What one regeneration did; the CLI and the server's /healthz report it."""

    started: datetime
    seconds: float
    #: post files found in the content folder
    files: int
    #: posts in the feeds' pool (not drafts, not future, not skipped)
    posts: int
    drafts: int
    #: publication times of future posts still held back, earliest first
    future: tuple[datetime, ...]
    #: problems with the content: errors (skipped files) and warnings
    problems: tuple[Problem, ...]
    #: problems found validating the built feeds
    feed_problems: tuple[Problem, ...]
    #: feeds in the site (one per spec and format)
    feeds: int
    published: bool
    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    #: feeds made and validated this run (the others were unchanged and kept)
    built: int = 0

    @property
    def written_feeds(self) -> tuple[str, ...]:
        """The feed files among ``written``: those whose bytes changed in this run."""
        names = set(FEED_FILES.values())
        return tuple(path for path in self.written if posixpath.basename(path) in names)

    @property
    def skipped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.level == "error")

    @property
    def exit_code(self) -> int:
        """SPEC §1: 0 clean, 1 published but posts were skipped (or the state it keeps
        could not be saved), 3 nothing published."""
        if not self.published:
            return 3
        saved = not any(p.level == "error" for p in self.feed_problems)
        return 1 if self.skipped or not saved else 0


def located(config: Config, problem: Problem) -> str:
    """A problem with a post as a line naming the file the user edits: its path in the
    content folder made relative to the working folder (when that is shorter)."""
    if problem.path is None:
        return f"{problem.level}: {problem.message}"
    path = Path(problem.path)
    if not path.is_absolute():
        path = config.content_dir / path
    shown = os.path.relpath(path) if path.is_absolute() or path.exists() else str(path)
    if shown.startswith(".." + os.sep + ".."):
        shown = str(path)
    line = f":{problem.line}" if problem.line is not None else ""
    return f"{shown}{line}: {problem.level}: {problem.message}"


@contextlib.contextmanager
def collector_paused(*, ending: bool = False) -> Iterator[None]:
    """Python's cycle collector off for a run.

    A run makes a few objects per post and frees them at its end; they hold no cycles
    that outlive it, yet the collector would walk every one of them again and again,
    which at 100,000 posts costs a fifth of the run. It resumes afterwards.

    ``ending``: the process ends with the run (``feeds build``). Resumed with the run's
    objects all in its youngest generation, the collector would walk every one of them
    at the next allocation, as the command ends (10 to 40 ms at 10,000 posts): they are
    moved to its oldest generation (frozen, then thawed there). A process that goes on
    (``feeds serve``) lets the collector walk them once, soon after the run.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            if ending:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


#: the libraries whose version shapes the output, or judges it (feedparser: a feed kept
#: because it was found valid is checked again when the validator's reader changes)
SHAPING_LIBRARIES = ("feedgen", "cmarkgfm", "nh3", "lxml", "anyascii", "feedparser")


#: ``code_fingerprint()`` once worked out, in this process or in the one that listed
_fingerprint: list[str] = []


def code_fingerprint() -> str:
    """Identifies this code and the libraries that shape or judge the output: a cache
    made by other code is never used.

    A library is identified by its installed files' path, size and time, which change
    with every install, without importing it (or importlib.metadata, slower still).
    Worked out once a process.
    """
    if not _fingerprint:
        _fingerprint.append(_fingerprint_of_files())
    return _fingerprint[0]


def _fingerprint_of_files() -> str:
    digest = hashlib.sha256()
    package = Path(__file__).parent
    # The code, and the files shipped with it (the browser view's stylesheet); os.walk,
    # which skips the bytecode folders, takes a third of the time of Path.rglob.
    files = []
    for folder, subfolders, names in os.walk(package):
        subfolders[:] = [name for name in subfolders if name != "__pycache__"]
        inside = Path(folder).relative_to(package).as_posix()
        files += [name if inside == "." else f"{inside}/{name}" for name in names]
    for name in sorted(files):
        digest.update(name.encode())
        digest.update((package / name).read_bytes())
    for name in SHAPING_LIBRARIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        if origin is None:
            digest.update(f"{name}=missing".encode())
            continue
        for entry in sorted(os.scandir(Path(origin).parent), key=lambda e: e.name):
            if entry.is_file():
                st = entry.stat()
                digest.update(f"{name}/{entry.name}={st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()


class Listing(NamedTuple):
    """The content folder as listed (``list_posts``)."""

    #: every post file, sorted by path
    found: list[FoundFile]
    #: what could not be listed, or was skipped
    problems: list[Problem]
    #: when the listing started, ns since the epoch
    listed_ns: int
    #: sha256 of the files' paths, sizes and times, and of the problems
    digest: bytes
    #: of each ``LISTING_PIECE`` files of ``found`` in turn, the sha256 (hex) of their
    #: paths, sizes and times, and the latest of those times: a run through the index
    #: compares the listing with it a piece at a time (``index.changed_files``)
    pieces: tuple[tuple[str, int], ...] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        # From the process that lists (``shortcut``), the files cross as three columns:
        # pickling a hundred thousand named tuples one by one takes five times as long.
        columns = tuple(zip(*self.found, strict=True)) or ((), (), ())
        return (
            _listing_of_columns,
            (columns, self.problems, self.listed_ns, self.digest, self.pieces),
        )


def _listing_of_columns(
    columns: tuple[Sequence[str], Sequence[int], Sequence[int]],
    problems: list[Problem],
    listed_ns: int,
    digest: bytes,
    pieces: tuple[tuple[str, int], ...],
) -> Listing:
    paths, sizes, times = columns
    rows = zip(map(sys.intern, paths), sizes, times, strict=True)
    # tuple.__new__ makes each in C; FoundFile(*row) would run Python code per file.
    found: list[FoundFile] = list(map(tuple.__new__, repeat(FoundFile), rows))
    return Listing(found, problems, listed_ns, digest, pieces)


def list_posts(config: Config, *, in_two: bool = False) -> Listing:
    """The post files in ``config.content_dir`` (see ``discover``), and their digest;
    ``in_two``: listed by this process and a forked one, half of the folder each."""
    listed_ns = time.time_ns()
    folder, limit = config.content_dir, config.max_post_bytes
    if in_two:
        halves: list[tuple[list[FoundFile], list[Problem]]] = []
        other = alongside(
            # As a Listing, to cross in columns.
            lambda: Listing(*discover(folder, limit, (1, 2)), 0, b""),
            lambda done: halves.append(discover(folder, limit, (0, 2))),
        )
        found = [*halves[0][0], *other.found]
        problems = [*halves[0][1], *other.problems]
        # By path, as discover sorts: "a.md" comes before "a/x.md", whichever half had it.
        found.sort(key=itemgetter(0))
        problems.sort(key=lambda p: p.path or "")
    else:
        found, problems = discover(folder, limit)
    return listing_of(found, problems, listed_ns)


def listing_of(found: list[FoundFile], problems: list[Problem], listed_ns: int) -> Listing:
    """The Listing of the files ``found`` (sorted by path) and ``problems``, listed at
    ``listed_ns``: with its digest and its pieces."""
    digest = hashlib.sha256()
    pieces = []
    for start in range(0, len(found), LISTING_PIECE):
        files = found[start : start + LISTING_PIECE]
        text = "".join(f"{f.path}\x00{f.size}\x00{f.mtime_ns}\n" for f in files).encode()
        digest.update(text)
        pieces.append((hashlib.sha256(text).hexdigest(), max(map(itemgetter(2), files))))
    digest.update(repr(tuple(problems)).encode())
    return Listing(found, problems, listed_ns, digest.digest(), tuple(pieces))


@dataclass(frozen=True, slots=True)
class LastRun:
    """What the last published run read, what it left on disk, and what it reported."""

    #: sha256 of everything the run's output depends on: code, config, the state it
    #: wrote, and every post file's path, size and modification time
    inputs: str
    #: when the run listed the post files (ns since the epoch): a file modified shortly
    #: before may have changed again within the same clock tick, unseen
    listed_ns: int
    #: every published file → (size, mtime_ns) once published
    outputs: Mapping[str, tuple[int, int]]
    #: files in the output folder the run read (enclosures) → (size, mtime_ns), or
    #: (-1, -1) for one that was missing
    media: Mapping[str, tuple[int, int]]
    files: int
    posts: int
    drafts: int
    #: publication times of future posts held back, earliest first
    future: tuple[datetime, ...]
    problems: tuple[Problem, ...]
    feeds: int
    #: files runs have removed that none has published since: ``feeds serve`` answers
    #: them 410 Gone, after a restart too
    gone: tuple[str, ...] = ()
    #: files kept although no feed of the run is theirs (``pipeline._held``)
    held: tuple[str, ...] = ()
    #: posts a run through the index published since the last full run, which
    #: ``state.json`` does not know yet: path → (id, digest, slug, published), which the
    #: next full run remembers as it remembers the posts of the state
    added: Mapping[str, tuple[str, str, str, datetime]] = field(default_factory=dict)
    #: posts runs through the index added, then deleted, since the last full run (as
    #: ``added``): the next full run retires them
    dropped: Mapping[str, tuple[str, str, str, datetime]] = field(default_factory=dict)
    #: posts a run through the index read edited since the last full run: path → the
    #: digest of their bytes now (``state.json`` has their bytes before)
    edited: Mapping[str, str] = field(default_factory=dict)


def dump_last_run(run: LastRun) -> bytes:
    doc = {
        "version": RECORD_VERSION,
        "inputs": run.inputs,
        "listed_ns": run.listed_ns,
        "outputs": {path: list(stat) for path, stat in sorted(run.outputs.items())},
        "media": {path: list(stat) for path, stat in sorted(run.media.items())},
        "files": run.files,
        "posts": run.posts,
        "drafts": run.drafts,
        "future": [when.isoformat() for when in run.future],
        "problems": [[p.level, p.code, p.message, p.path, p.line, p.col] for p in run.problems],
        "feeds": run.feeds,
        "gone": sorted(run.gone),
        "held": sorted(run.held),
        "added": {
            path: [ident, digest, slug, published.isoformat()]
            for path, (ident, digest, slug, published) in sorted(run.added.items())
        },
        "edited": dict(sorted(run.edited.items())),
        "dropped": {
            path: [ident, digest, slug, published.isoformat()]
            for path, (ident, digest, slug, published) in sorted(run.dropped.items())
        },
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def load_last_run(data: bytes) -> LastRun:
    """Parse what dump_last_run wrote; ValueError for anything else."""
    try:
        doc = json.loads(data)
        if doc["version"] != RECORD_VERSION:
            raise ValueError("written by another version")
        future = tuple(datetime.fromisoformat(when) for when in doc["future"])
        if any(when.tzinfo is None for when in future):
            raise ValueError("naive date")
        return LastRun(
            inputs=str(doc["inputs"]),
            listed_ns=int(doc["listed_ns"]),
            outputs={
                str(path): (int(size), int(mtime)) for path, (size, mtime) in doc["outputs"].items()
            },
            media={
                str(path): (int(size), int(mtime)) for path, (size, mtime) in doc["media"].items()
            },
            files=int(doc["files"]),
            posts=int(doc["posts"]),
            drafts=int(doc["drafts"]),
            future=future,
            problems=tuple(Problem(*p) for p in doc["problems"]),
            feeds=int(doc["feeds"]),
            gone=tuple(str(path) for path in doc.get("gone", ())),
            held=tuple(str(path) for path in doc.get("held", ())),
            added=_added_in(doc.get("added", {})),
            edited={str(path): str(digest) for path, digest in doc.get("edited", {}).items()},
            dropped=_added_in(doc.get("dropped", {})),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"unusable record of the last run: {e}") from e


def _added_in(raw: object) -> dict[str, tuple[str, str, str, datetime]]:
    """``LastRun.added`` as ``dump_last_run`` wrote it; ValueError for anything else."""
    if not isinstance(raw, dict):
        raise ValueError("bad added posts")
    added = {}
    for path, (ident, digest, slug, published) in raw.items():
        when = datetime.fromisoformat(published)
        if when.tzinfo is None or not all(isinstance(t, str) for t in (ident, digest, slug)):
            raise ValueError("bad added post")
        added[str(path)] = (ident, digest, slug, when)
    return added


def _inputs(config: Config, listing: Listing, state: bytes) -> str:
    """A digest of everything a run's output depends on, but the clock (``now`` only
    matters when a future post falls due) and the post files' bytes (their sizes and
    times stand for them, once settled). ``state`` is the sha256 of the state file."""
    digest = hashlib.sha256(f"{code_fingerprint()}\x00{config!r}\x00".encode())
    digest.update(state)
    digest.update(listing.digest)
    return digest.hexdigest()


def record(
    config: Config,
    listing: Listing,
    result: RunResult,
    problems: Sequence[Problem],
    published: Sequence[str],
    media: Iterable[str],
    state: bytes,
    before: LastRun | None = None,
    held: Iterable[str] = (),
    added: Mapping[str, tuple[str, str, str, datetime]] | None = None,
    edited: Mapping[str, str] | None = None,
    dropped: Mapping[str, tuple[str, str, str, datetime]] | None = None,
) -> LastRun:
    """The record of a run that has just published: its inputs (the post files as
    listed, and when, the ``media`` files in the output folder it looked at), with the
    digest of the state it left (``state_read_back``). ``before`` is the record of the
    run before, whose removed files stay gone unless published again; ``held`` the
    files kept for the tags and authors of a skipped post; ``added`` the posts a run
    through the index added; ``edited`` the digests of the posts it read edited."""
    outputs = {}
    folder = os.fspath(config.output_dir)
    for path in published:
        with contextlib.suppress(OSError):  # not recorded: the next run is a full one
            st = os.stat(f"{folder}/{path}")  # noqa: PTH116
            outputs[path] = (st.st_size, st.st_mtime_ns)
    return LastRun(
        inputs=_inputs(config, listing, state),
        listed_ns=listing.listed_ns,
        outputs=outputs if len(outputs) == len(published) else {},
        media={path: _stat(f"{folder}/{path}") for path in sorted(media)},
        files=result.files,
        posts=result.posts,
        drafts=result.drafts,
        future=result.future,
        problems=tuple(problems),
        feeds=result.feeds,
        gone=tuple(sorted({*(before.gone if before else ()), *result.removed} - set(published))),
        held=tuple(sorted(held)),
        added=dict(added or {}),
        edited=dict(edited or {}),
        dropped=dict(dropped or {}),
    )


def last_run(config: Config) -> LastRun | None:
    """The record the last published run left (``LAST_RUN_FILE``); None when there is
    none, or none to be trusted."""
    try:
        return load_last_run((config.state_dir / LAST_RUN_FILE).read_bytes())
    except (OSError, ValueError):
        return None


def unchanged(
    config: Config, last: LastRun | None, listing: Listing, now: datetime
) -> RunResult | None:
    """The last published run's result (``last``, its record) when it still holds: same
    inputs, every file it published untouched since, and no future post fallen due.
    None otherwise."""
    if last is None:
        return None
    try:
        state = state_digest(config)
    except OSError:
        return None
    if not last.outputs or (last.future and now >= last.future[0]):
        return None
    # A file modified shortly before the last run listed it may have changed since
    # without its size or time showing it: then its bytes must be read again.
    if any(f.mtime_ns >= last.listed_ns - SETTLE_NS for f in listing.found):
        return None
    if _inputs(config, listing, state) != last.inputs:
        return None
    if not untouched(config, last):
        return None
    return as_last(last, now, unchanged=tuple(sorted(last.outputs)))


def as_last(
    last: LastRun,
    now: datetime,
    *,
    feed_problems: tuple[Problem, ...] = (),
    written: tuple[str, ...] = (),
    unchanged: tuple[str, ...] = (),
    removed: tuple[str, ...] = (),
    built: int = 0,
) -> RunResult:
    """The result of a published run that read the posts as the last one did: its
    counts and content problems, with what this run did to the files."""
    return RunResult(
        started=now,
        seconds=0.0,
        files=last.files,
        posts=last.posts,
        drafts=last.drafts,
        future=last.future,
        problems=last.problems,
        feed_problems=feed_problems,
        feeds=last.feeds,
        published=True,
        written=written,
        unchanged=unchanged,
        removed=removed,
        built=built,
    )


def untouched(config: Config, last: LastRun) -> bool:
    """Whether every file the last run published, and every file in the output folder
    it measured (enclosures), is as it left them."""
    folder = os.fspath(config.output_dir)
    return all(
        _stat(f"{folder}/{path}") == stat
        for path, stat in (*last.outputs.items(), *last.media.items())
    )


def state_read_back(config: Config) -> bytes:
    """The digest of the state file a run has just written; PublishError when it
    cannot be read."""
    try:
        return state_digest(config)
    except OSError as e:
        raise PublishError(f"cannot read back {config.state_dir / STATE_FILE}: {e}") from e


def state_digest(config: Config) -> bytes:
    """The sha256 of the state file, read a piece at a time; OSError when unreadable."""
    with (config.state_dir / STATE_FILE).open("rb") as file:
        return hashlib.file_digest(file, "sha256").digest()


def _stat(file: str) -> tuple[int, int]:
    """A file's size and modification time; (-1, -1) when there is none.

    An OS path: the thousands of files of a site's archive pages are looked at three
    times in a run, and a Path object costs twice what the call does."""
    try:
        st = os.stat(file)  # noqa: PTH116
    except (OSError, ValueError):
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def shortcut(
    config: Config,
    now: datetime,
    lock_wait: float,
    meanwhile: Callable[[Callable[[], bool]], None] = lambda done: None,
    waiting: Callable[[], None] | None = None,
) -> tuple[RunResult | None, Listing | None]:
    """The last run's result when it still holds (see ``unchanged``), else None and the
    listing: then a full run (``pipeline.regenerate``) is needed, and may reuse it.
    Takes the run lock while it looks.

    Listing a big content folder takes a while: it is done in a child process
    (``cores.alongside``) while ``meanwhile(done)`` runs here; ``done()`` tells when the
    listing is over. A run that may make feeds loads their libraries meanwhile.

    Raises LockError when another run keeps the lock past ``lock_wait`` seconds;
    ``waiting()`` is called once if it has to wait for it.
    """
    started = time.monotonic()
    with run_lock(config.state_dir, lock_wait, waiting):
        same, listing, fingerprint = alongside(lambda: _look(config, now), meanwhile)
    # Worked out where the files were listed, while this process was busy loading.
    _fingerprint[:] = [fingerprint]
    if same is not None:
        same = replace(same, seconds=time.monotonic() - started)
    return same, listing


def _look(config: Config, now: datetime) -> tuple[RunResult | None, Listing | None, str]:
    """The last run's result when it still holds, else None and the listing; and the
    code's fingerprint."""
    last = last_run(config)
    big = last is not None and last.files >= LIST_IN_TWO_FROM
    # Listing is stat calls and Python: two processes list a big folder in about half the time.
    listing = list_posts(config, in_two=big and core_count() > 1)
    same = unchanged(config, last, listing, now)
    # A run with nothing to do needs no listing: none is handed back.
    return (same, None if same is not None else listing, code_fingerprint())
