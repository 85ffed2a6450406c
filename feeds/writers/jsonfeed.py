"""JSON Feed 1.1 with the json module (feedgen cannot write it)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from feeds.model import Author, FeedSpec, Post
from feeds.writers._shared import (
    absolute,
    clean,
    entry_authors,
    entry_tags,
    required,
    rfc3339,
    web_url,
)

if TYPE_CHECKING:
    from feeds.writers import WriteOptions

VERSION = "https://jsonfeed.org/version/1.1"

# Elements whose edges separate words when HTML is read as text.
_BREAKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)
_SPACES = re.compile(r"\s+")


def write_json(spec: FeedSpec, options: WriteOptions) -> bytes:
    """The feed as JSON Feed 1.1: UTF-8 bytes ending in a newline, items in ``spec.posts``
    order, the same bytes for the same input (no clock is read)."""
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": required(spec.title, f"title of feed {spec.path('json')}"),
        "home_page_url": spec.base_url,
        "feed_url": spec.url("json"),
    }
    if clean(spec.description).strip():
        feed["description"] = clean(spec.description)
    if spec.language:
        feed["language"] = clean(spec.language)
    feed["authors"] = [_person(spec.author)]
    if options.hub:
        feed["hubs"] = [{"type": "WebSub", "url": options.hub}]
    feed["items"] = [_item(spec, post, options) for post in spec.posts]
    text = json.dumps(feed, ensure_ascii=False, indent=2) + "\n"
    return text.encode("utf-8")


def _item(spec: FeedSpec, post: Post, options: WriteOptions) -> dict[str, Any]:
    """One item; its keys in a fixed order so the output is stable."""
    item: dict[str, Any] = {
        "id": clean(post.id),
        "url": clean(post.url),
        "title": required(post.title, f"title of {post.path}"),
    }
    summary = html_to_text(post.summary)
    if summary:
        item["summary"] = summary
    # JSON Feed requires content_html or content_text: the summary stands in when full
    # content is off, or the post has no body (an empty content showed readers a blank
    # page where RSS and Atom readers showed the summary).
    content = clean(post.content) if options.full_content else ""
    item["content_html"] = content if content.strip() else clean(post.summary)
    if post.image:
        item["image"] = absolute(post, post.image)
    item["date_published"] = rfc3339(post.published)
    item["date_modified"] = rfc3339(post.updated)
    item["authors"] = [_person(author) for author in entry_authors(spec, post)]
    tags = entry_tags(post)
    if tags:
        item["tags"] = tags
    if post.enclosure is not None:
        enclosure = post.enclosure
        attachment: dict[str, Any] = {
            "url": absolute(post, enclosure.url),
            "mime_type": clean(enclosure.type),
            "size_in_bytes": enclosure.length,
        }
        if post.duration is not None:
            attachment["duration_in_seconds"] = post.duration
        item["attachments"] = [attachment]
    return item


def _person(author: Author) -> dict[str, str]:
    """A JSON Feed author: name, and URL when known (JSON Feed has no e-mail field)."""
    person = {"name": clean(author.name)}
    if author.url:
        person["url"] = web_url(author.url)
    return person


class _TextCollector(HTMLParser):
    """Gathers the text of an HTML fragment, with a space wherever a block begins or ends."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """The plain text of an HTML fragment: tags dropped, entities decoded, runs of white space
    made one space, trimmed."""
    collector = _TextCollector()
    collector.feed(clean(fragment))
    collector.close()
    return _SPACES.sub(" ", "".join(collector.parts)).strip()
