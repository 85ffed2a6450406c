"""The HTTP app: validators, conditional requests, encodings, types, refusals."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from feeds import server
from feeds.server import FeedApp, load_folder, make_resource

MODIFIED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
RSS = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n<rss version=\"2.0\">"
    + b"<!-- x -->" * 60
    + b"</rss>"
)


def app_with(files: dict[str, bytes]) -> FeedApp:
    app = FeedApp(max_age=900)
    app.swap({name: make_resource(name, data, MODIFIED, 900) for name, data in files.items()})
    return app


def request(
    app: FeedApp, path: str, method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
    }
    status, hdrs, body = app.respond(scope)
    return status, {k.decode(): v.decode() for k, v in hdrs}, body


@pytest.fixture
def app() -> FeedApp:
    return app_with(
        {
            "rss.xml": RSS,
            "atom.xml": b"<feed/>",
            "feed.json": b"{}",
            "index.html": b"<!doctype html><title>x</title>",
            "feeds.opml": b"<opml/>",
            "tags/x/rss.xml": RSS,
        }
    )


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/tags/x/rss.xml", "application/rss+xml; charset=utf-8"),
    ],
)
def test_content_types(app: FeedApp, path: str, content_type: str) -> None:
    status, headers, _ = request(app, path)
    assert status == 200
    assert headers["content-type"] == content_type


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("images/a.svg", "image/svg+xml"),
        ("images/a.gif", "image/gif"),
        ("images/a.jpg", "image/jpeg"),
        ("favicon.ico", "image/vnd.microsoft.icon"),
        ("style.css", "text/css; charset=utf-8"),
        ("page.htm", "text/html; charset=utf-8"),
        ("media/ep1.mp3", "audio/mpeg"),
        ("media/EP029.MP3", "audio/mpeg"),  # as the feed's enclosure type says
        ("images/Cover.JPG", "image/jpeg"),
        ("notes.unknown", "application/octet-stream"),
    ],
)
def test_files_beside_the_feeds_have_their_types(name: str, content_type: str) -> None:
    """What a site keeps beside its feeds (images its posts show, media, an icon)."""
    status, headers, _ = request(app_with({name: b"x" * 10}), f"/{name}")
    assert (status, headers["content-type"]) == (200, content_type)


def test_a_site_under_a_path_is_served_under_it_too() -> None:
    """Under ``base_url: https://example.org/blog/`` every self link names /blog/: a
    request for it, direct or passed on by a proxy, is answered as one without it."""
    app = app_with({"rss.xml": b"<rss/>", "index.html": b"<html></html>", "blog/x.mp3": b"x"})
    app.prefix = "/blog/"
    for path in ("/blog/rss.xml", "/rss.xml"):
        assert request(app, path)[::2] == (200, b"<rss/>"), path
    for path in ("/blog/", "/blog", "/"):
        assert request(app, path)[::2] == (200, b"<html></html>"), path
    assert request(app, "/blog/blog/x.mp3")[::2] == (200, b"x")
    assert request(app, "/blog/healthz")[0] == 503  # no run yet
    assert request(app, "/other/rss.xml")[0] == 404
    assert request(app, "/blogs/rss.xml")[0] == 404


def test_validators_are_stable_and_strong(app: FeedApp) -> None:
    _, first, body = request(app, "/rss.xml")
    assert body == RSS
    assert first["etag"].startswith('"') and not first["etag"].startswith("W/")
    assert first["last-modified"] == "Wed, 01 May 2024 12:00:00 GMT"
    assert first["cache-control"] == "max-age=900"
    assert first["vary"] == "Accept-Encoding"
    _, again, _ = request(app, "/rss.xml")
    assert again["etag"] == first["etag"]


def test_if_none_match_gives_304_with_validators_and_no_body(app: FeedApp) -> None:
    etag = request(app, "/rss.xml")[1]["etag"]
    status, headers, body = request(app, "/rss.xml", if_none_match=f'"other", {etag}')
    assert (status, body) == (304, b"")
    assert headers["etag"] == etag
    assert headers["cache-control"] == "max-age=900" and headers["vary"] == "Accept-Encoding"
    assert "content-length" not in headers


def test_if_none_match_is_checked_first(app: FeedApp) -> None:
    # A stale tag with a fresh date must still get the new bytes.
    future = "Fri, 01 Jan 2100 00:00:00 GMT"
    status, _, _ = request(app, "/rss.xml", if_none_match='"stale"', if_modified_since=future)
    assert status == 200


def test_empty_etag_never_matches(app: FeedApp) -> None:
    assert request(app, "/rss.xml", if_none_match='""')[0] == 200
    assert request(app, "/rss.xml", if_none_match="*")[0] == 304


@pytest.mark.parametrize(
    ("since", "status"),
    [
        ("Wed, 01 May 2024 12:00:00 GMT", 304),
        ("Fri, 01 Jan 2100 00:00:00 GMT", 304),
        ("Tue, 30 Apr 2024 12:00:00 GMT", 200),
        ("Wed, 01 Jan 1800 00:00:00 GMT", 200),
        ("not a date", 200),
    ],
)
def test_if_modified_since(app: FeedApp, since: str, status: int) -> None:
    assert request(app, "/rss.xml", if_modified_since=since)[0] == status


def test_gzip_has_its_own_etag(app: FeedApp) -> None:
    _, plain, _ = request(app, "/rss.xml")
    status, packed, body = request(app, "/rss.xml", accept_encoding="br, gzip;q=0.8")
    assert status == 200
    assert packed["content-encoding"] == "gzip"
    assert gzip.decompress(body) == RSS
    assert packed["etag"] != plain["etag"]
    assert request(app, "/rss.xml", accept_encoding="gzip;q=0")[1].get("content-encoding") is None
    status, _, _ = request(app, "/rss.xml", accept_encoding="gzip", if_none_match=plain["etag"])
    assert status == 200  # the identity tag does not validate the gzip representation
    assert request(app, "/rss.xml", accept_encoding="gzip", if_none_match=packed["etag"])[0] == 304


def test_head_has_headers_and_no_body(app: FeedApp) -> None:
    status, headers, body = request(app, "/rss.xml", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(RSS))


def test_other_methods_get_405_with_allow(app: FeedApp) -> None:
    status, headers, _ = request(app, "/rss.xml", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    ["/../etc/passwd", "/tags/../../config.yaml", "/%2e%2e/x", "/.feeds/state.json", "rss.xml"],
)
def test_only_published_files_are_served(app: FeedApp, path: str) -> None:
    assert request(app, path)[0] == 404


def test_oversized_requests(app: FeedApp) -> None:
    assert request(app, "/" + "a" * 9000)[0] == 414
    assert request(app, "/rss.xml", x_big="b" * 17000)[0] == 431


def test_removed_feed_is_gone(app: FeedApp) -> None:
    app.swap({k: v for k, v in app.resources.items() if not k.startswith("tags/")})
    assert request(app, "/tags/x/rss.xml")[0] == 410
    assert request(app, "/tags/never/rss.xml")[0] == 404


def test_healthz(app: FeedApp) -> None:
    assert request(app, "/healthz")[0] == 503
    app.report(True, {"result": "published", "posts": 3})
    status, headers, body = request(app, "/healthz")
    assert status == 200 and b'"posts": 3' in body
    assert headers["cache-control"] == "no-store"
    app.report(False, {"result": "failed"})
    assert request(app, "/healthz")[0] == 503


def test_load_folder_keeps_validators_of_unchanged_files(tmp_path: Path) -> None:
    (tmp_path / "rss.xml").write_bytes(RSS)
    (tmp_path / ".hidden").write_bytes(b"secret")
    first = load_folder(tmp_path, 900)
    assert set(first) == {"rss.xml"}
    expected = format_datetime(
        datetime.fromtimestamp(int((tmp_path / "rss.xml").stat().st_mtime), UTC), usegmt=True
    )
    assert (b"last-modified", expected.encode()) in first["rss.xml"].identity.ok
    again = load_folder(tmp_path, 900, first)
    assert again["rss.xml"] is first["rss.xml"]
    (tmp_path / "rss.xml").write_bytes(RSS + b"\n")
    assert (
        load_folder(tmp_path, 900, first)["rss.xml"].identity.etag != first["rss.xml"].identity.etag
    )


def test_complete_archive_pages_may_be_cached_for_a_year() -> None:
    head = b'<feed xmlns:fh="http://purl.org/syndication/history/1.0"><link rel="current"/>'
    complete = head + b"<fh:archive/><entry><title>x</title></entry></feed>"
    still_open = head + b"<entry><title>x <fh:archive/> in text</title></entry></feed>"
    modified = datetime(2024, 1, 1, tzinfo=UTC)
    controls = {
        name: dict(make_resource(name, data, modified, 900).identity.ok)[b"cache-control"]
        for name, data in (
            ("archive/1/atom.xml", complete),
            ("archive/2/atom.xml", still_open),
            ("notes/page.xml", complete),  # not a feed file: its suffix's type and max-age
        )
    }
    assert controls == {
        "archive/1/atom.xml": b"public, max-age=31536000, immutable",
        "archive/2/atom.xml": b"max-age=900",
        "notes/page.xml": b"max-age=900",
    }


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # Firefox
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
            "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
            True,
        ),  # Chromium
        ("text/html", True),
        ("application/atom+xml,application/rss+xml,application/xml;q=0.9,*/*;q=0.1", False),
        # SimplePie (FreshRSS, WordPress): HTML named, below the feed types
        (
            "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
            "application/xml;q=0.9, text/xml;q=0.8, text/html;q=0.7, unknown/unknown;q=0.1, "
            "application/unknown;q=0.1, */*;q=0.1",
            False,
        ),
        ("text/html;q=0, */*", False),
        ("application/rss+xml, text/html", False),
        ("*/*", False),
        ("", False),
        ("text/html;q=x", False),
    ],
)
def test_a_styled_feed_goes_to_browsers_only(accept: str, html: bool) -> None:
    """HTML only where it is preferred to every feed type named: readers that name HTML
    below them get the feed's own type."""
    assert server._wants_html(accept.encode()) is html


EPISODE = bytes(range(256)) * 4  # 1,024 bytes, not worth less gzipped: identity only


@pytest.mark.parametrize(
    ("range_", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=1000-5000", 1000, 1023),
        ("BYTES = 7-7", 7, 7),
        ("bytes=-5000", 0, 1023),
        # numbers Python would not read from text (over 4,300 digits): a 500 before
        ("bytes=0-" + "9" * 5000, 0, 1023),
        ("bytes=-" + "9" * 5000, 0, 1023),
        ("bytes=" + "0" * 5000 + "7-" + "0" * 5000 + "9", 7, 9),
    ],
)
def test_a_byte_range_is_answered_206_with_those_bytes(range_: str, start: int, end: int) -> None:
    """A podcast app seeks in an episode: one range, 206, Content-Range; HEAD alike."""
    app = app_with({"media/ep1.mp3": EPISODE})
    status, headers, body = request(app, "/media/ep1.mp3", Range=range_)
    assert status == 206
    assert body == EPISODE[start : end + 1]
    assert headers["content-range"] == f"bytes {start}-{end}/1024"
    assert headers["content-length"] == str(end + 1 - start)
    assert headers["accept-ranges"] == "bytes" and headers["content-type"] == "audio/mpeg"
    assert request(app, "/media/ep1.mp3", "HEAD", Range=range_)[:2] == (206, headers)


@pytest.mark.parametrize(
    "range_", ["bytes=1024-", "bytes=5000-6000", "bytes=-0", "bytes=" + "9" * 5000 + "-"]
)
def test_a_range_past_the_end_is_answered_416(range_: str) -> None:
    status, headers, _ = request(
        app_with({"media/ep1.mp3": EPISODE}), "/media/ep1.mp3", Range=range_
    )
    assert (status, headers["content-range"]) == (416, "bytes */1024")


@pytest.mark.parametrize(
    "range_", ["bytes=0-1,5-6", "bytes=9-2", "items=0-1", "bytes=", "bytes=a-b", "bytes=-", "0-1"]
)
def test_a_range_it_does_not_take_is_answered_whole(range_: str) -> None:
    """Several ranges, another unit, bad syntax: a server may ignore a Range."""
    status, headers, body = request(
        app_with({"media/ep1.mp3": EPISODE}), "/media/ep1.mp3", Range=range_
    )
    assert (status, body, headers["accept-ranges"]) == (200, EPISODE, "bytes")


def test_if_range_holds_for_this_very_file_only() -> None:
    """If-Range with the file's ETag or Last-Modified: the range; with another: all of it.
    A matching If-None-Match comes first (304); a range of a feed is of its plain bytes,
    whatever encodings the client takes."""
    app = app_with({"media/ep1.mp3": EPISODE, "rss.xml": RSS * 20})
    whole = request(app, "/media/ep1.mp3")[1]
    etag, date = whole["etag"], whole["last-modified"]
    for value, status in ((etag, 206), (date, 206), ('"other"', 200), (f"W/{etag}", 200),
                          ("Tue, 01 Jan 2019 00:00:00 GMT", 200), ("soon", 200),
                          ("Mon, 01 Jan 99999999999999999999 00:00:00 GMT", 200)):  # fmt: skip
        assert request(app, "/media/ep1.mp3", Range="bytes=0-9", If_Range=value)[0] == status
    assert request(app, "/media/ep1.mp3", Range="bytes=0-9", If_None_Match=etag)[0] == 304
    status, headers, body = request(app, "/rss.xml", Range="bytes=0-4", Accept_Encoding="gzip")
    assert (status, body) == (206, (RSS * 20)[:5]) and "content-encoding" not in headers


def test_an_if_modified_since_past_every_year_is_ignored() -> None:
    # parsedate overflowed on it: a 500, and a traceback in the log per request.
    app = app_with({"rss.xml": RSS})
    huge = "Mon, 01 Jan 99999999999999999999999 00:00:00 GMT"
    assert request(app, "/rss.xml", If_Modified_Since=huge)[0] == 200
