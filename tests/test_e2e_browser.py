"""End to end: a person opening the feeds in a browser. The real `feeds serve` with
``feeds.stylesheet: true``, opened over loopback by headless Chromium: its DOM and an OCR
(tesseract) of its screenshot must show the entries, on the RSS and Atom feeds (through
feed.xsl) and on index.html. Chromium and tesseract missing is a failure: CI installs them.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from feeds.validate import validate_feed
from tests.conftest import Site
from tests.service import Service
from tests.test_e2e_readers import day, post, require, start, stopped_cleanly

#: titles in plain words OCR reads without doubt
TITLES = ("Harbour Lights Return", "Seven Tides Almanac", "Winter Ferry Timetable")
#: what feed readers send (feedparser's Accept): they must still get the feed types
READER_ACCEPT = "application/atom+xml,application/rss+xml,application/xml;q=0.9,*/*;q=0.1"


@pytest.fixture(scope="module")
def styled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    site = Site(tmp_path_factory.mktemp("browser"))
    for n, title in enumerate(TITLES, 1):
        post(site, f"post-{n}", title, day(n), tags="[harbour]")
    started: list[Service] = []
    with stopped_cleanly(started):
        yield start(site, started, "1m", extra="feeds:\n  stylesheet: true\n")


def chromium(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [require("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={folder / 'profile'}", "--window-size=1000,1200", *args],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z]+", text.lower()))


@pytest.mark.parametrize("path", ["/rss.xml", "/tags/harbour/atom.xml", "/"])
def test_a_browser_shows_the_entries(styled: Service, path: str, tmp_path: Path) -> None:
    url = styled.url(path)
    dom = chromium(tmp_path, "--dump-dom", url)
    for title in TITLES:
        assert f">{title}</a>" in dom, f"{title!r} is not a link on the page Chromium built"
    if path != "/":
        assert "This is a web feed" in dom, "the subscribe hint"
        assert "https://example.org/" in dom, "the feed's own address, to copy"

    shot = tmp_path / "page.png"
    chromium(tmp_path, f"--screenshot={shot}", url)
    ocr = subprocess.run(
        [require("tesseract"), str(shot), "-"], capture_output=True, text=True, timeout=60
    )
    assert ocr.returncode == 0, ocr.stderr
    seen = words(ocr.stdout)
    for title in TITLES:
        assert words(title) in seen, f"{title!r} not seen in the screenshot:\n{ocr.stdout}"


def test_readers_still_get_the_feed_types_and_the_feeds_stay_valid(styled: Service) -> None:
    xsl = styled.get("/feed.xsl")
    assert (xsl.status, xsl.headers["content-type"]) == (200, "text/xsl; charset=utf-8")
    for path, kind in (("/rss.xml", "rss"), ("/tags/harbour/atom.xml", "atom")):
        feed = styled.get(path, Accept=READER_ACCEPT)
        browser = styled.get(path, Accept="text/html,application/xhtml+xml,*/*;q=0.8")
        assert feed.headers["content-type"] == f"application/{kind}+xml; charset=utf-8"
        assert browser.headers["content-type"] == "application/xml; charset=utf-8"
        assert feed.body == browser.body, "one document, two types"
        assert feed.headers["etag"] != browser.headers["etag"]
        assert feed.headers["vary"] == browser.headers["vary"] == "Accept-Encoding, Accept"
        href = "feed.xsl" if path == "/rss.xml" else "../../feed.xsl"
        assert f'<?xml-stylesheet type="text/xsl" href="{href}"?>'.encode() in feed.body
        url = "https://example.org" + path
        assert [p for p in validate_feed(feed.body, url, fmt=kind) if p.level == "error"] == []
