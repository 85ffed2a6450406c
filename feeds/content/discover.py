"""Walk the content folder: which files are posts, in a stable order."""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import NamedTuple

from feeds.exceptions import ContentFolderError
from feeds.model import Problem

#: suffixes of post files; everything else (images, PDFs…) is an asset and ignored
POST_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm"})
#: suffixes of posts other tools read and feeds does not: such a file gets a warning, not
#: silence (a blog moved over would lose them without a word)
UNREAD_FORMATS = {
    ".rst": "reStructuredText",
    ".adoc": "AsciiDoc",
    ".asciidoc": "AsciiDoc",
    ".org": "Org",
    ".textile": "Textile",
    ".mkd": "Markdown under another suffix",
    ".mkdn": "Markdown under another suffix",
    ".mdown": "Markdown under another suffix",
    ".mkdown": "Markdown under another suffix",
}


class FoundFile(NamedTuple):
    """A post file as listed (a named tuple: a big site lists a hundred thousand,
    and a frozen dataclass takes seven times as long to make)."""

    #: path relative to the content folder, with ``/`` separators (interned: the
    #: state and the cache name the post by the same string)
    path: str
    size: int
    #: modification time, nanoseconds since the epoch
    mtime_ns: int


#: folders nested deeper than this below the content folder are not listed (and a path
#: that long is no site's): walking them would exhaust Python's recursion
MAX_FOLDER_DEPTH = 64
#: how a post file is opened: never waiting on a FIFO a writer would have to open, and
#: never through a link that was not there when the folder was listed
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
#: how a folder is opened to be listed: never through a link
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC


def read_post_file(root: str, rel: str, max_bytes: int) -> bytes:
    """The bytes of the post file ``rel`` under ``root`` (the content folder's real path,
    ``os.path.realpath``), read as safely as the folder was listed, although it may have
    changed since: a link must still lead inside the folder, the file must be a regular
    file (a FIFO put in its place would hold the run, and its lock, for good) and no
    larger than ``max_bytes``. OSError otherwise, with a ``strerror`` that says why."""
    name = f"{root}/{rel}"
    try:
        fd = os.open(name, _OPEN_FLAGS)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        # A link (discover allowed it): followed only to a file inside the folder.
        target = os.path.realpath(name)
        if not target.startswith(root + os.sep):
            raise OSError(errno.EACCES, "a link out of the content folder") from None
        fd = os.open(target, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        # Read whole at once, with no file object (a third of what Path.read_bytes
        # costs), in a buffer of the file's size: one of the limit's would be 10 MB a post.
        data = os.read(fd, min(st.st_size, max_bytes) + 1)
        if len(data) > st.st_size:  # it grew since: the rest, up to the limit
            data += os.read(fd, max_bytes + 1 - len(data))
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"over the limit of {max_bytes:,} bytes (max_post_bytes)")
    return data


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _bad_name(name: str) -> str | None:
    """Why a file or folder name cannot name a post, or None: it must be UTF-8 (the
    state, the cache and every message are), and free of control characters (a line
    break would forge lines in the run's report)."""
    if name.isprintable():  # nearly every name: no control character, no surrogate
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not UTF-8"
    if _CONTROL.search(name):
        return "its name holds a control character"
    return None


def _shown(rel: str) -> str:
    """A path as a message can show it, whatever bytes its name holds."""
    text = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if ord(c) >= 32 and ord(c) != 127 else f"\\x{ord(c):02x}" for c in text)


def is_post_name(name: str) -> bool:
    """True when a file name looks like a post: not hidden, with a known suffix.

    Editors' leftovers never end in one: ``post.md~``, ``post.md.swp``, ``.bak``,
    ``.orig``, ``.tmp``, emacs' ``#post.md#``. Hugo's ``_index.md`` is no post either.
    """
    stem, _, suffix = name.rpartition(".")
    return (
        bool(stem)
        and stem[0] != "."
        and f".{suffix.lower()}" in POST_SUFFIXES
        # Hugo's ``_index.md`` describes a section's list page, not a post.
        and stem != "_index"
    )


def discover(
    content_dir: Path, max_bytes: int, share: tuple[int, int] = (0, 1)
) -> tuple[list[FoundFile], list[Problem]]:
    """Every post file under ``content_dir``, sorted by path, and problems with the others.

    Hidden files and folders are skipped. A linked file is read only when it points
    inside the content folder; linked folders are never followed (no loops, no twins).

    ``share`` (k, n) lists only the k-th of n runs of the folder's own entries, in name
    order, with all that lies below them: n processes can list a big site together.
    The n shares' files and problems, together, are those of the whole folder.

    Raises ContentFolderError when ``content_dir`` itself cannot be listed.
    """
    found: list[FoundFile] = []
    problems: list[Problem] = []
    root = content_dir.resolve()
    _list(root, root, max_bytes, found, problems, share=share)
    found.sort(key=itemgetter(0))  # by path
    problems.sort(key=lambda p: p.path or "")
    return found, problems


def _list(
    folder: Path,
    root: Path,
    max_bytes: int,
    found: list[FoundFile],
    problems: list[Problem],
    prefix: str = "",
    share: tuple[int, int] = (0, 1),
) -> None:
    """The post files below ``folder`` into ``found``, with their paths relative to
    ``root`` (``prefix`` + name), and the problems with the other files into
    ``problems``, as ``discover`` lists them; one folder's entries held at a time (all
    of a big site's at once weigh 30 MB); of ``folder``'s own entries, only the
    ``share``. One loop does it all: it runs for each of a big site's files."""
    k, n = share
    try:
        # Listed through its descriptor, each file's stat looks up its name alone, not
        # every folder of its path again: a big site has one a file. Never through a link
        # (a folder a link took the place of since its parent was listed).
        fd = os.open(folder, _FOLDER_FLAGS)
    except OSError as e:
        _unlisted(folder, prefix, problems, e)
        return
    try:
        try:
            entries = sorted(os.scandir(fd), key=attrgetter("name"))
        except OSError as e:
            _unlisted(folder, prefix, problems, e)
            return
        entries = entries[k * len(entries) // n : (k + 1) * len(entries) // n]
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = prefix + name
            if not name.isprintable() and (why := _bad_name(name)) is not None:
                if entry.is_dir(follow_symlinks=False) or is_post_name(_shown(name)):
                    problems.append(Problem("error", "bad-name", f"skipped: {why}", _shown(rel)))
                continue
            if entry.is_symlink():
                # Linked folders would walk posts twice or loop; linked files may not
                # leave the site.
                try:
                    target = (folder / name).resolve(strict=True)
                except (OSError, RuntimeError):
                    # A link to nothing, or a loop of links (RuntimeError before Python 3.13).
                    problems.append(Problem("warning", "symlink", "broken or looping link", rel))
                    continue
                if target.is_dir():
                    problems.append(
                        Problem("warning", "symlink", "linked folder not followed", rel)
                    )
                    continue
                if not target.is_relative_to(root):
                    problems.append(
                        Problem(
                            "warning", "symlink", "link out of the content folder not followed", rel
                        )
                    )
                    continue
            elif entry.is_dir(follow_symlinks=False):
                if rel.count("/") >= MAX_FOLDER_DEPTH:
                    message = f"folder nested over {MAX_FOLDER_DEPTH} deep: not listed"
                    problems.append(Problem("error", "too-deep", message, rel))
                    continue
                _list(folder / name, root, max_bytes, found, problems, rel + "/")
                continue
            if not is_post_name(name):
                suffix = "." + name.rpartition(".")[2].lower()
                if suffix in UNREAD_FORMATS:
                    message = (
                        f"not read: {UNREAD_FORMATS[suffix]} ({suffix}) is not a post format "
                        "feeds reads (.md, .markdown, .txt, .html, .htm)"
                    )
                    problems.append(Problem("warning", "unread-format", message, rel))
                continue
            try:
                st = entry.stat()  # follows a link; checked above where it points
            except OSError as e:
                problems.append(Problem("error", "unreadable", f"cannot read: {e.strerror}", rel))
                continue
            if not stat.S_ISREG(st.st_mode):
                # A FIFO, a socket or a device under a post's name: never read (a FIFO would
                # wait for a writer), but named.
                message = "not read: not a regular file (a FIFO, a socket or a device)"
                problems.append(Problem("warning", "not-a-file", message, rel))
                continue
            if st.st_size > max_bytes:
                problems.append(
                    Problem(
                        "error",
                        "too-large",
                        f"{st.st_size:,} bytes, over the limit of {max_bytes:,} (max_post_bytes)",
                        rel,
                    )
                )
                continue
            # tuple.__new__ makes it in C; FoundFile(...) would run Python code per file.
            found.append(tuple.__new__(FoundFile, (sys.intern(rel), st.st_size, st.st_mtime_ns)))
    finally:
        os.close(fd)


def _unlisted(folder: Path, prefix: str, problems: list[Problem], e: OSError) -> None:
    """A folder that cannot be listed: an error for a folder in the content folder; the
    content folder itself, ContentFolderError."""
    # A folder is opened without following a link: one there now took the folder's place.
    swapped = e.errno in (errno.ELOOP, errno.ENOTDIR) and folder.is_symlink()
    why = "a link took its place (linked folders are not followed)" if swapped else e.strerror
    if not prefix:
        # Every post would look deleted: their feeds emptied, and removed.
        raise ContentFolderError(
            f"cannot list the content folder {folder} (content_dir): {why}"
        ) from e
    rel = prefix.rstrip("/")
    problems.append(Problem("error", "unreadable", f"cannot list: {why}", rel))
