"""Which files are posts: hidden files, leftovers, assets, links and size limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feeds.content.discover import MAX_FOLDER_DEPTH, discover, read_post_file
from feeds.exceptions import ContentFolderError


def touch(root: Path, rel: str, data: bytes = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_posts_are_found_in_path_order_and_the_rest_ignored(tmp_path: Path) -> None:
    for rel in [
        "b.md", "a/z.markdown", "a/y.txt", "page.HTML", "old.htm",  # posts
        ".hidden.md", ".git/config.md", "drafts/.secret/x.md",  # hidden
        "notes.md~", ".notes.md.swp", "x.md.tmp", "#autosave.md#", "y.md.bak",  # leftovers
        "images/photo.jpg", "doc.pdf", "README",  # assets
    ]:  # fmt: skip
        touch(tmp_path, rel)
    found, problems = discover(tmp_path, 1000)
    assert [f.path for f in found] == ["a/y.txt", "a/z.markdown", "b.md", "old.htm", "page.HTML"]
    assert problems == []
    assert found[2].size == 1


def test_links_out_of_the_folder_and_linked_folders_are_not_followed(tmp_path: Path) -> None:
    content, outside = tmp_path / "content", tmp_path / "outside"
    touch(outside, "secret.md")
    touch(content, "real.md")
    (content / "alias.md").symlink_to(content / "real.md")
    (content / "escape.md").symlink_to(outside / "secret.md")
    (content / "linked").symlink_to(outside, target_is_directory=True)
    (content / "loop").symlink_to(content, target_is_directory=True)
    found, problems = discover(content, 1000)
    assert [f.path for f in found] == ["alias.md", "real.md"]
    assert sorted((p.path, p.code) for p in problems) == [
        ("escape.md", "symlink"),
        ("linked", "symlink"),
        ("loop", "symlink"),
    ]


def test_a_post_over_the_size_limit_is_skipped_with_a_message(tmp_path: Path) -> None:
    touch(tmp_path, "big.md", b"x" * 101)
    touch(tmp_path, "fits.md", b"x" * 100)
    found, problems = discover(tmp_path, 100)
    assert [f.path for f in found] == ["fits.md"]
    (problem,) = problems
    assert (problem.path, problem.code, problem.level) == ("big.md", "too-large", "error")
    assert "101 bytes" in problem.message and "max_post_bytes" in problem.message


def test_an_unreadable_folder_is_reported(tmp_path: Path) -> None:
    touch(tmp_path, "ok.md")
    locked = tmp_path / "locked"
    locked.mkdir()
    touch(locked, "x.md")
    locked.chmod(0)
    try:
        found, problems = discover(tmp_path, 100)
    finally:
        locked.chmod(0o755)
    if os.geteuid() == 0:
        # root reads any folder: the post is simply found.
        assert [f.path for f in found] == ["locked/x.md", "ok.md"]
    else:
        assert [f.path for f in found] == ["ok.md"]
        assert [(p.path, p.code) for p in problems] == [("locked", "unreadable")]


def mixed_folder(content: Path) -> None:
    """Posts at the top and below, hidden ones, assets, a link in and one out, a post
    over the limit, and a top-level name that is a file's and a folder's prefix."""
    for rel in [
        "a.md", "a/x.md", "a.b/y.md", "b.md", "c/d/e.md", "c/f.txt", "z.html",
        ".hidden.md", "c/.h/x.md", "img/p.jpg", "d.md~",
    ]:  # fmt: skip
        touch(content, rel)
    touch(content, "m/big.md", b"x" * 200)
    touch(content.parent / "outside", "s.md")
    (content / "alias.md").symlink_to(content / "b.md")
    (content / "out.md").symlink_to(content.parent / "outside" / "s.md")


def test_shares_of_the_folder_together_are_the_whole(tmp_path: Path) -> None:
    """n processes may each list a share (``runs.list_posts`` uses two): whatever n,
    the shares' files and problems, put together, are those of the whole folder."""
    content = tmp_path / "content"
    mixed_folder(content)
    whole = discover(content, 100)
    assert [f.path for f in whole[0]] == [
        "a.b/y.md", "a.md", "a/x.md", "alias.md", "b.md", "c/d/e.md", "c/f.txt", "z.html",
    ]  # fmt: skip
    assert sorted(p.code for p in whole[1]) == ["symlink", "too-large"]
    for n in (1, 2, 3, 5, 40):
        shares = [discover(content, 100, (k, n)) for k in range(n)]
        found = sorted((f for share in shares for f in share[0]), key=lambda f: f.path)
        problems = sorted((p for share in shares for p in share[1]), key=lambda p: p.path or "")
        assert (found, problems) == whole, n


@pytest.mark.parametrize("share", [(0, 1), (0, 2), (1, 2)])
def test_a_content_folder_that_cannot_be_listed_is_an_error_for_every_share(
    tmp_path: Path, share: tuple[int, int]
) -> None:
    """Missing, or a file: no share may take it for a folder without posts (every post
    would look deleted)."""
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    for folder in (tmp_path / "nowhere", tmp_path / "a-file"):
        expected = f"cannot list the content folder {folder.resolve()}"
        with pytest.raises(ContentFolderError, match=expected):
            discover(folder, 100, share)


def test_names_no_message_can_show_safely_are_skipped_with_an_error(tmp_path: Path) -> None:
    """A name that is not UTF-8 crashed every run; one with a line break forged a line
    of the report. Both are skipped with an error, their names shown escaped."""
    touch(tmp_path, "good.md")
    (tmp_path / os.fsdecode(b"bad\xff.md")).write_bytes(b"x")
    (tmp_path / "evil\nforged.md").write_bytes(b"x")
    (tmp_path / os.fsdecode(b"folder\xfe")).mkdir()
    (tmp_path / "picture\n.png").write_bytes(b"x")  # not a post: ignored
    found, problems = discover(tmp_path, 1000)
    assert [f.path for f in found] == ["good.md"]
    assert sorted((p.code, p.path) for p in problems) == [
        ("bad-name", "bad\\xff.md"),
        ("bad-name", "evil\\x0aforged.md"),
        ("bad-name", "folder\\xfe"),
    ]
    assert all(p.level == "error" for p in problems)


def test_folders_nested_too_deep_are_reported_not_walked(tmp_path: Path) -> None:
    """A thousand nested folders exhausted Python's recursion: a traceback, no feeds."""
    touch(tmp_path, "good.md")
    deep = tmp_path.joinpath(*["d"] * (MAX_FOLDER_DEPTH + 5))
    deep.mkdir(parents=True)
    (deep / "deep.md").write_bytes(b"x")
    touch(tmp_path, "/".join(["d"] * 3) + "/shallow.md")
    found, problems = discover(tmp_path, 1000)
    assert [f.path for f in found] == ["d/d/d/shallow.md", "good.md"]
    assert [(p.code, p.path) for p in problems] == [
        ("too-deep", "/".join(["d"] * (MAX_FOLDER_DEPTH + 1)))
    ]


def test_a_post_is_read_only_if_it_still_is_what_the_listing_saw(tmp_path: Path) -> None:
    """Between the listing and the reading, a post may become a FIFO (the run would wait
    for a writer for good, holding its lock), a link out of the folder, or larger."""
    root = str(tmp_path.resolve())
    touch(tmp_path, "post.md", b"hello")
    assert read_post_file(root, "post.md", 100) == b"hello"
    os.mkfifo(tmp_path / "fifo.md")
    with pytest.raises(OSError, match="not a regular file"):
        read_post_file(root, "fifo.md", 100)
    outside = tmp_path.parent / f"{tmp_path.name}-secret.md"
    outside.write_bytes(b"secret")
    (tmp_path / "leak.md").symlink_to(outside)
    with pytest.raises(OSError, match="a link out of the content folder"):
        read_post_file(root, "leak.md", 100)
    (tmp_path / "twin.md").symlink_to(tmp_path / "post.md")
    assert read_post_file(root, "twin.md", 100) == b"hello"
    with pytest.raises(OSError, match="over the limit of 4 bytes"):
        read_post_file(root, "post.md", 4)


def test_a_hugo_section_index_is_not_a_post(tmp_path: Path) -> None:
    """``_index.md`` holds a Hugo section's list page: a site moved over published it
    as a post titled as the section."""
    touch(tmp_path, "posts/_index.md")
    touch(tmp_path, "_index.md")
    touch(tmp_path, "posts/bundle/index.md")
    touch(tmp_path, "posts/_index-notes.md")
    found, problems = discover(tmp_path, 1000)
    assert [f.path for f in found] == ["posts/_index-notes.md", "posts/bundle/index.md"]
    assert problems == []


def test_posts_in_formats_feeds_does_not_read_are_named_not_dropped(tmp_path: Path) -> None:
    """A blog moved over from Pelican or Jekyll may hold .rst or .mkd posts: each gets a
    warning rather than silence; images and other files are still ignored."""
    touch(tmp_path, "a.md")
    touch(tmp_path, "python/third.rst")
    touch(tmp_path, "_posts/2023-04-03-old.mkd")
    touch(tmp_path, "images/cover.jpg")
    found, problems = discover(tmp_path, 1000)
    assert [f.path for f in found] == ["a.md"]
    assert [(p.level, p.code, p.path) for p in problems] == [
        ("warning", "unread-format", "_posts/2023-04-03-old.mkd"),
        ("warning", "unread-format", "python/third.rst"),
    ]
    assert problems[1].message.startswith("not read: reStructuredText (.rst) is not a post")


def test_a_fifo_under_a_post_s_name_is_named_not_read(tmp_path: Path) -> None:
    touch(tmp_path, "a.md")
    os.mkfifo(tmp_path / "pipe.md")
    found, problems = discover(tmp_path, 1000)
    assert [f.path for f in found] == ["a.md"]
    assert [(p.level, p.code, p.path) for p in problems] == [("warning", "not-a-file", "pipe.md")]


def test_a_folder_a_link_took_the_place_of_is_not_listed_through_it(tmp_path: Path) -> None:
    """A folder is listed through its own descriptor, opened without following a link:
    one replaced by a link once its parent was listed (here, listed as if it had been)
    is reported, and what the link leads to is not listed."""
    from feeds.content import discover as module

    content, outside = tmp_path / "content", tmp_path / "outside"
    touch(outside, "secret.md")
    touch(content, "real.md")
    (content / "swapped").symlink_to(outside)
    found: list[module.FoundFile] = []
    problems: list[module.Problem] = []
    module._list(content / "swapped", content, 1000, found, problems, "swapped/")
    assert found == []
    assert [(p.code, p.path) for p in problems] == [("unreadable", "swapped")]
    assert problems[0].message == (
        "cannot list: a link took its place (linked folders are not followed)"
    )
