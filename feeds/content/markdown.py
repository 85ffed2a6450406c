"""Markdown posts: YAML front matter between ``---`` lines, then a CommonMark body."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from feeds.content.fields import make_source
from feeds.content.text import read_header, starts_with_header
from feeds.exceptions import ContentError
from feeds.model import Problem, Source
from feeds.render import strip_illegal
from feeds.yamlsafe import YamlError, load_mapping

#: the body ``feeds new`` writes, to be replaced by the post
NEW_POST_BODY = "Write the post here, in Markdown."
#: the longest front matter read: YAML's reader takes minutes and gigabytes over
#: megabytes of it (a 9.6 MB list: 370 s, 3.3 GB), and a post's keys need a few lines
MAX_FRONT_MATTER = 65_536
#: a line that is ``---`` and nothing else but trailing whitespace
_FENCE = re.compile(r"---[^\S\n]*(?:\n|\Z)")
_CLOSING_FENCE = re.compile(r"^---[^\S\n]*$", re.MULTILINE)
#: the openings of Hugo's other kinds of front matter, TOML and JSON
_TOML_FENCE = re.compile(r"\+\+\+[^\S\n]*(?:\n|\Z)")
_JSON_OPENING = re.compile(r"\{[^\S\n]*\n")
_JSON_CLOSING = re.compile(r"^\}[^\S\n]*$", re.MULTILINE)


def _without_front_matter(text: str, path: str, tz: ZoneInfo, *, with_body: bool) -> Source:
    """A Markdown post that does not open with ``---``: a ``Key: value`` header as
    Pelican writes it (read as a text post's), front matter of another kind (refused:
    its keys, ``draft`` among them, would be published as the body), or all body."""
    if _TOML_FENCE.match(text):
        raise ContentError(
            path, 1, "TOML front matter (+++) is not read: write it as YAML between '---' lines"
        )
    if _JSON_OPENING.match(text) and _JSON_CLOSING.search(text):
        raise ContentError(
            path, 1, "JSON front matter is not read: write it as YAML between '---' lines"
        )
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if first < len(lines) and starts_with_header(lines, first):
        values, key_lines, after = read_header(lines, first, path)
        body = "\n".join(lines[after:]) if with_body else ""
        return make_source(path, values, key_lines, body=body, body_format="markdown", tz=tz)
    body = text if with_body else ""
    return make_source(path, {}, {}, body=body, body_format="markdown", tz=tz)


def read(text: str, path: str, tz: ZoneInfo, *, with_body: bool = True) -> Source:
    """Read a Markdown post (text as given by ``decode``); the body stays Markdown
    (``""`` without ``with_body``).

    Front matter must start on the very first line. Without it the whole file is the
    body and the title comes from the file name. Errors name file lines: the front
    matter's first key is on line 2.
    """
    text = strip_illegal(text)
    opening = _FENCE.match(text)
    if opening is None:
        return _without_front_matter(text, path, tz, with_body=with_body)
    closing = _CLOSING_FENCE.search(text, opening.end())
    if closing is None or opening.end() == len(text):
        raise ContentError(
            path, 1, "front matter opened with '---' is never closed by a '---' line"
        )
    # YAML also breaks lines at U+2028/U+2029; as spaces they keep its line count equal to ours.
    front = text[opening.end() : max(opening.end(), closing.start() - 1)]
    if len(front) > MAX_FRONT_MATTER:
        raise ContentError(
            path,
            1,
            f"front matter over {MAX_FRONT_MATTER:,} characters: it is for a post's title, "
            "dates, tags and such; the body goes after its closing '---'",
        )
    front = front.replace("\u2028", " ").replace("\u2029", " ")
    try:
        values, key_lines = load_mapping(front)
    except YamlError as e:
        fence = text.count("\n", 0, closing.start()) + 1  # the closing fence's line
        line = min(e.line + 1, fence) if e.line is not None else 1
        raise ContentError(path, line, f"invalid YAML front matter: {e.message}") from e
    # The front matter starts on line 2 of the file.
    file_lines = {key: line + 1 for key, line in key_lines.items()}
    after = closing.end() + 1
    warnings = []
    tail = text[after:] if len(text) - after < 2 * len(NEW_POST_BODY) else ""
    if tail.strip() == NEW_POST_BODY:
        line = text.count("\n", 0, after + len(tail) - len(tail.lstrip())) + 1
        warnings.append(
            Problem(
                "warning",
                "placeholder-body",
                "the body is still the text feeds new wrote: write the post there",
                path,
                line,
            )
        )
    body = text[after:] if with_body else ""
    return make_source(
        path, values, file_lines, body=body, body_format="markdown", tz=tz, warnings=warnings
    )
