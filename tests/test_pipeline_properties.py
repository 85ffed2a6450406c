"""Any post a user can write gives valid feeds or a clear error naming the file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import load_config
from feeds.pipeline import regenerate
from tests.conftest import CONFIG, OLD_MTIME

NOW = datetime(2030, 1, 1, tzinfo=UTC)

html_bits = st.sampled_from(
    [
        "<p>", "</p>", "<b>", "</b>", "<a href='", "'>", "</a>", "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>", "<iframe src=//evil>", "&amp;", "&", "<", ">", "]]>",
        "<a href='javascript:alert(1)'>x</a>", "<style>p{}</style>", "\x00", "\x0b", "\ufffe",
        "\ud800", "../rel.png", "<div><div><div>", "<!--", "-->", "<![CDATA[", "\r\n", "\n\n",
        "é", "中文", "🙂", "**bold**", "[link](../x)", "# heading\n", "<svg onload=alert(1)>",
    ]
)  # fmt: skip
bodies = st.lists(st.one_of(html_bits, st.text(max_size=20)), max_size=25).map("".join)
dates = st.one_of(
    st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2029, 12, 31)).map(
        lambda d: d.isoformat()
    ),
    st.dates(min_value=datetime(1995, 1, 1).date(), max_value=datetime(2029, 12, 31).date()).map(
        str
    ),
    st.text(max_size=25),
)
# Feed readers read an address out of an author's name: names with one, as people write them.
name_bits = st.sampled_from(
    ["Ann", " ", "ann@example.org", "<", ">", "(", ")", "mailto:", "&lt;", "@", ".", ","]
)
names = st.one_of(st.text(max_size=30), st.lists(name_bits, max_size=6).map("".join))


@given(
    title=st.one_of(st.text(max_size=60), bodies),
    date=dates,
    body=bodies,
    summary=st.one_of(st.none(), bodies),
    tags=st.lists(st.text(max_size=15), max_size=4),
    authors=st.lists(names, max_size=3),
    slug=st.one_of(st.none(), st.text(max_size=20)),
)
@settings(
    max_examples=int(os.environ.get("FEEDS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_random_post_gives_valid_feeds_or_a_located_error(
    title: str,
    date: str,
    body: str,
    summary: str | None,
    tags: list[str],
    authors: list[str],
    slug: str | None,
) -> None:
    root = Path(tempfile.mkdtemp())
    try:
        (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
        content = root / "content"
        content.mkdir()
        good = content / "good.md"
        good.write_text("---\ntitle: Good\ndate: 2024-01-01\n---\n\nFine.\n", encoding="utf-8")
        front: dict[str, object] = {"title": title, "date": date, "tags": tags, "authors": authors}
        if summary is not None:
            front["summary"] = summary
        if slug is not None:
            front["slug"] = slug
        # Lone surrogates cannot even be written as UTF-8: the file holds what is writable.
        text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n\n" + body
        post = content / "random.md"
        post.write_bytes(text.encode("utf-8", errors="replace"))
        for f in (good, post):
            os.utime(f, (OLD_MTIME, OLD_MTIME))

        result = regenerate(load_config(root / "config.yaml"), NOW, lock_wait=1)

        assert result.published, result.feed_problems
        assert not [p for p in result.feed_problems if p.level == "error"]
        skipped = result.skipped
        if skipped:
            (problem,) = skipped
            assert problem.path == "random.md" and problem.message
            assert result.posts == 1
        else:
            assert result.posts == 2
        items = json.loads((root / "public" / "feed.json").read_bytes())["items"]
        for item in items:
            assert_inert(item["content_html"])
    finally:
        shutil.rmtree(root)


def assert_inert(markup: str) -> None:
    """No element or attribute in ``markup`` can run script (text may mention anything)."""
    if not markup.strip():
        return
    for element in lxml.html.fragment_fromstring(markup, create_parent="div").iter():
        assert element.tag not in ("script", "iframe", "style", "object", "embed"), markup
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), markup
            assert not value.strip().lower().startswith(("javascript:", "vbscript:")), markup
