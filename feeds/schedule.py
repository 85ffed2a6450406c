"""APScheduler wiring: when regenerations run, and what happens after each one."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from feeds.config import Config
from feeds.crontab import crontab_trigger
from feeds.exceptions import FeedsError
from feeds.pipeline import regenerate
from feeds.runs import LAST_RUN_FILE, LastRun, RunResult, last_run, located
from feeds.server import FeedApp, Resource, load_folder
from feeds.websub import Pinger

log = logging.getLogger("feeds")

#: the longest Cache-Control max-age, whatever the schedule
MAX_AGE_CAP = 3600
#: seconds a scheduled run waits for a `feeds build` holding the lock; then it is
#: logged as failed and the next run tries again (a stop never waits much longer)
LOCK_WAIT = 30.0
#: seconds between two looks at whether another process (`feeds build` from cron) has
#: published: its files are served from then on
WATCH_SECONDS = 2.0


def schedule_trigger(config: Config) -> BaseTrigger:
    """When runs happen: the config's crontab line, read as cron reads it, or its interval."""
    if config.schedule.cron:
        return crontab_trigger(config.schedule.cron, config.site.tz)
    return IntervalTrigger(seconds=config.schedule.interval, timezone=UTC)


def max_age(config: Config, now: datetime) -> int:
    """Seconds a reader may cache a feed: the time between runs, at most an hour."""
    trigger = schedule_trigger(config)
    first = trigger.get_next_fire_time(None, now)
    # The second after, counted in UTC: wall-time arithmetic in a zone is an hour off
    # across a DST change (a time in the repeated hour would fall before ``first``).
    later = first.astimezone(UTC) + timedelta(seconds=1) if first else None
    second = trigger.get_next_fire_time(first, later) if first and later else None
    if first is None or second is None:
        return MAX_AGE_CAP
    # In UTC: two times of one zone subtract as wall times, an hour off across DST.
    elapsed = second.astimezone(UTC) - first.astimezone(UTC)
    return max(1, min(MAX_AGE_CAP, int(elapsed.total_seconds())))


def health(result: RunResult, config: Config) -> dict[str, Any]:
    """The /healthz document for a finished run; posts' problems name their files as the
    log does."""
    return {
        "time": result.started.isoformat(),
        "result": "published" if result.published else "failed",
        "exit_status": result.exit_code,
        "posts": result.posts,
        "feeds": result.feeds,
        "written": len(result.written),
        "seconds": round(result.seconds, 3),
        "next_future_post": result.future[0].isoformat() if result.future else None,
        "problems": [
            *(located(config, p) for p in result.problems),
            *(str(p) for p in result.feed_problems),
        ],
    }


def recorded_health(last: LastRun, config: Config, by: str) -> dict[str, Any]:
    """The /healthz document for a run ``by`` another process (``feeds build``, or this
    service before a restart), from the record it left: what it did not record (files
    written, seconds) is null."""
    errors = any(p.level == "error" for p in last.problems)
    return {
        "time": datetime.fromtimestamp(last.listed_ns / 1e9, UTC).isoformat(),
        "result": "published",
        "by": by,
        "exit_status": 1 if errors else 0,
        "posts": last.posts,
        "feeds": last.feeds,
        "written": None,
        "seconds": None,
        "next_future_post": last.future[0].isoformat() if last.future else None,
        "problems": [located(config, p) for p in last.problems],
    }


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What tells a file's bytes changed without reading them (None: no such file)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _digest(path: Path) -> str | None:
    """The sha256 of a file's bytes (None: it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def failed_health(problem: str, now: datetime) -> dict[str, Any]:
    """The /healthz document for a run that ended before it had a result (the lock held
    past its wait, a bug): the same fields as another run's, null where unknown."""
    return {
        "time": now.isoformat(),
        "result": "failed",
        "exit_status": None,
        "posts": None,
        "feeds": None,
        "written": None,
        "seconds": None,
        "next_future_post": None,
        "problems": [problem],
    }


#: the log level of a problem of each level
_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING}


class Service:
    """Runs regenerations one at a time and hands each publish to the HTTP app."""

    def __init__(
        self,
        config: Config,
        app: FeedApp,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.app = app
        self.clock = clock
        hub = config.websub.hub
        self.pinger = Pinger(hub) if hub else None
        # Pings leave the run's thread, so a slow hub never delays the next run; one
        # worker keeps them in order.
        self._pings = ThreadPoolExecutor(max_workers=1, thread_name_prefix="websub")
        self.scheduler = BackgroundScheduler(timezone=UTC)
        # One run at a time in this process; the file lock guards against other processes.
        self._running = threading.Lock()
        self._stopping = threading.Event()
        #: the last run's record as this service last saw it (``_record_seen``)
        self._seen: tuple[int, int, int] | None = None
        #: the config file as this service last looked at it
        self._config_seen = _identity(config.path)
        #: the digest of its bytes as read at start, and as last warned of
        self._config_read = _digest(config.path)
        self._config_told: str | None = None

    def start(self) -> None:
        """Serve what is already published, then build now and on the schedule."""
        self.app.swap(self._load())
        # What earlier runs removed stays 410 Gone across restarts.
        last = last_run(self.config)
        self.app.forget(last.gone if last else ())
        if last is not None:
            # Until the first run ends, the health of the run whose feeds are served.
            self.app.report(True, recorded_health(last, self.config, "an earlier run"))
        self._seen = self._record_seen()
        self.scheduler.add_job(
            self.look_outside,
            IntervalTrigger(seconds=WATCH_SECONDS, timezone=UTC),
            id="watch",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.run_once,
            schedule_trigger(self.config),
            id="regenerate",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=self.clock(),
        )
        self.scheduler.start()

    def stop(self) -> None:
        """Stop scheduling and wait for a run in progress to finish publishing."""
        self._stopping.set()
        if self.scheduler.running:  # a signal may come before start() started it
            # Not wait=True: that holds the scheduler's lock while it waits, and a run
            # ending meanwhile needs that lock to add its wake-up job (a deadlock).
            self.scheduler.shutdown(wait=False)
        with self._running:
            pass  # a run in progress has published
        if self.pinger is not None:
            self.pinger.stopping.set()  # a ping in flight ends at its timeout; no retries
        self._pings.shutdown(wait=False, cancel_futures=True)

    def _load(self, previous: dict[str, Resource] | None = None) -> dict[str, Resource]:
        """The output folder as the app serves it (feeds with their WebSub Link header)."""
        return load_folder(
            self.config.output_dir,
            self.app.max_age,
            previous,
            hub=self.config.websub.hub,
            base_url=self.config.site.base_url,
        )

    def run_once(self) -> RunResult | None:
        """One regeneration; a failure is logged and the schedule goes on."""
        with self._running:
            if self._stopping.is_set():
                return None
            now = self.clock()
            if self._config_changed():
                log.warning(
                    "%s has changed since feeds serve started; runs still use the config "
                    "read then: restart feeds serve to use it",
                    self.config.path,
                )
            try:
                result = regenerate(
                    self.config,
                    now,
                    lock_wait=LOCK_WAIT,
                    waiting=lambda: log.info("waiting for another run (feeds build) to finish"),
                    stopping=self._stopping.is_set,
                )
            except FeedsError as e:
                if self._stopping.is_set():
                    log.info("run not made: %s", e)
                    return None
                log.error("run failed: %s", e)
                self.app.report(False, failed_health(str(e), now))
                return None
            except Exception:  # the schedule must outlive any bug in one run
                log.exception("run failed unexpectedly")
                self.app.report(False, failed_health("internal error", now))
                return None
            if result.published:
                self._seen = self._record_seen()
                self.app.swap(self._load(self.app.resources))
                # After the swap: the hub fetches the feeds it is told about from us.
                self._ping(result)
            self.app.report(result.published, health(result, self.config))
            log.info(
                "run %s: %d posts, %d feeds, %d written, %d removed, %d problem(s), %.2fs",
                "published" if result.published else "FAILED (previous feeds kept)",
                result.posts,
                result.feeds,
                len(result.written),
                len(result.removed),
                len(result.problems) + len(result.feed_problems),
                result.seconds,
            )
            for problem in result.problems:
                log.log(_LEVELS[problem.level], "%s", located(self.config, problem))
            for problem in result.feed_problems:
                log.log(_LEVELS[problem.level], "%s", problem)
            if result.future:
                self._wake_at(result.future[0])
            return result

    def _config_changed(self) -> bool:
        """Whether the config file's bytes now differ from those read at start, and from
        those last warned of (its time alone is no change: an editor or a deploy may
        write the same text again)."""
        now = _identity(self.config.path)
        if now == self._config_seen:
            return False
        self._config_seen = now
        digest = _digest(self.config.path)
        if digest in (self._config_read, self._config_told):
            return False
        self._config_told = digest
        return True

    def _record_seen(self) -> tuple[int, int, int] | None:
        """What identifies the last published run's record now (None: there is none)."""
        return _identity(self.config.state_dir / LAST_RUN_FILE)

    def look_outside(self) -> bool:
        """Serve what another process published since (``feeds build`` from cron, beside
        the service), and say so in /healthz; True when there was something. A run of
        this service in progress is left alone: it publishes, and serves, after that."""
        if self._stopping.is_set() or not self._running.acquire(blocking=False):
            return False
        try:
            seen = self._record_seen()
            if seen is None or seen == self._seen:
                return False
            self._seen = seen
            last = last_run(self.config)
            if last is None:
                return False
            self.app.swap(self._load(self.app.resources))
            self.app.forget(last.gone)
            self.app.report(True, recorded_health(last, self.config, "feeds build"))
            log.info("another run (feeds build) published: serving its %d feeds", last.feeds)
            if last.future:
                self._wake_at(last.future[0])
            return True
        finally:
            self._running.release()

    def _ping(self, result: RunResult) -> None:
        """Tell the hub, in the background, about the feeds whose bytes this run changed."""
        if self.pinger is None or not result.written_feeds or self._stopping.is_set():
            return
        urls = [self.config.site.base_url + path for path in result.written_feeds]
        self._pings.submit(self._ping_now, self.pinger, urls)

    @staticmethod
    def _ping_now(pinger: Pinger, urls: list[str]) -> None:
        try:
            report = pinger.ping(urls)
        except Exception:  # a bug here must not vanish in the worker's future
            log.exception("WebSub pings to %s failed unexpectedly", pinger.hub)
            return
        if report.pinged:
            log.info("WebSub hub %s told of %d changed feed(s)", report.hub, len(report.pinged))
        for line in report.messages():
            log.warning("%s", line)

    def _wake_at(self, when: datetime) -> None:
        """Run again when the next future-dated post goes live, not at the next interval."""
        if self._stopping.is_set():
            return
        self.scheduler.add_job(
            self.run_once,
            DateTrigger(run_date=when, timezone=UTC),
            id="wake",
            replace_existing=True,
            misfire_grace_time=None,
        )
