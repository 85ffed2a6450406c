"""Words for messages: the known word a mistyped key most likely meant, and a value
quoted short."""

from __future__ import annotations

from collections.abc import Iterable


def meant(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the known word closest to ``word``, or ``""`` when
    none is close; case is ignored."""
    import difflib  # here: only a mistake needs it

    found = difflib.get_close_matches(word.lower(), [k.lower() for k in known], n=1, cutoff=0.75)
    return f" (did you mean '{found[0]}'?)" if found else ""


def shown(value: object) -> str:
    """``value`` as a message quotes it: its repr, cut to some 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
