"""The whole job, once: load, resolve, build, validate, publish.

Incremental without trusting anything stale: a post file whose size and time are
unchanged is not read again (its metadata comes from the cache), a post's HTML is
rendered only for feeds that must be made again, and a feed whose inputs are the
same as when its file was written, with the file itself untouched since, is neither
made, validated nor written. Everything else is built from scratch, so a run with
caches gives the same bytes as one without. A run that finds nothing changed at all
stops after listing the content folder (``feeds.runs``).

Posts are read, and feeds rendered, written and validated, in worker processes on
every core (``feeds.cores``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import mmap
import os
import posixpath
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from feeds.cache import (
    CachedPost,
    Caches,
    dump_caches,
    find_metadata,
    load_caches,
    source_record,
)
from feeds.config import Config, FeedsConfig
from feeds.content import decode
from feeds.content.discover import FoundFile, discover, read_post_file
from feeds.content.readers import READERS
from feeds.cores import (
    Ahead,
    Waiting,
    ahead,
    core_count,
    in_background,
    on_every_core,
    tapered,
)
from feeds.dates import epoch_us
from feeds.exceptions import ContentError, PublishError
from feeds.index import (
    FileLines,
    Index,
    Indexed,
    Shown,
    Taken,
    changed_files,
    dump_index,
    listing_digest,
    load_index,
    taken_in,
    taken_line,
)
from feeds.media import COVER_HEAD, attach_enclosures, cover_problems, local_path
from feeds.model import FEED_FILES, FeedSpec, Post, Problem, Source
from feeds.plan import (
    SHARED_AUTHOR_FEED,
    SHARED_TAG_FEED,
    Archives,
    page_folder,
    plan_archives,
    plan_feeds,
    shared_feeds,
)
from feeds.publish import (
    STATE_FILE,
    Published,
    Staged,
    discard,
    publish_files,
    read_state,
    run_lock,
    stage,
    write_atomic,
    write_state,
    write_stream,
)
from feeds.readings import KeptReadings, dump_readings, load_readings, to_keep
from feeds.render import MAX_CONTENT_CHARS
from feeds.runs import (
    LAST_RUN_FILE,
    LISTING_PIECE,
    SETTLE_NS,
    LastRun,
    Listing,
    Progress,
    RunResult,
    as_last,
    code_fingerprint,
    collector_paused,
    dump_last_run,
    last_run,
    list_posts,
    load_last_run,
    record,
    state_digest,
    state_read_back,
    unchanged,
    untouched,
)
from feeds.site import Loaded, Resolved, permalink, render, resolve, resolve_added
from feeds.slugs import slugify_name
from feeds.state import Output, Remembered, Sealed, State, load_archives
from feeds.validate import EntryMemo, Scans, validate_feed
from feeds.writers import STYLESHEET_FILE, WRITERS, WriteOptions, stylesheet
from feeds.writers.pages import index_html, opml

CACHE_FILE = "cache.json"
INDEX_FILE = "index.json"
READINGS_FILE = "readings.json"
#: the most post files whose bodies alone changed, or that were added, that a run takes
#: through the index (``_quick_run``): more make a full run, which writes the index again
QUICK_MAX = 20
#: below this many feeds to validate, worker processes cost more than they save
PARALLEL_FROM = 12
#: from this many posts to render, the feeds' workers find them rendered and their
#: entries read by the validator (``_prime``): fewer are not worth a round of processes
PRIME_FROM = 40
#: the formats whose entries ``_prime`` reads (JSON Feed's checks take no parser)
PRIMED_FORMATS = ("rss", "atom")
#: the posts to prime (``_prime_ahead``, ``_primed``) go in shares of at most one
#: PRIME_SHARES-th of them; the processes take one at a time, the last shares ever
#: smaller (``tapered``)
PRIME_SHARES = 16
#: the fewest posts a share of them to prime has, unless fewer are left
PRIME_LEAST = 8
#: the feeds to make go in shares of at most one MAKE_SHARES-th of each core's
#: (``build_feeds``; the last shares smaller)
MAKE_SHARES = 4
#: the most posts a run renders ahead (``_prime_ahead``) with: while its child renders,
#: this process resolves every post, and each page of memory it writes to is copied; at
#: 100,000 posts that took the run's memory from 259 MiB to 357
PRIME_AHEAD_UP_TO = 20_000
#: the problem of a post that could not be read again to be shown
CHANGED_WHILE_READING = "changed-while-reading"
#: the problem of a post whose entry does not validate: left out, the others published
INVALID_ENTRY = "invalid-entry"
#: how many times a run makes its feeds again without posts that vanished meanwhile
MAX_REMAKES = 3
#: post files read by one worker at a time, as long as many are left to read: fewer are
#: not worth a process
READ_SHARE = 250
#: the fewest post files read at a time, as the reading ends (``tapered``)
READ_LEAST = 50
#: how far the cache may fall behind (posts and HTML it misses, in all) before it is
#: written again, at least, and per 100 posts: writing it costs about what reading a
#: thousand posts does, and each post it misses is read (and shown, rendered) again by
#: later runs, a fraction of a millisecond each
CACHE_SLACK = (50, 1)
#: the most posts whose cache a forked child writes while the run publishes: the child
#: copies the pages of this process' memory it reads (the posts', every one), and at
#: 100,000 posts that copy took the run's memory from 263 MiB to 411
CACHE_IN_BACKGROUND_UP_TO = 20_000
#: the formats archive pages are written in (RFC 5005 links are RSS and Atom links)
ARCHIVE_FORMATS = ("rss", "atom")


def _quiet(stage: str, done: int, total: int) -> None:
    """The default progress callback: report nothing."""


@dataclass(frozen=True)
class Loading:
    """The content folder as read: posts the readers understood, and what went wrong."""

    #: every readable, non-draft post, its body left out (read again when shown)
    loaded: tuple[Loaded, ...]
    #: every post path on disk, readable or not
    present: frozenset[str]
    #: one error per skipped file, and warnings
    problems: tuple[Problem, ...]
    drafts: int
    #: what the next run may reuse
    cached: Mapping[str, CachedPost] = field(default_factory=dict)
    #: how many post files were read from disk, not taken from the cache
    read: int = 0


@dataclass(frozen=True)
class Built:
    """The feeds of one run: the bytes of those that changed, and the validators' word."""

    specs: tuple[FeedSpec, ...]
    #: output path → bytes, for files made this run
    files: dict[str, bytes]
    #: output path → fingerprint, for every feed file of this run (made or kept)
    fingerprints: dict[str, str]
    problems: list[Problem]
    rendered: dict[str, tuple[str, str]]
    #: what the validators read of the feeds made, for later runs
    readings: KeptReadings
    #: the site feed's complete archive pages; files made this run are not in them yet
    sealed: tuple[Sealed, ...] = ()
    #: output paths of every complete archive page's files (kept or made)
    archived: frozenset[str] = frozenset()
    #: the site feed's open archive page, when there is one: its posts are shown too
    open_page: FeedSpec | None = None
    #: output path → complete archive pages made this run, written beside their targets
    #: already (a site's first archive may run to thousands of pages)
    staged: Mapping[str, Staged] = field(default_factory=dict)

    @property
    def feed_paths(self) -> set[str]:
        """Every feed file of this run, made or kept."""
        return {*self.fingerprints, *self.archived}

    @property
    def made(self) -> set[str]:
        """Every file this run made: held, or staged."""
        return {*self.files, *self.staged}


def load_content(
    config: Config,
    caches: Caches | None = None,
    progress: Progress = _quiet,
    discovered: tuple[Sequence[FoundFile], Sequence[Problem]] | None = None,
) -> Loading:
    """Read every post file, or take its metadata from ``caches`` when the file is
    unchanged; a file that cannot be read becomes one located error.

    ``discovered`` is what ``discover`` found, when the caller has already listed the folder.
    """
    found, listed = discovered or discover(config.content_dir, config.max_post_bytes)
    problems = list(listed)
    previous = caches.posts if caches else {}
    entries: dict[str, CachedPost | Problem] = {}
    to_read: list[tuple[FoundFile, CachedPost | None]] = []
    for item in found:
        old = previous.get(item.path)
        if old and old.settled and (old.size, old.mtime_ns) == (item.size, item.mtime_ns):
            entries[item.path] = old
        else:
            to_read.append((item, old))
    progress("reading", len(entries), len(found))
    if to_read:
        # Many shares a core, the last ones small: a worker that ends its last share early
        # waits for the others.
        largest = max(READ_SHARE, -(-len(to_read) // (16 * core_count())))
        cuts = tapered(len(to_read), core_count(), largest, READ_LEAST)
        shares = [(to_read[cut.start : cut.stop], config) for cut in cuts]

        def done(n: int) -> None:
            progress("reading", len(entries) + cuts[n - 1].stop, len(found))

        for share, results in zip(shares, on_every_core(_read_share, shares, done), strict=True):
            for (item, _), entry in zip(share[0], results, strict=True):
                entries[item.path] = entry
    loaded: list[Loaded] = []
    cached: dict[str, CachedPost] = {}
    drafts = 0
    for item in found:
        entry = entries[item.path]
        if isinstance(entry, Problem):
            problems.append(entry)
            continue
        cached[item.path] = entry
        problems.extend(entry.source.warnings)
        if entry.source.draft:
            drafts += 1
            continue
        mtime = datetime.fromtimestamp(item.mtime_ns / 1e9, UTC)
        loaded.append(Loaded(entry.source, mtime, entry.digest))
    present = frozenset(f.path for f in found)
    return Loading(tuple(loaded), present, tuple(problems), drafts, cached, len(to_read))


def _read_share(
    share: tuple[Sequence[tuple[FoundFile, CachedPost | None]], Config],
) -> list[CachedPost | Problem]:
    """Read some post files (in a worker process when there are many)."""
    items, config = share
    # An OS path: ten thousand Path objects cost a tenth of a second.
    folder = os.path.realpath(config.content_dir)
    return [_read_post(item, old, config, folder) for item, old in items]


def _read_post(
    item: FoundFile, old: CachedPost | None, config: Config, folder: str
) -> CachedPost | Problem:
    try:
        data = read_post_file(folder, item.path, config.max_post_bytes)
    except OSError as e:
        return Problem("error", "unreadable", f"cannot read: {e.strerror}", item.path)
    digest = hashlib.sha256(data).hexdigest()
    settled = item.mtime_ns < time.time_ns() - SETTLE_NS
    if old is not None and old.digest == digest:
        return replace(old, size=item.size, mtime_ns=item.mtime_ns, settled=settled)
    try:
        source = parse_post(data, item.path, config, with_body=False)
    except ContentError as e:
        return Problem("error", "bad-post", e.message, item.path, e.line)
    return CachedPost(item.size, item.mtime_ns, digest, source, settled)


def parse_post(data: bytes, path: str, config: Config, *, with_body: bool = True) -> Source:
    """A post file's bytes as its reader sees them, with decoding warnings attached."""
    text, warnings = decode(data, path)
    read = READERS[posixpath.splitext(path)[1].lower()]
    source = read(text, path, config.site.tz, with_body=with_body)
    if warnings:
        source = replace(source, warnings=(*warnings, *source.warnings))
    return source


def resolve_posts(
    config: Config,
    loading: Loading,
    state: State,
    now: datetime,
    looked_up: set[str] | None = None,
    earlier: Mapping[str, CachedPost] | None = None,
    titles_since: Callable[[set[str]], Mapping[str, str]] = lambda paths: {},
) -> Resolved:
    """Every post's dates, id, slug and URL (:func:`feeds.site.resolve`), then its
    enclosure made whole: a file on this site is looked up in ``output_dir`` (and its
    path added to ``looked_up``, found or not). ``earlier`` is the cache's posts as last
    read, which names the posts deleted since; ``titles_since`` gives the titles of
    those of the given paths that runs read after the cache was written."""
    titles = {
        p: c.source.title
        for p, c in (earlier or {}).items()
        if p not in loading.present and c.source.title
    }
    unnamed = {p for p in state.posts if p not in loading.present and p not in titles}
    if unnamed:
        # Posts added since the cache was written (it is written again only now and
        # then): a file renamed and edited in one step is told of by its title.
        titles.update(titles_since(unnamed))
    resolved = resolve(loading.loaded, loading.present, state, config.site, now, titles)
    sources = {item.source.path: item.source for item in loading.loaded}
    folder = config.output_dir

    def size_of(rel: str) -> int | None:
        if looked_up is not None:
            looked_up.add(rel)
        try:
            st = (folder / rel).stat()
        except (OSError, ValueError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    name = os.path.relpath(folder, config.path.parent)
    attached = attach_enclosures(resolved.posts, sources, config.site, size_of, name)
    shared = shared_feeds(attached.posts, config)
    cover = _cover(config, name)
    return replace(
        resolved,
        posts=attached.posts,
        problems=(*resolved.problems, *attached.problems, *shared, *cover),
    )


def _cover(config: Config, folder_name: str) -> list[Problem]:
    """Warnings for the podcast's cover art when it is a file of this site (one elsewhere
    is not fetched)."""
    image = config.podcast.image if config.podcast else None
    if image is None:
        return []
    try:
        rel = local_path(config.site, image)
    except ValueError as e:
        return [Problem("warning", "podcast-image", f"'podcast.image': {e}")]
    if rel is None:
        return []
    head: bytes | None = None
    with contextlib.suppress(OSError, ValueError):
        # Non-blocking: a FIFO put there must not hold the run.
        fd = os.open(config.output_dir / rel, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                head = file.read(COVER_HEAD)
    return cover_problems(image, rel, head, folder_name)


def fingerprint(spec: FeedSpec, fmt: str, digests: Mapping[str, str], options: object) -> str:
    """Everything a feed file is made from, hashed: same fingerprint, same bytes."""
    head = replace(spec, posts=())
    parts = [code_fingerprint(), fmt, repr(options), repr(head)]
    parts += (_post_part(post, digests[post.path]) for post in spec.posts)
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@functools.lru_cache(maxsize=4096)  # a post shows in several feeds and formats
def _post_part(post: Post, digest: str) -> str:
    """What a feed's fingerprint takes from one of its posts."""
    # Only the instant matters (writers use UTC): a date read from a post and the
    # same date read back from the cache may carry different tzinfo objects.
    at = replace(
        post, published=post.published.astimezone(UTC), updated=post.updated.astimezone(UTC)
    )
    return f"{at!r}{digest}"


def build_feeds(
    config: Config,
    resolved: Resolved,
    digests: Mapping[str, str],
    state: State,
    caches: Caches | None,
    now: datetime,
    progress: Progress = _quiet,
    readings: KeptReadings | None = None,
    changed: frozenset[str] | None = None,
    primed_ahead: Ahead[_Primed] | None = None,
    *,
    dry: bool = False,
) -> Built:
    """Make and validate every feed whose inputs changed since its file was written.

    The feeds to make are shared among the cores, grouped by format (feeds of one
    format share entries, which the validator then reads once), complete archive pages
    last, page by page: each worker renders the posts its feeds show, unless the cache
    holds their HTML, writes the feeds and validates them. A complete page is staged
    beside its target at once (``Built.staged``), neither its bytes nor what was read
    of it kept: a site's first archive holds nearly every post it has. When many posts
    are to be rendered (a first run), each is first rendered, and its entry read by the
    validator, once on one core (``_primed``): feeds of every core's share show it.

    ``readings`` is what the validators of an earlier run kept (``feeds.readings``):
    entries read then are not read again. ``changed``, when given, are the only posts
    whose files differ from the run that made the feeds ``state.outputs`` records (a run
    through the index): a feed that shows none of them keeps its recorded fingerprint,
    which is not worked out again (the site feed's archive pages aside).
    ``primed_ahead`` is what ``_prime_ahead`` began: taken as ``_primed``'s is.
    ``dry`` (``feeds check``): complete archive pages are validated, then dropped, not
    staged; nothing is written.
    """
    planned = plan_feeds(resolved.posts, config)
    options = _write_options(config)
    archives = None
    if config.feeds.archives:
        archives = plan_archives(planned[0], resolved.posts, state.archives, config.feeds.limit)
        planned = (archives.main, *planned[1:])
    # Feeds that are made again when their inputs change; complete archive pages are not.
    live = [(spec, fmt) for spec in planned for fmt in config.feeds.formats]
    sealed: tuple[Sealed, ...] = ()
    archived: set[str] = set()
    todo: list[tuple[FeedSpec, str]] = []
    problems: list[Problem] = []
    if archives is not None and archives.pages:  # none while the site feed holds every post
        kinds = archive_formats(config)
        live += [(archives.pages[-1], fmt) for fmt in kinds]
        sealed, remade, problems = _check_sealed(config.output_dir, archives, kinds)
        archived = {spec.path(fmt) for spec in archives.pages[:-1] for fmt in kinds}
        todo += remade
    fingerprints: dict[str, str] = {}
    for spec, fmt in live:
        path = spec.path(fmt)
        recorded = state.outputs.get(path)
        # The open archive page takes the main feed's oldest post without showing a
        # changed one: the posts of the site feed's pages are always looked at.
        if (
            changed is not None
            and recorded
            and spec.history is None
            and not any(p.path in changed for p in spec.posts)
        ):
            fingerprints[path] = recorded.fingerprint
        else:
            fingerprints[path] = fingerprint(spec, fmt, digests, options)
        if not _kept(config.output_dir / path, recorded, fingerprints[path]):
            todo.append((spec, fmt))

    keys: dict[str, str] = {}
    for spec in {spec.folder: spec for spec, _ in (*live, *todo)}.values():
        for post in spec.posts:
            if post.path not in keys:
                keys[post.path] = _render_key(post, digests[post.path], config)
    old_rendered = caches.rendered if caches else {}
    # Kept feeds' posts keep their HTML in the cache, for when a neighbour changes; the
    # posts of complete archive pages do not (those pages are not made again).
    live_keys = frozenset(keys[post.path] for spec, _ in live for post in spec.posts)
    # Feeds of one format next to each other, then complete archive pages one page after
    # another (each shows its own posts); each core takes a run of them.
    todo.sort(key=_making_order)
    cores = core_count() if len(todo) >= PARALLEL_FROM else 1
    # What a first run's child began while the posts were resolved, then what is left.
    primed = _together(primed_ahead.results() if primed_ahead is not None else [])
    old_rendered = {**old_rendered, **primed.rendered}
    if cores > 1:
        more = _primed(todo, planned[0], keys, old_rendered, config, options, now)
        if more is not None:
            primed = _together([primed, more])
            old_rendered = {**old_rendered, **more.rendered}
    earlier = (readings or KeptReadings()).joined(primed.readings)
    scans = primed.scans
    largest = -(-len(todo) // (MAKE_SHARES * cores))
    cuts = tapered(len(todo), cores, largest) if cores > 1 else [range(len(todo))]
    shares = [todo[cut.start : cut.stop] for cut in cuts]
    pieces = []
    for share in shares:
        shown = {keys[post.path] for spec, _ in share for post in spec.posts}
        known = {key: old_rendered[key] for key in shown if key in old_rendered}
        making = _Making(
            tuple(share), keys, known, config, options, now, earlier, live_keys & shown, scans,
            dry,
        )  # fmt: skip
        pieces.append(making)

    def done(n: int) -> None:
        progress("building", sum(len(share) for share in shares[:n]), len(todo))

    files: dict[str, bytes] = {}
    staged: dict[str, Staged] = {}
    rendered: dict[str, tuple[str, str]] = {}
    used = KeptReadings()
    for made in on_every_core(_make, pieces, done, here_too=True):
        files.update(made.files)
        staged.update(made.staged)
        problems += made.problems
        rendered.update(made.rendered)
        used = used.joined(made.readings)
    # A post each share renders is reported by each (its HTML too long, its file gone):
    # once, as one process reports it.
    problems = list(dict.fromkeys(problems))
    rendered = {key: html for key, html in rendered.items() if key in live_keys}
    for key in live_keys:
        if key not in rendered and key in old_rendered:
            rendered[key] = old_rendered[key]
    site = config.site
    formats = config.feeds.formats
    files["index.html"] = index_html(
        site.title, site.description, site.base_url, planned, formats, site.tz
    )
    files["feeds.opml"] = opml(site.title, site.base_url, planned, formats)
    if config.feeds.stylesheet:
        files[STYLESHEET_FILE] = stylesheet()
    open_page = archives.pages[-1] if archives is not None and archives.pages else None
    return Built(
        planned,
        files,
        fingerprints,
        problems,
        rendered,
        used,
        sealed,
        frozenset(archived),
        open_page,
        staged,
    )


def _write_options(config: Config) -> WriteOptions:
    return WriteOptions(
        full_content=config.feeds.full_content,
        stylesheet=config.feeds.stylesheet,
        hub=config.websub.hub,
    )


def _render_key(post: Post, digest: str, config: Config) -> str:
    """What a post's HTML depends on: its file, its page's URL and its title."""
    page = permalink(config.site, post.slug, post.path, post.published)
    return hashlib.sha256(f"{digest}\x00{page}\x00{post.title}".encode()).hexdigest()


@dataclass(frozen=True)
class _Making:
    """A share of the feeds to make, and what a worker needs to make them."""

    jobs: tuple[tuple[FeedSpec, str], ...]
    #: post path → render key
    keys: Mapping[str, str]
    #: render key → (content, summary) for posts rendered by an earlier run
    rendered: Mapping[str, tuple[str, str]]
    config: Config
    options: WriteOptions
    now: datetime
    #: what the validators of an earlier run kept
    readings: KeptReadings
    #: render keys of the posts the share's feeds show that the cache keeps: the others
    #: are shown by complete archive pages alone, each rendered for its one page
    live: frozenset[str]
    #: HTML scans the validators made already (``_prime``)
    scans: Scans
    #: complete archive pages are validated, then dropped (``feeds check``)
    dry: bool = False


@dataclass(frozen=True)
class _Made:
    #: output path → bytes
    files: dict[str, bytes]
    #: output path → what was staged of complete archive pages
    staged: dict[str, Staged]
    problems: list[Problem]
    #: render key → (content, summary) for the posts of the share's feeds that
    #: ``_Making.live`` names
    rendered: dict[str, tuple[str, str]]
    #: what the share's validators read, for later runs
    readings: KeptReadings


def _make(making: _Making) -> _Made:
    """Render, write and validate a share of the feeds (in a worker process when
    there are many)."""
    rendered = dict(making.rendered)
    # The HTML of posts that complete archive pages alone show, kept while their page is
    # made (in each format) and no longer.
    passing: dict[str, tuple[str, str]] = {}
    problems: list[Problem] = []

    def full(post: Post) -> Post:
        key = making.keys[post.path]
        held = rendered if key in making.live else passing
        if key not in held:
            done = _render_from_disk(post, making.config)
            if isinstance(done, Problem):
                problems.append(done)
                done = post
            if len(done.content) > MAX_CONTENT_CHARS:
                problems.append(_content_too_long(post, len(done.content)))
                done = replace(done, content="")
            held[key] = (done.content, done.summary)
        content, summary = held[key]
        return replace(post, content=content, summary=summary)

    files: dict[str, bytes] = {}
    staged: dict[str, Staged] = {}
    memo = EntryMemo(making.readings, making.scans)
    folder = None
    for spec, fmt in making.jobs:
        if spec.folder != folder:
            folder = spec.folder
            passing.clear()
        whole = replace(spec, posts=tuple(full(p) for p in spec.posts))
        data = WRITERS[fmt](whole, making.options)
        path = spec.path(fmt)
        # A complete archive page is made once: what the validator reads of it, and its
        # bytes, are not kept (a site's first archive may hold every post it has).
        complete = _complete(spec)
        found = _validated(
            whole, fmt, data, making, EntryMemo(making.readings) if complete else memo
        )
        if any(p.level == "error" for p in found):
            # One post's entry must not keep the others out: such posts are named, and
            # the run makes the feeds again without them (``regenerate``).
            found = tuple(_invalid_entries(whole, fmt, making)) or found
        problems += found
        if not complete:
            files[path] = data
            continue
        if making.dry:
            continue
        try:
            staged[path] = stage(making.config.output_dir, path, data)
        except PublishError as e:
            problems.append(Problem("error", "publish-failed", str(e), path))
    return _Made(files, staged, problems, rendered, memo.kept())


@dataclass(frozen=True)
class _Priming:
    """Posts for one core to render, and to have their entries read, ahead of the feeds."""

    #: the feed the posts are written in (a tag feed's kind: no podcast, no archive)
    spec: FeedSpec
    formats: tuple[str, ...]
    #: post path → render key
    keys: Mapping[str, str]
    config: Config
    options: WriteOptions
    now: datetime


@dataclass(frozen=True)
class _Primed:
    #: render key → (content, summary)
    rendered: dict[str, tuple[str, str]]
    #: what the validator read of the entries
    readings: KeptReadings
    scans: Scans


def _primed(
    todo: Sequence[tuple[FeedSpec, str]],
    site: FeedSpec,
    keys: Mapping[str, str],
    rendered: Mapping[str, tuple[str, str]],
    config: Config,
    options: WriteOptions,
    now: datetime,
) -> _Primed | None:
    """The posts the feeds in ``todo`` show that ``rendered`` lacks, each rendered and
    its entry read by the validator on one core; None when they are too few to share.

    A post is shown by the site feed and by its tags' and authors' feeds, which the
    workers of ``build_feeds`` share out: each would render the post, and have
    feedparser read its entry, again. Read here, a post's entry is the same bytes in a
    feed made later (in each format), and the validators of those feeds take the reading
    as their own (``EntryMemo``): they still compare every entry with its post. What is
    found here is no verdict on any feed, and is not reported.
    """
    wanted: dict[str, Post] = {}
    for spec, _ in todo:
        if not _complete(spec):  # a complete page's posts are rendered for it alone
            for post in spec.posts:
                if keys[post.path] not in rendered:
                    wanted.setdefault(post.path, post)
    if len(wanted) < PRIME_FROM:
        return None
    formats = tuple(dict.fromkeys(fmt for _, fmt in todo if fmt in PRIMED_FORMATS))
    parts = _prime_parts(site, wanted, formats, keys, config, options, now)
    return _together(on_every_core(_prime, parts, here_too=True))


def _together(parts: Sequence[_Primed]) -> _Primed:
    """What the parts primed, as one."""
    return _Primed(
        {key: html for part in parts for key, html in part.rendered.items()},
        functools.reduce(KeptReadings.joined, (part.readings for part in parts), KeptReadings()),
        {scan: findings for part in parts for scan, findings in part.scans.items()},
    )


def _prime_ahead(
    config: Config, loading: Loading, state: State, now: datetime
) -> Ahead[_Primed] | None:
    """On the other cores, while this process resolves every post: render the posts the
    feeds will most likely show, and have the validator read their entries (``_prime``);
    None when they are too few to share, there is no other core, or the site is too big
    (``PRIME_AHEAD_UP_TO``).

    The posts are those the feeds of the newest posts by the dates their files give
    (``_likely_shown``) show, each resolved among them alone. Nearly always that is what
    the feeds show once every post is resolved. What differs (a slug another post had
    first, say) is work lost: the HTML is kept by its render key and each reading by the
    entry's bytes, so nothing primed stands for what a feed shows unless it is that.
    """
    if not PRIME_FROM <= len(loading.loaded) <= PRIME_AHEAD_UP_TO or core_count() < 2:
        return None
    likely = _likely_shown(loading.loaded, config.feeds, now)
    trial = resolve_posts(config, replace(loading, loaded=likely), state, now)
    planned = plan_feeds(trial.posts, config)
    wanted = {post.path: post for spec in planned for post in spec.posts}
    if len(wanted) < PRIME_FROM:
        return None
    digests = {item.source.path: item.digest for item in likely}
    keys = {path: _render_key(post, digests[path], config) for path, post in wanted.items()}
    formats = tuple(fmt for fmt in config.feeds.formats if fmt in PRIMED_FORMATS)
    options = _write_options(config)
    return ahead(_prime, _prime_parts(planned[0], wanted, formats, keys, config, options, now))


def _likely_shown(
    loaded: Sequence[Loaded], feeds: FeedsConfig, now: datetime
) -> tuple[Loaded, ...]:
    """The posts newest by the date their files give among all posts, and among those of
    each tag (and author, with ``per_author``), ``feeds.limit`` of each; and every post
    that gives none (its date is the day it was first seen). A post dated after ``now``
    waits, and is not shown. Tags and authors are told apart as written, more finely
    than their feeds are (``Python`` and ``python`` make one): more posts, not fewer."""
    chosen = [item for item in loaded if item.source.date is None]
    dated = [item for item in loaded if item.source.date is not None and item.source.date <= now]
    dated.sort(key=lambda item: item.source.date or now, reverse=True)
    limit = feeds.limit
    tags: dict[str, int] = {}
    authors: dict[str, int] = {}
    for n, item in enumerate(dated):
        source = item.source
        shown = n < limit
        if feeds.per_tag:
            for tag in source.tags:
                count = tags.get(tag, 0)
                if count < limit:
                    tags[tag] = count + 1
                    shown = True
        if feeds.per_author:
            # A post without authors is the site author's.
            for name in [author.name for author in source.authors] or [""]:
                count = authors.get(name, 0)
                if count < limit:
                    authors[name] = count + 1
                    shown = True
        if shown:
            chosen.append(item)
    return tuple(chosen)


def _prime_parts(
    site: FeedSpec,
    wanted: Mapping[str, Post],
    formats: tuple[str, ...],
    keys: Mapping[str, str],
    config: Config,
    options: WriteOptions,
    now: datetime,
) -> list[_Priming]:
    """The posts ``wanted`` (by path) in shares, the largest ``1/PRIME_SHARES`` of them,
    the last ones smaller (``tapered``), each to be written as a feed of the site's kind
    of a tag feed (no podcast, no archive)."""
    plain = replace(site, kind="tag", podcast=None, history=None)
    posts = [wanted[path] for path in sorted(wanted)]
    largest = -(-len(posts) // PRIME_SHARES)
    return [
        _Priming(replace(plain, posts=tuple(posts[cut.start : cut.stop])), formats, keys,
                 config, options, now)
        for cut in tapered(len(posts), core_count(), largest, PRIME_LEAST)
    ]  # fmt: skip


def _prime(priming: _Priming) -> _Primed:
    """Render the posts of a share, write them as one feed in each format, and validate
    it (in a worker process, or this one). A post that cannot be rendered, or whose HTML
    is too long, is left to the feed workers, which report it."""
    rendered: dict[str, tuple[str, str]] = {}
    posts = []
    for post in priming.spec.posts:
        done = _render_from_disk(post, priming.config)
        if isinstance(done, Problem) or len(done.content) > MAX_CONTENT_CHARS:
            continue
        rendered[priming.keys[post.path]] = (done.content, done.summary)
        posts.append(done)
    memo = EntryMemo()
    spec = replace(priming.spec, posts=tuple(posts))
    for fmt in priming.formats:
        data = WRITERS[fmt](spec, priming.options)
        # As the feeds are validated: the structure checks' verdict on an entry is kept.
        validate_feed(
            data,
            spec.url(fmt),
            fmt=fmt,
            expected=spec.posts,
            now=priming.now,
            memo=memo,
            hub=priming.options.hub,
        )
    return _Primed(rendered, memo.kept(), memo.scans)


def _validated(
    spec: FeedSpec, fmt: str, data: bytes, making: _Making, memo: EntryMemo
) -> tuple[Problem, ...]:
    """What validating ``data``, the bytes of ``spec`` (its posts rendered), finds."""
    return validate_feed(
        data,
        spec.url(fmt),
        fmt=fmt,
        expected=spec.posts,
        path=spec.path(fmt),
        now=making.now,
        memo=memo,
        links=spec.history_links(fmt) if spec.history else None,
        hub=making.options.hub,
    )


def _invalid_entries(spec: FeedSpec, fmt: str, making: _Making) -> list[Problem]:
    """An ``invalid-entry`` error for each post of a feed that failed validation whose
    entry fails alone, in a feed of that post only, when the feed without posts passes;
    none when it does not (what fails is the feed's own, and the run publishes nothing).
    Called only for a feed that failed: its posts are not read again."""
    empty = replace(spec, posts=())
    if any(
        p.level == "error"
        for p in _validated(empty, fmt, WRITERS[fmt](empty, making.options), making, EntryMemo())
    ):
        return []
    found = []
    for post in spec.posts:
        alone = replace(spec, posts=(post,))
        data = WRITERS[fmt](alone, making.options)
        errors = [
            p for p in _validated(alone, fmt, data, making, EntryMemo()) if p.level == "error"
        ]
        if errors:
            detail = "; ".join(p.message for p in errors[:3])
            message = f"left out: its entry in {spec.path(fmt)} is not valid: {detail}"
            found.append(Problem("error", INVALID_ENTRY, message, post.path))
    return found


def _complete(spec: FeedSpec) -> bool:
    """Whether ``spec`` is a complete archive page."""
    return spec.history is not None and spec.history.complete


def _making_order(job: tuple[FeedSpec, str]) -> tuple[bool, str, str]:
    """Feeds by format, then complete archive pages by page (``build_feeds``)."""
    spec, fmt = job
    complete = _complete(spec)
    return complete, spec.folder if complete else "", fmt


def archive_formats(config: Config) -> list[str]:
    """The formats of the site's archive pages: those of its feeds that RFC 5005 fits."""
    return [fmt for fmt in config.feeds.formats if fmt in ARCHIVE_FORMATS]


def _check_sealed(
    output_dir: Path, archives: Archives, formats: Sequence[str]
) -> tuple[tuple[Sealed, ...], list[tuple[FeedSpec, str]], list[Problem]]:
    """Which files of complete archive pages are intact on disk (kept, never made again)
    and which must be made: those of pages sealed this run, and any changed or removed
    since it was written (with a warning: readers may hold the bytes it had)."""
    records: list[Sealed] = []
    remade: list[tuple[FeedSpec, str]] = []
    problems: list[Problem] = []
    folder = os.fspath(output_dir)  # OS paths: a site's archive may run to thousands of pages
    for spec, page in zip(archives.pages[:-1], archives.sealed, strict=True):
        files: dict[str, Output] = {}
        for fmt in formats:
            record = page.files.get(fmt)
            found = _intact(f"{folder}/{spec.path(fmt)}", record) if record else None
            if found is not None:
                files[fmt] = found
                continue
            remade.append((spec, fmt))
            if record is not None:
                problems.append(
                    Problem(
                        "warning",
                        "archive-remade",
                        "this complete archive page was changed or removed on disk: made "
                        "again from the posts it holds, its bytes may differ from readers' copies",
                        spec.path(fmt),
                    )
                )
        records.append(replace(page, files=files))
    return tuple(records), remade, problems


def _intact(file: str, record: Output) -> Output | None:
    """The record of ``file`` when it still holds the bytes it was written with (its size
    and time unchanged, or else its digest), else None."""
    try:
        st = os.stat(file)  # noqa: PTH116
        if (st.st_size, st.st_mtime_ns) == (record.size, record.mtime_ns):
            return record
        if st.st_size != record.size:
            return None
        with open(file, "rb") as data:  # noqa: PTH123
            if hashlib.file_digest(data, "sha256").hexdigest() == record.fingerprint:
                return Output(record.fingerprint, st.st_size, st.st_mtime_ns)
    except OSError:
        pass
    return None


def _seal(output_dir: Path, sealed: Sequence[Sealed], made: Mapping[str, Staged],
          formats: Sequence[str]) -> tuple[Sealed, ...]:  # fmt: skip
    """The complete pages' records with the files written this run added: their digest,
    size and time on disk."""
    records = []
    for page in sealed:
        found = dict(page.files)
        for fmt in formats:
            path = f"{page_folder(page.page)}{FEED_FILES[fmt]}"
            if fmt not in found and path in made:
                st = (output_dir / path).stat()
                found[fmt] = Output(made[path].digest, st.st_size, st.st_mtime_ns)
        records.append(replace(page, files=found))
    return tuple(records)


def _kept(file: Path, output: Output | None, wanted: str) -> bool:
    """True when the file on disk is the one made from ``wanted`` and nobody touched it."""
    if output is None or output.fingerprint != wanted:
        return False
    try:
        st = file.stat()
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (output.size, output.mtime_ns)


def _content_too_long(post: Post, length: int) -> Problem:
    return Problem(
        "warning",
        "content-too-long",
        f"its HTML is over {MAX_CONTENT_CHARS:,} characters (at least {length:,}): only its "
        "summary is published (the XML parsers of feed readers refuse text nodes over 10 MB)",
        post.path,
    )


def _post_bytes(config: Config, rel: str) -> bytes:
    """One post file's bytes (``read_post_file``), outside a run's reading of them all."""
    return read_post_file(os.path.realpath(config.content_dir), rel, config.max_post_bytes)


def _render_from_disk(post: Post, config: Config) -> Post | Problem:
    """Read a shown post's body again (bodies are not kept in memory) and render it."""
    try:
        data = _post_bytes(config, post.path)
        source = parse_post(data, post.path, config)
    except (OSError, ContentError) as e:
        # The problem names the post's file: an OSError's own text would repeat its path.
        message = e.message if isinstance(e, ContentError) else e.strerror or str(e)
        return _unreadable_again(post.path, message)
    return render(post, source, config.site)


#: why a post file gone since it was read cannot be shown
_DELETED = os.strerror(errno.ENOENT)


def _unreadable_again(path: str, why: str) -> Problem:
    return Problem("error", CHANGED_WHILE_READING, f"cannot read again: {why}", path)


def read_caches(config: Config) -> Caches | None:
    """The caches of the last good run, or None when missing or not to be trusted."""
    try:
        with (config.state_dir / CACHE_FILE).open("rb") as lines:
            return load_caches(lines, _cache_fingerprint(config))
    except (OSError, ValueError):
        return None


def read_readings(config: Config) -> KeptReadings:
    """What the last run's validators kept (``feeds.readings``); nothing when missing or
    not to be trusted."""
    try:
        return load_readings((config.state_dir / READINGS_FILE).read_bytes(), code_fingerprint())
    except (OSError, ValueError):
        return KeptReadings()


def _cache_fingerprint(config: Config) -> str:
    # The time zone changes how naive dates read; the rest of the config does not.
    return f"{code_fingerprint()}:{config.site.timezone}"


@dataclass(frozen=True)
class Outcome:
    """The feeds of a run (``make_feeds``), made without the posts that cannot be shown."""

    #: what was read: the posts left out are no longer among it
    loading: Loading
    #: the posts the feeds show; its problems name those left out
    resolved: Resolved
    built: Built
    #: what the validators of earlier runs kept, with what those of this run read
    earlier: KeptReadings


def make_feeds(
    config: Config,
    loading: Loading,
    resolved: Resolved,
    digests: Mapping[str, str],
    state: State,
    caches: Caches | None,
    now: datetime,
    progress: Progress = _quiet,
    earlier: KeptReadings | None = None,
    primed_ahead: Ahead[_Primed] | None = None,
    *,
    dry: bool = False,
) -> Outcome:
    """Make and validate the feeds (``build_feeds``, whose arguments these are) of a run
    that publishes them or, ``dry``, of ``feeds check``: both find the same problems.

    A post deleted or spoiled after it was read cannot be shown, nor one whose entry
    does not validate: its feeds are made again without it (only that post is
    skipped), reusing what was rendered.
    """
    earlier = earlier or KeptReadings()
    built = build_feeds(
        config, resolved, digests, state, caches, now, progress, earlier, None, primed_ahead,
        dry=dry,
    )  # fmt: skip
    for _ in range(MAX_REMAKES):
        # One problem a post: each worker that shows it reports it.
        gone_by_path = {
            p.path: p for p in built.problems if p.code in (CHANGED_WHILE_READING, INVALID_ENTRY)
        }
        if not gone_by_path:
            break
        # A folder synced while the run reads it may lose many posts: each remake would
        # show older posts, gone as well. Every post whose file is gone goes at once.
        folder = Path(os.path.realpath(config.content_dir))
        for post in resolved.posts:
            if post.path not in gone_by_path and not (folder / post.path).exists():
                gone_by_path[post.path] = _unreadable_again(post.path, _DELETED)
        gone = tuple(gone_by_path.values())
        paths = set(gone_by_path)
        shown = tuple(post for post in resolved.posts if post.path not in paths)
        resolved = replace(resolved, posts=shown, problems=(*resolved.problems, *gone))
        cached = {path: c for path, c in loading.cached.items() if path not in paths}
        loading = replace(loading, cached=cached)
        old = caches.rendered if caches else {}
        reuse = Caches(cached, {**old, **built.rendered})
        earlier = earlier.joined(built.readings)
        discard(config.output_dir, built.staged)
        built = build_feeds(
            config, resolved, digests, state, reuse, now, progress, earlier, dry=dry
        )
    return Outcome(loading, resolved, built, earlier)


def regenerate(
    config: Config,
    now: datetime,
    *,
    progress: Progress = _quiet,
    lock_wait: float = 60.0,
    use_cache: bool = True,
    listing: Listing | None = None,
    waiting: Callable[[], None] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> RunResult:
    """One regeneration under the lock. Nothing is published unless every feed validates.

    ``listing`` is the content folder as ``runs.shortcut`` just listed it, when it
    found a full run needed. Raises LockError when another run keeps the lock past
    ``lock_wait`` seconds; ``waiting()`` is called once if it has to wait for it, and
    ``stopping()`` ends the wait (LockError).
    """
    started = time.monotonic()
    with run_lock(config.state_dir, lock_wait, waiting, stopping), collector_paused():
        # A listing given comes from runs.shortcut, which has just found a full run needed.
        if listing is None:
            listing = list_posts(config)
            if use_cache and (same := unchanged(config, last_run(config), listing, now)):
                return replace(same, seconds=time.monotonic() - started)
        if use_cache and (quick := _quick_run(config, now, listing, progress)):
            return replace(quick, seconds=time.monotonic() - started)
        state, state_problems = read_state(config.state_dir)
        caches = read_caches(config) if use_cache else None
        earlier = read_readings(config) if use_cache else KeptReadings()
        if not use_cache:
            state = replace(state, outputs={})
        loading = load_content(config, caches, progress, (listing.found, listing.problems))
        media: set[str] = set()
        earlier_posts = caches.posts if caches else None
        # Posts runs through the index published since, which the state does not know:
        # remembered as the state's are (their ids, and their URLs, stay theirs).
        record_ = last_run(config)
        if record_ and (record_.added or record_.dropped):
            # Those deleted since are retired, as posts deleted are.
            known: dict[str, Remembered] = {}
            left: dict[str, Remembered] = {}
            for path, (ident, digest, slug, when) in record_.added.items():
                if path not in state.posts:
                    known[path] = Remembered(ident, when, digest, slug)
            for ident, digest, slug, when in record_.dropped.values():
                left[ident] = Remembered(ident, when, digest, slug)
            state = replace(
                state,
                posts={**state.posts, **known},
                retired={**state.retired, **left},
            )
        if record_ and record_.edited:
            # Posts edited through the index since: the state's record has their old bytes.
            renewed = {
                path: replace(state.posts[path], digest=digest)
                for path, digest in record_.edited.items()
                if path in state.posts
            }
            state = replace(state, posts={**state.posts, **renewed})
        # A first run renders every post its feeds show: it starts while the posts resolve.
        primed_ahead = _prime_ahead(config, loading, state, now) if caches is None else None
        try:
            resolved = resolve_posts(
                config,
                loading,
                state,
                now,
                media,
                earlier_posts,
                functools.partial(_titles_in_index, config),
            )
            digests = {item.source.path: item.digest for item in loading.loaded}
            made = make_feeds(
                config, loading, resolved, digests, state, caches, now, progress, earlier,
                primed_ahead,
            )  # fmt: skip
        finally:
            if primed_ahead is not None:
                primed_ahead.stop()  # it has ended unless the run has failed
        loading, resolved, built = made.loading, made.resolved, made.built
        problems = (*state_problems, *loading.problems, *resolved.problems)
        feed_paths = built.feed_paths

        def result(published: bool, done: Published | None = None, extra: Sequence[Problem] = ()
                   ) -> RunResult:  # fmt: skip
            kept = tuple(sorted(feed_paths - built.made))
            return RunResult(
                started=now,
                seconds=time.monotonic() - started,
                files=len(loading.present),
                posts=len(resolved.posts),
                drafts=loading.drafts,
                future=resolved.future,
                problems=problems,
                feed_problems=(*built.problems, *extra),
                feeds=len(feed_paths),
                published=published,
                written=done.written if done else (),
                unchanged=tuple(sorted((*done.unchanged, *kept))) if done else (),
                removed=done.removed if done else (),
                built=len(built.made & feed_paths),
            )

        if any(p.level == "error" for p in built.problems):
            discard(config.output_dir, built.staged)
            return result(False)
        new_caches = Caches(loading.cached, built.rendered)
        slack = max(CACHE_SLACK[0], CACHE_SLACK[1] * len(new_caches.posts) // 100)
        # The posts whose record in the cache file is out of date (none once written).
        outdated: Mapping[str, CachedPost] = {}
        cache_written: Waiting = _nothing
        if caches is None or _stale(caches, new_caches, loading.read) > slack:
            # Written by a child while this process publishes (a tenth of a second at
            # 10,000 posts): what it holds depends on the posts alone.
            cache_written = in_background(
                functools.partial(_write_cache, config, new_caches),
                fork=len(new_caches.posts) <= CACHE_IN_BACKGROUND_UP_TO,
            )
        else:
            outdated = _outdated(caches, new_caches)
        try:
            try:
                keep = feed_paths - built.made
                # A run through the index since the state was written may have published more:
                # the feed of a tag or author a post it added brought.
                previous = sorted({*state.published, *(record_.outputs if record_ else ())})
                held = _held(problems, caches, previous) - feed_paths - set(built.files)
                done = publish_files(
                    config.output_dir, built.files, previous, keep | held, built.staged
                )
            except PublishError as e:
                return result(False, extra=[Problem("error", "publish-failed", str(e))])
            try:
                outputs = _outputs(config.output_dir, built.fingerprints)
                published = tuple(sorted({*built.made, *feed_paths, *held}))
                new_state = replace(resolved.state, published=published, outputs=outputs)
                if config.feeds.archives:
                    kinds = archive_formats(config)
                    sealed = _seal(config.output_dir, built.sealed, built.staged, kinds)
                    new_state = replace(new_state, archives=sealed)
                else:
                    # Kept while archives are off: turned on again, pages hold what they held.
                    # Their files are removed by this run, as feeds it no longer makes: so
                    # forgotten, they are made again then without a warning that they changed.
                    pages = tuple(replace(page, files={}) for page in state.archives)
                    new_state = replace(new_state, archives=pages)
                if new_state != state:
                    write_state(config.state_dir, new_state)
                # Room for every entry and head the feeds hold now; older readings make way.
                room = sum(len(spec.posts) + 1 for spec in built.specs) * len(config.feeds.formats)
                kept = to_keep(built.readings, made.earlier, room)
                if kept != earlier:  # as read: a run that made feeds again may keep the same
                    write_atomic(
                        config.state_dir / READINGS_FILE, dump_readings(kept, code_fingerprint())
                    )
                finished = result(True, done)
                # The state's own problems are not the next run's: it reads the state written here.
                reported = (*loading.problems, *resolved.problems)
                state_sum = state_read_back(config)
                last = record(
                    config, listing, finished, reported, published, media, state_sum, record_, held
                )
                # The index holds the record too: a run through it reports what this run
                # read even when a crash keeps the record below from being written.
                index = _index(
                    config, listing, loading, resolved, built, digests, last, outdated, state_sum
                )
                # The index and the record name a cache that is there: the index is
                # written while the cache may still be, and put in place once it is.
                write_stream(config.state_dir / INDEX_FILE, dump_index(index), cache_written)
                write_atomic(config.state_dir / LAST_RUN_FILE, dump_last_run(last))
            except PublishError as e:
                # The feeds are out; what the run remembers is not: the next run reads every
                # post again, and a service reloads what it serves.
                message = f"published, but the state was not saved: {e}"
                return result(True, done, [Problem("error", "state-not-saved", message)])
            return finished
        finally:
            # Waited for on every way out (a child still writing when this process ends
            # dies with it), but written here only by a run that published.
            cache_written(here=False)


def _nothing(*, here: bool = True) -> None:
    """Nothing to wait for."""


def _write_cache(config: Config, caches: Caches) -> None:
    write_stream(config.state_dir / CACHE_FILE, dump_caches(caches, _cache_fingerprint(config)))


def _held(problems: Sequence[Problem], caches: Caches | None, previous: Sequence[str]) -> set[str]:
    """Files of the last run in the folders of the tags and authors that a post skipped
    for an error (unreadable, its enclosure file missing, its entry invalid) had when last
    read: those not made again are kept, not removed. That post may be all such a feed
    held, and a reader told 410 Gone may drop the feed for good over a typo: it stays as
    it was until the post reads again, or is deleted."""
    old = caches.posts if caches else {}
    folders: set[str] = set()
    for problem in problems:
        if problem.level != "error" or problem.path is None or problem.path not in old:
            continue
        source = old[problem.path].source
        folders.update(f"tags/{slugify_name(tag)}/" for tag in source.tags)
        folders.update(f"authors/{slugify_name(a.name)}/" for a in source.authors)
    return {rel for rel in previous if rel.rpartition("/")[0] + "/" in folders}


def _titles_in_index(config: Config, paths: set[str]) -> dict[str, str]:
    """The titles of ``paths`` as the last run read them, when ``cache.json`` is out of date
    for them (``Index.records``); none when the index is missing or not this code's."""
    try:
        index = load_index((config.state_dir / INDEX_FILE).read_bytes(), _index_key(config))
    except (OSError, ValueError):
        return {}
    return {
        path: record[1]
        for path, (_, record) in index.records.items()
        if path in paths and isinstance(record[1], str) and record[1]
    }


def _index_key(config: Config) -> str:
    """What an index depends on besides the posts: the code and the whole config."""
    return hashlib.sha256(f"{code_fingerprint()}\x00{config!r}".encode()).hexdigest()


def _index(
    config: Config,
    listing: Listing,
    loading: Loading,
    resolved: Resolved,
    built: Built,
    digests: Mapping[str, str],
    last: LastRun,
    outdated: Mapping[str, CachedPost],
    state: bytes,
) -> Index:
    """The index of a full run that has just published (see ``feeds.index``);
    ``outdated`` are the posts whose record in the cache file is out of date, ``state``
    the digest of the state file it wrote."""
    found, listed, listed_ns = listing.found, listing.problems, listing.listed_ns
    specs = (*built.specs, built.open_page) if built.open_page else built.specs
    posts = {post.path: post for spec in specs for post in spec.posts}
    shown = tuple(
        Shown(
            post,
            digests[post.path],
            built.rendered.get(_render_key(post, digests[post.path], config)),
        )
        for post in sorted(posts.values(), key=lambda p: (p.published, p.path), reverse=True)
    )
    return Index(
        _index_key(config),
        state.hex(),
        listed_ns,
        listing_digest(listed),
        dump_last_run(last),
        built.fingerprints,
        {path: (c.digest, source_record(c.source)) for path, c in outdated.items()},
        FileLines(found, loading.cached),
        shown,
        taken_line(
            Taken(
                resolved.slugs,
                frozenset(r.id for r in resolved.state.posts.values())
                | frozenset(resolved.state.retired),
                tuple(sorted(epoch_us(post.updated) for post in resolved.posts)),
                frozenset(r.digest for r in resolved.state.retired.values()),
            )
        ),
        tuple(digest for digest, _ in listing.pieces),
    )


def _quick_run(
    config: Config, now: datetime, listing: Listing, progress: Progress
) -> RunResult | None:
    """The run, when the post files changed since the last full run keep their metadata
    (only bodies were edited), and the files added since are posts that change nothing
    of the others (``site.resolve_added``): every post resolves as that run resolved it
    and every feed shows the same posts, or an added one in place of its oldest, so
    those come from its index and only the feeds showing a changed or added post are
    made again. With archives, the main feed and the open page are made again as their
    posts change, as long as no page completes and the complete ones are intact on disk.
    None when anything else may have changed: then a full run is needed.

    It writes the run's record, not the state, cache or index: the next runs read the
    changed and added files again (they are few) and a full run finds the feeds it made
    here changed on disk and makes them again, with the same bytes.
    """
    found, listed = listing.found, listing.problems
    try:
        # What the last run, full or not, left on disk; what the last full run read.
        last = load_last_run((config.state_dir / LAST_RUN_FILE).read_bytes())
        index = load_index((config.state_dir / INDEX_FILE).read_bytes(), _index_key(config))
        full = load_last_run(index.run)
        sealed: tuple[Sealed, ...] = ()
        if config.feeds.archives:
            # The complete archive pages, as the state that run wrote holds them.
            data = (config.state_dir / STATE_FILE).read_bytes()
            state, sealed = hashlib.sha256(data).digest(), load_archives(data)
        else:
            state = state_digest(config)
    except (OSError, ValueError):
        return None
    if state.hex() != index.state or (full.future and now >= full.future[0]):
        return None
    if not untouched(config, last):
        return None
    if index.listed != listing_digest(listed):
        return None
    # A file changed shortly before the run that indexed it may differ unseen.
    files = changed_files(index, found, index.listed_ns - SETTLE_NS, listing.pieces, LISTING_PIECE)
    if files is None or not any(files) or len(files[0]) + len(files[1]) > QUICK_MAX:
        return None
    changed, added = files
    digests = {shown.post.path: shown.digest for shown in index.shown}
    # The bytes each edited post has now: the next full run knows it by them if it moves.
    edited: dict[str, str] = {}
    cache: bytes | mmap.mmap = b""
    try:
        with (config.state_dir / CACHE_FILE).open("rb") as file:
            cache = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        for item, was in changed:
            if was.digest is None:
                return None  # it could not be read then: its problem may be gone
            data = _post_bytes(config, item.path)
            digest = hashlib.sha256(data).hexdigest()
            if digest != was.digest and not _same_metadata(
                config, cache, was, index, item.path, data
            ):
                return None
            if item.path in digests:
                digests[item.path] = digest
            edited[item.path] = digest
        new = _added(config, now, index, added, digests)
    except (OSError, ValueError, ContentError):
        return None  # no cache, an empty one, or a file gone or spoiled
    finally:
        if isinstance(cache, mmap.mmap):
            cache.close()
    if new is None:
        return None
    if new and _shares_a_feed(config, index, new, full):
        return None  # a full run names the spellings (and the files) in its warning
    # A post an earlier run through the index added, since moved or deleted and come
    # back: the full run gives it its id.
    present = {item.path for item in found}
    gone = {path: entry for path, entry in last.added.items() if path not in present}
    earlier = (*gone.values(), *last.dropped.values())
    moved = {digest for _, digest, _, _ in earlier}
    # ... or another post that would be given such a post's id.
    retired = {ident for ident, _, _, _ in earlier}
    if any(digests[post.path] in moved or post.id in retired for post in new):
        return None
    # Those gone since, which the next full run retires (their ids are never made
    # again, and are theirs again if their files come back).
    dropped = gone | {path: entry for path, entry in last.dropped.items() if path not in present}
    return _publish_quick(
        config, now, listing, index, last, full, digests, progress, new, sealed, edited, dropped
    )


def _added(
    config: Config, now: datetime, index: Index, added: Sequence[FoundFile],
    digests: dict[str, str],
) -> tuple[Post, ...] | None:  # fmt: skip
    """The posts of the files ``added`` since the full run that wrote ``index``, each
    resolved as that run would have resolved it (``site.resolve_added``), their digests
    put in ``digests``; None when one of them cannot be (then every post is resolved
    again). Raises ValueError, OSError or ContentError as their files are read."""
    if not added:
        return ()
    taken = indexed = taken_in(index.taken)
    posts: list[Post] = []
    # The oldest first: an added post is checked against those added before it, whose
    # instants may lie in the second up to its own.
    for source, digest in sorted(_sources(config, added), key=lambda s: _instant(s[0])):
        if digest in indexed.gone:
            return None  # a deleted post come back: the full run gives it its id again
        # What the posts added before this one took: a big site's sets are copied only
        # for a second added post, not for the usual one.
        if posts:
            slugs, ids = {p.slug for p in posts}, {p.id for p in posts}
            updates = sorted((*indexed.updates, *(epoch_us(p.updated) for p in posts)))
            taken = Taken(indexed.slugs | slugs, indexed.ids | ids, tuple(updates), indexed.gone)
        post = resolve_added(source, taken, config.site, now)
        if post is None:
            return None
        posts.append(post)
        digests[post.path] = digest
    return tuple(posts)


def _shares_a_feed(config: Config, index: Index, added: Sequence[Post], full: LastRun) -> bool:
    """Whether a tag or author name of a post ``added`` may share a feed with another
    spelling (``plan.shared_feeds``): with a name of a post the index shows (each feed
    shows its newest posts, so every slug's newest name is there) or of another added
    post, or on a site whose last full run warned of one (its files may change)."""
    if any(p.code in (SHARED_TAG_FEED, SHARED_AUTHOR_FEED) for p in full.problems):
        return True
    return bool(shared_feeds((*(shown.post for shown in index.shown), *added), config))


def _sources(config: Config, files: Sequence[FoundFile]) -> Iterator[tuple[Source, str]]:
    """The metadata of the post files ``files``, each with the digest of its bytes."""
    for item in files:
        data = _post_bytes(config, item.path)
        yield parse_post(data, item.path, config, with_body=False), hashlib.sha256(data).hexdigest()


def _instant(source: Source) -> datetime:
    """When a post was last updated, as far as its metadata says (the oldest, undated)."""
    return source.updated or source.date or datetime.min.replace(tzinfo=UTC)


def _same_metadata(
    config: Config, cache: bytes | mmap.mmap, was: Indexed, index: Index, path: str, data: bytes
) -> bool:
    """Whether the post file at ``path``, now holding ``data``, has the metadata it had
    as the last full run read it. The index holds that reading when the run left the
    cache's out of date; else the cache does, when its digest is the indexed one (a
    cache written by an older run may hold another reading: then False)."""
    found = index.records.get(path) or find_metadata(cache, path, _cache_fingerprint(config))
    if found is None or found[0] != was.digest:
        return False
    return source_record(parse_post(data, path, config, with_body=False)) == found[1]


def _publish_quick(
    config: Config,
    now: datetime,
    listing: Listing,
    index: Index,
    last: LastRun,
    full: LastRun,
    digests: Mapping[str, str],
    progress: Progress,
    added: tuple[Post, ...],
    sealed: tuple[Sealed, ...],
    edited: Mapping[str, str],
    dropped: Mapping[str, tuple[str, str, str, datetime]],
) -> RunResult | None:
    """Make the feeds that show a changed or ``added`` post, and publish them (see
    ``_quick_run``): ``last`` is the record of the last run, ``full`` that of the last
    full run, ``sealed`` the complete archive pages it left, ``edited`` the digest of
    each post file changed since that run, ``dropped`` the posts runs through the index
    added that are gone since (``LastRun.dropped``)."""
    posts = tuple(shown.post for shown in index.shown)
    if added:
        # Each feed shows its newest posts: those it showed, or added ones.
        posts = tuple(sorted((*posts, *added), key=lambda p: (p.published, p.path), reverse=True))
    # The files the full run left as it left them, with what it made them from. A file
    # a run through the index wrote since holds what that run made it from, which no
    # record names: it is made again (its post may have been put back as it was).
    outputs = {}
    for path, recorded in index.fingerprints.items():
        if path not in last.outputs:
            return None
        if last.outputs[path] == full.outputs.get(path):
            outputs[path] = Output(recorded, *last.outputs[path])
    rendered = {
        _render_key(shown.post, shown.digest, config): shown.html
        for shown in index.shown
        if shown.html is not None
    }
    resolved = Resolved(posts, full.future, State(), ())
    readings = read_readings(config)
    caches = Caches({}, rendered)
    changed = frozenset(
        (*(s.post.path for s in index.shown if digests[s.post.path] != s.digest),
         *(post.path for post in added))
    )  # fmt: skip
    kept_state = State(outputs=outputs, archives=sealed)
    built = build_feeds(
        config, resolved, digests, kept_state, caches, now, progress, readings, changed
    )
    feed_paths = built.feed_paths
    if built.sealed != sealed or built.staged:
        discard(config.output_dir, built.staged)
        return None  # an archive page completed, or one changed on disk: the state records it
    if any(p.level == "error" for p in built.problems):
        return None  # a full run reports it
    # A feed comes with the first post of a new tag or author, and goes with the last
    # one: an added post, or one gone that had only been added.
    previous = sorted(last.outputs)
    # The feeds the full run kept for a skipped post's tags and authors (``_held``) stay.
    kept = feed_paths - set(built.files) | set(full.held)
    try:
        done = publish_files(config.output_dir, built.files, previous, kept)
    except PublishError:
        return None  # nothing was replaced: the full run meets the obstacle and reports it
    published = tuple(sorted({*built.files, *feed_paths, *full.held}))
    result = as_last(
        full,
        now,
        feed_problems=tuple(built.problems),
        written=done.written,
        unchanged=tuple(sorted((*done.unchanged, *kept))),
        removed=done.removed,
        built=len(set(built.files) & feed_paths),
    )
    # Each added file is a post in the feeds' pool, and may bring a feed.
    result = replace(
        result,
        files=result.files + len(added),
        posts=result.posts + len(added),
        feeds=len(feed_paths),
    )
    known = {p.path: (p.id, digests[p.path], p.slug, p.published) for p in added}
    try:
        state = bytes.fromhex(index.state)  # as _quick_run found it
        record_ = record(
            config,
            listing,
            result,
            full.problems,
            published,
            full.media,
            state,
            # Files runs through the index removed since the full run stay gone too.
            replace(full, gone=tuple(sorted({*full.gone, *last.gone}))),
            full.held,
            known,
            edited,
            dropped,
        )
        write_atomic(config.state_dir / LAST_RUN_FILE, dump_last_run(record_))
    except PublishError:
        return None  # published, not recorded: the full run publishes the same bytes
    return result


def _outdated(old: Caches, new: Caches) -> dict[str, CachedPost]:
    """The posts of ``new`` whose record in ``old`` is missing or holds other bytes."""
    return {
        path: cached
        for path, cached in new.posts.items()
        if (was := old.posts.get(path)) is None or was.digest != cached.digest
    }


def _stale(old: Caches, new: Caches, read: int) -> int:
    """How much the old cache misses of the new one: posts read from disk, HTML rendered,
    and entries of posts gone. The next run reads and renders that much again."""
    rendered = sum(1 for key in new.rendered if key not in old.rendered)
    gone = sum(1 for path in old.posts if path not in new.posts)
    gone += sum(1 for key in old.rendered if key not in new.rendered)
    return read + rendered + gone


def _outputs(output_dir: Path, fingerprints: Mapping[str, str]) -> dict[str, Output]:
    outputs = {}
    for path, fp in fingerprints.items():
        try:
            st = (output_dir / path).stat()
        except OSError:
            continue  # not recorded: the next run makes it again
        outputs[path] = Output(fp, st.st_size, st.st_mtime_ns)
    return outputs
