"""HTTP/1.1 for the feed app: uvicorn keeps the sockets, signals and shutdown; this
protocol answers GET and HEAD straight from the parser's callbacks.

uvicorn's own protocols turn every request into an ASGI exchange (a task, events,
message dicts, two writes); for bytes already in memory that costs more than the
answer itself. Here a request is parsed by httptools, handed to ``FeedApp.answer``
and answered with one write, in order, so pipelined requests keep their order.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import logging
import re
import struct
import termios
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import unquote

import httptools

from feeds.server import MAX_HEADERS, MAX_REQUEST_LINE, FeedApp, plain_answer

log = logging.getLogger("feeds")

#: request bodies are never read; a client sending more than this is cut off
MAX_BODY = 64 * 1024
#: a request whose head is not complete this long after it began is answered 408
HEAD_TIMEOUT = 30.0
#: bytes of an unfinished request head past which it is refused without waiting for its
#: end: httptools keeps a header field whole in memory (and copies it per read) until it ends
MAX_HEAD = MAX_REQUEST_LINE + MAX_HEADERS
#: the largest body sent in one write with its head (larger ones are not copied)
_ONE_WRITE = 64 * 1024
#: the ioctl giving the bytes in a socket's send queue (Linux's SIOCOUTQ)
_OUTQ: int | None = getattr(termios, "TIOCOUTQ", None)
#: seconds a connection may hold answers its client takes nothing of; then it is cut (a
#: close would keep them in memory until read, which may be never). Generous: curl
#: --limit-rate takes 10 MB at once, then pauses a minute; and a large answer is held by
#: reference, not copied
SEND_TIMEOUT = 300.0

_REASONS = {
    200: b"OK", 206: b"Partial Content", 304: b"Not Modified", 400: b"Bad Request",
    404: b"Not Found", 416: b"Range Not Satisfiable",
    405: b"Method Not Allowed", 408: b"Request Timeout", 410: b"Gone",
    414: b"URI Too Long", 431: b"Request Header Fields Too Large",
    500: b"Internal Server Error", 503: b"Service Unavailable",
}  # fmt: skip


#: a request line with a method token (RFC 9110 §5.6.2) httptools may not know
_REQUEST_LINE = re.compile(rb"(?:^|\n)([!#$%&'*+.^_`|~0-9A-Za-z-]+) [^\s]+ HTTP/\d\.\d\r?\n")

_STATUS_LINES = {code: b"HTTP/1.1 %d %s\r\n" % (code, reason) for code, reason in _REASONS.items()}
#: header blocks already written out, by the identity of the (immutable) headers
_BLOCKS: dict[int, tuple[Any, bytes]] = {}


def _block(headers: Any) -> bytes:
    """``headers`` as HTTP lines; a file's answers are built once per publish, so
    their lines are too (the entry keeps the headers alive, so the id stays theirs)."""
    if isinstance(headers, tuple):
        known = _BLOCKS.get(id(headers))
        if known is not None and known[0] is headers:
            return known[1]
    block = b"".join(b"%s: %s\r\n" % pair for pair in headers)
    if isinstance(headers, tuple):
        if len(_BLOCKS) > 4096:
            _BLOCKS.clear()
        _BLOCKS[id(headers)] = (headers, block)
    return block


class FeedProtocol(asyncio.Protocol):
    """One client connection. Built by uvicorn as ``http=FeedProtocol``."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: Any = None,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        app = config.loaded_app
        # uvicorn may wrap the app (proxy headers, message logger): find ours.
        while not isinstance(app, FeedApp) and hasattr(app, "app"):
            app = app.app
        if not isinstance(app, FeedApp):
            raise TypeError("FeedProtocol serves a FeedApp only")
        self.app = app
        self.state = server_state
        self.loop = _loop or asyncio.get_event_loop()
        self.idle_timeout = float(config.timeout_keep_alive)
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.timer: asyncio.TimerHandle | None = None
        #: whether the transport holds more than it will take (``pause_writing``)
        self.paused = False
        #: bytes written that the client had not taken when the idle timer last looked
        #: (None: not looked since the last answer)
        self.unsent: int | None = None
        #: answers to make, in order, once the client has read what it was sent
        self.waiting: collections.deque[Callable[[], None]] = collections.deque()
        #: data received meanwhile, to parse after them
        self.unread: collections.deque[bytes] = collections.deque()
        self._reset()

    def _reset(self) -> None:
        #: when the request being read began; None between requests
        self.began: float | None = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.head_bytes = 0
        #: bytes read since the request began, while its head is not complete
        self.head_seen = 0
        self.head_done = False
        self.body_bytes = 0
        self.refused = 0  # a status to answer instead of the request (414, 431)
        self.hosts = 0  # Host fields seen

    # -- connection --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as ones.
        self.transport = cast("asyncio.Transport", transport)
        self.state.connections.add(self)
        self.last = self.loop.time()
        self.timer = self.loop.call_later(self.idle_timeout, self._check_time)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

    def shutdown(self) -> None:
        """uvicorn is stopping: every answer here is already written, so close now."""
        self._close()

    def pause_writing(self) -> None:
        # A client that does not read its answers gets no more of them made, nor read.
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        # Answers waiting first, then the requests received meanwhile, until the client
        # again holds back or all is done.
        while not self.paused and self.transport is not None:
            if self.waiting:
                self.waiting.popleft()()
            elif self.unread:
                self._parse(self.unread.popleft())
            else:
                break
        if not self.paused and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _then(self, answer: Callable[[], None]) -> None:
        """Answer now, or after the answers waiting: a client that does not read its
        answers has the requests it sent ahead wait, as few as one read of its data holds
        (no more is read or parsed meanwhile)."""
        if not self.paused and not self.waiting:
            answer()
        else:
            self.waiting.append(answer)

    def data_received(self, data: bytes) -> None:
        if self.paused or self.waiting or self.unread:
            self.unread.append(data)  # parsed once the client reads what it was sent
            return
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        if self.began is not None and not self.head_done:
            self.head_seen += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._last(plain_answer(400, "upgrades are not supported"))
            return
        except httptools.HttpParserInvalidMethodError:
            # httptools knows a fixed list of methods; any other well-formed one is a
            # method this server does not allow, as POST is (SPEC §6), not a bad request.
            methods = [m[1] for m in _REQUEST_LINE.finditer(data)]
            unknown = [m for m in methods if m not in (b"GET", b"HEAD")]
            if unknown:
                self._last(self.app.answer(unknown[0].decode(), "/", {}))
            else:
                self._last(plain_answer(400, "bad request"))
            return
        except httptools.HttpParserError:
            self._last(plain_answer(400, "bad request"))
            return
        if self.began is not None and not self.head_done and self.head_seen > MAX_HEAD:
            self._refuse(self.refused or 431)

    # -- parser callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset()
        self.began = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_REQUEST_LINE:
            self.refused = self.refused or 414
            self.url = b"/"

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > MAX_HEADERS:
            self.refused = self.refused or 431
        elif not self.refused:
            # A repeated field is one comma-separated list (RFC 9110 §5.3).
            key = name.lower()
            self.hosts += key == b"host"
            old = self.headers.get(key)
            self.headers[key] = value if old is None else old + b", " + value

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > MAX_BODY:
            self._close()

    def on_message_complete(self) -> None:
        keep_alive = bool(self.parser.should_keep_alive())
        if self.refused:
            self._refuse(self.refused)
            return
        method = self.parser.get_method().decode("latin-1")
        try:
            raw_path = httptools.parse_url(self.url).path or b"/"
        except httptools.HttpParserInvalidURLError:
            self._last(plain_answer(400, "bad request target"))
            return
        path = raw_path.decode("latin-1")
        if self.hosts != 1 and self.parser.get_http_version() == "1.1":
            # RFC 9112 §3.2: an HTTP/1.1 request names its host once.
            self._last(plain_answer(400, "one Host header is required"))
            return
        path = unquote(path) if "%" in path else path
        url, headers = self.url, self.headers  # this request's: the next gets new ones
        # HTTP/1.0 keeps a connection only when both say so (RFC 9112 §9.3, appendix C.2.2).
        said = keep_alive and b"connection" in headers and self.parser.get_http_version() == "1.0"
        if self.paused or self.waiting:
            self._then(lambda: self._answer(method, path, url, headers, keep_alive, said))
        else:
            self._answer(method, path, url, headers, keep_alive, said)

    def _answer(
        self,
        method: str,
        path: str,
        url: bytes,
        headers: dict[bytes, bytes],
        keep_alive: bool,
        say_keep_alive: bool,
    ) -> None:
        try:
            status, answer_headers, body = self.app.answer(method, path, headers)
        except Exception:  # one bad request must not take the connection's others down
            log.exception("error answering %s %r", method, url)
            status, answer_headers, body = plain_answer(500, "internal error")
            keep_alive = False
        self._finish(
            status, answer_headers, body, keep_alive=keep_alive, say_keep_alive=say_keep_alive
        )

    # -- answering -----------------------------------------------------------------

    def _refuse(self, status: int) -> None:
        """Answer 414 or 431 and close: the rest of the request is never read."""
        text = "request line too long" if status == 414 else "request headers too large"
        self._last(plain_answer(status, text))

    def _last(self, answer: tuple[int, Any, bytes]) -> None:
        """Answer, after those waiting, and close."""
        self._then(lambda: self._finish(*answer, keep_alive=False))

    def _finish(
        self,
        status: int,
        headers: Any,
        body: bytes,
        *,
        keep_alive: bool,
        say_keep_alive: bool = False,
    ) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        parts = [_STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status]
        for name, value in self.state.default_headers:  # Date, kept fresh by uvicorn
            parts += (name, b": ", value, b"\r\n")
        parts.append(_block(headers))
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        elif say_keep_alive:
            parts.append(b"connection: keep-alive\r\n")
        if len(body) <= _ONE_WRITE:
            parts += (b"\r\n", body)
            self.transport.write(b"".join(parts))
        else:
            parts.append(b"\r\n")
            # Not joined: a copy per answer of a large file, held until the client takes it,
            # made 50 slow clients of a 20 MB episode a gigabyte.
            self.transport.write(b"".join(parts))
            self.transport.write(body)
        self.began = None
        self.last = self.loop.time()
        self.unsent = None
        if not keep_alive:
            self._close()

    def _check_time(self) -> None:
        """One timer per connection, not per request: close it when idle too long, or
        answer 408 when a request's head has taken too long to arrive."""
        now = self.loop.time()
        if self.began is not None:
            if now - self.began >= HEAD_TIMEOUT:
                self._last(plain_answer(408, "request too slow"))
                return
            wait = self.began + HEAD_TIMEOUT - now
        elif now - self.last >= self.idle_timeout:
            unsent = self._unsent()
            if not unsent:
                self._close()
                return
            if self.unsent is None or unsent < self.unsent:
                # Still taking its answers (a long download, however slowly): not idle.
                self.unsent, self.last = unsent, now
            elif now - self.last >= SEND_TIMEOUT and self.transport is not None:
                # It has taken nothing of its answers for that long: a close would keep
                # them in memory until it does, which may be never.
                self.waiting.clear()
                self.unread.clear()
                self.transport.abort()
                return
            wait = self.idle_timeout
        else:
            wait = self.last + self.idle_timeout - now
        self.timer = self.loop.call_later(wait, self._check_time)

    def _unsent(self) -> int:
        """Bytes written for the client that it has not taken: those this process holds,
        and those in the kernel's send queue (a client reading in bursts may leave all of
        a long answer there for a while)."""
        if self.transport is None:
            return 0
        unsent = self.transport.get_write_buffer_size()
        sock = self.transport.get_extra_info("socket")
        if sock is not None and _OUTQ is not None:
            with contextlib.suppress(OSError, ValueError, TypeError):
                queued = fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0")
                unsent += struct.unpack("i", queued)[0]
        return unsent

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
