"""What every feed writer agrees on: clean text, instants in UTC, entry authors, tag order."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import urljoin

from feeds.model import Author, FeedSpec, Post
from feeds.render import absolute_url

#: ``updated`` of a feed without posts: fixed so empty feeds stay byte-identical, and after
#: 1990 because the W3C validator calls earlier dates implausible
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)

#: the generator named in RSS and Atom; no version, so upgrades do not rewrite every feed
GENERATOR = "feeds"

# Forbidden by XML 1.0 (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF), plus the C1
# controls it discourages: they are mojibake, and the W3C validator flags them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """``text`` without characters XML 1.0 forbids or discourages (feedgen raises on them)."""
    return _NOT_XML.sub("", text)


def ascii_email(address: str) -> str:
    """``address`` with a domain beyond ASCII in IDNA (``ann@bücher.example`` →
    ``ann@xn--bcher-kva.example``), as mail software sends it: feeds hold ASCII
    addresses (the W3C validator refuses others). Unchanged when IDNA cannot write it."""
    if address.isascii():
        return address
    local, at, domain = address.rpartition("@")
    try:
        return f"{local}{at}{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address


def required(text: str, what: str) -> str:
    """``text`` cleaned; ValueError naming ``what`` when nothing but white space is left
    (feeds need titles, and feedgen's own error would not say which one)."""
    cleaned = clean(text)
    if not cleaned.strip():
        raise ValueError(f"{what} is empty")
    return cleaned


def utc(moment: datetime) -> datetime:
    """The same instant in UTC, to the whole second (RSS dates cannot carry fractions).

    Raises ValueError for a naive datetime: its instant is unknown.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: posts must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def rfc3339(moment: datetime) -> str:
    """``moment`` as RFC 3339 in UTC, e.g. ``2024-05-01T09:30:00+00:00``."""
    return utc(moment).isoformat()


def feed_updated(spec: FeedSpec) -> datetime:
    """The newest ``updated`` among the feed's posts, in UTC; a fixed date when it has none."""
    return max((utc(post.updated) for post in spec.posts), default=EMPTY_FEED_UPDATED)


def feed_published(spec: FeedSpec) -> datetime:
    """The newest ``published`` among the feed's posts, in UTC; a fixed date when it has none."""
    return max((utc(post.published) for post in spec.posts), default=EMPTY_FEED_UPDATED)


def entry_authors(spec: FeedSpec, post: Post) -> tuple[Author, ...]:
    """The post's authors that have a name, or the feed's author when none has.

    Said in every entry rather than inherited, so every format (RSS has no inheritance)
    reports the same people.
    """
    named = tuple(author for author in post.authors if clean(author.name).strip())
    return named or (spec.author,)


def entry_tags(post: Post) -> list[str]:
    """The post's tags, cleaned, without blanks or repeats, in a fixed (case-blind) order."""
    tags = {clean(tag).strip() for tag in post.tags}
    tags.discard("")
    return sorted(tags, key=lambda tag: (tag.casefold(), tag))


def absolute(post: Post, url: str) -> str:
    """``url`` resolved against the post's URL (a no-op for the absolute URLs posts carry),
    with what a URL cannot hold literally (spaces, non-ASCII) percent-encoded."""
    joined = urljoin(post.url, clean(url).strip())
    return absolute_url(joined, post.url) or joined


def web_url(url: str) -> str:
    """An absolute URL as a browser sends it: its host in IDNA, what a URL cannot hold
    literally percent-encoded (an author's ``https://zoë.example/``)."""
    cleaned = clean(url).strip()
    return absolute_url(cleaned, cleaned) or cleaned


def hex_refs(document: bytes, name: str, count: int = 0) -> bytes:
    """``document`` with ``&`` and ``<`` in the text of ``<name>`` elements written as
    ``&#x26;`` and ``&#x3C;`` (the first ``count`` such elements; all when 0).

    The XML means the same. The RSS Best Practices Profile asks plain text to be written so,
    and the W3C validator warns when text with ``&`` or ``<`` lacks such references.
    """
    tag = re.escape(name.encode("ascii"))
    element = re.compile(rb"(<" + tag + rb"(?:\s[^>]*)?>)([^<]*)(</" + tag + rb">)")

    def rewrite(match: re.Match[bytes]) -> bytes:
        text = match[2].replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")
        return match[1] + text + match[3]

    return element.sub(rewrite, document, count=count)


_TITLE = re.compile(rb"<(title|subtitle)>([^<]*)</(?:title|subtitle)>")
#: an end tag (``</p>``): what makes the W3C validator take a text construct for HTML
_END_TAG = re.compile(r"</\w+>")


def html_titles(document: bytes) -> bytes:
    """``document`` (Atom) with every ``<title>`` and ``<subtitle>`` whose text holds an
    end tag (``The <br> and </p> tags``) written as ``type="html"``, its text escaped as
    HTML.

    The W3C validator warns of a text construct holding an end tag ("should not contain
    HTML unless declared in the type attribute"). Only there: most readers show an HTML
    title's escaped text as entities (sfeed, gofeed, rss-parser, feedparser and XML::Feed
    show ``Option&lt;T&gt;``), while every one shows a text title as written, ``<br>``
    and ``Option<T>`` included.
    """

    def rewrite(match: re.Match[bytes]) -> bytes:
        text = html.unescape(match[2].decode("utf-8"))
        if not _END_TAG.search(text):
            return match[0]
        twice = html.escape(html.escape(text, quote=False), quote=False).encode("utf-8")
        name = match[1]
        return b"<" + name + b' type="html">' + twice + b"</" + name + b">"

    return _TITLE.sub(rewrite, document)


#: the XSL stylesheet's file name, at the top of the output folder
STYLESHEET_FILE = "feed.xsl"


def with_stylesheet(document: bytes, spec: FeedSpec) -> bytes:
    """``document`` with an xml-stylesheet instruction after its XML declaration, naming
    the site's stylesheet relative to the feed, so it is found on any host and under any
    base path (browsers load stylesheets only from the feed's own origin)."""
    href = "../" * spec.folder.count("/") + STYLESHEET_FILE
    declaration, newline, rest = document.partition(b"\n")
    pi = f'<?xml-stylesheet type="text/xsl" href="{href}"?>'.encode()
    return declaration + newline + pi + b"\n" + rest
