"""HTML posts: ``<title>``, a few ``<meta>`` tags, and the body of ``<article>`` or ``<body>``."""

from __future__ import annotations

import html
from typing import cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import lxml.html
from lxml import etree

from feeds.content.fields import make_source
from feeds.exceptions import ContentError
from feeds.model import Source
from feeds.render import strip_illegal

#: ``<meta name=…>`` → the post field it sets
_META_FIELDS = {"author": "authors", "date": "date", "description": "summary", "keywords": "tags"}


def read(text: str, path: str, tz: ZoneInfo, *, with_body: bool = True) -> Source:
    """Read an HTML post (text as given by ``decode``); the body is the inner HTML, as is
    (``""`` without ``with_body``).

    An ``<h1>`` that opens the body is the title when there is no ``<title>``, and is
    left out of the body when it says the title (readers show the title above it).

    ``<meta name="author">`` may repeat (one author each); ``description`` is plain text
    and becomes an escaped summary; ``keywords`` are comma-separated tags. Errors name
    the line of the element at fault.
    """
    # The text is already decoded: bytes with a fixed encoding keep lxml from
    # re-reading a <meta charset> or refusing an <?xml encoding?> declaration.
    parser = lxml.html.HTMLParser(encoding="utf-8")
    try:
        doc = lxml.html.document_fromstring(strip_illegal(text).encode("utf-8"), parser=parser)
    except (etree.LxmlError, ValueError) as e:
        raise ContentError(path, 1, f"unreadable HTML: {e}") from e

    values: dict[str, object] = {}
    lines: dict[str, int] = {}

    def put(key: str, value: object, line: int | None) -> None:
        values[key] = value
        if line is not None:
            lines[key] = line

    title = doc.find("head/title")
    if title is not None and (title.text or "").strip():
        put("title", title.text, _line(title))
    authors: list[str] = []
    for meta in doc.iter("meta"):
        name = (meta.get("name") or "").strip().lower()
        content = meta.get("content")
        key = _META_FIELDS.get(name)
        if key is None or content is None or not content.strip():
            continue
        if key == "authors":
            authors.append(content)
            line = _line(meta)
            if "authors" not in lines and line is not None:
                lines["authors"] = line
        elif key not in values:
            # Like a browser, the first of repeated <meta> tags wins.
            value = html.escape(content, quote=False) if key == "summary" else content
            put(key, value, _line(meta))
    if authors:
        values["authors"] = authors

    container = next(doc.iter("article"), None)
    if container is None:
        container = doc.find("body")
    heading = _heading(container)
    if heading is not None:
        shown = " ".join(heading.text_content().split())
        if "title" not in values:
            put("title", shown, _line(heading))
        if " ".join(str(values["title"]).split()).casefold() == shown.casefold():
            # The page's own heading is the entry's title, which readers show above it.
            _drop(heading)
    body = ""
    if container is not None and with_body:
        base = _base(doc)
        if base is not None:
            # A saved page's links lead where its <base> says, not to this site's page.
            # lxml-stubs type the document as a plain element; lxml.html makes an HtmlElement.
            page = cast("lxml.html.HtmlElement", doc)
            page.make_links_absolute(base, resolve_base_href=False, handle_failures="ignore")
        body = _inner_html(container)
    return make_source(path, values, lines, body=body, body_format="html", tz=tz)


def _heading(container: etree._Element | None) -> lxml.html.HtmlElement | None:
    """The ``<h1>`` that opens ``container`` (nothing but space before it), if any."""
    if container is None or (container.text or "").strip() or not len(container):
        return None
    first = cast("lxml.html.HtmlElement", container[0])
    if first.tag != "h1" or not first.text_content().strip():
        return None
    return first


def _drop(element: etree._Element) -> None:
    """Remove ``element`` and keep the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail or ""
    previous = element.getprevious()
    if previous is None:
        parent.text = (parent.text or "") + tail
    else:
        previous.tail = (previous.tail or "") + tail
    parent.remove(element)


def _base(doc: etree._Element) -> str | None:
    """The page's ``<base href>``, when it is an absolute http(s) URL (a relative one
    resolves against the page's own URL, which is the post's page here anyway)."""
    element = doc.find("head/base[@href]")
    href = (element.get("href") or "").strip() if element is not None else ""
    try:
        parts = urlsplit(href)
    except ValueError:  # not a URL (an IPv6 host left open): the post's page is the base
        return None
    return href if parts.scheme in ("http", "https") and parts.netloc else None


def _inner_html(element: lxml.html.HtmlElement) -> str:
    """The markup inside ``element``, without the element's own tags."""
    parts = [html.escape(element.text or "", quote=False)]
    parts.extend(lxml.html.tostring(child, encoding="unicode", with_tail=True) for child in element)
    return "".join(parts).strip()


def _line(element: etree._Element) -> int | None:
    """The element's line in the file, when lxml knows it."""
    line: object = element.sourceline
    return line if isinstance(line, int) else None
