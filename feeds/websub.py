"""WebSub at the edges: the ``Link`` header feeds are served with, and the publish pings
that tell the hub which feeds changed.

A hub never holds up or fails a run: pings go out after the files are published, each
is retried a few times with a growing pause, all of one run's pings share a time budget,
and a feed the hub did not take is reported naming the hub and the feed (its subscribers
then see the change when they next poll the feed).
"""

from __future__ import annotations

import itertools
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from feeds import __version__
from feeds.render import ascii_url

#: the most of a hub's answer quoted in a message
_ANSWER_CHARS = 200


def link_header(hub: str, self_url: str) -> bytes:
    """The ``Link`` header value of a feed's responses: its hub and its own URL (WebSub
    §4, discovery), ASCII as HTTP headers must be."""
    return f'<{ascii_url(hub)}>; rel="hub", <{ascii_url(self_url)}>; rel="self"'.encode()


@dataclass(frozen=True)
class Retry:
    """How hard one run tries to reach the hub."""

    #: requests per feed at most
    attempts: int = 3
    #: seconds before the second attempt; doubled before each later one
    backoff: float = 1.0
    #: seconds one request may take
    timeout: float = 10.0
    #: seconds all the pings of one run may take; feeds not pinged by then are reported
    budget: float = 60.0


@dataclass(frozen=True)
class Failure:
    """A feed the hub was not told about, and why."""

    feed: str
    reason: str
    #: requests made for it (0: not tried, the hub being unreachable or the time spent)
    attempts: int
    #: whether the hub answered the last request (with a status other than 2xx)
    answered: bool = False
    #: the status the hub answered with, if it did
    status: int | None = None


@dataclass(frozen=True)
class PingReport:
    """What one run's pings achieved."""

    hub: str
    #: feed URLs the hub accepted a ping for, in the order pinged
    pinged: tuple[str, ...] = ()
    failed: tuple[Failure, ...] = ()

    def messages(self) -> list[str]:
        """What went wrong, naming the hub and the feeds: one line per feed the hub refused
        or could not be reached for, and one line for the feeds not tried after that."""
        lines = []
        tried = [failure for failure in self.failed if failure.attempts]
        # Feeds refused one after another for one reason make one line.
        for (reason, attempts), group in itertools.groupby(
            tried, key=lambda f: (f.reason, f.attempts)
        ):
            feeds = [failure.feed for failure in group]
            what = feeds[0] if len(feeds) == 1 else f"{len(feeds)} feeds ({_some(feeds)})"
            lines.append(
                f"WebSub hub {self.hub} was not told that {what} changed "
                f"(after {attempts} attempt(s): {reason}); "
                "its subscribers will see the change when they next poll"
            )
        untried = [failure for failure in self.failed if not failure.attempts]
        if untried:
            lines.append(
                f"WebSub hub {self.hub} was not told that {len(untried)} more feed(s) changed "
                f"({untried[0].reason}): {_some([failure.feed for failure in untried])}"
            )
        return lines


def _some(feeds: Sequence[str]) -> str:
    """The first three feeds, and how many more."""
    more = f" and {len(feeds) - 3} more" if len(feeds) > 3 else ""
    return ", ".join(feeds[:3]) + more


class HubAnswer(Exception):
    """The hub answered a ping with a status other than 2xx."""

    def __init__(self, status: int, text: str) -> None:
        self.status = status
        self.text = text
        super().__init__(f"HTTP {status}" + (f": {text}" if text else ""))


#: sends one ping: (hub URL, form body, timeout); returns on a 2xx answer, raises HubAnswer
#: for another answer and OSError when the hub cannot be reached
Sender = Callable[[str, bytes, float], None]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers: following a 301 or 302 would turn the POST into a GET."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post_form(hub: str, body: bytes, timeout: float) -> None:
    """POST a urlencoded form to the hub; see :data:`Sender`."""
    request = urllib.request.Request(
        hub,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": f"feeds/{__version__}",
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(64 * 1024)
    except urllib.error.HTTPError as e:
        try:
            text = e.read(_ANSWER_CHARS * 4).decode("utf-8", "replace")
        except OSError:
            text = ""
        finally:
            e.close()
        if text.lstrip().startswith("<"):  # an error page: its reason phrase says enough
            text = str(e.reason or "")
        raise HubAnswer(e.code, " ".join(text.split())[:_ANSWER_CHARS]) from e
    except urllib.error.URLError as e:
        raise OSError(f"cannot reach the hub: {e.reason}") from e
    except TimeoutError as e:
        raise OSError(f"no answer within {timeout:g} s") from e


#: answers that say the hub takes no POST there at all, whatever the feed (a 404 may be
#: a hub's word on one topic)
_REFUSES_ALL = frozenset({405, 501, 505})


def _retryable(answer: HubAnswer) -> bool:
    """A server error, a timeout or too many requests may pass; another 4xx will not, nor
    a server that does not implement the request."""
    return answer.status in (408, 429) or (answer.status >= 500 and answer.status not in (501, 505))


@dataclass(frozen=True)
class Pinger:
    """Tells a hub which feeds changed: ``hub.mode=publish`` with the feed's URL as both
    ``hub.url`` (what most hubs read) and ``hub.topic`` (what some others read), one
    request per feed."""

    hub: str
    retry: Retry = field(default_factory=Retry)
    send: Sender = post_form
    #: set to stop: no new attempt starts, and pauses end at once
    stopping: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], float] = time.monotonic

    def ping(self, feeds: Sequence[str]) -> PingReport:
        """Ping the hub for each feed URL in turn; never raises for the hub's sake."""
        deadline = self.clock() + self.retry.budget
        pinged: list[str] = []
        failed: list[Failure] = []
        unreachable = refusing = False
        for feed in feeds:
            if unreachable or refusing:
                why = "unreachable" if unreachable else "refusing pings"
                failed.append(Failure(feed, f"not tried, the hub being {why}", 0))
                continue
            if self.stopping.is_set() or self.clock() >= deadline:
                why = "stopping" if self.stopping.is_set() else f"{self.retry.budget:g} s spent"
                failed.append(Failure(feed, f"not tried ({why})", 0))
                continue
            failure = self._ping_one(feed, deadline)
            if failure is None:
                pinged.append(feed)
            else:
                failed.append(failure)
                # A hub that answers may take the next feed; one that does not, or that
                # takes no pings there at all, will not.
                unreachable = not failure.answered
                refusing = failure.status in _REFUSES_ALL
        return PingReport(self.hub, tuple(pinged), tuple(failed))

    def _ping_one(self, feed: str, deadline: float) -> Failure | None:
        body = urlencode({"hub.mode": "publish", "hub.url": feed, "hub.topic": feed}).encode()
        pause = self.retry.backoff
        attempt = 0
        while True:
            attempt += 1
            try:
                self.send(self.hub, body, self.retry.timeout)
                return None
            except HubAnswer as e:
                reason, answered, again = f"the hub answered {e}", True, _retryable(e)
                status: int | None = e.status
            except OSError as e:
                reason, answered, again = str(e) or type(e).__name__, False, True
                status = None
            if not again or attempt >= self.retry.attempts:
                return Failure(feed, reason, attempt, answered, status)
            if self.clock() + pause >= deadline or self.stopping.wait(pause):
                return Failure(feed, reason, attempt, answered, status)
            pause *= 2
