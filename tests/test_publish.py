"""Publishing: atomic replace, unchanged files untouched, the lock, the state file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds import publish
from feeds.exceptions import LockError, PublishError
from feeds.publish import (
    STATE_FILE,
    discard,
    publish_files,
    read_state,
    run_lock,
    stage,
    write_atomic,
    write_state,
    write_stream,
)
from feeds.state import Output, Remembered, Sealed, State, dump_state, load_archives, load_state
from tests.conftest import lock_held_by_child


def test_write_atomic_writes_then_leaves_identical_bytes_alone(tmp_path: Path) -> None:
    target = tmp_path / "a" / "rss.xml"
    assert write_atomic(target, b"one") is True
    os.utime(target, ns=(1, 1))
    assert write_atomic(target, b"one") is False
    assert target.stat().st_mtime_ns == 1
    assert write_atomic(target, b"two") is True
    assert target.read_bytes() == b"two"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == ["rss.xml"]  # no temporary left


def test_folders_made_are_readable_by_the_web_server_whatever_the_umask(tmp_path: Path) -> None:
    """A cron user's umask 077 made a new tag's folder 0700, and nginx answered 403 for
    its feeds: a folder made is readable and searchable by everyone, as its files are."""
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o2750)  # setgid to the web server's group, as an operator may set it
    old = os.umask(0o077)
    try:
        write_atomic(public / "tags" / "rail" / "rss.xml", b"x")
    finally:
        os.umask(old)
    assert oct(public.stat().st_mode & 0o7777) == "0o2750", "a folder there is left alone"
    assert oct((public / "tags").stat().st_mode & 0o7777) == "0o2755"
    assert oct((public / "tags" / "rail").stat().st_mode & 0o7777) == "0o2755"
    assert oct((public / "tags" / "rail" / "rss.xml").stat().st_mode & 0o777) == "0o644"


def test_write_atomic_into_an_unwritable_place_is_a_publish_error(tmp_path: Path) -> None:
    # A file where the folder should be fails for root too (permissions would not).
    (tmp_path / "tags").write_bytes(b"not a folder")
    with pytest.raises(PublishError, match="cannot write"):
        write_atomic(tmp_path / "tags" / "x" / "rss.xml", b"new")
    assert (tmp_path / "tags").read_bytes() == b"not a folder"


def test_write_atomic_on_a_full_disk_keeps_the_old_file(tmp_path: Path) -> None:
    # RLIMIT_FSIZE makes writes past the limit fail with EFBIG, as a full disk would.
    target = tmp_path / "rss.xml"
    target.write_bytes(b"good")
    code = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from feeds.publish import write_atomic\n"
        "from feeds.exceptions import PublishError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
        "try:\n"
        "    write_atomic(Path(sys.argv[1]), b'x' * 5000)\n"
        "except PublishError as e:\n"
        "    print('refused:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("refused: cannot write")
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["rss.xml"]


def test_ctrl_c_while_a_file_is_written_leaves_no_part_of_it(tmp_path: Path) -> None:
    target = tmp_path / "cache.json"
    target.write_bytes(b"good")

    def chunks() -> Iterator[bytes]:
        yield b"half of it"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_stream(target, chunks())
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"]
    assert target.read_bytes() == b"good"


def test_a_stream_waits_for_ready_with_its_bytes_written_beside_the_file(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    target.write_bytes(b"old")
    seen: list[tuple[bytes, list[bytes]]] = []

    def ready() -> None:
        beside = [p.read_bytes() for p in tmp_path.iterdir() if p != target]
        seen.append((target.read_bytes(), beside))

    write_stream(target, iter([b"ne", b"w"]), ready)
    assert seen == [(b"old", [b"new"])]
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_a_stream_whose_ready_fails_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    target.write_bytes(b"old")

    def ready() -> None:
        raise PublishError("the cache could not be written")

    with pytest.raises(PublishError):
        write_stream(target, iter([b"new"]), ready)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_ctrl_c_while_files_are_staged_publishes_none_and_leaves_none_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "public"
    publish_files(out, {"a.xml": b"a"}, ())
    early = stage(out, "tags/t/rss.xml", b"t")
    real = publish._stage

    def interrupted(path: Path, data: bytes) -> Path | None:
        if path.name == "c.xml":
            raise KeyboardInterrupt
        return real(path, data)

    monkeypatch.setattr(publish, "_stage", interrupted)
    files = {"a.xml": b"new a", "b.xml": b"b", "c.xml": b"c"}
    with pytest.raises(KeyboardInterrupt):
        publish_files(out, files, ("a.xml",), staged={"tags/t/rss.xml": early})
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["a.xml"]
    assert (out / "a.xml").read_bytes() == b"a"


def test_publish_removes_only_files_it_published_before(tmp_path: Path) -> None:
    out = tmp_path / "public"
    first = publish_files(out, {"rss.xml": b"r", "tags/x/rss.xml": b"x"}, ())
    assert first.written == ("rss.xml", "tags/x/rss.xml")
    (out / "robots.txt").write_bytes(b"mine")
    second = publish_files(out, {"rss.xml": b"r"}, ("rss.xml", "tags/x/rss.xml"))
    assert second.unchanged == ("rss.xml",)
    assert second.removed == ("tags/x/rss.xml",)
    assert not (out / "tags").exists()
    assert (out / "robots.txt").read_bytes() == b"mine"


def test_files_staged_early_are_published_with_the_others_or_thrown_away(
    tmp_path: Path,
) -> None:
    """A file staged beside its target while the run goes on is renamed into place with
    the files published at the end, counted as written, or as unchanged when its target
    held its bytes; a killed run's leftovers go, this run's staged files stay until
    published. A failure while publishing throws the staged files away too, as does
    ``discard``."""
    out = tmp_path / "public"
    publish_files(out, {"archive/1/rss.xml": b"old page"}, ())
    leftover = out / "archive/2/.rss.xml.abcd1234.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"a killed run's")
    staged = {
        "archive/1/rss.xml": stage(out, "archive/1/rss.xml", b"old page"),
        "archive/2/rss.xml": stage(out, "archive/2/rss.xml", b"new page"),
    }
    assert staged["archive/1/rss.xml"].tmp is None
    assert staged["archive/2/rss.xml"].digest == hashlib.sha256(b"new page").hexdigest()
    done = publish_files(out, {"rss.xml": b"main"}, ("archive/1/rss.xml",), staged=staged)
    assert done.written == ("archive/2/rss.xml", "rss.xml")
    assert done.unchanged == ("archive/1/rss.xml",) and done.removed == ()
    assert (out / "archive/2/rss.xml").read_bytes() == b"new page"
    assert sorted(p.name for p in (out / "archive/2").iterdir()) == ["rss.xml"]

    thrown = {"archive/3/rss.xml": stage(out, "archive/3/rss.xml", b"page 3")}
    (out / "tags").write_bytes(b"a file where a folder must go")
    with pytest.raises(PublishError, match="cannot write in"):
        publish_files(out, {"tags/x/rss.xml": b"x"}, (), staged=thrown)
    assert not (out / "archive/3").exists()
    again = {"archive/3/rss.xml": stage(out, "archive/3/rss.xml", b"page 3")}
    discard(out, again)
    assert not (out / "archive/3").exists()


def test_lock_excludes_a_second_process(tmp_path: Path) -> None:
    with lock_held_by_child(tmp_path):
        started = time.monotonic()
        with pytest.raises(LockError, match="another run holds the lock"), run_lock(tmp_path, 0.3):
            pass
        assert time.monotonic() - started >= 0.3
    # The kernel drops a dead holder's lock: no stale lock survives a killed run.
    with run_lock(tmp_path, 5):
        pass


def test_a_stop_cuts_the_wait_for_the_lock_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A service told to stop while a `feeds build` holds the lock: its run waits a
    # little more, then gives up, instead of holding the stop for the whole wait.
    monkeypatch.setattr(publish, "STOP_LOCK_WAIT", 0.3)
    with lock_held_by_child(tmp_path):
        asked = time.monotonic() + 0.5
        started = time.monotonic()
        with (
            pytest.raises(LockError, match="stopped while another run held the lock"),
            run_lock(tmp_path, 30, stopping=lambda: time.monotonic() >= asked),
        ):
            pass
        assert 0.8 <= time.monotonic() - started < 5


def test_state_round_trip_and_corruption(tmp_path: Path) -> None:
    seen = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    state = State({"a.md": Remembered("tag:x,2024-01-02:/a", seen, "d")}, ("rss.xml",))
    write_state(tmp_path, state)
    assert read_state(tmp_path) == (state, [])
    (tmp_path / STATE_FILE).write_bytes(b'{"version": 1, "posts": [')
    fresh, problems = read_state(tmp_path)
    assert fresh == State()
    assert [p.code for p in problems] == ["state-corrupt"]
    assert read_state(tmp_path / "missing") == (State(), [])


def test_archive_pages_read_alone_from_a_state_are_those_it_holds() -> None:
    """A run through the index reads the complete archive pages without the posts after
    them: the same pages, an id that looks like the list's end included; none when there
    are none; ValueError for what dump_state never writes."""
    seen = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    posts = {"a.md": Remembered("tag:x,2024-01-02:/a", seen, "d")}
    pages = (
        Sealed(1, ("tag:x:1", 'tag:x:2\n],\n"outputs": '), {"rss": Output("f", 10, 20)}),
        Sealed(2, ("tag:x:3",)),
    )
    for state in (State(posts, archives=pages), State(posts)):
        data = b"".join(dump_state(state))
        assert load_archives(data) == load_state(data).archives == state.archives
    for bad in (b"", b"{}", b'{\n"archives": [\n', b'{\n"archives": [\n 1\n],\n"outputs": {}'):
        with pytest.raises(ValueError):
            load_archives(bad)


def test_a_state_record_reads_whatever_the_order_of_its_keys(tmp_path: Path) -> None:
    """The first versions wrote a post's record as id, first_seen, digest: it still reads,
    as does one with a key more; a record lacking a field is a damaged state."""
    body = (
        '{"outputs": {}, "posts": {\n'
        ' "a.md": {"id": "tag:x,2024-01-02:/a", "first_seen": "2024-01-02T03:04:05+00:00",'
        ' "digest": "d"},\n'
        ' "b.md": {"digest": "e", "extra": 1, "first_seen": "2024-01-03T00:00:00+01:00",'
        ' "id": "tag:x,2024-01-02:/b"}\n'
        '}, "published": [], "version": 1}'
    )
    (tmp_path / STATE_FILE).write_text(body, encoding="utf-8")
    state, problems = read_state(tmp_path)
    assert problems == []
    assert state.posts == {
        "a.md": Remembered("tag:x,2024-01-02:/a", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "d"),
        "b.md": Remembered("tag:x,2024-01-02:/b", datetime(2024, 1, 2, 23, 0, tzinfo=UTC), "e"),
    }
    (tmp_path / STATE_FILE).write_text(body.replace('"digest": "e", ', ""), encoding="utf-8")
    assert [p.code for p in read_state(tmp_path)[1]] == ["state-corrupt"]
