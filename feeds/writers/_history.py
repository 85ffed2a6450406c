"""RFC 5005 in RSS and Atom: the archive chain's links and the ``fh:archive`` marker."""

from __future__ import annotations

from typing import Any

from feedgen.ext.base import BaseExtension
from lxml import etree

from feeds.model import FH_NS, FeedSpec

_ATOM_NS = "http://www.w3.org/2005/Atom"
#: the type attribute of links to documents of each format
_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
#: the order links are written in, whatever order they were given in
_ORDER = ("current", "prev-archive", "next-archive")


class HistoryExtension(BaseExtension):  # type: ignore[misc]
    """A feedgen feed extension writing the spec's RFC 5005 links, then ``fh:archive``.

    feedgen extends the feed before it adds entries, so these land in the feed's head,
    where readers and validators look for feed metadata.
    """

    def __init__(self) -> None:
        self.links: dict[str, str] = {}
        self.archive = False
        self.type = ""

    def set(self, spec: FeedSpec, fmt: str) -> None:
        """Take the links and marker of ``spec``'s document in ``fmt``."""
        self.links = spec.history_links(fmt)
        self.archive = spec.history is not None and spec.history.complete
        self.type = _TYPES[fmt]

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS} if self.archive else {}

    def extend_atom(self, feed: Any) -> Any:
        # No namespace: feedgen declares Atom's as a plain xmlns attribute on <feed>.
        self._write(feed, "link")
        return feed

    def extend_rss(self, rss: Any) -> Any:
        self._write(rss.find("channel"), f"{{{_ATOM_NS}}}link")
        return rss

    def _write(self, parent: Any, link: str) -> None:
        for rel in sorted(self.links, key=_ORDER.index):
            etree.SubElement(parent, link, href=self.links[rel], rel=rel, type=self.type)
        if self.archive:
            etree.SubElement(parent, f"{{{FH_NS}}}archive")
