"""Atom 1.0 with feedgen: self and alternate links, HTML summary and content, every author."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.model import Author, Enclosure, FeedSpec, Post
from feeds.writers._history import HistoryExtension
from feeds.writers._shared import (
    GENERATOR,
    absolute,
    ascii_email,
    clean,
    entry_authors,
    entry_tags,
    feed_updated,
    hex_refs,
    html_titles,
    required,
    utc,
    web_url,
    with_stylesheet,
)

if TYPE_CHECKING:
    from feeds.writers import WriteOptions


class _EntryExtra(BaseEntryExtension):  # type: ignore[misc]
    """The entry's enclosure link, written here because feedgen 1.0 drops the ``rel``,
    ``type`` and ``length`` of entry links (it reads them back from the new element)."""

    def __init__(self) -> None:
        self.enclosure: Enclosure | None = None

    def extend_atom(self, entry: Any) -> Any:
        if self.enclosure is not None:
            # No namespace: feedgen declares Atom's as a plain xmlns attribute on <feed>.
            etree.SubElement(
                entry,
                "link",
                rel="enclosure",
                href=self.enclosure.url,
                type=self.enclosure.type,
                length=str(self.enclosure.length),
            )
        return entry


def write_atom(spec: FeedSpec, options: WriteOptions) -> bytes:
    """The feed as Atom 1.0: UTF-8 bytes with an XML declaration, entries in ``spec.posts``
    order, the same bytes for the same input (no clock is read)."""
    fg = FeedGenerator()
    fg.register_extension("feeds", HistoryExtension, _EntryExtra, atom=True, rss=False)
    fg.feeds.set(spec, "atom")
    if any(post.image for post in spec.posts):
        fg.load_extension("media", atom=True, rss=False)

    # The feed's own URL is its id: unique per feed (every tag and author feed shares the
    # base URL), and as permanent as the address readers subscribe to.
    fg.id(spec.url("atom"))
    fg.title(required(spec.title, f"title of feed {spec.path('atom')}"))
    if clean(spec.description).strip():
        fg.subtitle(clean(spec.description))
    fg.link(href=spec.url("atom"), rel="self", type="application/atom+xml")
    if options.hub:
        fg.link(href=options.hub, rel="hub")
    fg.link(href=spec.base_url, rel="alternate", type="text/html")
    # Entries all name their authors; the feed's author also covers readers that look here.
    fg.author(_person(spec.author))
    if spec.language:
        fg.language(clean(spec.language))
    fg.generator(GENERATOR)
    # feedgen defaults it to the current time: always set it.
    fg.updated(feed_updated(spec))

    for post in spec.posts:
        _add_entry(fg, spec, post, options)

    data: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    # Plain-text constructs; summary and content are HTML and need no such care.
    for name in ("title", "subtitle", "name"):
        data = hex_refs(data, name)
    data = html_titles(data)
    return with_stylesheet(data, spec) if options.stylesheet else data


def _add_entry(fg: Any, spec: FeedSpec, post: Post, options: WriteOptions) -> None:
    """Append one <entry> for ``post`` (after the ones already added)."""
    fe = fg.add_entry(order="append")
    fe.id(clean(post.id))
    fe.title(required(post.title, f"title of {post.path}"))
    # Written without its rel (feedgen drops it); alternate is what Atom assumes then.
    fe.link(href=clean(post.url), rel="alternate")
    fe.published(utc(post.published))
    fe.updated(utc(post.updated))
    fe.author([_person(author) for author in entry_authors(spec, post)])
    summary = clean(post.summary)
    content = clean(post.content) if options.full_content else ""
    if summary.strip():
        fe.summary(summary, type="html")
    elif not content.strip():
        # A post with an empty body: a blank summary says so, where no text element at all
        # draws the W3C validator's "Missing textual content" warning.
        fe.summary(" ", type="html")
    if content.strip():
        fe.content(content, type="html")
    for tag in entry_tags(post):
        fe.category(term=tag)
    if post.enclosure is not None:
        enclosure = post.enclosure
        fe.feeds.enclosure = Enclosure(
            absolute(post, enclosure.url), enclosure.length, clean(enclosure.type)
        )
    if post.image:
        # Outside a media:group: readers look for a bare media:thumbnail.
        fe.media.thumbnail(url=absolute(post, post.image), group=None)


def _person(author: Author) -> dict[str, str]:
    """An Atom person construct for feedgen: name, and e-mail and URI when known."""
    person = {"name": clean(author.name)}
    if author.email:
        person["email"] = clean(ascii_email(author.email))
    if author.url:
        person["uri"] = web_url(author.url)
    return person
