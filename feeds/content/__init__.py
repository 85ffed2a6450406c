"""Post readers, one per format (``feeds.content.readers.READERS``, keyed by file
suffix); and the byte decoding they share, here.

Every reader is pure: ``read(text, path, tz) -> Source``, raising ContentError with the
file and line for anything it cannot read. Call ``decode`` on the file's bytes first.
This package's own module stays light: listing the folder (``discover``) must not load
the HTML and Markdown libraries the readers need.
"""

from __future__ import annotations

import codecs
import re

from feeds.exceptions import ContentError
from feeds.model import Problem

# Bytes that never occur in text: C0 controls other than tab, LF, FF, CR and ESC, and DEL.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
#: share of control bytes above which a file is taken for binary
_BINARY_SHARE = 0.05
_SAMPLE = 64 * 1024
_NEWLINES = re.compile(r"\r\n?")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# The five bytes Windows-1252 leaves undefined map, as browsers map them (WHATWG
# encoding standard), to the C1 control of the same number; readers remove those.
_CP1252_GAPS = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
_FALLBACK = "feeds-cp1252-fallback"


def decode(data: bytes, path: str) -> tuple[str, tuple[Problem, ...]]:
    """Turn a post file's bytes into text with LF line ends and no BOM.

    UTF-8 (with or without BOM) is read as is. Where the bytes are not UTF-8, each byte
    UTF-8 rejects is read as Windows-1252, so a UTF-8 file with one stray byte keeps its
    UTF-8 text intact (no mojibake); that gives a ``not-utf8`` warning naming the first
    bad line.
    A UTF-16 file with a BOM is decoded too, with the same warning.

    Raises ContentError for a binary file (NUL bytes, or mostly control bytes) and
    for a file that is empty or holds only whitespace.
    """
    problems: list[Problem] = []
    if data.startswith(_UTF16_BOMS) and len(data) % 2 == 0:
        try:
            decoded = data.decode("utf-16")
        except UnicodeDecodeError:
            decoded = None
        if decoded is not None:
            problems.append(
                Problem("warning", "not-utf8", "file is UTF-16, not UTF-8; read as UTF-16", path, 1)
            )
            return _finish(decoded, path), tuple(problems)
    sample = data[:_SAMPLE]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if b"\x00" in data or controls > _BINARY_SHARE * len(sample):
        raise ContentError(path, None, "binary file, not a post (NUL or control bytes)")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = len(_NEWLINES.sub("\n", data[: e.start].decode("latin-1")).split("\n"))
        declared = _declared_charset(data, path)
        if declared is not None:
            problems.append(
                Problem(
                    "warning",
                    "not-utf8",
                    f"not UTF-8 (first bad byte 0x{data[e.start]:02X} on line {line}); "
                    f"read as {declared[0]}, as its <meta> declares",
                    path,
                    line,
                )
            )
            return _finish(declared[1], path), tuple(problems)
        problems.append(
            Problem(
                "warning",
                "not-utf8",
                f"not UTF-8 (first bad byte 0x{data[e.start]:02X} on line {line}); "
                "read as Windows-1252",
                path,
                line,
            )
        )
        decoded = data.decode("utf-8", errors=_FALLBACK)
    return _finish(decoded, path), tuple(problems)


def _finish(decoded: str, path: str) -> str:
    text = decoded.removeprefix("\ufeff")
    if "\r" in text:  # a quick scan spares most files the substitution's
        text = _NEWLINES.sub("\n", text)
    if not text.strip():
        raise ContentError(path, None, "empty file")
    return text


#: an HTML page's charset declaration (<meta charset> or its http-equiv form), in the
#: first kilobyte, where browsers look for it
_META_CHARSET = re.compile(rb"<meta\s[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
#: labels browsers read as Windows-1252 (WHATWG), which the fallback reads anyway
_READ_AS_CP1252 = frozenset({"ascii", "cp1252", "iso8859_1"})


def _declared_charset(data: bytes, path: str) -> tuple[str, str] | None:
    """An HTML post's declared charset and its text, when it is not UTF-8 and its bytes
    all decode in that charset (a saved page in KOI8-R or Shift_JIS); else None."""
    if not path.lower().endswith((".html", ".htm")):
        return None
    found = _META_CHARSET.search(data[:1024])
    if found is None:
        return None
    label = found[1].decode("ascii")
    try:
        name = codecs.lookup(label).name.replace("-", "_")
    except LookupError:
        return None
    if name in _READ_AS_CP1252 or name.startswith(("utf_16", "utf_32", "utf_8")):
        return None
    try:
        return label, data.decode(name)
    except (UnicodeError, LookupError):
        # Not in that charset, or no charset at all: a codec of bytes such as rot13 or
        # base64 (LookupError: "not a text encoding"), or "undefined", which refuses all.
        return None


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read the bytes UTF-8 rejected as Windows-1252, one by one."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(_cp1252_char(byte) for byte in bad), error.end


def _cp1252_char(byte: int) -> str:
    if byte in _CP1252_GAPS:
        return chr(byte)
    return bytes([byte]).decode("cp1252")


codecs.register_error(_FALLBACK, _cp1252_fallback)
