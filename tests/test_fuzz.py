"""Fuzzing the way in: whatever bytes a post file holds, the pipeline's own reading path
gives a post or one located error, and a run over such files still publishes valid feeds.

FEEDS_FUZZ_EXAMPLES sets how many examples each property tries (default: a quick run).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import Config, load_config
from feeds.content.readers import READERS
from feeds.exceptions import ContentError
from feeds.model import Source
from feeds.pipeline import parse_post, regenerate
from feeds.validate import validate_feed
from tests.conftest import CONFIG, OLD_MTIME, Site

EXAMPLES = int(os.environ.get("FEEDS_FUZZ_EXAMPLES", "60"))
READ_SETTINGS = settings(
    max_examples=EXAMPLES * 3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RUN_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = datetime(2030, 1, 1, tzinfo=UTC)

# --- strategies ---------------------------------------------------------------------------

BOMS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf"]
NEWLINES = ["\n", "\r\n", "\r", "\n\r", "\x85", "\u2028", "\u2029", "\x0b", "\x0c"]
KEYS = ["title", "date", "updated", "author", "authors", "summary", "tags", "slug", "draft"]
KEYS += ["id", "link", "image", "enclosure", "Title", "Date", "Author", "Tags", "<<", "? x"]
# YAML's special shapes: anchors, aliases, tags, merges, blocks, flows, documents, directives.
YAML_SPECIALS = [
    "&a [x]", "*a", "!!binary aGk=", "!!python/object/apply:os.system [id]", "!!set {a}",
    "!!omap [a: 1]", "!!float x", "!!int 0x", "!!timestamp 2024-13-45", "|", ">-", "|+2",
    "[", "]", "{", "}", "[a, [b, [c]]]", "{a: {b: {c: d}}}", "'unterminated", '"\\uD800"',
    '"\\x00"', '"\\N\\_\\L\\P"', "%YAML 1.1", "%TAG ! tag:x,2000:", "--- !x", "...", "? a",
    ": b", "- - -", "<<: *a", "~", ".nan", "-.inf", "0o777", "1_000", "99999999999999999999",
    "1e99999", "2024-01-01T25:61:61Z", "0000-00-00", "9999-12-31T23:59:59+14:00", "@", "`",
    "#", "\t", "null", "yes", "No", "on",
    # numbers past Python's limit on the digits it reads from text
    "9" * 5000, '"' + "9" * 5000 + '"',
    "{url: 'https://cdn.example.org/a.mp3', length: '" + "9" * 5000 + "', type: audio/mpeg}",
]  # fmt: skip
HTML_BITS = [
    "<title>", "</title>", "<meta name=author content=", "<meta name=date content='",
    "<meta name=keywords content=a,b>", "<article>", "</article>", "<body>", "</body>",
    "<!--", "-->", "<![CDATA[", "]]>", "<script>", "</script>", "<div>" * 50, "&#0;",
    "&#xD800;", "&#x110000;", "&bogus;", "<?xml version='1.0'?>", "<!DOCTYPE x [", "<p",
]  # fmt: skip
TEXT_BITS = ["Title: ", "Author: ", "Date: ", "Tags: ", "Summary: ", "Home / A / B", "• Facebook"]
# C0 and C1 controls, NUL, noncharacters, lone surrogates, BOM and directional marks.
ODD_CHARS = "\x00\x01\x08\x0b\x0c\x1b\x1f\x7f\x80\x85\x9f\ufeff\ufffe\uffff\ud800\udfff\u202e"

odd_text = st.text(alphabet=st.characters(codec=None) | st.sampled_from(ODD_CHARS), max_size=30)
pieces = st.one_of(
    st.sampled_from(YAML_SPECIALS),
    st.sampled_from(HTML_BITS),
    st.sampled_from(TEXT_BITS),
    st.sampled_from(ODD_CHARS),
    odd_text,
)
lines = st.one_of(
    st.builds(
        lambda key, sep, value: f"{key}:{sep}{value}",
        st.sampled_from(KEYS),
        st.sampled_from([" ", "", "\t", "  "]),
        st.lists(pieces, max_size=3).map("".join),
    ),
    st.sampled_from(["---", "--- ", "...", "", "  - x", "- ", "  "]),
    st.lists(pieces, max_size=4).map("".join),
)


@st.composite
def post_texts(draw: st.DrawFn) -> str:
    """Front-matter-like text: an opening fence (or not), key lines, a close (or not), a body,
    lines joined by one newline convention or a mix of them."""
    body = draw(st.lists(lines, max_size=12))
    if draw(st.booleans()):
        head = draw(st.lists(lines, max_size=10))
        closing = draw(st.sampled_from([["---"], ["---"], ["..."], []]))
        body = ["---", *head, *closing, *body]
    if draw(st.booleans()):
        newline = draw(st.sampled_from(NEWLINES))
        return newline.join(body)
    return "".join(line + draw(st.sampled_from(NEWLINES)) for line in body)


def encode(text: str, how: str) -> bytes:
    """``text`` as a file might hold it; lone surrogates escape to the bytes they stand for."""
    if how == "utf-8":
        # U+DC80..U+DCFF are the bytes 0x80..0xFF (surrogateescape); other lone ones pass.
        return b"".join(
            bytes([ord(c) - 0xDC00])
            if "\udc80" <= c <= "\udcff"
            else c.encode("utf-8", "surrogatepass")
            for c in text
        )
    if how == "surrogatepass":
        return text.encode("utf-8", "surrogatepass")
    if how == "cp1252":
        return text.encode("cp1252", "replace")
    return text.encode(how, "surrogatepass")


#: any bytes, and text shaped like posts in every encoding a file might be in
post_bytes = st.one_of(
    st.binary(max_size=600),
    st.builds(
        lambda bom, text, how: bom + encode(text, how),
        st.sampled_from(BOMS),
        post_texts(),
        st.sampled_from(["utf-8", "surrogatepass", "cp1252", "utf-16-le", "utf-16-be"]),
    ),
    st.builds(
        lambda text, noise, at: (lambda b: b[:at] + noise + b[at:])(encode(text, "utf-8")),
        post_texts(),
        st.binary(min_size=1, max_size=8),
        st.integers(0, 400),
    ),
)


# --- readers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    root = tmp_path_factory.mktemp("fuzz-config")
    (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
    return load_config(root / "config.yaml")


def lines_of(data: bytes) -> int:
    """An upper bound on the lines a reader can name in ``data``, whatever its encoding."""
    newlines = max(data.count(b"\n"), data.count(b"\r"), data.count(b"\n\x00"))
    return newlines + data.count(b"\xc2\x85") + data.count(b"\xe2\x80\xa8") + 2


@pytest.mark.parametrize("suffix", sorted(READERS))
@READ_SETTINGS
@given(data=post_bytes)
def test_any_bytes_through_parse_post_give_a_source_or_a_located_content_error(
    config: Config, suffix: str, data: bytes
) -> None:
    """For every reader (by suffix), the pipeline's own decode-and-read path turns any bytes
    into a Source, or raises ContentError naming the file and a line inside it (or none);
    never another exception (RecursionError, UnicodeError, ValueError, YAML errors…)."""
    path = f"posts/fuzzed{suffix}"
    try:
        source = parse_post(data, path, config)
    except ContentError as e:
        assert e.path == path
        assert e.line is None or (isinstance(e.line, int) and 1 <= e.line <= lines_of(data)), (
            e.line,
            lines_of(data),
        )
        assert e.message.strip()
        return
    assert isinstance(source, Source)
    assert source.path == path


DEEP = [
    "---\ntitle: " + "[" * 5000 + "\n---\nx\n",
    "---\ntitle: " + "{a: " * 5000 + "\n---\nx\n",
    "---\n" + "".join(" " * n + f"k{n}:\n" for n in range(3000)) + "---\nx\n",
    "---\ntags:\n" + "".join(" " * n + "- \n" for n in range(3000)) + "---\nx\n",
    "---\na: &a [x]\nb: [*a, *a, *a]\n---\nx\n",
    "---\n" + "title: x\n" * 3000 + "---\nx\n",
    "---\ntitle: '" + "x" * 100_000 + "\n---\nx\n",
]


@pytest.mark.parametrize("suffix", [".md", ".markdown"])
@pytest.mark.parametrize("text", DEEP, ids=[f"deep{n}" for n in range(len(DEEP))])
def test_deep_and_repetitive_front_matter_is_a_located_error_or_a_post(
    config: Config, suffix: str, text: str
) -> None:
    """Front matter nested thousands deep, aliases, thousands of repeated keys or a 100 KB
    unclosed quote: a Source or a located ContentError, never RecursionError or a hang."""
    data = text.encode()
    try:
        parse_post(data, f"deep{suffix}", config)
    except ContentError as e:
        assert e.path == f"deep{suffix}"
        assert e.line is None or 1 <= e.line <= lines_of(data)


# --- whole runs ---------------------------------------------------------------------------

SUFFIXES = [".md", ".txt", ".html", ".htm", ".markdown"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("twice-saved.txt", b"\xef\xbb\xbf\xef\xbb\xbfFish & chips\n"),
        ("body.txt", "Title: T\n\n\ufeffFish & chips\n".encode()),
        ("body.md", "---\ntitle: T\n---\n\n\ufeffFish & chips\n".encode()),
    ],
)
def test_a_zero_width_no_break_space_before_an_ampersand_does_not_stop_the_run(
    site: Site, name: str, data: bytes
) -> None:
    """Found by the run property below: a file saved with two BOMs (or any body starting
    with U+FEFF) whose first paragraph holds `&` must not keep every other post from being
    published; it is a post like any other."""
    site.post("good.md", "Good")
    site.write(name, data)
    result = regenerate(load_config(site.config_path), NOW, lock_wait=5)
    assert result.published, [str(p) for p in result.feed_problems if p.level == "error"]
    assert result.posts == 2


@RUN_SETTINGS
@given(
    files=st.lists(
        st.tuples(st.sampled_from(SUFFIXES), post_bytes), min_size=1, max_size=4, unique_by=repr
    )
)
def test_a_run_over_fuzzed_files_publishes_valid_feeds_and_accounts_for_every_file(
    files: list[tuple[str, bytes]],
) -> None:
    """A whole regeneration over a good post and a few fuzzed files never raises; every file
    is published, held back (draft, future) or reported as exactly one located error; and
    every published feed re-validates without errors."""
    root = Path(tempfile.mkdtemp(prefix="feeds-fuzz-"))
    try:
        (root / "config.yaml").write_text(CONFIG + "feeds:\n  limit: 100\n", encoding="utf-8")
        content = root / "content"
        content.mkdir()
        names = ["good.md"]
        (content / "good.md").write_text("---\ntitle: Good\ndate: 2024-01-01\n---\n\nFine.\n")
        for n, (suffix, data) in enumerate(files):
            names.append(f"fuzz{n}{suffix}")
            (content / names[-1]).write_bytes(data)
        for name in names:
            os.utime(content / name, (OLD_MTIME, OLD_MTIME))

        result = regenerate(load_config(root / "config.yaml"), NOW, lock_wait=5)

        assert result.published, [p for p in result.feed_problems if p.level == "error"]
        assert result.files == len(names)
        errors = [p for p in result.problems if p.level == "error"]
        named = [p.path for p in errors]
        assert len(named) == len(set(named)), f"a file reported twice: {errors}"
        assert set(named) <= set(names) - {"good.md"}, errors
        for problem in errors:
            assert problem.line is None or problem.line >= 1
            assert problem.message.strip()
        assert result.posts + result.drafts + len(result.future) + len(errors) == len(names)
        outputs = {
            p.relative_to(root / "public").as_posix(): p.read_bytes()
            for p in sorted((root / "public").rglob("*"))
            if p.is_file()
        }
        for rel, data in outputs.items():
            if PurePosixPath(rel).name in ("rss.xml", "atom.xml", "feed.json"):
                problems = validate_feed(data, "https://example.org/" + rel, path=rel, now=NOW)
                assert not [p for p in problems if p.level == "error"], (rel, problems)
        assert outputs["feed.json"].count(b'"id":') >= result.posts
    finally:
        shutil.rmtree(root)


def test_surrogateescape_is_the_encoding_the_strategies_use() -> None:
    """The structured strategy's lone surrogates reach the readers as the raw bytes they
    escape (0x80–0xFF), i.e. as invalid UTF-8, not as a crash of the test itself."""
    assert encode("a\udc80b", "utf-8") == b"a\x80b"
    assert encode("a\ud800b", "surrogatepass") == b"a\xed\xa0\x80b"
