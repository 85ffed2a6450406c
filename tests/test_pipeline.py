"""The whole job on a real folder: what is published, what is kept, what is reported."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from feeds import cores, pipeline
from feeds.config import load_config
from feeds.exceptions import LockError
from feeds.pipeline import regenerate
from feeds.publish import run_lock
from feeds.runs import RunResult, collector_paused
from tests.conftest import Site, on_two_cores_here
from tests.test_incremental import counting

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def build(site: Site, now: datetime = NOW) -> RunResult:
    return regenerate(load_config(site.config_path), now, lock_wait=1)


def small_site(site: Site) -> None:
    site.post("one.md", "First post", "2024-05-01T10:00:00Z", tags="[python, Política Exterior]")
    site.post("two.md", "Second post", "2024-05-02T10:00:00Z", authors="[Ana, Ben]")
    site.write(
        "three.txt",
        """
        Title: Third post
        Author: Ben
        Date: 2024-05-03
        Tags: python

        A paragraph of plain text.
        """,
    )


def test_build_writes_every_file_of_the_layout(site: Site) -> None:
    small_site(site)
    result = build(site)
    assert result.exit_code == 0, result
    assert result.posts == 3
    names = set(site.outputs())
    expected = {"index.html", "feeds.opml"}
    for folder in ("", "tags/python/", "tags/politica-exterior/", "authors/ana/",
                   "authors/ben/", "authors/desk/"):  # fmt: skip
        expected |= {f"{folder}rss.xml", f"{folder}atom.xml", f"{folder}feed.json"}
    assert names == expected
    python = json.loads(site.outputs()["tags/python/feed.json"])
    assert [i["title"] for i in python["items"]] == ["Third post", "First post"]


def test_two_builds_and_touching_every_post_change_nothing(site: Site) -> None:
    small_site(site)
    site.write("undated.md", "---\ntitle: No date here\n---\n\nUndated.\n")
    assert build(site).exit_code == 0
    before, mtimes = site.outputs(), site.mtimes()
    second = build(site, NOW + timedelta(hours=1))
    assert second.written == ()
    for post in (site.root / "content").rglob("*.*"):
        os.utime(post)  # touched now: a new mtime must not move any date
    third = build(site, NOW + timedelta(hours=2))
    assert third.written == ()
    assert site.outputs() == before
    assert site.mtimes() == mtimes


@pytest.mark.parametrize(
    ("name", "data", "line", "fragment"),
    [
        ("broken-yaml.md", "---\ntitle: ok\ntags: [a, b\n---\nbody\n", 4, ""),
        ("bad-date.md", "---\ntitle: ok\ndate: next tuesday\n---\nbody\n", 3, "date"),
        ("wrong-type.md", "---\ntitle: ok\ndraft: maybe\n---\nbody\n", 3, "draft"),
        ("binary.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", None, "binary"),
        ("empty.md", "", None, "empty"),
    ],
)
def test_a_bad_post_is_skipped_with_its_file_and_line(
    site: Site, name: str, data: str | bytes, line: int | None, fragment: str
) -> None:
    small_site(site)
    site.write(name, data)
    result = build(site)
    assert result.published and result.exit_code == 1
    (problem,) = result.skipped
    assert problem.path == name
    if line is not None:
        assert problem.line is not None and abs(problem.line - line) <= 1
    assert fragment in problem.message.lower()
    assert result.posts == 3  # every good post is still published
    assert b"First post" in site.outputs()["rss.xml"]


def test_not_utf8_is_read_as_windows_1252_with_a_warning(site: Site) -> None:
    site.write("latin.md", b"---\ntitle: Caf\xe9 notes\n---\n\nNa\xefve \x93quotes\x94.\n")
    result = build(site)
    assert result.exit_code == 0
    assert [p.code for p in result.problems] == ["not-utf8"]
    rss = site.outputs()["rss.xml"].decode()
    assert "Café notes" in rss and "Naïve “quotes”" in rss


def test_missing_title_is_made_from_the_file_name(site: Site) -> None:
    site.write("2024-05-01-a-quiet-morning.md", "---\ndate: 2024-05-01\n---\n\nText.\n")
    result = build(site)
    assert result.exit_code == 0
    assert [p.code for p in result.problems] == ["no-title"]
    assert b"<title>A quiet morning</title>" in site.outputs()["rss.xml"]


def test_an_invalid_feed_is_never_published(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    small_site(site)
    assert build(site).exit_code == 0
    good = site.outputs()
    site.post("four.md", "Fourth post", "2024-05-04T10:00:00Z")

    real = pipeline.WRITERS["atom"]

    def broken_atom(spec, options):  # type: ignore[no-untyped-def]
        return real(spec, options).replace(b"</feed>", b"")  # truncated: not well-formed

    monkeypatch.setitem(pipeline.WRITERS, "atom", broken_atom)
    result = build(site)
    assert result.exit_code == 3 and not result.published
    assert any(p.level == "error" and p.path == "atom.xml" for p in result.feed_problems)
    assert site.outputs() == good  # not even the valid RSS of this run was published


def test_drafts_are_never_published_and_future_posts_wait(site: Site) -> None:
    small_site(site)
    site.post("draft.md", "A draft", "2024-05-05T10:00:00Z", draft="true")
    site.post("later.md", "Later post", "2024-07-01T09:00:00+02:00")
    result = build(site)
    assert result.drafts == 1
    assert result.future == (datetime(2024, 7, 1, 7, 0, tzinfo=UTC),)
    rss = site.outputs()["rss.xml"]
    assert b"A draft" not in rss and b"Later post" not in rss
    build(site, datetime(2024, 7, 1, 7, 0, 1, tzinfo=UTC))
    assert b"Later post" in site.outputs()["rss.xml"]
    assert b"A draft" not in site.outputs()["rss.xml"]


def test_feed_of_a_tag_with_no_posts_left_is_removed(site: Site) -> None:
    small_site(site)
    build(site)
    assert (site.public / "tags/politica-exterior/rss.xml").exists()
    (site.root / "content/one.md").unlink()
    result = build(site)
    assert "tags/politica-exterior/rss.xml" in result.removed
    assert not (site.public / "tags/politica-exterior").exists()


def test_post_id_survives_edit_retitle_and_move(site: Site) -> None:
    path = site.post("notes/trip.md", "A trip", "2024-05-01T10:00:00Z")
    build(site)

    def ids() -> list[str]:
        return [e.text or "" for e in etree.fromstring(site.outputs()["atom.xml"]).iter(
            "{http://www.w3.org/2005/Atom}id")][1:]  # fmt: skip

    (original,) = ids()
    path.write_text("---\ntitle: A longer trip\ndate: 2024-05-01T10:00:00Z\n---\n\nNew words.\n")
    build(site)
    assert ids() == [original]
    moved = site.root / "content/archive/2024/trip.md"
    moved.parent.mkdir(parents=True)
    path.rename(moved)
    build(site)
    assert ids() == [original]


def test_a_second_run_waits_for_the_lock(site: Site) -> None:
    small_site(site)
    config = load_config(site.config_path)
    with run_lock(config.state_dir, 1), pytest.raises(LockError):
        regenerate(config, NOW, lock_wait=0.2)
    assert not site.public.exists()


def test_deleting_the_state_loses_only_remembered_dates(site: Site) -> None:
    small_site(site)
    build(site)
    before = site.outputs()
    for f in (site.root / ".feeds").iterdir():
        f.unlink()
    assert build(site).written == ()
    assert site.outputs() == before


def shared_as_on_two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each feed is made by one of two shares, the posts rendered and read first by two
    others (``pipeline._primed``), all in this process."""
    on_two_cores_here(monkeypatch)
    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 1)
    monkeypatch.setattr(pipeline, "PRIME_FROM", 1)


def test_a_cache_writer_killed_as_it_writes_leaves_no_temporary_file(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache is written by a child while the run publishes. Killed halfway through
    its file, it leaves a temporary file: the run writes the cache itself, and removes
    that file before it lets go of the lock (the next run no longer has to)."""
    small_site(site)
    run = os.getpid()
    real = pipeline.dump_caches
    killed = site.root / "killed"

    def dying(*args: Any, **kwargs: Any) -> Any:
        chunks = real(*args, **kwargs)
        yield next(chunks)
        if os.getpid() != run:
            killed.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        yield from chunks

    monkeypatch.setattr(pipeline, "dump_caches", dying)
    result = build(site)
    assert result.published and result.exit_code == 0, result.problems
    assert killed.exists()  # the writer was a child, and it died
    state = site.root / ".feeds"
    assert sorted(p.name for p in state.iterdir() if p.name.endswith(".tmp")) == []
    monkeypatch.setattr(pipeline, "dump_caches", real)
    cache = (state / "cache.json").read_bytes()
    shutil.rmtree(site.public)
    (state / "cache.json").unlink()
    assert build(site).exit_code == 0
    assert (state / "cache.json").read_bytes() == cache


def test_a_post_every_share_renders_is_reported_once(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post whose HTML is too long is shown by the site feed and its tags' feeds, which
    the shares of a run on two cores make apart: each renders it, and finds it too long.
    It is reported once, as a run on one core reports it (found by a trial, three times
    over)."""
    for n in range(14):
        site.post(f"p{n:02d}.md", f"Post {n}", f"2024-05-{n + 1:02d}T10:00:00Z",
                  tags=f"[t{n}, long]")  # fmt: skip
    site.write(
        "long.md",
        "---\ntitle: Long\ndate: 2024-05-20T10:00:00Z\ntags: [t1, t2, t3, long]\n---\n\n"
        + "A paragraph of words. " * 200,
    )
    monkeypatch.setattr(pipeline, "MAX_CONTENT_CHARS", 1000)
    reports = []
    for cores_ in (1, 2):
        shutil.rmtree(site.public, ignore_errors=True)
        shutil.rmtree(site.root / ".feeds", ignore_errors=True)
        if cores_ == 1:
            monkeypatch.setattr(pipeline, "core_count", lambda: 1)
            monkeypatch.setattr(cores, "core_count", lambda: 1)
        else:
            shared_as_on_two_cores(monkeypatch)
            monkeypatch.setattr(pipeline, "MAKE_SHARES", 8)
        result = build(site)
        assert result.published, result.feed_problems
        reports.append([(p.code, p.path) for p in result.feed_problems])
    assert reports[0].count(("content-too-long", "long.md")) == 1
    assert reports[1] == reports[0]


@pytest.mark.parametrize("shares", ["one", "two"])
@pytest.mark.parametrize("how", ["deleted", "spoiled"])
def test_a_post_that_vanishes_after_it_was_read_is_skipped_alone(
    site: Site, monkeypatch: pytest.MonkeyPatch, how: str, shares: str
) -> None:
    """The newest post's file is deleted (or rewritten into invalid YAML) after the run
    read it and before its body is read again to be shown: that post alone is skipped,
    named with its file; every other post is published (exit 1)."""
    if shares == "two":
        shared_as_on_two_cores(monkeypatch)
    small_site(site)
    site.post("four.md", "Fourth post", "2024-05-04T10:00:00Z", tags="[python]")
    real = pipeline.resolve_posts
    victim = site.root / "content" / "four.md"

    def then_meddle(*args: object, **kwargs: object) -> object:
        resolved = real(*args, **kwargs)  # type: ignore[arg-type]
        if how == "deleted":
            victim.unlink(missing_ok=True)  # resolved twice: guessed first (_prime_ahead)
        else:
            victim.write_text("---\ntitle: [broken\n---\n", encoding="utf-8")
        return resolved

    monkeypatch.setattr(pipeline, "resolve_posts", then_meddle)
    result = build(site)
    assert result.published and result.exit_code == 1, result.feed_problems
    assert [(p.path, p.code) for p in result.skipped] == [("four.md", "changed-while-reading")]
    rss = (site.public / "rss.xml").read_text(encoding="utf-8")
    assert "Fourth post" not in rss
    assert all(f"{n} post" in rss for n in ("First", "Second", "Third"))
    assert "Fourth post" not in (site.public / "tags" / "python" / "atom.xml").read_text()


def test_many_posts_deleted_while_the_run_reads_them_are_skipped_at_once(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder synced during a run loses its eight newest posts after they were read:
    each remake of the feeds without the posts found gone would show older ones, gone
    too, and the remakes would run out with nothing published. Every post whose file is
    gone is skipped at once; the two left are published (exit 1)."""
    site.configure("feeds: {limit: 2}\n")
    for n in range(10):
        site.post(f"p{n}.md", f"Post {n}", f"2024-05-{n + 1:02d}T10:00:00Z")
    real = pipeline.resolve_posts

    def then_delete(*args: object, **kwargs: object) -> object:
        resolved = real(*args, **kwargs)  # type: ignore[arg-type]
        for n in range(2, 10):
            (site.root / "content" / f"p{n}.md").unlink()
        return resolved

    monkeypatch.setattr(pipeline, "resolve_posts", then_delete)
    result = build(site)
    assert result.published and result.exit_code == 1, result.feed_problems
    assert sorted(p.path for p in result.skipped) == [f"p{n}.md" for n in range(2, 10)]
    assert {p.message for p in result.skipped} == {"cannot read again: No such file or directory"}
    rss = (site.public / "rss.xml").read_text(encoding="utf-8")
    assert "Post 0" in rss and "Post 1" in rss


@pytest.mark.parametrize("shares", ["one", "two"])
def test_a_post_whose_entry_does_not_validate_is_left_out_alone(
    site: Site, monkeypatch: pytest.MonkeyPatch, shares: str
) -> None:
    """A value the reader lets through but no feed may hold (a host with a space) kept
    every feed of the site from being published, naming no post: the post alone is
    skipped, named with its file, and every other post published (exit 1)."""
    if shares == "two":
        shared_as_on_two_cores(monkeypatch)
    small_site(site)
    site.post("four.md", "Fourth post", "2024-05-04T10:00:00Z", tags="[python]",
              link='"http://exa mple.org/four"')  # fmt: skip
    result = build(site)
    assert result.published and result.exit_code == 1, result.feed_problems
    [problem] = result.skipped
    assert (problem.path, problem.code) == ("four.md", "invalid-entry")
    assert "exa mple.org" in problem.message
    assert result.feed_problems == ()
    rss = (site.public / "rss.xml").read_text(encoding="utf-8")
    assert "Fourth post" not in rss
    assert all(f"{n} post" in rss for n in ("First", "Second", "Third"))


def test_a_run_that_leaves_a_post_out_again_keeps_the_readings_it_found(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The readings a run keeps were compared with what it had read and what the
    build that held the post out found besides (verdicts for this run alone, never
    written): they always differed, and the same readings were written out again."""
    small_site(site)
    site.post("four.md", "Fourth post", "2024-05-04T10:00:00Z", link='"http://exa mple.org/4"')
    assert [p.path for p in build(site).skipped] == ["four.md"]
    kept = (site.root / ".feeds" / pipeline.READINGS_FILE).read_bytes()
    for feed in site.public.rglob("*.xml"):
        feed.unlink()  # made again, the post with them, then without it
    dumped = counting(monkeypatch, pipeline, "dump_readings")
    result = build(site)
    assert [p.path for p in result.skipped] == ["four.md"]
    assert "rss.xml" in result.written and dumped == []
    assert (site.root / ".feeds" / pipeline.READINGS_FILE).read_bytes() == kept


def test_a_first_run_that_renders_posts_while_it_resolves_them_publishes_the_same(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first run has a forked child render the posts its feeds will most likely show,
    and read their entries, while it resolves every post (``pipeline._prime_ahead``).
    Where that guess is wrong (a slug another post has first, a post that gives no date,
    one dated after the run), what the child did is not used: the feeds are the same
    bytes as a run's that begins nothing ahead."""
    site.configure("feeds: {limit: 10, per_author: true}\n")
    for n in range(60):
        site.post(f"p{n:02d}.md", f"Post {n}", f"2024-05-{n % 28 + 1:02d}T{n % 24:02d}:00:00Z",
                  tags=f"[t{n % 7}, T{n % 3}]", authors=f"[A{n % 4}]")  # fmt: skip
    # Older than the posts the feeds show: no guess sees it take the slug first.
    site.post("clash.md", "Clash", "2024-04-01T10:00:00Z", slug="post-59", tags="[T0]",
              authors="[A0]")  # fmt: skip
    site.post("a/clash.md", "Newest", "2024-05-30T10:00:00Z", slug="post-59")
    # First seen when its file was last written.
    when = int(datetime(2024, 5, 31, tzinfo=UTC).timestamp())
    site.write("undated.md", "---\ntitle: Undated\n---\nBody.\n", mtime=when)
    site.post("later.md", "Later", "2024-07-01T10:00:00Z", tags="[t1]")
    monkeypatch.setattr(pipeline, "core_count", lambda: 2)
    monkeypatch.setattr(cores, "core_count", lambda: 2)
    begun: list[int] = []

    def counted(work: Any, pieces: Any) -> Any:
        begun.append(len(pieces))
        return cores.ahead(work, pieces)

    monkeypatch.setattr(pipeline, "ahead", counted)
    result = build(site)
    assert len(begun) == 1 and begun[0] > 1 and result.exit_code == 0, result.problems
    primed = site.outputs()
    assert b"Undated" in primed["rss.xml"] and b"Later" not in primed["rss.xml"]
    assert b"https://example.org/post-59-2/" in primed["rss.xml"]
    shutil.rmtree(site.public)
    shutil.rmtree(site.root / ".feeds")
    monkeypatch.setattr(pipeline, "ahead", lambda work, pieces: None)
    assert build(site).exit_code == 0
    assert site.outputs() == primed


def test_a_site_too_big_renders_nothing_ahead(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its child would keep a copy of each page of memory this process writes to while
    it resolves every post (``PRIME_AHEAD_UP_TO``)."""
    for n in range(50):
        site.post(f"p{n:02d}.md", f"Post {n}", f"2024-05-{n % 28 + 1:02d}T10:00:00Z",
                  tags=f"[t{n % 10}]")  # fmt: skip
    monkeypatch.setattr(pipeline, "core_count", lambda: 2)
    begun: list[int] = []
    monkeypatch.setattr(pipeline, "ahead", lambda work, pieces: begun.append(len(pieces)))
    for most, ahead in ((49, False), (50, True)):
        monkeypatch.setattr(pipeline, "PRIME_AHEAD_UP_TO", most)
        begun.clear()
        shutil.rmtree(site.root / ".feeds", ignore_errors=True)
        assert build(site).exit_code == 0 and bool(begun) == ahead


def test_a_run_interrupted_while_it_publishes_leaves_the_cache_it_had(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C ends the run: the cache, which it writes itself on a big site, is not
    written then."""
    small_site(site)
    monkeypatch.setattr(pipeline, "CACHE_IN_BACKGROUND_UP_TO", 0)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "publish_files", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(site)
    assert not (site.root / ".feeds" / pipeline.CACHE_FILE).exists()


def test_a_link_with_a_space_is_percent_encoded(site: Site) -> None:
    site.post("a.md", "Alpha", link='"https://example.org/notes/a b/café"')
    assert build(site).exit_code == 0
    rss = (site.public / "rss.xml").read_text(encoding="utf-8")
    assert "<link>https://example.org/notes/a%20b/caf%C3%A9</link>" in rss


def test_a_new_post_never_takes_a_published_post_s_url(site: Site) -> None:
    """A post added later but dated earlier, with the same file name: the post readers
    know keeps its URL, and the new one gets ``-2``."""
    site.post("notes/market.md", "Market prices", "2024-03-16T09:00:00Z")
    assert build(site).exit_code == 0
    site.post("zzz/market.md", "An older market", "2024-03-01T09:00:00Z")
    result = build(site)
    links = {i["title"]: i["url"] for i in json.loads(site.outputs()["feed.json"])["items"]}
    assert links == {
        "Market prices": "https://example.org/market/",
        "An older market": "https://example.org/market-2/",
    }
    assert [(p.code, p.path) for p in result.problems] == [("duplicate-slug", "zzz/market.md")]


def test_a_published_url_stays_with_its_post_in_every_later_run(site: Site) -> None:
    """The new, older post got ``-2``; later full runs (an edit of another post's front
    matter, a lost cache) keep each URL with its post. A deleted post come back takes
    no URL from the post that has it now."""

    def links() -> dict[str, str]:
        items = json.loads(site.outputs()["feed.json"])["items"]
        return {item["title"]: item["url"] for item in items}

    site.post("notes/dup.md", "First", "2024-03-10T09:00:00Z")
    other = site.post("other.md", "Other", "2024-03-20T09:00:00Z")
    assert build(site).exit_code == 0
    site.post("essays/dup.md", "Older", "2024-03-01T09:00:00Z")
    build(site, NOW + timedelta(hours=1))
    expected = {
        "First": "https://example.org/dup/",
        "Older": "https://example.org/dup-2/",
        "Other": "https://example.org/other/",
    }
    assert links() == expected
    other.write_text(other.read_text().replace("title:", "summary: hi\ntitle:"))
    result = build(site, NOW + timedelta(hours=2))
    assert links() == expected
    assert [(p.code, p.path) for p in result.problems] == [("duplicate-slug", "essays/dup.md")]
    (site.root / ".feeds" / "cache.json").unlink()
    (site.root / ".feeds" / "index.json").unlink()
    build(site, NOW + timedelta(hours=3))
    assert links() == expected

    solo = site.post("solo.md", "Solo", "2024-03-05T09:00:00Z")
    build(site, NOW + timedelta(hours=4))
    saved = solo.read_bytes()
    solo.unlink()
    build(site, NOW + timedelta(hours=5))
    site.post("later/solo.md", "Unrelated", "2024-03-15T09:00:00Z")
    build(site, NOW + timedelta(hours=6))
    assert links()["Unrelated"] == "https://example.org/solo/"
    solo.write_bytes(saved)
    build(site, NOW + timedelta(hours=7))
    assert links()["Unrelated"] == "https://example.org/solo/"
    assert links()["Solo"] == "https://example.org/solo-2/"


@pytest.mark.parametrize(
    "broken",
    [
        "---\ntitle: Walking\ntags: [walking\n---\n\nBody.\n",
        # read, but skipped at once: its enclosure file is not on the site (moved away)
        "---\ntitle: Walking\ndate: 2024-05-01T10:00:00Z\ntags: [walking]\nauthor: Zoë\n"
        "enclosure: /media/walk.mp3\n---\n\nBody.\n",
    ],
    ids=["unreadable", "enclosure-missing"],
)
def test_a_tag_feed_stays_while_its_only_post_is_broken(site: Site, broken: str) -> None:
    """A typo that makes a post unreadable, or a file it needs gone, skips it, but the
    feeds of its tags and authors are kept as they were, not removed (readers told 410
    Gone drop a feed for good); once the post reads again, or is deleted, they follow it."""
    site.post("a.md", "Walking", "2024-05-01T10:00:00Z", tags="[walking]", author="Zoë")
    site.post("b.md", "Other", "2024-05-02T10:00:00Z")
    assert build(site).exit_code == 0
    kept = {k: v for k, v in site.outputs().items() if k.startswith(("tags/", "authors/zo"))}
    assert "tags/walking/rss.xml" in kept and "authors/zoe/rss.xml" in kept
    site.write("a.md", broken)
    broken_run = build(site, NOW + timedelta(hours=1))
    assert [p.level for p in broken_run.problems] == ["error"]
    assert broken_run.exit_code == 1 and broken_run.removed == ()
    assert {k: v for k, v in site.outputs().items() if k in kept} == kept
    # A run through the index (a new post) keeps them too.
    site.post("c.md", "Newer", "2024-05-03T10:00:00Z")
    newer = build(site, NOW + timedelta(hours=1, minutes=30))
    assert newer.exit_code == 1 and newer.removed == ()
    assert {k: v for k, v in site.outputs().items() if k in kept} == kept
    (site.root / "content" / "a.md").unlink()
    gone = build(site, NOW + timedelta(hours=2))
    assert set(gone.removed) == set(kept)


def test_a_deleted_post_s_id_is_never_given_to_another(site: Site) -> None:
    """Readers know an entry by its id: a new post that would make a deleted post's id
    (same slug, same day) gets another, even at the deleted post's path; the deleted
    post restored, byte for byte, has its own again."""

    def ids() -> dict[str, str]:
        items = json.loads(site.outputs()["feed.json"])["items"]
        return {item["title"]: item["id"] for item in items}

    site.post("a.md", "Keep")
    tide = site.post("notes/daily.md", "Morning tide", "2024-05-20T08:00:00Z")
    assert build(site).exit_code == 0
    old_id, saved = ids()["Morning tide"], tide.read_bytes()
    tide.unlink()
    assert build(site, NOW + timedelta(hours=1)).exit_code == 0
    site.post("other/daily.md", "Evening concert", "2024-05-20T12:00:00Z")
    result = build(site, NOW + timedelta(hours=2))
    assert ids()["Evening concert"] == old_id + "-2"
    assert [p.message for p in result.problems] == [
        f"id '{old_id}' is taken by a deleted post; using '{old_id}-2'"
    ]
    site.post("notes/daily.md", "Afternoon swim", "2024-05-20T15:00:00Z")
    build(site, NOW + timedelta(hours=3))
    assert ids()["Afternoon swim"] not in (old_id, old_id + "-2")
    tide.unlink()
    build(site, NOW + timedelta(hours=4))
    tide.write_bytes(saved)
    build(site, NOW + timedelta(hours=5))
    assert ids() == {
        "Keep": ids()["Keep"],
        "Morning tide": old_id,
        "Evening concert": old_id + "-2",
    }


def test_a_post_renamed_and_edited_at_once_is_told_how_to_keep_its_id(site: Site) -> None:
    """Renamed alone, a post keeps its id; renamed and edited in one step it cannot be
    told from a new post: the warning names the deleted file and the id to pin."""
    site.post("a.md", "Keep")
    walk = site.post("essays/on-walking.md", "On walking", "2024-05-20T08:00:00Z")
    assert build(site).exit_code == 0
    old_id = json.loads(site.outputs()["feed.json"])["items"][0]["id"]
    text = walk.read_text(encoding="utf-8").replace("Body of", "The body of")
    walk.unlink()
    moved = site.write("walks/sea-wall.md", text)
    result = build(site, NOW + timedelta(hours=1))
    [warning] = [p for p in result.problems if p.code == "new-id"]
    assert warning.path == "walks/sea-wall.md"
    assert "essays/on-walking.md of the same title was deleted" in warning.message
    assert f"'id: {old_id}'" in warning.message
    moved.write_text(text.replace("title:", f"id: {old_id}\ntitle:"), encoding="utf-8")
    result = build(site, NOW + timedelta(hours=2))
    assert json.loads(site.outputs()["feed.json"])["items"][0]["id"] == old_id
    assert not [p for p in result.problems if p.level == "warning"]


def test_a_post_added_since_the_cache_was_written_is_told_of_when_renamed_and_edited(
    site: Site,
) -> None:
    """The cache is written again only now and then: a post a later full run read is
    missing from it, and the warning was missing for it (the posts a blogger renames
    most are the recent ones). Its title comes from the index that run left."""
    site.post("old.md", "Old one")
    assert build(site).exit_code == 0
    site.post("old.md", "Old one, retitled")  # a full run, which leaves the cache as it was
    fresh = site.post("fresh.md", "Simple post", "2024-05-20T08:00:00Z")
    assert build(site, NOW + timedelta(hours=1)).exit_code == 0
    text = fresh.read_text(encoding="utf-8").replace("Body of", "The body of")
    fresh.unlink()
    site.write("renamed.md", text)
    site.post("old.md", "Old one, again")
    result = build(site, NOW + timedelta(hours=2))
    [warning] = [p for p in result.problems if p.code == "new-id"]
    assert (warning.path, "fresh.md of the same title" in warning.message) == ("renamed.md", True)


def test_a_run_that_published_but_could_not_save_its_state_says_so(site: Site) -> None:
    """The feeds are renamed into place before the state is written: when the state then
    cannot be written, the run did publish, and must not say it published nothing."""
    site.post("a.md", "Alpha", "2024-05-01T10:00:00Z")
    assert build(site).exit_code == 0
    cache = site.root / ".feeds" / "cache.json"
    cache.unlink()
    cache.mkdir()
    site.post("b.md", "Beta", "2024-05-02T10:00:00Z", tags="[fresh]")
    result = build(site, NOW + timedelta(hours=1))
    assert result.published and result.exit_code == 1
    [problem] = result.feed_problems
    assert problem.code == "state-not-saved"
    assert problem.message.startswith("published, but the state was not saved: ")
    assert "tags/fresh/rss.xml" in result.written
    assert b"Beta" in site.outputs()["rss.xml"]
    cache.rmdir()
    again = build(site, NOW + timedelta(hours=2))
    assert again.exit_code == 0 and again.written == ()


def test_a_killed_run_s_temporary_files_in_the_state_folder_are_swept(site: Site) -> None:
    site.post("a.md", "Alpha")
    assert build(site).exit_code == 0
    state = site.root / ".feeds"
    left = state / ".index.json.k1ll3d00.tmp"
    left.write_bytes(b"x" * 1000)
    mine = state / "notes.tmp"
    mine.write_bytes(b"kept")
    build(site, NOW + timedelta(hours=1))
    assert not left.exists() and mine.read_bytes() == b"kept"


def test_a_post_keeps_its_id_and_url_through_later_edits_and_renames(site: Site) -> None:
    """Posts published by runs through the index are remembered as those of the state:
    a post that then asks for another post's slug gets ``-2`` and keeps its id, and a
    post edited, then renamed, keeps its id (its bytes as they are now are known)."""

    def items() -> dict[str, tuple[str, str]]:
        feed = json.loads(site.outputs()["feed.json"])["items"]
        return {item["title"]: (item["url"], item["id"]) for item in feed}

    site.post("news.md", "One", "2022-01-01T00:00:00Z")
    assert build(site).exit_code == 0
    two = site.post("solo.md", "Two", "2021-01-01T00:00:00Z")
    build(site, NOW + timedelta(hours=1))  # through the index
    before = items()
    two.write_text(two.read_text().replace("title:", "slug: news\ntitle:"))
    build(site, NOW + timedelta(hours=2))
    assert items()["One"] == before["One"]
    assert items()["Two"] == ("https://example.org/news-2/", before["Two"][1])

    p = site.post("p.md", "Pea", "2023-07-31T00:00:00Z")
    build(site, NOW + timedelta(hours=3))
    pea = items()["Pea"]
    p.write_text(p.read_text().replace("Body of", "The body of"))
    build(site, NOW + timedelta(hours=4))
    p.rename(site.root / "content" / "q.md")
    build(site, NOW + timedelta(hours=5))
    assert items()["Pea"] == ("https://example.org/q/", pea[1])


def test_a_file_renamed_and_another_written_in_its_place_are_two_posts(site: Site) -> None:
    """One step: ``dup.md`` renamed ``solo.md``, and a new ``dup.md`` written. The moved
    post keeps its id (its bytes tell it); the new one at the old path gets its own, and
    readers see it as new."""

    def ids() -> dict[str, str]:
        return {i["title"]: i["id"] for i in json.loads(site.outputs()["feed.json"])["items"]}

    dup = site.post("dup.md", "One", "2022-01-01T00:00:00Z")
    build(site)
    build(site, NOW + timedelta(minutes=30))
    one = ids()["One"]
    dup.rename(site.root / "content" / "solo.md")
    site.post("dup.md", "The second", "2022-02-01T00:00:00Z")
    build(site, NOW + timedelta(hours=1))
    assert ids()["One"] == one
    assert ids()["The second"] not in (one, "")


def test_a_post_edited_through_the_index_then_renamed_keeps_its_id(site: Site) -> None:
    """A body edit takes the index, which writes no state: the state still holds the
    post's old bytes. Renamed later, the post is still known by its bytes now."""
    site.post("a.md", "Keep")
    news = site.post("news.md", "News", "2023-05-09T12:00:00Z", slug="dup")
    assert build(site).exit_code == 0

    def item() -> dict[str, str]:
        items = json.loads(site.outputs()["feed.json"])["items"]
        [found] = [i for i in items if i["title"] == "News"]
        return found

    first = item()
    news.write_text(news.read_text().replace("Body of", "The body of"))
    build(site, NOW + timedelta(hours=1))
    (site.root / ".feeds" / "index.json").unlink()
    news.rename(site.root / "content" / "solo.md")
    build(site, NOW + timedelta(hours=2))
    assert (item()["id"], item()["url"]) == (first["id"], first["url"])


def test_a_new_file_of_a_moved_post_s_name_is_not_taken_for_it(site: Site) -> None:
    """``solo.md`` renamed and edited, while another post is written as ``a/solo.md``:
    the only file of the gone one's name is another post (its title says so), and gets
    an id of its own."""
    site.post("a.md", "Keep")
    solo = site.post("solo.md", "Sea wall", "2022-12-30T14:00:00Z")
    build(site)
    build(site, NOW + timedelta(minutes=30))
    [old] = [
        i["id"]
        for i in json.loads(site.outputs()["feed.json"])["items"]
        if i["title"] == "Sea wall"
    ]
    text = solo.read_text().replace("Body of", "The body of")
    solo.unlink()
    site.write("b/news.md", text)
    site.post("a/solo.md", "Harbour", "2022-10-30T06:00:00Z")
    build(site, NOW + timedelta(hours=1))
    items = {i["title"]: i["id"] for i in json.loads(site.outputs()["feed.json"])["items"]}
    assert items["Harbour"] != old


def test_a_post_added_and_deleted_through_the_index_keeps_its_id(site: Site) -> None:
    """Added and deleted by runs through the index, which write no state: the next full
    run still retires it, so no other post is given its id, and the file restored byte
    for byte has it again."""

    def ids() -> dict[str, str]:
        return {i["title"]: i["id"] for i in json.loads(site.outputs()["feed.json"])["items"]}

    site.post("a.md", "Keep")
    assert build(site).exit_code == 0
    tide = site.post("notes/daily.md", "Tide", "2024-05-20T08:00:00Z")
    build(site, NOW + timedelta(hours=1))
    old, saved = ids()["Tide"], tide.read_bytes()
    site.post("b.md", "Added beside", "2024-05-21T08:00:00Z")
    build(site, NOW + timedelta(hours=2))
    # In one step: the post deleted, another added (a run through the index)...
    tide.unlink()
    site.post("c.md", "Added too", "2024-05-22T08:00:00Z")
    build(site, NOW + timedelta(hours=3))
    # ... then one that would make its id.
    site.post("other/daily.md", "Concert", "2024-05-20T12:00:00Z", tags="[music]")
    build(site, NOW + timedelta(hours=3, minutes=30))
    (site.root / ".feeds" / "index.json").unlink()  # the next run is a full one
    build(site, NOW + timedelta(hours=4))
    assert ids()["Concert"] != old
    tide.write_bytes(saved)
    build(site, NOW + timedelta(hours=5))
    assert ids()["Tide"] == old


def test_a_deleted_post_restored_takes_its_id_through_a_full_run(site: Site) -> None:
    """Deleted (a full run retires it), then restored byte for byte: the run through the
    index would make it a new id, and leaves it to a full run, which gives the old one."""

    def ids() -> dict[str, str]:
        return {i["title"]: i["id"] for i in json.loads(site.outputs()["feed.json"])["items"]}

    site.post("a.md", "Keep")
    tide = site.post("notes/daily.md", "Tide", "2024-05-20T08:00:00Z", slug="solo")
    other = site.post("other.md", "Other", "2024-05-01T08:00:00Z", slug="solo")
    assert build(site).exit_code == 0
    old, saved = ids()["Tide"], tide.read_bytes()
    assert old.endswith("/solo-2")
    tide.unlink()
    other.unlink()  # "solo" is free again: restored, Tide would be made "solo"
    build(site, NOW + timedelta(hours=1))
    tide.write_bytes(saved)
    build(site, NOW + timedelta(hours=2))
    assert ids()["Tide"] == old


def test_names_that_make_one_slug_share_a_feed_with_a_warning_naming_both(site: Site) -> None:
    """``C++`` and ``C``, ``Zürich`` and ``Zurich``, ``Straße`` and ``Strasse``: one slug,
    so one feed, titled as its newest post spells the name; each other spelling is named
    with the first file that writes it, beside the first spelling and its file. Letter
    case alone makes no other name."""
    site.post("b.md", "Older", "2024-05-01T10:00:00Z",
              tags="[C++, Zürich, Straße, Python]", author="Zoë Lee")  # fmt: skip
    site.post("a.md", "Newer", "2024-05-02T10:00:00Z",
              tags="[C, Zurich, Strasse, python]", author="Zoe Lee")  # fmt: skip
    site.post("c.md", "Newest", "2024-05-03T10:00:00Z", tags="[Zürich]")
    first = build(site)
    assert first.exit_code == 0
    shared = [(p.code, p.path, p.message) for p in first.problems]
    tail = "; write one spelling, or another name to keep them apart"
    assert shared == [
        ("shared-tag-feed", "b.md", "tag 'C++' makes the same slug as tag 'C' (a.md), so both "
         "share the feed tags/c/, titled 'Test Site: C' as its newest post spells the tag" + tail),
        ("shared-tag-feed", "b.md", "tag 'Straße' makes the same slug as tag 'Strasse' (a.md), "
         "so both share the feed tags/strasse/, titled 'Test Site: Strasse' as its newest post "
         "spells the tag" + tail),
        ("shared-tag-feed", "b.md", "tag 'Zürich' makes the same slug as tag 'Zurich' (a.md), so "
         "both share the feed tags/zurich/, titled 'Test Site: Zürich' as its newest post spells "
         "the tag" + tail),
        ("shared-author-feed", "b.md", "author 'Zoë Lee' makes the same slug as author 'Zoe Lee' "
         "(a.md), so both share the feed authors/zoe-lee/, titled 'Test Site: Zoe Lee' as its "
         "newest post spells the author" + tail),
    ]  # fmt: skip
    titles = {
        name: json.loads(site.outputs()[f"{name}/feed.json"])["title"]
        for name in ("tags/c", "tags/zurich", "tags/python", "authors/zoe-lee")
    }
    assert titles == {
        "tags/c": "Test Site: C",
        "tags/zurich": "Test Site: Zürich",
        "tags/python": "Test Site: python",
        "authors/zoe-lee": "Test Site: Zoe Lee",
    }
    (site.root / ".feeds").rename(site.root / "old-state")
    again = build(site, NOW + timedelta(hours=1))
    assert again.problems == first.problems


def test_names_that_make_one_slug_are_not_told_of_without_their_feeds(site: Site) -> None:
    site.configure("feeds:\n  per_tag: false\n  per_author: false\n")
    site.post("a.md", "One", tags="[C++]", author="Zoë")
    site.post("b.md", "Two", "2024-05-02T10:00:00Z", tags="[C]", author="Zoe")
    assert build(site).problems == ()


def test_authors_known_by_an_address_alone_are_published_and_valid(site: Site) -> None:
    """RSS names them in dc:creator, Atom with their address as name and email, JSON
    Feed by name; every feed passes validation, and their author feeds are made."""
    site.post("a.md", "Bare", author="ann@example.org")
    site.post("b.md", "Mapped", "2024-05-02T10:00:00Z", author="{email: bob@example.org}")
    result = build(site)
    assert result.exit_code == 0, result.problems
    out = site.outputs()
    atom = out["atom.xml"].decode()
    for who in ("ann@example.org", "bob@example.org"):
        assert f"<name>{who}</name>\n      <email>{who}</email>" in atom
        assert f"<dc:creator>{who}</dc:creator>" in out["rss.xml"].decode()
    items = json.loads(out["feed.json"])["items"]
    assert [i["authors"] for i in items] == [[{"name": "bob@example.org"}],
                                             [{"name": "ann@example.org"}]]  # fmt: skip
    assert "authors/bob-example-org/atom.xml" in out


@pytest.mark.parametrize("ending", [True, False])
def test_what_a_run_made_is_old_once_the_collector_resumes_if_the_process_ends(
    ending: bool,
) -> None:
    # Left in the youngest generation, every object the run made would be walked by the
    # collector at the next allocation: 10 to 40 ms as a command ends, at 10,000 posts.
    # A service walks them once, soon after the run: cycles among them are freed then.
    assert gc.isenabled()
    gc.collect()  # no older generation is due for a collection: the next one is the youngest's
    with collector_paused(ending=ending):
        assert not gc.isenabled()
        made = [[] for _ in range(10_000)]
    assert gc.isenabled()
    assert any(o is made[-1] for o in gc.get_objects(generation=2)) == ending
