"""Work spread over the machine's cores, in worker processes.

A run reads thousands of post files and re-parses hundreds of feed entries, and
both are pure Python: threads would share one core. Worker processes are forked
from this one when it runs no other thread (``feeds build``): they inherit the
work, take its pieces one at a time from a pipe, and send their results back
through pipes of their own, which this process waits on with no thread and no lock
(Ctrl-C ends it at once). Otherwise they start from a fork server, in a pool
(``feeds serve`` has the scheduler's and the server's threads, and forking a
process with threads can deadlock). Where processes cannot start at all (a
sandbox), the work is done here, one piece after another.

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
import struct
import threading
import time
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


#: how finely ``tapered`` cuts work as it ends: a piece is at most the ``TAPER * cores``-th
#: part of what is left
TAPER = 4


def tapered(total: int, cores: int, largest: int, smallest: int = 1) -> list[range]:
    """``range(total)`` cut in pieces for ``cores`` processes that take them in order, one
    at a time: pieces of ``largest`` while much is left, then ever smaller ones (the
    ``TAPER * cores``-th part of what is left, down to ``smallest``). The processes end
    closer together than equal pieces let them (at most the last, small, piece apart),
    for a few more pieces."""
    pieces = []
    start = 0
    while start < total:
        size = max(smallest, min(largest, -(-(total - start) // (TAPER * cores))), 1)
        pieces.append(range(start, min(total, start + size)))
        start += size
    return pieces


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
    here_too: bool = False,
) -> list[Result]:
    """``[work(p) for p in pieces]``, the pieces shared among worker processes.

    ``work`` must be a module-level function, and pieces and results picklable.
    ``done(n)`` is called here as each piece is finished (``n`` of them so far).
    With one core or one piece, everything happens in this process. With
    ``here_too``, this process takes pieces as forked children do, one at a time
    (``ahead``): that suits pieces whose results are worth sending back at the end.
    Otherwise a forked child a core takes them, and sends each result back as soon as
    it is done (``_streamed``): that suits many results, taken in as they come. A
    process with other threads (``feeds serve``) leaves every piece to a pool of
    workers, which start from a fork server: its threads keep the core.
    """
    workers = min(core_count(), len(pieces))
    if workers < 2:
        return _here(work, pieces, done)
    if here_too and (begun := ahead(work, pieces)) is not None:
        return begun.results(done)
    if not here_too and (streamed := _streamed(work, pieces, done)) is not None:
        return streamed
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    forked = _may_fork()
    try:
        with ProcessPoolExecutor(
            workers,
            mp_context=_context(),
            initializer=_child_start,
            initargs=(os.getpid() if forked else None,),
        ) as pool:
            futures = [pool.submit(work, piece) for piece in pieces]
            results = []
            for n, future in enumerate(futures, 1):
                results.append(future.result())
                done(n)
            return results
    except (BrokenProcessPool, OSError):
        # No worker processes here (a sandbox, a __main__ that cannot be imported).
        return _here(work, pieces, done)


class Ahead(Generic[Result]):
    """Pieces of work begun by forked children while this process goes on with its own
    (``ahead``)."""

    def __init__(
        self, work: Callable[[Piece], Result], pieces: Sequence[Piece],
        children: Sequence[tuple[int, int]], tickets: int, finished: int,
    ) -> None:  # fmt: skip
        self._work: Callable[[Any], Result] = work
        self._pieces: Sequence[Any] = pieces
        #: (pid, the read end of the pipe its results come through) of each child
        self._children = list(children)
        self._tickets = tickets
        self._finished = finished

    def results(self, done: Callable[[int], None] = lambda n: None) -> list[Result]:
        """``[work(p) for p in pieces]``: this process takes the pieces no child has
        taken, one at a time as the children do, then waits for theirs. ``done(n)`` is
        called as this process ends a piece (``n`` ended in all, children's included).
        Call it once (or ``stop``)."""
        results: dict[int, Result] = {}
        ended = 0
        try:
            while ticket := os.read(self._tickets, 1):
                results[ticket[0]] = self._work(self._pieces[ticket[0]])
                ended += 1 + self._ended_by_children()
                done(ended)
            answers = []
            for _, answer in self._children:
                with open(answer, "rb", closefd=False) as pipe:
                    answers.append(pipe.read())
        except BaseException:
            self.stop()
            raise
        for status, data in zip(self._end(kill=False), answers, strict=True):
            if status == 0 and data:
                results.update(pickle.loads(data))
        if ended < len(results):
            done(len(results))
        return _completed(self._work, self._pieces, results, done)

    def stop(self) -> None:
        """Give up the pieces: the children are interrupted (this process is ending
        otherwise). Nothing happens once the results are in."""
        self._end(kill=True)

    def _ended_by_children(self) -> int:
        try:
            return len(os.read(self._finished, 4096))
        except BlockingIOError:
            return 0

    def _end(self, *, kill: bool) -> list[int]:
        children, self._children = self._children, []
        if not children:
            return []
        os.close(self._tickets)
        os.close(self._finished)
        return _ended(children, kill=kill)


def ahead(work: Callable[[Piece], Result], pieces: Sequence[Piece]) -> Ahead[Result] | None:
    """Begin ``[work(p) for p in pieces]`` in children forked now, one core fewer than
    the machine has, while this process goes on with other work; it takes its share of
    the pieces when it asks for the results (``Ahead.results``). None with one core,
    more than 256 pieces, or where no child can be forked (threads are running, or the
    system has no fork): then nothing is begun.

    Each process takes the pieces in order, one at a time (``_tickets``): they end at
    most a piece apart. The children inherit the pieces (nothing is pickled to them);
    each child's results come back pickled once it finds no piece left.
    """
    count = min(core_count(), len(pieces) + 1) - 1
    if count < 1 or len(pieces) > MAX_TICKETS or not _may_fork():
        return None
    tickets = _tickets(len(pieces))
    finished, finishing = os.pipe()
    os.set_blocking(finished, False)

    def child(answering: int) -> None:
        os.close(finished)
        results = {}
        while ticket := os.read(tickets, 1):
            results[ticket[0]] = work(pieces[ticket[0]])
            os.write(finishing, b"+")
        with open(answering, "wb") as pipe:
            pipe.write(pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))

    children = _children(count, child)
    os.close(finishing)
    if not children:
        os.close(tickets)
        os.close(finished)
        return None
    return Ahead(work, pieces, children, tickets, finished)


def _streamed(
    work: Callable[[Piece], Result], pieces: Sequence[Piece], done: Callable[[int], None]
) -> list[Result] | None:
    """``[work(p) for p in pieces]`` by children forked now, one a core, each sending a
    result back as soon as its piece is done (this process takes them in as they come);
    None where no child can be forked. Nothing is pickled to the children."""
    if len(pieces) > MAX_TICKETS or not _may_fork():
        return None
    tickets = _tickets(len(pieces))

    def child(answering: int) -> None:
        with open(answering, "wb") as pipe:
            while ticket := os.read(tickets, 1):
                data = pickle.dumps(work(pieces[ticket[0]]), protocol=pickle.HIGHEST_PROTOCOL)
                pipe.write(_FRAME.pack(ticket[0], len(data)))
                pipe.write(data)
                pipe.flush()

    children = _children(min(core_count(), len(pieces)), child)
    os.close(tickets)
    if not children:
        return None
    results: dict[int, Result] = {}
    try:
        waiting = {answer: bytearray() for _, answer in children}
        poll = select.poll()  # poll, not select: it takes any descriptor number
        for answer in waiting:
            poll.register(answer, select.POLLIN)
        while waiting:
            for answer, _ in poll.poll():
                chunk = os.read(answer, 1 << 20)
                if not chunk:
                    poll.unregister(answer)
                    del waiting[answer]
                    continue
                buffer = waiting[answer]
                buffer += chunk
                while len(buffer) >= _FRAME.size:
                    n, size = _FRAME.unpack_from(buffer)
                    if len(buffer) < _FRAME.size + size:
                        break
                    results[n] = pickle.loads(buffer[_FRAME.size : _FRAME.size + size])
                    del buffer[: _FRAME.size + size]
                    done(len(results))
    except BaseException:
        _ended(children, kill=True)
        raise
    _ended(children, kill=False)
    return _completed(work, pieces, results, done)


#: the most pieces children take one at a time (``_tickets``: a byte each)
MAX_TICKETS = 256
#: a result sent back by a child (``_streamed``): its piece, its pickle's size
_FRAME = struct.Struct("<BQ")
#: how long an interrupted child may take to end before it is killed (one interrupted
#: as it starts misses the signal: Python clears those pending in a child)
STOP_WAIT = 1.0


def _tickets(count: int) -> int:
    """The read end of a pipe holding a byte for each of ``count`` pieces, in order, and
    closed for writing: processes that share it take the next piece by reading a byte,
    and none left when they read nothing."""
    tickets, filling = os.pipe()
    os.write(filling, bytes(range(count)))  # within a pipe's buffer
    os.close(filling)
    return tickets


def _children(count: int, body: Callable[[int], None]) -> list[tuple[int, int]]:
    """Up to ``count`` forked children, each running ``body(fd)`` with the write end of a
    pipe of its own: (pid, that pipe's read end) of each. Fewer where fewer can be
    forked."""
    children: list[tuple[int, int]] = []
    for _ in range(count):
        answers, answering = os.pipe()

        def child(answers: int = answers, answering: int = answering) -> None:
            for theirs in [answers, *(fd for _, fd in children)]:
                os.close(theirs)
            body(answering)

        pid = _forked(child)
        os.close(answering)
        if pid is None:
            os.close(answers)
            break
        children.append((pid, answers))
    return children


def _ended(children: Sequence[tuple[int, int]], *, kill: bool) -> list[int]:
    """The exit statuses of ``children`` (from ``_children``), once they have ended:
    interrupted first with ``kill``, as Ctrl-C would (their temporary files are removed),
    and killed if they have not ended after ``STOP_WAIT`` seconds."""
    for pid, answers in children:
        os.close(answers)
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
    return [_reaped(pid, STOP_WAIT if kill else None) for pid, _ in children]


def _reaped(pid: int, patience: float | None) -> int:
    """The exit status of child ``pid``, once it has ended; killed (SIGKILL) when it has
    not ended after ``patience`` seconds."""
    if patience is not None:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            ended, status = os.waitpid(pid, os.WNOHANG)
            if ended:
                return status
            time.sleep(0.01)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _completed(
    work: Callable[[Any], Result],
    pieces: Sequence[Any],
    results: dict[int, Result],
    done: Callable[[int], None],
) -> list[Result]:
    """Every piece's result, in order: those a child that failed left are done here."""
    for n, piece in enumerate(pieces):
        if n not in results:
            results[n] = work(piece)
            done(len(results))
    return [results[n] for n in range(len(pieces))]


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
