"""Hostile content: script-capable markup never survives into any feed, and feeds stay valid."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import lxml.html
import pytest

from feeds.config import load_config
from feeds.pipeline import regenerate
from tests.conftest import Site

# Common cross-site scripting shapes (facts from OWASP's filter evasion cheat sheet,
# written anew): tags, attributes, URL schemes, encodings and parser confusions.
VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<script/xss src=//evil.example/x.js></script>",
    "<<script>alert(2);//<</script>",
    "<img src=x onerror=alert(3)>",
    "<IMG SRC=javascript:alert(4)>",
    "<img src=JaVaScRiPt:alert(5)>",
    "<img src=`javascript:alert(6)`>",
    '<img src="jav&#x09;ascript:alert(7);">',
    '<img src="jav&#x0A;ascript:alert(8);">',
    "<img src=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(9)>",
    '<img """><script>alert(10)</script>">',
    '<img src=/ onerror="alert(String.fromCharCode(88,83,83))">',
    "<svg onload=alert(11)>",
    "<svg><script>alert(12)</script></svg>",
    "<body onload=alert(13)>",
    "<iframe src=javascript:alert(14)></iframe>",
    "<iframe srcdoc='<script>alert(15)</script>'></iframe>",
    "<object data=javascript:alert(16)></object>",
    "<embed src=//evil.example/x.swf>",
    "<a href=javascript:alert(17)>x</a>",
    "<a href='  javascript:alert(18)'>x</a>",
    '<a href="java\tscript:alert(19)">x</a>',
    "<a href=vbscript:msgbox(20)>x</a>",
    "<a href=data:text/html;base64,PHNjcmlwdD5hbGVydCgyMSk8L3NjcmlwdD4=>x</a>",
    "<a href=# onclick=alert(22)>x</a>",
    "<a href=# onmouseover=alert(23)>x</a>",
    '<div style="background:url(javascript:alert(24))">x</div>',
    '<div style="width:expression(alert(25))">x</div>',
    "<style>@import 'javascript:alert(26)';</style>",
    "<link rel=stylesheet href=javascript:alert(27)>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(28)'>",
    "<base href=javascript:alert(29)//>",
    "<form action=javascript:alert(30)><button>x</button></form>",
    "<input onfocus=alert(31) autofocus>",
    "<select onfocus=alert(32) autofocus>",
    "<textarea onfocus=alert(33) autofocus>",
    "<video><source onerror=alert(34)></video>",
    "<audio src=x onerror=alert(35)>",
    "<details open ontoggle=alert(36)>",
    "<marquee onstart=alert(37)>x</marquee>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(38)>",
    "<table background=javascript:alert(39)>",
    "<td background=javascript:alert(40)>",
    "<bgsound src=javascript:alert(41)>",
    "<x onclick=alert(42)>x</x>",
    "<!--<img src=--><img src=x onerror=alert(43)//-->",
    "<![CDATA[<script>alert(44)</script>]]>",
    '<noscript><p title="</noscript><img src=x onerror=alert(45)>">',
    "<isindex type=image src=1 onerror=alert(46)>",
    "<frameset onload=alert(47)>",
    "<applet code=x>",
    '<img srcset="javascript:alert(48) 1x">',
    '<a href="&#x6A;avascript:alert(49)">x</a>',
    "[md link](javascript:alert(50))",
    "![md image](javascript:alert(51))",
    '<a href="\\x01javascript:alert(52)">x</a>',
]

DANGEROUS_TAGS = {
    "script", "iframe", "object", "embed", "style", "link", "meta", "base", "form", "input",
    "select", "textarea", "frameset", "frame", "applet", "bgsound", "svg", "math", "isindex",
}  # fmt: skip


def assert_inert(markup: str, where: str) -> None:
    """No element or attribute of ``markup`` can run script (text may say anything)."""
    if not markup.strip():
        return
    for element in lxml.html.fragment_fromstring(markup, create_parent="div").iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions are inert
        assert element.tag.lower() not in DANGEROUS_TAGS, (where, markup)
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (where, markup)
            assert name.lower() not in ("style", "srcdoc", "background", "formaction"), (where,)
            squeezed = "".join(value.split()).lower()
            assert not squeezed.startswith(("javascript:", "vbscript:", "data:")), (where, markup)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    site = Site(tmp_path_factory.mktemp("hostile"))
    for n, vector in enumerate(VECTORS):
        quoted = json.dumps(vector)  # JSON strings are YAML strings
        site.write(
            f"p{n:02d}.md",
            f"---\ntitle: {quoted}\ndate: 2024-05-{1 + n % 28:02d}T{n % 24:02d}:00:00Z\n"
            f"author: {quoted}\ntags: [{quoted}]\nsummary: {quoted}\n---\n\n"
            f"Before {vector} after.\n\n{vector}\n",
        )
        site.write(f"raw{n:02d}.html", f"<title>Raw {n}</title><body><p>x</p>{vector}</body>")
    site.configure("feeds:\n  limit: 200\n")
    result = regenerate(load_config(site.config_path), datetime(2024, 6, 1, tzinfo=UTC))
    assert result.published, [p for p in result.feed_problems if p.level == "error"]
    assert result.skipped == ()
    assert result.posts == 2 * len(VECTORS)
    return site


def test_enough_vectors() -> None:
    assert len(VECTORS) >= 50


def test_no_vector_survives_in_json_feed(hostile_site: Site) -> None:
    for name, data in hostile_site.outputs().items():
        if name.endswith("feed.json"):
            for item in json.loads(data)["items"]:
                assert_inert(item["content_html"], f"{name} {item['id']}")
                if item["title"].startswith("Raw"):
                    continue
                assert "Before" in item["content_html"], "the post's own text survives"


@pytest.mark.parametrize("suffix", ["rss.xml", "atom.xml"])
def test_no_vector_survives_in_rss_or_atom(hostile_site: Site, suffix: str) -> None:
    for name, data in hostile_site.outputs().items():
        if not name.endswith(suffix):
            continue
        parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
        assert not parsed.bozo, name
        for entry in parsed.entries:
            for content in entry.get("content", []):
                assert_inert(content.value, f"{name} {entry.id} content")
            assert_inert(entry.get("summary", ""), f"{name} {entry.id} summary")


def test_index_page_and_opml_escape_names(hostile_site: Site) -> None:
    index = hostile_site.outputs()["index.html"].decode()
    assert_inert(index.split("<body", 1)[1].split(">", 1)[1], "index.html")
    opml = hostile_site.outputs()["feeds.opml"]
    assert b"<script" not in opml.lower()
