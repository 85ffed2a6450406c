"""The scheduler wiring: runs, wake-ups for future posts, and stopping mid-run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from feeds import schedule
from feeds.config import SiteConfig, load_config
from feeds.crontab import crontab_trigger
from feeds.model import Author
from feeds.publish import run_lock
from feeds.schedule import Service, max_age
from feeds.server import FeedApp
from tests.conftest import Site
from tests.service import ChildExited, free_port, wait_for
from tests.service import Service as ServeChild


def test_a_run_publishes_and_sets_a_wake_up_for_the_next_future_post(site: Site) -> None:
    site.post("now.md", "Now", "2024-05-01T10:00:00Z")
    later = datetime.now(UTC) + timedelta(hours=2)
    site.post("later.md", "Later", later.isoformat())
    app = FeedApp()
    service = Service(load_config(site.config_path), app)
    result = service.run_once()
    assert result is not None and result.published
    assert app.health.status == 200 and "rss.xml" in app.resources
    wake = service.scheduler.get_job("wake")
    assert wake is not None
    assert abs((wake.trigger.run_date - later.replace(microsecond=0)).total_seconds()) < 1


def test_the_service_log_names_a_bad_post_as_feeds_build_does(
    site: Site, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from the site's folder: the post's path as the user finds it, with its line."""
    site.post("good.md", "Good", "2024-05-01T10:00:00Z")
    site.write("notes/bad.md", "---\ntitle: [\n---\n\nBody.\n")
    monkeypatch.chdir(site.root)
    service = Service(load_config(site.config_path), FeedApp())
    with caplog.at_level("WARNING", logger=schedule.log.name):
        result = service.run_once()
    assert result is not None and result.published
    [logged] = [r for r in caplog.records if "bad.md" in r.getMessage()]
    assert logged.getMessage().startswith("content/notes/bad.md:2: error: ")
    assert logged.levelname == "ERROR"
    # /healthz names it as the log does.
    [problem] = json.loads(service.app.health.body)["problems"]
    assert problem == logged.getMessage()


def test_stop_waits_for_a_run_in_progress_and_never_deadlocks(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run ending while the service stops adds its wake-up job: that must not hang.
    monkeypatch.setattr(schedule, "LOCK_WAIT", 10.0)
    site.post("now.md", "Now", "2024-05-01T10:00:00Z")
    site.post("later.md", "Later", (datetime.now(UTC) + timedelta(days=1)).isoformat())
    config = load_config(site.config_path)
    app = FeedApp()
    service = Service(config, app)
    with run_lock(config.state_dir, 1):  # as a cron `feeds build` would
        service.start()
        time.sleep(0.5)  # the first run is now waiting for the lock
        stopper = threading.Thread(target=service.stop)
        stopper.start()
        time.sleep(0.3)
        assert stopper.is_alive(), "stop must wait for the run in progress"
    stopper.join(15)
    assert not stopper.is_alive(), "stop hung"
    assert app.health.status == 200  # the run finished and published before the stop


@pytest.mark.parametrize(
    ("extra", "seconds"),
    [("", 900), ("schedule:\n  interval: 2h\n", 3600), ("schedule:\n  cron: '*/5 * * * *'\n", 300)],
)
def test_max_age_follows_the_schedule_up_to_an_hour(site: Site, extra: str, seconds: int) -> None:
    site.configure(extra)
    assert max_age(load_config(site.config_path), datetime(2024, 5, 1, tzinfo=UTC)) == seconds


@pytest.mark.parametrize(
    ("line", "start"),
    [
        ("*/1 * * * *", datetime(2027, 10, 31, 0, 58, 20, tzinfo=UTC)),
        ("*/1 * * * *", datetime(2027, 3, 28, 0, 58, 20, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2027, 3, 28, 0, 40, tzinfo=UTC)),
        ("0 * * * *", datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
    ],
)
def test_max_age_holds_across_a_dst_change(site: Site, line: str, start: datetime) -> None:
    # Started just before Madrid's clocks change: the runs stay their interval apart.
    site.configure(f"schedule:\n  cron: '{line}'\n")  # site.timezone: Europe/Madrid
    interval = {"*/1 * * * *": 60, "*/15 * * * *": 900, "0 * * * *": 3600}[line]
    assert max_age(load_config(site.config_path), start) == min(interval, 3600)


@pytest.mark.parametrize(
    ("line", "days"),
    [
        ("0 9 * * 0", ["Sun"] * 4),
        ("0 9 * * 7", ["Sun"] * 4),
        ("0 9 * * 7-7", ["Sun"] * 4),
        ("0 9 * * 1-5", ["Tue", "Wed", "Thu", "Fri", "Mon", "Tue"]),
        ("0 9 * * 1-7", ["Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
        ("0 9 * * */2", ["Tue", "Thu", "Sat", "Sun", "Tue"]),
        ("0 9 * * SUN,wed", ["Wed", "Sun", "Wed", "Sun"]),
        # cron runs when the day of the month or the day of the week matches
        ("0 9 1 * 1", ["Tue", "Mon", "Mon", "Mon", "Mon", "Fri"]),
        # ... unless either starts with "*" (cron's own rule): then both must match,
        # here Mondays of odd days (7, 21 December, 11 January)
        ("0 9 */2 * 1", ["Mon", "Mon", "Mon"]),
        ("0 9 1 * */1", ["Tue", "Fri", "Mon"]),
    ],
)
def test_a_crontab_line_fires_on_the_days_cron_would(line: str, days: list[str]) -> None:
    """Day 0 and 7 are Sunday, as in cron (APScheduler's own reading counts from Monday),
    and a day of the month with a day of the week is either; from Monday 30 November 2026."""
    site = SiteConfig(
        title="T", base_url="https://example.org/", description="", language="en",
        timezone="Europe/Madrid", author=Author("Desk"), permalink="/{slug}/",
    )  # fmt: skip
    trigger = crontab_trigger(line, site.tz)
    at = datetime(2026, 11, 30, 10, 0, tzinfo=site.tz)
    fired = []
    for _ in days:
        at = trigger.get_next_fire_time(None, at + timedelta(seconds=1))
        fired.append(at)
    assert [f.strftime("%a") for f in fired] == days
    assert {(f.hour, f.minute) for f in fired} == {(9, 0)}


@pytest.mark.parametrize(
    ("line", "fired"),
    [
        # Madrid's clocks go back at 03:00 on 25 October 2026: 02:00-03:00 comes twice.
        # A line of fixed times runs once, in the first pass, as cron runs it ...
        ("30 2 * * *", ["00:30", "01:30+1d"]),
        ("30 2 25 * 0", ["00:30", "01:30+7d"]),
        ("0,30 2 * * *", ["00:00", "00:30", "01:00+1d"]),
        # ... one with a "*" in its minute or hour runs in both, as cron runs it.
        ("*/30 2 * * *", ["00:00", "00:30", "01:00", "01:30", "01:00+1d"]),
        ("30 * * * *", ["23:30-1d", "00:30", "01:30", "02:30"]),
    ],
)
def test_a_fixed_time_runs_once_when_clocks_go_back(line: str, fired: list[str]) -> None:
    madrid = ZoneInfo("Europe/Madrid")
    trigger = crontab_trigger(line, madrid)
    at, previous = datetime(2026, 10, 24, 23, 0, tzinfo=UTC), None
    times = []
    for _ in fired:
        previous = trigger.get_next_fire_time(previous, at)
        assert previous is not None
        at = previous.astimezone(UTC) + timedelta(seconds=1)
        days = (at.date() - date(2026, 10, 25)).days
        times.append(f"{at:%H:%M}" + (f"{days:+d}d" if days else ""))
    assert times == fired


def test_a_feeds_build_beside_the_service_is_served_at_once(site: Site) -> None:
    # A cron run publishes while the service waits an hour for its next run: the
    # service serves the new files within seconds, not at its next run.
    site.post("first.md", "First", "2024-05-01T10:00:00Z")
    service = _serving(site)
    try:
        etag = service.get("/rss.xml").headers["etag"]
        site.post("second.md", "Second from cron", "2024-05-02T10:00:00Z")
        built = subprocess.run(
            [sys.executable, "-m", "feeds", "build", "-q", "-c", str(site.config_path)],
            capture_output=True,
            text=True,
        )
        assert built.returncode == 0, built.stdout + built.stderr
        served = wait_for(
            lambda: (
                (r := service.get("/rss.xml")).status == 200 and b"Second from cron" in r.body and r
            ),
            "the cron run's feed to be served",
        )
        assert served.headers["etag"] != etag
        health = service.health()
        assert (health["result"], health["by"], health["posts"]) == ("published", "feeds build", 2)
        assert service.get("/rss.xml", If_None_Match=etag).status == 200
        assert "Running job" not in service.log_text()  # APScheduler's lines stay out
    finally:
        assert service.stop() == 0


def test_a_run_that_could_not_start_reports_every_field(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lock held past the wait: /healthz keeps its shape, null where nothing is known.
    monkeypatch.setattr(schedule, "LOCK_WAIT", 0.2)
    site.post("now.md", "Now", "2024-05-01T10:00:00Z")
    app = FeedApp()
    service = Service(load_config(site.config_path), app)
    with run_lock(site.root / ".feeds", 1):
        assert service.run_once() is None
    assert app.health.status == 503
    health = json.loads(app.health.body)
    assert set(health) == {
        "time", "result", "exit_status", "posts", "feeds", "written", "seconds",
        "next_future_post", "problems",
    }  # fmt: skip
    assert health["result"] == "failed" and "holds the lock" in health["problems"][0]


def _serving(site: Site) -> ServeChild:
    """`feeds serve` on the site, running once a day, up and answering."""
    for attempt in range(3):
        port = free_port()
        site.configure(f"schedule:\n  interval: 1d\nserver:\n  host: 127.0.0.1\n  port: {port}\n")
        service = ServeChild(site.config_path, port, site.root / f"serve-{port}.log")
        try:
            service.wait_until_up()
            return service
        except ChildExited as e:
            if "address already in use" not in e.log.lower() or attempt == 2:
                raise
    raise AssertionError("unreachable")


def test_sighup_stops_the_service_cleanly(site: Site) -> None:
    # It killed the service at once, exit 129, without a word.
    site.post("first.md", "First", "2024-05-01T10:00:00Z")
    service = _serving(site)
    try:
        service.wait_for_run_after(datetime.now(UTC) - timedelta(minutes=1))
        service.send(signal.SIGHUP)
        assert service.process.wait(timeout=15) == 0
        assert "SIGHUP: stopping" in service.log_text()
    finally:
        assert service.stop() == 0


def test_a_config_changed_while_serving_is_told_of_once(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    # It is read at start: a changed file was ignored without a word.
    site.post("now.md", "Now", "2024-05-01T10:00:00Z")
    service = Service(load_config(site.config_path), FeedApp())
    text = site.config_path.read_bytes()
    with caplog.at_level("WARNING", logger=schedule.log.name):
        service.run_once()
        # The same bytes written again (an editor's save, a deploy): no change.
        site.config_path.unlink()
        site.config_path.write_bytes(text)
        service.run_once()
        assert not [r for r in caplog.records if "has changed" in r.message]
        site.configure("feeds:\n  limit: 2\n")
        service.run_once()
        service.run_once()
    told = [r for r in caplog.records if "has changed since feeds serve started" in r.message]
    assert len(told) == 1
