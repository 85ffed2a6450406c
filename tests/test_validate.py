"""Validation by re-parsing: every file in tests/data/validate says what it must produce.

XML files carry a leading comment, JSON files ``_``-prefixed keys (JSON Feed's own
extension mechanism)::

    Description: what the file tests
    Expect: error bad-weekday line 20     (one per problem; "none" for a valid file)
    URL: where the feed is served         (default: https://example.org/<rss.xml|atom.xml|feed.json>)
    Format: rss|atom|json                 (default: detected)
    Now: 2025-01-01T00:00:00Z             (default: that instant)
    Hub: the WebSub hub the feed must name (default: none asked for)
    Rules: publish|any                    (default: both must give the Expect lines)

The codes found must be exactly the codes expected: a file breaks one rule, not two.
``Rules: publish`` holds the file to what feeds promises of its own feeds,
``Rules: any`` to its format's rules only (``feeds validate``); most rules
are the same for both.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import feeds.validate
from feeds.model import Author, Post, Problem
from feeds.validate import EntryMemo, detect_format, format_problem, validate_feed

DATA = Path(__file__).parent / "data" / "validate"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
URLS = {
    "rss": "https://example.org/rss.xml",
    "atom": "https://example.org/atom.xml",
    "json": "https://example.org/feed.json",
}


@dataclass(frozen=True)
class Expected:
    level: str
    code: str
    line: int | None


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    description: str
    expects: tuple[Expected, ...]
    url: str
    fmt: str | None
    now: datetime
    hub: str | None
    #: the values of validate_feed's ``publishing`` the file is checked with
    modes: tuple[bool, ...]


def _decode(data: bytes) -> str:
    """The text of a test file, whatever its encoding, well enough to read its header."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8", errors="replace")


def _header(text: str, json_file: bool) -> dict[str, list[str]]:
    """The self-description of a test file: key -> values."""
    if json_file:
        pairs = re.findall(r'^\s*"_(\w+)":\s*"(.*)",?$', text, flags=re.MULTILINE)
        found: dict[str, list[str]] = {}
        for key, value in pairs:
            if key == "expect":
                found.setdefault(key, []).extend(v.strip() for v in value.split(";"))
            else:
                found.setdefault(key, []).append(value)
        return found
    comment = re.search(r"<!--(.*?)-->", text, flags=re.DOTALL)
    assert comment, "an XML test file starts with a comment describing it"
    found = {}
    for key, value in re.findall(r"^\s*(\w+): (.*)$", comment[1], flags=re.MULTILINE):
        found.setdefault(key.lower(), []).append(value.strip())
    return found


def _expected(spec: str) -> Expected:
    m = re.fullmatch(r"(error|warning) ([a-z0-9-]+)(?: line (\d+))?", spec)
    assert m, f"bad Expect line {spec!r}"
    return Expected(m[1], m[2], int(m[3]) if m[3] else None)


MODES = {"publish": (True,), "any": (False,), "both": (True, False)}


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(DATA.iterdir()):
        data = path.read_bytes()
        header = _header(_decode(data), path.suffix == ".json")
        expects = header.get("expect", [])
        assert expects, f"{path.name} says what it expects"
        family = path.name.split("-", 1)[0]
        cases.append(
            Case(
                name=path.name,
                data=data,
                description=header["description"][0],
                expects=tuple(_expected(e) for e in expects if e != "none"),
                url=header.get("url", [URLS[family]])[0],
                fmt=header.get("format", [None])[0],
                now=datetime.fromisoformat(header.get("now", [NOW.isoformat()])[0]),
                hub=header.get("hub", [None])[0],
                modes=MODES[header.get("rules", ["both"])[0]],
            )
        )
    return cases


CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_file_yields_exactly_the_expected_problems(case: Case) -> None:
    for publishing in case.modes:
        check_file(case, publishing)


def check_file(case: Case, publishing: bool) -> None:
    problems = validate_feed(
        case.data,
        case.url,
        fmt=case.fmt,
        path=case.name,
        now=case.now,
        publishing=publishing,
        hub=case.hub,
    )
    shown = "\n".join(format_problem(p) for p in problems)
    rules = "publishing" if publishing else "any feed"
    assert {(p.level, p.code) for p in problems} == {(e.level, e.code) for e in case.expects}, (
        f"{case.description} ({rules} rules)\n{shown}"
    )
    for e in case.expects:
        if e.line is not None:
            lines = [p.line for p in problems if p.code == e.code]
            assert e.line in lines, f"{e.code} expected at line {e.line}\n{shown}"
    assert all(p.path == case.name for p in problems)
    assert all(p.message and "\n" not in format_problem(p) for p in problems)


def test_the_folder_has_valid_and_broken_files_of_every_format() -> None:
    for family in ("rss", "atom", "json"):
        mine = [c for c in CASES if c.name.startswith(family + "-")]
        assert any(not c.expects for c in mine), family
        assert sum(bool(c.expects) for c in mine) >= 10, family


def documented_codes() -> dict[str, str]:
    """code -> level, from the table in feeds.validate's docstring."""
    doc = feeds.validate.__doc__ or ""
    return dict(re.findall(r"^([a-z][a-z0-9-]+)\s+(error|warning)\s", doc, flags=re.MULTILINE))


def test_every_documented_code_is_exercised_with_its_level() -> None:
    codes = documented_codes()
    assert len(codes) > 30
    seen = {(e.code, e.level) for c in CASES for e in c.expects}
    # The two comparison codes need posts; they have their own tests below.
    seen |= {("entry-count", "error"), ("entry-mismatch", "error"), ("reader-mangled", "warning")}
    # So does the comparison with the RFC 5005 links a feed was built with.
    seen |= {("history-mismatch", "error")}
    # feeds validate's own, for a file or URL it cannot read: tests/test_cli.py.
    seen |= {("unreadable", "error")}
    assert {(code, level) for code, level in codes.items()} <= seen
    assert {code for code, _ in seen} <= set(codes), "every code a test expects is documented"


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_archive_links_and_marker_must_be_the_ones_built(fmt: str) -> None:
    case = next(c for c in CASES if c.name == f"{fmt}-archive-valid.xml")
    folders = {"current": "", "prev-archive": "archive/1/", "next-archive": "archive/3/"}
    links = {rel: f"https://example.org/{folder}{fmt}.xml" for rel, folder in folders.items()}
    assert validate_feed(case.data, case.url, links=links) == ()

    swapped = {
        **links,
        "prev-archive": links["next-archive"],
        "next-archive": links["prev-archive"],
    }
    found = validate_feed(case.data, case.url, links=swapped)
    assert [(p.code, p.level) for p in found] == [("history-mismatch", "error")] * 2
    assert any("prev-archive" in p.message for p in found)

    # Built as the open page (no next-archive yet): then it must not claim to be complete.
    still_open = {rel: url for rel, url in links.items() if rel != "next-archive"}
    found = validate_feed(case.data, case.url, links=still_open)
    assert [p.code for p in found] == ["history-mismatch"] * 2
    assert any("marked fh:archive" in p.message for p in found)

    # The main feed carries no current link and no marker.
    main = {"prev-archive": links["next-archive"]}
    found = validate_feed(case.data, case.url, links=main)
    assert {p.code for p in found} == {"history-mismatch"} and len(found) == 4


def test_no_file_is_read_through_an_external_entity() -> None:
    case = next(c for c in CASES if c.name == "rss-xxe.xml")
    problems = validate_feed(case.data, case.url)
    assert "root:" not in " ".join(p.message for p in problems)


# --------------------------------------------------------------------------
# Comparing a feed with the posts it was built from

ANN, BOB, DESK = Author("Ann Example"), Author("Bob Example"), Author("Desk")


def built_posts() -> tuple[Post, ...]:
    """The posts rss-valid.xml, atom-valid.xml and json-valid.json were built from."""
    return (
        Post(
            path="fish.md",
            id="tag:example.org,2024:fish",
            slug="fish",
            url="https://example.org/fish/",
            title="Fish & chips <3",
            published=datetime(2024, 1, 2, 9, 30, tzinfo=UTC),
            updated=datetime(2024, 1, 2, 9, 30, 0, 400000, tzinfo=UTC),
            authors=(ANN, BOB),
            summary=(
                '<p>Fish &amp; chips, with <a href="https://example.org/first/">a link</a>.</p>'
            ),
            content="<p>Fish &amp; chips.</p>",
            tags=("food",),
        ),
        Post(
            path="first.md",
            id="https://example.org/first/",
            slug="first",
            url="https://example.org/first/",
            title="First post",
            published=datetime(2024, 1, 1, 8, 0, tzinfo=UTC),
            updated=datetime(2024, 1, 1, 8, 0, tzinfo=UTC),
            authors=(DESK,),
            summary="<p>First <em>summary</em>.</p>",
            content="<p>First body.</p>",
            tags=(),
        ),
    )


VALID = {"rss": "rss-valid.xml", "atom": "atom-valid.xml", "json": "json-valid.json"}
EDITS: dict[str, Callable[[Post], Post]] = {
    "title": lambda p: dataclasses.replace(p, title="Fish and chips"),
    "link": lambda p: dataclasses.replace(p, url="https://example.org/fish-and-chips/"),
    "id": lambda p: dataclasses.replace(p, id="tag:example.org,2024:chips"),
    "authors": lambda p: dataclasses.replace(p, authors=(ANN,)),
    "published": lambda p: dataclasses.replace(p, published=p.published + timedelta(seconds=1)),
    "updated": lambda p: dataclasses.replace(p, updated=p.updated - timedelta(hours=1)),
    "summary": lambda p: dataclasses.replace(p, summary="<p>Fish &amp; chips.</p>"),
}


def check(fmt: str, posts: tuple[Post, ...], data: bytes | None = None) -> tuple[Problem, ...]:
    if data is None:
        data = (DATA / VALID[fmt]).read_bytes()
    return validate_feed(data, URLS[fmt], fmt=fmt, expected=posts, now=NOW)


@pytest.mark.parametrize("fmt", VALID)
def test_a_feed_matches_the_posts_it_was_built_from(fmt: str) -> None:
    # Dates match at second precision, in any time zone; Atom and JSON entries
    # without authors inherit the feed's; JSON's summary is the text of the HTML.
    assert check(fmt, built_posts()) == ()


@pytest.mark.parametrize("field", EDITS)
@pytest.mark.parametrize("fmt", VALID)
def test_a_field_that_differs_from_the_post_is_reported(fmt: str, field: str) -> None:
    posts = built_posts()
    problems = check(fmt, (EDITS[field](posts[0]), posts[1]))
    if fmt == "rss" and field == "updated":
        assert problems == (), "RSS items carry no updated unless they have atom:updated"
        return
    assert [p.code for p in problems] == ["entry-mismatch"], problems
    assert problems[0].level == "error"
    assert problems[0].message.startswith(f"entry 1 {field}: expected ")
    if fmt != "json":
        assert problems[0].line is not None


def test_rss_updated_is_compared_where_an_item_carries_atom_updated() -> None:
    data = (DATA / VALID["rss"]).read_bytes()
    data = data.replace(
        b"<category>food</category>",
        b"<category>food</category><atom:updated>2024-01-02T09:30:00Z</atom:updated>",
    )
    posts = built_posts()
    assert check("rss", posts, data) == ()
    problems = check("rss", (EDITS["updated"](posts[0]), posts[1]), data)
    assert [p.code for p in problems] == ["entry-mismatch"]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_text_feedparser_takes_for_mojibake_is_a_warning_not_a_mismatch(fmt: str) -> None:
    # "Â¡" would be UTF-8 if its characters were Latin-1 bytes: feedparser shows "¡".
    posts = built_posts()
    data = (DATA / VALID[fmt]).read_bytes().replace(b"First post", "Â¡".encode(), 1)
    problems = check(fmt, (posts[0], dataclasses.replace(posts[1], title="Â¡")), data)
    assert [(p.code, p.level) for p in problems] == [("reader-mangled", "warning")], problems
    assert "show '¡' for 'Â¡'" in problems[0].message


@pytest.mark.parametrize("fmt", VALID)
def test_a_missing_or_extra_entry_is_one_count_problem(fmt: str) -> None:
    posts = built_posts()
    for expected in (posts[:1], (*posts, posts[0])):
        problems = check(fmt, expected)
        assert [(p.level, p.code) for p in problems] == [("error", "entry-count")]


def test_an_entry_without_authors_is_not_compared_on_authors() -> None:
    posts = built_posts()
    no_authors = (posts[0], dataclasses.replace(posts[1], authors=()))
    for fmt in VALID:
        assert check(fmt, no_authors) == ()


# --------------------------------------------------------------------------
# The API around the checks


def test_format_problem_is_level_code_line_col_message() -> None:
    p = Problem("error", "bad-date", "pubDate is not an RFC 822 date", "rss.xml", 12, 5)
    assert format_problem(p) == "error bad-date 12:5 pubDate is not an RFC 822 date"


def test_format_problem_writes_unknown_positions_as_0_and_keeps_one_line() -> None:
    p = Problem("warning", "relative-url", "a\n  b", None, 7)
    assert format_problem(p) == "warning relative-url 7:0 a b"
    assert format_problem(Problem("error", "x", "m")) == "error x 0:0 m"


def test_a_syntax_error_has_a_line_and_a_column() -> None:
    (problem,) = validate_feed(b'<rss version="2.0">\n  <channel></rss>', URLS["rss"])
    assert (problem.code, problem.line) == ("not-well-formed", 2)
    assert problem.col is not None


def test_a_json_syntax_error_has_a_line_and_a_column() -> None:
    (problem,) = validate_feed(b'{\n  "title": "x",\n}', URLS["json"])
    assert (problem.code, problem.line, problem.col) == ("not-json", 3, 1)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b'<?xml version="1.0"?>\n<rss version="2.0"/>', "rss"),
        (b"\xef\xbb\xbf<feed xmlns='http://www.w3.org/2005/Atom'/>", "atom"),
        (b"<a:feed xmlns:a='http://www.w3.org/2005/Atom'/>", "atom"),
        (b"<!-- c --><rss><channel></broken>", "rss"),
        (b'  \n{"version": "https://jsonfeed.org/version/1.1"}', "json"),
        (b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/>", None),
        (b"<html><body/></html>", None),
        (b"plain text", None),
        (b"", None),
    ],
)
def test_detect_format(data: bytes, fmt: str | None) -> None:
    assert detect_format(data) == fmt


def test_an_unknown_format_name_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown feed format"):
        validate_feed(b"{}", URLS["json"], fmt="yaml")


def test_without_a_url_the_self_link_must_exist_but_is_not_compared() -> None:
    missing = (DATA / "rss-missing-self.xml").read_bytes()
    for publishing, code, level in ((True, "missing-self", "error"), (False, "no-self", "warning")):
        for fmt, name in VALID.items():
            data = (DATA / name).read_bytes()
            assert validate_feed(data, None, publishing=publishing) == (), fmt
            elsewhere = validate_feed(data, "https://elsewhere.example/feed", publishing=publishing)
            assert [p.level for p in elsewhere] == [level], fmt
        found = validate_feed(missing, None, publishing=publishing)
        assert [(p.code, p.level) for p in found] == [(code, level)]


def test_the_rules_are_the_publishing_ones_when_posts_are_expected() -> None:
    # The pipeline passes the posts: its feeds are held to what feeds promises.
    data = (DATA / "atom-relative-link.xml").read_bytes()
    assert validate_feed(data, URLS["atom"]) == (), "any feed may use relative links"
    built = validate_feed(data, URLS["atom"], expected=())
    assert {p.code for p in built} == {"entry-count", "bad-url"}
    assert [p.code for p in validate_feed(data, URLS["atom"], publishing=True)] == ["bad-url"]


def test_no_code_is_reported_at_two_levels() -> None:
    codes = documented_codes()
    for case in CASES:
        for publishing in (True, False):
            for p in validate_feed(case.data, case.url, now=case.now, publishing=publishing):
                assert codes[p.code] == p.level, (case.name, p.code)


def test_a_naive_now_is_taken_as_utc() -> None:
    case = next(c for c in CASES if c.name == "rss-implausible-future.xml")
    naive = validate_feed(case.data, case.url, now=case.now.replace(tzinfo=None))
    assert [p.code for p in naive] == ["implausible-date"]
    assert validate_feed(case.data, case.url) == (), "without now, the future is not judged"


def test_the_validator_never_touches_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"open{args}")

    documents = [(DATA / name).read_bytes() for name in VALID.values()]
    monkeypatch.setattr("builtins.open", refuse)
    monkeypatch.setattr("io.open", refuse)
    for data in documents:
        assert validate_feed(data, None) == ()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([c.data for c in CASES]),
    st.integers(min_value=0, max_value=4000),
    st.binary(max_size=12),
)
def test_any_bytes_give_problems_never_an_exception(data: bytes, at: int, noise: bytes) -> None:
    at = min(at, len(data))
    for mangled in (data[:at], data[:at] + noise + data[at:]):
        problems = validate_feed(mangled, "https://example.org/feed")
        assert all(p.level in ("error", "warning") for p in problems)
        assert all(
            re.fullmatch(r"(error|warning) [a-z0-9-]+ \d+:\d+ .+", format_problem(p))
            for p in problems
        )


# --------------------------------------------------------------------------
# Date forms


#: where each valid feed holds a date: the text around it, and the date
DATES = {
    "rss": ("<pubDate>{}</pubDate>", "Tue, 02 Jan 2024 09:30:00 +0000"),
    "atom": ("<updated>{}</updated>", "2024-01-01T08:00:00Z"),
    "json": ('"date_modified": "{}"', "2024-01-01T08:00:00Z"),
}


def with_date(fmt: str, value: str) -> tuple[str, ...]:
    """The codes the valid feed of ``fmt`` gives with one of its dates replaced by ``value``."""
    template, old = DATES[fmt]
    text = (DATA / VALID[fmt]).read_text(encoding="utf-8")
    assert text.count(template.format(old)) == 1
    data = text.replace(template.format(old), template.format(value)).encode("utf-8")
    return tuple(p.code for p in validate_feed(data, URLS[fmt], now=NOW))


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("Tue, 02 Jan 2024 09:30:00 GMT", ()),
        ("02 Jan 2024 09:30 +0000", ()),
        ("Tue, 2 Jan 2024 04:30:00 EST", ()),
        ("Tue, 02 Jan 2024 15:15:00 +0545", ()),
        ("Sat, 31 Dec 2016 23:59:60 +0000", ()),
        ("Tue, 02 Jan 2024 09:30:00 Z", ()),
        ("Tue,  02 Jan 2024 09:30:00 +0000", ("problematic-date",)),
        ("Tue, 02 JAN 2024 09:30:00 +0000", ("problematic-date",)),
        ("Tue, 02 Jan 2024 09:30:00 A", ("problematic-date",)),
        ("Tue, 02 Jan 2024 25:30:00 +0000", ("bad-date",)),
        ("Tue, 02 Jan 2024 09:30:00 +2500", ("bad-date",)),
        ("Tue, 02 Jan 2024 09:30:00 XYZ", ("bad-date",)),
        ("Tue, 02 Foo 2024 09:30:00 +0000", ("bad-date",)),
        ("Tuesday, 02 Jan 2024 09:30:00 +0000", ("bad-date",)),
        ("Mon, 02 Jan 2024 09:30:00 +0000", ("bad-weekday",)),
        ("Sun, 01 Jan 1989 12:00:00 +0000", ("implausible-date",)),
        ("Thu, 02 Jan 2025 12:00:00 +0000", ("implausible-date",)),
        ("Wed, 01 Jan 2025 12:00:00 +0000", ()),
    ],
)
def test_rss_dates(value: str, codes: tuple[str, ...]) -> None:
    assert with_date("rss", value) == codes


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("2024-01-01T08:00:00.123456789+05:45", ()),
        ("2024-01-01T08:00:00-00:00", ()),
        ("2016-12-31T23:59:60Z", ()),
        ("2024-01-01T08:00Z", ("bad-date",)),
        ("2024-01-01", ("bad-date",)),
        ("2024-13-01T08:00:00Z", ("bad-date",)),
        ("2024-01-01T08:00:00+24:00", ("bad-date",)),
        ("2024-01-01T08:00:00 Z", ("bad-date",)),
        ("1989-12-31T23:59:59Z", ("implausible-date",)),
    ],
)
@pytest.mark.parametrize("fmt", ["atom", "json"])
def test_rfc3339_dates(fmt: str, value: str, codes: tuple[str, ...]) -> None:
    assert with_date(fmt, value) == codes


@pytest.mark.parametrize(
    ("language", "codes"),
    [("en", []), ("pt-BR", []), ("english", ["bad-language"]), ("en_US", ["bad-language"]),
     ("", ["bad-language"]), (7, ["bad-type"])],
)  # fmt: skip
def test_json_feed_languages_are_language_tags(language: object, codes: list[str]) -> None:
    """As in RSS's <language> and xml:lang: the feed's and each item's."""
    document = json.loads((DATA / "json-valid.json").read_bytes())
    document["language"] = language
    document["items"][0]["language"] = language
    problems = validate_feed(json.dumps(document).encode(), URLS["json"], fmt="json", now=NOW)
    assert [p.code for p in problems if p.level == "error"] == codes * 2


def test_json_feed_dates_may_use_a_lowercase_t_and_z() -> None:
    assert with_date("json", "2024-01-01t08:00:00z") == ()
    assert with_date("atom", "2024-01-01t08:00:00z") == ("bad-date",)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("json-valid.json", "rss"), ("rss-valid.xml", "json"), ("atom-valid.xml", "rss")],
)
def test_a_document_in_another_format_than_asked_is_one_problem(name: str, fmt: str) -> None:
    problems = validate_feed((DATA / name).read_bytes(), URLS[fmt], fmt=fmt)
    assert [(p.level, p.code) for p in problems] == [("error", "wrong-format")]


# --------------------------------------------------------------------------
# Reading feeds in parts: the head, and each entry wrapped alone


def test_one_memo_across_many_feeds_gives_the_problems_each_gives_alone() -> None:
    memo = EntryMemo()
    for _round in range(2):  # the second round reads every entry from the memo
        for case in CASES:
            alone = validate_feed(case.data, case.url, fmt=case.fmt, path=case.name, now=case.now)
            shared = validate_feed(
                case.data, case.url, fmt=case.fmt, path=case.name, now=case.now, memo=memo
            )
            assert shared == alone, case.name
    assert len(memo) > 0


def test_feeds_sharing_items_read_them_once_and_compare_them_each() -> None:
    memo = EntryMemo()
    data = (DATA / VALID["rss"]).read_bytes()
    posts = built_posts()
    assert validate_feed(data, URLS["rss"], expected=posts, memo=memo) == ()
    assert len(memo) == 3, "the head, and one document per item"
    # Another feed (a tag's, say) with the same items, built from other posts.
    other = data.replace(b"<title>Example Journal</title>", b"<title>Fish</title>")
    edited = (EDITS["title"](posts[0]), posts[1])
    problems = validate_feed(other, URLS["rss"], expected=edited, memo=memo)
    assert [p.code for p in problems] == ["entry-mismatch"]
    assert len(memo) == 4, "the items are not read again; the other head is"


def test_a_bozo_entry_is_flagged_at_its_line_from_the_memo_too() -> None:
    data = (DATA / "rss-entity-reference.xml").read_bytes()
    memo = EntryMemo()
    for _feed in range(2):
        problems = validate_feed(data, URLS["rss"], memo=memo)
        bozo = [p for p in problems if p.code == "bozo"]
        assert [(p.level, p.line) for p in bozo] == [("error", 29)], problems


def without_the_whole_document_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave bozo to the parts: the head and the wrapped entries."""
    monkeypatch.setattr(feeds.validate, "_whole_document_bozo", lambda data: None)


def test_an_entry_feedparser_flags_is_reported_with_its_number_and_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_the_whole_document_check(monkeypatch)
    data = (DATA / "rss-entity-reference.xml").read_bytes()
    memo = EntryMemo()
    for _feed in range(2):
        (bozo,) = [p for p in validate_feed(data, URLS["rss"], memo=memo) if p.code == "bozo"]
        assert bozo.line == 29
        assert bozo.message.startswith("feedparser flags item 2: ")


def test_a_head_feedparser_flags_is_reported_at_its_line_in_the_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_the_whole_document_check(monkeypatch)
    data = (DATA / "rss-entity-reference.xml").read_bytes()
    # Line 11, below the describing comment the strict parser drops.
    data = data.replace(b"<title>Example Journal</title>", b"<title>Example &copy; Journal</title>")
    bozo = [p for p in validate_feed(data, URLS["rss"]) if p.code == "bozo"]
    assert [(p.line, p.message.split(":")[0]) for p in bozo] == [
        (11, "feedparser flags the feed"),
        (29, "feedparser flags item 2"),
    ]


def test_an_entry_inherits_xml_base_from_the_channel() -> None:
    data = (DATA / VALID["rss"]).read_bytes()
    data = data.replace(b"<channel>", b'<channel xml:base="https://example.org/">')
    data = data.replace(b"<link>https://example.org/fish/</link>", b"<link>fish/</link>")
    problems = check("rss", built_posts(), data)
    # feedparser resolves the link as readers do; the relative link is still a defect.
    assert [p.code for p in problems] == ["bad-url"]


def test_an_atom_entry_inherits_xml_base_and_the_feed_author() -> None:
    data = (DATA / "atom-valid-xml-base.xml").read_bytes()
    assert check("atom", built_posts(), data) == ()


def test_an_entry_inherits_the_namespaces_declared_on_the_root() -> None:
    data = (DATA / VALID["rss"]).read_bytes()
    # A prefix declared once, on <rss>, and used in an item only.
    data = data.replace(b"<rss ", b'<rss xmlns:ex="https://example.org/ns" ').replace(
        b"<category>food</category>", b"<category>food</category><ex:note>n</ex:note>"
    )
    assert check("rss", built_posts(), data) == ()


# --------------------------------------------------------------------------
# `feeds validate`: any feed, one line per problem


def run_validate(*targets: str) -> tuple[int, list[str]]:
    from click.testing import CliRunner

    from feeds.cli import cli

    result = CliRunner().invoke(cli, ["validate", *targets])
    return result.exit_code, result.output.splitlines()


def test_the_command_prints_level_code_line_col_and_exits_1_on_errors() -> None:
    code, lines = run_validate(str(DATA / "rss-guid-in-channel.xml"))
    assert code == 1
    # The one start tag on line 12 gives the column.
    assert lines == [
        "error undefined-element 12:5 <guid> in <channel> is not an RSS 2.0 element where it stands"
    ]


def test_the_command_holds_other_feeds_to_their_format_only() -> None:
    # No self link is a warning, relative links are allowed: exit 0.
    code, lines = run_validate(
        str(DATA / "atom-no-self-any.xml"), str(DATA / "atom-relative-link.xml")
    )
    assert code == 0
    assert [line.split()[:2] for line in lines if not line.endswith(":")] == [
        ["warning", "no-self"]
    ]


def test_a_clean_entry_is_walked_once_per_memo_and_still_reported_when_broken() -> None:
    # Two feeds sharing an entry: the second reads its structure from the memo.
    memo = EntryMemo()
    data = (DATA / "atom-valid.xml").read_bytes()
    assert validate_feed(data, URLS["atom"], memo=memo) == ()
    assert len(memo.shaped) == 2
    broken = data.replace(b"<title>First post</title>", b"<title>First post</title><subject/>")
    codes = [p.code for p in validate_feed(broken, URLS["atom"], memo=memo)]
    assert codes == ["undefined-element"]


def test_problems_come_in_document_order() -> None:
    data = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>\n'
        b"<title>T</title><link>https://example.org/</link><description>d</description>\n"
        b"<item><title>A</title><pubDate>yesterday</pubDate></item>\n"
        b"<item><title>B</title><link>not a url</link><pubDate>soon</pubDate></item>\n"
        b"<ttl>x</ttl>\n"
        b"</channel></rss>\n"
    )
    found = validate_feed(data, None)
    positions = [(p.line or 0, p.col or 0) for p in found]
    assert len(set(positions)) >= 3, found
    assert positions == sorted(positions)


def test_a_json_feeds_own_problems_come_before_its_items() -> None:
    # JSON has no lines to order by: the feed's fields first, then its items', as read.
    data = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "T",
            "items": [{"id": "1", "content_text": "x", "url": "not absolute"}],
        }
    ).encode()
    assert [p.code for p in validate_feed(data, None)] == ["no-self", "bad-url"]


# --------------------------------------------------------------------------
# feedparser's SAX driver (feeds.saxdriver)


def test_feedparser_is_given_the_text_between_two_tags_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """expat gives a text in pieces at each reference unless it buffers it: a post's
    escaped HTML would go through feedparser's handlers hundreds of times."""
    import feedparser.mixin

    pieces: list[str] = []
    real = feedparser.mixin._FeedParserMixin.handle_data

    def spy(self: Any, text: str, escape: int = 1) -> None:
        pieces.append(text)
        real(self, text, escape)

    monkeypatch.setattr(feedparser.mixin._FeedParserMixin, "handle_data", spy)
    document = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><item>"
        b"<title>a &amp; b &lt;i&gt;c&lt;/i&gt; &#233;</title></item></channel></rss>"
    )
    reading = feeds.validate._feedparse(document)
    assert reading.entries[0].title == "a & b <i>c</i> é" and len(pieces) == 1


#: texts as feeds hold them: references, markup escaped and not, CDATA, line breaks
_PIECES = "a| |\n|é|&amp;|&lt;|&gt;|&#233;|&#x1F600;|&quot;|&lt;p&gt;|&lt;/p&gt;|\r\n|\t|]]&gt;"
_TEXTS = st.lists(
    st.sampled_from([*_PIECES.split("|"), "<![CDATA[<b>x</b> & y|z]]>"]), max_size=40
).map("".join)


@settings(max_examples=150, deadline=None)
@given(_TEXTS, _TEXTS, _TEXTS, st.sampled_from(["text", "html", "xhtml"]))
def test_feedparser_reads_the_same_with_the_buffered_driver_as_with_pythons(
    title: str, summary: str, content: str, kind: str
) -> None:
    import feedparser.api

    xhtml = "<div xmlns='http://www.w3.org/1999/xhtml'><p>x &amp; <b>y</b></p></div>"
    documents = [
        f"<?xml version='1.0'?><rss version='2.0' xmlns:content="
        f"'http://purl.org/rss/1.0/modules/content/'><channel><item><title>{title}</title>"
        f"<description>{summary}</description><content:encoded>{content}</content:encoded>"
        f"<author>{title}</author></item></channel></rss>",
        f"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry>"
        f"<title type='{kind}'>{title}</title><summary>{summary}</summary>"
        f"<content type='{kind}'>{xhtml if kind == 'xhtml' else content}</content>"
        f"<author><name>{title}</name></author></entry></feed>",
    ]
    drivers = feedparser.api.PREFERRED_XML_PARSERS
    assert drivers == ["feeds.saxdriver"]
    for document in documents:
        data = document.encode("utf-8")
        buffered = feeds.validate._feedparse(data)
        feedparser.api.PREFERRED_XML_PARSERS = []  # Python's own expat driver
        try:
            assert feeds.validate._feedparse(data) == buffered
        finally:
            feedparser.api.PREFERRED_XML_PARSERS = drivers
