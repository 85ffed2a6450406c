"""The reader of each post format, keyed by file suffix."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from feeds.content import html, markdown, text
from feeds.model import Source

Reader = Callable[[str, str, ZoneInfo], Source]

#: the reader for each post suffix (lowercase, with the dot)
READERS: dict[str, Reader] = {
    ".md": markdown.read,
    ".markdown": markdown.read,
    ".txt": text.read,
    ".html": html.read,
    ".htm": html.read,
}
