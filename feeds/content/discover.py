"""Walk the content folder: which files are posts, in a stable order."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from feeds.exceptions import ContentFolderError
from feeds.model import Problem

#: suffixes of post files; everything else (images, PDFs…) is an asset and ignored
POST_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm"})


class FoundFile(NamedTuple):
    """A post file as listed (a named tuple: a big site lists a hundred thousand,
    and a frozen dataclass takes seven times as long to make)."""

    #: path relative to the content folder, with ``/`` separators (interned: the
    #: state and the cache name the post by the same string)
    path: str
    size: int
    #: modification time, nanoseconds since the epoch
    mtime_ns: int


def is_post_name(name: str) -> bool:
    """True when a file name looks like a post: not hidden, with a known suffix.

    Editors' leftovers never end in one: ``post.md~``, ``post.md.swp``, ``.bak``,
    ``.orig``, ``.tmp``, emacs' ``#post.md#``.
    """
    stem, _, suffix = name.rpartition(".")
    return bool(stem) and stem[0] != "." and f".{suffix.lower()}" in POST_SUFFIXES


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
    for rel, entry in _walk(root, root, problems, share=share):
        if not is_post_name(entry.name):
            continue
        try:
            st = entry.stat()  # follows a link; _walk checked where it points
        except OSError as e:
            problems.append(Problem("error", "unreadable", f"cannot read: {e.strerror}", rel))
            continue
        if not stat.S_ISREG(st.st_mode):
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
        found.append(FoundFile(sys.intern(rel), st.st_size, st.st_mtime_ns))
    found.sort(key=lambda f: f.path)
    problems.sort(key=lambda p: p.path or "")
    return found, problems


def _walk(
    folder: Path,
    root: Path,
    problems: list[Problem],
    prefix: str = "",
    share: tuple[int, int] = (0, 1),
) -> Iterable[tuple[str, os.DirEntry[str]]]:
    """Every entry below ``folder`` with its path relative to ``root`` (``prefix`` + name),
    one folder's entries held at a time (all of a big site's at once weigh 30 MB);
    of ``folder``'s own entries, only the ``share`` (see ``discover``)."""
    k, n = share
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        if not prefix:
            # Every post would look deleted: their feeds emptied, and removed.
            raise ContentFolderError(
                f"cannot list the content folder {folder} (content_dir): {e.strerror}"
            ) from e
        rel = prefix.rstrip("/")
        problems.append(Problem("error", "unreadable", f"cannot list: {e.strerror}", rel))
        return
    entries = entries[k * len(entries) // n : (k + 1) * len(entries) // n]
    for entry in entries:
        if entry.name.startswith("."):
            continue
        rel = prefix + entry.name
        if entry.is_symlink():
            # Linked folders would walk posts twice or loop; linked files may not leave the site.
            try:
                target = Path(entry.path).resolve(strict=True)
            except (OSError, RuntimeError):
                # A link to nothing, or a loop of links (RuntimeError before Python 3.13).
                problems.append(Problem("warning", "symlink", "broken or looping link", rel))
                continue
            if target.is_dir():
                problems.append(Problem("warning", "symlink", "linked folder not followed", rel))
                continue
            if not target.is_relative_to(root):
                problems.append(
                    Problem(
                        "warning", "symlink", "link out of the content folder not followed", rel
                    )
                )
                continue
            yield rel, entry
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), root, problems, rel + "/")
        else:
            yield rel, entry
