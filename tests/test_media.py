"""Enclosures and podcasts: lengths and types read from the site's files, iTunes tags on the
site's RSS feed, read back by feedparser; located errors for what cannot be published."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.cli import cli
from feeds.config import SiteConfig, load_config
from feeds.media import attach_enclosures, local_path
from feeds.model import Author, EnclosureSource, Post
from feeds.pipeline import RunResult, regenerate
from tests.conftest import Site, blank_source

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PODCAST = """
podcast:
  category: News > Tech News
  explicit: false
  image: /art/cover.jpg
"""
#: the first bytes of an MPEG audio frame, then padding: the size is what matters
MP3 = b"\xff\xfb\x90\x64" + bytes(5000)


def build(site: Site) -> RunResult:
    return regenerate(load_config(site.config_path), NOW, lock_wait=1)


def media(site: Site, rel: str, data: bytes) -> Path:
    path = site.public / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def episode(site: Site, rel: str, title: str, enclosure: str, **extra: str) -> Path:
    return site.post(rel, title, **{"enclosure": enclosure, **extra})


# -- the pure part ---------------------------------------------------------------------------


def test_local_path_maps_urls_under_the_base_url() -> None:
    site = load_site_config()
    assert local_path(site, "https://example.org/media/ep%201.mp3?x=1") == "media/ep 1.mp3"
    assert local_path(site, "HTTPS://Example.org/a.mp3") == "a.mp3"
    assert local_path(site, "https://cdn.example.org/a.mp3") is None
    assert local_path(site, "http://example.org/a.mp3") is None  # another origin
    for bad in (
        "https://example.org/",
        "https://example.org/media/",
        "https://example.org/a/%2e%2e/b",
    ):
        with pytest.raises(ValueError, match="names no file"):
            local_path(site, bad)


def load_site_config() -> SiteConfig:
    return SiteConfig(
        title="T",
        base_url="https://example.org/",
        description="",
        language="en",
        timezone="UTC",
        author=Author("Desk"),
        permalink="/{slug}/",
    )


def post(path: str, slug: str) -> Post:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    return Post(path, f"id-{slug}", slug, f"https://example.org/{slug}/", "T", when, when, (), "",
                "", ())  # fmt: skip


@pytest.mark.parametrize(
    ("given", "sizes", "expected", "problem"),
    [
        # relative to the post's page, length and type from the file
        (EnclosureSource("ep.mp3", None, None, 4), {"ep/ep.mp3": 10},
         ("https://example.org/ep/ep.mp3", 10, "audio/mpeg"), None),
        # a written type wins; a written length that is wrong gives way, with a warning
        (EnclosureSource("/m/ep.m4a", 99, "audio/x-m4a", 4), {"m/ep.m4a": 10},
         ("https://example.org/m/ep.m4a", 10, "audio/x-m4a"),
         ("warning", "'enclosure.length' is 99")),
        (EnclosureSource("/m/ep.mp3", None, None, 4), {}, None,
         ("error", "public/m/ep.mp3 not found")),
        (EnclosureSource("/m/ep.xyz", None, None, 4), {"m/ep.xyz": 3}, None,
         ("error", "give 'enclosure.type'")),
        (EnclosureSource("https://cdn.example.org/a.mp3", 7, "audio/mpeg", 4), {},
         ("https://cdn.example.org/a.mp3", 7, "audio/mpeg"), None),
        (EnclosureSource("https://cdn.example.org/a.mp3", None, "audio/mpeg", 4), {}, None,
         ("error", "needs 'length'")),
        (EnclosureSource("../../", None, None, 4), {}, None, ("error", "names no file")),
    ],
)  # fmt: skip
def test_attach_enclosures(
    given: EnclosureSource,
    sizes: dict[str, int],
    expected: tuple[str, int, str] | None,
    problem: tuple[str, str] | None,
) -> None:
    source = blank_source("ep.md", enclosure=given)
    done = attach_enclosures([post("ep.md", "ep")], {"ep.md": source}, load_site_config(),
                             sizes.get, "public")  # fmt: skip
    if expected is None:
        assert done.posts == (), "a post whose enclosure cannot be made whole is left out"
    else:
        (kept,) = done.posts
        assert kept.enclosure is not None
        assert (kept.enclosure.url, kept.enclosure.length, kept.enclosure.type) == expected
    if problem is None:
        assert done.problems == ()
    else:
        (found,) = done.problems
        assert (found.level, found.path, found.line) == (problem[0], "ep.md", 4)
        assert problem[1] in found.message


# -- through the pipeline, read back by feedparser ---------------------------------------------


def podcast_site(site: Site) -> None:
    site.configure(PODCAST)
    media(site, "media/ep1.mp3", MP3)
    media(site, "art/cover.jpg", b"\xff\xd8jpeg")
    episode(site, "ep1.md", "Episode one", "/media/ep1.mp3", duration="1:02:03")
    # Not on this site: its length and type are written.
    remote = "{url: 'https://cdn.example.org/ep2.mp3', length: 777, type: audio/mpeg}"
    episode(site, "ep2.md", "Episode two", remote, date="2024-05-02T10:00:00Z", duration="'45:00'")


def test_the_site_rss_feed_is_a_podcast_feedparser_reads(site: Site) -> None:
    podcast_site(site)
    result = build(site)
    assert result.published and result.exit_code == 0, (result.problems, result.feed_problems)

    rss = feedparser.parse(site.public / "rss.xml")
    assert not rss.bozo
    # feedparser 6 reads only yes/clean here; Apple and the W3C validator want true/false.
    channel = etree.parse(site.public / "rss.xml").getroot()[0]
    assert channel.findtext("{http://www.itunes.com/dtds/podcast-1.0.dtd}explicit") == "false"
    assert rss.feed.image.href == "https://example.org/art/cover.jpg"
    assert rss.feed.publisher_detail.email == "desk@example.org"
    assert [(t.term, t.scheme) for t in rss.feed.tags] == [
        ("News", "http://www.itunes.com/"),
        ("Tech News", "http://www.itunes.com/"),
    ]
    two, one = rss.entries
    assert one.itunes_duration == "1:02:03" and two.itunes_duration == "45:00"
    assert [(e.href, e.length, e.type) for e in one.enclosures] == [
        ("https://example.org/media/ep1.mp3", str(len(MP3)), "audio/mpeg")
    ]
    assert [(e.href, e.length, e.type) for e in two.enclosures] == [
        ("https://cdn.example.org/ep2.mp3", "777", "audio/mpeg")
    ]

    # Atom carries the enclosure as a link, JSON Feed as an attachment with its duration.
    atom = feedparser.parse(site.public / "atom.xml")
    assert [(e.href, e.length) for e in atom.entries[1].enclosures] == [
        ("https://example.org/media/ep1.mp3", str(len(MP3)))
    ]
    assert "itunes" not in (site.public / "atom.xml").read_text(encoding="utf-8")
    feed_json = (site.public / "feed.json").read_text(encoding="utf-8")
    assert '"duration_in_seconds": 3723' in feed_json
    assert f'"size_in_bytes": {len(MP3)}' in feed_json
    # Tag and author feeds are not podcasts.
    assert "itunes" not in (site.public / "authors/desk/rss.xml").read_text(encoding="utf-8")


def test_a_missing_enclosure_file_skips_the_post_with_its_file_and_line(site: Site) -> None:
    podcast_site(site)
    (site.public / "media/ep1.mp3").unlink()
    result = CliRunner().invoke(cli, ["build", "-c", str(site.config_path)])
    assert result.exit_code == 1, result.output
    assert "content/ep1.md:4: error: enclosure file public/media/ep1.mp3 not found" in result.output
    rss = feedparser.parse(site.public / "rss.xml")
    assert [e.title for e in rss.entries] == ["Episode two"]


def test_a_new_size_of_the_file_rebuilds_the_feeds_with_the_bytes_of_a_fresh_build(
    site: Site, tmp_path: Path
) -> None:
    podcast_site(site)
    build(site)
    before = site.outputs()
    again = build(site)
    assert again.built == 0, "nothing changed: nothing made again"
    media(site, "media/ep1.mp3", MP3 + b"more")
    changed = build(site)
    assert changed.built > 0
    after = site.outputs()
    assert after["rss.xml"] != before["rss.xml"]
    assert f'length="{len(MP3) + 4}"'.encode() in after["rss.xml"]

    (tmp_path / "twin").mkdir()
    twin = Site(tmp_path / "twin")
    shutil.rmtree(twin.root / "content")
    shutil.copytree(site.root / "content", twin.root / "content")
    shutil.copytree(site.public / "media", twin.public / "media")
    shutil.copytree(site.public / "art", twin.public / "art")
    twin.configure(PODCAST)
    (twin.root / ".feeds").mkdir()
    shutil.copy(site.root / ".feeds/state.json", twin.root / ".feeds/state.json")
    assert regenerate(load_config(twin.config_path), NOW, lock_wait=1, use_cache=False).published
    assert twin.outputs() == after
