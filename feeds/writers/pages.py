"""The two files that list every feed: index.html for people, feeds.opml for feed readers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from html import escape

from lxml import etree

from feeds.model import FEED_FILES, FeedSpec
from feeds.writers._shared import clean

#: MIME type of each format, as autodiscovery links announce it
MEDIA_TYPES: dict[str, str] = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
#: how each format is named to people
FORMAT_NAMES: dict[str, str] = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}

_KIND_ORDER = {"site": 0, "tag": 1, "author": 2}
_SECTIONS = (("site", "Site"), ("tag", "Tags"), ("author", "Authors"))

_STYLE = (
    "body{font:1.05rem/1.55 system-ui,sans-serif;max-width:44rem;margin:0 auto;"
    "padding:1.5rem 1rem 3rem;color:#1d1d1f;background:#fdfdfc}"
    "h1{font-size:1.9rem;margin:0 0 .3rem}h1 a{color:inherit}"
    "h2{font-size:1.2rem;margin:1.8rem 0 .4rem;border-bottom:1px solid #e4e4e4}"
    ".hint{background:#fff6d6;border:1px solid #e8d48a;border-radius:.5rem;padding:.8rem 1rem}"
    "ul{padding-left:1.2rem}li{margin:.3rem 0}li a{margin-right:.5rem}"
    "time{color:#666;font-size:.9rem;margin-left:.3rem}"
)
#: how many of the site's newest posts the page shows
LATEST = 10


def index_html(
    site_title: str,
    description: str,
    base_url: str,
    specs: Sequence[FeedSpec],
    formats: Sequence[str],
    tz: tzinfo = UTC,
) -> bytes:
    """A self-contained HTML5 page (UTF-8): how to subscribe, the site's newest posts, every
    feed with a link per format, and an autodiscovery ``<link rel="alternate">`` per feed
    and format in its head, site feeds first.
    Posts are dated in ``tz``, the site's time zone, as their permalinks are.
    Every text is escaped; the same input gives the same bytes."""
    formats = _known(formats)
    ordered = _ordered(specs)
    lang = next((spec.language for spec in ordered if spec.language), "")
    title = _text(site_title)

    lines = ["<!DOCTYPE html>", f'<html lang="{_attr(lang)}">' if lang else "<html>", "<head>"]
    lines.append('<meta charset="utf-8">')
    lines.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    lines.append(f"<title>Feeds of {title}</title>")
    if description.strip():
        lines.append(f'<meta name="description" content="{_attr(description)}">')
    for spec in ordered:
        for fmt in formats:
            lines.append(
                f'<link rel="alternate" type="{MEDIA_TYPES[fmt]}" '
                f'title="{_attr(f"{spec.title} ({FORMAT_NAMES[fmt]})")}" '
                f'href="{_attr(spec.url(fmt))}">'
            )
    lines.append(f"<style>{_STYLE}</style>")
    lines.append("</head>")
    lines.append("<body>")
    lines.append(f'<h1><a href="{_attr(base_url)}">{title}</a></h1>')
    if description.strip():
        lines.append(f"<p>{_text(description)}</p>")
    lines.append(
        '<p class="hint">Follow this site in a feed reader: copy the address of one of the '
        "feeds below (right-click a format, then copy the link) into your reader, or import "
        "them all with the OPML file at the end. RSS and Atom work in every reader.</p>"
    )
    site_spec = next((spec for spec in ordered if spec.kind == "site"), None)
    if site_spec is not None and site_spec.posts:
        lines.append("<section>")
        lines.append("<h2>Latest posts</h2>")
        lines.append("<ul>")
        for post in site_spec.posts[:LATEST]:
            day = post.published.astimezone(tz).date().isoformat()
            lines.append(
                f'<li><a href="{_attr(post.url)}">{_text(post.title)}</a>'
                f'<time datetime="{day}">{day}</time></li>'
            )
        lines.append("</ul>")
        lines.append("</section>")
    for kind, heading in _SECTIONS:
        group = [spec for spec in ordered if spec.kind == kind]
        if not group:
            continue
        lines.append("<section>")
        lines.append(f"<h2>{heading}</h2>")
        lines.append("<ul>")
        for spec in group:
            links = " ".join(_format_link(spec, fmt) for fmt in formats)
            lines.append(f"<li>{_text(spec.title)}: {links}</li>")
        lines.append("</ul>")
        lines.append("</section>")
    lines.append(
        f'<p><a href="{_attr(base_url)}feeds.opml" type="text/x-opml">All feeds as OPML</a></p>'
    )
    lines.append("</body>")
    lines.append("</html>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def opml(
    site_title: str,
    base_url: str,
    specs: Sequence[FeedSpec],
    formats: Sequence[str],
) -> bytes:
    """OPML 2.0 (UTF-8, XML declaration) with one ``type="rss"`` outline per feed, site feeds
    first, no date from the clock.

    One outline per feed, not per format: a reader importing the list subscribes once to each
    feed. Its ``xmlUrl`` is the first of ``formats`` that is RSS or Atom (every reader reads
    them), else the first format.
    """
    formats = _known(formats)
    preferred = next((fmt for fmt in formats if fmt in ("rss", "atom")), formats[0])

    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = clean(site_title)
    body = etree.SubElement(root, "body")
    for spec in _ordered(specs):
        etree.SubElement(
            body,
            "outline",
            type="rss",
            text=clean(spec.title),
            title=clean(spec.title),
            xmlUrl=spec.url(preferred),
            htmlUrl=base_url,
        )
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return data


def _format_link(spec: FeedSpec, fmt: str) -> str:
    """An ``<a>`` to the feed's file in format ``fmt``, named after the format."""
    href = _attr(spec.url(fmt))
    return f'<a href="{href}" type="{MEDIA_TYPES[fmt]}">{FORMAT_NAMES[fmt]}</a>'


def _known(formats: Sequence[str]) -> list[str]:
    """``formats`` without repeats, in the given order; ValueError if one is unknown or none."""
    unknown = sorted(set(formats) - FEED_FILES.keys())
    if unknown:
        raise ValueError(f"unknown feed format(s): {', '.join(unknown)}")
    if not formats:
        raise ValueError("no feed format to list")
    return list(dict.fromkeys(formats))


def _ordered(specs: Sequence[FeedSpec]) -> list[FeedSpec]:
    """Site feeds, then tag feeds, then author feeds, each by folder: the order of the input
    does not matter."""
    return sorted(specs, key=lambda spec: (_KIND_ORDER[spec.kind], spec.folder))


def _text(value: str) -> str:
    """``value`` escaped for HTML text."""
    return escape(clean(value), quote=False)


def _attr(value: str) -> str:
    """``value`` escaped for a double-quoted HTML attribute."""
    return escape(clean(value), quote=True)
