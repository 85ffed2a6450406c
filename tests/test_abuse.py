"""The real `feeds serve` under abuse, over loopback sockets: nothing outside the published
files is ever served, refusals are the ones SPEC §6 names, and no client — slow, oversized
or many — keeps the others from their answers.

Requests are written as raw bytes: http.client would normalise the very targets tested.
"""

from __future__ import annotations

import gzip
import io
import itertools
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Site
from tests.service import Service, free_port

#: written outside the output folder, and into every file a traversal could reach
CANARY = "CANARY-7f3a9c-not-for-the-web"


@dataclass(frozen=True)
class Served:
    """A running service and what it publishes."""

    service: Service
    site: Site
    #: URL path → bytes of every published file
    published: dict[str, bytes]

    @property
    def port(self) -> int:
        return self.service.port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`feeds serve` on a small site, with secrets beside its output folder and a link in it."""
    site = Site(tmp_path_factory.mktemp("abuse"))
    port = free_port()
    site.configure(f"server:\n  host: 127.0.0.1\n  port: {port}\n")
    for n in range(6):
        site.post(f"post{n}.md", f"Post {n}", f"2024-05-0{n + 1}T10:00:00Z", tags=f"[t{n % 2}]")
    site.write("private.txt.bak", CANARY)
    (site.root / "secret.txt").write_text(CANARY, encoding="utf-8")
    with (site.root / "config.yaml").open("a", encoding="utf-8") as config:
        config.write(f"# {CANARY}\n")
    # Links planted in the output folder: one to a file outside it, one to a folder outside.
    site.public.mkdir()
    (site.public / "leak.txt").symlink_to(site.root / "secret.txt")
    (site.public / "up").symlink_to(site.root, target_is_directory=True)
    service = Service(site.config_path, port, site.root / "serve.log")
    try:
        service.wait_until_up()
        published = {
            "/" + path.relative_to(site.public).as_posix(): path.read_bytes()
            for path in sorted(site.public.rglob("*"))
            if path.is_file() and not path.is_symlink() and not path.name.startswith(".")
        }
        assert "/rss.xml" in published and "/tags/t1/atom.xml" in published
        yield Served(service, site, published)
    finally:
        status = service.stop()
    assert status == 0, service.log_text()


# --- a minimal HTTP/1.1 client on a raw socket ------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    #: header names in lower case
    headers: dict[str, str]
    body: bytes


def read_answer(reader: io.BufferedReader, head_only: bool = False) -> Answer:
    """One response from a buffered socket file; the body by Content-Length."""
    status_line = reader.readline(65536)
    if not status_line:
        raise ConnectionError("connection closed before a status line")
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", status_line)
    assert match, status_line
    headers: dict[str, str] = {}
    while (line := reader.readline(65536)) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(match[1])
    length = 0 if head_only or status == 304 else int(headers.get("content-length", "0"))
    body = reader.read(length) if length else b""
    if len(body) != length:
        raise ConnectionError(f"body cut short: {len(body)} of {length} bytes")
    return Answer(status, headers, body)


def exchange(port: int, data: bytes, timeout: float = 5.0) -> tuple[Answer, bool]:
    """Send ``data``, read one answer; also whether the server then closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        with sock.makefile("rb") as stream:
            answer = read_answer(stream, head_only=data.startswith(b"HEAD "))
            try:
                closed = stream.read(1) == b""
            except TimeoutError:
                closed = False
    return answer, closed


def get(port: int, target: bytes) -> Answer:
    return exchange(port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[
        0
    ]


# --- path traversal -----------------------------------------------------------------------

TRAVERSALS = [
    b"/../secret.txt",
    b"/../../../../etc/passwd",
    b"/tags/../../secret.txt",
    b"/%2e%2e/secret.txt",
    b"/%2E%2E/%2E%2E/etc/passwd",
    b"/.%2e/secret.txt",
    b"/..%2fsecret.txt",
    b"/%2e%2e%2fsecret.txt",
    b"/..%2F..%2Fetc%2Fpasswd",
    b"/%252e%252e/secret.txt",
    b"/%252e%252e%252fsecret.txt",
    b"/..\\secret.txt",
    b"/..%5csecret.txt",
    b"/%5c..%5csecret.txt",
    b"/secret.txt%00.xml",
    b"/rss.xml%00/../secret.txt",
    b"/rss.xml\x00",
    b"http://other/../secret.txt",
    b"http://other/../../etc/passwd",
    b"http://127.0.0.1/%2e%2e/config.yaml",
    b"//etc/passwd",
    b"//secret.txt",
    b"/%c0%ae%c0%ae/secret.txt",
    b"/%c0%af..%c0%afsecret.txt",
    b"/%e0%80%ae%e0%80%ae/secret.txt",
    b"/\xc0\xae\xc0\xae/secret.txt",
    b"/%u002e%u002e/secret.txt",
    b"/config.yaml",
    b"/.feeds/state.json",
    b"/%2efeeds/state.json",
    b"/content/post1.md",
    b"/../content/private.txt.bak",
    b"/leak.txt",
    b"/up/secret.txt",
    b"/up/config.yaml",
    b"/./rss.xml/../../secret.txt",
    b"secret.txt",
    b"*",
]


@pytest.mark.parametrize("target", TRAVERSALS, ids=lambda t: t.decode("latin-1"))
def test_no_request_target_reaches_a_file_outside_the_published_set(
    served: Served, target: bytes
) -> None:
    """Every traversal shape (dots raw or encoded once or twice, slashes and backslashes
    encoded, NUL, absolute-form URLs, overlong UTF-8, links planted in the output folder)
    gets 400 or 404, and no byte of a file outside the published set."""
    answer = get(served.port, target)
    assert answer.status in (400, 404), (target, answer.status, answer.body[:80])
    assert CANARY.encode() not in answer.body
    assert answer.body not in served.published.values()


def test_the_published_files_are_reachable_by_the_same_client(served: Served) -> None:
    """The refusals above are not a broken client: every published file is served exactly,
    also through an absolute-form target and a percent-encoded path."""
    for path, data in served.published.items():
        assert get(served.port, path.encode()).body == data, path
    assert get(served.port, b"http://other/rss.xml").body == served.published["/rss.xml"]
    assert get(served.port, b"/%72ss.xml").body == served.published["/rss.xml"]


# --- methods ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"TRACE", b"OPTIONS", b"PATCH"])
def test_other_methods_get_405_with_allow_and_no_file(served: Served, method: bytes) -> None:
    """SPEC §6: methods other than GET and HEAD get 405 with `Allow: GET, HEAD`; the file's
    bytes are not sent and nothing on disk changes."""
    before = served.site.outputs()
    body = b"<rss>replaced</rss>"
    answer, _ = exchange(
        served.port,
        method + b" /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n\r\n%s" % (len(body), body),
    )
    assert answer.status == 405
    assert answer.headers["allow"] == "GET, HEAD"
    assert answer.body != served.published["/rss.xml"]
    assert served.site.outputs() == before


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"CONNECT 127.0.0.1:22 HTTP/1.1", 400),
        (b"FOO /rss.xml HTTP/1.1", 405),
        (b"get /rss.xml HTTP/1.1", 405),
        (b"G\x00T /rss.xml HTTP/1.1", 400),
        (b"GET\t/rss.xml HTTP/1.1", 400),
        (b"GET /rss.xml HTTP/9.9", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # a TLS ClientHello
    ],
    ids=["CONNECT", "unknown", "lowercase", "NUL", "tab", "version", "TLS"],
)
def test_garbage_request_lines_get_400_and_the_connection_closes(
    served: Served, request_line: bytes, status: int
) -> None:
    """A request line that is not HTTP/1.x GET/HEAD-shaped (CONNECT, NUL, TLS bytes) gets
    400; a well-formed method this server does not know (``FOO``, ``get``) gets 405, as
    any method but GET and HEAD (SPEC §6). Either way the connection is closed, without a
    file body."""
    answer, closed = exchange(served.port, request_line + b"\r\nHost: x\r\n\r\n")
    assert answer.status == status, answer
    if status == 405:
        assert answer.headers["allow"] == "GET, HEAD"
    assert closed
    assert answer.body not in served.published.values()


def test_a_request_body_over_the_limit_cuts_the_connection(served: Served) -> None:
    """A client pushing a body far over the 64 KB the server will read is cut off, not
    buffered; the server keeps serving."""
    sent = 0
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(b"POST /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
        try:
            while sent < 100_000_000:
                sent += sock.send(b"x" * 65536)
        except TimeoutError:
            pytest.fail("the server stopped reading but kept the connection open")
        except OSError:
            pass  # reset or broken pipe: the server closed the connection
    assert sent < 50_000_000, "the server read 50 MB of a body it never uses"
    assert get(served.port, b"/rss.xml").body == served.published["/rss.xml"]


# --- oversized heads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /rss.xml?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 17000 + b"\r\n\r\n", 431),
        (
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: v\r\n" % n for n in range(3000))
            + b"\r\n",
            431,
        ),
        (b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nCookie: " + b"c=1; " * 4000 + b"\r\n\r\n", 431),
    ],
    ids=["long-path", "long-query", "one-big-header", "many-headers", "big-cookie"],
)
def test_oversized_heads_are_refused_and_the_connection_closed(
    served: Served, data: bytes, status: int
) -> None:
    """SPEC §6: a request line over 8 KB gets 414, headers over 16 KB (one big field or
    thousands of small ones) get 431; the connection is then closed."""
    answer, closed = exchange(served.port, data + b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.status == status
    assert closed, "the server left the connection open after refusing the request"


def server_memory_kb(service: Service) -> int | None:
    """Resident memory of the service process, where /proc tells it."""
    try:
        status = Path(f"/proc/{service.process.pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match[1]) if match else None


@pytest.mark.parametrize(
    ("start", "filler", "status"),
    [
        (b"GET /", b"a", 414),
        (b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Endless: ", b"b", 431),
        (b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Endless", b"n", 431),
        (b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n", b"X: 1\r\n", 431),
    ],
    ids=["endless-target", "endless-value", "endless-name", "endless-fields"],
)
def test_a_head_that_never_ends_is_refused_as_soon_as_it_is_too_big(
    served: Served, start: bytes, filler: bytes, status: int
) -> None:
    """A client streaming a request line or headers without end is answered 414/431 once
    the limit is passed, long before the head timeout, and the server does not hold what it
    sent (its memory stays flat while the client offers 64 MB)."""
    before = server_memory_kb(served.service)
    chunk = filler * (65536 // len(filler))
    offered = 64 * 2**20
    sent = 0
    answer = b""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(start)
        sock.setblocking(False)
        while sent < offered and time.monotonic() - started < 10:
            try:
                answer += sock.recv(65536)
                break  # the server answered (or closed: b"")
            except BlockingIOError:
                pass
            except OSError:
                break  # reset: it stopped reading
            try:
                # From where the last send stopped, so the filler's framing stays whole.
                sent += sock.send(chunk[sent % len(chunk) :])
            except BlockingIOError:
                time.sleep(0.002)
            except OSError:
                break
        sock.settimeout(5)
        try:
            while data := sock.recv(65536):
                answer += data
        except OSError:
            pass
    after = server_memory_kb(served.service)
    assert sent < offered, "the server read 64 MB of request head without refusing it"
    assert time.monotonic() - started < 10
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:60]
    if before is not None and after is not None:
        assert after - before < 32 * 1024, f"server memory grew by {after - before} kB"
    assert get(served.port, b"/rss.xml").body == served.published["/rss.xml"]


# --- slow clients -------------------------------------------------------------------------


def test_two_hundred_slow_clients_do_not_delay_a_normal_one(served: Served) -> None:
    """Slowloris: 200 connections each sending a request head a byte at a time; meanwhile a
    normal client's 60 requests are all answered, correctly, each in under 5 s."""
    head = b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\nX-Pad: "
    slow = [socket.create_connection(("127.0.0.1", served.port), timeout=5) for _ in range(200)]
    stop = threading.Event()
    trickled = [0]

    def trickle() -> None:
        for n in itertools.count():
            for sock in slow:
                if stop.is_set():
                    return
                try:
                    sock.send(head[n : n + 1] or b"x")
                    trickled[0] += 1
                except OSError:
                    pass
            time.sleep(0.05)

    worker = threading.Thread(target=trickle, daemon=True)
    worker.start()
    try:
        time.sleep(0.5)
        failures: list[str] = []
        slowest = 0.0
        for n in range(60):
            path = list(served.published)[n % len(served.published)]
            began = time.monotonic()
            try:
                answer = get(served.port, path.encode())
            except OSError as e:
                failures.append(f"{path}: {e!r}")
                continue
            took = time.monotonic() - began
            slowest = max(slowest, took)
            if answer.status != 200 or answer.body != served.published[path] or took >= 5:
                failures.append(f"{path}: {answer.status} in {took:.2f}s")
        assert not failures, failures
        assert trickled[0] > 1000, "the slow clients were not sending"
    finally:
        stop.set()
        worker.join(5)
        for sock in slow:
            sock.close()


# --- load ---------------------------------------------------------------------------------


def test_ten_thousand_keep_alive_requests_over_fifty_connections(served: Served) -> None:
    """10,000 requests over 50 concurrent keep-alive connections, half asking for gzip, some
    HEAD: no error, every body byte-equal to the published file."""
    paths = sorted(served.published)
    connections, per_connection = 50, 200
    errors: list[str] = []
    done = [0] * connections
    start = threading.Barrier(connections)

    def client(k: int) -> None:
        try:
            with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
                stream = sock.makefile("rb")
                start.wait()
                for n in range(per_connection):
                    path = paths[(k + n) % len(paths)]
                    method = b"HEAD" if n % 10 == 9 else b"GET"
                    zipped = n % 2 == 1
                    sock.sendall(
                        method
                        + b" "
                        + path.encode()
                        + b" HTTP/1.1\r\nHost: x\r\n"
                        + (b"Accept-Encoding: gzip\r\n" if zipped else b"")
                        + b"\r\n"
                    )
                    answer = read_answer(stream, head_only=method == b"HEAD")
                    body = answer.body
                    if answer.headers.get("content-encoding") == "gzip":
                        body = gzip.decompress(body)
                    expected = served.published[path]
                    if answer.status != 200:
                        errors.append(f"{path}: status {answer.status}")
                    elif method == b"GET" and body != expected:
                        errors.append(f"{path}: body differs ({len(body)} bytes)")
                    done[k] += 1
        except Exception as e:  # every failure is counted, none lost in a thread
            errors.append(f"connection {k}: {e!r}")

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    took = time.monotonic() - began
    assert not errors, errors[:10]
    assert sum(done) == connections * per_connection
    assert took < 60, f"{took:.1f}s for 10,000 requests"
