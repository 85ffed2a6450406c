"""SPEC §3 Dates: RFC 3339 / ISO 8601, date-only (midnight in the site's zone), or naive."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from feeds.dates import parse_date

MADRID = ZoneInfo("Europe/Madrid")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-01-05T10:30:00+01:00", "2024-01-05T10:30:00+01:00"),
        ("2024-01-05T10:30:00Z", "2024-01-05T10:30:00+00:00"),
        ("2024-01-05t10:30:00z", "2024-01-05T10:30:00+00:00"),
        ("2024-01-05 10:30:00-05:00", "2024-01-05T10:30:00-05:00"),
        ("2024-01-05T10:30:00.987654+00:00", "2024-01-05T10:30:00+00:00"),
        ("2024-01-05T10:30:00,5Z", "2024-01-05T10:30:00+00:00"),
        ("2024-01-05T10:30+0530", "2024-01-05T10:30:00+05:30"),
        ("2024-01-05T10:30:00 +01", "2024-01-05T10:30:00+01:00"),
        ("2024-01-05 10:30 UTC", "2024-01-05T10:30:00+00:00"),
        ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59+00:00"),
        # naive and date-only values are wall times in the site's zone
        ("2024-01-05T10:30", "2024-01-05T10:30:00+01:00"),
        ("2024-07-05 10:30:15", "2024-07-05T10:30:15+02:00"),
        ("2024-01-05", "2024-01-05T00:00:00+01:00"),
        ("  2024-07-05  ", "2024-07-05T00:00:00+02:00"),
        # DST: a skipped wall time moves forward; a repeated one is the first (fold=0)
        ("2024-03-31T02:30", "2024-03-31T03:30:00+02:00"),
        ("2024-10-27T02:30", "2024-10-27T02:30:00+02:00"),
        # local mean time has second offsets RFC 3339 cannot write: given in UTC
        ("1850-01-01", "1850-01-01T00:14:44+00:00"),
    ],
)
def test_accepted(text: str, iso: str) -> None:
    parsed = parse_date(text, MADRID)
    assert parsed.isoformat() == iso
    assert parsed.tzinfo is not None and parsed.microsecond == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("next Tuesday", "unreadable date 'next Tuesday'"),
        ("2024-13-01", "month must be in 1..12"),
        ("2024-02-30", "day is out of range"),
        ("2024-01-05T25:00", "hour must be in 0..23"),
        ("2024-01-05T10:30+25:00", "offset"),
        ("2024-01-05x10:30", "unreadable date"),
        ("05/01/2024", "unreadable date"),
        ("2024-W01-1", "unreadable date"),
        ("9999-12-31T23:59:59-12:00", "out of range"),
        ("", "unreadable date"),
        (2024, "expected text"),
        (None, "expected text"),
        (["2024-01-05"], "expected text"),
    ],
)
def test_refused_with_a_helpful_message(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_date(value, MADRID)
    assert message in str(caught.value)


def test_date_and_datetime_objects() -> None:
    assert parse_date(date(2024, 1, 5), MADRID) == datetime(2024, 1, 5, tzinfo=MADRID)
    naive = datetime(2024, 7, 1, 9, 0, 0, 123)
    assert parse_date(naive, MADRID).isoformat() == "2024-07-01T09:00:00+02:00"
    aware = datetime(2024, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=-3)))
    assert parse_date(aware, MADRID) == aware


def test_same_instant_whatever_the_site_zone_when_an_offset_is_given() -> None:
    text = "2024-01-05T10:30:00+01:00"
    assert parse_date(text, MADRID) == parse_date(text, ZoneInfo("Pacific/Auckland"))
    assert parse_date(text, MADRID).astimezone(UTC).hour == 9


@pytest.mark.parametrize("text", ["0001-01-01", "0999-12-31T10:00:00Z", "9500-01-01"])
def test_years_outside_four_digits_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_date(text, ZoneInfo("UTC"))
