"""feedparser's readings kept between runs: the same readings back, or none at all."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from feeds.readings import (
    Bozo,
    EntryReading,
    Reading,
    document_key,
    dump_readings,
    kept,
    load_readings,
)
from feeds.validate import EntryMemo, validate_feed
from tests.test_validate import DATA, URLS, VALID, built_posts

KEY = "code-1"
ENTRY = EntryReading(
    title="Ça va",
    link="https://example.org/a/",
    id="tag:example.org,2024:a",
    authors=("Ana", "Ben"),
    published=datetime(2024, 1, 5, 10, 30, tzinfo=UTC),
    updated=None,
    summary="<p>One &amp; two</p>",
)
READINGS = {
    document_key(b"<item/>"): Reading(None, None, (ENTRY,)),
    document_key(b"<entry/>"): Reading(Bozo("SAXParseException: junk", 3, 7), ("Desk",), ()),
    document_key(b"<x/>"): Reading(
        Bozo("no detail", None, None),
        None,
        (EntryReading(None, None, None, None, None, None, None),),
    ),
}


def test_readings_come_back_as_they_were_written() -> None:
    data = dump_readings(READINGS.items(), KEY)
    assert load_readings(data, KEY) == READINGS
    assert dump_readings(load_readings(data, KEY).items(), KEY) == data


def test_dates_come_back_as_the_same_instants() -> None:
    east = datetime(2024, 1, 5, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    reading = Reading(None, None, (replace(ENTRY, published=east),))
    back = load_readings(dump_readings([("k", reading)], KEY), KEY)["k"].entries[0].published
    assert back == ENTRY.published and back.utcoffset() == timedelta(hours=2)


def _damages() -> dict[str, bytes]:
    data = dump_readings(READINGS.items(), KEY)
    head, body = data.split(b"\n", 1)
    return {
        "another key": dump_readings(READINGS.items(), "code-2"),
        "another version": data.replace(b'"version": 1', b'"version": 2'),
        "a changed byte": head + b"\n" + body.replace(b"Ana", b"Ann"),
        "cut short": data[:-20],
        "no end of line": data[:-1],
        "empty": b"",
        "not JSON": b"\x00\xff",
        "a head that is a list": b"[]\n[]\n",
    }


@pytest.mark.parametrize("damage", _damages())
def test_readings_written_for_other_code_or_damaged_are_refused(damage: str) -> None:
    with pytest.raises(ValueError, match="unusable readings"):
        load_readings(_damages()[damage], KEY)


@pytest.mark.parametrize(
    "record",
    [
        [["k", "no bozo", None, []]],
        [["k", None, "Ana", []]],
        [["k", None, None, [[1, None, None, None, None, None, None]]]],
        [["k", None, None, [[None, None, None, None, "2024-01-05T10:30:00", None, None]]]],
        [["k", None, None, [[None, None, None, None, None, None]]]],
    ],
)
def test_readings_of_the_wrong_shape_are_refused_even_when_signed(record: object) -> None:
    # A file the digest vouches for, as a bug could write it: still not used.
    body = json.dumps(record).encode()
    head = {"digest": hashlib.sha256(body).hexdigest(), "key": KEY, "version": 1}
    with pytest.raises(ValueError, match="unusable readings"):
        load_readings(json.dumps(head).encode() + b"\n" + body + b"\n", KEY)


def test_kept_readings_are_this_runs_first_then_earlier_ones_up_to_the_room() -> None:
    used = {"a": READINGS[document_key(b"<item/>")]}
    earlier = dict(zip("bcd", READINGS.values(), strict=True))
    earlier["a"] = Reading(None, None, ())
    assert [name for name, _ in kept(used, earlier, 3)] == ["a", "b", "c"]
    assert kept(used, earlier, 3)[0][1] is used["a"]
    assert [name for name, _ in kept(used, earlier, 0)] == ["a"], "this run's always"


def test_a_memo_given_earlier_readings_has_feedparser_read_nothing_again() -> None:
    data = (DATA / VALID["rss"]).read_bytes()
    first = EntryMemo()
    alone = validate_feed(data, URLS["rss"], expected=built_posts(), memo=first)
    assert first.parsed == len(first.readings) == 2
    later = EntryMemo(first.readings)
    assert validate_feed(data, URLS["rss"], expected=built_posts(), memo=later) == alone
    assert later.parsed == 0 and later.readings == first.readings
