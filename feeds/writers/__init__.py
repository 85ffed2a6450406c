"""Feed writers: a FeedSpec in, the bytes of one feed file out, one writer per format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files

from feeds.model import FeedSpec
from feeds.writers._shared import STYLESHEET_FILE
from feeds.writers.atom import write_atom
from feeds.writers.jsonfeed import write_json
from feeds.writers.rss import write_rss


@dataclass(frozen=True)
class WriteOptions:
    """How feeds are written, beyond what the FeedSpec holds; the same for every feed of a run."""

    #: the whole post in each entry (content:encoded, atom:content, content_html)
    full_content: bool = True
    #: an xml-stylesheet instruction naming ``feed.xsl`` in RSS and Atom
    stylesheet: bool = False
    #: the WebSub hub every feed names (Atom and RSS ``rel="hub"`` links, JSON Feed ``hubs``)
    hub: str | None = None


Writer = Callable[[FeedSpec, WriteOptions], bytes]

#: the writer of each format, keyed like ``FEED_FILES``
WRITERS: dict[str, Writer] = {"rss": write_rss, "atom": write_atom, "json": write_json}


def stylesheet() -> bytes:
    """The XSL stylesheet that shows RSS and Atom feeds as a page in a browser."""
    return files(__package__).joinpath("feed.xsl").read_bytes()


__all__ = [
    "STYLESHEET_FILE",
    "WRITERS",
    "WriteOptions",
    "Writer",
    "stylesheet",
    "write_atom",
    "write_json",
    "write_rss",
]
