"""HTML for feeds: Markdown rendered, everything sanitized, URLs made absolute, summaries cut.

Pure functions of their arguments: the same input always gives the same output.
"""

from __future__ import annotations

import ctypes
import html
import re
import sys
import unicodedata
from urllib.parse import quote, urljoin, urlsplit

import lxml.html
import nh3
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options
from lxml import etree

from feeds.model import Source

# Characters XML 1.0 forbids (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF),
# plus DEL, the C1 controls and the noncharacters, which it only discourages but which
# never carry meaning in a post; U+FFFD, the mark of an earlier decoding failure; and
# U+FEFF, a byte order mark left inside text by joined files (XML parsers drop it at the
# start of a document, so readers would disagree on the text).
# The W3C feed validator warns about C1 controls and U+FFFD (BadCharacters).
_ILLEGAL_BELOW_10000 = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufeff\ufffd\ufffe\uffff"
)
_ILLEGAL = re.compile(
    f"[{_ILLEGAL_BELOW_10000}"
    "\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U0004fffe\U0004ffff"
    "\U0005fffe\U0005ffff\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe\U0008ffff"
    "\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe\U000bffff\U000cfffe\U000cffff"
    "\U000dfffe\U000dffff\U000efffe\U000effff\U000ffffe\U000fffff\U0010fffe\U0010ffff]"
)
# Searching for these is ten times quicker than for all of _ILLEGAL (a bitmap, not a
# list of ranges); the astral noncharacters are then sought only past U+1FFFD.
_ILLEGAL_BMP = re.compile(f"[{_ILLEGAL_BELOW_10000}]")
_PAST_1FFFD = re.compile("[\U0001fffe-\U0010ffff]")

# CommonMark as specified (cmark, its reference implementation, without the GFM
# extensions); raw HTML passes through and is sanitized by clean_html.
_MARKDOWN_OPTIONS = Options.CMARK_OPT_UNSAFE
#: the C library's free(), which cmark allocates with
_FREE = ctypes.CDLL(None).free
_FREE.argtypes = [ctypes.c_void_p]
_FREE.restype = None

_TAGS = (nh3.ALLOWED_TAGS | {"audio", "picture", "source", "tfoot", "track", "video"}) - {
    # nh3 allows these by default; a feed entry has no use for an image map, and the
    # W3C feed validator flags bdo and rtc as security risks (their text is kept).
    "area",
    "map",
    "bdo",
    "rtc",
}
# Removed with everything inside: their content is code, or raw text that would
# otherwise show up as escaped markup.
_DROP_WITH_CONTENT = {
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "noframes",
    "noembed",
    "noscript",
    "template",
    "textarea",
    "title",
    "xmp",
    "svg",
    "math",
    "select",
}
_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
_ATTRIBUTES.pop("area", None)
_ATTRIBUTES["*"] = {"title", "lang", "dir", "id"}
_ATTRIBUTES["img"] = _ATTRIBUTES.get("img", set()) | {"srcset", "sizes", "loading"}
_ATTRIBUTES["source"] = {"src", "srcset", "sizes", "media", "type"}
_ATTRIBUTES["audio"] = {"src", "controls", "preload"}
_ATTRIBUTES["video"] = {"src", "controls", "poster", "width", "height", "preload"}
_ATTRIBUTES["track"] = {"src", "kind", "label", "srclang"}
_ATTRIBUTES["a"] = _ATTRIBUTES.get("a", set()) | {"type"}

#: attributes holding one URL, made absolute (``srcset`` holds several)
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "poster", "longdesc"})
#: schemes a link or an image in a feed may use; anything else is dropped
_SCHEMES = frozenset(
    {"http", "https", "mailto", "tel", "ftp", "ftps", "sftp", "news", "nntp", "xmpp"}
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# What the WHATWG URL parser strips before anything else.
_URL_EDGE = "".join(chr(c) for c in range(0x21))
_URL_TABS = re.compile("[\t\n\r]")
# Everything a URL may hold literally; the rest (spaces, quotes, non-ASCII) is percent-encoded.
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
_QUERY = re.compile("[?#]")


def strip_illegal(text: str) -> str:
    """Remove characters XML 1.0 forbids or discourages (controls, surrogates, noncharacters).

    Tab, LF and CR are kept, so line numbers and layout survive.
    """
    if _is_legal(text):
        return text
    return _ILLEGAL.sub("", text)


def _is_legal(text: str) -> bool:
    """Whether ``text`` holds none of the characters strip_illegal removes; quicker than it."""
    if "\ufffd" in text:
        return False
    # All the others are controls, surrogates or noncharacters, which Unicode never
    # makes printable: one pass in C settles most texts.
    if text.replace("\n", " ").replace("\t", " ").isprintable():
        return True
    # Texts with other unprintable characters (no-break spaces, joiners, CR).
    return _ILLEGAL_BMP.search(text) is None and _PAST_1FFFD.search(text) is None


def clean_text(text: str) -> str:
    """Plain text for titles and names: illegal characters removed, whitespace collapsed."""
    # Split first so that form feeds and other whitespace controls become spaces.
    spaced = " ".join(text.split())
    legal = strip_illegal(spaced)
    # Only a removed character can leave two spaces together, or one at an end.
    return spaced if len(legal) == len(spaced) else " ".join(legal.split())


def body_html(source: Source) -> str:
    """The post's body as HTML, not yet sanitized: pass it through clean_html before use.

    Markdown is rendered as CommonMark (raw HTML allowed); HTML and text bodies are
    already HTML and are returned as they are.
    """
    if source.body_format == "markdown":
        return _commonmark(source.body)
    return source.body


#: the most characters of sanitized HTML a post's content may have: a longer one is left
#: out of the feeds, its summary alone published (libxml2, under most feed readers,
#: refuses a text node over 10,000,000 bytes: a character may take four)
MAX_CONTENT_CHARS = 2_000_000
#: how much of a longer body is rendered first to tell whether its HTML is over
#: MAX_CONTENT_CHARS; twice as much each time it does not tell
_FIRST_PART = MAX_CONTENT_CHARS // 2
#: how many characters the HTML of a body's beginning may have past the HTML that
#: beginning has in the whole: the end tags of the elements left open where it is cut
#: (at most MAX_DEPTH, each under 16 characters) and an entity cut in two
_CUT_SLACK = 4096


def clean_body(source: Source, base_url: str) -> str:
    """The post's body as sanitized HTML (``clean_html(body_html(source), base_url)``),
    or else, when that is over MAX_CONTENT_CHARS, its beginning, itself over the limit.

    The trees that rendering and sanitizing build take some 500 bytes an element: a
    10 MB post of short paragraphs or list items took 600 MB and 12 s, to be left out.
    So a long body is rendered and sanitized a beginning at a time (a million
    characters, then twice as many…, cut at a line's end) until the HTML of one alone is
    over the limit, which the rest can only add to. The whole is rendered only when no
    beginning is over it, as a body that is mostly what sanitizing drops (scripts,
    inline images) may be. A Markdown body whose rest may define link references (a
    ``]:`` past the cut) is not cut there: the beginning's links would miss them.
    """
    body = source.body
    markdown = source.body_format == "markdown"
    # A link reference defined past a cut would make the beginning's HTML another's.
    earliest = body.rfind("]:") + 2 if markdown else 0
    size = _FIRST_PART
    while len(body) > size:
        cut = _line_end(body, size)
        if cut >= earliest:
            part = body[:cut]
            cleaned = clean_html(_commonmark(part) if markdown else part, base_url)
            if len(cleaned) > MAX_CONTENT_CHARS + _CUT_SLACK:
                return cleaned
        size *= 2
    return clean_html(body_html(source), base_url)


def _line_end(text: str, size: int) -> int:
    """Where to cut ``text`` for a beginning of about ``size`` characters: after the last
    line break in its second half (Markdown blocks are made of whole lines), or at
    ``size`` in a text without one there."""
    end = text.rfind("\n", size // 2, size)
    return end + 1 if end >= 0 else size


def _commonmark(text: str) -> str:
    """``text`` rendered by cmark. It hands back HTML its caller must free, which
    ``cmarkgfm.markdown_to_html`` never does (some 4 KB a post, 400 MB in a run that
    renders 100,000 posts): the C function is called here, and its buffer freed."""
    data = text.encode("utf-8")
    out = _cmark.lib.cmark_markdown_to_html(data, len(data), _MARKDOWN_OPTIONS)
    try:
        return str(_cmark.ffi.string(out).decode("utf-8"))
    finally:
        _FREE(int(_cmark.ffi.cast("uintptr_t", out)))


def clean_html(fragment: str, base_url: str) -> str:
    """Sanitize an HTML fragment for a feed, with every URL absolute against ``base_url``.

    Scripts, styles, frames, forms, event handlers and ``javascript:``/``data:``/
    ``vbscript:`` URLs are removed (script and style with their content); relative
    ``href``/``src``/``srcset`` values are resolved as a browser showing the page at
    ``base_url`` would (``#frag`` included); characters XML 1.0 cannot hold are removed.
    """
    fragment = strip_illegal(fragment)
    if _too_deep(fragment):
        fragment = _flattened(fragment)
    if "<iframe" in fragment or "<IFRAME" in fragment:
        fragment = _FRAME.sub(_frame_link, fragment)
    if "data-" in fragment:
        fragment = _LAZY_IMG.sub(_eager_img, fragment)
    # nh3 prints an exception its filter raises (``sys.unraisablehook``), and goes on:
    # Ctrl-C would be lost. It is kept and raised once nh3 returns; Python raises it in
    # the filter as nh3 calls it, where no ``try`` of the filter's own can catch it yet.
    raised: list[BaseException] = []

    def kept(tag: str, attr: str, value: str) -> str | None:
        try:
            return _filter_attribute(attr, value, base_url)
        except BaseException as e:
            raised.append(e)
            return None

    def unraisable(report: sys.UnraisableHookArgs) -> None:
        if isinstance(report.exc_value, KeyboardInterrupt):
            raised.append(report.exc_value)
        else:
            hook(report)

    hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        cleaned = nh3.clean(
            fragment,
            tags=_TAGS,
            clean_content_tags=_DROP_WITH_CONTENT,
            attributes=_ATTRIBUTES,
            attribute_filter=kept,
            url_schemes=set(_SCHEMES),
            link_rel=None,
            strip_comments=True,
        )
    finally:
        sys.unraisablehook = hook
    if raised:
        raise raised[0]
    # Character references such as &#1; become raw characters only when parsed.
    return strip_illegal(cleaned)


#: elements nested deeper than this are cut (libxml2's own HTML limit): html5ever, under
#: nh3, takes time quadratic in the depth (minutes for 100,000 nested elements)
MAX_DEPTH = 255
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
_VOID = frozenset(
    "area base br col embed hr img input link meta source track wbr".split()
)  # fmt: skip


def _too_deep(fragment: str) -> bool:
    """Whether the fragment may nest elements deeper than MAX_DEPTH (an overestimate:
    elements whose end tag HTML lets one leave out count as open)."""
    if fragment.count("<") <= MAX_DEPTH:
        return False
    depth = 0
    for match in _TAG.finditer(fragment):
        if match.group(1):
            depth = max(depth - 1, 0)
        elif match.group(2).lower() not in _VOID:
            depth += 1
            if depth > MAX_DEPTH:
                return True
    return False


def _flattened(fragment: str) -> str:
    """The fragment as libxml2's HTML parser reads it, which drops what lies deeper than
    its depth limit: only hostile or broken posts nest so deep."""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.escape(fragment)
    inner = [html.escape(root.text or "")]
    inner += [lxml.html.tostring(child, encoding="unicode") for child in root]
    return "".join(inner)


_FRAME = re.compile(r"<iframe\b([^>]*)>.*?</iframe\s*>", re.IGNORECASE | re.DOTALL)
_ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_LAZY_IMG = re.compile(r"<img\b[^>]*\bdata-(?:lazy-)?src\b[^>]*>", re.IGNORECASE)


def _attributes(text: str) -> dict[str, str]:
    """The attributes of a start tag's inside, names in lower case, values unquoted and
    their character references left as they are (the first of repeated names wins)."""
    found: dict[str, str] = {}
    for name, value in _ATTRIBUTE.findall(text):
        value = value[1:-1] if value[:1] in "\"'" and len(value) > 1 else value
        found.setdefault(name.lower(), value)
    return found


def _frame_link(match: re.Match[str]) -> str:
    """An embedded frame (a video, a map) as a link to what it shows: frames are removed,
    and readers would show nothing where the post shows something."""
    attributes = _attributes(match[1])
    src = attributes.get("src", "").strip()
    if not src:
        return ""
    text = attributes.get("title", "").strip() or src
    return f'<p><a href="{_quoted(src)}">{html.escape(html.unescape(text), quote=False)}</a></p>'


def _eager_img(match: re.Match[str]) -> str:
    """An image that loads its picture by script (``data-src``, as lazy-loading plugins
    write it) with its picture as ``src``: readers run no script, and the ``src`` it has
    is a placeholder (a ``data:`` URL, removed) or none."""
    tag = match[0]
    attributes = _attributes(tag[4:].rstrip("/>"))
    real = attributes.get("data-src") or attributes.get("data-lazy-src")
    src = attributes.get("src", "")
    if not real or (src and not src.strip().lower().startswith("data:")):
        return tag
    kept = "".join(
        f' {name}="{_quoted(value)}"' if value else f" {name}"
        for name, value in attributes.items()
        if name not in ("src", "data-src", "data-lazy-src")
    )
    return f'<img src="{_quoted(real)}"{kept}>'


def _quoted(value: str) -> str:
    """An attribute's value as it may stand between double quotes."""
    return value.replace('"', "&quot;").replace("<", "&lt;")


def _filter_attribute(attr: str, value: str, base_url: str) -> str | None:
    """nh3 hook: make URLs absolute (dropping unsafe ones), keep other attributes as they are."""
    if attr in _URL_ATTRIBUTES:
        return absolute_url(value, base_url)
    if attr == "srcset":
        return _absolute_srcset(value, base_url)
    return value


def absolute_url(url: str, base_url: str) -> str | None:
    """``url`` resolved against ``base_url`` as a browser would; None if its scheme is unsafe.

    Surrounding spaces and controls are stripped and tabs/newlines removed (WHATWG URL
    parsing), backslashes in the path count as slashes for http(s), and characters a URL
    cannot hold literally (spaces, non-ASCII) are percent-encoded.
    """
    try:
        return _absolute_url(url, base_url)
    except ValueError:
        # urllib refuses some malformed URLs (e.g. an unclosed IPv6 "[" host): drop them.
        return None


def _absolute_url(url: str, base_url: str) -> str | None:
    url = _URL_TABS.sub("", url.strip(_URL_EDGE))
    scheme = _SCHEME.match(url)
    if scheme and scheme.group(1).lower() not in _SCHEMES:
        return None
    if not scheme or scheme.group(1).lower() in ("http", "https"):
        # Browsers read "\" as "/" before the query in http(s) URLs: "\\host" is a host.
        query = _QUERY.search(url)
        end = query.start() if query else len(url)
        url = url[:end].replace("\\", "/") + url[end:]
    joined = urljoin(base_url, url) if not scheme else url
    return ascii_url(joined)


def ascii_url(url: str) -> str:
    """Percent-encode what may not stand literally in a URL, leaving existing escapes alone;
    a host beyond ASCII is written in IDNA (``bücher.example`` → ``xn--bcher-kva.example``),
    as browsers send it. ValueError (UnicodeError) for a host IDNA cannot write."""
    parts = urlsplit(url)
    if parts.netloc:
        # The host keeps its own spelling (in ASCII); only what follows it is encoded.
        end = url.index(parts.netloc) + len(parts.netloc)
        return (
            url[: end - len(parts.netloc)]
            + _ascii_netloc(parts.netloc)
            + quote(url[end:], safe=_URL_SAFE)
        )
    return quote(url, safe=_URL_SAFE)


def _ascii_netloc(netloc: str) -> str:
    """``user@host:port`` with a host beyond ASCII in IDNA, and the user percent-encoded."""
    if netloc.isascii():
        return netloc
    user, at, place = netloc.rpartition("@")
    host, colon, port = place.partition(":")
    return f"{quote(user, safe=_URL_SAFE)}{at}{host.encode('idna').decode('ascii')}{colon}{port}"


def _absolute_srcset(value: str, base_url: str) -> str | None:
    """Each candidate's URL made absolute; unsafe candidates dropped (None when none is left)."""
    candidates = []
    for url, descriptor in _srcset_candidates(value):
        absolute = absolute_url(url, base_url)
        if absolute is not None:
            # A comma inside the URL would split the candidate for the next reader.
            absolute = absolute.replace(",", "%2C")
            candidates.append(f"{absolute} {descriptor}" if descriptor else absolute)
    return ", ".join(candidates) if candidates else None


def _srcset_candidates(value: str) -> list[tuple[str, str]]:
    """Split a srcset into (url, descriptor) pairs, following the HTML parsing algorithm."""
    result: list[tuple[str, str]] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        start = i
        while i < n and not value[i].isspace():
            i += 1
        url = value[start:i]
        if not url:
            break
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            start = i
            depth = 0
            while i < n and (value[i] != "," or depth):
                depth += {"(": 1, ")": -1}.get(value[i], 0)
                depth = max(depth, 0)
                i += 1
            descriptor = " ".join(value[start:i].split())
            i += 1
        if url:
            result.append((url, descriptor))
    return result


def summarize(fragment: str, limit: int = 300) -> str:
    """The first paragraph's plain text, at most ``limit`` characters, escaped for use as HTML.

    A text longer than ``limit`` is cut at the last word boundary that fits and ends
    with ``…`` (counted in the limit). Markup never reaches the result, so nothing is
    ever cut inside a tag or an entity. Returns ``""`` when there is no text at all.
    """
    limit = max(limit, 1)
    text = clean_text(_first_paragraph(strip_illegal(fragment)))
    if len(text) > limit:
        # The longest run of whole words that leaves room for the ellipsis.
        space = text.rfind(" ", 0, limit)
        cut = text[:space].rstrip(" ,;:-\u2013\u2014") if space > 0 else ""
        text = (cut or text[: _cluster_edge(text, limit - 1)]) + "…"
    return html.escape(text, quote=False)


def _cluster_edge(text: str, end: int) -> int:
    """``end`` moved back to the start of the character a reader sees there, so that a
    cut at it leaves no accent without its letter and no half of a flag or an emoji
    sequence (a character made of several code points); ``end`` when it starts none."""
    edge = end
    while 0 < edge < len(text) and (_extends(text[edge]) or text[edge - 1] == _ZWJ):
        edge -= 1
    if 0 < edge < len(text) and _is_flag_half(text[edge]):
        # Regional indicators pair into flags from the start of their run.
        run = edge
        while run > 0 and _is_flag_half(text[run - 1]):
            run -= 1
        edge -= (edge - run) % 2
    return edge or end


_ZWJ = "\u200d"


def _extends(char: str) -> bool:
    """Whether ``char`` belongs to the character before it: a combining mark, a joiner,
    a variation selector, a skin tone, an emoji tag."""
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char == _ZWJ
        or "\ufe00" <= char <= "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
        or "\U000e0020" <= char <= "\U000e007f"
    )


def _is_flag_half(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _first_paragraph(fragment: str) -> str:
    """Plain text of the first ``<p>`` holding text; else of the first block of the whole."""
    if not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for bad in list(root.iter("script", "style", "template")):
        bad.drop_tree()
    for br in root.iter("br"):
        # A line break separates words even though it holds no text.
        br.tail = "\n" + (br.tail or "")
    for p in root.iter("p"):
        text = p.text_content()
        if text.strip():
            return str(text)
    whole = str(root.text_content())
    blocks = [b for b in re.split(r"\n\s*\n", whole) if b.strip()]
    return blocks[0] if blocks else ""
