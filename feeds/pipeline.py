"""The whole job, once: load, resolve, build, validate, publish."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePosixPath

from feeds.config import Config
from feeds.content import READERS, decode
from feeds.content.discover import discover
from feeds.exceptions import ContentError, PublishError
from feeds.model import FeedSpec, Problem, Source
from feeds.plan import plan_feeds
from feeds.publish import Published, publish_files, read_state, run_lock, write_state
from feeds.site import Loaded, Resolved, render, resolve
from feeds.validate import validate_feed
from feeds.writers import WRITERS, WriteOptions
from feeds.writers.pages import index_html, opml

#: called as work advances: (stage, done, total)
Progress = Callable[[str, int, int], None]


def _quiet(stage: str, done: int, total: int) -> None:
    """The default progress callback: report nothing."""


@dataclass(frozen=True)
class Loading:
    """The content folder as read: posts the readers understood, and what went wrong."""

    loaded: tuple[Loaded, ...]
    #: every post path on disk, readable or not
    present: frozenset[str]
    #: one error per skipped file, and warnings
    problems: tuple[Problem, ...]
    drafts: int


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
    #: feeds built (one per spec and format)
    feeds: int
    published: bool
    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def skipped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.level == "error")

    @property
    def exit_code(self) -> int:
        """SPEC §1: 0 clean, 1 published but posts were skipped, 3 nothing published."""
        if not self.published:
            return 3
        return 1 if self.skipped else 0


def load_content(config: Config, progress: Progress = _quiet) -> Loading:
    """Read every post file; a file that cannot be read becomes one located error."""
    found, problems = discover(config.content_dir, config.max_post_bytes)
    loaded: list[Loaded] = []
    drafts = 0
    tz = config.site.tz
    for n, item in enumerate(found, 1):
        progress("reading", n, len(found))
        try:
            data = item.file.read_bytes()
        except OSError as e:
            problems.append(Problem("error", "unreadable", f"cannot read: {e.strerror}", item.path))
            continue
        try:
            text, warnings = decode(data, item.path)
            source = READERS[PurePosixPath(item.path).suffix.lower()](text, item.path, tz)
        except ContentError as e:
            problems.append(Problem("error", "bad-post", e.message, item.path, e.line))
            continue
        if warnings:
            source = replace(source, warnings=(*warnings, *source.warnings))
        problems.extend(source.warnings)
        if source.draft:
            drafts += 1
            continue
        mtime = datetime.fromtimestamp(item.mtime_ns / 1e9, UTC)
        loaded.append(Loaded(source, mtime, hashlib.sha256(data).hexdigest()))
    return Loading(tuple(loaded), frozenset(f.path for f in found), tuple(problems), drafts)


def build_files(
    resolved: Resolved,
    sources: dict[str, Source],
    config: Config,
    now: datetime,
    progress: Progress = _quiet,
) -> tuple[dict[str, bytes], tuple[FeedSpec, ...], list[Problem]]:
    """Every output file's bytes, the feeds they hold, and the validation problems."""
    planned = plan_feeds(resolved.posts, config)
    shown = {p.path: p for spec in planned for p in spec.posts}
    rendered = {
        path: render(post, sources[path], config.site) for path, post in sorted(shown.items())
    }
    specs = tuple(
        replace(spec, posts=tuple(rendered[p.path] for p in spec.posts)) for spec in planned
    )
    options = WriteOptions(full_content=config.feeds.full_content)
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    total = len(specs) * len(config.feeds.formats)
    done = 0
    for spec in specs:
        for fmt in config.feeds.formats:
            data = WRITERS[fmt](spec, options)
            problems.extend(
                validate_feed(
                    data,
                    spec.url(fmt),
                    fmt=fmt,
                    expected=spec.posts,
                    path=spec.path(fmt),
                    now=now,
                )
            )
            files[spec.path(fmt)] = data
            done += 1
            progress("building", done, total)
    site = config.site
    formats = config.feeds.formats
    files["index.html"] = index_html(site.title, site.description, site.base_url, specs, formats)
    files["feeds.opml"] = opml(site.title, site.base_url, specs, formats)
    return files, specs, problems


def regenerate(
    config: Config,
    now: datetime,
    *,
    progress: Progress = _quiet,
    lock_wait: float = 60.0,
) -> RunResult:
    """One regeneration under the lock. Nothing is published unless every feed validates.

    Raises LockError when another run keeps the lock past ``lock_wait`` seconds.
    """
    started = time.monotonic()
    with run_lock(config.state_dir, lock_wait):
        state, state_problems = read_state(config.state_dir)
        loading = load_content(config, progress)
        resolved = resolve(loading.loaded, loading.present, state, config.site, now)
        sources = {item.source.path: item.source for item in loading.loaded}
        files, specs, feed_problems = build_files(resolved, sources, config, now, progress)
        problems = (*state_problems, *loading.problems, *resolved.problems)

        def result(published: bool, done: Published | None = None, extra: Sequence[Problem] = ()
                   ) -> RunResult:  # fmt: skip
            return RunResult(
                started=now,
                seconds=time.monotonic() - started,
                files=len(loading.present),
                posts=len(resolved.posts),
                drafts=loading.drafts,
                future=resolved.future,
                problems=problems,
                feed_problems=(*feed_problems, *extra),
                feeds=len(specs) * len(config.feeds.formats),
                published=published,
                written=done.written if done else (),
                unchanged=done.unchanged if done else (),
                removed=done.removed if done else (),
            )

        if any(p.level == "error" for p in feed_problems):
            return result(False)
        try:
            done = publish_files(config.output_dir, files, state.published)
            write_state(config.state_dir, replace(resolved.state, published=tuple(sorted(files))))
        except PublishError as e:
            return result(False, extra=[Problem("error", "publish-failed", str(e))])
        return result(True, done)
