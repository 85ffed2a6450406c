"""From what the readers found to posts ready to publish: dates, ids, slugs and URLs.

Pure: the clock (``now``) and the remembered State come in as parameters, a new State
goes out. Bodies are rendered later, and only for posts some feed shows.
"""

from __future__ import annotations

import bisect
import functools
import html
import re
import string
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from feeds.config import SiteConfig
from feeds.content.fields import without_date
from feeds.dates import epoch_us
from feeds.model import Post, Problem, Source
from feeds.render import clean_body, clean_html, summarize
from feeds.slugs import MAX_LENGTH, slugify, slugify_name
from feeds.state import Remembered, State

if TYPE_CHECKING:
    from feeds.index import Taken

_ONE_SECOND = timedelta(seconds=1)
_ONE_SECOND_US = 1_000_000


@dataclass(frozen=True, slots=True)
class Loaded:
    """A post file that a reader could read."""

    source: Source
    #: the file's modification time, timezone-aware
    mtime: datetime
    #: sha256 of the file's bytes
    digest: str


@dataclass(frozen=True, slots=True)
class Resolved:
    #: published posts, newest first; summary and content are filled by ``render``
    posts: tuple[Post, ...]
    #: publication times of future-dated posts, earliest first
    future: tuple[datetime, ...]
    state: State
    problems: tuple[Problem, ...]
    #: every slug a post took, future posts' included
    slugs: frozenset[str] = frozenset()


def resolve(
    loaded: Sequence[Loaded],
    present: frozenset[str],
    state: State,
    site: SiteConfig,
    now: datetime,
    titles: Mapping[str, str] | None = None,
) -> Resolved:
    """Resolve every post's dates, id, slug and URL.

    ``present`` is every post path found on disk, including files that could not be
    read this time: their remembered ids are kept, not handed to another file.
    ``titles`` are the titles posts had when last read, by path: a new post titled as a
    post deleted in the same run may be that post renamed and edited, and is told how to
    keep its id.
    """
    problems: list[Problem] = []
    live = sorted((item for item in loaded if not item.source.draft), key=lambda i: i.source.path)
    remembered, retired = _remember(live, present, state, now, titles or {})
    retired_ids = frozenset(retired)
    # Posts deleted in this run, by title: one may be a new post's file renamed and edited.
    deleted: dict[str, tuple[str, str]] = {}
    for path, r in sorted(state.posts.items()):
        if r.id and r.id in retired and titles and path in titles:
            deleted.setdefault(titles[path].casefold(), (path, r.id))

    dated: list[tuple[Loaded, Remembered, datetime, datetime]] = []
    for item in live:
        memory = remembered[item.source.path]
        published = item.source.date or memory.first_seen
        updated = item.source.updated or published
        if updated < published:
            problems.append(
                Problem(
                    "warning",
                    "updated-before-date",
                    "'updated' is earlier than 'date'; using 'date'",
                    item.source.path,
                )
            )
            updated = published
        dated.append((item, memory, published, updated))
    # Spreading times apart must never push a due post into the future.
    waiting = {d[0].source.path for d in dated if d[2] > now}
    dated = _distinct_updates([d for d in dated if d[0].source.path not in waiting]) + [
        d for d in dated if d[0].source.path in waiting
    ]

    # Posts published before keep their ids when a new one collides with them, however
    # it is dated; among new posts, and among those before, the older one keeps them.
    dated.sort(key=lambda d: (not d[1].id, d[2], d[0].source.path))
    chosen, slugs = _slugs(dated, state.posts.keys(), problems)
    # Ids of posts on disk that could not be read this time stay theirs.
    live_paths = {item.source.path for item in live}
    ids = {m.id: p for p, m in remembered.items() if p not in live_paths}
    posts: list[Post] = []
    future: list[datetime] = []
    for item, memory, published, updated in dated:
        source = item.source
        slug = chosen[source.path]
        wanted_id = source.id or memory.id or tag_uri(site, slug, published)
        # A deleted post's id is never made again for another (one written in front
        # matter is the author's to give).
        blocked = retired_ids if not (source.id or memory.id) else frozenset()
        ident = _unique(wanted_id, source.path, ids, "id", problems, blocked)
        if not (source.id or memory.id) and (was := deleted.get((source.title or "").casefold())):
            problems.append(_maybe_moved(source.path, *was))
        # The slug is remembered: the next run gives it again, whatever posts come.
        if memory.id != ident or memory.slug != slug:
            # Made, not replaced: every new post passes here, and replace is slow.
            remembered[source.path] = Remembered(ident, memory.first_seen, memory.digest, slug)
        post = _post(source, ident, slug, published, updated, site)
        if source.path in waiting:
            future.append(published)
        else:
            posts.append(post)

    posts.sort(key=lambda p: (p.published, p.path), reverse=True)
    new_state = State(posts=remembered, published=state.published, retired=retired)
    return Resolved(
        tuple(posts), tuple(sorted(future)), new_state, tuple(problems), frozenset(slugs)
    )


def _post(
    source: Source, ident: str, slug: str, published: datetime, updated: datetime,
    site: SiteConfig,
) -> Post:  # fmt: skip
    """The post ``source`` resolves to, once its id, slug and dates are settled."""
    return Post(
        path=source.path,
        id=ident,
        slug=slug,
        url=source.link or permalink(site, slug, source.path, published),
        title=source.title or PurePosixPath(source.path).stem,
        published=published,
        updated=updated,
        authors=source.authors or (site.author,),
        summary="",
        content="",
        tags=source.tags,
        image=source.image,
        # Made whole by feeds.media.attach_enclosures, which may read the site's file.
        enclosure=None,
        duration=source.duration,
    )


def resolve_added(source: Source, taken: Taken, site: SiteConfig, now: datetime) -> Post | None:
    """The post a file added since the last full run resolves to, as ``resolve`` would
    resolve it beside the posts that run resolved, when adding it changes nothing of
    theirs and needs nothing remembered; None otherwise.

    That is a published post with its own date, not in the future, updated at an instant
    that keeps it and moves no other post's (``_keeps_instant``), whose slug and id no
    post has taken, with no enclosure (its file is the site's to check) and nothing to
    warn of.
    """
    if source.draft or source.warnings or source.enclosure is not None or source.date is None:
        return None
    published = source.date
    updated = source.updated or published
    if published > now or updated < published:
        return None
    if not _keeps_instant(updated, taken.updates):
        return None  # it would take a second from another post, or push one on
    slug = post_slug(source)
    ident = source.id or tag_uri(site, slug, published)
    if slug in taken.slugs or ident in taken.ids:
        return None
    return _post(source, ident, slug, published, updated, site)


def _keeps_instant(updated: datetime, updates: Sequence[int]) -> bool:
    """Whether a post updated at ``updated``, resolved beside posts updated at
    ``updates`` (``Taken.updates``), keeps that instant and moves none of theirs
    (``_distinct_updates``): whether none of theirs lies in the second up to it.

    Posts are taken in the order of their own instants, and one that is not after the
    one taken before it is moved to a second after that one. A post before ``updated``
    moved to it or past it would follow, a second at a time, one that kept its own
    instant before ``updated``: one of them would lie in that second. With none there,
    the post keeps ``updated``, and those after it are moved as they were: none before
    them ends later than it did. Dates are read in whole seconds (``parse_date``), so
    that second holds ``updated`` alone: no other post may have its instant.
    """
    at = epoch_us(updated)
    before = bisect.bisect_right(updates, at)
    return before == 0 or updates[before - 1] <= at - _ONE_SECOND_US


def render(post: Post, source: Source, site: SiteConfig) -> Post:
    """Fill a post's sanitized content and summary; relative URLs resolve against the
    post's page on this site, as a browser showing it would."""
    page = permalink(site, post.slug, post.path, post.published)
    content = clean_body(source, page)
    summary = clean_html(source.summary, page) if source.summary else summarize(content)
    if not summary.strip():
        # Readers show the summary in lists; a post with no text is summed up by its title.
        summary = html.escape(post.title, quote=False)
    return replace(post, content=content, summary=summary)


def permalink(site: SiteConfig, slug: str, path: str, published: datetime) -> str:
    """The absolute URL of a post's page from ``site.permalink``."""
    fields: dict[str, str] = {"slug": slug}
    wanted = _fields_of(site.permalink)
    if wanted & {"year", "month", "day"}:
        local = published.astimezone(site.tz)
        fields.update(year=f"{local.year:04d}", month=f"{local.month:02d}", day=f"{local.day:02d}")
    if "section" in wanted:
        top, slash, _ = path.partition("/")
        fields["section"] = slugify_name(top) if slash else ""
    relative = site.permalink.format(**fields)
    if "//" in relative:
        relative = re.sub(r"/{2,}", "/", relative)
    relative = relative.lstrip("/")
    return site.base_url + relative


@functools.lru_cache(maxsize=16)
def _fields_of(template: str) -> frozenset[str]:
    """The fields a permalink template names (one site, many posts)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def tag_uri(site: SiteConfig, slug: str, published: datetime) -> str:
    """A RFC 4151 tag URI: stable because it names the post's first date and slug."""
    host, folder = _tag_authority(site.base_url)
    day = published.astimezone(site.tz).date().isoformat()
    return f"tag:{host},{day}:{folder}{slug}"


@functools.lru_cache(maxsize=16)
def _tag_authority(base_url: str) -> tuple[str, str]:
    """The host of ``base_url`` and its path as a folder (ending in ``/``), that tag URIs
    are made of (one site, many posts)."""
    parts = urlsplit(base_url)
    folder = parts.path or "/"
    return (parts.hostname or "localhost").lower(), folder if folder.endswith("/") else folder + "/"


def _remember(
    live: Sequence[Loaded],
    present: frozenset[str],
    state: State,
    now: datetime,
    titles: Mapping[str, str],
) -> tuple[dict[str, Remembered], dict[str, Remembered]]:
    """What to remember of each live post (its old memory, a moved file's, a deleted
    one's come back unchanged, or a new one), and of each deleted post
    (``State.retired``). A file moved and edited is known by its name alone, and by its
    title too where ``titles`` (of the posts gone, as last read) holds it."""
    memory: dict[str, Remembered] = {}
    vanished = {p: r for p, r in state.posts.items() if p not in present}
    retired = dict(state.retired)
    retired_by_digest = {r.digest: ident for ident, r in sorted(retired.items(), reverse=True)}
    # Vanished paths by digest and by file name, each list in path order.
    by_digest: dict[str, list[str]] = {}
    by_name: dict[str, list[str]] = {}
    for p in sorted(vanished):
        by_digest.setdefault(vanished[p].digest, []).append(p)
        by_name.setdefault(p.rpartition("/")[2], []).append(p)
    # A known path holding other bytes now, while a new path holds its old bytes: the
    # post moved there, and the path holds a new post (a file renamed, another written
    # in its place, in one step).
    new_by_digest: dict[str, str] = {}
    for item in live:
        if item.source.path not in state.posts:
            new_by_digest.setdefault(item.digest, item.source.path)
    moved_to: dict[str, str] = {}
    for item in live:
        record = state.posts.get(item.source.path)
        if record and record.digest != item.digest and record.digest in new_by_digest:
            moved_to[new_by_digest.pop(record.digest)] = item.source.path
    displaced = set(moved_to.values())
    fresh: list[Loaded] = []
    for item in live:
        path = item.source.path
        if path in moved_to:
            memory[path] = replace(state.posts[moved_to[path]], digest=item.digest)
            continue
        if path in displaced:
            fresh.append(item)
            continue
        if path in state.posts:
            record = state.posts[path]
            # The bytes it has now: a later move is told by them.
            same = record.digest == item.digest
            memory[path] = record if same else replace(record, digest=item.digest)
            continue
        # The same bytes moved, or else the only vanished file of the same name did.
        moved = by_digest.get(item.digest)
        namesakes = by_name.get(path.rpartition("/")[2], [])
        old = moved[0] if moved else namesakes[0] if len(namesakes) == 1 else None
        title = (item.source.title or "").casefold()
        if not moved and old is not None and titles.get(old, title).casefold() != title:
            old = None  # another file of its name, but not of its title: a new post
        if old is not None:
            record = vanished.pop(old)
            by_digest[record.digest].remove(old)
            by_name[old.rpartition("/")[2]].remove(old)
            memory[path] = replace(record, digest=item.digest)
            continue
        # A deleted post come back, the same bytes (at its path or elsewhere): another
        # post at a deleted one's path is new, and readers must see it so.
        back = retired_by_digest.get(item.digest)
        if back is not None and back in retired:
            memory[path] = replace(retired.pop(back), digest=item.digest)
        else:
            fresh.append(item)

    # A post first seen now is dated by its file time, never later than this run;
    # undated posts first seen together that would share a second are spread one apart,
    # and those that would then pass the run's second are moved back before it (else
    # they would wait for a later run: files copied together share their time).
    seen_at = [
        (min(item.mtime, now).replace(microsecond=0), item.source.path, item) for item in fresh
    ]
    seen_at.sort(key=lambda s: s[:2])
    undated: list[tuple[datetime, Loaded]] = []
    for seen, _, item in seen_at:
        if item.source.date is None:
            # In this order every time taken so far is at most the last one's.
            if undated and seen <= undated[-1][0]:
                seen = undated[-1][0] + _ONE_SECOND
            undated.append((seen, item))
        # The id is made once the slug is known (resolve fills it in).
        memory[item.source.path] = Remembered("", seen, item.digest)
    latest = now.replace(microsecond=0)
    for seen, item in reversed(undated):
        if seen <= latest:
            break  # this one and those before keep their times
        memory[item.source.path] = Remembered("", latest, item.digest)
        latest -= _ONE_SECOND
    # Memories of unreadable-but-present files are kept for their next good run.
    for path, r in state.posts.items():
        if path in present and path not in memory:
            memory[path] = r
    # Deleted since the last run (not moved): retired, ids and all.
    retired.update((r.id, r) for r in vanished.values() if r.id)
    return memory, retired


def _distinct_updates(
    dated: list[tuple[Loaded, Remembered, datetime, datetime]],
) -> list[tuple[Loaded, Remembered, datetime, datetime]]:
    """No two entries share an ``updated`` instant (readers and validators rely on it):
    the post seen later moves forward a second at a time."""
    order = sorted(dated, key=lambda d: (d[3], d[1].first_seen, d[0].source.path))
    last: datetime | None = None
    result = []
    for item, memory, published, updated in order:
        # In this order every instant used so far is at most `last`.
        bumped = updated if last is None or updated > last else last + _ONE_SECOND
        last = bumped
        if bumped != updated and published == updated:
            published = bumped
        result.append((item, memory, published, bumped))
    return result


def _slugs(
    dated: Sequence[tuple[Loaded, Remembered, datetime, datetime]],
    before: Set[str],
    problems: list[Problem],
) -> tuple[dict[str, str], dict[str, str]]:
    """Each post's slug (path → slug), and the slugs taken (slug → path).

    A published URL never moves to another post. A post keeps the slug it was given
    before (``Remembered.slug``) while it asks for the same one (that one, or it with a
    ``-2``). Then posts published before (``before``, their
    paths) take the slugs they ask for before posts new, moved or come back do, each
    group oldest first; a post whose slug is taken gets ``-2``, ``-3``… and a warning
    naming the post that has it.
    """
    taken: dict[str, str] = {}
    chosen: dict[str, str] = {}
    by_date = sorted(dated, key=lambda d: (d[2], d[0].source.path))
    wanted = {item.source.path: post_slug(item.source) for item, _, _, _ in by_date}
    # Posts published last run first: a post come back takes no slug another holds.
    holders_first = sorted(by_date, key=lambda d: d[0].source.path not in before)
    kept_before: list[str] = []
    for item, memory, _, _ in holders_first:
        path, kept = item.source.path, memory.slug
        if kept and kept not in taken and (kept == wanted[path] or _suffixed(kept, wanted[path])):
            taken[kept] = path
            chosen[path] = kept
            kept_before.append(path)
    for item, _, _, _ in holders_first:
        path = item.source.path
        if path not in chosen:
            chosen[path] = _unique(wanted[path], path, taken, "slug", problems)
    for path in kept_before:
        if chosen[path] != wanted[path] and wanted[path] in taken:
            message = (
                f"slug '{wanted[path]}' is taken by {taken[wanted[path]]}; using '{chosen[path]}'"
            )
            problems.append(Problem("warning", "duplicate-slug", message, path))
    return chosen, taken


def _suffixed(slug: str, wanted: str) -> bool:
    """Whether ``slug`` is ``wanted`` with a ``-N`` suffix ``_unique`` gives."""
    head, _, number = slug.rpartition("-")
    return head == wanted and number.isdigit()


def _maybe_moved(path: str, old: str, ident: str) -> Problem:
    """A new post's warning when a post of its title was deleted in the same run: a file
    renamed and edited at once cannot be told from a new post, and readers would show it
    again as new."""
    return Problem(
        "warning",
        "new-id",
        f"a new post, while {old} of the same title was deleted: if it is that post renamed "
        f"and edited, give it 'id: {ident}' so that readers do not show it again as new",
        path,
    )


def _unique(
    wanted: str,
    path: str,
    taken: dict[str, str],
    what: str,
    problems: list[Problem],
    retired: frozenset[str] = frozenset(),
) -> str:
    """``wanted``, or ``wanted-2``, ``-3``… when another post took it first, or a deleted
    post had it (``retired``), with a warning."""
    value, n = wanted, 1
    while value in taken or value in retired:
        n += 1
        value = f"{wanted}-{n}"
    if value != wanted:
        holder = taken.get(wanted, "a deleted post")
        problems.append(
            Problem(
                "warning",
                f"duplicate-{what}",
                f"{what} '{wanted}' is taken by {holder}; using '{value}'",
                path,
            )
        )
    taken[value] = path
    return value


#: a ``slug`` written in front matter that is kept as it is: URL-safe characters only
_KEPT_SLUG = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._~-]{{0,{MAX_LENGTH - 1}}}")


def post_slug(source: Source) -> str:
    """The slug a post asks for: its ``slug`` as written when it is URL-safe (an old
    site's URLs, ``Hello_World`` or ``version-1.2.3``, carry over), else made into one;
    without one, from its file name, or its folder's for ``folder/index.md`` (a page
    bundle), a leading date left out."""
    if source.slug:
        return source.slug if _KEPT_SLUG.fullmatch(source.slug) else slugify(source.slug)
    folder, _, name = source.path.rpartition("/")
    stem = name.rpartition(".")[0] or name
    if stem.lower() == "index" and folder:
        stem = folder.rpartition("/")[2]
    return slugify(without_date(stem) or stem)
