"""Property tests: whatever a post file holds, reading it gives a Source or a ContentError.

And whatever HTML goes into clean_html, what comes out is safe, parseable and XML-clean.
"""

from __future__ import annotations

import re
from dataclasses import fields
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.content import decode
from feeds.content.readers import READERS
from feeds.exceptions import ContentError
from feeds.model import Author, Source
from feeds.render import clean_html, summarize

TZ = ZoneInfo("Europe/Madrid")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What XML 1.0 cannot hold, plus what the readers promise to remove: C1 controls and U+FFFD,
# which the W3C feed validator warns about.
BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffd\ufffe\uffff]")

KEYS = ["title", "date", "updated", "author", "authors", "summary", "tags", "slug", "draft"]
KEYS += ["id", "link", "image", "enclosure", "Title", "Date", "layout", "url", "name"]
VALUES = [
    "2024-01-05", "2024-01-05T10:30:00Z", "2024-03-31 02:30", "yes", "no", "true", "~", "[]",
    "{}", "[a, b]", "{name: A, email: a@b}", "{url: x, length: 1, type: a/b}", "-1", "1e999",
    "&a x", "*a", "!!binary aGk=", "!!python/object:os.system", "|\n  block", "'quoted'",
    '"\\x01"', "https://example.org/", "javascript:x", "99999999999999999999", ".nan",
]  # fmt: skip

texts = st.text(max_size=300)
line = st.one_of(
    st.builds(
        lambda k, v, sep: f"{k}:{sep}{v}",
        st.sampled_from(KEYS),
        st.one_of(st.sampled_from(VALUES), st.text(max_size=30)),
        st.sampled_from([" ", "", "\t", "  "]),
    ),
    st.sampled_from(["---", "", "  - x", "• Facebook", "  • Twitter", "Home / A / B", "<p>"]),
    st.text(max_size=40),
)
post_texts = st.one_of(
    texts,
    st.lists(line, max_size=12).map("\n".join),
    st.lists(line, max_size=10).map(lambda lines: "---\n" + "\n".join(lines) + "\n---\nbody"),
)
post_bytes = st.one_of(
    st.binary(max_size=300),
    post_texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
    post_texts.map(lambda t: t.encode("cp1252", "replace")),
)


def assert_clean(source: Source) -> None:
    """Every text field of a Source is free of characters a feed cannot carry."""
    for field in fields(source):
        value = getattr(source, field.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            parts = [item.name, item.email, item.url] if isinstance(item, Author) else [item]
            for part in parts:
                if isinstance(part, str):
                    assert not BAD_CHAR.search(part), (field.name, part)
    if source.title is not None:
        assert source.title == " ".join(source.title.split()) and source.title


def read_or_refuse(data: bytes, suffix: str) -> None:
    try:
        text, _ = decode(data, f"post{suffix}")
        source = READERS[suffix](text, f"post{suffix}", TZ)
    except ContentError as e:
        assert e.path == f"post{suffix}"
        assert e.line is None or e.line >= 1
        return
    assert_clean(source)
    if source.date is not None:
        assert source.date.tzinfo is not None and source.date.microsecond == 0


@pytest.mark.parametrize("suffix", sorted(set(READERS)))
@SETTINGS
@given(data=post_bytes)
def test_any_bytes_give_a_source_or_a_content_error(suffix: str, data: bytes) -> None:
    read_or_refuse(data, suffix)


@pytest.mark.parametrize("suffix", [".md", ".txt", ".html"])
@SETTINGS
@given(text=post_texts)
def test_any_text_gives_a_source_or_a_content_error(suffix: str, text: str) -> None:
    # Readers take text straight from decode, but must not trust it either.
    try:
        source = READERS[suffix](text, f"post{suffix}", TZ)
    except ContentError:
        return
    assert_clean(source)


TAGS = ["p", "a", "img", "script", "style", "iframe", "svg", "b", "div", "noscript", "object"]
ATTRS = ["href", "src", "srcset", "onerror", "onclick", "style", "id", "title"]
ATTR_VALUES = [
    "javascript:alert(1)", " java\tscript:x", "data:text/html,<script>x</script>", "../a.png",
    "#f", "//h.example/x", "a.png 1x, javascript:x 2x", "http://[x", "\\\\evil\\x", "x\x00y",
    "&#106;avascript:x", "vbscript:x", "mailto:a@b", "",
]  # fmt: skip


@st.composite
def html_fragments(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        tag = draw(st.sampled_from(TAGS))
        attrs = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(ATTRS),
                    st.one_of(st.sampled_from(ATTR_VALUES), st.text(max_size=20)),
                ),
                max_size=3,
            )
        )
        rendered = "".join(f' {k}="{v.replace(chr(34), "&quot;")}"' for k, v in attrs)
        inner = draw(st.one_of(st.text(max_size=30), st.just("<script>alert(1)</script>")))
        parts.append(f"<{tag}{rendered}>{inner}</{tag}>")
    parts.append(draw(st.text(max_size=50)))
    return "".join(parts)


@SETTINGS
@given(html=st.one_of(html_fragments(), st.text(max_size=300)))
def test_clean_html_output_is_safe_parseable_and_xml_clean(html: str) -> None:
    cleaned = clean_html(html, "https://example.org/blog/post/")
    lowered = cleaned.lower()
    assert "<script" not in lowered and "<style" not in lowered and "<iframe" not in lowered
    assert not BAD_CHAR.search(cleaned)
    if cleaned.strip():
        root = lxml.html.fragment_fromstring(cleaned, create_parent="div")
        for element in root.iter():
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), name
                if name in ("href", "src"):
                    assert re.match(r"(https?|mailto|tel|ftps?|sftp|news|nntp|xmpp):", value), value
    summary = summarize(cleaned)
    assert "<" not in summary and not BAD_CHAR.search(summary)


@SETTINGS
@given(html=st.one_of(html_fragments(), st.text(max_size=300)))
def test_clean_html_output_is_strict_html_as_the_w3c_validator_reads_it(html: str) -> None:
    html5lib = pytest.importorskip("html5lib")
    cleaned = clean_html(html, "https://example.org/blog/post/")
    # The W3C feed validator parses content with html5lib in strict mode: an error is NotHtml.
    html5lib.HTMLParser(strict=True).parseFragment(cleaned)
