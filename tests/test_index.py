"""The index's comparison of a listing with the files it holds (``changed_files``)."""

from __future__ import annotations

import random

import pytest

from feeds import runs
from feeds.content.discover import FoundFile
from feeds.index import Index, Indexed, changed_files, file_line
from feeds.runs import Listing, listing_of

#: files in a piece, in these tests: a few files make a few pieces
PIECE = 3
#: files changed at this time or later are not settled (``runs.SETTLE_NS`` before the
#: indexed run listed them)
SETTLED = 1_000


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "LISTING_PIECE", PIECE)


def listed(files: list[tuple[str, int, int]]) -> Listing:
    return listing_of([FoundFile(*f) for f in sorted(files)], [], 0)


def index_of(listing: Listing, lines: list[str] | None = None) -> Index:
    """The index of a full run that read ``listing``, each file with the digest of its name."""
    files = lines or [file_line(f.path, f.size, f.mtime_ns, f"d-{f.path}") for f in listing.found]
    pieces = tuple(digest for digest, _ in listing.pieces)
    return Index("key", "state", 0, "", b"", {}, {}, files, (), b"", pieces)


def compare(index: Index, listing: Listing) -> object:
    return changed_files(index, listing.found, SETTLED, listing.pieces, PIECE)


FILES = [(f"{n:02d}.md", 100 + n, 10 * n) for n in range(10)]


def test_a_piece_as_the_index_has_it_is_not_compared_line_by_line() -> None:
    listing = listed(FILES)
    assert len(listing.pieces) == 4
    # Lines that a comparison would find damaged: the pieces alone say they match.
    damaged = [line.replace("[", "{", 1) for line in index_of(listing).files]
    assert compare(index_of(listing, damaged), listing) == ([], [])
    assert changed_files(index_of(listing, damaged), listing.found, SETTLED) is None


def test_a_file_changed_in_one_piece_is_found_with_how_the_index_read_it() -> None:
    index = index_of(listed(FILES))
    now = listed([*FILES[:4], ("04.md", 999, 40), *FILES[5:]])
    assert compare(index, now) == ([(FoundFile("04.md", 999, 40), Indexed(104, 40, "d-04.md"))], [])


def test_a_piece_changed_too_lately_to_tell_is_compared_line_by_line() -> None:
    files = [*FILES[:7], ("07.md", 107, SETTLED), *FILES[8:]]
    listing = listed(files)
    index = index_of(listing)
    # The same lines, but 07.md changed within the settling time: its bytes are read again.
    assert compare(index, listing) == (
        [(FoundFile("07.md", 107, SETTLED), Indexed(107, SETTLED, "d-07.md"))],
        [],
    )


def test_a_file_added_in_an_early_piece_moves_the_later_ones() -> None:
    index = index_of(listed(FILES))
    now = listed([*FILES, ("00a.md", 5, 1)])
    assert compare(index, now) == ([], [FoundFile("00a.md", 5, 1)])


def test_a_file_gone_is_none() -> None:
    index = index_of(listed(FILES))
    assert compare(index, listed(FILES[:3] + FILES[4:])) is None


def test_pieces_change_nothing_to_what_is_found() -> None:
    """Random listings edited at random: compared a piece at a time or a line at a time,
    the same files are found changed and added, or the index is refused alike."""
    rng = random.Random(4)
    for _ in range(400):
        before = [
            (f"{n:03d}.md", rng.randrange(50), rng.randrange(SETTLED))
            for n in range(rng.randrange(12))
        ]
        after = list(before)
        for _ in range(rng.randrange(4)):
            kind = rng.choice(["size", "time", "late", "add", "remove"])
            if kind == "add" or not after:
                after.append((f"{rng.randrange(1000):03d}x.md", 1, 1))
                continue
            n = rng.randrange(len(after))
            path, size, mtime = after[n]
            if kind == "remove":
                del after[n]
            else:
                after[n] = (
                    (path, size + 1, mtime)
                    if kind == "size"
                    else (path, size, SETTLED + (kind == "time"))
                )
        after = list(dict.fromkeys(after))
        if len({p for p, _, _ in after}) < len(after):
            continue  # two files of one name
        index, now = index_of(listed(before)), listed(after)
        assert compare(index, now) == changed_files(index, now.found, SETTLED), (before, after)
