"""A crontab line as cron reads it, made an APScheduler trigger.

APScheduler 3 reads a crontab's fields its own way: day of week 0 is Monday (cron's is
Sunday, and 7 is Sunday too), and a day of the month and a day of the week both given
must both match (cron runs when either does, unless one of them starts with ``*``).
Here the day of week is spelled out in names, and the two days become two triggers,
either of which fires. And APScheduler fires a line of fixed times twice when clocks go
back (01:30 comes twice): cron runs such a line once, at the first (``_OnceInRepeatedHour``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_trigger(expr: str, tz: tzinfo) -> BaseTrigger:
    """The trigger of a five-field crontab line in zone ``tz``; ValueError (with a
    message fit for the user) for anything else, or for a line that never fires."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError("must have five fields: minute hour day month weekday")
    if long := re.search(r"\d{5,}", expr):
        # No field counts past 59; and Python reads no number of over 4,300 digits.
        raise ValueError(f"holds a number too large for any field: {long[0][:20]}")
    minute, hour, day, month, weekday = fields
    days = _weekdays(weekday)
    trigger: BaseTrigger
    # Cron's own rule: either day matches when both are given, unless one of them
    # starts with "*" (``*/2``): then both must.
    if not day.startswith("*") and not weekday.startswith("*"):
        trigger = OrTrigger(
            [
                CronTrigger(minute=minute, hour=hour, day=day, month=month, timezone=tz),
                CronTrigger(minute=minute, hour=hour, month=month, day_of_week=days, timezone=tz),
            ]
        )
    else:
        trigger = CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=days, timezone=tz
        )
    if "*" not in minute and "*" not in hour:
        trigger = _OnceInRepeatedHour(trigger, tz)
    if trigger.get_next_fire_time(None, datetime.now(tz)) is None:
        raise ValueError(f"{expr!r} never comes")
    return trigger


def _weekdays(field: str) -> str:
    """Cron's day-of-week field as the names APScheduler reads: ``1-5`` → ``mon,…,fri``."""
    if field == "*":
        return "*"
    chosen: set[int] = set()
    for part in field.split(","):
        span, slash, step_text = part.partition("/")
        step = _number(step_text, 1, 7, "step") if slash else 1
        low, dash, high = ("0", "-", "6") if span == "*" else span.partition("-")
        # Counted 0 to 7 (1-7 is Monday to Sunday), then 7 is Sunday again.
        first = _day(low)
        last = _day(high) if dash else (max(first, 6) if slash else first)
        if last < first:
            raise ValueError(f"day of week {span!r} runs backwards")
        chosen.update(n % 7 for n in range(first, last + 1, step))
    return ",".join(_DAYS[n] for n in sorted(chosen))


def _day(text: str) -> int:
    """A day of week: 0 to 7 (both Sunday) or a name."""
    if text.lower() in _DAYS:
        return _DAYS.index(text.lower())
    return _number(text, 0, 7, "day of week")


def _number(text: str, low: int, high: int, what: str) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{what} {text!r} is not a number from {low} to {high}")
    return int(text)


class _OnceInRepeatedHour(BaseTrigger):  # type: ignore[misc]
    """A trigger of fixed times that skips the second pass of an hour repeated when
    clocks go back, as cron does for a line with no ``*`` in its minute and hour: that
    wall time has come once already. Lines with one (``*/15``) run in both passes."""

    def __init__(self, inner: BaseTrigger, tz: tzinfo) -> None:
        self.inner = inner
        self.tz = tz

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire: datetime | None = self.inner.get_next_fire_time(previous_fire_time, now)
        while fire is not None and _second_pass(fire.astimezone(self.tz)):
            # In UTC: a second added to a wall time of the repeated hour lands in its
            # first pass, an hour back.
            fire = fire.astimezone(UTC)
            fire = self.inner.get_next_fire_time(fire, fire + timedelta(seconds=1))
        return fire

    def __str__(self) -> str:
        return str(self.inner)


def _second_pass(local: datetime) -> bool:
    """Whether this wall time is its second coming, in an hour repeated by a DST change."""
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()
