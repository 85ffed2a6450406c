"""SPEC §3 Content: every file in tests/data/posts/ must read as the JSON beside it says.

``<case>.json`` holds either the expected Source fields (``title``, ``date`` as an ISO
string, ``authors`` as names or {name, email, url}, ``tags``, ``summary``, ``slug``,
``draft``, ``id``, ``link``, ``image``, ``enclosure`` (with the line of its url),
``duration`` (seconds), ``body`` or ``body_contains`` /
``body_excludes``, ``body_format``, ``warnings`` as codes or {code, line}) or
``{"error": {"line": N, "contains": "..."}}``. Fields left out must have their empty
value, so a case cannot pass by saying nothing. The site's zone is Europe/Madrid, so
naive dates show their offset.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from feeds.content import decode
from feeds.content.fields import title_from_path
from feeds.content.readers import READERS
from feeds.content.text import date_line
from feeds.exceptions import ContentError
from feeds.model import Source

POSTS = Path(__file__).parent / "data" / "posts"
TZ = ZoneInfo("Europe/Madrid")
CASES = sorted(p for p in POSTS.iterdir() if p.suffix != ".json")

EMPTY: dict[str, Any] = {
    "date": None,
    "updated": None,
    "authors": [],
    "summary": None,
    "tags": [],
    "slug": None,
    "draft": False,
    "id": None,
    "link": None,
    "image": None,
    "enclosure": None,
    "duration": None,
    "warnings": [],
}


def read_post(path: Path) -> Source:
    """Read a post file the way the pipeline does: decode, pick the reader, merge warnings."""
    text, warnings = decode(path.read_bytes(), path.name)
    source = READERS[path.suffix.lower()](text, path.name, TZ)
    return replace(source, warnings=(*warnings, *source.warnings))


def as_expected(source: Source, expected: dict[str, Any]) -> dict[str, Any]:
    """The Source in the JSON's vocabulary, limited to what a case can state."""
    wanted = expected.get("warnings", [])
    # A warning is compared by code, or by code and line where the case gives a line.
    with_line = {i for i, want in enumerate(wanted) if isinstance(want, dict)}
    warnings: list[object] = [
        {"code": w.code, "line": w.line} if i in with_line else w.code
        for i, w in enumerate(source.warnings)
    ]
    authors: list[object] = [
        {"name": a.name, "email": a.email, "url": a.url} if a.email or a.url else a.name
        for a in source.authors
    ]
    enclosure = source.enclosure
    return {
        "title": source.title,
        "date": source.date.isoformat() if source.date else None,
        "updated": source.updated.isoformat() if source.updated else None,
        "authors": authors,
        "summary": source.summary,
        "tags": list(source.tags),
        "slug": source.slug,
        "draft": source.draft,
        "id": source.id,
        "link": source.link,
        "image": source.image,
        "enclosure": dataclasses.asdict(enclosure) if enclosure else None,
        "duration": source.duration,
        "warnings": warnings,
    }


def test_every_case_has_its_expectation() -> None:
    stems = [p.stem for p in CASES]
    assert len(stems) == len(set(stems)), "two cases share a stem, so one JSON would serve both"
    assert not [p.name for p in CASES if not p.with_suffix(".json").exists()]
    assert not [p.name for p in POSTS.glob("*.json") if not any(c.stem == p.stem for c in CASES)], (
        "a JSON file without its post"
    )
    assert {p.suffix for p in CASES} == set(READERS), "every reader has cases"


@pytest.mark.parametrize("post", CASES, ids=lambda p: p.name)
def test_post_reads_as_expected(post: Path) -> None:
    expected = json.loads(post.with_suffix(".json").read_text(encoding="utf-8"))
    if "error" in expected:
        with pytest.raises(ContentError) as caught:
            read_post(post)
        assert caught.value.path == post.name
        assert caught.value.line == expected["error"]["line"]
        assert expected["error"]["contains"] in caught.value.message
        return
    source = read_post(post)
    assert source.path == post.name
    fields = {**EMPTY, **{k: v for k, v in expected.items() if not k.startswith("body")}}
    assert as_expected(source, fields) == fields
    if "body" in expected:
        assert source.body == expected["body"]
    for part in expected.get("body_contains", []):
        assert part in source.body
    for part in expected.get("body_excludes", []):
        assert part not in source.body
    default_format = "markdown" if post.suffix in (".md", ".markdown") else "html"
    assert source.body_format == expected.get("body_format", default_format)


@pytest.mark.parametrize("post", CASES, ids=lambda p: p.name)
def test_a_post_read_without_its_body_is_the_same_post_without_it(post: Path) -> None:
    """A run reads every post's metadata and renders only the shown ones: reading
    without the body gives the same fields, warnings and errors."""
    read = READERS[post.suffix.lower()]
    try:
        text, _ = decode(post.read_bytes(), post.name)
    except ContentError:
        return  # not text: no reader sees it
    try:
        whole = read(text, post.name, TZ)
    except ContentError as e:
        with pytest.raises(ContentError) as caught:
            read(text, post.name, TZ, with_body=False)
        assert (caught.value.line, caught.value.message) == (e.line, e.message)
        return
    assert read(text, post.name, TZ, with_body=False) == replace(whole, body="")


@pytest.mark.parametrize(
    ("line", "day"),
    [
        ("March 3, 2026", "2026-03-03"),
        ("3 March 2026", "2026-03-03"),
        ("Posted on Sept. 14th, 2025 by Ann Lee", "2025-09-14"),
        ("Published: 1 Jan 2024", "2024-01-01"),
        ("Monday, March 9, 2026", "2026-03-09"),
        ("Posted on Tue 10 March 2026", "2026-03-10"),
        ("2026-03-03", "2026-03-03"),
        ("In March 3, 2026 we met", None),
        ("March 2026", None),
        ("The first of May", None),
    ],
)
def test_a_saved_pages_date_line(line: str, day: str | None) -> None:
    assert date_line(line) == day


def test_saved_page_drops_share_buttons_and_footer() -> None:
    source = read_post(POSTS / "saved-page.txt")
    for chrome in ("Facebook", "Twitter", "Pinterest", "Site footer"):
        assert chrome not in source.body
    assert "Seeds are cheaper" in source.body, "a list that names no share service is content"


def test_share_list_without_known_names_still_ends_the_page() -> None:
    text = "Home / Ana / Title\n\nTitle\n\nBody.\n\n• Uno\n• Dos\nfooter\n"
    source = READERS[".txt"](text, "p.txt", TZ)
    assert source.body == "<p>Body.</p>"


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("2024-01-05-my_first-post.md", "My first post"),
        ("notes/trip-to-NASA.md", "Trip to NASA"),
        ("2024/06/bundle-post/index.md", "Bundle post"),
        ("2024-01-05.md", "2024-01-05"),
        ("2023-4-1-my-post.md", "My post"),
        ("___.txt", "___"),
    ],
)
def test_title_from_file_name(path: str, title: str) -> None:
    assert title_from_path(path) == title


@pytest.mark.parametrize(
    ("path", "day"),
    [
        ("2023-04-01-title.md", "2023-04-01"),
        # Jekyll takes a month or a day of one digit too.
        ("2023-4-1-title.md", "2023-04-01"),
        ("2023-4-01-title.md", "2023-04-01"),
        ("notes/2023-12-9_title.txt", "2023-12-09"),
        ("2023-4-1.md", "2023-04-01"),
        ("2023-13-1-title.md", None),
        ("2023-2-30-title.md", None),
        ("2023-4-title.md", None),
    ],
)
def test_a_post_without_a_date_is_dated_by_its_file_name(path: str, day: str | None) -> None:
    """As Jekyll dates its posts: at midnight in the site's time zone."""
    text = "Title: A post\n\nBody.\n" if path.endswith(".txt") else "---\ntitle: A\n---\nB.\n"
    source = READERS[path[path.rindex(".") :]](text, path, TZ)
    expected = None if day is None else datetime.fromisoformat(day).replace(tzinfo=TZ)
    assert source.date == expected


def test_not_utf8_warning_names_file_and_first_bad_line() -> None:
    text, problems = decode(b"ok\r\nok\rstill ok\n\xe9t\xe9\n", "posts/a.md")
    assert text == "ok\nok\nstill ok\nété\n"
    [problem] = problems
    assert (problem.level, problem.code, problem.path, problem.line) == (
        "warning",
        "not-utf8",
        "posts/a.md",
        4,
    )


def test_cp1252_gaps_do_not_crash_and_leave_no_mojibake() -> None:
    text, _ = decode(bytes([0x41, 0x81, 0x8D, 0x8F, 0x90, 0x9D, 0x80, 0x42]), "a.txt")
    assert text == "A\x81\x8d\x8f\x90\x9d€B"
    source = READERS[".txt"]("Title: T\n\n" + text, "a.txt", TZ)
    assert source.body == "<p>A€B</p>", "the C1 controls are removed from the post"


def test_utf8_text_is_never_read_as_cp1252() -> None:
    text, problems = decode("naïve — €".encode(), "a.md")
    assert (text, problems) == ("naïve — €", ())


@pytest.mark.parametrize(
    "data",
    [b"", b" \n\r\n\t", b"\xef\xbb\xbf", b"\xef\xbb\xbf  \r\n"],
    ids=["zero bytes", "whitespace", "BOM only", "BOM and whitespace"],
)
def test_empty_files_are_errors(data: bytes) -> None:
    with pytest.raises(ContentError, match="empty file"):
        decode(data, "a.md")


@pytest.mark.parametrize(
    "data",
    [
        b"text\x00more",
        bytes(range(32)) * 4,
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x02\x02",
    ],
    ids=["NUL", "controls", "GIF"],
)
def test_binary_files_are_errors(data: bytes) -> None:
    with pytest.raises(ContentError, match="binary file") as caught:
        decode(data, "a.md")
    assert caught.value.path == "a.md"


def test_readers_are_keyed_by_suffix() -> None:
    assert set(READERS) == {".md", ".markdown", ".txt", ".html", ".htm"}


def test_front_matter_must_start_on_the_first_line() -> None:
    source = READERS[".md"]("\n---\ntitle: Late\n---\nBody\n", "x.md", TZ)
    assert source.title == "X"
    assert [w.code for w in source.warnings] == ["no-title"]
    assert "title: Late" in source.body


def test_saved_page_breadcrumb_with_a_section_still_names_the_author() -> None:
    text = "Home / Ana Ruiz / Viajes / Lisboa\n\nLisboa en tres días\n\nCuerpo.\n\n  • Facebook\n"
    source = READERS[".txt"](text, "lisboa.txt", TZ)
    assert (source.title, source.authors[0].name, source.body) == (
        "Lisboa en tres días",
        "Ana Ruiz",
        "<p>Cuerpo.</p>",
    )


def test_one_person_named_twice_is_one_author() -> None:
    text = "---\nauthor: Ana\nauthors: [ana, {name: Luis, email: l@example.org}]\n---\n"
    source = READERS[".md"](text, "a.md", TZ)
    assert [a.name for a in source.authors] == ["Ana", "Luis"]


def test_an_unknown_key_names_the_known_one_it_most_likely_is() -> None:
    """A mistyped key says which it was probably meant to be; a key unlike any does not."""
    text = "---\ntitle: T\nTgas: [a]\nmood: calm\n---\n\nBody.\n"
    source = READERS[".md"](text, "p.md", TZ)
    messages = [w.message for w in source.warnings]
    assert messages[0].startswith("unknown key 'Tgas' ignored (did you mean 'tags'?) (known: ")
    assert messages[1].startswith("unknown key 'mood' ignored (known: ")


@pytest.mark.parametrize(
    ("declaration", "codec"),
    [
        ('<meta charset="koi8-r">', "koi8-r"),
        ("<meta http-equiv='Content-Type' content='text/html; charset=Shift_JIS'>", "shift_jis"),
        ("<META CHARSET=EUC-JP>", "euc-jp"),
    ],
)
def test_an_html_post_is_read_in_the_charset_it_declares(declaration: str, codec: str) -> None:
    """A page saved in a legacy charset it declares reads as a browser shows it, with a
    warning; the same bytes in a Markdown post are read as Windows-1252."""
    title = "Привет, мир" if codec == "koi8-r" else "日本語のページ"
    page = (
        f"<html><head>{declaration}<title>{title}</title></head><body><p>{title}</p></body></html>"
    )
    data = page.encode(codec)
    text, warnings = decode(data, "saved/page.html")
    assert title in text
    assert [w.code for w in warnings] == ["not-utf8"]
    assert "as its <meta> declares" in warnings[0].message
    assert READERS[".html"](text, "saved/page.html", TZ).title == title
    assert title not in decode(data, "post.md")[0]


@pytest.mark.parametrize(
    "declaration",
    [
        '<meta charset="iso-8859-1">',
        '<meta charset="no-such-charset">',
        "",
        # codecs Python knows that are no charsets: each was a traceback, and no feed
        *(f'<meta charset="{name}">' for name in ("rot13", "base64", "hex", "zlib", "undefined")),
    ],
)
def test_an_html_post_whose_declaration_does_not_help_is_read_as_windows_1252(
    declaration: str,
) -> None:
    """Latin-1 is read as Windows-1252 as browsers do; an unknown charset, none, or bytes
    that do not decode in the one declared fall back to Windows-1252 too."""
    data = f"<html><head>{declaration}<title>Caf\u00e9 \u2013 menu</title></head></html>".encode(
        "cp1252"
    )
    text, warnings = decode(data, "page.htm")
    assert "Caf\u00e9 \u2013 menu" in text
    assert "read as Windows-1252" in warnings[0].message


def test_an_html_post_s_links_lead_where_its_base_says() -> None:
    """A saved page's relative links and images resolve against its ``<base href>``; a
    relative base, or none, leaves them to be resolved against the post's page."""
    page = (
        '<html><head><base href="https://old.example.com/2019/05/"><title>T</title></head>'
        '<body><p><a href="next.html">next</a> <img src="/img/a.png" alt=""> '
        '<a href="https://elsewhere.example/">away</a></p></body></html>'
    )
    body = READERS[".html"](page, "p.html", TZ).body
    assert 'href="https://old.example.com/2019/05/next.html"' in body
    assert 'src="https://old.example.com/img/a.png"' in body
    assert 'href="https://elsewhere.example/"' in body
    relative = READERS[".html"](page.replace("https://old.example.com", ""), "p.html", TZ)
    assert 'href="next.html"' in relative.body
    # A base that is no URL at all (an IPv6 host left open) crashed every run.
    broken = READERS[".html"](page.replace("https://old.example.com", "http://[::1"), "p.html", TZ)
    assert 'href="next.html"' in broken.body


def test_names_and_tags_typed_in_decomposed_form_are_one_spelling() -> None:
    """``é`` as one character (NFC) or as ``e`` and a combining accent (NFD, as macOS
    file systems and some editors give it) is one author and one tag, shown in NFC."""
    composed, decomposed = "Jos\u00e9", "Jose\u0301"
    for text in (
        f"---\nauthor: {decomposed}\ntags: [Caf{decomposed[-2:]}]\n---\n",
        f"---\nauthors: [{{name: {decomposed}}}]\ntags: [Caf{decomposed[-2:]}]\n---\n",
    ):
        source = READERS[".md"](text, "a.md", TZ)
        assert [a.name for a in source.authors] == [composed]
        assert source.tags == ("Caf\u00e9",)


@pytest.mark.parametrize("with_body", [True, False])
def test_an_html_post_s_opening_heading_is_its_title_and_not_said_twice(with_body: bool) -> None:
    """Readers show an entry's title above its content: an ``<h1>`` that opens the body
    and says the title is left out of it, and names the post when ``<title>`` is absent."""
    read = READERS[".html"]
    head = "<title>Night  Trains</title>"
    same = head + "<article>\n <h1>night trains</h1> after <p>Body.</p></article>"
    source = read(same, "p.html", TZ, with_body=with_body)
    assert source.title == "Night Trains"
    if with_body:
        assert source.body == "after <p>Body.</p>"

    untitled = "<body><h1>Night <em>Trains</em></h1><p>Body.</p></body>"
    source = read(untitled, "p.html", TZ, with_body=with_body)
    assert (source.title, source.warnings) == ("Night Trains", ())
    if with_body:
        assert source.body == "<p>Body.</p>"

    # A heading that says something else, or that does not open the body, stays.
    for page in (
        "<title>Night Trains</title><body><h1>Day Trains</h1><p>Body.</p></body>",
        "<title>Night Trains</title><body><p>Intro.</p><h1>Night Trains</h1></body>",
        "<title>Night Trains</title><body>Intro. <h1>Night Trains</h1></body>",
    ):
        source = read(page, "p.html", TZ, with_body=with_body)
        assert source.title == "Night Trains"
        if with_body:
            assert "<h1>" in source.body


@pytest.mark.parametrize(
    ("written", "name", "email"),
    [
        ("Ann Lee <ann@example.org>", "Ann Lee", "ann@example.org"),
        ("Ann Lee <mailto:ann@example.org>", "Ann Lee", "ann@example.org"),
        ("ann@example.org (Ann Lee)", "Ann Lee", "ann@example.org"),
        ("Ann Lee (ann@example.org)", "Ann Lee", "ann@example.org"),
        ("<ann@example.org>", "ann@example.org", "ann@example.org"),
        ("mailto:ann@example.org", "ann@example.org", "ann@example.org"),
        # An address alone is the author's address, shown as the name too (Atom needs one).
        ("ann@example.org", "ann@example.org", "ann@example.org"),
        ("Ann Lee (Editor)", "Ann Lee (Editor)", None),
    ],
)
def test_an_author_written_with_an_address_is_a_name_and_an_address(
    written: str, name: str, email: str | None
) -> None:
    """feed readers (feedparser) move an address out of an author's name: a name written
    with one is split as they split it, so they show the name that was published."""
    source = READERS[".md"](f'---\nauthor: "{written}"\n---\n', "a.md", TZ)
    assert [(a.name, a.email) for a in source.authors] == [(name, email)]


@pytest.mark.parametrize(
    "front",
    [
        "author: ann@example.org",
        "author: {email: ann@example.org}",
        "authors: [{email: ann@example.org, url: 'https://ann.example.org/'}]",
        "Author: ann@example.org",
    ],
)
def test_an_author_known_by_an_address_alone_is_shown_by_it(front: str) -> None:
    """In every form a post may give it (the text reader's header too)."""
    if front.startswith("Author:"):
        source = READERS[".txt"](f"{front}\n\nBody.\n", "a.txt", TZ)
    else:
        source = READERS[".md"](f"---\n{front}\n---\n", "a.md", TZ)
    [author] = source.authors
    assert (author.name, author.email) == ("ann@example.org", "ann@example.org")


@pytest.mark.parametrize(
    "front", ['author: "Ann ann@example.org"', 'authors: [{name: "Ann ann@example.org"}]']
)
def test_an_address_inside_an_author_s_name_is_an_error_at_its_line(front: str) -> None:
    with pytest.raises(ContentError) as caught:
        READERS[".md"](f"---\ntitle: T\n{front}\n---\n", "a.md", TZ)
    assert caught.value.line == 3
    assert "readers take 'ann@example.org' in it for an e-mail address" in caught.value.message


def test_a_post_in_a_drafts_folder_is_a_draft() -> None:
    """Jekyll keeps unpublished posts in ``_drafts``: a site moved over keeps them back."""
    text = "---\ntitle: T\n---\n\nBody.\n"
    assert READERS[".md"](text, "_drafts/t.md", TZ).draft
    assert READERS[".md"](text, "blog/_drafts/t.md", TZ).draft
    assert not READERS[".md"](text, "blog/_drafts.md", TZ).draft
    assert not READERS[".md"](text, "blog/drafts/t.md", TZ).draft


@pytest.mark.parametrize(
    ("front", "image", "warned"),
    [
        ("image: /img/a.png\n", "/img/a.png", []),
        # jekyll-seo-tag's form: its alt, width and height have no place in a feed.
        ('image: {path: /img/a.png, alt: "A", width: 640, height: 480}\n', "/img/a.png", []),
        ("image:\n  url: https://cdn.example.org/b.jpg\n", "https://cdn.example.org/b.jpg", []),
        ("image:\n  path: b.jpg\n  caption: B\n  twitter: x\n", "b.jpg", ["caption, twitter"]),
    ],
)
def test_an_image_is_a_url_or_a_mapping_with_its_path_or_url(
    front: str, image: str, warned: list[str]
) -> None:
    text = f"---\ntitle: T\n{front}---\nBody.\n"
    source = READERS[".md"](text, "p.md", TZ)
    assert source.image == image
    problems = [(p.code, p.line) for p in source.warnings]
    assert problems == [("unknown-key", 3)] * len(warned)
    assert all(w in p.message for w, p in zip(warned, source.warnings, strict=True))


@pytest.mark.parametrize(
    ("front", "line", "fragment"),
    [
        ("image:\n  alt: A\n", 3, "'image' must be a URL, or a mapping with 'path' or 'url'"),
        ("image: {path: /a.png, url: /b.png}\n", 3, "with 'path' or 'url'"),
        ("image:\n  path: javascript:alert(1)\n", 4, "'image.path' must be an http(s) URL"),
        ("image:\n  path: [a, b]\n", 4, "'image.path' must be text"),
        ("image: [a.png]\n", 3, "'image' must be text"),
    ],
)
def test_an_image_that_is_not_one_is_an_error_at_its_line(
    front: str, line: int, fragment: str
) -> None:
    with pytest.raises(ContentError) as caught:
        READERS[".md"](f"---\ntitle: T\n{front}---\nBody.\n", "p.md", TZ)
    assert caught.value.line == line
    assert fragment in caught.value.message


# -- what one post may ask of a run: bounds ------------------------------------------------


def test_front_matter_over_its_limit_is_an_error_at_line_1() -> None:
    # A 9.6 MB YAML list took 370 s and 3.3 GB to read.
    front = "title: Big\nx: [" + ", ".join(["[1, 2, {a: b}]"] * 6000) + "]\n"
    with pytest.raises(ContentError, match="front matter over 65,536 characters") as e:
        READERS[".md"](f"---\n{front}---\nBody.\n", "big.md", TZ)
    assert e.value.line == 1


@pytest.mark.parametrize(
    "front",
    [
        "author: " + "A" * 201,
        "author: {name: " + "A" * 201 + "}",
        "authors: [x, '" + "a@" * 101 + "']",
    ],
)
def test_an_author_name_over_200_characters_is_an_error_at_its_line(front: str) -> None:
    # The address patterns took minutes over a long name (220 s for 160,000 characters).
    with pytest.raises(ContentError, match="is over 200 characters") as e:
        READERS[".md"](f"---\ntitle: T\n{front}\n---\nBody.\n", "a.md", TZ)
    assert e.value.line == 3


def test_tags_over_200_characters_and_authors_past_100_are_left_out_with_a_warning() -> None:
    names = ", ".join(f"Name {n}" for n in range(150))
    tags = ", ".join(["fine", "t" * 201, "u" * 300])
    text = f"---\ntitle: T\nauthors: [{names}]\ntags: [{tags}]\n---\nBody.\n"
    source = READERS[".md"](text, "a.md", TZ)
    assert [a.name for a in source.authors] == [f"Name {n}" for n in range(100)]
    assert source.tags == ("fine",)
    assert [(w.code, w.line) for w in source.warnings] == [
        ("too-many-authors", 3),
        ("tag-too-long", 4),
    ]
    assert source.warnings[1].message.startswith("2 tag(s) over 200 characters left out")


def test_unknown_keys_past_ten_are_counted_in_one_warning() -> None:
    keys = "".join(f"k{n}: v\n" for n in range(300))
    source = READERS[".md"](f"---\ntitle: T\n{keys}---\nBody.\n", "a.md", TZ)
    assert [w.code for w in source.warnings] == ["unknown-key"] * 11
    assert (source.warnings[-1].message, source.warnings[-1].line) == (
        "290 more unknown keys ignored",
        13,
    )


def test_a_summary_over_its_limit_is_cut_with_a_warning() -> None:
    # An HTML page's description of 8.8 MB took 98 s to render for its entries.
    page = f'<html><head><title>T</title><meta name="description" content="{"s" * 30000}">'
    source = READERS[".html"](page + "</head><body><p>x</p></body></html>", "p.html", TZ)
    assert source.summary == "s" * 20000
    assert [w.code for w in source.warnings] == ["summary-too-long"]


def test_a_first_line_too_long_for_a_breadcrumb_is_text() -> None:
    # Matching one of 100,000 spaces as a breadcrumb took minutes: no line that long is one.
    text = "Home / a" + " " * 100_000 + "b / T\nT\n\npara\n"
    source = READERS[".txt"](text, "slow.txt", TZ)
    assert (source.title, source.authors) == ("Slow", ())
    assert "Home / a" in source.body
