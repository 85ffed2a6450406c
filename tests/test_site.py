"""Resolving posts: dates, ids that never move, slugs and URLs that never collide."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.config import SiteConfig, load_config
from feeds.dates import epoch_us
from feeds.index import Taken
from feeds.model import Author, Source
from feeds.pipeline import MAX_CONTENT_CHARS
from feeds.site import Loaded, permalink, post_slug, render, resolve, resolve_added, tag_uri
from feeds.state import State
from tests.conftest import blank_source

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MTIME = datetime(2024, 5, 20, 8, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def site_config(tmp_path: Path) -> SiteConfig:
    path = tmp_path / "config.yaml"
    path.write_text(
        "site:\n  title: T\n  base_url: https://example.org/blog/\n"
        "  timezone: Europe/Madrid\n  author: Desk\n",
        encoding="utf-8",
    )
    return load_config(path).site


def source(path: str, title: str = "A title", **fields: object) -> Source:
    values: dict[str, object] = {"date": datetime(2024, 5, 1, 10, 0, tzinfo=UTC), **fields}
    return blank_source(path, title=title, **values)


def loaded(src: Source, digest: str | None = None, mtime: datetime = MTIME) -> Loaded:
    return Loaded(src, mtime, digest or f"digest-of-{src.path}")


def run(items: list[Loaded], site: SiteConfig, state: State | None = None, now: datetime = NOW):  # type: ignore[no-untyped-def]
    present = frozenset(i.source.path for i in items)
    return resolve(items, present, state or State(), site, now)


def test_id_is_a_tag_uri_from_first_date_and_slug(site_config: SiteConfig) -> None:
    result = run([loaded(source("2024-05-01-hello-world.md"))], site_config)
    (post,) = result.posts
    assert post.slug == "hello-world"
    assert post.id == "tag:example.org,2024-05-01:/blog/hello-world"
    assert post.url == "https://example.org/blog/hello-world/"
    assert post.authors == (Author("Desk"),)


def test_id_survives_edit_retitle_move_and_permalink_change(
    site_config: SiteConfig, tmp_path: Path
) -> None:
    first = run([loaded(source("notes/trip.md"))], site_config)
    original = first.posts[0].id

    edited = source("notes/trip.md", title="A new title", body="Rewritten body.")
    assert run([loaded(edited, "new-digest")], site_config, first.state).posts[0].id == original

    moved = source("archive/2024/trip.md", title="Moved and retitled")
    after_move = run([loaded(moved, "other-digest")], site_config, first.state)
    assert after_move.posts[0].id == original
    assert "notes/trip.md" not in after_move.state.posts

    renamed_same_bytes = source("elsewhere/renamed.md")
    by_digest = run(
        [loaded(renamed_same_bytes, "digest-of-notes/trip.md")], site_config, first.state
    )
    assert by_digest.posts[0].id == original

    other_permalink = replace(site_config, permalink="/{year}/{month}/{slug}.html")
    again = run([loaded(source("notes/trip.md"))], other_permalink, first.state)
    assert again.posts[0].id == original
    assert again.posts[0].url == "https://example.org/blog/2024/05/trip.html"


def test_moved_files_take_the_ids_of_the_files_they_were(site_config: SiteConfig) -> None:
    """Many files moved in one run: each takes the id of the vanished file with its
    bytes, else of the one vanished file with its name; two vanished namesakes give
    an edited file no old id, and no vanished id is given twice."""
    names = ["a/one.md", "a/two.md", "b/two.md", "a/three.md", "a/four.md"]
    first = run([loaded(source(n, date=datetime(2024, 5, i + 1, tzinfo=UTC)))
                 for i, n in enumerate(names)], site_config)  # fmt: skip
    old = {p.path: p.id for p in first.posts}
    moved = [
        loaded(source("c/one.md"), "new-bytes"),  # edited: by its name
        loaded(source("c/two.md"), "newer-bytes"),  # edited, two vanished namesakes: new id
        loaded(source("c/renamed.md"), "digest-of-a/three.md"),  # same bytes, new name
        loaded(source("d/renamed.md"), "digest-of-a/three.md"),  # the same bytes again
        loaded(source("c/four.md"), "digest-of-a/four.md"),
    ]
    ids = {p.path: p.id for p in run(moved, site_config, first.state).posts}
    assert ids["c/one.md"] == old["a/one.md"]
    assert ids["c/two.md"] not in old.values()
    assert ids["c/renamed.md"] == old["a/three.md"]
    assert ids["d/renamed.md"] not in old.values()
    assert ids["c/four.md"] == old["a/four.md"]


def test_pinned_id_wins(site_config: SiteConfig) -> None:
    result = run([loaded(source("a.md", id="urn:uuid:1234"))], site_config)
    assert result.posts[0].id == "urn:uuid:1234"


def test_slug_collision_gets_a_suffix_and_names_both_files(site_config: SiteConfig) -> None:
    older = source("a/trip.md", date=datetime(2024, 1, 1, tzinfo=UTC))
    newer = source("b/trip.md", date=datetime(2024, 2, 1, tzinfo=UTC))
    result = run([loaded(newer), loaded(older)], site_config)
    by_path = {p.path: p for p in result.posts}
    assert by_path["a/trip.md"].slug == "trip"
    assert by_path["b/trip.md"].slug == "trip-2"
    assert len({p.url for p in result.posts}) == 2
    assert len({p.id for p in result.posts}) == 2
    (warning,) = [p for p in result.problems if p.code == "duplicate-slug"]
    assert warning.path == "b/trip.md" and "a/trip.md" in warning.message


def test_duplicate_pinned_ids_are_made_unique(site_config: SiteConfig) -> None:
    items = [loaded(source("a.md", id="same")), loaded(source("b.md", id="same", slug="bee"))]
    result = run(items, site_config)
    assert sorted(p.id for p in result.posts) == ["same", "same-2"]
    assert any(p.code == "duplicate-id" for p in result.problems)


def test_undated_post_takes_its_file_time_once(site_config: SiteConfig) -> None:
    undated = source("undated.md", date=None)
    first = run([loaded(undated)], site_config)
    assert first.posts[0].published == MTIME.replace(microsecond=0)
    later_mtime = MTIME + timedelta(days=3)
    second = run([loaded(undated, "changed", mtime=later_mtime)], site_config, first.state)
    assert second.posts[0].published == MTIME.replace(microsecond=0)


def test_undated_file_time_is_never_later_than_the_run(site_config: SiteConfig) -> None:
    future_mtime = NOW + timedelta(days=30)
    result = run([loaded(source("x.md", date=None), mtime=future_mtime)], site_config)
    assert result.posts[0].published == NOW


def test_undated_posts_seen_together_are_spread_a_second_apart(site_config: SiteConfig) -> None:
    items = [loaded(source(f"p{i}.md", date=None)) for i in (3, 1, 2)]
    result = run(items, site_config)
    times = {p.path: p.published for p in result.posts}
    base = MTIME.replace(microsecond=0)
    assert times == {
        "p1.md": base,
        "p2.md": base + timedelta(seconds=1),
        "p3.md": base + timedelta(seconds=2),
    }


def test_undated_posts_seen_together_at_the_run_are_spread_back_and_none_waits(
    site_config: SiteConfig,
) -> None:
    """Files copied together just before the run share its second: spread a second
    apart they would pass it and wait for a later run; they go back before it instead,
    in the same order. A post seen earlier keeps its time."""
    at_run = NOW.replace(microsecond=0)
    items = [
        loaded(source(f"p{i}.md", date=None), mtime=NOW + timedelta(milliseconds=i))
        for i in (3, 1, 2)
    ]
    items.append(loaded(source("early.md", date=None), mtime=NOW - timedelta(seconds=10)))
    result = run(items, site_config)
    assert result.future == ()
    assert {p.path: p.published for p in result.posts} == {
        "early.md": at_run - timedelta(seconds=10),
        "p1.md": at_run - timedelta(seconds=2),
        "p2.md": at_run - timedelta(seconds=1),
        "p3.md": at_run,
    }


def test_no_two_posts_share_an_updated_time(site_config: SiteConfig) -> None:
    same_day = datetime(2024, 3, 3, tzinfo=UTC)
    items = [loaded(source(f"d{i}.md", date=same_day)) for i in range(4)]
    result = run(items, site_config)
    assert len({p.updated for p in result.posts}) == 4


def test_updated_before_date_is_a_warning(site_config: SiteConfig) -> None:
    src = source("u.md", updated=datetime(2020, 1, 1, tzinfo=UTC))
    result = run([loaded(src)], site_config)
    assert result.posts[0].updated == result.posts[0].published
    assert [p.code for p in result.problems] == ["updated-before-date"]


def test_drafts_and_future_posts_are_held_back(site_config: SiteConfig) -> None:
    later = NOW + timedelta(hours=5)
    items = [
        loaded(source("now.md")),
        loaded(source("draft.md", draft=True)),
        loaded(source("later.md", date=later)),
    ]
    result = run(items, site_config)
    assert [p.path for p in result.posts] == ["now.md"]
    assert result.future == (later,)
    assert run(items, site_config, now=later).posts[0].path == "later.md"


def test_posts_are_newest_first(site_config: SiteConfig) -> None:
    items = [loaded(source(f"{n}.md", date=datetime(2024, 1, n, tzinfo=UTC))) for n in (2, 9, 5)]
    assert [p.path for p in run(items, site_config).posts] == ["9.md", "5.md", "2.md"]


def test_canonical_link_is_the_entry_url(site_config: SiteConfig) -> None:
    src = source("c.md", link="https://elsewhere.example.com/original")
    assert run([loaded(src)], site_config).posts[0].url == "https://elsewhere.example.com/original"


def test_permalink_fields(site_config: SiteConfig) -> None:
    config = replace(site_config, permalink="/{section}/{year}/{month}/{day}/{slug}/")
    # 23:30 UTC on 31 Dec is already 1 Jan in Madrid: dates are the site's local dates.
    late = datetime(2023, 12, 31, 23, 30, tzinfo=UTC)
    assert permalink(config, "s", "Política/x.md", late) == (
        "https://example.org/blog/politica/2024/01/01/s/"
    )
    assert permalink(config, "s", "top.md", late) == "https://example.org/blog/2024/01/01/s/"
    assert tag_uri(config, "s", late) == "tag:example.org,2024-01-01:/blog/s"


def test_render_makes_content_absolute_and_summary(site_config: SiteConfig) -> None:
    src = source(
        "notes/r.md",
        body="First *paragraph* with [a link](../other/).\n\nSecond.\n\n<script>x()</script>",
    )
    (post,) = run([loaded(src)], site_config).posts
    done = render(post, src, site_config)
    assert 'href="https://example.org/blog/other/"' in done.content
    assert "<script" not in done.content
    assert done.summary.startswith("First paragraph with a link")


def test_a_long_body_is_rendered_a_beginning_at_a_time(
    site_config: SiteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10 MB Markdown list, whose HTML would be 26 million characters: rendered and
    sanitized from its beginning alone, which is over the limit already; the summary is
    its first paragraph's, as the whole's would be."""
    sizes: list[int] = []
    clean = nh3.clean

    def measured(html: str, **kwargs: Any) -> str:
        sizes.append(len(html))
        return clean(html, **kwargs)

    monkeypatch.setattr(nh3, "clean", measured)
    body = "First, *the* [list](../list/):\n\n" + "".join(
        f"- [item {n}](/p/{n}) *e*\n" for n in range(500_000)
    )
    src = source("long.md", body=body)
    (post,) = run([loaded(src)], site_config).posts
    done = render(post, src, site_config)
    assert len(done.content) > MAX_CONTENT_CHARS
    assert max(sizes) < 2 * MAX_CONTENT_CHARS, sizes
    assert done.summary == "First, the list:"


def test_unreadable_file_keeps_its_memory(site_config: SiteConfig) -> None:
    first = run([loaded(source("keep.md"))], site_config)
    # keep.md is still on disk but failed to read this time; another new file must not take its id.
    result = resolve(
        [loaded(source("keep2/keep.md"))],
        frozenset({"keep.md", "keep2/keep.md"}),
        first.state,
        site_config,
        NOW,
    )
    assert result.state.posts["keep.md"] == first.state.posts["keep.md"]
    assert result.posts[0].id != first.posts[0].id


def test_spreading_times_never_makes_a_due_post_future(site_config: SiteConfig) -> None:
    items = [loaded(source(f"n{i}.md", date=NOW)) for i in range(3)]
    result = run(items, site_config)
    assert len(result.posts) == 3 and result.future == ()


#: half-seconds within a few seconds: posts meet, and are moved in chains
_HALF_SECONDS = st.integers(min_value=0, max_value=12)


@settings(max_examples=300, deadline=None)
@given(dates=st.lists(_HALF_SECONDS, max_size=8), added=_HALF_SECONDS)
def test_a_post_resolved_alone_beside_others_is_resolved_as_with_them(
    dates: list[int], added: int
) -> None:
    """Whenever ``resolve_added`` takes a post dated among others (their instants may
    meet, and be moved apart), resolving it with them gives it the same post and changes
    none of theirs; it takes the post at least when no other lies in the second up to it."""
    site = _SITE
    base = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    at = [base + timedelta(milliseconds=500 * n) for n in dates]
    items = [loaded(source(f"p{i}.md", date=d)) for i, d in enumerate(at)]
    before = run(items, site)
    updates = tuple(sorted(epoch_us(p.updated) for p in before.posts))
    ids = frozenset(r.id for r in before.state.posts.values())
    added_at = base + timedelta(milliseconds=500 * added)
    new = loaded(source("new.md", date=added_at))
    post = resolve_added(new.source, Taken(before.slugs, ids, updates), site, NOW)
    free = all(not 0 <= epoch_us(added_at) - u < 1_000_000 for u in updates)
    assert post is not None or not free
    if post is not None:
        after = run([*items, new], site)
        assert {p.path: p for p in after.posts} == {p.path: p for p in (*before.posts, post)}


def _site() -> SiteConfig:
    return SiteConfig(
        title="T", base_url="https://example.org/blog/", description="", language="en",
        timezone="UTC", author=Author("Desk"), permalink="/{slug}/",
    )  # fmt: skip


_SITE = _site()


@pytest.mark.parametrize(
    ("path", "slug", "expected"),
    [
        ("notes/2024-01-05-first-post.md", None, "first-post"),
        ("notes/2024-1-5-first-post.md", None, "first-post"),
        ("posts/my-bundle/index.md", None, "my-bundle"),
        ("posts/2024-01-05-trip/INDEX.md", None, "trip"),
        ("index.md", None, "index"),
        ("a.md", "version-1.2.3", "version-1.2.3"),
        ("a.md", "Hello_World", "Hello_World"),
        ("a.md", "Política Exterior", "politica-exterior"),
        ("a.md", "../up", "up"),
        ("a.md", ".hidden", "hidden"),
    ],
)
def test_a_post_s_slug(path: str, slug: str | None, expected: str) -> None:
    """A written slug of URL-safe characters is kept, so an old site's URLs carry over;
    a page bundle is named by its folder, as Hugo names it."""
    assert post_slug(source(path, slug=slug)) == expected
