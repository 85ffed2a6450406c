"""Incremental runs: reuse only what is proven unchanged, and give the same bytes."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feeds import pipeline
from feeds.config import load_config
from feeds.pipeline import CACHE_FILE, RunResult, regenerate
from tests.conftest import OLD_MTIME, Site

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
    (tmp_path / "twins" / name).mkdir(parents=True)
    twin = Site(tmp_path / "twins" / name)
    shutil.rmtree(twin.root / "content")
    shutil.copytree(site.root / "content", twin.root / "content")
    (twin.root / ".feeds").mkdir()
    shutil.copy(site.root / ".feeds" / "state.json", twin.root / ".feeds" / "state.json")
    build(twin, use_cache=False)
    return twin.outputs()


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
    assert uncached_twin_styled(site, tmp_path) == styled
    site.configure("")
    build(site)
    assert site.outputs() == plain, "switched off: the stylesheet and its instructions go"


def uncached_twin_styled(site: Site, tmp_path: Path) -> dict[str, bytes]:
    (tmp_path / "twins" / "styled").mkdir(parents=True)
    twin = Site(tmp_path / "twins" / "styled")
    twin.configure("feeds:\n  stylesheet: true\n")
    shutil.rmtree(twin.root / "content")
    shutil.copytree(site.root / "content", twin.root / "content")
    (twin.root / ".feeds").mkdir()
    shutil.copy(site.root / ".feeds" / "state.json", twin.root / ".feeds" / "state.json")
    build(twin, use_cache=False)
    return twin.outputs()
