"""Which feeds exist and which posts each one holds. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import chain

from feeds.config import Config
from feeds.model import Author, FeedSpec, History, Post, Problem
from feeds.slugs import slugify_name
from feeds.state import Sealed

#: the folder of the site feed's archive pages
ARCHIVE_FOLDER = "archive/"


def plan_feeds(posts: Sequence[Post], config: Config) -> tuple[FeedSpec, ...]:
    """The site feed, then per-tag and per-author feeds (sorted by slug), each holding its
    newest ``feeds.limit`` posts. ``posts`` must be newest first."""
    site = config.site
    limit = config.feeds.limit

    def spec(kind: str, key: str, folder: str, title: str, description: str,
             author: Author, held: Iterable[Post]) -> FeedSpec:  # fmt: skip
        return FeedSpec(
            # The podcast is the site's feed; tag and author feeds stay plain.
            podcast=config.podcast if kind == "site" else None,
            kind=kind,  # type: ignore[arg-type]
            key=key,
            folder=folder,
            title=title,
            description=description,
            base_url=site.base_url,
            language=site.language,
            posts=tuple(held)[:limit],
            author=author,
        )

    specs = [spec("site", "", "", site.title, site.description or site.title, site.author, posts)]
    if config.feeds.per_tag:
        for slug, name, held in _groups(posts, lambda p: p.tags):
            specs.append(
                spec(
                    "tag",
                    name,
                    f"tags/{slug}/",
                    f"{site.title}: {name}",
                    f"Posts tagged “{name}” on {site.title}",
                    site.author,
                    held,
                )
            )
    if config.feeds.per_author:
        authors = {a.name: a for p in reversed(posts) for a in p.authors}
        for slug, name, held in _groups(posts, lambda p: [a.name for a in p.authors]):
            specs.append(
                spec(
                    "author",
                    name,
                    f"authors/{slug}/",
                    f"{site.title}: {name}",
                    f"Posts by {name} on {site.title}",
                    authors[name],
                    held,
                )
            )
    return tuple(specs)


def _groups(
    posts: Sequence[Post], keys: Callable[[Post], Iterable[str]]
) -> list[tuple[str, str, list[Post]]]:
    """Group posts by the slug of each key; a group is named as its newest post spells it."""
    held: dict[str, list[Post]] = defaultdict(list)
    names: dict[str, str] = {}
    for post in posts:
        for slug in dict.fromkeys(slugify_name(k) for k in keys(post)):
            held[slug].append(post)
        for key in keys(post):
            names.setdefault(slugify_name(key), key)
    return [(slug, names[slug], held[slug]) for slug in sorted(held)]


#: warning codes of a tag or an author name that shares its feed with another spelling
SHARED_TAG_FEED, SHARED_AUTHOR_FEED = "shared-tag-feed", "shared-author-feed"


def shared_feeds(posts: Sequence[Post], config: Config) -> tuple[Problem, ...]:
    """A warning for each tag or author name that makes the slug another name makes
    (``C++`` and ``C``, ``Zürich`` and ``Zurich``, ``Straße`` and ``Strasse``), so that
    the two share one feed: it names both, the first file in path order that writes
    each, the feed and the title it gets (as its newest post spells the name, see
    ``plan_feeds``). Names that differ in letter case alone are one name, as in a post's
    own tags. Only the feeds the config makes are looked at; ``posts`` newest first."""
    problems: list[Problem] = []
    if config.feeds.per_tag:
        problems += _shared(posts, lambda p: p.tags, "tag", "tags/", SHARED_TAG_FEED, config)
    if config.feeds.per_author:
        problems += _shared(
            posts, lambda p: [a.name for a in p.authors], "author", "authors/",
            SHARED_AUTHOR_FEED, config,
        )  # fmt: skip
    return tuple(problems)


def _shared(posts: Sequence[Post], keys: Callable[[Post], Iterable[str]], what: str,
            folder: str, code: str, config: Config) -> list[Problem]:  # fmt: skip
    names = set(chain.from_iterable(map(keys, posts)))
    # slug -> the names that make it, one for each spelling as letter case aside
    spellings: dict[str, set[str]] = defaultdict(set)
    for name in names:
        spellings[slugify_name(name)].add(name.lower())
    clashing = {slug for slug, lowered in spellings.items() if len(lowered) > 1}
    if not clashing:
        return []  # the usual site: no post is looked at twice
    # slug -> lowered name -> (the first file that writes it, the name as written there)
    first: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for post in sorted(posts, key=lambda p: p.path):
        for name in keys(post):
            if (slug := slugify_name(name)) in clashing:
                first[slug].setdefault(name.lower(), (post.path, name))
    titles = {slug: name for slug, name, _ in _groups(posts, keys) if slug in clashing}
    problems = []
    for slug in sorted(clashing):
        (path, name), *others = sorted(first[slug].values())
        feed = f"{folder}{slug}/"
        title = f"{config.site.title}: {titles[slug]}"
        for other_path, other in others:
            message = (
                f"{what} {other!r} makes the same slug as {what} {name!r} ({path}), so both share "
                f"the feed {feed}, titled {title!r} as its newest post spells the {what}; "
                f"write one spelling, or another name to keep them apart"
            )
            problems.append(Problem("warning", code, message, other_path))
    return problems


def page_folder(page: int) -> str:
    """Output folder of archive page ``page`` (1 is the oldest): a URL that never moves."""
    return f"{ARCHIVE_FOLDER}{page}/"


@dataclass(frozen=True)
class Archives:
    """The site feed with RFC 5005 archives: the main feed and every archive page."""

    #: the site feed: the newest posts that no complete page holds, ``prev-archive`` linked
    main: FeedSpec
    #: archive pages, oldest (page 1) first; every one but the last is complete
    pages: tuple[FeedSpec, ...]
    #: every complete page: the ones sealed before, then those sealed now (with no files)
    sealed: tuple[Sealed, ...]


def plan_archives(site: FeedSpec, posts: Sequence[Post], sealed: Sequence[Sealed],
                  size: int) -> Archives:  # fmt: skip
    """Split the site's ``posts`` (newest first) into the main feed and archive pages.

    A complete page holds the posts it was sealed with, whatever happened to them since
    (the pipeline keeps its file; they are listed here for when it must be made again),
    and is marked ``fh:archive``. Every other post is in the main feed (the newest
    ``size``) or else, oldest first, fills pages of ``size`` after the last complete one;
    a page that fills up is sealed. The last page is the open one: it takes posts as they
    leave the main feed, may be empty, and exists whenever a page does, so that the
    ``next-archive`` link a complete page was written with always leads somewhere; its
    posts change, so it is not marked ``fh:archive`` until it is complete.
    """
    taken = {ident for page in sealed for ident in page.ids}
    free = [post for post in posts if post.id not in taken]
    older = free[size:][::-1]
    chunks = [older[i : i + size] for i in range(0, len(older), size)]
    filled = [chunk for chunk in chunks if len(chunk) == size]
    open_page = older[len(filled) * size :]
    sealed_now = (
        *sealed,
        *(Sealed(len(sealed) + n, tuple(p.id for p in reversed(chunk)))
          for n, chunk in enumerate(filled, 1)),
    )  # fmt: skip
    if not sealed_now and not open_page:
        return Archives(site, (), ())
    by_id = {post.id: post for post in posts}
    held = [[by_id[i] for i in page.ids if i in by_id] for page in sealed_now]
    held.append(open_page[::-1])
    last = len(held)
    pages = tuple(
        replace(
            site,
            folder=page_folder(n),
            posts=tuple(page_posts),
            history=History(
                page=n,
                current=site.folder,
                prev=page_folder(n - 1) if n > 1 else None,
                next=page_folder(n + 1) if n < last else None,
                complete=n < last,
            ),
        )
        for n, page_posts in enumerate(held, 1)
    )
    main = replace(
        site,
        posts=tuple(free[:size]),
        history=History(page=None, current=site.folder, prev=page_folder(last)),
    )
    return Archives(main, pages, sealed_now)
