"""The SAX driver feedparser reads feeds with, when the validator has it read them:
Python's own expat driver, its character data buffered.

expat hands over a text in pieces, one more at each entity or character reference:
the HTML of a post, escaped in ``content:encoded``, comes in hundreds, each through
feedparser's handlers (an eighth of its time on such an entry). Buffered, the text
between two tags comes at once. feedparser joins the pieces it is given, so what it
reads is the same.

Named first in feedparser's list of drivers (``feeds.validate``), it is also what
keeps feedparser from libxml2's driver where that is installed: every machine
validates with the same parser.
"""

from __future__ import annotations

from typing import Any
from xml.sax.expatreader import ExpatParser


class BufferedExpatParser(ExpatParser):
    """expat's SAX driver, with its parser buffering character data."""

    def reset(self) -> None:
        super().reset()
        # typeshed does not know ExpatParser's parser attribute.
        parser: Any = self._parser  # type: ignore[attr-defined]
        parser.buffer_text = True


def create_parser(*args: Any, **kwargs: Any) -> BufferedExpatParser:
    """The driver's parser (``xml.sax.make_parser`` calls this)."""
    return BufferedExpatParser(*args, **kwargs)
