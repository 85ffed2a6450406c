"""Incremental runs: reuse only what is proven unchanged, and give the same bytes."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feeds import pipeline, validate
from feeds.config import load_config
from feeds.pipeline import CACHE_FILE, regenerate
from feeds.readings import dump_readings, load_readings
from feeds.runs import RunResult, code_fingerprint, last_run
from tests.conftest import OLD_MTIME, Site, on_two_cores_here

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TAGS = ["python", "sea", "Política Exterior", "bread", "notes"]
AUTHORS = ["Ana", "Ben", "Chloé"]


def write_post(site: Site, rng: random.Random, n: int, title: str | None = None) -> None:
    tags = ", ".join(f'"{t}"' for t in rng.sample(TAGS, 2))
    author = rng.choice(AUTHORS)
    day = 1 + n % 28
    zone = "" if n % 2 else "Z"
    site.write(
        f"{n % 4}/post-{n:03d}.md",
        # Odd posts have naive dates: read in the site's zone, not UTC.
        f'---\ntitle: "{title or f"Post {n}"}"\ndate: 2024-04-{day:02d}T{n % 24:02d}:00:00{zone}\n'
        f"author: {author}\ntags: [{tags}]\n---\n\nBody of post {n}, see [x](../x/).\n",
    )


def build(site: Site, **kwargs: Any) -> RunResult:
    result = regenerate(load_config(site.config_path), NOW, lock_wait=1, **kwargs)
    assert result.published, result.feed_problems
    return result


def uncached_twin(site: Site, tmp_path: Path, name: str) -> dict[str, bytes]:
    """Build a copy of the site (content and remembered ids, nothing cached) from scratch."""
    return uncached_twin_run(site, tmp_path, name)[0]


def uncached_twin_run(site: Site, tmp_path: Path, name: str) -> tuple[dict[str, bytes], RunResult]:
    """What ``uncached_twin`` publishes, and the result of its run."""
    (tmp_path / "twins" / name).mkdir(parents=True)
    twin = Site(tmp_path / "twins" / name)
    shutil.copy(site.config_path, twin.config_path)
    shutil.rmtree(twin.root / "content")
    shutil.copytree(site.root / "content", twin.root / "content")
    (twin.root / ".feeds").mkdir()
    shutil.copy(site.root / ".feeds" / "state.json", twin.root / ".feeds" / "state.json")
    result = build(twin, use_cache=False)
    return twin.outputs(), result


def counting(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> list[str]:
    calls: list[str] = []
    real: Callable[..., Any] = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)
    return calls


def test_cached_runs_give_the_bytes_of_uncached_ones(site: Site, tmp_path: Path) -> None:
    rng = random.Random(5)
    for n in range(40):
        write_post(site, rng, n)
    build(site)
    assert site.outputs() == uncached_twin(site, tmp_path, "t0")

    steps: list[Callable[[], None]] = [
        lambda: write_post(site, rng, 7, title="Post seven, retitled"),  # edit
        lambda: (site.root / "content/3/post-039.md").unlink(),  # delete the newest
        lambda: [write_post(site, rng, n) for n in (40, 41)],  # add
        lambda: os.utime(site.root / "content/1/post-001.md"),  # touch only
        lambda: (site.root / "content/2/post-010.md").rename(site.root / "content/post-010.md"),
    ]
    for i, step in enumerate(steps, 1):
        step()
        build(site)
        assert site.outputs() == uncached_twin(site, tmp_path, f"t{i}"), f"step {i}"


def test_a_run_with_nothing_changed_reads_no_post_and_builds_no_feed(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(1)
    for n in range(12):
        write_post(site, rng, n)
    first = build(site)
    assert first.built == first.feeds
    reads = counting(monkeypatch, pipeline, "parse_post")
    renders = counting(monkeypatch, pipeline, "render")
    validations = counting(monkeypatch, pipeline, "validate_feed")
    again = build(site)
    assert (again.built, again.written, reads, renders, validations) == (0, (), [], [], [])


def test_one_changed_post_rebuilds_only_the_feeds_that_show_it(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(2)
    for n in range(12):
        write_post(site, rng, n)
    build(site)
    build(site)  # a run with nothing to do must not forget what was rendered
    # One process, so that the count sees every render (workers would hide theirs).
    monkeypatch.setattr(pipeline, "core_count", lambda: 1)
    renders = counting(monkeypatch, pipeline, "render")
    site.write("0/post-004.md", "---\ntitle: Four\ndate: 2024-04-05T04:00:00Z\nauthor: Ana\n"
               "tags: [bread]\n---\n\nNew body.\n")  # fmt: skip
    result = build(site)
    # Feeds showing post 4 before or after: the site, its old and new tags and authors.
    assert 0 < result.built < result.feeds
    assert len(renders) == 1
    assert all(
        path.startswith(("rss", "atom", "feed", "tags/", "authors/", "index", "feeds.opml"))
        for path in result.written
    )


def test_the_cache_is_written_again_only_once_it_misses_enough(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that read or rendered a few posts leaves the cache as it was (later runs
    read those again); once it misses more than the slack, it is written again. Every
    run gives the bytes of an uncached build."""
    monkeypatch.setattr(pipeline, "CACHE_SLACK", (3, 0))
    # One process, so that the count sees every read (workers would hide theirs).
    monkeypatch.setattr(pipeline, "core_count", lambda: 1)
    rng = random.Random(4)
    for n in range(10):
        write_post(site, rng, n)
    build(site)
    cache = site.root / ".feeds" / CACHE_FILE
    first = cache.read_bytes()
    # Post 3 changed: read and rendered, the cache misses 2; then post 5 as well: post 3
    # is read again, and the cache misses 4, over the slack.
    for n, read, written in ((3, 1, False), (5, 2, True)):
        write_post(site, rng, n, title=f"Changed {n}")
        os.utime(site.root / f"content/{n % 4}/post-{n:03d}.md", (OLD_MTIME + n, OLD_MTIME + n))
        reads = counting(monkeypatch, pipeline, "_read_post")
        build(site)
        assert len(reads) == read
        assert (cache.read_bytes() != first) is written
        assert site.outputs() == uncached_twin(site, tmp_path, f"after-{n}")


def test_a_corrupt_or_foreign_cache_is_ignored(site: Site, tmp_path: Path) -> None:
    rng = random.Random(3)
    for n in range(8):
        write_post(site, rng, n)
    build(site)
    good = site.outputs()
    cache = site.root / ".feeds" / CACHE_FILE
    cache.write_bytes(cache.read_bytes()[:100])
    write_post(site, rng, 2, title="Changed while the cache was broken")
    build(site)
    assert site.outputs() != good
    assert site.outputs() == uncached_twin(site, tmp_path, "twin")


def test_a_feed_file_changed_by_hand_is_made_again(site: Site) -> None:
    rng = random.Random(4)
    for n in range(5):
        write_post(site, rng, n)
    build(site)
    good = site.outputs()
    (site.public / "rss.xml").write_bytes(b"edited by hand")
    result = build(site)
    assert result.written == ("rss.xml",)
    assert site.outputs() == good


def test_a_post_changed_within_the_same_second_is_noticed(site: Site) -> None:
    # Same size, same mtime: only the digest can tell (the file was not settled).
    path = site.write("a.md", "---\ntitle: Alpha\ndate: 2024-01-01\n---\n\nAAAA\n", mtime=OLD_MTIME)
    now_ns = int(datetime.now(UTC).timestamp() * 1e9)
    os.utime(path, ns=(now_ns, now_ns))
    build(site)
    path.write_text("---\ntitle: Alpha\ndate: 2024-01-01\n---\n\nBBBB\n", encoding="utf-8")
    os.utime(path, ns=(now_ns, now_ns))
    build(site)
    assert b"BBBB" in (site.public / "feed.json").read_bytes()


def test_a_run_with_nothing_changed_only_lists_the_folder(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the same inputs as the last published run and its files untouched, a run
    lists the content folder and stops: it reports what the last run reported."""
    rng = random.Random(6)
    for n in range(12):
        write_post(site, rng, n)
    site.write("broken.md", "---\ntitle: [unclosed\n---\n\nBody.\n")
    first = regenerate(load_config(site.config_path), NOW, lock_wait=1)
    loads = counting(monkeypatch, pipeline, "load_content")
    resolves = counting(monkeypatch, pipeline, "resolve")
    again = regenerate(load_config(site.config_path), NOW, lock_wait=1)
    assert (loads, resolves, again.written) == ([], [], ())
    assert again.unchanged == tuple(sorted((*first.written, *first.unchanged)))
    assert (again.exit_code, again.problems, again.posts, again.files) == (
        1,
        first.problems,
        first.posts,
        first.files,
    )
    assert again.skipped[0].path == "broken.md"


def _edit(site: Site) -> None:
    write_post(site, random.Random(1), 3, title="Post three, retitled")


def _rewrite_within_the_tick(site: Site) -> None:
    # Written just before the last run listed it, then rewritten with the same size and
    # the same time (a coarse clock): only the bytes tell.
    path = site.root / "content/0/post-004.md"
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b"Post 4", b"Post X"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _due_post(site: Site) -> None:
    site.post("soon.md", "Soon", date="2024-06-01T12:30:00Z")


def _corrupt_state(site: Site) -> None:
    (site.root / ".feeds/state.json").write_text("{not json")


CHANGES: dict[str, Callable[[Site], object]] = {
    "a post edited": _edit,
    # (at another post's instant: any other added post may take the index)
    "a post added": lambda site: _added(site, "new/a.md", "2024-04-05T04:00:00Z"),
    "a post deleted": lambda site: (site.root / "content/1/post-005.md").unlink(),
    "a post rewritten within the clock tick": _rewrite_within_the_tick,
    "an output touched": lambda site: os.utime(site.public / "rss.xml", (1, 1)),
    "an output deleted": lambda site: (site.public / "tags/sea/atom.xml").unlink(),
    "the config changed": lambda site: site.configure("feeds: {limit: 5}\n"),
    "the state damaged": _corrupt_state,
    "a future post fallen due": _due_post,
}


@pytest.mark.parametrize("change", CHANGES)
def test_the_shortcut_is_never_taken_when_something_changed(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Each kind of change makes a full run, which gives the bytes of an uncached build."""
    rng = random.Random(7)
    for n in range(12):
        write_post(site, rng, n)
    if change == "a future post fallen due":
        CHANGES[change](site)
        build(site)
        build(site)
        later = datetime(2024, 6, 1, 13, 0, tzinfo=UTC)
        resolves = counting(monkeypatch, pipeline, "resolve")
        result = regenerate(load_config(site.config_path), later, lock_wait=1)
        assert resolves == ["resolve"] and result.posts == 13
        return
    if change == "a post rewritten within the clock tick":
        path = site.root / "content/0/post-004.md"
        os.utime(path)  # now: the runs below list it less than a clock tick later
    build(site)
    build(site)
    CHANGES[change](site)
    resolves = counting(monkeypatch, pipeline, "resolve")
    build(site)
    assert resolves == ["resolve"]
    if change != "the state damaged":  # the twin copies the state: ids would differ
        assert site.outputs() == uncached_twin(site, tmp_path, "twin")


def test_the_stylesheet_switch_remakes_every_feed_and_is_deterministic(
    site: Site, tmp_path: Path
) -> None:
    rng = random.Random(9)
    for n in range(6):
        write_post(site, rng, n)
    build(site)
    plain = site.outputs()
    site.configure("feeds:\n  stylesheet: true\n")
    styled_run = build(site)
    styled = site.outputs()
    assert styled_run.built == styled_run.feeds, "every feed is made again"
    assert "feed.xsl" in styled and "feed.xsl" not in plain
    assert styled["tags/sea/atom.xml"].startswith(
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<?xml-stylesheet type="text/xsl" href="../../feed.xsl"?>\n'
    )
    assert b"xml-stylesheet" not in styled["feed.json"]
    assert build(site).built == 0 and site.outputs() == styled
    assert uncached_twin(site, tmp_path, "styled") == styled
    site.configure("")
    build(site)
    assert site.outputs() == plain, "switched off: the stylesheet and its instructions go"


def test_a_changed_enclosure_file_is_not_missed_by_the_shortcut(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An enclosure's length comes from a file in the output folder, not a post file:
    the record of the last run watches it too, and a new size makes a full run."""
    site.post("episode.md", "Episode", enclosure="/media/ep.mp3")
    media = site.public / "media" / "ep.mp3"
    media.parent.mkdir(parents=True)
    media.write_bytes(b"x" * 100)
    build(site)
    build(site)
    resolves = counting(monkeypatch, pipeline, "resolve")
    media.write_bytes(b"x" * 250)
    build(site)
    assert resolves == ["resolve"]
    assert b'length="250"' in (site.public / "rss.xml").read_bytes()


def _edit_body(site: Site, n: int, words: str, step: int = 1) -> None:
    """Post ``n``'s body gets ``words``; its metadata stays (the file time moves on)."""
    path = next((site.root / "content").glob(f"*/post-{n:03d}.md"))
    path.write_bytes(path.read_bytes() + f"\n{words}\n".encode())
    os.utime(path, (OLD_MTIME + 1000 + step, OLD_MTIME + 1000 + step))


def indexed_site(site: Site, seed: int) -> None:
    """Twelve posts and a file that cannot be read, built once: an index is left."""
    rng = random.Random(seed)
    for n in range(12):
        write_post(site, rng, n)
    site.write("0/broken.md", "---\ntitle: [\n---\n\nNever read.\n")
    regenerate(load_config(site.config_path), NOW, lock_wait=1)


def _metadata_edits() -> dict[str, Callable[[Site], object]]:
    """Edits of a post file that change more than its body."""

    def rewrite(old: bytes, new: bytes) -> Callable[[Site], None]:
        def edit(site: Site) -> None:
            path = site.root / "content/0/post-004.md"
            path.write_bytes(path.read_bytes().replace(old, new, 1))
            os.utime(path, (OLD_MTIME + 2000, OLD_MTIME + 2000))

        return edit

    return {
        "its title": rewrite(b'title: "Post 4"', b'title: "Post four"'),
        "its date": rewrite(b"date: 2024-04-05", b"date: 2024-04-25"),
        "its tags": rewrite(b"tags: [", b'tags: ["new", '),
        "its summary": rewrite(b"---\n\n", b"summary: Short.\n---\n\n"),
        "a draft flag": rewrite(b"---\n\n", b"draft: true\n---\n\n"),
        "a byte that is not UTF-8 in the body": rewrite(b"Body of", b"Body \xff of"),
        "front matter that no longer parses": rewrite(b"tags: [", b"tags: [[["),
    }


METADATA_EDITS = _metadata_edits()


def test_edits_of_bodies_alone_take_the_index_and_give_the_bytes_of_uncached_builds(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bodies edited (one post, then another, then the first again): no post is read
    but the changed ones, nothing is resolved, only the feeds showing them are made;
    each run publishes what an uncached build would and reports what it reports."""
    rng = random.Random(11)
    for n in range(12):
        write_post(site, rng, n)
    build(site)
    for step, n in enumerate((4, 7, 4), 1):
        _edit_body(site, n, f"Edit {step}.", step)
        reads = counting(monkeypatch, pipeline, "_read_post")
        resolves = counting(monkeypatch, pipeline, "resolve_posts")
        result = build(site)
        assert (reads, resolves) == ([], []), step
        assert 0 < result.built < result.feeds
        assert site.outputs() == uncached_twin(site, tmp_path, f"step-{step}")
        full = regenerate(load_config(site.config_path), NOW, lock_wait=1, use_cache=False)
        same = (result.problems, result.posts, result.files)
        assert same == (full.problems, full.posts, full.files)


def _other_changes() -> dict[str, Callable[[Site], object]]:
    """Changes beside a body edit that a run through the index cannot account for."""

    def index_edit(old: bytes, new: bytes) -> Callable[[Site], None]:
        def edit(site: Site) -> None:
            index = site.root / ".feeds" / "index.json"
            index.write_bytes(index.read_bytes().replace(old, new, 1))

        return edit

    def many_bodies(site: Site) -> None:
        for n in (5, 6):  # with post 7's: three, over QUICK_MAX (2 in the test)
            _edit_body(site, n, f"Many {n}.", n)

    return {
        "a post added at another's instant": lambda site: _added(
            site, "new/a.md", "2024-04-05T04:00:00Z"
        ),
        "a post deleted": lambda site: (site.root / "content/1/post-005.md").unlink(),
        "a post moved": lambda site: (site.root / "content/1/post-005.md").rename(
            site.root / "content/2/post-005.md"
        ),
        "an unreadable file fixed": lambda site: site.write("0/broken.md", "---\ntitle: Ok\n---\n"),
        "an output touched": lambda site: os.utime(site.public / "rss.xml", (1, 1)),
        "the config changed": lambda site: site.configure("feeds: {limit: 5}\n"),
        "the state rewritten": lambda site: (site.root / ".feeds/state.json").write_bytes(
            (site.root / ".feeds/state.json").read_bytes().replace(b"\n}", b"\n }")
        ),
        "the cache removed": lambda site: (site.root / ".feeds" / CACHE_FILE).unlink(),
        "the cache damaged": lambda site: (site.root / ".feeds" / CACHE_FILE).write_bytes(
            b'{"fingerprint": 1}\n["0/post-007.md", 1]\n'
        ),
        "the index damaged": lambda site: (site.root / ".feeds/index.json").write_bytes(b"[1]"),
        "a file's line in the index damaged": index_edit(b'"0/post-004.md",', b'"0/post-004.md",x'),
        # Whole and of the right types: only the digest that ends the file tells.
        "a letter of the index's HTML changed": index_edit(b"Body of post", b"Body of pest"),
        "more bodies than a quick run takes": many_bodies,
        "archives turned on": lambda site: site.configure("feeds: {archives: true}\n"),
    }


OTHER_CHANGES = _other_changes()


@pytest.mark.parametrize("change", [*METADATA_EDITS, *OTHER_CHANGES])
def test_a_run_the_index_cannot_account_for_is_a_full_one(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """A body edited beside an edit of more than a body, or beside any other change:
    a full run, whose bytes equal an uncached build's."""
    indexed_site(site, 13)
    monkeypatch.setattr(pipeline, "QUICK_MAX", 2)
    _edit_body(site, 7, "A body edit.")
    {**METADATA_EDITS, **OTHER_CHANGES}[change](site)
    resolves = counting(monkeypatch, pipeline, "resolve_posts")
    regenerate(load_config(site.config_path), NOW, lock_wait=1)
    assert resolves == ["resolve_posts"]
    assert site.outputs() == uncached_twin(site, tmp_path, "twin")


def _added(
    site: Site, rel: str, date: str, front: str = "", *, tags: str = 'sea, "bread"',
    author: str = "Ana", title: str = "Added", encoding: str = "utf-8",
) -> None:  # fmt: skip
    """A post file added after the site was indexed, by an author and with tags that
    posts there have."""
    site.write(
        rel,
        f'---\ntitle: "{title} {rel}"\ndate: {date}\nauthor: {author}\ntags: [{tags}]\n'
        f"{front}---\n\nBody of the added {rel}, see [x](../x/).\n".encode(encoding),
        mtime=OLD_MTIME + 3000,
    )


def test_posts_added_after_the_others_take_the_index_and_give_the_bytes_of_uncached_builds(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post added, then another beside a body edit, then two at once (one with its own
    slug and id), each run adding to what the runs before added: no post is resolved
    again, only the feeds that show an added or edited post are made; each run publishes
    what an uncached build would and counts the posts and files it counts."""
    indexed_site(site, 17)
    steps: list[Callable[[], None]] = [
        lambda: _added(site, "new/first.md", "2024-05-01T09:00:00Z"),
        lambda: (
            _added(site, "0/second.md", "2024-05-02T09:00:00+02:00"),
            _edit_body(site, 3, "E."),
        ),
        lambda: (
            _added(site, "new/third.md", "2024-05-03", "slug: own-slug\nid: urn:x:third\n"),
            _added(site, "1/fourth.md", "2024-05-03T12:00:00Z", "updated: 2024-05-20T00:00:00Z\n"),
        ),
    ]
    for step, change in enumerate(steps, 1):
        change()
        resolves = counting(monkeypatch, pipeline, "resolve_posts")
        result = build(site)
        assert resolves == [], step
        assert 0 < result.built < result.feeds, step
        outputs, full = uncached_twin_run(site, tmp_path, f"step-{step}")
        assert site.outputs() == outputs, step
        same = (result.problems, result.posts, result.files, result.feeds)
        assert same == (full.problems, full.posts, full.files, full.feeds), step
    assert "Added new/third.md" in site.outputs()["rss.xml"].decode()
    # The next full run, made by anything else, publishes the same bytes.
    (site.root / "content/1/post-005.md").unlink()
    regenerate(load_config(site.config_path), NOW, lock_wait=1)
    assert site.outputs() == uncached_twin(site, tmp_path, "after")


def take_the_index(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps: list[Callable[[], object]]
) -> None:
    """Each change, then a run through the index (no post resolved again) that
    publishes and counts what an uncached build would."""
    for step, change in enumerate(steps, 1):
        change()
        resolves = counting(monkeypatch, pipeline, "resolve_posts")
        result = build(site)
        assert resolves == [], step
        outputs, full = uncached_twin_run(site, tmp_path, f"step-{step}")
        assert site.outputs() == outputs, step
        same = (result.problems, result.posts, result.files, result.feeds)
        assert same == (full.problems, full.posts, full.files, full.feeds), step


def test_posts_added_with_a_new_tag_or_author_take_the_index_and_bring_their_feeds(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post with a tag no post had, then one by a new author, then a body edit: each
    run takes the index, publishes the new feeds and counts them, as an uncached build
    would. The new author's post deleted, a run through the index removes its feeds; the
    new tag's post deleted beside an indexed post, the full run removes the tag's feeds,
    which no full run had published."""
    indexed_site(site, 19)
    new_tag = ["tags/brand-new/rss.xml", "tags/brand-new/atom.xml", "tags/brand-new/feed.json"]
    steps: list[Callable[[], object]] = [
        lambda: _added(site, "new/first.md", "2024-05-01T09:00:00Z", tags="sea, Brand New"),
        lambda: _added(site, "new/second.md", "2024-05-02T09:00:00Z", author="Zoë"),
        lambda: _edit_body(site, 3, "E."),
    ]
    take_the_index(site, tmp_path, monkeypatch, steps)
    assert {*new_tag, "authors/zoe/rss.xml"} <= set(site.outputs())
    for gone, full_run, feed in (
        (["new/second.md"], [], "authors/zoe/rss.xml"),
        (["new/first.md", "1/post-005.md"], ["resolve_posts"], new_tag[0]),
    ):
        for rel in gone:
            (site.root / "content" / rel).unlink()
        resolves = counting(monkeypatch, pipeline, "resolve_posts")
        result = build(site)
        assert resolves == full_run
        assert feed in result.removed, result.problems
        assert site.outputs() == uncached_twin(site, tmp_path, gone[0])


def test_back_dated_posts_take_the_index_when_they_move_no_other_post(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post dated among the others, then one older than all of them, then two at once
    (one a second after another post's instant, one a second before): no post is
    resolved again, and each run publishes and counts what an uncached build would.
    Posts that would take another's instant or move it are in ``ADDED_UNACCOUNTED``."""
    indexed_site(site, 18)
    steps: list[Callable[[], object]] = [
        lambda: _added(site, "new/among.md", "2024-04-05T07:30:00Z", tags="sea, Brand New"),
        lambda: _added(site, "new/oldest.md", "2024-03-01T00:00:00+01:00"),
        lambda: (
            _added(site, "new/after.md", "2024-04-05T04:00:01Z"),
            _added(site, "new/before.md", "2024-04-05T03:59:59Z"),
        ),
    ]
    take_the_index(site, tmp_path, monkeypatch, steps)
    rss = site.outputs()["rss.xml"].decode()
    assert all(f"Added new/{name}.md" in rss for name in ("among", "oldest", "after", "before"))


def _added_unaccounted() -> dict[str, Callable[[Site], object]]:
    """Posts added since the index that change how others resolve, or need more."""
    return {
        "dated when another post was": lambda site: _added(
            site, "new/a.md", "2024-04-05T04:00:00Z"
        ),
        # Fractions of a second are dropped: the instant is the other post's.
        "dated a fraction of a second after another post": lambda site: _added(
            site, "new/a.md", "2024-04-05T04:00:00.5Z"
        ),
        "two added at one instant": lambda site: (
            _added(site, "new/a.md", "2024-04-20T10:30:00.5Z"),
            _added(site, "new/b.md", "2024-04-20T10:30:00Z"),
        ),
        "updated when the latest post was": lambda site: _added(
            site, "new/a.md", "2024-04-01T00:00:00Z", f"updated: {_latest(site)}\n"
        ),
        "with a slug taken": lambda site: _added(
            site, "new/a.md", "2024-05-01", "slug: post-004\n"
        ),
        "with an id taken": lambda site: _added(
            site, "new/a.md", "2024-05-01", f"id: {_an_id(site)}\n"
        ),
        "a draft": lambda site: _added(site, "new/a.md", "2024-05-01", "draft: true\n"),
        "in the future": lambda site: _added(site, "new/a.md", "2024-07-01"),
        "undated": lambda site: site.write("new/a.md", "---\ntitle: Undated\n---\n\nBody.\n"),
        "with a warning": lambda site: _added(
            site, "new/a.md", "2024-05-01", title="Café", encoding="cp1252"
        ),
        "unreadable": lambda site: site.write("new/a.md", "---\ntitle: [\n---\n\nBody.\n"),
        "with an enclosure": lambda site: _added(
            site,
            "new/a.md",
            "2024-05-01",
            "enclosure: {url: https://cdn.example.org/a.mp3, length: 9, type: audio/mpeg}\n",
        ),
        "beside a deleted post": lambda site: (
            _added(site, "new/a.md", "2024-05-01"),
            (site.root / "content/1/post-005.md").unlink(),
        ),
        "two with one slug": lambda site: (
            _added(site, "new/a.md", "2024-05-01", "slug: same\n"),
            _added(site, "new/b.md", "2024-05-02", "slug: same\n"),
        ),
        # Its feed is another name's: a warning names both.
        "with a tag another spells otherwise": lambda site: _added(
            site, "new/a.md", "2024-05-01", tags="Politica Exterior"
        ),
        "by an author another spells otherwise": lambda site: _added(
            site, "new/a.md", "2024-05-01", author="Chloe"
        ),
    }


def _latest(site: Site) -> str:
    """The latest ``updated`` instant of the site's posts, as the feeds give it."""
    rss = (site.public / "rss.xml").read_text(encoding="utf-8")
    return max(
        datetime.strptime(d, "%a, %d %b %Y %H:%M:%S %z")
        for d in (part.split("</pubDate>")[0] for part in rss.split("<pubDate>")[1:])
    ).isoformat()


def _an_id(site: Site) -> str:
    rss = (site.public / "rss.xml").read_text(encoding="utf-8")
    return rss.split('<guid isPermaLink="false">')[1].split("</guid>")[0]


ADDED_UNACCOUNTED = _added_unaccounted()


@pytest.mark.parametrize("change", ADDED_UNACCOUNTED)
def test_an_added_post_the_index_cannot_account_for_makes_a_full_run(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Whatever an added post would change of the others, or needs beyond its file:
    a full run, whose bytes equal an uncached build's."""
    indexed_site(site, 13)
    ADDED_UNACCOUNTED[change](site)
    resolves = counting(monkeypatch, pipeline, "resolve_posts")
    regenerate(load_config(site.config_path), NOW, lock_wait=1)
    assert resolves == ["resolve_posts"]
    assert site.outputs() == uncached_twin(site, tmp_path, "twin")


def test_random_additions_edits_and_deletions_give_the_bytes_of_uncached_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six sites, each through seven random changes built one at a time: posts added
    after the others (the usual new post), among them, with a new tag, or undated;
    bodies and titles edited; posts deleted. Whether a run takes the index or not, it
    publishes what an uncached build would; both kinds of run happen."""
    resolves = counting(monkeypatch, pipeline, "resolve_posts")
    through_index = 0
    for seed in range(6):
        rng = random.Random(seed)
        (tmp_path / f"site-{seed}").mkdir()
        site = Site(tmp_path / f"site-{seed}")
        indexed_site(site, seed)
        changes = _random_changes(site, rng)
        for k in range(7):
            rng.choice(changes)(k)
            resolves.clear()
            build(site)
            through_index += not resolves
            twin = uncached_twin(site, tmp_path, f"{seed}-{k}")
            assert site.outputs() == twin, (seed, k)
    assert 0 < through_index < 6 * 7, through_index


def _random_changes(site: Site, rng: random.Random) -> list[Callable[[int], object]]:
    """Changes of a site that ``indexed_site`` made, each given the step's number."""
    newest = [datetime(2024, 5, 1, tzinfo=UTC)]

    def posts() -> list[Path]:
        return sorted((site.root / "content").rglob("post-*.md"))

    def add_newest(k: int) -> None:
        newest[0] += timedelta(hours=rng.randint(1, 30))
        tags = ", ".join(rng.sample(TAGS, 2))
        _added(site, f"{rng.randint(0, 4)}/post-{100 + k:03d}.md", newest[0].isoformat(),
               tags=tags, author=rng.choice(AUTHORS))  # fmt: skip

    return [
        add_newest,
        add_newest,
        lambda k: _added(site, f"0/post-{100 + k:03d}.md", f"2024-04-{rng.randint(1, 28):02d}"),
        lambda k: _added(site, f"new/post-{100 + k:03d}.md", newest[0].isoformat(), tags="x"),
        lambda k: site.write(f"1/post-{100 + k:03d}.md", "---\ntitle: Undated\n---\n\nBody.\n"),
        lambda k: _edit_body(site, int(rng.choice(posts()).stem[5:]), f"Edit {k}.", k),
        lambda k: write_post(site, rng, int(rng.choice(posts()).stem[5:]) % 12, f"Retitled {k}"),
        lambda k: rng.choice(posts()).unlink(),
    ]


def test_an_index_whose_run_left_no_record_still_knows_what_that_run_read(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full run that wrote its index and died before its record: a later body edit
    still sees the future post that run found, and publishes it once it is due."""
    indexed_site(site, 14)
    record = site.root / ".feeds" / "last-run.json"
    before = record.read_bytes()
    site.post("soon.md", "Soon", date="2024-06-01T12:30:00Z")
    regenerate(load_config(site.config_path), NOW, lock_wait=1)
    record.write_bytes(before)  # as if the run had died between the two writes
    _edit_body(site, 7, "A body edit.")
    resolves = counting(monkeypatch, pipeline, "resolve_posts")
    later = datetime(2024, 6, 1, 13, 0, tzinfo=UTC)
    result = regenerate(load_config(site.config_path), later, lock_wait=1)
    assert resolves == ["resolve_posts"] and result.posts == 13
    assert b"<title>Soon</title>" in (site.public / "rss.xml").read_bytes()


def _entries_feedparser_reads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The item and entry documents feedparser is given from now on, in this process."""
    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 1000)  # no worker: the spy sees every call
    return _entries_given_to_feedparser(monkeypatch)


def _entries_given_to_feedparser(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The item and entry documents given to feedparser in this process from now on."""
    documents: list[bytes] = []
    real = validate._feedparse

    def spy(document: bytes) -> Any:
        if b"<item" in document or b"<entry" in document:
            documents.append(document)
        return real(document)

    monkeypatch.setattr(validate, "_feedparse", spy)
    return documents


@pytest.mark.parametrize("edit", ["a body", "a title"])
def test_feedparser_reads_again_only_the_entries_of_edited_posts(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    """Runs keep feedparser's readings: after one post is edited, through the index
    (a body) or by a full run (a title), feedparser reads its RSS item and its Atom
    entry and nothing else; every feed is still compared with its posts, and the
    bytes are an uncached build's."""
    indexed_site(site, 15)
    _edit_body(site, 7, "A body edit.")
    if edit == "a title":
        METADATA_EDITS["its title"](site)  # post 4's, besides post 7's body
    read = _entries_feedparser_reads(monkeypatch)
    build(site)
    edited = [b"A body edit." in d or b"Post four" in d for d in read]
    assert len(read) == (2 if edit == "a body" else 4) and all(edited)
    assert site.outputs() == uncached_twin(site, tmp_path, "twin")


def test_readings_that_are_damaged_or_wrong_are_not_trusted(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged file of readings is not used; one with a reading that is wrong but
    written whole (the same file then holds what feedparser never read) cannot make
    a feed pass: the feed is compared with its post and refused."""
    indexed_site(site, 16)
    readings = site.root / ".feeds" / pipeline.READINGS_FILE
    kept = readings.read_bytes()
    readings.write_bytes(kept.replace(b"Post 7", b"Post 8", 1))
    _edit_body(site, 9, "Another edit.")
    read = _entries_feedparser_reads(monkeypatch)
    build(site)
    assert any(b"<title>Post 7</title>" in d for d in read), "the damaged file was not used"

    # Whole and signed as this code signs, but saying what feedparser would not.
    loaded = load_readings(kept, code_fingerprint())
    lying = {
        key: replace(r, entries=tuple(replace(e, title="Forged") for e in r.entries))
        for key, r in loaded.readings.items()
    }
    forged = replace(loaded, readings=lying)
    readings.write_bytes(dump_readings(forged, code_fingerprint()))
    _edit_body(site, 9, "A third edit.", 2)
    result = regenerate(load_config(site.config_path), NOW, lock_wait=1)
    assert not result.published
    assert {p.code for p in result.feed_problems} == {"entry-mismatch"}


def test_a_post_edited_again_after_a_full_run_that_left_the_cache_behind_takes_the_index(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body edited, a post added (a full run that reads the edited post again but
    leaves the cache file as it was: it misses too little to be written again), then
    the same body edited again: that run still goes through the index, which holds
    the post's metadata as the full run read it."""
    indexed_site(site, 17)
    cache = (site.root / ".feeds" / CACHE_FILE).read_bytes()
    _edit_body(site, 7, "First edit.", 1)
    build(site)
    write_post(site, random.Random(3), 30)
    build(site)
    assert (site.root / ".feeds" / CACHE_FILE).read_bytes() == cache, "the cache was kept"
    _edit_body(site, 7, "Second edit.", 2)
    resolves = counting(monkeypatch, pipeline, "resolve_posts")
    result = build(site)
    assert resolves == [] and 0 < result.built < result.feeds
    assert site.outputs() == uncached_twin(site, tmp_path, "twin")


def test_a_body_edited_then_put_back_gives_the_feeds_of_the_original(
    site: Site, tmp_path: Path
) -> None:
    """Two runs through the index: one publishes an edited body, the next finds the
    post's old bytes back. The feeds the first rewrote must be made again: their
    files no longer hold what the full run made them from."""
    indexed_site(site, 18)
    path = next((site.root / "content").glob("*/post-007.md"))
    original = path.read_bytes()
    _edit_body(site, 7, "A passing edit.", 1)
    build(site)
    assert b"A passing edit." in (site.public / "rss.xml").read_bytes()
    path.write_bytes(original)
    os.utime(path, (OLD_MTIME + 2000, OLD_MTIME + 2000))
    build(site)
    assert site.outputs() == uncached_twin(site, tmp_path, "twin")


def test_posts_added_to_a_site_with_names_sharing_a_feed_are_told_of_as_a_full_run_would(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site where two spellings share a feed: each post added after, even with a name
    of one of them, is resolved with the others, and the warning names what an uncached
    build names (the first file that writes a spelling may be the added one, while no
    feed shows a post of the other spelling)."""
    site.configure("feeds:\n  limit: 1\n")
    site.post("old.md", "Old", "2024-04-01T10:00:00Z", tags="[Política Exterior]", author="Ana")
    site.post("mid.md", "Mid", "2024-04-02T10:00:00Z", tags="[sea]", author="Ana")
    build(site)
    steps = [
        lambda: _added(site, "p/b.md", "2024-05-01", tags="Politica Exterior"),
        lambda: _added(site, "p/a.md", "2024-05-02", tags="Politica Exterior"),
        lambda: _added(site, "new/c.md", "2024-05-03"),
    ]
    for step, change in enumerate(steps):
        change()
        resolves = counting(monkeypatch, pipeline, "resolve_posts")
        result = build(site)
        assert resolves == ["resolve_posts"], step
        outputs, full = uncached_twin_run(site, tmp_path, f"step-{step}")
        assert site.outputs() == outputs, step
        assert result.problems == full.problems, step
        [shared] = [p for p in result.problems if p.code == "shared-tag-feed"]
        assert shared.message.startswith(
            "tag 'Politica Exterior' makes the same slug as tag 'Política Exterior' (old.md)"
        )
        assert shared.path == ("p/b.md", "p/a.md", "p/a.md")[step]


def test_feeds_runs_through_the_index_removed_stay_gone(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post with a new tag added, then deleted, twice, each run through the index: the
    feeds of both tags stay recorded as gone (410 after ``feeds serve`` restarts); the
    second pair of runs forgot the first's."""
    indexed_site(site, 19)
    # A newer post added first: the feeds then show it, not only the ones deleted.
    _added(site, "new/keep.md", "2024-05-03T09:00:00Z")
    build(site)
    for n in (1, 2):
        _added(site, f"new/churn{n}.md", f"2024-05-0{n}T09:00:00Z", tags=f"churn{n}")
        resolves = counting(monkeypatch, pipeline, "resolve_posts")
        assert f"tags/churn{n}/rss.xml" in build(site).written
        assert resolves == [], n
        (site.root / f"content/new/churn{n}.md").unlink()
        assert f"tags/churn{n}/rss.xml" in build(site).removed
        assert resolves == [], n
    last = last_run(load_config(site.config_path))
    assert last is not None
    assert {"tags/churn1/rss.xml", "tags/churn2/rss.xml"} <= set(last.gone)


def test_a_first_run_renders_each_post_and_reads_each_entry_once_whatever_the_shares(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post is shown by the site feed and by its tags' and authors' feeds, which two
    cores share out: it is rendered, and its entry read by feedparser, once all the
    same. The feeds and what the run reports are those of a run that leaves each share
    to do its own."""
    with site.config_path.open("a", encoding="utf-8") as config:
        config.write("feeds: {formats: [rss], per_author: true}\n")
    rng = random.Random(8)
    for n in range(30):
        write_post(site, rng, n)
    late = "---\ntitle: Late\ndate: 2024-05-01\nupdated: 2031-01-01\ntags: [sea]\n---\n\nBody.\n"
    site.write("0/late.md", late)  # the validators warn of its date, in each feed
    (tmp_path / "twin").mkdir()
    twin = Site(tmp_path / "twin")
    shutil.copy(site.config_path, twin.config_path)
    shutil.rmtree(twin.root / "content")
    shutil.copytree(site.root / "content", twin.root / "content")
    on_two_cores_here(monkeypatch)
    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 2)  # the site's 9 feeds
    monkeypatch.setattr(pipeline, "PRIME_FROM", 10)
    renders = counting(monkeypatch, pipeline, "_render_from_disk")
    read = _entries_given_to_feedparser(monkeypatch)
    result = build(site)
    assert len(renders) == len(read) == len(set(read)) == 31

    monkeypatch.setattr(pipeline, "PRIME_FROM", 10_000)  # each share on its own
    renders.clear()
    read.clear()
    alone = build(twin)
    assert len(renders) > 31 and len(read) > 31  # the check above can fail
    assert site.outputs() == twin.outputs()
    assert result.feed_problems == alone.feed_problems
    # In the site's, the tag's and the author's feed: the entry's date and the feed's.
    assert sum("item 1 atom:updated" in p.message for p in result.feed_problems) == 3
