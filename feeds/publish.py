"""Putting files on disk safely: atomic write-if-changed, the run lock, the state file."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import posixpath
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from feeds.cores import CLOSE_IN_CHILDREN
from feeds.exceptions import LockError, PublishError
from feeds.model import Problem
from feeds.state import State, dump_state, load_state

STATE_FILE = "state.json"
LOCK_FILE = "lock"
#: seconds a run waiting for the lock waits on once its service is told to stop
STOP_LOCK_WAIT = 5.0
#: a temporary file of ``_stage`` (mkstemp adds eight characters)
_LEFTOVER = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")


@dataclass(frozen=True)
class Published:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class Staged:
    """A file made early in a run and written in full beside its target (``stage``), to
    be renamed into place with the others by ``publish_files``."""

    #: the temporary file; None when the target already holds the same bytes
    tmp: Path | None
    #: sha256 (hex) of its bytes
    digest: str


@contextlib.contextmanager
def run_lock(
    state_dir: Path,
    wait: float,
    waiting: Callable[[], None] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> Iterator[None]:
    """Hold the lock in ``state_dir`` for one run, waiting up to ``wait`` seconds for it;
    ``waiting()`` is called once if another run holds it (to say why nothing happens).
    Once ``stopping()`` is true (a service told to stop) it waits ``STOP_LOCK_WAIT``
    seconds more at most: the run publishes if the other ends by then, and a stop is
    never held up long.

    flock is released by the kernel when the process dies, so a killed run never
    leaves a stale lock behind: the worker processes it forks close their copy of the
    lock at once, and die with it (``feeds.cores``).
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        if state_dir.exists() and not state_dir.is_dir():
            raise PublishError(f"{state_dir} is a file, not a folder (state_dir)") from e
        raise PublishError(f"cannot create the lock in {state_dir}: {e.strerror}") from e
    try:
        deadline = time.monotonic() + wait
        stopped = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise PublishError(f"cannot lock {state_dir}: {e.strerror}") from e
                if time.monotonic() >= deadline:
                    if stopped:
                        raise LockError(
                            f"stopped while another run held the lock in {state_dir}"
                        ) from e
                    raise LockError(
                        f"another run holds the lock in {state_dir} (waited {wait:g}s)"
                    ) from e
                if not stopped and stopping is not None and stopping():
                    deadline = min(deadline, time.monotonic() + STOP_LOCK_WAIT)
                    stopped = True
                if waiting is not None:
                    waiting()
                    waiting = None
                time.sleep(0.1)
        CLOSE_IN_CHILDREN.add(fd)
        _sweep(state_dir)
        try:
            yield
        finally:
            # What a process of this run left, killed as it wrote (the cache's writer), is
            # removed while the lock is still held: its processes have ended.
            _sweep(state_dir)
    finally:
        CLOSE_IN_CHILDREN.discard(fd)
        os.close(fd)


def _sweep(state_dir: Path) -> None:
    """Remove the temporary files a killed run left in ``state_dir`` (under the lock, no
    run is writing there): a killed run's index alone may weigh megabytes."""
    with contextlib.suppress(OSError), os.scandir(state_dir) as listing:
        for entry in listing:
            if _LEFTOVER.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)  # noqa: PTH108


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` atomically; return False (and touch nothing) when the
    file already holds exactly these bytes, so its mtime and ETag stay."""
    tmp = _stage(path, data)
    if tmp is None:
        return False
    _commit(tmp, path)
    _fsync_dir(path.parent)
    return True


def _stage(path: Path, data: bytes) -> Path | None:
    """Write ``data`` in full (fsynced) to a temporary file beside ``path`` and return it;
    None when ``path`` already holds exactly these bytes."""
    try:
        if path.read_bytes() == data:
            return None
    except (FileNotFoundError, NotADirectoryError):
        pass  # nothing there yet; making the folder below reports a real obstacle
    except IsADirectoryError as e:
        raise PublishError(f"{path} is a folder, expected a file") from e
    except OSError as e:
        raise PublishError(f"cannot read {path}: {e.strerror}") from e
    return _write_temporary(path, (data,))


def write_stream(
    path: Path, chunks: Iterable[bytes], ready: Callable[[], None] = lambda: None
) -> None:
    """Replace ``path`` atomically with the bytes of ``chunks``, written as they come, so
    that a large file (the cache of a big site) is never whole in memory.

    ``ready()`` is called once the bytes are on disk beside ``path``, before they replace
    it: what it waits for is done before the file is there. Should it raise, ``path``
    stays as it was."""
    tmp = _write_temporary(path, chunks)
    try:
        ready()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _commit(tmp, path)
    _fsync_dir(path.parent)


def _write_temporary(path: Path, chunks: Iterable[bytes]) -> Path:
    """Write ``chunks`` in full (fsynced) to a temporary file beside ``path``; return it."""
    try:
        _make_folders(path.parent)
        fd, tmp = _create_temporary(path)
    except OSError as e:
        raise PublishError(f"cannot write in {path.parent}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # whatever the umask: the server and others read it
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise PublishError(f"cannot write {path}: {e.strerror}") from e
    except BaseException:  # Ctrl-C: a file cut short is left to no one
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _make_folders(folder: Path) -> None:
    """``folder`` and its missing parents, each made readable and searchable by everyone
    whatever the umask, as the files in them are: the web server reading them runs as
    another user (under umask 077 a new tag's folder was 0700, its feeds 403)."""
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for made in reversed(missing):
        try:
            made.mkdir()
        except FileExistsError:
            if made.is_dir():
                continue  # made meanwhile
            raise  # a file in the way
        mode = stat.S_IMODE(made.stat().st_mode)
        if mode & 0o755 != 0o755:
            # Only when the umask hid bits: the kernel drops an inherited setgid bit on a
            # chmod by a user outside the folder's group.
            made.chmod(mode | 0o755)


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new file beside ``path``, ``.NAME.XXXXXXXX.tmp``, open for writing.

    Made here rather than by ``tempfile``, whose imports cost every run a few
    milliseconds: a random name, created only if it does not exist yet.
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{os.urandom(4).hex()}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def _commit(tmp: Path, path: Path) -> None:
    try:
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise PublishError(f"cannot write {path}: {e.strerror}") from e


def stage(output_dir: Path, rel: str, data: bytes) -> Staged:
    """Write a file of ``output_dir`` in full beside its target now, to be published
    later with the others (``publish_files``) or thrown away (``discard``): a run that
    makes thousands of files need not hold their bytes."""
    return Staged(_stage(output_dir / rel, data), hashlib.sha256(data).hexdigest())


def discard(output_dir: Path, staged: Mapping[str, Staged]) -> None:
    """Remove the temporary files of ``staged``, which will not be published."""
    for done in staged.values():
        if done.tmp is not None:
            done.tmp.unlink(missing_ok=True)
            _remove_empty_parents(done.tmp.parent, output_dir)


def publish_files(
    output_dir: Path,
    files: Mapping[str, bytes],
    previous: Iterable[str],
    keep: Iterable[str] = (),
    staged: Mapping[str, Staged] | None = None,
) -> Published:
    """Write every changed file under ``output_dir`` (``files``, and ``staged``, written
    beside their targets already), then remove files that the last run published and
    this one neither makes nor ``keep``s (only ours: others stay).

    All or nothing as far as the disk decides: every changed file is first written in
    full beside its target, and only then are they renamed into place, so a full disk or
    an unwritable folder replaces no file. Temporary files of a killed run are removed.
    """
    ready = {rel: done.tmp for rel, done in (staged or {}).items()}
    previous = [rel for rel in previous if _inside(rel)]  # the state is not trusted
    ours = {tmp for tmp in ready.values() if tmp is not None}
    _remove_leftovers(output_dir, {*files, *ready, *previous}, ours)
    to_commit: list[tuple[str, Path]] = []
    unchanged: list[str] = []
    try:
        for rel in sorted({*files, *ready}):
            tmp = ready[rel] if rel in ready else _stage(output_dir / rel, files[rel])
            if tmp is None:
                unchanged.append(rel)
            else:
                to_commit.append((rel, tmp))
    except BaseException:  # an obstacle, or Ctrl-C: nothing is published
        for tmp in {*(tmp for _, tmp in to_commit), *ours}:
            tmp.unlink(missing_ok=True)
            _remove_empty_parents(tmp.parent, output_dir)
        raise
    written: list[str] = []
    try:
        for rel, tmp in to_commit:
            _commit(tmp, output_dir / rel)
            written.append(rel)
    finally:
        for _, tmp in to_commit[len(written) + 1 :]:
            tmp.unlink(missing_ok=True)
    for folder in sorted({(output_dir / rel).parent for rel in written}):
        _fsync_dir(folder)
    removed: list[str] = []
    for rel in sorted(set(previous) - set(files) - set(ready) - set(keep)):
        target = output_dir / rel
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
            removed.append(rel)
        _remove_empty_parents(target.parent, output_dir)
    return Published(tuple(written), tuple(unchanged), tuple(removed))


def _inside(rel: str) -> bool:
    """True for a plain relative path that stays inside the folder it is joined to."""
    path = PurePosixPath(rel)
    return bool(rel) and not path.is_absolute() and ".." not in path.parts


def _remove_leftovers(output_dir: Path, names: Iterable[str], spare: set[Path]) -> None:
    """Remove what a killed run's ``_stage`` left beside our files (under the lock, no
    other run is writing them): ``.<name>.<random>.tmp``, never anything else, and never
    the ones of this run (``spare``)."""
    # OS paths: a site's archive has thousands of folders, and Path objects and
    # Path.glob cost some 25 µs a folder.
    by_folder: dict[str, set[str]] = {}
    for rel in names:
        joined = posixpath.normpath(posixpath.join(os.fspath(output_dir), rel))
        folder, _, name = joined.rpartition("/")
        by_folder.setdefault(folder, set()).add(name)
    spared = {os.fspath(tmp) for tmp in spare}
    for folder, own in by_folder.items():
        try:
            with os.scandir(folder) as listing:
                found = [e for e in listing if e.name[:1] == "." and e.name[-4:] == ".tmp"]
        except OSError:
            continue
        for entry in found:
            if (
                _LEFTOVER.fullmatch(entry.name)
                and entry.name[1:].rsplit(".", 2)[0] in own
                and entry.path not in spared
            ):
                with contextlib.suppress(OSError):
                    Path(entry.path).unlink()


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
            # Absolute: a problem's relative path is a post's, in the content folder.
            str(path.absolute()),
        )
        return State(), [problem]


def write_state(state_dir: Path, state: State) -> None:
    write_stream(state_dir / STATE_FILE, dump_state(state))


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
