"""The real `feeds serve` as a child process, and what end-to-end tests need around it.

`Service` starts `python -m feeds serve` on a free loopback port and stops it by its pid;
`Recorder` is a byte relay put in front of it to see what crossed the wire;
`wait_for` polls instead of sleeping.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: how long a child may take to answer /healthz, and to exit after a signal
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """Call ``check`` until it returns something other than None or False, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Response:
    status: int
    #: header names in lower case
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(port: int, path: str, method: str = "GET", **headers: str) -> Response:
    """One HTTP/1.1 request with exactly these headers (``If_None_Match=`` → If-None-Match)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


class Service:
    """A running `feeds serve -c config` child; always call ``stop`` (the fixture does)."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config = config
        self.port = port
        self.log = log
        self.base = f"http://127.0.0.1:{port}"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "feeds", "serve", "-c", str(config)],
                cwd=config.parent,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, method: str = "GET", **headers: str) -> Response:
        return request(self.port, path, method, **headers)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_until_up(self, statuses: tuple[int, ...] = (200,)) -> Response:
        """Wait until /healthz answers with one of ``statuses``; fail if the child exits."""

        def answer() -> Response | None:
            if self.process.poll() is not None:
                raise ChildExited(self.process.returncode, self.log_text())
            try:
                response = self.get("/healthz")
            except OSError:
                return None
            return response if response.status in statuses else None

        return wait_for(answer, f"/healthz to answer {statuses}", START_TIMEOUT)

    def health(self) -> dict[str, Any]:
        document: dict[str, Any] = self.get("/healthz").json()
        return document

    def wait_for_run_after(self, since: datetime, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for a run that started at or after ``since`` (so it saw every change before it).

        /healthz is updated after the new files are swapped in, so they are served by then.
        """

        def finished() -> dict[str, Any] | None:
            health = self.health()
            started = health.get("time")
            return health if started and datetime.fromisoformat(started) >= since else None

        return wait_for(finished, f"a run started after {since.isoformat()}", timeout)

    def send(self, signum: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Stop the child by its pid and return its exit status (never leaves it running)."""
        self.send(signum)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
            raise AssertionError(
                f"feeds serve did not exit within {STOP_TIMEOUT:g}s of signal {signum}; killed"
            ) from None


class ChildExited(AssertionError):
    def __init__(self, status: int, log: str) -> None:
        super().__init__(f"feeds serve exited with status {status} before it was up:\n{log}")
        self.status = status
        self.log = log


@dataclass(frozen=True)
class Exchange:
    """One request and its response, as they crossed the wire."""

    method: str
    path: str
    #: request headers, names in lower case
    sent: dict[str, str]
    status: int
    #: response headers, names in lower case
    received: dict[str, str]


class Recorder:
    """A TCP relay on a free loopback port in front of ``upstream``; keeps every byte relayed.

    Clients pointed at ``port`` talk to the service as before; ``exchanges()`` tells what
    they sent and what they got, which is the only way to see a client's conditional GETs.
    """

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._closing = threading.Event()
        self._lock = threading.Lock()
        #: (bytes from the client, bytes from the service), one pair per connection
        self._conversations: list[tuple[bytearray, bytearray]] = []
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            except OSError:
                client.close()  # the service is gone: the client sees the connection close
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            talk = (bytearray(), bytearray())
            thread = threading.Thread(
                target=self._relay, args=(client, upstream, talk), daemon=True
            )
            with self._lock:
                self._conversations.append(talk)
                self._sockets += [client, upstream]
                self._threads.append(thread)
            thread.start()

    def _relay(
        self, client: socket.socket, upstream: socket.socket, talk: tuple[bytearray, bytearray]
    ) -> None:
        back = threading.Thread(target=_pump, args=(upstream, client, talk[1]), daemon=True)
        back.start()
        _pump(client, upstream, talk[0])
        back.join()
        client.close()
        upstream.close()

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            talks = [(bytes(a), bytes(b)) for a, b in self._conversations]
        found: list[Exchange] = []
        for sent, received in talks:
            found += _parse_conversation(sent, received)
        return found

    def close(self) -> None:
        self._closing.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join(timeout=5)


def _pump(source: socket.socket, target: socket.socket, keep: bytearray) -> None:
    try:
        while data := source.recv(65536):
            keep += data
            target.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _head(data: bytes, start: int) -> tuple[str, dict[str, str], int] | None:
    """The first line, headers and the offset after the blank line of a message at ``start``."""
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        return None
    first, *lines = data[start:end].decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return first, headers, end + 4


def _parse_conversation(sent: bytes, received: bytes) -> list[Exchange]:
    """Pair the requests of one connection with its responses (HTTP/1.1, no pipelining)."""
    exchanges: list[Exchange] = []
    at_sent = at_received = 0
    while (request := _head(sent, at_sent)) is not None:
        line, sent_headers, at_sent = request
        at_sent += int(sent_headers.get("content-length", "0"))
        method, path, _ = line.split(" ", 2)
        response = _head(received, at_received)
        if response is None:
            break
        status_line, received_headers, at_received = response
        status = int(status_line.split(" ", 2)[1])
        assert "transfer-encoding" not in received_headers, "chunked responses are not parsed"
        if method != "HEAD" and status not in (204, 304) and status >= 200:
            at_received += int(received_headers.get("content-length", "0"))
        exchanges.append(Exchange(method, path, sent_headers, status, received_headers))
    return exchanges


@contextlib.contextmanager
def recording(upstream: int) -> Iterator[Recorder]:
    recorder = Recorder(upstream)
    try:
        yield recorder
    finally:
        recorder.close()
