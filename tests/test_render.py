"""SPEC §3 Content HTML: sanitized, XML-clean, URLs absolute; summaries cut at a word."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import render
from feeds.model import Source
from feeds.render import (
    absolute_url,
    body_html,
    clean_body,
    clean_html,
    clean_text,
    strip_illegal,
    summarize,
)
from tests.conftest import blank_source

REPO = Path(__file__).resolve().parent.parent

POST = "https://example.org/blog/2024/post/"


def source(body: str, body_format: str) -> Source:
    return blank_source(title="T", body=body, body_format=body_format)


# --- body_html -------------------------------------------------------------------------


def test_markdown_is_rendered_as_commonmark_with_raw_html() -> None:
    html = body_html(source("# Hi\n\n*em* <kbd>K</kbd>\n\n[a](b.html)\n", "markdown"))
    assert html == ('<h1>Hi</h1>\n<p><em>em</em> <kbd>K</kbd></p>\n<p><a href="b.html">a</a></p>\n')


def test_markdown_raw_html_is_sanitized_afterwards() -> None:
    rendered = body_html(source('<script>alert(1)</script>\n\n<img src=x onerror="y">', "markdown"))
    assert "<script>" in rendered, "rendering keeps raw HTML; clean_html is what removes it"
    cleaned = clean_html(rendered, POST)
    assert "script" not in cleaned and "alert" not in cleaned and "onerror" not in cleaned


@pytest.mark.parametrize("fmt", ["html", "text"])
def test_html_and_text_bodies_pass_through(fmt: str) -> None:
    assert body_html(source("<p>as is</p>", fmt)) == "<p>as is</p>"


# --- sanitizing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a<script>alert('x')</script>b</p>", "<p>ab</p>"),
        ("<style>p { color: red }</style><p>x</p>", "<p>x</p>"),
        # A frame is a link to what it showed.
        (
            '<iframe src="https://evil.example/">fallback</iframe><p>x</p>',
            '<p><a href="https://evil.example/">https://evil.example/</a></p><p>x</p>',
        ),
        (
            '<iframe src="/embed/v1" title="Tide &amp; wind"></iframe>',
            '<p><a href="https://example.org/embed/v1">Tide &amp; wind</a></p>',
        ),
        ('<iframe src="javascript:alert(1)"></iframe>', "<p><a>javascript:alert(1)</a></p>"),
        ("<iframe></iframe><p>x</p>", "<p>x</p>"),
        # A picture a lazy-loading script would load is the picture.
        (
            '<img src="data:image/gif;base64,R0lGOD" data-src="p.jpg" alt="P">',
            f'<img src="{POST}p.jpg" alt="P">',
        ),
        ('<img src="a.png" data-src="p.jpg">', f'<img src="{POST}a.png">'),
        ("<img data-lazy-src='p\"q.jpg'>", f'<img src="{POST}p%22q.jpg">'),
        ('<object data="a.swf"></object><embed src="a.swf"><p>x</p>', "<p>x</p>"),
        ('<form action="/x"><input name="q"></form><p>x</p>', "<p>x</p>"),
        ('<img src="a.png" onerror="alert(1)">', f'<img src="{POST}a.png">'),
        ('<p onclick="x()" style="color:red">x</p>', "<p>x</p>"),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        ('<a href=" JaVaScRiPt:alert(1)">x</a>', "<a>x</a>"),
        ('<a href="java\tscript:alert(1)">x</a>', "<a>x</a>"),
        ('<a href="vbscript:msgbox(1)">x</a>', "<a>x</a>"),
        ('<img src="data:image/png;base64,AAAA">', "<img>"),
        ("<noscript><p>no</p></noscript><p>x</p>", "<p>x</p>"),
        ("<svg><script>x</script><title>t</title></svg><p>x</p>", "<p>x</p>"),
        ("<p>x<!-- secret --></p>", "<p>x</p>"),
    ],
)
def test_dangerous_markup_is_removed(html: str, expected: str) -> None:
    assert clean_html(html, POST) == expected


def test_harmless_markup_is_kept() -> None:
    html = (
        '<h2 id="s">S</h2><p><strong>b</strong> <em>i</em> <code>c</code></p>'
        '<blockquote cite="https://q.example/">q</blockquote><pre>x</pre>'
        '<figure><img src="https://cdn.example/i.png" alt="A" width="10"><figcaption>c'
        "</figcaption></figure><ul><li>1</li></ul><table><tr><td>t</td></tr></table>"
    )
    cleaned = clean_html(html, POST)
    for kept in ('<h2 id="s">', "<strong>", '<blockquote cite="https://q.example/">', 'alt="A"'):
        assert kept in cleaned


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a\x00b\x01c\x08d\x0be\x0cf\x1fg\x7fh\x85i\tj</p>", "<p>abcdefghi\tj</p>"),
        ("<p>a&#0;b&#1;c&#x1F;d&#xFFFE;e&#xFFFF;f</p>", "<p>abcdef</p>"),
        ("<p>a\ud800b\udfffc\ufffed\uffffe\U0001fffef</p>", "<p>abcdef</p>"),
        ("<p>a\ufffdb&#xFFFD;c&#xD800;d\x81e\x9df</p>", "<p>abcdef</p>"),
        ('<a title="a\x01b" href="x\x02y">t</a>', f'<a title="ab" href="{POST}xy">t</a>'),
    ],
    ids=["raw", "references", "surrogates-and-nonchars", "replacement-and-c1", "attributes"],
)
def test_characters_illegal_in_xml_are_removed(html: str, expected: str) -> None:
    assert clean_html(html, POST) == expected


# --- absolute URLs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "absolute"),
    [
        ("img.png", f"{POST}img.png"),
        ("../img.png", "https://example.org/blog/2024/img.png"),
        ("../../../../../img.png", "https://example.org/img.png"),
        ("./a/b.png", f"{POST}a/b.png"),
        ("/about/", "https://example.org/about/"),
        ("//cdn.example.net/x.js", "https://cdn.example.net/x.js"),
        ("#notes", f"{POST}#notes"),
        ("?page=2", f"{POST}?page=2"),
        ("  spaced.png\n", f"{POST}spaced.png"),
        ("my file.pdf", f"{POST}my%20file.pdf"),
        ("caf\u00e9.html", f"{POST}caf%C3%A9.html"),
        ("a%20b.png", f"{POST}a%20b.png"),
        ("\\\\evil.example\\x", "https://evil.example/x"),
        ("https://other.example/a?b=c#d", "https://other.example/a?b=c#d"),
        ("HTTP://Other.Example/A", "HTTP://Other.Example/A"),
        ("mailto:desk@example.org", "mailto:desk@example.org"),
        ("javascript:alert(1)", None),
        ("data:text/html,x", None),
        ("vbscript:x", None),
        ("http://[broken", None),
        # A host beyond ASCII in IDNA, as browsers send it (readers take URIs).
        ("https://b\u00fccher.example/buch", "https://xn--bcher-kva.example/buch"),
        ("//B\u00fccher.Example:8080/a b", "https://xn--bcher-kva.Example:8080/a%20b"),
        ("https://a..b.\u00fc/", None),
    ],
)
def test_absolute_url_resolves_like_a_browser(url: str, absolute: str | None) -> None:
    assert absolute_url(url, POST) == absolute


def test_relative_urls_in_href_src_and_srcset_become_absolute() -> None:
    html = (
        '<p><a href="../other/">o</a> <a href="#top">t</a> <a href="mailto:a@b.example">m</a>'
        '<img src="pic.png" srcset="pic.png 1x, ../big/pic.png 2x, /w.png 640w">'
        '<a href="https://elsewhere.example/x">e</a></p>'
    )
    cleaned = clean_html(html, POST)
    assert '<a href="https://example.org/blog/2024/other/">' in cleaned
    assert f'<a href="{POST}#top">' in cleaned
    assert '<a href="mailto:a@b.example">' in cleaned
    assert f'src="{POST}pic.png"' in cleaned
    assert (
        f'srcset="{POST}pic.png 1x, https://example.org/blog/2024/big/pic.png 2x, '
        'https://example.org/w.png 640w"'
    ) in cleaned
    assert '<a href="https://elsewhere.example/x">' in cleaned


@pytest.mark.parametrize(
    ("srcset", "expected"),
    [
        ("a.png", f"{POST}a.png"),
        ("a.png 1x,b.png 2x", f"{POST}a.png 1x, {POST}b.png 2x"),
        ("a,b.png 100w, c.png 200w", f"{POST}a%2Cb.png 100w, {POST}c.png 200w"),
        ("a.png 1x, javascript:x 2x", f"{POST}a.png 1x"),
        ("data:image/png;base64,AAAA 1x", None),
    ],
)
def test_srcset_candidates(srcset: str, expected: str | None) -> None:
    cleaned = clean_html(f'<img srcset="{srcset}">', POST)
    if expected is None:
        assert cleaned == "<img>"
    else:
        assert cleaned == f'<img srcset="{expected}">'


def test_clean_html_is_deterministic_and_idempotent() -> None:
    html = '<p><a href="x">x</a><img src="../y.png" srcset="z.png 2x"></p>'
    once = clean_html(html, POST)
    assert clean_html(html, POST) == once
    assert clean_html(once, POST) == once


# --- summaries -------------------------------------------------------------------------


def test_summary_is_the_first_paragraph_as_text() -> None:
    html = "<h1>Heading</h1><p>First <em>para</em>graph &amp; more.</p><p>Second.</p>"
    assert summarize(html) == "First paragraph &amp; more."


def test_summary_is_cut_at_a_word_boundary() -> None:
    html = "<p>" + "alpha beta gamma delta " * 20 + "</p>"
    summary = summarize(html, limit=30)
    assert summary == "alpha beta gamma delta alpha…"
    assert len(summary) <= 30


def test_summary_never_cuts_inside_markup_or_entities() -> None:
    html = (
        '<p><a href="https://example.org/a-very-long-url">link</a> R&amp;D &lt;tag&gt; '
        + ("word " * 80)
        + "</p>"
    )
    for limit in range(1, 60):
        summary = summarize(html, limit=limit)
        assert "<" not in summary and "href" not in summary
        assert lxml.html.fragment_fromstring(summary or "x", create_parent="p") is not None
        text = lxml.html.fragment_fromstring(summary, create_parent="p").text_content()
        assert len(text) <= limit


def test_summary_of_one_long_word_is_cut_hard() -> None:
    assert summarize("<p>" + "x" * 50 + "</p>", limit=10) == "x" * 9 + "…"


FLAG = "\U0001f1ea\U0001f1f8"  # two regional indicators: one flag
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # five code points: one emoji


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (FLAG * 10, FLAG * 4),  # never half of a flag
        ("\U0001f1ea" + FLAG * 10, ("\U0001f1ea" + FLAG * 10)[:8]),  # paired from the run's start
        ("e\u0301" * 10, "e\u0301" * 4),  # an accent stays with its letter
        ("abcdefg" + FAMILY + "xyz", "abcdefg"),
        ("abcdefg" + "\u0301" * 5, "abcdef"),
        ("abcdefghijk", "abcdefghi"),
    ],
)
def test_summary_cut_hard_keeps_whole_characters(text: str, kept: str) -> None:
    """A word too long for the limit is cut between two characters a reader sees, not
    inside one made of several code points."""
    assert summarize(f"<p>{text}</p>", limit=10) == kept + "…"


def test_summary_short_text_is_whole_and_escaped() -> None:
    assert summarize("<p>a &lt;b&gt; c</p>") == "a &lt;b&gt; c"
    assert summarize("<p>line<br>break</p>") == "line break"


@pytest.mark.parametrize("html", ["", "   ", "<!-- only -->", "<p> </p>", "<script>x</script>"])
def test_summary_of_nothing_is_empty(html: str) -> None:
    assert summarize(html) == ""


def test_summary_without_paragraphs_uses_the_first_block() -> None:
    assert summarize("<div>Plain block</div>") == "Plain block"


# --- clean_text --------------------------------------------------------------------------


def test_clean_text_collapses_whitespace_and_drops_controls() -> None:
    assert clean_text("  a\tb\n\nc\x0cd\x00e\x85f\u2028g  ") == "a b c de f g"


# Any text at all, lone surrogates included; some of it built from the characters in question.
any_text = st.text(st.characters(exclude_categories=()), max_size=40) | st.lists(
    st.sampled_from(["a", " ", "\n", "\t", "\r", "é", "\xa0", "\u200d", "😀", "\U00020000",
                     "\x00", "\x85", "\ud800", "\ufdd0", "\ufffd", "\uffff", "\U0002ffff"]),
).map("".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_strip_illegal_and_clean_text_remove_exactly_the_illegal_characters(text: str) -> None:
    assert strip_illegal(text) == render._ILLEGAL.sub("", text)
    assert clean_text(text) == " ".join(render._ILLEGAL.sub("", " ".join(text.split())).split())


def test_the_quick_legality_check_knows_every_illegal_character() -> None:
    everything = "".join(map(chr, range(0x110000)))
    illegal = render._ILLEGAL.findall(everything)
    # C0 but tab/LF/CR, DEL and C1, surrogates, U+FDD0-FDEF, U+FEFF, U+FFFD-FFFF,
    # U+1FFFE...U+10FFFF.
    assert len(illegal) == 29 + 33 + 2048 + 32 + 1 + 3 + 32
    assert [ch for ch in illegal if render._is_legal(ch)] == []


def test_rendering_markdown_gives_back_the_memory_cmark_takes() -> None:
    """cmark hands back HTML its caller must free: 3,000 renders of a 3 KB post hold no
    more memory than 200 do (unfreed, they hold some 12 MB more)."""
    code = (
        "import resource\n"
        "from feeds.render import body_html\n"
        "from tests.test_render import source\n"
        "post = source('A *line* of [text](x/) ' * 150, 'markdown')\n"
        "for _ in range(200): body_html(post)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for _ in range(3000): body_html(post)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert int(out.stdout) < 3000, f"{out.stdout} KiB more"  # ru_maxrss is in KiB


# --- long bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "body_format"),
    [
        # Mostly what sanitizing drops: under the limit once clean, so cleaned whole.
        pytest.param(
            "<p>Kept.</p><script>" + "x = 1;\n" * 400_000 + "</script><p>Kept too.</p>",
            "html",
            id="html-of-scripts",
        ),
        pytest.param(
            "![a](data:image/png;base64," + "A" * 3_000_000 + ")\n\nText.\n",
            "markdown",
            id="markdown-inline-image",
        ),
        # Over the limit, but a link reference is defined at the end: rendered whole.
        pytest.param(
            "See [the notes][n].\n\n" + "Words and words.\n" * 150_000 + "\n[n]: /notes/\n",
            "markdown",
            id="markdown-reference-at-the-end",
        ),
        pytest.param("<p>" + "word " * 300_000 + "</p>", "html", id="html-under-the-limit"),
    ],
)
def test_a_long_body_whose_beginning_does_not_tell_is_cleaned_whole(
    body: str, body_format: str
) -> None:
    src = source(body, body_format)
    assert len(src.body) > 1_000_000
    assert clean_body(src, POST) == clean_html(body_html(src), POST)


@pytest.mark.parametrize("body_format", ["markdown", "html"])
def test_a_long_body_over_the_limit_is_cleaned_from_its_beginning(body_format: str) -> None:
    """Its beginning, itself over the limit, as the whole's HTML begins."""
    body = "".join(f"<p>Paragraph {n}, <em>short</em>.</p>\n" for n in range(200_000))
    src = source(body, body_format)
    whole = clean_html(body_html(src), POST)
    cleaned = clean_body(src, POST)
    assert render.MAX_CONTENT_CHARS < len(cleaned) < len(whole)
    assert whole.startswith(cleaned[: render.MAX_CONTENT_CHARS])


def test_ctrl_c_while_an_attribute_is_filtered_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """nh3 prints what its attribute filter raises, and goes on: a run would keep going
    after Ctrl-C, with "Exception ignored" on the terminal."""

    def interrupted(attr: str, value: str, base_url: str) -> str | None:
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "_filter_attribute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render.clean_html('<p><a href="/x">x</a></p>', "https://example.org/")


def test_ctrl_c_as_nh3_calls_the_filter_is_not_lost() -> None:
    """Python raises an interrupt in the filter as nh3 calls it, before any line of it
    runs (no ``try`` there can catch it): nh3 printed it and went on. Real signals,
    forty times, each handled by raising KeyboardInterrupt as Ctrl-C's is: every one
    ends the cleaning."""
    fragment = "".join(f'<p><a href="../p{i}/">x</a> <img src="i{i}.png"></p>' for i in range(1000))

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    lost = 0
    try:
        for n in range(40):
            try:
                signal.setitimer(signal.ITIMER_REAL, 0.005 + n * 0.001)
                deadline = time.monotonic() + 1
                while time.monotonic() < deadline:
                    render.clean_html(fragment, "https://example.org/a/")
                lost += 1
            except KeyboardInterrupt:
                pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert lost == 0
