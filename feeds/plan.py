"""Which feeds exist and which posts each one holds. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from feeds.config import Config
from feeds.model import Author, FeedSpec, Post
from feeds.slugs import slugify


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
        for slug in dict.fromkeys(slugify(k) for k in keys(post)):
            held[slug].append(post)
        for key in keys(post):
            names.setdefault(slugify(key), key)
    return [(slug, names[slug], held[slug]) for slug in sorted(held)]
