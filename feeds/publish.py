"""Putting files on disk safely: atomic write-if-changed, the run lock, the state file."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from feeds.exceptions import LockError, PublishError
from feeds.model import Problem
from feeds.state import State, dump_state, load_state

STATE_FILE = "state.json"
LOCK_FILE = "lock"


@dataclass(frozen=True)
class Published:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]


@contextlib.contextmanager
def run_lock(state_dir: Path, wait: float) -> Iterator[None]:
    """Hold the lock in ``state_dir`` for one run, waiting up to ``wait`` seconds for it.

    flock is released by the kernel when the process dies, so a killed run never
    leaves a stale lock behind.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise PublishError(f"cannot create the lock in {state_dir}: {e.strerror}") from e
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise PublishError(f"cannot lock {state_dir}: {e.strerror}") from e
                if time.monotonic() >= deadline:
                    raise LockError(
                        f"another run holds the lock in {state_dir} (waited {wait:g}s)"
                    ) from e
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` atomically; return False (and touch nothing) when the
    file already holds exactly these bytes, so its mtime and ETag stay."""
    try:
        if path.read_bytes() == data:
            return False
    except (FileNotFoundError, NotADirectoryError):
        pass  # nothing there yet; making the folder below reports a real obstacle
    except IsADirectoryError as e:
        raise PublishError(f"{path} is a folder, expected a file") from e
    except OSError as e:
        raise PublishError(f"cannot read {path}: {e.strerror}") from e
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise PublishError(f"cannot write in {path.parent}: {e.strerror}") from e
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600; the server and others must read it
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise PublishError(f"cannot write {path}: {e.strerror}") from e
    _fsync_dir(path.parent)
    return True


def publish_files(
    output_dir: Path,
    files: Mapping[str, bytes],
    previous: Iterable[str],
    keep: Iterable[str] = (),
) -> Published:
    """Write every changed file under ``output_dir``, then remove files that the last run
    published and this one neither makes nor ``keep``s (only ours: others stay)."""
    written: list[str] = []
    unchanged: list[str] = []
    for rel in sorted(files):
        (written if write_atomic(output_dir / rel, files[rel]) else unchanged).append(rel)
    removed: list[str] = []
    for rel in sorted(set(previous) - set(files) - set(keep)):
        target = output_dir / rel
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
            removed.append(rel)
        _remove_empty_parents(target.parent, output_dir)
    return Published(tuple(written), tuple(unchanged), tuple(removed))


def read_state(state_dir: Path) -> tuple[State, list[Problem]]:
    """The remembered state; a missing one is empty, a corrupt one is reported and
    replaced by an empty one (it is never trusted)."""
    path = state_dir / STATE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return State(), []
    except OSError as e:
        raise PublishError(f"cannot read {path}: {e.strerror}") from e
    try:
        return load_state(data), []
    except ValueError as e:
        problem = Problem(
            "warning",
            "state-corrupt",
            f"ignored a damaged state file ({e}); remembered dates and ids start over",
            str(path),
        )
        return State(), [problem]


def write_state(state_dir: Path, state: State) -> None:
    write_atomic(state_dir / STATE_FILE, dump_state(state))


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_empty_parents(folder: Path, top: Path) -> None:
    while folder != top and folder.is_relative_to(top):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
