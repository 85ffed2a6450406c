"""Work in a forked child alongside this process (``feeds.cores.alongside``,
``feeds.cores.in_background``), and the libraries a run loads meanwhile; work shared
among worker processes (``feeds.cores.on_every_core``)."""

from __future__ import annotations

import functools
import os
import pickle
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds import cores, pipeline, runs
from feeds.cache import CachedPost
from feeds.cli import BUILDERS
from feeds.config import load_config
from feeds.content.discover import FoundFile
from feeds.cores import alongside, in_background, on_every_core
from feeds.model import Enclosure, FeedSpec
from feeds.publish import run_lock
from feeds.runs import Listing, list_posts
from tests.conftest import Site
from tests.service import wait_for
from tests.test_discover import mixed_folder
from tests.test_writers import ZOE, post


def test_the_work_is_done_in_a_child_while_this_process_goes_on(tmp_path: Path) -> None:
    """The child waits for a file that only ``meanwhile`` writes, after it has seen the
    child unfinished: both ran at once, and the child's result came back."""
    marker = tmp_path / "meanwhile-ran"
    seen: list[bool] = []

    def work() -> tuple[int, str]:
        deadline = time.monotonic() + 10
        while not marker.exists():
            assert time.monotonic() < deadline, "meanwhile never ran"
            time.sleep(0.005)
        return os.getpid(), "listed"

    def meanwhile(done: Callable[[], bool]) -> None:
        seen.append(done())
        marker.write_text("")
        deadline = time.monotonic() + 10
        while not done():
            assert time.monotonic() < deadline, "the child never finished"
            time.sleep(0.005)
        seen.append(done())

    pid, text = alongside(work, meanwhile)
    assert pid != os.getpid() and text == "listed"
    assert seen == [False, True]


def test_a_result_bigger_than_a_pipe_holds_comes_back_whole() -> None:
    big = [(f"{n:05d}/post.md", n, n * 7) for n in range(50_000)]
    assert alongside(lambda: big, lambda done: None) == big


def test_a_listing_comes_back_from_the_child_as_it_was_made(site: Site) -> None:
    """It crosses the pipe in columns: the same files, as FoundFile, the same
    problems, time and digest; an empty folder too."""
    site.post("b.md", "B")
    site.post("2024/a.md", "A")
    site.write("c.md", b"x" * 10)
    site.write("huge.md", b"x" * 2_000)
    site.configure("max_post_bytes: 1000\n")  # huge.md is skipped: a problem
    config = load_config(site.config_path)
    listing = list_posts(config)
    assert [f.path for f in listing.found] == ["2024/a.md", "b.md", "c.md"]
    assert [p.code for p in listing.problems] == ["too-large"]
    back = alongside(lambda: listing, lambda done: None)
    assert back == listing and isinstance(back, Listing)
    assert all(type(f) is FoundFile for f in back.found)
    empty = Listing([], [], 1, b"")
    assert alongside(lambda: empty, lambda done: None) == empty


def test_a_process_with_more_than_1024_descriptors_open_waits_for_its_child() -> None:
    """select() refuses a descriptor numbered 1024 or more; the pipe from the child may
    be one in a process that holds many files open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 2048)), hard))
    null = os.open(os.devnull, os.O_RDONLY)
    # Every number up to 1100 taken: the pipe's ends come above (where the system's
    # limit allows a process that many; where it does not, select() cannot fail).
    held = [null]
    while held[-1] < min(1100, hard - 50):
        held.append(os.dup(null))
    try:

        def meanwhile(done: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 10
            while not done():
                assert time.monotonic() < deadline, "the child never finished"
                time.sleep(0.005)

        assert alongside(os.getpid, meanwhile) != os.getpid()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_big_folder_is_listed_by_two_processes_as_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that held ``LIST_IN_TWO_FROM`` post files or more at the last run is
    listed half by a forked process: the same listing, to the digest."""
    content = tmp_path / "content"
    mixed_folder(content)
    (tmp_path / "config.yaml").write_text("site: {title: T, base_url: 'https://e.org/'}\n")
    config = load_config(tmp_path / "config.yaml")
    one, two = list_posts(config), list_posts(config, in_two=True)
    assert (two.found, two.problems, two.digest) == (one.found, one.problems, one.digest)
    # Halves split between a folder and a file its name starts: "a.md" sorts before "a/".
    for rel in ("a/x.md", "a.md"):
        (small := tmp_path / "small" / rel).parent.mkdir(parents=True, exist_ok=True)
        small.write_text("x")
    config = replace(config, content_dir=tmp_path / "small")
    assert [f.path for f in list_posts(config, in_two=True).found] == ["a.md", "a/x.md"]
    # Which runs list in two: those after a run that listed that many files.
    asked: list[bool] = []
    monkeypatch.setattr(runs, "list_posts", lambda config, in_two: asked.append(in_two))
    monkeypatch.setattr(runs, "unchanged", lambda config, last, listing, now: None)
    last = config.state_dir / runs.LAST_RUN_FILE
    for files in (None, runs.LIST_IN_TWO_FROM - 1, runs.LIST_IN_TWO_FROM):
        if files is not None:
            config.state_dir.mkdir(exist_ok=True)
            last.write_bytes(runs.dump_last_run(recorded(files)))
        runs._look(config, datetime.now(UTC))
    assert asked == [False, False, True]


def recorded(files: int) -> runs.LastRun:
    """The record of a run that listed ``files`` post files."""
    return runs.LastRun("x", 0, {}, {}, files, files, 0, (), (), 1)


def test_a_child_that_fails_leaves_the_work_to_this_process() -> None:
    """Killed, or a result that cannot be pickled: the work is done here instead."""
    parent = os.getpid()

    def dies_in_the_child() -> int:
        if os.getpid() != parent:
            os._exit(9)
        return os.getpid()

    def unpicklable_in_the_child() -> object:
        return (lambda: None) if os.getpid() != parent else "here"

    assert alongside(dies_in_the_child, lambda done: None) == parent
    assert alongside(unpicklable_in_the_child, lambda done: None) == "here"


def test_an_exception_of_the_work_is_raised_here() -> None:
    def work() -> None:
        raise ValueError("no such folder")

    with pytest.raises(ValueError, match="no such folder"):
        alongside(work, lambda done: None)


def test_no_child_is_forked_while_other_threads_run() -> None:
    """Forking a process with threads can deadlock the child: the work is done here,
    after ``meanwhile``, which is told at once that it is done."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    told: list[bool] = []
    try:
        pid = alongside(os.getpid, lambda done: told.append(done()))
    finally:
        stop.set()
        other.join()
    assert pid == os.getpid() and told == [True]


def _pid_writer(out: Path) -> Callable[[], None]:
    """Work that appends the pid of the process doing it to ``out``."""

    def work() -> None:
        with out.open("a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")

    return work


def test_work_in_the_background_is_done_once_by_a_child_while_this_process_goes_on(
    tmp_path: Path,
) -> None:
    out = tmp_path / "pids"
    release = tmp_path / "go"

    def work() -> None:
        deadline = time.monotonic() + 10
        while not release.exists() and time.monotonic() < deadline:  # this process goes on
            time.sleep(0.01)
        _pid_writer(out)()

    wait = in_background(work)
    release.touch()
    wait()
    wait()  # once only
    pids = out.read_text(encoding="utf-8").split()
    assert len(pids) == 1 and int(pids[0]) != os.getpid()


def test_background_work_a_child_failed_is_done_here_and_may_raise_here(tmp_path: Path) -> None:
    parent = os.getpid()
    out = tmp_path / "pids"

    def dies_in_the_child() -> None:
        if os.getpid() != parent:
            os._exit(9)
        _pid_writer(out)()

    in_background(dies_in_the_child)()
    assert out.read_text(encoding="utf-8").split() == [str(parent)]

    def fails() -> None:
        raise ValueError("disk full")

    wait = in_background(fails)
    with pytest.raises(ValueError, match="disk full"):
        wait()
    wait()  # told once

    wait = in_background(dies_in_the_child)
    wait(here=False)  # a run ending otherwise waits for the child, and does nothing more
    wait()
    assert out.read_text(encoding="utf-8").split() == [str(parent)]


def test_background_work_waits_for_the_call_while_other_threads_run(tmp_path: Path) -> None:
    out = tmp_path / "pids"
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        wait = in_background(_pid_writer(out))
        assert not out.exists()
        wait()
    finally:
        stop.set()
        other.join()
    assert out.read_text(encoding="utf-8").split() == [str(os.getpid())]


def test_background_work_not_to_be_forked_waits_for_the_call(tmp_path: Path) -> None:
    out = tmp_path / "pids"
    wait = in_background(_pid_writer(out), fork=False)
    assert not out.exists()
    wait()
    wait()
    assert out.read_text(encoding="utf-8").split() == [str(os.getpid())]


def test_the_modules_loaded_during_the_listing_are_those_a_full_run_imports() -> None:
    """A name that no longer is imported by ``feeds.pipeline`` would be loaded for
    nothing by every run."""
    code = (
        "import sys, feeds.pipeline\n"
        "loaded = set(sys.modules)\n"
        "from feeds.cli import BUILDERS\n"
        "print(' '.join(n for n in BUILDERS if n not in loaded))\n"
    )
    # A fresh interpreter: this one has imported far more.
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == [] and BUILDERS[-1] == "feeds.pipeline"


def _whose(piece: int) -> tuple[int, int]:
    return piece, os.getpid()


@pytest.mark.parametrize("here_too", [False, True])
def test_pieces_are_shared_among_workers_and_this_process_takes_some_if_asked(
    monkeypatch: pytest.MonkeyPatch, here_too: bool
) -> None:
    """Results come back in the order of the pieces, and ``done`` counts up to them
    all. With ``here_too`` this process and one forked child take them (on two
    cores); without it, workers make every piece."""
    monkeypatch.setattr(cores, "core_count", lambda: 2)
    counted: list[int] = []
    pieces = list(range(1, 41))
    results = on_every_core(_whose, pieces, counted.append, here_too=here_too)
    assert [piece for piece, _ in results] == pieces
    assert counted == sorted(counted) and counted[-1] == len(pieces)
    here = [piece for piece, pid in results if pid == os.getpid()]
    workers = {pid for _, pid in results} - {os.getpid()}
    if here_too:
        assert len(workers) <= 1 and here  # one child fewer than cores
    else:
        assert here == [] and counted == pieces


def test_a_process_with_other_threads_leaves_every_piece_to_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``feeds serve`` runs builds beside its server's threads: the first piece is not
    made here, where it would hold the interpreter those threads need."""
    monkeypatch.setattr(cores, "core_count", lambda: 2)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        results = on_every_core(_whose, [1, 2], here_too=True)
    finally:
        stop.set()
        other.join()
    assert [piece for piece, _ in results] == [1, 2]
    assert os.getpid() not in {pid for _, pid in results}


def test_the_code_fingerprint_follows_every_file_of_the_package_but_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte changed in any file the package ships, in a subfolder too, makes another
    fingerprint (caches, index and readings made by other code are never used);
    bytecode written beside the code does not."""
    copy = tmp_path / "feeds"
    shutil.copytree(Path(runs.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runs, "__file__", str(copy / "runs.py"))
    first = runs._fingerprint_of_files()
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "runs.cpython-311.pyc").write_bytes(b"bytecode")
    (copy / "content" / "__pycache__").mkdir()
    (copy / "content" / "__pycache__" / "text.cpython-311.pyc").write_bytes(b"bytecode")
    assert runs._fingerprint_of_files() == first
    for name in ("content/text.py", "writers/feed.xsl", "pipeline.py"):
        code = (copy / name).read_bytes()
        (copy / name).write_bytes(code + b"\n")
        assert runs._fingerprint_of_files() != first, name
        (copy / name).write_bytes(code)
        assert runs._fingerprint_of_files() == first, name


KILLED_RUN = """
import sys, time
from pathlib import Path
from feeds.cores import on_every_core
from feeds.publish import run_lock

def slow(n):
    time.sleep(60)
    return n

with run_lock(Path(sys.argv[1]), 1):
    print("locked", flush=True)
    on_every_core(slow, [1, 2, 3, 4])
"""


def test_a_run_killed_while_its_workers_work_leaves_neither_them_nor_its_lock(
    tmp_path: Path,
) -> None:
    """SIGKILL (the OOM killer, say) ends a run mid-work: its workers die with it and
    never held its lock, so the next run takes the lock at once."""
    if cores.core_count() < 2:
        pytest.skip("one core: the work is done in the run's own process")
    run = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert run.stdout is not None and run.stdout.readline() == "locked\n"
    deadline = time.monotonic() + 20
    workers: list[int] = []
    while len(workers) < 1:
        assert time.monotonic() < deadline, "no worker started"
        children = Path(f"/proc/{run.pid}/task/{run.pid}/children").read_text().split()
        workers = [int(pid) for pid in children]
        time.sleep(0.05)
    time.sleep(0.5)  # the workers are in their work
    run.kill()
    run.wait(10)
    run.stdout.close()
    with run_lock(tmp_path, 5):
        pass
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived the run"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting for its parent does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_what_crosses_processes_comes_back_equal_and_by_its_fields(site: Site) -> None:
    """Posts read and feeds to make go between processes pickled by their fields
    (``model.pickled_by_fields``): each comes back equal, and as its fields in order."""
    text = (
        "---\ntitle: Everything\ndate: 2024-05-01T10:00:00Z\nupdated: 2024-05-02T10:00:00Z\n"
        "author: {name: Zoë, email: zoe@example.org}\ntags: [alpha, beta]\n"
        "summary: <p>In short.</p>\nslug: all-of-it\nid: tag:example.org,2024:all\n"
        "link: https://example.com/x\nimage: /a.png\n"
        "enclosure: https://cdn.example.org/a.mp3\nduration: '1:02'\nwat: 1\n---\nBody.\n"
    )
    config = load_config(site.config_path)
    source = pipeline.parse_post(text.encode(), "all.md", config)
    assert source.enclosure and source.warnings and source.authors[0].email
    cached = CachedPost(10, 20, "d" * 64, source, True)
    one = post("one", datetime(2024, 5, 1, tzinfo=UTC), enclosure=Enclosure("u", 1, "a/b"))
    feed = FeedSpec("site", "", "", "T", "D", "https://example.org/", "en", (one,), ZOE)
    for value in (source, cached, feed, *feed.posts, *source.warnings, *source.authors):
        names = [f.name for f in fields(value)]
        assert value.__reduce__() == (type(value), tuple(getattr(value, n) for n in names))
        again = pickle.loads(pickle.dumps(value))
        assert type(again) is type(value) and again == value


def taken_by(marks: Path, piece: int) -> tuple[int, int]:
    """A piece of work that takes a while, and marks that it has begun."""
    (marks / f"{os.getpid()}-{piece}").touch()
    time.sleep(0.02)
    return piece * piece, os.getpid()


def test_work_begun_ahead_is_shared_with_the_child_and_comes_back_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cores, "core_count", lambda: 2)
    pieces = list(range(30))
    begun = cores.ahead(functools.partial(taken_by, tmp_path), pieces)
    assert begun is not None
    wait_for(lambda: any(tmp_path.iterdir()), "the child to take a piece")
    results = begun.results()
    assert [square for square, _ in results] == [n * n for n in pieces]
    by = {pid for _, pid in results}
    assert os.getpid() in by and len(by) == 2, "this process and the child each took some"
    assert len(list(tmp_path.iterdir())) == len(pieces), "no piece was done twice"


def dies_in_a_child(marks: Path, parent: int, piece: int) -> int:
    if os.getpid() != parent and piece == 3:
        (marks / "died").touch()
        os._exit(9)  # killed, say, by the OOM killer
    return piece + 1


def test_the_pieces_of_a_child_that_dies_are_done_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cores, "core_count", lambda: 2)
    begun = cores.ahead(functools.partial(dies_in_a_child, tmp_path, os.getpid()), range(8))
    assert begun is not None
    wait_for(lambda: (tmp_path / "died").exists(), "the child to die at piece 3")
    assert begun.results() == list(range(1, 9))


def test_stopping_work_begun_ahead_ends_the_child_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cores, "core_count", lambda: 2)
    begun = cores.ahead(time.sleep, [60.0])
    assert begun is not None
    started = time.monotonic()
    begun.stop()
    assert time.monotonic() - started < 5
    begun.stop()  # a second time does nothing


def test_nothing_is_begun_ahead_on_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "core_count", lambda: 1)
    assert cores.ahead(str, [1, 2]) is None


def big(n: int) -> bytes:
    return bytes([n]) * (300_000 + n)  # several pipe buffers, so frames come in pieces


def test_results_streamed_back_from_children_come_whole_and_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cores, "core_count", lambda: 2)
    counted: list[int] = []
    assert on_every_core(big, list(range(12)), counted.append) == [big(n) for n in range(12)]
    assert counted == list(range(1, 13))


def test_the_pieces_of_a_streaming_child_that_dies_are_done_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cores, "core_count", lambda: 2)
    work = functools.partial(dies_in_a_child, tmp_path, os.getpid())
    assert on_every_core(work, list(range(8))) == list(range(1, 9))
    assert (tmp_path / "died").exists()


def test_an_interrupt_while_results_stream_back_ends_the_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while this process waits for results: it stops at once (waiting on no lock
    a thread may hold), and the children end with it."""
    monkeypatch.setattr(cores, "core_count", lambda: 2)
    forked: list[int] = []
    real = cores._children

    def noted(count: int, body: Callable[[int], None]) -> list[tuple[int, int]]:
        children = real(count, body)
        forked.extend(pid for pid, _ in children)
        return children

    monkeypatch.setattr(cores, "_children", noted)

    def interrupted(n: int) -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        on_every_core(time.sleep, [0.0] + [60.0] * 5, interrupted)
    assert time.monotonic() - started < 10
    assert len(forked) == 2 and not any(_alive(pid) for pid in forked)


@pytest.mark.parametrize(
    ("total", "cores_", "largest", "smallest"),
    [
        (10_000, 2, 313, 50),
        (393, 2, 25, 8),
        (51, 2, 7, 1),
        (45, 2, 3, 8),
        (1, 4, 10, 5),
        (0, 2, 5, 1),
    ],
)
def test_tapered_pieces_cover_the_work_once_and_shrink_toward_its_end(
    total: int, cores_: int, largest: int, smallest: int
) -> None:
    """Pieces taken in order, the largest first and the last small: every item once, in
    order; no piece over ``largest`` (unless ``smallest`` is more) and none under
    ``smallest`` but the very last; each no larger than the one before."""
    pieces = cores.tapered(total, cores_, largest, smallest)
    assert [i for piece in pieces for i in piece] == list(range(total))
    sizes = [len(piece) for piece in pieces]
    assert all(size <= max(largest, smallest) for size in sizes)
    assert all(size >= smallest for size in sizes[:-1])
    assert sizes == sorted(sizes, reverse=True)
    if total >= 8 * largest * cores_:
        # The last pieces are the TAPER * cores-th part of what is left, or the smallest.
        assert sizes[0] == largest and sizes[-2] == max(smallest, 1) < largest
