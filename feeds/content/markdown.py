"""Markdown posts: YAML front matter between ``---`` lines, then a CommonMark body."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from feeds.content.fields import make_source
from feeds.exceptions import ContentError
from feeds.model import Source
from feeds.render import strip_illegal
from feeds.yamlsafe import YamlError, load_mapping

_FENCE = "---"


def read(text: str, path: str, tz: ZoneInfo) -> Source:
    """Read a Markdown post (text as given by ``decode``); the body stays Markdown.

    Front matter must start on the very first line. Without it the whole file is the
    body and the title comes from the file name. Errors name file lines: the front
    matter's first key is on line 2.
    """
    lines = strip_illegal(text).split("\n")
    if lines[0].rstrip() != _FENCE:
        return make_source(path, {}, {}, body="\n".join(lines), body_format="markdown", tz=tz)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == _FENCE), None)
    if end is None:
        raise ContentError(
            path, 1, "front matter opened with '---' is never closed by a '---' line"
        )
    # YAML also breaks lines at U+2028/U+2029; as spaces they keep its line count equal to ours.
    front = "\n".join(lines[1:end]).replace("\u2028", " ").replace("\u2029", " ")
    try:
        values, key_lines = load_mapping(front)
    except YamlError as e:
        line = min(e.line + 1, end + 1) if e.line is not None else 1
        raise ContentError(path, line, f"invalid YAML front matter: {e.message}") from e
    # The front matter starts on line 2 of the file.
    file_lines = {key: line + 1 for key, line in key_lines.items()}
    body = "\n".join(lines[end + 1 :])
    return make_source(path, values, file_lines, body=body, body_format="markdown", tz=tz)
