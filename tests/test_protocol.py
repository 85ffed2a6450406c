"""The HTTP/1.1 protocol on a real uvicorn socket: framing, limits, order, timeouts."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from feeds import protocol
from feeds.protocol import FeedProtocol
from feeds.server import FeedApp, make_resource
from tests.service import free_port

BODY = b"<rss version='2.0'>" + b"<!-- padding -->" * 40 + b"</rss>"
#: an episode's file: larger than any socket buffer
BIG = bytes(range(256)) * (16 * 1024)


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A uvicorn server on loopback with the feed app, a 1 s idle and head timeout."""
    monkeypatch.setattr(protocol, "HEAD_TIMEOUT", 1.0)
    monkeypatch.setattr(protocol, "SEND_TIMEOUT", 2.0)
    app = FeedApp(max_age=60)
    modified = datetime(2024, 5, 1, tzinfo=UTC)
    app.swap(
        {
            "rss.xml": make_resource("rss.xml", BODY, modified, 60),
            "big.mp3": make_resource("big.mp3", BIG, modified, 60),
            "huge.mp4": make_resource("huge.mp4", BIG * 6, modified, 60),
        }
    )
    number = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=number,
        http=FeedProtocol,
        lifespan="off",
        timeout_keep_alive=1,
        log_level="error",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield number
    server.should_exit = True
    thread.join(10)


def exchange(port: int, data: bytes, timeout: float = 5) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_lines(data: bytes) -> list[bytes]:
    """Status lines, wherever a body before them ended."""
    return re.findall(rb"HTTP/1\.1 \d{3}[^\r]*", data)


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    data = exchange(
        port,
        b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert status_lines(data) == [b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found", b"HTTP/1.1 200 OK"]
    assert data.count(BODY) == 1  # HEAD has none
    assert b"date: " in data.lower()


def test_ranges_are_answered_with_their_status_lines(port: int) -> None:
    data = exchange(
        port,
        b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\n\r\n"
        b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nRange: bytes=99999-\r\nConnection: close\r\n\r\n",
    )
    assert status_lines(data) == [
        b"HTTP/1.1 206 Partial Content",
        b"HTTP/1.1 416 Range Not Satisfiable",
    ]
    assert BODY[:5] + b"HTTP/1.1 416" in data


def test_http_1_0_closes_after_the_answer(port: int) -> None:
    data = exchange(port, b"GET /rss.xml HTTP/1.0\r\n\r\n")
    assert status_lines(data) == [b"HTTP/1.1 200 OK"]
    assert b"connection: close" in data


def test_http_1_0_keep_alive_is_said_when_kept(port: int) -> None:
    # ab -k hung: an HTTP/1.0 client keeps a connection only when the answer says so.
    request = b"GET /rss.xml HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        first = s.recv(65536)
        assert b"\r\nconnection: keep-alive\r\n" in first.lower()
        s.sendall(request)
        assert s.recv(65536).startswith(b"HTTP/1.1 200 OK")


def test_repeated_header_fields_are_one_list(port: int) -> None:
    etag = make_resource("rss.xml", BODY, datetime(2024, 5, 1, tzinfo=UTC), 60).identity.etag
    data = exchange(
        port,
        b'GET /rss.xml HTTP/1.1\r\nHost: x\r\nIf-None-Match: "a"\r\n'
        b"If-None-Match: " + etag + b"\r\nConnection: close\r\n\r\n",
    )
    assert status_lines(data) == [b"HTTP/1.1 304 Not Modified"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414 URI Too Long"),
        (
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 17000 + b"\r\n\r\n",
            b"431 Request Header Fields Too Large",
        ),
        (b"POST /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", b"405"),
        (b"NONSENSE\r\n\r\n", b"400 Bad Request"),
        # A method httptools does not know is still a method, and not allowed (SPEC §6).
        (b"FOO /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n", b"405 Method Not Allowed"),
        (b"get /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n", b"405 Method Not Allowed"),
        (b"G@T /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n", b"400 Bad Request"),
        # RFC 9112 §3.2: an HTTP/1.1 request without a Host, or with two, is refused.
        (b"GET /rss.xml HTTP/1.1\r\n\r\n", b"400 Bad Request"),
        (b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", b"400 Bad Request"),
    ],
)
def test_refusals(port: int, request_bytes: bytes, status: bytes) -> None:
    data = exchange(port, request_bytes + b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_lines(data)[0].startswith(b"HTTP/1.1 " + status)


def test_an_unknown_method_is_told_which_are_allowed(port: int) -> None:
    data = exchange(port, b"FROB /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_lines(data) == [b"HTTP/1.1 405 Method Not Allowed"]
    assert re.search(rb"\r\nallow: GET, HEAD\r\n", data, re.IGNORECASE)


def test_http_1_0_needs_no_host(port: int) -> None:
    data = exchange(port, b"GET /rss.xml HTTP/1.0\r\n\r\n")
    assert status_lines(data) == [b"HTTP/1.1 200 OK"]


def test_an_upgrade_is_answered_then_the_connection_closed(port: int) -> None:
    data = exchange(
        port,
        b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert status_lines(data) == [b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request"]


def test_a_stalled_request_gets_408_and_others_are_still_served(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as slow:
        slow.sendall(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
        started = time.monotonic()
        assert status_lines(exchange(port, b"GET /rss.xml HTTP/1.0\r\n\r\n")) == [
            b"HTTP/1.1 200 OK"
        ]
        data = slow.recv(65536)
        assert data.startswith(b"HTTP/1.1 408 Request Timeout")
        assert 0.5 < time.monotonic() - started < 4


def test_an_idle_connection_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 OK")
        started = time.monotonic()
        while s.recv(65536):
            pass  # the rest of the body, then the close
        assert time.monotonic() - started < 4


def rss_kib() -> int:
    """This process' resident memory (the server runs in one of its threads)."""
    status = Path("/proc/self/status").read_text(encoding="ascii")
    return int(re.search(r"VmRSS:\s+(\d+)", status)[1])  # type: ignore[index]


def test_answers_a_client_does_not_read_are_not_made_ahead(port: int) -> None:
    """Pipelined GETs from a client that reads none of its answers: each was answered
    into memory, 4 MB apiece here (gigabytes from one send). Answers now wait until the
    client reads what it was sent."""
    request = b"GET /big.mp3 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n"
    before = rss_kib()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.sendall(request * 100)  # 400 MB of answers
        time.sleep(1.0)
        grown = rss_kib() - before
    assert grown < 100 * 1024, f"{grown // 1024} MB"


def test_pipelined_requests_behind_a_large_answer_all_come(port: int) -> None:
    """A client that reads: the answers that waited behind a large one come, in order
    (a cap on those waiting cut such a client off)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            b"GET /big.mp3 HTTP/1.1\r\nHost: x\r\n\r\n"
            + b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n" * 300
            + b"GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        chunks = []
        while chunk := s.recv(1 << 20):
            chunks.append(chunk)
    data = b"".join(chunks)
    assert status_lines(data) == [b"HTTP/1.1 200 OK"] * 301 + [b"HTTP/1.1 404 Not Found"]
    assert data.count(BODY) == 300 and BIG in data


def test_a_reader_taking_a_large_file_in_bursts_gets_all_of_it(port: int) -> None:
    """A rate-limited download (curl --limit-rate) takes a burst, then nothing for longer
    than the idle timeout (1 s here) while the rest waits in the kernel's buffers: it is
    still reading, and gets all of 24 MB."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET /huge.mp4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = []
        pauses = 0
        while chunk := s.recv(64 * 1024):
            chunks.append(chunk)
            if len(chunks) % 100 == 0 and pauses < 2:
                pauses += 1
                time.sleep(1.6)  # past the idle timeout, within the send timeout
    assert b"".join(chunks).endswith(BIG * 6)


def test_a_client_that_takes_nothing_for_the_send_timeout_is_cut(port: int) -> None:
    """Its answers are dropped (2 s here): a close would keep them until it reads."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /huge.mp4 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(5)
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(1 << 20):
                received += len(chunk)
    assert 0 < received < len(BIG) * 6
