"""End to end: the real `feeds serve`, a real WebSub hub and a real subscriber on loopback.

The hub and the subscriber are flask-websub's (tests/websub_peers.py runs them in a child
process). The subscriber finds the hub and the topic in a feed's ``Link`` header and
subscribes; the hub verifies that with the subscriber. When a post is added, the next run
of `feeds serve` publishes, pings the hub for the feeds it changed, the hub fetches each of
them from `feeds serve` (and insists on its Link header) and delivers it to the subscriber.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Site
from tests.service import Service, free_port, wait_for

PEERS = Path(__file__).with_name("websub_peers.py")


@dataclass
class Peers:
    """The hub and the subscriber, running in one child process."""

    folder: Path
    process: subprocess.Popen[bytes]
    hub: str = ""
    subscriber: str = ""

    def subscribe(self, feed_url: str) -> None:
        """Subscribe to the feed at ``feed_url``; returns once the hub has verified it."""
        url = f"{self.subscriber}/subscribe?url={feed_url}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            assert answer.status == 202

    def delivered(self) -> list[dict[str, Any]]:
        """Every content notification the subscriber got, in order: {topic, body}."""
        files = sorted((self.folder / "delivered").glob("*.json"), key=lambda path: int(path.stem))
        return [json.loads(path.read_text(encoding="utf-8")) for path in files]

    def log(self) -> str:
        return (self.folder / "peers.log").read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Peers]:
    folder = tmp_path / "peers"
    folder.mkdir()
    with (folder / "peers.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(PEERS), str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Peers(folder, process)
    try:

        def ports() -> dict[str, int] | None:
            assert process.poll() is None, f"the WebSub peers exited:\n{running.log()}"
            path = folder / "ports.json"
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

        found = wait_for(ports, "the WebSub hub and subscriber to listen", timeout=30)
        running.hub = f"http://127.0.0.1:{found['hub']}/hub"
        running.subscriber = f"http://127.0.0.1:{found['subscriber']}"
        yield running
    finally:
        process.terminate()
        process.wait(timeout=15)


def serve(site: Site, hub: str) -> Service:
    """`feeds serve` with the site at its own loopback address (the hub fetches from it)."""
    port = free_port()
    site.config_path.write_text(
        textwrap.dedent(f"""\
            site:
              title: Harbour
              base_url: http://127.0.0.1:{port}/
              timezone: UTC
              author: {{name: Desk, email: desk@example.org}}
            schedule:
              interval: 1s
            server:
              host: 127.0.0.1
              port: {port}
            websub:
              hub: {hub}
            """),
        encoding="utf-8",
    )
    service = Service(site.config_path, port, site.root / "serve.log")
    service.wait_until_up()
    return service


def test_a_new_post_reaches_the_subscriber_through_the_hub(site: Site, peers: Peers) -> None:
    site.post("tides.md", "Tide tables", "2024-05-01T10:00:00Z", tags="[sea]")
    site.post("fields.md", "Fields in May", "2024-05-02T10:00:00Z", tags="[land]")
    service = serve(site, peers.hub)
    try:
        # The first run's pings have gone out before anyone subscribes.
        wait_for(lambda: "told of 12 changed feed(s)" in service.log_text(), "the first pings")
        topics = [
            service.url(path)
            for path in ("/atom.xml", "/rss.xml", "/feed.json", "/tags/sea/atom.xml")
        ]
        unchanged = service.url("/tags/land/rss.xml")
        for topic in [*topics, unchanged]:
            peers.subscribe(topic)
        assert peers.delivered() == []

        site.post("lights.md", "Harbour lights at dusk", "2024-05-03T10:00:00Z", tags="[sea]")
        wait_for(
            lambda: {d["topic"] for d in peers.delivered()} >= set(topics),
            f"deliveries for {topics}",
            timeout=20,
        )
        # One more run changes nothing, so it pings nothing.
        time.sleep(0.5)
        service.wait_for_run_after(datetime.now(UTC), timeout=10)
        time.sleep(0.5)
        delivered = peers.delivered()
        assert sorted(d["topic"] for d in delivered) == sorted(topics), (
            "exactly one delivery for each changed feed subscribed to, none for the "
            f"unchanged {unchanged}:\n{service.log_text()[-3000:]}\n{peers.log()[-3000:]}"
        )
        for delivery in delivered:
            assert "Harbour lights at dusk" in delivery["body"]
            assert "Tide tables" in delivery["body"]
            served = service.get(delivery["topic"].removeprefix(service.base))
            assert served.body.decode("utf-8") == delivery["body"]
    finally:
        assert service.stop() == 0


def test_a_hub_that_is_down_never_stops_publishing_or_stopping(site: Site) -> None:
    hub = f"http://127.0.0.1:{free_port()}/hub"  # nothing listens there
    site.post("tides.md", "Tide tables", "2024-05-01T10:00:00Z")
    service = serve(site, hub)
    try:
        assert service.get("/rss.xml").status == 200
        line = wait_for(
            lambda: next(
                (ln for ln in service.log_text().splitlines() if "was not told that" in ln), None
            ),
            "the log line about the hub",
        )
        assert f"WebSub hub {hub} was not told that {service.url('/atom.xml')} changed" in line
        assert "after 3 attempt(s): cannot reach the hub" in line
        site.post("lights.md", "Harbour lights at dusk", "2024-05-03T10:00:00Z")
        since = datetime.now(UTC)
        assert service.wait_for_run_after(since)["result"] == "published"
        assert b"Harbour lights at dusk" in service.get("/rss.xml").body
    finally:
        started = time.monotonic()
        assert service.stop() == 0
        # A ping pausing between attempts (1 s, then 2 s) does not hold the stop.
        assert time.monotonic() - started < 5
