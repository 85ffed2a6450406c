"""Work spread over the machine's cores, in worker processes.

A run reads thousands of post files and re-parses hundreds of feed entries, and
both are pure Python: threads would share one core. Worker processes are forked
from this one when it runs no other thread (``feeds build``), and started from a
fork server otherwise (``feeds serve`` has the scheduler's and the server's
threads, and forking a process with threads can deadlock). Where processes cannot
start at all (a sandbox), the work is done here, one piece after another.

The process machinery is imported only when worker processes start: a run that
makes a few feeds (a post edited) does without it.

A run also starts by doing two things at once (``alongside``): a forked child lists
the content folder while this process loads the libraries that make feeds; and ends
so (``in_background``): a forked child writes the cache while this process publishes.
In between, a first run has a forked child render posts while it resolves them all
(``ahead``), and joins in once done.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

Piece = TypeVar("Piece")
Value = TypeVar("Value")
Result = TypeVar("Result")

#: never more worker processes than this, however many cores there are
MAX_WORKERS = 8


class Waiting(Protocol):
    """What ``in_background`` returns: waits for its work (``here``: doing it, if need be)."""

    def __call__(self, *, here: bool = True) -> None: ...


#: file descriptors a forked child must close at once: the run's lock (``flock`` belongs
#: to the open file, which a child shares; a child orphaned by a killed run would hold
#: the lock, and every later run would wait for it in vain)
CLOSE_IN_CHILDREN: set[int] = set()


def core_count() -> int:
    """The cores this process may run on."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    return max(1, min(count, MAX_WORKERS))


def _may_fork() -> bool:
    """Whether this process may fork: a process with other threads running may not (a
    lock one of them holds stays locked in the child for good)."""
    return threading.active_count() == 1 and hasattr(os, "fork")


#: whether worker processes have been started from a fork server here: its socket lies in
#: a temporary folder that only the interpreter's usual exit removes
_FORK_SERVER: list[bool] = []


def fork_server_used() -> bool:
    """Whether this process started a fork server (then it must not end by ``os._exit``)."""
    return bool(_FORK_SERVER)


def _context() -> BaseContext:
    import multiprocessing

    if _may_fork():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["feeds.pipeline"])
    _FORK_SERVER[:] = [True]
    return context


def on_every_core(
    work: Callable[[Piece], Result],
    pieces: Sequence[Piece],
    done: Callable[[int], None] = lambda n: None,
    *,
    first_here: bool = False,
) -> list[Result]:
    """``[work(p) for p in pieces]``, the pieces shared among worker processes.

    ``work`` must be a module-level function, and pieces and results picklable.
    ``done(n)`` is called here as each piece is finished (``n`` of them so far).
    With one core or one piece, everything happens in this process. With
    ``first_here``, this process works on the first piece while one worker fewer
    takes the others, when it may fork them: a worker forked from a big process
    copies part of its memory. That suits pieces of one size a core, whose results
    come back at the end. A process with other threads (``feeds serve``) leaves every
    piece to workers, which start from a fork server: its threads keep the core.
    """
    workers = min(core_count(), len(pieces))
    if workers < 2:
        return _here(work, pieces, done)
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    forked = _may_fork()
    here = 1 if first_here and forked else 0
    try:
        with ProcessPoolExecutor(
            workers - here,
            mp_context=_context(),
            initializer=_child_start,
            initargs=(os.getpid() if forked else None,),
        ) as pool:
            futures = [pool.submit(work, piece) for piece in pieces[here:]]
            results = _here(work, pieces[:here], done)
            for n, future in enumerate(futures, here + 1):
                results.append(future.result())
                done(n)
            return results
    except (BrokenProcessPool, OSError):
        # No worker processes here (a sandbox, a __main__ that cannot be imported).
        return _here(work, pieces, done)


class Ahead(Generic[Result]):
    """Pieces of work begun by a forked child while this process goes on with its own
    (``ahead``)."""

    def __init__(
        self, work: Callable[[Piece], Result], pieces: Sequence[Piece], pid: int,
        tickets: int, answers: int,
    ) -> None:  # fmt: skip
        self._work: Callable[[Any], Result] = work
        self._pieces: Sequence[Any] = pieces
        self._pid: int | None = pid
        self._tickets = tickets
        self._answers = answers

    def results(self) -> list[Result]:
        """``[work(p) for p in pieces]``: this process takes the pieces the child has not
        taken, one at a time as the child does, then waits for the child's. Call it
        once (or ``stop``)."""
        done: dict[int, Result] = {}
        try:
            while ticket := os.read(self._tickets, 1):
                done[ticket[0]] = self._work(self._pieces[ticket[0]])
            with open(self._answers, "rb", closefd=False) as pipe:
                data = pipe.read()
        except BaseException:
            self.stop()
            raise
        status = self._end(kill=False)
        if status == 0 and data:
            done.update(pickle.loads(data))
        # Those of a child that failed are done here.
        return [done[n] if n in done else self._work(p) for n, p in enumerate(self._pieces)]

    def stop(self) -> None:
        """Give up the pieces: the child is killed (this process is ending otherwise:
        interrupted, or failed). Nothing happens once the results are in."""
        self._end(kill=True)

    def _end(self, *, kill: bool) -> int | None:
        """The child's exit status, once it has ended (killed first with ``kill``)."""
        if self._pid is None:
            return None
        pid, self._pid = self._pid, None
        os.close(self._tickets)
        os.close(self._answers)
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return os.waitpid(pid, 0)[1]


def ahead(work: Callable[[Piece], Result], pieces: Sequence[Piece]) -> Ahead[Result] | None:
    """Begin ``[work(p) for p in pieces]`` in a child forked now, while this process goes
    on with other work; it takes its share of the pieces when it asks for the results
    (``Ahead.results``). None with one core, or where no child can be forked (threads
    are running, or the system has no fork): then nothing is begun.

    The child takes the pieces in order, one at a time, from a pipe holding a byte for
    each (at most 256): when this process joins in, it takes the next one as the child
    does, and the two end at most a piece apart. The child inherits the pieces; the
    results come back pickled once it finds none left. ``work`` must write nothing: a
    child is killed when the run ends otherwise.
    """
    if core_count() < 2 or not pieces or len(pieces) > 256:
        return None
    tickets, filling = os.pipe()
    answers, answering = os.pipe()
    os.write(filling, bytes(range(len(pieces))))  # within a pipe's buffer
    os.close(filling)

    def child() -> None:
        os.close(answers)
        done = {}
        while ticket := os.read(tickets, 1):
            done[ticket[0]] = work(pieces[ticket[0]])
        with open(answering, "wb") as pipe:  # noqa: PTH123
            pipe.write(pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL))

    pid = _forked(child)
    os.close(answering)
    if pid is None:
        os.close(tickets)
        os.close(answers)
        return None
    return Ahead(work, pieces, pid, tickets, answers)


def _child_start(parent: int | None) -> None:
    """In a forked child: drop the parent's lock, and die with the parent (a run killed
    by SIGKILL, or the OOM killer, leaves no worker behind, blocked on a pipe no one
    reads). ``parent`` is the pid of the process that forked it, or None for a worker
    started by a fork server (whose death it then shares)."""
    for fd in list(CLOSE_IN_CHILDREN):
        with contextlib.suppress(OSError):
            os.close(fd)
    CLOSE_IN_CHILDREN.clear()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL (Linux)
    except (OSError, AttributeError):
        pass  # not Linux: an orphan ends when it next writes to its closed pipe
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # the parent died before the signal was asked for


def _here(
    work: Callable[[Piece], Result], pieces: Sequence[Piece], done: Callable[[int], None]
) -> list[Result]:
    results = []
    for n, piece in enumerate(pieces, 1):
        results.append(work(piece))
        done(n)
    return results


def _forked(work: Callable[[], None]) -> int | None:
    """The pid of a child forked to do ``work()`` and exit (status 0 when it returned, 1
    when it raised); None where no child can be forked (threads are running, the system
    has no fork, or no process is left to fork)."""
    if not _may_fork():
        return None
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: whatever happens, it never returns into the caller's code
        code = 1
        try:
            _child_start(parent)
            work()
            code = 0
        finally:
            os._exit(code)
    return pid


def alongside(work: Callable[[], Value], meanwhile: Callable[[Callable[[], bool]], None]) -> Value:
    """``work()``, done in a child forked from this process while ``meanwhile(done)``
    runs here; ``done()`` tells whether the child has finished.

    The child hands its result back pickled through a pipe. Where no child can be
    forked (threads are running, or the system has no fork), or the child fails,
    ``work()`` is done here once ``meanwhile`` has run: the result is the same, and an
    exception it raises is raised here.
    """
    readable, writable = os.pipe()

    def hand_back() -> None:
        os.close(readable)
        data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        with open(writable, "wb") as pipe:  # noqa: PTH123
            pipe.write(data)

    pid = _forked(hand_back)
    if pid is None:
        os.close(readable)
        os.close(writable)
        meanwhile(lambda: True)
        return work()
    os.close(writable)
    data = b""
    try:
        with open(readable, "rb") as pipe:  # noqa: PTH123
            # poll, not select: it takes any descriptor number; the child's end closing
            # counts as done too.
            child = select.poll()
            child.register(readable, select.POLLIN)
            meanwhile(lambda: bool(child.poll(0)))
            data = pipe.read()
    finally:
        _, status = os.waitpid(pid, 0)
    if status == 0 and data:
        result: Value = pickle.loads(data)
        return result
    return work()


def in_background(work: Callable[[], None], *, fork: bool = True) -> Waiting:
    """Start ``work()`` in a child forked from this process; the function returned waits
    for it to end.

    Without ``fork``, or where no child can be forked (threads are running, or the
    system has no fork), the function returned does ``work()`` itself, as it does when
    the child failed: then an exception ``work()`` raises is raised there. Called with
    ``here=False`` (a run that is ending otherwise: interrupted, or failed), it only
    waits for the child. It does so once: called again, it returns at once. Call it
    whatever happens meanwhile: the child dies with this process.
    """
    pid = _forked(work) if fork else None
    pending = [True]

    def wait(*, here: bool = True) -> None:
        if not pending:
            return
        pending.clear()
        if pid is not None:
            _, status = os.waitpid(pid, 0)
            if status == 0:
                return
        if here:
            work()

    return wait
