"""URL slugs for tags, authors and posts: lowercase ASCII words joined by dashes."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

#: longest slug returned; long enough for a title, short enough for a path segment
MAX_LENGTH = 80

# Straight and curly apostrophes inside a word.
_APOSTROPHES = re.compile("(?<=[a-z0-9])['\u2019](?=[a-z0-9])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """Return a non-empty slug of ``text``: ``[a-z0-9]`` words joined by ``-``.

    Letters are transliterated (``Política Exterior`` → ``politica-exterior``,
    ``Москва`` → ``moskva``); apostrophes inside words vanish (``don't`` →
    ``dont``). At most MAX_LENGTH characters, cut between words when possible.
    When nothing transliterates to a letter or digit, the slug is the first
    8 hex digits of the SHA-1 of the NFC-normalized text, so it is still stable.
    """
    normalized = unicodedata.normalize("NFC", text)
    ascii_text = _ascii(normalized).lower()
    ascii_text = _APOSTROPHES.sub("", ascii_text)
    slug = _NOT_WORD.sub("-", ascii_text).strip("-")
    if len(slug) > MAX_LENGTH:
        cut = slug[: MAX_LENGTH + 1]
        # Prefer ending at a whole word; a single huge word is cut where it must be.
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut[:MAX_LENGTH]
        slug = slug[:MAX_LENGTH].strip("-")
    if not slug:
        slug = hashlib.sha1(normalized.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return slug


def _ascii(text: str) -> str:
    """``text`` transliterated to ASCII. anyascii is loaded only for text that needs it:
    its loading takes 6 ms, which a site of ASCII names and tags never spends."""
    if text.isascii():
        return text
    from anyascii import anyascii

    return str(anyascii(text))


#: ``slugify`` for names that repeat across thousands of posts: tags, authors, folders
#: (a post's own slug is made once: caching those would only hold memory)
slugify_name = functools.lru_cache(maxsize=4096)(slugify)
