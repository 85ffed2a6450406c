"""Plain-text posts: a ``Key: value`` header, a page saved from a blog, or bare paragraphs.

Every shape ends as HTML paragraphs: each run of lines between blank lines becomes one
``<p>``, its text escaped and its line breaks kept.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

from feeds.content.fields import KNOWN_KEYS, make_source
from feeds.exceptions import ContentError
from feeds.model import Source
from feeds.render import strip_illegal

_HEADER = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)[ \t]*:[ \t]*(.*)")
_BREADCRUMB = re.compile(r"\s*home\s+/\s+\S.*?\s+/\s+\S.*", re.IGNORECASE)
_BULLET = re.compile(r"\s*•\s*(.*)")
#: the longest line read as a breadcrumb: matching one takes time with the square of its
#: length (a line of 100,000 spaces took minutes), and no page's breadcrumb is near it
MAX_BREADCRUMB = 1000
_MONTHS = {
    name: n
    for n, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        1,
    )
    for name in names
}  # fmt: skip
_MONTH = "(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
#: the line under a saved page's title that dates it: ``March 3, 2026``, ``3 March 2026``
#: or ``2026-03-03``, maybe after ``Posted on`` and before ``by <name>``
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_DATE_LINES = tuple(
    re.compile(
        rf"(?:(?:posted|published)(?:\s+on)?:?\s+)?{_WEEKDAY}{day}(?:\s+by\s+\S.*)?",
        re.IGNORECASE,
    )
    for day in (
        rf"{_MONTH}\s+{_DAY},?\s+{_YEAR}",
        rf"{_DAY}\s+{_MONTH},?\s+{_YEAR}",
        r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})",
    )
)
#: what a share button on a blog page is called, lowercase
_SHARE_BUTTONS = frozenset(
    {
        "bluesky", "buffer", "delicious", "digg", "e-mail", "email", "facebook", "flipboard",
        "google", "google+", "hacker news", "line", "linkedin", "mail", "mastodon", "messenger",
        "pinterest", "pocket", "print", "reddit", "share", "skype", "stumbleupon", "telegram",
        "threads", "tumblr", "tweet", "twitter", "vk", "whatsapp", "x", "xing",
    }
)  # fmt: skip


def read(text: str, path: str, tz: ZoneInfo, *, with_body: bool = True) -> Source:
    """Read a ``.txt`` post (text as given by ``decode``); the body becomes HTML paragraphs
    (``""`` without ``with_body``)."""
    lines = strip_illegal(text).split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    body = paragraphs if with_body else _no_body
    if first < len(lines):
        if starts_with_header(lines, first):
            return _read_header(lines, first, path, tz, body)
        if len(lines[first]) <= MAX_BREADCRUMB and _BREADCRUMB.fullmatch(lines[first]):
            return _read_saved_page(lines, first, path, tz, body)
    return make_source(path, {}, {}, body=body(lines), body_format="html", tz=tz)


def _no_body(lines: list[str]) -> str:
    return ""


def _read_header(
    lines: list[str], first: int, path: str, tz: ZoneInfo, body: Callable[[list[str]], str]
) -> Source:
    """A ``Key: value`` header, then paragraphs."""
    values, key_lines, i = read_header(lines, first, path)
    for name in list(values):
        if name.lower() == "summary" and isinstance(values[name], str):
            # A text post's summary is text; the field holds HTML.
            values[name] = html.escape(str(values[name]), quote=False)
    return make_source(path, values, key_lines, body=body(lines[i:]), body_format="html", tz=tz)


def starts_with_header(lines: list[str], first: int) -> bool:
    """Whether line ``first`` opens a ``Key: value`` header: it names a post field, or
    (a misspelt first key, ``Titel:``) every line up to a blank one is a ``Key: value``
    line and one of them names a field. Otherwise a post's text that opens with a
    ``Note: …`` line would lose it to a header."""
    header = _HEADER.fullmatch(lines[first].strip())
    if header is None:
        return False
    if header.group(1).lower() in KNOWN_KEYS:
        return True
    known = False
    for line in lines[first + 1 :]:
        if not line.strip():
            break
        if line[0] in " \t":
            continue  # a value continued
        header = _HEADER.fullmatch(line.strip())
        if header is None:
            return False
        known = known or header.group(1).lower() in KNOWN_KEYS
    return known


def read_header(
    lines: list[str], first: int, path: str
) -> tuple[dict[str, object], dict[str, int], int]:
    """``Key: value`` lines from ``first`` (indented lines continue a value) up to a blank
    line: the values, the line of each key, and the index of the first line after."""
    values: dict[str, object] = {}
    key_lines: dict[str, int] = {}
    key = ""
    i = first
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            break
        if line[0] in " \t" and key:
            values[key] = f"{values[key]} {line.strip()}".strip()
            i += 1
            continue
        match = _HEADER.fullmatch(line.strip())
        if match is None:
            # No blank line after the header: the body starts right here.
            break
        key = match.group(1)
        if key.lower() in (k.lower() for k in values):
            raise ContentError(path, i + 1, f"duplicate key '{key}'")
        values[key] = match.group(2).strip()
        key_lines[key] = i + 1
        i += 1
    return values, key_lines, i


def _read_saved_page(
    lines: list[str], first: int, path: str, tz: ZoneInfo, body: Callable[[list[str]], str]
) -> Source:
    """``Home / Author / Title``, the title line, the body, then share buttons (dropped)."""
    crumbs = [part.strip() for part in re.split(r"\s+/\s+", lines[first].strip())]
    values: dict[str, object] = {"author": crumbs[1], "title": crumbs[-1]}
    key_lines = {"author": first + 1, "title": first + 1}
    start = first + 1
    title_at = next((i for i in range(start, len(lines)) if lines[i].strip()), None)
    if title_at is not None and not _BULLET.fullmatch(lines[title_at]):
        # The page's own title line is complete where a breadcrumb may be shortened.
        values["title"] = lines[title_at].strip()
        key_lines["title"] = title_at + 1
        start = title_at + 1
        dated_at = next((i for i in range(start, len(lines)) if lines[i].strip()), None)
        if dated_at is not None and (day := date_line(lines[dated_at])) is not None:
            values["date"] = day
            key_lines["date"] = dated_at + 1
            start = dated_at + 1
    end = _share_buttons(lines, start)
    return make_source(
        path, values, key_lines, body=body(lines[start:end]), body_format="html", tz=tz
    )


def date_line(line: str) -> str | None:
    """The day a saved page's date line names (``March 3, 2026`` → ``2026-03-03``), or
    None for a line that is not one; a day that does not exist is left to the date
    parser's error."""
    text = line.strip()
    for form in _DATE_LINES:
        if (match := form.fullmatch(text)) is not None:
            month = match["month"]
            number = int(month) if month.isdigit() else _MONTHS[month.rstrip(".").lower()]
            return f"{match['year']}-{number:02d}-{int(match['day']):02d}"
    return None


def _share_buttons(lines: list[str], start: int) -> int:
    """Index of the line where the share-button list starts (page chrome from there on).

    That is the first ``•`` line of the first bullet list naming a share service; if no
    list names one, the first ``•`` line at all; if there is none, the end.
    """
    first_bullet: int | None = None
    run_start: int | None = None
    for i in range(start, len(lines)):
        bullet = _BULLET.fullmatch(lines[i])
        if bullet is None:
            if lines[i].strip():
                run_start = None
            continue
        if run_start is None:
            run_start = i
        if first_bullet is None:
            first_bullet = i
        name = bullet.group(1).strip().lower()
        if name in _SHARE_BUTTONS or name.startswith("share"):
            return run_start
    return first_bullet if first_bullet is not None else len(lines)


def paragraphs(lines: list[str]) -> str:
    """HTML ``<p>`` elements, one per run of non-blank lines, text escaped, breaks kept."""
    out: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            text = "\n".join(current)
            out.append(f"<p>{html.escape(text, quote=False)}</p>")
            current = []
    return "\n".join(out)
