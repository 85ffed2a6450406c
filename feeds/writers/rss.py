"""RSS 2.0 with feedgen: dc:creator per author, content:encoded, atom:link rel=self (and
rel=hub with WebSub)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.model import FeedSpec, Podcast, Post
from feeds.podcast import format_duration
from feeds.writers._history import HistoryExtension
from feeds.writers._shared import (
    GENERATOR,
    absolute,
    ascii_email,
    clean,
    entry_authors,
    entry_tags,
    feed_published,
    feed_updated,
    hex_refs,
    required,
    rfc3339,
    utc,
    with_stylesheet,
)

if TYPE_CHECKING:
    from feeds.writers import WriteOptions

_ATOM_NS = "http://www.w3.org/2005/Atom"
_ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"


class _ChannelExtra(HistoryExtension):
    """What the channel needs beyond feedgen, in this order: the WebSub hub link,
    ``atom:link rel="hub"`` right after the self link (feedgen keeps only the
    ``rel="self"`` link in RSS); the RFC 5005 links and marker (see HistoryExtension);
    ``itunes:explicit`` as ``true``/``false`` (Apple and the W3C validator ask for
    those words, and feedgen 1.0 writes only ``yes``/``no``/``clean``); ``itunes:image``
    (feedgen 1.0 drops, without a word, a URL not ending in lower-case ``.jpg`` or
    ``.png``: ``Cover.JPG``, ``cover.jpg?v=2``)."""

    def __init__(self) -> None:
        super().__init__()
        self.hub: str | None = None
        self.explicit: bool | None = None
        self.image: str | None = None

    def extend_rss(self, feed: Any) -> Any:
        if self.hub is not None:
            link = feed.find(f"channel/{{{_ATOM_NS}}}link[@rel='self']")
            link.addnext(etree.Element(f"{{{_ATOM_NS}}}link", href=self.hub, rel="hub"))
        feed = super().extend_rss(feed)
        channel = feed[0]
        if self.image is not None:
            etree.SubElement(channel, f"{{{_ITUNES_NS}}}image", href=self.image)
        if self.explicit is not None:
            element = etree.SubElement(channel, f"{{{_ITUNES_NS}}}explicit")
            element.text = "true" if self.explicit else "false"
        return feed


class _ItemExtra(BaseEntryExtension):  # type: ignore[misc]
    """What RSS 2.0 has no element for: the item's ``updated``, written as ``atom:updated``.

    feedgen declares the atom namespace in every RSS feed, so nothing is added to the nsmap.
    """

    def __init__(self) -> None:
        self.updated: datetime | None = None

    def extend_rss(self, item: Any) -> Any:
        if self.updated is not None:
            etree.SubElement(item, f"{{{_ATOM_NS}}}updated").text = rfc3339(self.updated)
        return item


def write_rss(spec: FeedSpec, options: WriteOptions) -> bytes:
    """The feed as RSS 2.0: UTF-8 bytes with an XML declaration, entries in ``spec.posts``
    order, the same bytes for the same input (no clock is read)."""
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    if spec.podcast is not None:
        # Before ours, so its namespace is declared on <rss> for our itunes:explicit too.
        fg.load_extension("podcast", atom=False, rss=True)
    fg.register_extension("feeds", _ChannelExtra, _ItemExtra, atom=False, rss=True)
    fg.feeds.set(spec, "rss")
    if any(post.image for post in spec.posts):
        fg.load_extension("media", atom=False, rss=True)

    fg.title(required(spec.title, f"title of feed {spec.path('rss')}"))
    # RSS requires a non-empty description.
    fg.description(clean(spec.description).strip() or clean(spec.title))
    # feedgen writes the href of the *last* link() call as <channel><link>: self first.
    fg.link(href=spec.url("rss"), rel="self", type="application/rss+xml")
    fg.link(href=spec.base_url, rel="alternate")
    fg.feeds.hub = options.hub or None
    if spec.language:
        fg.language(clean(spec.language))
    fg.generator(GENERATOR)
    # Both default to the current time in feedgen: always set them.
    fg.lastBuildDate(feed_updated(spec))
    fg.pubDate(feed_published(spec))
    if spec.podcast is not None:
        _podcast(fg, spec.podcast)

    for post in spec.posts:
        _add_item(fg, spec, post, options)

    data: bytes = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    for name in ("title", "category"):
        data = hex_refs(data, name)
    # Only the channel's description is plain text (it comes before every item's HTML one).
    data = hex_refs(data, "description", count=1)
    return with_stylesheet(data, spec) if options.stylesheet else data


def _add_item(fg: Any, spec: FeedSpec, post: Post, options: WriteOptions) -> None:
    """Append one <item> for ``post`` (after the ones already added)."""
    fe = fg.add_entry(order="append")
    fe.title(required(post.title, f"title of {post.path}"))
    fe.link(href=clean(post.url))
    # A guid is a permalink only when it is the post's URL; tag: and urn: ids are not.
    fe.guid(clean(post.id), permalink=post.id == post.url)
    fe.pubDate(utc(post.published))
    fe.feeds.updated = utc(post.updated)
    # <author> needs an e-mail address and would duplicate dc:creator: names only.
    for author in entry_authors(spec, post):
        fe.dc.dc_creator(clean(author.name))
    summary = clean(post.summary)
    if summary.strip():
        fe.description(summary)
    if options.full_content and clean(post.content).strip():
        # Escaped text, not CDATA: content holding "]]>" stays well-formed.
        fe.content(clean(post.content))
    for tag in entry_tags(post):
        fe.category(term=tag)
    if post.enclosure is not None:
        enclosure = post.enclosure
        fe.enclosure(
            url=absolute(post, enclosure.url),
            length=str(enclosure.length),
            type=clean(enclosure.type),
        )
    if post.image:
        # Outside a media:group: readers look for a bare media:thumbnail.
        fe.media.thumbnail(url=absolute(post, post.image), group=None)
    if spec.podcast is not None and post.duration is not None:
        fe.podcast.itunes_duration(format_duration(post.duration))


def _podcast(fg: Any, podcast: Podcast) -> None:
    """The channel's iTunes tags: what Apple asks of a show, and the W3C validator checks."""
    fg.podcast.itunes_author(clean(podcast.owner.name))
    email = clean(ascii_email(podcast.owner.email or ""))
    fg.podcast.itunes_owner(name=clean(podcast.owner.name), email=email)
    fg.podcast.itunes_category(podcast.category, podcast.subcategory)
    fg.feeds.image = podcast.image
    fg.feeds.explicit = podcast.explicit
