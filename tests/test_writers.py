"""The writers: what goes into a FeedSpec comes out of every format, byte for byte the same."""

from __future__ import annotations

import dataclasses
import html
import json
import random
from calendar import timegm
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.model import Author, Enclosure, FeedSpec, Post
from feeds.validate import validate_feed
from feeds.writers import WRITERS, WriteOptions
from feeds.writers._shared import EMPTY_FEED_UPDATED, clean
from feeds.writers.jsonfeed import html_to_text
from feeds.writers.pages import index_html, opml

BASE = "https://example.org/journal/"
ZOE = Author("Zoë Ångström", "zoe@example.org", "https://example.org/zoe/")
BOB = Author("Bob")
CHEN = Author("陈 Chen", "chen@example.org")
DESK = Author("Desk", "desk@example.org")

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
}


def post(slug: str, published: datetime, **changes: Any) -> Post:
    """A post at ``BASE/<slug>/`` with sensible defaults; ``changes`` override fields."""
    fields: dict[str, Any] = {
        "path": f"{slug}.md",
        "id": f"tag:example.org,2024:{slug}",
        "slug": slug,
        "url": f"{BASE}{slug}/",
        "title": slug.replace("-", " ").title(),
        "published": published,
        "updated": published,
        "authors": (ZOE,),
        "summary": f"<p>About {slug}.</p>",
        "content": f"<p>All about {slug}.</p>",
        "tags": (),
    }
    fields.update(changes)
    return Post(**fields)


def rich_posts() -> tuple[Post, ...]:
    """Newest first: many authors, non-ASCII, HTML with entities, links, images, ``]]>``, an
    enclosure and an image, offsets other than UTC, a permalink id, two posts published at
    the same instant but updated at different ones."""
    paris = ZoneInfo("Europe/Paris")
    same = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    return (
        post(
            "cafe-politica",
            datetime(2024, 5, 2, 9, 30, 15, 123456, tzinfo=paris),
            updated=datetime(2024, 5, 3, 8, 0, tzinfo=paris),
            title="Café «Política» & friends — 日本語",
            authors=(ZOE, BOB, CHEN),
            summary="<p>Ça &amp; <em>ça</em>: 5 &lt; 6 &mdash; 東京</p>",
            content=(
                '<p>See <a href="https://example.org/journal/other/">the other post</a>'
                ' &amp; <img src="https://example.org/journal/cafe-politica/pic.jpg"'
                ' alt="A café"> &nbsp;done.</p>\n<pre><code>a[b[0]]&gt;c ]]&gt; x</code></pre>'
                "<p>Literal ]]> in text and &#x1F600; 😀</p>"
            ),
            tags=("Política Exterior", "python", "日本語", "Apple"),
            enclosure=Enclosure("https://example.org/media/ep1.mp3", 12345678, "audio/mpeg"),
            image="https://example.org/journal/cafe-politica/cover.jpg",
        ),
        post(
            "twin-b",
            same,
            updated=same + timedelta(hours=2),
            authors=(BOB,),
            tags=("python",),
        ),
        post(
            "twin-a",
            same,
            updated=same + timedelta(hours=1),
            authors=(CHEN, ZOE),
            id=f"{BASE}twin-a/",
        ),
        post(
            "old-news",
            datetime(2023, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
            authors=(),
            summary="Plain text with an ampersand &amp; nothing else",
            tags=("Misc",),
        ),
    )


def site_spec(posts: tuple[Post, ...], **changes: Any) -> FeedSpec:
    fields: dict[str, Any] = {
        "kind": "site",
        "key": "",
        "folder": "",
        "title": "Zoë\u2019s Journal & Notes",
        "description": "Notes on «everything» & more",
        "base_url": BASE,
        "language": "fr",
        "posts": posts,
        "author": DESK,
    }
    fields.update(changes)
    return FeedSpec(**fields)


def all_specs() -> list[FeedSpec]:
    """Every shape of feed worth checking: rich, one post, empty, a tag and an author feed."""
    posts = rich_posts()
    return [
        site_spec(posts),
        site_spec(posts[:1], folder="one/", title="Just one"),
        site_spec((), folder="empty/", title="Nothing yet", description=""),
        site_spec(
            tuple(p for p in posts if "python" in p.tags),
            kind="tag",
            key="python",
            folder="tags/python/",
            title="Zoë\u2019s Journal: python",
        ),
        site_spec(
            tuple(p for p in posts if CHEN in p.authors),
            kind="author",
            key=CHEN.name,
            folder="authors/chen/",
            title="Zoë\u2019s Journal: 陈 Chen",
        ),
    ]


SPECS = all_specs()
IDS = [spec.folder or "site" for spec in SPECS]
BOTH = [True, False]


def parsed(data: bytes) -> Any:
    """feedparser's reading, untouched (no sanitizing, no URL resolving); never bozo."""
    result = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    assert not result.bozo, result.get("bozo_exception")
    return result


def instant(struct: Any) -> datetime:
    return datetime.fromtimestamp(timegm(struct), tz=UTC)


def whole_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def names(post: Post, spec: FeedSpec) -> list[str]:
    return [a.name for a in (post.authors or (spec.author,))]


def sorted_tags(post: Post) -> list[str]:
    return sorted(set(post.tags), key=lambda t: (t.casefold(), t))


# -- every format ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_same_input_same_bytes(fmt: str, spec: FeedSpec) -> None:
    write = WRITERS[fmt]
    first = write(spec, WriteOptions())
    again = write(dataclasses.replace(spec), WriteOptions())
    assert first == again
    first.decode("utf-8")


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_tag_order_and_time_zone_do_not_change_bytes(fmt: str) -> None:
    spec = SPECS[0]
    shuffled = []
    for p in spec.posts:
        tags = list(p.tags)
        random.Random(7).shuffle(tags)
        tokyo = ZoneInfo("Asia/Tokyo")
        shuffled.append(
            dataclasses.replace(
                p,
                tags=tuple(reversed(tags)),
                published=p.published.astimezone(tokyo),
                updated=p.updated.astimezone(tokyo),
            )
        )
    other = dataclasses.replace(spec, posts=tuple(shuffled))
    assert WRITERS[fmt](other, WriteOptions()) == WRITERS[fmt](spec, WriteOptions())


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_changed_post_changes_bytes(fmt: str) -> None:
    spec = SPECS[1]
    edited = dataclasses.replace(spec.posts[0], title="Another title")
    other = dataclasses.replace(spec, posts=(edited,))
    assert WRITERS[fmt](other, WriteOptions()) != WRITERS[fmt](spec, WriteOptions())


HUB = "https://hub.example.net/publish?site=1&x=2"


def hubs_named(fmt: str, data: bytes) -> list[str]:
    """The WebSub hubs a feed names, as a subscriber would find them."""
    if fmt == "json":
        return [hub["url"] for hub in json.loads(data).get("hubs", []) if hub["type"] == "WebSub"]
    return [link.href for link in parsed(data).feed.get("links", []) if link.rel == "hub"]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_websub_hub_is_named_by_every_feed(fmt: str, spec: FeedSpec) -> None:
    with_hub = WRITERS[fmt](spec, WriteOptions(hub=HUB))
    without = WRITERS[fmt](spec, WriteOptions())
    assert hubs_named(fmt, with_hub) == [HUB]
    assert hubs_named(fmt, without) == []
    assert WRITERS[fmt](dataclasses.replace(spec), WriteOptions(hub=HUB)) == with_hub
    problems = validate_feed(with_hub, spec.url(fmt), fmt=fmt, expected=spec.posts, hub=HUB)
    assert [p for p in problems if p.level == "error"] == []


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_hub_link_is_beside_the_self_link(fmt: str) -> None:
    """RSS too (feedgen keeps only the self link there): a channel-level atom:link."""
    root = etree.fromstring(WRITERS[fmt](SPECS[0], WriteOptions(hub=HUB)))
    feed = root.find("channel") if fmt == "rss" else root
    assert feed is not None
    links = [(link.get("rel"), link.get("href")) for link in feed.iterfind("atom:link", NS)]
    self_at = links.index(("self", SPECS[0].url(fmt)))
    assert links[self_at + 1] == ("hub", HUB)
    assert [rel for rel, _ in links].count("hub") == 1


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_characters_illegal_in_xml_are_dropped(fmt: str) -> None:
    bad = post(
        "bad",
        datetime(2024, 1, 1, tzinfo=UTC),
        title="Bell\x07 and \x0bvtab\ufffe",
        content="<p>nul\x00 here\x85</p>",
    )
    data = WRITERS[fmt](site_spec((bad,)), WriteOptions())
    text = data.decode("utf-8")
    assert "Bell and vtab" in text
    assert "\x00" not in text and "\x85" not in text and "\x07" not in text


def test_an_author_url_beyond_ascii_is_written_as_a_browser_sends_it() -> None:
    # JSON Feed asks for a URL; Atom's uri takes an IRI, but the two say the same.
    zoe = Author("Zoë", None, "https://zoë.example/über uns")
    spec = site_spec((post("iri", datetime(2024, 1, 1, tzinfo=UTC), authors=(zoe,)),))
    url = "https://xn--zo-ija.example/%C3%BCber%20uns"
    assert json.loads(WRITERS["json"](spec, WriteOptions()))["items"][0]["authors"] == [
        {"name": "Zoë", "url": url}
    ]
    assert parsed(WRITERS["atom"](spec, WriteOptions())).entries[0].author_detail.href == url


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_naive_datetime_is_refused(fmt: str) -> None:
    naive = post("naive", datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        WRITERS[fmt](site_spec((naive,)), WriteOptions())


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_plain_text_uses_hex_references(fmt: str) -> None:
    # The W3C validator warns about "&" and "<" in plain text written any other way.
    tricky = post(
        "tricky",
        datetime(2024, 1, 1, tzinfo=UTC),
        title="Vec<T> & Tom &amp; Jerry",
        authors=(Author("A&B <Co>"),),
        tags=("<tag>&co",),
    )
    spec = site_spec((tricky,), title="<Edge> & cases", description="1 < 2 & &copy;")
    data = WRITERS[fmt](spec, WriteOptions())
    assert b"<title>Vec&#x3C;T&gt; &#x26; Tom &#x26;amp; Jerry</title>" in data
    assert b"<title>&#x3C;Edge&gt; &#x26; cases</title>" in data
    assert b"1 &#x3C; 2 &#x26; &#x26;copy;" in data
    # HTML stays as lxml wrote it.
    assert b"&lt;p&gt;About tricky.&lt;/p&gt;" in data
    result = parsed(data)
    assert result.feed.title == spec.title
    assert (result.feed.get("subtitle") or result.feed.get("description")) == spec.description
    assert result.entries[0].title == tricky.title
    assert result.entries[0].author == "A&B <Co>"
    assert result.entries[0].summary == tricky.summary
    if fmt == "rss":
        assert [t.term for t in result.entries[0].tags] == ["<tag>&co"]


@pytest.mark.parametrize(
    "title", ["Rust's Option<T> & Result<T, E>", "The <br> tag", "Using <details>", "<!-- x -->"]
)
def test_an_atom_title_with_no_end_tag_stays_text(title: str) -> None:
    """Most readers show an HTML title's escaped text as entities (``Option&lt;T&gt;``),
    every one a text title as written: a title the W3C validator does not take for
    HTML stays text."""
    p = post("tags", datetime(2024, 1, 1, tzinfo=UTC), title=title)
    spec = dataclasses.replace(site_spec((p,)), description=f"Posts tagged {title}")
    data = WRITERS["atom"](spec, WriteOptions())
    assert b"<title type=" not in data and b"<subtitle type=" not in data
    result = parsed(data)
    assert (result.entries[0].title, result.entries[0].title_detail.type) == (title, "text/plain")
    assert result.feed.subtitle == f"Posts tagged {title}"
    assert validate_feed(data, spec.url("atom"), fmt="atom", expected=spec.posts) == ()


@pytest.mark.parametrize("title", ["The <br> and </p> tags", "Tom & <em>Jerry</em>"])
def test_an_atom_title_holding_an_end_tag_is_escaped_html(title: str) -> None:
    """An end tag draws the W3C validator's warning in a text construct: Atom says the
    title is escaped HTML, which the validator reads back as the title."""
    p = post("tags", datetime(2024, 1, 1, tzinfo=UTC), title=title)
    spec = site_spec((p,))
    data = WRITERS["atom"](spec, WriteOptions())
    assert data.count(b'<title type="html">') == 1
    assert parsed(data).entries[0].title == html.escape(title, quote=False)
    assert validate_feed(data, spec.url("atom"), fmt="atom", expected=spec.posts) == ()
    # A tag's feed says its name in its subtitle: the same holds there.
    tagged = dataclasses.replace(spec, description=f"Posts tagged {title}")
    data = WRITERS["atom"](tagged, WriteOptions())
    assert data.count(b'<subtitle type="html">') == 1
    assert parsed(data).feed.subtitle == html.escape(f"Posts tagged {title}", quote=False)
    assert validate_feed(data, spec.url("atom"), fmt="atom", expected=spec.posts) == ()


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(min_size=1).filter(lambda text: clean(text).strip() != ""),
    name=st.text(),
    tag=st.text(),
    summary=st.text(),
)
def test_any_text_gives_well_formed_feeds(title: str, name: str, tag: str, summary: str) -> None:
    p = post(
        "any",
        datetime(2024, 1, 1, tzinfo=UTC),
        title=title,
        authors=(Author(name),),
        tags=(tag,),
        summary=summary,
        content=summary + "]]>",
    )
    spec = site_spec((p,), title=title, description=summary)
    for fmt in ("rss", "atom"):
        data = WRITERS[fmt](spec, WriteOptions())
        root = etree.fromstring(data, etree.XMLParser(recover=False))
        titles = [
            html.unescape(t.text or "") if t.get("type") == "html" else t.text or ""
            for t in root.iter("title", "{*}title")
        ]
        assert titles == [clean(title)] * 2
        parsed(data)
    feed = json.loads(WRITERS["json"](spec, WriteOptions()))
    assert feed["items"][0]["title"] == clean(title)


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("blank", ["", " \t", "\x1f"])
def test_blank_titles_are_refused_by_name(fmt: str, blank: str) -> None:
    with pytest.raises(ValueError, match=r"title of feed .* is empty"):
        WRITERS[fmt](site_spec((), title=blank), WriteOptions())
    untitled = post("untitled", datetime(2024, 1, 1, tzinfo=UTC), title=blank)
    with pytest.raises(ValueError, match=r"title of untitled\.md is empty"):
        WRITERS[fmt](site_spec((untitled,)), WriteOptions())


def test_nameless_authors_give_way_to_the_feed_author() -> None:
    nameless = post("nameless", datetime(2024, 1, 1, tzinfo=UTC), authors=(Author(" "),))
    spec = site_spec((nameless,))
    rss = etree.fromstring(WRITERS["rss"](spec, WriteOptions()))
    assert [c.text for c in rss.iterfind("channel/item/dc:creator", NS)] == [DESK.name]
    atom = etree.fromstring(WRITERS["atom"](spec, WriteOptions()))
    assert [n.text for n in atom.iterfind("atom:entry/atom:author/atom:name", NS)] == [DESK.name]
    feed = json.loads(WRITERS["json"](spec, WriteOptions()))
    assert feed["items"][0]["authors"] == [{"name": DESK.name}]


# -- RSS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("full", BOTH)
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_rss_entries_say_what_was_built(spec: FeedSpec, full: bool) -> None:
    data = WRITERS["rss"](spec, WriteOptions(full_content=full))
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data, etree.XMLParser(recover=False))
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("link") == BASE
    assert channel.findtext("description")
    assert channel.findtext("generator") == "feeds"
    self_link = channel.find("atom:link", NS)
    assert self_link is not None
    assert (self_link.get("rel"), self_link.get("href")) == ("self", spec.url("rss"))

    result = parsed(data)
    assert result.version == "rss20"
    assert result.feed.title == spec.title
    assert result.feed.language == spec.language
    newest = max((whole_second(p.updated) for p in spec.posts), default=EMPTY_FEED_UPDATED)
    assert instant(result.feed.updated_parsed) == newest

    assert len(result.entries) == len(spec.posts)
    items = channel.findall("item")
    for p, entry, item in zip(spec.posts, result.entries, items, strict=True):
        assert entry.title == p.title
        assert entry.link == p.url
        assert entry.id == p.id
        guid = item.find("guid")
        assert guid is not None
        assert guid.get("isPermaLink") == ("true" if p.id == p.url else "false")
        assert instant(entry.published_parsed) == whole_second(p.published)
        assert instant(entry.updated_parsed) == whole_second(p.updated)
        assert [c.text for c in item.findall("dc:creator", NS)] == names(p, spec)
        assert item.find("author") is None
        assert [t.term for t in entry.get("tags", [])] == sorted_tags(p)
        assert item.findtext("description") == p.summary
        encoded = item.findtext("content:encoded", namespaces=NS)
        assert encoded == (p.content if full else None)
        enclosure = item.find("enclosure")
        if p.enclosure is None:
            assert enclosure is None
        else:
            assert enclosure is not None
            assert enclosure.get("url") == p.enclosure.url
            assert enclosure.get("length") == str(p.enclosure.length)
            assert enclosure.get("type") == p.enclosure.type
        thumbnail = item.find("media:thumbnail", NS)
        assert (thumbnail.get("url") if thumbnail is not None else None) == p.image


def test_rss_rfc822_dates_in_utc() -> None:
    data = WRITERS["rss"](SPECS[1], WriteOptions())
    # 2024-05-02 09:30:15.123456 in Paris (UTC+2) is 07:30:15 UTC; fractions dropped.
    assert b"<pubDate>Thu, 02 May 2024 07:30:15 +0000</pubDate>" in data
    assert b"<atom:updated>2024-05-03T06:00:00+00:00</atom:updated>" in data
    assert b"<lastBuildDate>Fri, 03 May 2024 06:00:00 +0000</lastBuildDate>" in data


def test_rss_description_falls_back_to_title() -> None:
    data = WRITERS["rss"](SPECS[2], WriteOptions())
    channel = etree.fromstring(data).find("channel")
    assert channel is not None
    assert channel.findtext("description") == "Nothing yet"


def test_rss_declares_namespaces_it_uses() -> None:
    root = etree.fromstring(WRITERS["rss"](SPECS[0], WriteOptions()))
    for prefix in ("atom", "content", "dc", "media"):
        assert root.nsmap[prefix] == NS[prefix]


# -- Atom --------------------------------------------------------------------------------


@pytest.mark.parametrize("full", BOTH)
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_atom_entries_say_what_was_built(spec: FeedSpec, full: bool) -> None:
    data = WRITERS["atom"](spec, WriteOptions(full_content=full))
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data, etree.XMLParser(recover=False))
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert root.findtext("atom:id", namespaces=NS) == spec.url("atom")
    links = {(ln.get("rel"), ln.get("href")) for ln in root.findall("atom:link", NS)}
    assert links == {("self", spec.url("atom")), ("alternate", BASE)}

    result = parsed(data)
    assert result.version == "atom10"
    assert result.feed.title == spec.title
    assert result.feed.author_detail.name == spec.author.name
    newest = max((whole_second(p.updated) for p in spec.posts), default=EMPTY_FEED_UPDATED)
    assert instant(result.feed.updated_parsed) == newest

    assert len(result.entries) == len(spec.posts)
    elements = root.findall("atom:entry", NS)
    for p, entry, element in zip(spec.posts, result.entries, elements, strict=True):
        assert entry.title == p.title
        assert entry.link == p.url
        assert entry.id == p.id
        assert instant(entry.published_parsed) == whole_second(p.published)
        assert instant(entry.updated_parsed) == whole_second(p.updated)
        people = [
            (a.findtext("atom:name", namespaces=NS), a.findtext("atom:email", namespaces=NS))
            for a in element.findall("atom:author", NS)
        ]
        expected = p.authors or (spec.author,)
        assert people == [(a.name, a.email) for a in expected]
        assert [a.get("href") for a in entry.authors] == [a.url for a in expected]
        assert entry.summary_detail.type == "text/html"
        assert entry.summary == p.summary
        if full:
            assert [(c.type, c.value) for c in entry.content] == [("text/html", p.content)]
        else:
            assert "content" not in entry
        assert [t.term for t in entry.get("tags", [])] == sorted_tags(p)
        enclosures = [(e.href, e.type, e.length) for e in entry.get("enclosures", [])]
        if p.enclosure is None:
            assert enclosures == []
        else:
            e = p.enclosure
            assert enclosures == [(e.url, e.type, str(e.length))]


@pytest.mark.parametrize("full", BOTH)
def test_atom_entry_without_text_gets_a_blank_summary(full: bool) -> None:
    # An empty body (a saved page that was all chrome): the W3C validator warns about an
    # Atom entry with neither summary nor content.
    empty = post("empty", datetime(2024, 1, 1, tzinfo=UTC), summary="", content="")
    root = etree.fromstring(WRITERS["atom"](site_spec((empty,)), WriteOptions(full)))
    summaries = root.findall("atom:entry/atom:summary", NS)
    assert [(s.get("type"), s.text) for s in summaries] == [("html", " ")]
    assert root.find("atom:entry/atom:content", NS) is None
    rss = etree.fromstring(WRITERS["rss"](site_spec((empty,)), WriteOptions(full)))
    assert rss.find("channel/item/description") is None


@pytest.mark.parametrize("full", BOTH)
def test_a_json_item_with_no_body_carries_its_summary_as_content(full: bool) -> None:
    # A summary and no body: "content_html": "" showed JSON readers a blank page.
    bodiless = post("bodiless", datetime(2024, 1, 1, tzinfo=UTC), content="")
    (item,) = json.loads(WRITERS["json"](site_spec((bodiless,)), WriteOptions(full)))["items"]
    assert item["content_html"] == bodiless.summary


def test_atom_summary_only_without_full_content_gets_a_blank_summary() -> None:
    bare = post("bare", datetime(2024, 1, 1, tzinfo=UTC), summary="")
    root = etree.fromstring(WRITERS["atom"](site_spec((bare,)), WriteOptions(False)))
    assert root.findtext("atom:entry/atom:summary", namespaces=NS) == " "
    root = etree.fromstring(WRITERS["atom"](site_spec((bare,)), WriteOptions(True)))
    assert root.find("atom:entry/atom:summary", NS) is None
    assert root.findtext("atom:entry/atom:content", namespaces=NS) == bare.content


def test_atom_dates_in_utc() -> None:
    data = WRITERS["atom"](SPECS[1], WriteOptions())
    assert b"<published>2024-05-02T07:30:15+00:00</published>" in data
    assert b"<updated>2024-05-03T06:00:00+00:00</updated>" in data


def test_atom_empty_feed_has_fixed_updated() -> None:
    root = etree.fromstring(WRITERS["atom"](SPECS[2], WriteOptions()))
    assert root.findtext("atom:updated", namespaces=NS) == "2000-01-01T00:00:00+00:00"
    assert root.find("atom:author/atom:name", NS) is not None


# -- JSON Feed ---------------------------------------------------------------------------


@pytest.mark.parametrize("full", BOTH)
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_json_feed_items_say_what_was_built(spec: FeedSpec, full: bool) -> None:
    data = WRITERS["json"](spec, WriteOptions(full_content=full))
    feed = json.loads(data.decode("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == spec.title
    assert feed["home_page_url"] == BASE
    assert feed["feed_url"] == spec.url("json")
    assert feed["language"] == spec.language
    assert feed.get("description", "") == spec.description
    assert feed["authors"] == [{"name": "Desk"}]
    assert len(feed["items"]) == len(spec.posts)
    for p, item in zip(spec.posts, feed["items"], strict=True):
        assert item["id"] == p.id
        assert item["url"] == p.url
        assert item["title"] == p.title
        assert item["summary"] == html_to_text(p.summary)
        assert item["content_html"] == (p.content if full else p.summary)
        published = datetime.fromisoformat(item["date_published"])
        modified = datetime.fromisoformat(item["date_modified"])
        assert (published, modified) == (whole_second(p.published), whole_second(p.updated))
        assert [a["name"] for a in item["authors"]] == names(p, spec)
        assert item.get("tags", []) == sorted_tags(p)
        assert item.get("image") == p.image
        if p.enclosure is not None:
            assert item["attachments"] == [
                {
                    "url": p.enclosure.url,
                    "mime_type": p.enclosure.type,
                    "size_in_bytes": p.enclosure.length,
                }
            ]
        else:
            assert "attachments" not in item


def test_json_author_name_and_url() -> None:
    feed = json.loads(WRITERS["json"](SPECS[0], WriteOptions()))
    assert feed["items"][0]["authors"] == [
        {"name": ZOE.name, "url": "https://example.org/zoe/"},
        {"name": "Bob"},
        {"name": CHEN.name},
    ]


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Ça &amp; <em>ça</em>: 5 &lt; 6 &mdash; x</p>", "Ça & ça: 5 < 6 — x"),
        ("<p>one</p><p>two</p>", "one two"),
        ("a<br>b\n\n  c", "a b c"),
        ("Plain &amp; simple", "Plain & simple"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


# -- index.html and OPML -----------------------------------------------------------------

FORMATS = ["rss", "atom", "json"]


def test_index_lists_every_feed_in_every_format() -> None:
    shuffled = list(reversed(SPECS))
    page = index_html("Zoë <Journal>", "Notes & more", BASE, shuffled, FORMATS)
    assert page == index_html("Zoë <Journal>", "Notes & more", BASE, SPECS, FORMATS)
    text = page.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>\n")
    assert "Zoë &lt;Journal&gt;" in text and "<Journal>" not in text

    root = etree.fromstring(page, etree.HTMLParser(recover=False))
    alternates = root.findall("head/link[@rel='alternate']")
    hrefs = [link.get("href") for link in alternates]
    assert hrefs == [spec.url(fmt) for spec in _site_first(SPECS) for fmt in FORMATS]
    assert hrefs[0] == BASE + "rss.xml"
    types = {link.get("type") for link in alternates}
    assert types == {"application/rss+xml", "application/atom+xml", "application/feed+json"}
    assert all(link.get("title") for link in alternates)
    body_links = {a.get("href") for a in root.iter("a")}
    assert {spec.url(fmt) for spec in SPECS for fmt in FORMATS} <= body_links


def test_index_only_lists_chosen_formats() -> None:
    page = index_html("T", "", BASE, SPECS, ["atom"]).decode("utf-8")
    assert "rss.xml" not in page and "feed.json" not in page
    assert BASE + "tags/python/atom.xml" in page


def test_index_dates_posts_in_the_sites_time_zone() -> None:
    # Half past midnight in Berlin is still the day before in UTC: the page says the day
    # the post's permalink says.
    berlin = ZoneInfo("Europe/Berlin")
    spec = site_spec((post("late", datetime(2026, 9, 1, 0, 30, tzinfo=berlin)),))
    local = index_html("T", "", BASE, [spec], FORMATS, berlin).decode("utf-8")
    assert '<time datetime="2026-09-01">2026-09-01</time>' in local
    in_utc = index_html("T", "", BASE, [spec], FORMATS).decode("utf-8")
    assert '<time datetime="2026-08-31">2026-08-31</time>' in in_utc


def _site_first(specs: list[FeedSpec]) -> list[FeedSpec]:
    order = {"site": 0, "tag": 1, "author": 2}
    return sorted(specs, key=lambda s: (order[s.kind], s.folder))


@pytest.mark.parametrize(
    ("formats", "chosen"), [(FORMATS, "rss"), (["json", "atom"], "atom"), (["json"], "json")]
)
def test_opml_lists_every_feed_once(formats: list[str], chosen: str) -> None:
    data = opml("Zoë & Co", BASE, list(reversed(SPECS)), formats)
    assert data == opml("Zoë & Co", BASE, SPECS, formats)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data, etree.XMLParser(recover=False))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "Zoë & Co"
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [s.url(chosen) for s in _site_first(SPECS)]
    for outline, spec in zip(outlines, _site_first(SPECS), strict=True):
        assert outline.get("type") == "rss"
        assert outline.get("text") == outline.get("title") == spec.title
        assert outline.get("htmlUrl") == BASE


@pytest.mark.parametrize("make", [index_html, opml], ids=["index", "opml"])
def test_pages_refuse_unknown_formats(make: Callable[..., bytes]) -> None:
    args = ("T", "", BASE) if make is index_html else ("T", BASE)
    with pytest.raises(ValueError, match="gopher"):
        make(*args, SPECS, ["rss", "gopher"])


def test_an_address_beyond_ascii_is_written_in_idna() -> None:
    # The W3C validator refuses `ann@bücher.example`; mail software sends the domain so.
    ann = Author("Ann", "ann@b\u00fccher.example")
    spec = site_spec((post("idn", datetime(2024, 1, 1, tzinfo=UTC), authors=(ann,)),))
    data = WRITERS["atom"](spec, WriteOptions())
    assert b"<email>ann@xn--bcher-kva.example</email>" in data
    assert "b\u00fccher".encode() not in data
    assert validate_feed(data, spec.url("atom"), fmt="atom", expected=spec.posts) == ()
