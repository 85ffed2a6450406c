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
from feeds.media import attach_enclosures, cover_problems, image_size, local_path
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
        (EnclosureSource("/m/ep.m4a", 99, "audio/aac", 4), {"m/ep.m4a": 10},
         ("https://example.org/m/ep.m4a", 10, "audio/aac"),
         ("warning", "'enclosure.length' is 99")),
        # published, with a warning: an empty file (an upload cut short), a type no
        # registry knows (podcast apps may not play it)
        (EnclosureSource("/m/ep.mp3", None, None, 4), {"m/ep.mp3": 0},
         ("https://example.org/m/ep.mp3", 0, "audio/mpeg"),
         ("warning", "public/m/ep.mp3 is empty (0 bytes)")),
        (EnclosureSource("https://cdn.example.org/a.mp3", 7, "audio/MP3", 4), {},
         ("https://cdn.example.org/a.mp3", 7, "audio/MP3"),
         ("warning", "'enclosure.type' audio/MP3 is not a registered type; podcast apps "
                     "expect audio/mpeg")),
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


def png(width: int, height: int) -> bytes:
    """The first bytes of a PNG image: signature and header chunk."""
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + header + b"\x00" * 4


def jpeg(width: int, height: int, frame: int = 0xC0) -> bytes:
    """The first bytes of a JPEG image: a JFIF block, an Exif-sized block, a frame header."""
    jfif = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    exif = b"\xff\xe1" + (40002).to_bytes(2, "big") + b"Exif\x00\x00" + bytes(39994)
    sof = bytes([0xFF, frame, 0x00, 0x11, 0x08]) + height.to_bytes(2, "big")
    return b"\xff\xd8" + jfif + exif + b"\xff\xff" + sof + width.to_bytes(2, "big") + bytes(12)


@pytest.mark.parametrize(
    ("head", "size"),
    [
        (png(1400, 1400), (1400, 1400)),
        (png(800, 200), (800, 200)),
        (jpeg(3000, 2999), (3000, 2999)),
        (jpeg(1600, 1600, frame=0xC2), (1600, 1600)),  # progressive
        (jpeg(1600, 1600)[:200], None),  # its size lies further on
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"", None),
    ],
)
def test_image_size_reads_png_and_jpeg_headers(head: bytes, size: tuple[int, int] | None) -> None:
    assert image_size(head) == size


@pytest.mark.parametrize(
    ("head", "warning"),
    [
        (png(1400, 1400), None),
        (jpeg(3000, 3000), None),
        (None, "public/art/c.jpg not found"),
        (png(800, 200), "is 800x200 pixels; podcast directories ask for a square of 1,400 to"),
        (png(1000, 1000), "is 1000x1000 pixels"),
        (b"GIF89a", "public/art/c.jpg is not a JPEG or PNG image"),
    ],
)
def test_cover_art_apple_would_refuse_is_warned_of(head: bytes | None, warning: str | None) -> None:
    problems = cover_problems("https://example.org/art/c.jpg", "art/c.jpg", head, "public")
    if warning is None:
        assert problems == []
    else:
        (problem,) = problems
        assert (problem.level, problem.code) == ("warning", "podcast-image")
        assert problem.message.startswith("'podcast.image' https://example.org/art/c.jpg: ")
        assert warning in problem.message


def podcast_site(site: Site) -> None:
    site.configure(PODCAST)
    media(site, "media/ep1.mp3", MP3)
    media(site, "art/cover.jpg", jpeg(1400, 1400))
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


@pytest.mark.parametrize(
    ("image", "href"),
    [
        # feedgen left out, without a word, a URL not ending in lower-case .jpg or .png
        ("/art/Cover.JPG", "https://example.org/art/Cover.JPG"),
        ("/art/cover.jpeg", "https://example.org/art/cover.jpeg"),
        ("https://cdn.example.net/cover.jpg?v=2", "https://cdn.example.net/cover.jpg?v=2"),
        # written as a browser sends it: the feed was invalid, or failed every run
        ("/art/capa-episódio.png", "https://example.org/art/capa-epis%C3%B3dio.png"),
        ("/art/my cover.png", "https://example.org/art/my%20cover.png"),
        ("https://bücher.example/c.png", "https://xn--bcher-kva.example/c.png"),
    ],
)
def test_cover_art_is_in_the_feed_as_written_by_a_browser(
    site: Site, image: str, href: str
) -> None:
    podcast_site(site)
    site.configure(PODCAST.replace("/art/cover.jpg", f'"{image}"'))
    local = image.startswith("/")
    if local:
        shutil.move(site.public / "art/cover.jpg", site.public / image[1:])
    result = build(site)
    assert result.exit_code == 0 and result.feed_problems == (), result.feed_problems
    assert [p.code for p in result.problems] == []
    channel = etree.parse(site.public / "rss.xml").getroot()[0]
    (found,) = channel.findall("{http://www.itunes.com/dtds/podcast-1.0.dtd}image")
    assert found.get("href") == href
    assert feedparser.parse(site.public / "rss.xml").feed.image.href == href


def test_cover_art_missing_from_the_site_is_warned_of(site: Site) -> None:
    podcast_site(site)
    (site.public / "art/cover.jpg").unlink()
    result = CliRunner().invoke(cli, ["build", "-c", str(site.config_path)])
    assert result.exit_code == 0, result.output
    assert (
        "warning: 'podcast.image' https://example.org/art/cover.jpg: public/art/cover.jpg not "
        "found (podcast apps would show no cover art" in result.output
    )


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
