"""RFC 5005 archives (``feeds.archives``): every post exactly once, complete pages frozen."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import pipeline
from feeds.config import load_config
from feeds.model import Author, FeedSpec, Post
from feeds.pipeline import RunResult, regenerate
from feeds.plan import page_folder, plan_archives
from feeds.state import Sealed
from feeds.validate import validate_feed
from tests.conftest import Site
from tests.test_cli import invoke
from tests.test_incremental import counting

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
BASE = "https://example.org/"
ARCHIVES = "feeds:\n  limit: 3\n  archives: true\n  per_tag: false\n  per_author: false\n"


# -- planning ---------------------------------------------------------------------------


def fake_post(n: int) -> Post:
    when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=n)
    return Post(f"p{n}.md", f"tag:example.org,2024:p{n}", f"p{n}", f"{BASE}p{n}/", f"Post {n}",
                when, when, (), "", "", ())  # fmt: skip


def site_spec(posts: list[Post]) -> FeedSpec:
    return FeedSpec("site", "", "", "T", "D", BASE, "en", tuple(posts), Author("Desk"))


def replan(posts: list[Post], sealed: tuple[Sealed, ...], size: int) -> tuple[Sealed, ...]:
    """One run's plan; returns the sealed pages the next run starts from."""
    newest_first = sorted(posts, key=lambda p: p.published, reverse=True)
    plan = plan_archives(site_spec(newest_first), newest_first, sealed, size)
    shown = [p.id for spec in (plan.main, *plan.pages) for p in spec.posts]
    assert sorted(shown) == sorted(p.id for p in posts), "every post exactly once"
    # The main feed is full unless deletions left fewer posts outside complete pages.
    taken = {i for page in sealed for i in page.ids}
    assert len(plan.main.posts) == min(size, len([p for p in posts if p.id not in taken]))
    for n, page in enumerate(plan.pages, 1):
        assert page.folder == page_folder(n)
        assert page.history is not None
        assert page.history.prev == (page_folder(n - 1) if n > 1 else None)
        assert page.history.complete == (n < len(plan.pages))
        assert page.history.next == (page_folder(n + 1) if page.history.complete else None)
    if plan.pages:
        assert plan.main.history is not None
        assert plan.main.history.prev == page_folder(len(plan.pages))
    # A complete page keeps the posts it was sealed with, in the order it had.
    for old, new in zip(sealed, plan.sealed, strict=False):
        assert old == new
    return plan.sealed


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 5),
    steps=st.lists(st.tuples(st.sampled_from(["add", "backdate", "delete"]), st.integers(0, 99)),
                   max_size=25),
)  # fmt: skip
def test_every_post_is_shown_exactly_once_whatever_happens(
    size: int, steps: list[tuple[str, int]]
) -> None:
    posts = [fake_post(n) for n in range(7)]
    sealed = replan(posts, (), size)
    fresh = 1000
    for action, pick in steps:
        if action == "add":
            posts.append(fake_post(fresh))
        elif action == "backdate":
            posts.append(fake_post(-fresh))
        elif posts:
            posts.pop(pick % len(posts))
        fresh += 1
        sealed = replan(posts, sealed, size)


def test_pages_are_counted_from_the_oldest_post() -> None:
    posts = [fake_post(n) for n in range(10)]
    plan = plan_archives(site_spec(posts[::-1]), posts[::-1], (), 3)
    held = [[p.title for p in page.posts] for page in plan.pages]
    assert held == [["Post 2", "Post 1", "Post 0"], ["Post 5", "Post 4", "Post 3"], ["Post 6"]]
    assert [p.title for p in plan.main.posts] == ["Post 9", "Post 8", "Post 7"]
    assert [s.page for s in plan.sealed] == [1, 2]


def test_no_archive_while_the_main_feed_holds_every_post() -> None:
    posts = [fake_post(n) for n in range(3)][::-1]
    plan = plan_archives(site_spec(posts), posts, (), 3)
    assert (plan.pages, plan.sealed, plan.main.history_links("atom")) == ((), (), {})


# -- building -----------------------------------------------------------------------------


def post(
    site: Site, n: int, day: int | None = None, title: str | None = None, hour: int = 10
) -> None:
    site.post(f"p{n:02d}.md", title or f"Post {n}", f"2024-05-{day or n:02d}T{hour:02d}:00:00Z")


def build(site: Site, use_cache: bool = True) -> RunResult:
    result = regenerate(load_config(site.config_path), NOW, lock_wait=1, use_cache=use_cache)
    assert result.published, result.feed_problems
    return result


def archive_files(site: Site) -> dict[str, bytes]:
    return {k: v for k, v in site.outputs().items() if k.startswith("archive/")}


def walk(site: Site, fmt: str) -> list[str]:
    """Titles a reader finds following prev-archive links from the main feed, on disk."""
    name = {"rss": "rss.xml", "atom": "atom.xml"}[fmt]
    url: str | None = BASE + name
    titles: list[str] = []
    while url is not None:
        parsed = feedparser.parse(
            (site.public / url.removeprefix(BASE)).read_bytes(), sanitize_html=False
        )
        titles += [e.title for e in parsed.entries]
        url = next((link.href for link in parsed.feed.links if link.rel == "prev-archive"), None)
    return titles


@pytest.fixture
def archived(site: Site) -> Site:
    site.configure(ARCHIVES)
    for n in range(1, 11):
        post(site, n)
    return site


def test_a_reader_walking_prev_archive_links_finds_every_post_once(archived: Site) -> None:
    result = build(archived)
    expected = [f"Post {n}" for n in range(10, 0, -1)]
    assert walk(archived, "rss") == walk(archived, "atom") == expected
    # Main feed, pages 1 and 2 complete (3 posts each), page 3 open (1 post); both formats.
    assert sorted(archive_files(archived)) == [
        f"archive/{n}/{name}" for n in (1, 2, 3) for name in ("atom.xml", "rss.xml")
    ]
    assert result.feeds == 3 + 6
    assert not result.feed_problems
    assert b"archive" not in (archived.public / "feed.json").read_bytes()


def test_complete_pages_keep_their_bytes_and_files_across_runs_and_new_posts(
    archived: Site,
) -> None:
    build(archived)
    complete = {k: v for k, v in archive_files(archived).items() if k.startswith(("archive/1/",
                "archive/2/"))}  # fmt: skip
    mtimes = {k: v for k, v in archived.mtimes().items() if k in complete}
    assert build(archived).written == ()
    for n in range(11, 18):  # pages 3 and 4 fill up; page 5 opens
        post(archived, n)
        build(archived)
        now = archive_files(archived)
        assert {k: now[k] for k in complete} == complete
        assert {k: v for k, v in archived.mtimes().items() if k in complete} == mtimes
    assert walk(archived, "atom") == [f"Post {n}" for n in range(17, 0, -1)]
    assert sorted({k.split("/")[1] for k in archive_files(archived)}) == ["1", "2", "3", "4", "5"]


def test_edits_deletions_and_back_dated_posts_leave_complete_pages_alone(archived: Site) -> None:
    build(archived)
    before = archive_files(archived)
    post(archived, 2, title="Post 2, edited")  # in complete page 1
    (archived.root / "content/p05.md").unlink()  # in complete page 2
    post(archived, 99, day=1, title="Back-dated")  # older than every post
    build(archived)
    after = archive_files(archived)
    for name in ("archive/1/atom.xml", "archive/1/rss.xml", "archive/2/atom.xml"):
        assert after[name] == before[name], name
    # The back-dated post joins the open page; the deleted one stays where it was archived.
    titles = walk(archived, "atom")
    assert titles.count("Back-dated") == 1 and titles.count("Post 5") == 1
    assert "Post 2, edited" not in titles
    assert len(titles) == len(set(titles)) == 11


def test_a_complete_page_removed_from_disk_is_made_again_from_its_posts(archived: Site) -> None:
    build(archived)
    post(archived, 2, title="Post 2, withdrawn wording")
    (archived.root / "content/p01.md").unlink()
    (archived.public / "archive/1/atom.xml").unlink()
    result = build(archived)
    remade = [p for p in result.feed_problems if p.code == "archive-remade"]
    assert [(p.level, p.path) for p in remade] == [("warning", "archive/1/atom.xml")]
    page = feedparser.parse((archived.public / "archive/1/atom.xml").read_bytes())
    assert [e.title for e in page.entries] == ["Post 3", "Post 2, withdrawn wording"]
    # Made again once, then kept like any complete page.
    assert build(archived).written == ()


def test_every_archive_page_passes_validation_with_its_links(archived: Site) -> None:
    post(archived, 11)
    build(archived)
    for path, data in archive_files(archived).items():
        fmt = "atom" if path.endswith("atom.xml") else "rss"
        page = int(path.split("/")[1])
        links = {"current": f"{BASE}{fmt}.xml"}
        if page > 1:
            links["prev-archive"] = f"{BASE}archive/{page - 1}/{fmt}.xml"
        if page < 3:
            links["next-archive"] = f"{BASE}archive/{page + 1}/{fmt}.xml"
        assert validate_feed(data, BASE + path, fmt=fmt, links=links, now=NOW) == (), path
        assert (b"<fh:archive/>" in data) == (page < 3), path


def test_a_page_written_with_a_wrong_link_is_not_published(
    archived: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.writers._history import HistoryExtension

    real = HistoryExtension.set

    def crossed(self: HistoryExtension, spec: FeedSpec, fmt: str) -> None:
        real(self, spec, fmt)
        if "prev-archive" in self.links and "current" in self.links:
            self.links["prev-archive"] = self.links["current"]  # a loop back to the main feed

    build(archived)
    before = archived.outputs()
    post(archived, 11)
    monkeypatch.setattr(HistoryExtension, "set", crossed)
    result = regenerate(load_config(archived.config_path), NOW, lock_wait=1)
    assert not result.published
    assert {p.code for p in result.feed_problems} == {"history-mismatch"}
    assert archived.outputs() == before


def test_turning_archives_on_for_an_existing_site(site: Site) -> None:
    for n in range(1, 8):
        post(site, n)
    site.configure("feeds:\n  limit: 3\n")
    build(site)
    assert not archive_files(site)
    site.configure(ARCHIVES)
    build(site)
    assert walk(site, "rss") == [f"Post {n}" for n in range(7, 0, -1)]
    site.configure("feeds:\n  limit: 3\n")
    build(site)
    assert not archive_files(site)
    assert "archives" in (site.root / ".feeds/state.json").read_text()
    # On again: the pages hold what they held, made again without a word (the run that
    # turned archives off removed their files itself).
    site.configure(ARCHIVES)
    result = build(site)
    assert walk(site, "rss") == [f"Post {n}" for n in range(7, 0, -1)]
    assert [p.code for p in result.feed_problems] == []


def test_archives_on_a_site_with_fewer_posts_than_the_limit(site: Site) -> None:
    """No archive page yet: the site feed holds every post (this once raised an
    IndexError out of the run), and one comes with the post past the limit."""
    for n in range(1, 4):
        post(site, n)
    site.configure("feeds:\n  limit: 3\n  archives: true\n")
    build(site)
    assert not archive_files(site)
    post(site, 4)
    build(site)
    assert walk(site, "rss") == [f"Post {n}" for n in range(4, 0, -1)]


def uncached_twin(archived: Site, tmp_path: Path, name: str) -> dict[str, bytes]:
    """The site built from scratch: content, state and the complete pages' files (the
    published record a build never makes again), nothing cached."""
    (tmp_path / name).mkdir()
    copy = Site(tmp_path / name)
    copy.configure(ARCHIVES)
    shutil.rmtree(copy.root / "content")
    shutil.copytree(archived.root / "content", copy.root / "content")
    (copy.root / ".feeds").mkdir()
    shutil.copy(archived.root / ".feeds/state.json", copy.root / ".feeds/state.json")
    for rel, data in archive_files(archived).items():
        if b"<fh:archive/>" in data:
            (copy.public / rel).parent.mkdir(parents=True, exist_ok=True)
            (copy.public / rel).write_bytes(data)
    build(copy, use_cache=False)
    return copy.outputs()


def test_cached_and_uncached_builds_give_the_same_bytes(archived: Site, tmp_path: Path) -> None:
    def twin(name: str) -> dict[str, bytes]:
        return uncached_twin(archived, tmp_path, name)

    build(archived)
    assert archived.outputs() == twin("t0")
    steps = [
        lambda: post(archived, 11),
        lambda: post(archived, 2, title="Post 2, edited"),  # in a complete page
        lambda: post(archived, 9, title="Post 9, edited"),  # in the open page
        lambda: (archived.root / "content/p11.md").unlink(),  # the newest
        lambda: post(archived, 98, day=1, title="Back-dated"),
        lambda: [post(archived, n) for n in (12, 13, 14, 15)],
    ]
    for i, step in enumerate(steps, 1):
        step()
        build(archived)
        assert archived.outputs() == twin(f"t{i}"), f"step {i}"


def edit_body(site: Site, n: int, step: int) -> None:
    """Post ``n``'s body gets a sentence; its metadata stays (the file time moves on)."""
    path = site.root / f"content/p{n:02d}.md"
    path.write_bytes(path.read_bytes() + f"Edit {step}.\n".encode())
    os.utime(path, (1_700_001_000 + step, 1_700_001_000 + step))


def test_body_edits_and_new_posts_take_the_index_until_a_page_completes(
    archived: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bodies edited in the main feed and a complete page, a new post that moves the main
    feed's oldest into the open page, a body edited there: runs through the index, which
    make the main feed and the open page as their posts change and leave complete pages
    alone. The post that completes the open page, a complete page's file changed on disk
    and a back-dated post make full runs. Every run publishes an uncached build's bytes."""
    build(archived)  # main feed: posts 10, 9, 8; pages 1 and 2 complete; page 3 holds 7
    complete = {k: v for k, v in archive_files(archived).items() if b"<fh:archive/>" in v}
    resolves = counting(monkeypatch, pipeline, "resolve_posts")

    def touch_page() -> None:
        page = archived.public / "archive/1/rss.xml"
        os.utime(page, (1_700_002_000, 1_700_002_000))

    steps = [
        ("main feed body", lambda: edit_body(archived, 9, 1), False, {"rss.xml"}),
        ("complete page body", lambda: edit_body(archived, 2, 2), False, set()),
        # Post 8 leaves the main feed for the open page, which shows no changed post.
        ("new post", lambda: post(archived, 11), False, {"rss.xml", "archive/3/rss.xml"}),
        ("open page body", lambda: edit_body(archived, 7, 3), False, {"archive/3/rss.xml"}),
        ("open page completes", lambda: post(archived, 12), True, {"archive/4/rss.xml"}),
        ("complete page touched", touch_page, True, set()),
        ("back-dated post", lambda: post(archived, 98, day=1, title="Back-dated"), True, set()),
    ]
    for name, change, full, made in steps:
        change()
        resolves.clear()
        result = build(archived)
        assert resolves == (["resolve_posts"] if full else []), name
        assert made <= set(result.written), name
        assert archived.outputs() == uncached_twin(archived, tmp_path, name), name
        now = archive_files(archived)
        assert {k: now[k] for k in complete} == complete, name
    assert walk(archived, "rss").count("Back-dated") == 1


def test_random_changes_of_an_archived_site_give_the_bytes_of_uncached_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four archived sites, each through eight random changes built one at a time: posts
    added as the newest or back-dated, bodies and titles edited, posts deleted (a title
    edited brings back a deleted post). Whether a run takes the index or not, it
    publishes what an uncached build would (complete pages as they were written); both
    kinds of run happen."""
    resolves = counting(monkeypatch, pipeline, "resolve_posts")
    through_index = 0
    backdated_through_index = 0
    for seed in range(4):
        rng = random.Random(seed)
        (tmp_path / f"site-{seed}").mkdir()
        site = Site(tmp_path / f"site-{seed}")
        site.configure(ARCHIVES)
        for n in range(1, 9 + seed):
            post(site, n)
        build(site)
        changes = _random_changes(site, rng, 8 + seed)
        for k in range(8):
            change = rng.choice(changes)
            change(k)
            resolves.clear()
            build(site)
            through_index += not resolves
            backdated_through_index += not resolves and change is changes[2]
            assert site.outputs() == uncached_twin(site, tmp_path, f"{seed}-{k}"), (seed, k)
    assert 0 < through_index < 4 * 8, through_index
    assert backdated_through_index > 0


def _random_changes(site: Site, rng: random.Random, newest: int) -> list[Callable[[int], object]]:
    """Changes of an archived site whose newest post is post ``newest``, each given the
    step's number."""
    last = [newest]

    def add_newest(k: int) -> None:
        last[0] += 1
        post(site, last[0])

    def numbers() -> list[int]:
        return sorted(int(p.stem[1:]) for p in (site.root / "content").glob("p*.md"))

    def retitle(k: int) -> None:
        dated = [n for n in numbers() if n < 50] or [1]  # back-dated posts are 50 and up
        post(site, rng.choice(dated), title=f"Retitled {k}")

    return [
        add_newest,
        add_newest,
        # Before post 1 (10:00), each at its own hour: a run through the index may take it.
        lambda k: post(site, 50 + k, day=1, title=f"Back-dated {k}", hour=k),
        lambda k: edit_body(site, rng.choice(numbers()), k),
        retitle,
        lambda k: (site.root / f"content/p{rng.choice(numbers()):02d}.md").unlink(),
    ]


def test_complete_pages_staged_by_a_run_that_fails_leave_nothing_behind(
    archived: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Complete pages are written beside their targets as soon as they are made: a run
    whose feeds then fail validation, or whose page cannot be written, publishes nothing
    and leaves no temporary file; the next healthy run publishes every page."""
    from feeds.writers._history import HistoryExtension

    real = HistoryExtension.set

    def crossed(self: HistoryExtension, spec: FeedSpec, fmt: str) -> None:
        real(self, spec, fmt)
        if spec.folder == "" and "prev-archive" in self.links:
            self.links["prev-archive"] = f"{BASE}elsewhere.xml"  # the main feed's link is wrong

    with monkeypatch.context() as patched:
        patched.setattr(HistoryExtension, "set", crossed)
        result = regenerate(load_config(archived.config_path), NOW, lock_wait=1)
    assert not result.published
    assert {p.code for p in result.feed_problems} == {"history-mismatch"}
    assert not archived.public.exists() or not list(archived.public.rglob("*"))

    archived.public.mkdir(exist_ok=True)
    (archived.public / "archive").write_bytes(b"a file where the pages' folder must go")
    result = regenerate(load_config(archived.config_path), NOW, lock_wait=1)
    assert not result.published
    failed = [p for p in result.feed_problems if p.code == "publish-failed"]
    assert failed and all(p.path and p.path.startswith("archive/") for p in failed)
    assert [p.name for p in archived.public.rglob("*")] == ["archive"]

    (archived.public / "archive").unlink()
    build(archived)
    assert walk(archived, "rss") == [f"Post {n}" for n in range(10, 0, -1)]
    assert not [p for p in archived.public.rglob("*") if p.name.endswith(".tmp")]


def test_check_leaves_out_what_a_build_leaves_out_and_writes_nothing(site: Site) -> None:
    """``feeds check`` staged each complete archive page beside its target as a build
    does, then left the staged files there (it must write nothing), and it named a
    post a build leaves out once in each format, by its bare path, without the pages
    being made again without it: it reports now what a build reports."""
    site.configure(ARCHIVES)
    for n in range(1, 12):
        post(site, n)
    site.post("p02.md", "Post 2", "2024-05-02T10:00:00Z", link='"http://exa mple.org/two"')
    left_out = (
        f"{site.root / 'content' / 'p02.md'}: error: left out: its entry in "
        "archive/1/rss.xml is not valid: item 1 <link> 'http://exa mple.org/two' "
        "contains characters a URL cannot hold"
    )

    def everything() -> set[str]:
        return {p.relative_to(site.root).as_posix() for p in site.root.rglob("*")}

    before = everything()
    assert invoke("check", "-c", str(site.config_path)) == (
        1,
        f"{left_out}\n11 post file(s) checked, 1 problem(s)\n",
    )
    assert everything() == before
    code, out = invoke("build", "-c", str(site.config_path))
    assert code == 1 and f"skipped:\n  {left_out}\n" in out, out
    assert walk(site, "rss") == [f"Post {n}" for n in range(11, 0, -1) if n != 2]
    # Over a published site, whose complete pages go without the post: what a build
    # says, and not a byte or a time changed.
    before, outputs, mtimes = everything(), site.outputs(), site.mtimes()
    code, out = invoke("check", "-c", str(site.config_path))
    assert (everything(), site.outputs(), site.mtimes()) == (before, outputs, mtimes)
    [named] = out.splitlines()[:-1]
    assert "p02.md: error: left out: its entry in archive/3/rss.xml" in named
    assert (code, out.splitlines()[-1]) == (1, "11 post file(s) checked, 1 problem(s)")
    # As a build that reads every post again (one that finds nothing changed repeats
    # what the last one said).
    [problem] = build(site, use_cache=False).skipped
    assert named.endswith(f"p02.md: error: {problem.message}")
