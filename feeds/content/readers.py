"""The reader of each post format, keyed by file suffix."""

from __future__ import annotations

from typing import Protocol
from zoneinfo import ZoneInfo

from feeds.content import html, markdown, text
from feeds.model import Source


class Reader(Protocol):
    def __call__(self, text: str, path: str, tz: ZoneInfo, *, with_body: bool = True) -> Source:
        """The post in ``text`` (as ``decode`` gives it), read from ``path``; its body is
        left out (``""``) without ``with_body``: metadata is read for every post, bodies
        only for posts a feed shows."""


#: the reader for each post suffix (lowercase, with the dot)
READERS: dict[str, Reader] = {
    ".md": markdown.read,
    ".markdown": markdown.read,
    ".txt": text.read,
    ".html": html.read,
    ".htm": html.read,
}
