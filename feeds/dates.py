"""One date parser for every post format: RFC 3339 / ISO 8601 text in, aware datetime out."""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

# The accepted grammar, kept narrow on purpose: datetime.fromisoformat alone would
# also take any character as the date/time separator and ISO week dates.
_DATE = re.compile(
    r"""
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    (?:
        (?:[Tt]|\s+)
        (?P<hour>\d{2}):(?P<minute>\d{2})
        (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
        \s*
        (?P<offset>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?
    )?
    """,
    re.VERBOSE,
)

#: the range of years a post date may have
FIRST_YEAR, LAST_YEAR = 1000, 9000

_EXAMPLE = "2024-01-05, 2024-01-05 10:30 or 2024-01-05T10:30:00+01:00"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_us(moment: datetime) -> int:
    """An aware datetime as whole microseconds since the epoch (exact, unlike a float)."""
    return (moment - _EPOCH) // _MICROSECOND


def parse_date(value: object, tz: ZoneInfo) -> datetime:
    """Read a post date; return a timezone-aware datetime with whole seconds.

    Accepts RFC 3339 / ISO 8601 text (``T`` or a space between date and time;
    seconds, fraction and offset or ``Z`` optional), a date alone (midnight in
    ``tz``) and a time without offset (wall time in ``tz``), as well as
    ``date``/``datetime`` objects. Fractions of a second are dropped, not rounded,
    and a leap second ``:60`` is read as ``:59`` (datetime has no room for it).

    A wall time that ``tz`` skips (a DST gap) or repeats (a DST fold) is read
    with ``fold=0``, i.e. with the offset in force before the change, then
    normalized: 02:30 on a spring-forward night in Europe/Madrid becomes 03:30
    CEST (the same instant), and 02:30 on the fall-back night is the first
    02:30 (CEST). A zone offset with seconds (local mean time of old dates) is
    given in UTC instead, since RFC 3339 offsets are whole minutes.

    Raises ValueError with a message fit for the user for anything else.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        parsed = _parse_text(value)
    else:
        shown = _shown(value)
        raise ValueError(f"unreadable date {shown}: expected text such as {_EXAMPLE}")
    parsed = parsed.replace(microsecond=0)
    if parsed.tzinfo is None:
        parsed = _in_zone(parsed, tz)
    try:
        # Writers convert to UTC; a date at the very edge of datetime's range would overflow.
        in_utc = parsed.astimezone(UTC)
    except OverflowError as e:
        raise ValueError(f"date {parsed.isoformat()} is out of range") from e
    if not FIRST_YEAR <= in_utc.year <= LAST_YEAR:
        # Feed formats write four-digit years, and 9999 would overflow once in UTC.
        raise ValueError(
            f"date {parsed.isoformat()} is out of range: years {FIRST_YEAR} to {LAST_YEAR}"
        )
    offset = parsed.utcoffset()
    if offset is not None and offset.seconds % 60:
        # Local mean time before ~1900 has offsets in seconds, which RFC 3339 cannot write.
        return in_utc
    return parsed


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_text(text: str) -> datetime:
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"unreadable date {_shown(text)}: expected a date such as {_EXAMPLE}")
    g = match.groupdict()
    second = int(g["second"] or 0)
    if second == 60:
        second = 59
    offset = _offset(g["offset"])
    try:
        return datetime(
            int(g["year"]),
            int(g["month"]),
            int(g["day"]),
            int(g["hour"] or 0),
            int(g["minute"] or 0),
            second,
            tzinfo=offset,
        )
    except ValueError as e:
        raise ValueError(f"unreadable date {_shown(text)}: {e}") from e


@functools.lru_cache(maxsize=256)  # one object per offset, shared by every post
def _offset(text: str | None) -> tzinfo | None:
    if text is None:
        return None
    if text in ("Z", "z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(
            f"unreadable date offset {text!r}: expected +HH:MM between -23:59 and +23:59"
        )
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _in_zone(naive: datetime, tz: ZoneInfo) -> datetime:
    """Place a wall time in ``tz`` (fold=0), moving a time inside a DST gap to a real one."""
    aware = naive.replace(tzinfo=tz, fold=0)
    try:
        # The round trip through UTC turns a skipped wall time into the instant it
        # denotes with the earlier offset, shown as a wall time that exists.
        return aware.astimezone(UTC).astimezone(tz)
    except OverflowError as e:
        raise ValueError(f"date {naive.isoformat()} is out of range") from e
