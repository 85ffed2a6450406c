"""WebSub: the Link header of served feeds, and the publish pings after a run.

The pings go over real HTTP to an endpoint on loopback that records each request and
answers with the statuses a test asks for: that is how a hub that fails, refuses or is
gone is shown. The real hub (flask-websub) is in tests/test_e2e_websub.py.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from feeds.server import FeedApp, load_folder
from feeds.websub import Failure, Pinger, PingReport, Retry, link_header, post_form
from tests.conftest import Site
from tests.service import free_port
from tests.test_cli import feeds

#: fast retries, so a failing hub costs the tests little time
QUICK = Retry(attempts=3, backoff=0.05, timeout=2.0, budget=10.0)


class Endpoint:
    """A loopback HTTP endpoint that keeps every POSTed form and answers with ``statuses``
    in turn (202 once they run out), each after ``delay`` seconds."""

    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0) -> None:
        self.statuses = list(statuses or [])
        self.forms: list[dict[str, list[str]]] = []
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("ascii")
                with endpoint.lock:
                    endpoint.forms.append(parse_qs(body))
                    status = endpoint.statuses.pop(0) if endpoint.statuses else 202
                time.sleep(delay)
                answer = f"answer {status}: no such topic".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def topics(self) -> list[str]:
        with self.lock:
            return [form["hub.url"][0] for form in self.forms]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@contextlib.contextmanager
def endpoint(statuses: list[int] | None = None, delay: float = 0.0) -> Iterator[Endpoint]:
    hub = Endpoint(statuses, delay)
    try:
        yield hub
    finally:
        hub.close()


# -- pings ---------------------------------------------------------------------------------


def test_a_ping_is_one_publish_form_per_feed() -> None:
    feeds_ = ["https://example.org/rss.xml", "https://example.org/tags/a&b/atom.xml"]
    with endpoint() as hub:
        report = Pinger(hub.url, QUICK).ping(feeds_)
    assert report == PingReport(hub.url, tuple(feeds_), ())
    assert report.messages() == []
    # hub.url for hubs that follow PubSubHubbub 0.4, hub.topic for those (flask-websub) that
    # read the subscription's name.
    assert hub.forms == [
        {"hub.mode": ["publish"], "hub.url": [url], "hub.topic": [url]} for url in feeds_
    ]


def test_a_server_error_is_retried_until_the_hub_takes_it() -> None:
    with endpoint([503, 500]) as hub:
        report = Pinger(hub.url, QUICK).ping(["https://example.org/rss.xml"])
    assert report.pinged == ("https://example.org/rss.xml",)
    assert hub.topics() == ["https://example.org/rss.xml"] * 3


def test_a_hub_that_keeps_failing_is_given_up_with_a_line_naming_hub_and_feed() -> None:
    with endpoint([500] * 3 + [502] * 3) as hub:
        started = time.monotonic()
        report = Pinger(hub.url, QUICK).ping(
            ["https://example.org/a.xml", "https://example.org/b.xml"]
        )
        took = time.monotonic() - started
    assert report.pinged == ()
    assert [f.attempts for f in report.failed] == [3, 3]
    assert hub.topics() == ["https://example.org/a.xml"] * 3 + ["https://example.org/b.xml"] * 3
    # Backoff: 0.05 s, then 0.1 s, per feed.
    assert took >= 2 * (0.05 + 0.1)
    first, second = report.messages()
    assert first.startswith(f"WebSub hub {hub.url} was not told that https://example.org/a.xml ")
    assert "after 3 attempt(s): the hub answered HTTP 500: answer 500: no such topic" in first
    assert "HTTP 502" in second and "https://example.org/b.xml" in second


def test_a_refusal_is_not_retried() -> None:
    with endpoint([400]) as hub:
        report = Pinger(hub.url, QUICK).ping(
            ["https://example.org/a.xml", "https://example.org/b.xml"]
        )
    assert report.failed == (
        Failure(
            "https://example.org/a.xml",
            "the hub answered HTTP 400: answer 400: no such topic",
            1,
            answered=True,
            status=400,
        ),
    )
    # The hub answers: the next feed is still offered to it.
    assert report.pinged == ("https://example.org/b.xml",)


def test_a_hub_that_does_not_know_one_topic_is_still_told_of_the_others() -> None:
    """A 404 may be a hub's word on one feed: the next one is offered."""
    with endpoint([404]) as hub:
        report = Pinger(hub.url, QUICK).ping(
            ["https://example.org/a.xml", "https://example.org/b.xml"]
        )
    assert [f.attempts for f in report.failed] == [1]
    assert report.pinged == ("https://example.org/b.xml",)


def test_a_hub_that_takes_no_pings_there_is_asked_once_and_reported_in_two_lines() -> None:
    """501 (not implemented) is final, and the hub is asked nothing more; an HTML error
    page is reported by its status and reason, not its markup."""
    urls = [f"https://example.org/tags/t{n}/rss.xml" for n in range(5)]
    with http_server_on_loopback() as hub:  # answers POST with 501 and an HTML page
        report = Pinger(hub, QUICK).ping(urls)
    assert [f.attempts for f in report.failed] == [1, 0, 0, 0, 0]
    first, rest = report.messages()
    assert f"{urls[0]} changed (after 1 attempt(s): the hub answered HTTP 501: Unsupported" in first
    assert "<" not in first
    assert rest.startswith(f"WebSub hub {hub} was not told that 4 more feed(s) changed")
    assert "refusing pings" in rest


def test_feeds_refused_for_one_reason_make_one_line() -> None:
    with endpoint([500] * 9) as hub:
        report = Pinger(hub.url, QUICK).ping([f"https://example.org/{n}.xml" for n in range(3)])
    (line,) = report.messages()
    assert "was not told that 3 feeds (https://example.org/0.xml, " in line
    assert "after 3 attempt(s): the hub answered HTTP 500" in line and "3 feeds" in line


@contextlib.contextmanager
def http_server_on_loopback() -> Iterator[str]:
    """The standard library's file server, which implements no POST."""
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_redirect_is_reported_not_followed() -> None:
    with endpoint([301]) as hub:
        report = Pinger(hub.url, QUICK).ping(["https://example.org/a.xml"])
    assert hub.topics() == ["https://example.org/a.xml"]
    assert "HTTP 301" in report.failed[0].reason


def test_an_unreachable_hub_costs_one_feed_s_retries_then_nothing() -> None:
    hub = f"http://127.0.0.1:{free_port()}/hub"  # nothing listens there
    urls = [f"https://example.org/tags/t{n}/rss.xml" for n in range(5)]
    started = time.monotonic()
    report = Pinger(hub, QUICK).ping(urls)
    assert time.monotonic() - started < 2
    assert report.failed[0].attempts == 3
    assert "cannot reach the hub" in report.failed[0].reason
    assert [f.attempts for f in report.failed[1:]] == [0] * 4
    first, rest = report.messages()
    assert f"WebSub hub {hub} was not told that {urls[0]} changed (after 3 attempt(s)" in first
    assert rest.startswith(f"WebSub hub {hub} was not told that 4 more feed(s) changed")
    assert urls[1] in rest and "and 1 more" in rest


def test_the_time_budget_bounds_a_run_s_pings() -> None:
    retry = Retry(attempts=5, backoff=0.05, timeout=2.0, budget=0.3)
    with endpoint([500] * 50, delay=0.2) as hub:
        started = time.monotonic()
        report = Pinger(hub.url, retry).ping(
            ["https://example.org/a.xml", "https://example.org/b.xml"]
        )
    assert time.monotonic() - started < 1.5
    assert report.pinged == ()
    # Two attempts fit in the budget; the third would not begin before it ends.
    assert report.failed[0].attempts == 2
    assert report.failed[1] == Failure("https://example.org/b.xml", "not tried (0.3 s spent)", 0)


def test_stopping_ends_the_pauses_between_attempts() -> None:
    with endpoint([500] * 3) as hub:
        pinger = Pinger(hub.url, Retry(attempts=3, backoff=30.0, timeout=2.0, budget=100.0))
        threading.Timer(0.2, pinger.stopping.set).start()
        started = time.monotonic()
        report = pinger.ping(["https://example.org/a.xml", "https://example.org/b.xml"])
    assert time.monotonic() - started < 5
    assert [f.attempts for f in report.failed] == [1, 0]
    assert report.failed[1].reason == "not tried (stopping)"


def test_a_hub_that_does_not_answer_in_time_is_unreachable() -> None:
    with contextlib.closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections, never answers
        hub = f"http://127.0.0.1:{silent.getsockname()[1]}/hub"
        with pytest.raises(OSError, match=r"^no answer within 0\.2 s$"):
            post_form(hub, b"hub.mode=publish", 0.2)


# -- Link headers --------------------------------------------------------------------------

HUB = "https://hub.example.net/publish?site=1"


def test_link_header_names_the_hub_and_the_feed_in_ascii() -> None:
    assert link_header(HUB, "https://example.org/rss.xml") == (
        b'<https://hub.example.net/publish?site=1>; rel="hub", '
        b'<https://example.org/rss.xml>; rel="self"'
    )
    assert link_header(HUB, "https://bücher.example/tags/é/rss.xml").endswith(
        b'<https://xn--bcher-kva.example/tags/%C3%A9/rss.xml>; rel="self"'
    )


def test_feeds_are_served_with_the_link_header_and_other_files_without(tmp_path: Path) -> None:
    body = b"<rss>" + b"x" * 500 + b"</rss>"
    for rel in ("rss.xml", "tags/sea/atom.xml", "authors/ann/feed.json", "index.html"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(body)
    app = FeedApp()
    app.swap(load_folder(tmp_path, 60, hub=HUB, base_url="https://example.org/blog/"))
    for rel in ("rss.xml", "tags/sea/atom.xml", "authors/ann/feed.json"):
        for encoding in ("", "gzip"):
            for method in ("GET", "HEAD"):
                status, headers, answer = app.answer(
                    method, f"/{rel}", {b"accept-encoding": encoding.encode()}
                )
                assert status == 200
                assert dict(headers)[b"link"] == link_header(HUB, f"https://example.org/blog/{rel}")
                if method == "GET" and encoding:
                    assert gzip.decompress(answer) == body
    assert b"link" not in dict(app.answer("GET", "/index.html", {})[1])
    plain = load_folder(tmp_path, 60)
    assert b"link" not in dict(plain["rss.xml"].identity.ok)


# -- `feeds build` pings what it changed ---------------------------------------------------


def configure(site: Site, hub: str) -> None:
    site.configure(f"websub:\n  hub: {hub}\n")


def test_build_pings_exactly_the_feeds_whose_bytes_changed(site: Site) -> None:
    site.post("a.md", "Alpha", "2024-05-01T10:00:00Z", tags="[sea]")
    site.post("b.md", "Beta", "2024-05-02T10:00:00Z", tags="[land]", author="Bob")
    with endpoint() as hub:
        configure(site, hub.url)
        first = feeds("build", "-c", str(site.config_path))
        assert first.returncode == 0, first.stderr
        every = sorted(
            "https://example.org/" + p
            for p in site.outputs()
            if p.endswith(("rss.xml", "atom.xml", "feed.json"))
        )
        assert len(every) == 5 * 3  # the site, two tags, Bob and Desk (who wrote Alpha)
        assert sorted(hub.topics()) == every
        assert f"websub  {hub.url} told of 15 changed feed(s)" in first.stdout

        # A new post under the tag "sea" by Desk changes the site's, sea's and Desk's feeds.
        site.post("c.md", "Gamma", "2024-05-03T10:00:00Z", tags="[sea]")
        hub.forms.clear()
        second = feeds("build", "-c", str(site.config_path))
        assert second.returncode == 0, second.stderr
        changed = {"", "tags/sea/", "authors/desk/"}
        assert sorted(hub.topics()) == sorted(
            f"https://example.org/{folder}{name}"
            for folder in changed
            for name in ("rss.xml", "atom.xml", "feed.json")
        )

        hub.forms.clear()
        third = feeds("build", "-c", str(site.config_path))
        assert third.returncode == 0, third.stderr
        assert hub.topics() == []
        assert "websub" not in third.stdout


def test_build_with_a_failing_hub_publishes_exits_0_and_says_so(site: Site) -> None:
    site.post("a.md", "Alpha")
    with endpoint([500, 500, 500]) as hub:  # the first feed fails 3 times; then all is well
        configure(site, hub.url)
        started = time.monotonic()
        run = feeds("build", "-c", str(site.config_path))
        took = time.monotonic() - started
    assert run.returncode == 0
    assert (site.public / "rss.xml").is_file()
    assert run.stderr == (
        f"warning: WebSub hub {hub.url} was not told that https://example.org/atom.xml changed"
        " (after 3 attempt(s): the hub answered HTTP 500: answer 500: no such topic); its"
        " subscribers will see the change when they next poll\n"
    )
    assert f"websub  {hub.url} told of 5 changed feed(s)" in run.stdout
    assert hub.topics()[:4] == ["https://example.org/atom.xml"] * 3 + [
        "https://example.org/authors/desk/atom.xml"
    ]
    assert 3 <= took < 20  # the default pauses: 1 s, then 2 s
