"""config.yaml -> a frozen Config. The only place YAML config is read."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feeds.exceptions import ConfigError
from feeds.model import EMAIL, FEED_FILES, LANGUAGE_TAG, Author, Podcast, check_name, split_author
from feeds.podcast import split_category
from feeds.words import meant, shown
from feeds.yamlsafe import YamlError, load_mapping

PERMALINK_FIELDS = frozenset({"slug", "year", "month", "day", "section"})


@dataclass(frozen=True)
class SiteConfig:
    title: str
    #: absolute http(s) URL ending in ``/``
    base_url: str
    description: str
    language: str
    #: IANA zone name; naive dates in posts are in this zone
    timezone: str
    author: Author
    #: e.g. ``/{slug}/``; fields {slug} {year} {month} {day} {section}
    permalink: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class FeedsConfig:
    formats: tuple[str, ...] = ("rss", "atom", "json")
    limit: int = 20
    full_content: bool = True
    per_tag: bool = True
    per_author: bool = True
    #: RFC 5005 archive pages hold the site's posts older than the main feed's
    archives: bool = False
    #: an XSL stylesheet for RSS and Atom, so a browser shows a feed as a page
    stylesheet: bool = False


@dataclass(frozen=True)
class ScheduleConfig:
    #: seconds between runs when no cron expression is given
    interval: int = 900
    #: a five-field crontab expression, used instead of ``interval`` when set
    cron: str | None = None


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True)
class WebSubConfig:
    #: the WebSub hub named in every feed and pinged after each change; None: WebSub off
    hub: str | None = None


@dataclass(frozen=True)
class Config:
    #: the config file itself
    path: Path
    site: SiteConfig
    content_dir: Path
    output_dir: Path
    state_dir: Path
    feeds: FeedsConfig
    schedule: ScheduleConfig
    server: ServerConfig
    #: iTunes tags on the site's RSS feed, when ``podcast:`` is given
    podcast: Podcast | None = None
    #: posts larger than this many bytes are skipped with a message
    max_post_bytes: int = 10 * 1024 * 1024
    websub: WebSubConfig = WebSubConfig()


#: the most characters a text in config.yaml may hold: a site's description, the longest
#: of them, runs to a few hundred (Apple Podcasts takes 4,000); what a feed repeats past
#: that only weighs on it (readers' XML parsers refuse text over 10 MB: no feed was
#: published) and on every message that quotes it
MAX_TEXT = 10_000

_INTERVAL = re.compile(r"^\s*(\d{1,12})\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: what an ASCII URL may hold (RFC 3986); a ``%`` must start an escape
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class _Reader:
    """Pulls typed values out of the parsed YAML, naming the key and line on any mistake."""

    def __init__(self, path: Path, lines: dict[str, int]) -> None:
        self.path = path
        self.lines = lines

    def error(self, key: str, message: str) -> ConfigError:
        line = self.lines.get(key)
        while line is None and "." in key:
            key = key.rsplit(".", 1)[0]
            line = self.lines.get(key)
        return ConfigError(str(self.path), line, message)

    def section(self, data: dict[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, f"'{key}' must be a mapping")
        self.no_unknown(value, key, allowed)
        return value

    def no_unknown(self, data: dict[str, Any], prefix: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                dotted = f"{prefix}.{key}" if prefix else str(key)
                known = ", ".join(sorted(allowed))
                hint = meant(str(key), allowed)
                raise self.error(dotted, f"unknown key '{dotted}'{hint} (known: {known})")

    def string(self, data: dict[str, Any], key: str, dotted: str, default: str | None) -> str:
        value = data.get(key, default)
        if value is None:
            if default is None:
                raise self.error(dotted, f"'{dotted}' is required")
            return default
        if not isinstance(value, str):
            raise self.error(dotted, f"'{dotted}' must be text, not {type(value).__name__}")
        return self.not_too_long(value, dotted)

    def optional_string(self, data: dict[str, Any], key: str, dotted: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(dotted, f"'{dotted}' must be text, not {type(value).__name__}")
        return self.not_too_long(value, dotted)

    def not_too_long(self, value: str, dotted: str) -> str:
        if len(value) > MAX_TEXT:
            raise self.error(
                dotted, f"'{dotted}' is {len(value):,} characters long; at most {MAX_TEXT:,}"
            )
        return value

    def boolean(self, data: dict[str, Any], key: str, dotted: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(dotted, f"'{dotted}' must be true or false")
        return value

    def integer(
        self, data: dict[str, Any], key: str, dotted: str, default: int, low: int, high: int
    ) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(dotted, f"'{dotted}' must be a whole number")
        if not low <= value <= high:
            raise self.error(dotted, f"'{dotted}' must be between {low} and {high}")
        return value


def _site_author(r: _Reader, raw: object, title: str) -> Author:
    """``site.author``: a name (``Name <address>`` gives an e-mail address too), or
    ``{name, email, url}``; without one, the site's title. Checked as a post's author is,
    since every feed that names it would otherwise fail validation."""
    email = url = None
    if raw is None:
        key, name = "site.title", title
    elif isinstance(raw, str):
        key, name = "site.author", r.not_too_long(raw, "site.author")
    elif isinstance(raw, dict):
        r.no_unknown(raw, "site.author", {"name", "email", "url"})
        email = r.optional_string(raw, "email", "site.author.email")
        url = r.optional_string(raw, "url", "site.author.url")
        # Known by an address alone, the author is shown by it, as in a post.
        key, name = "site.author.name", r.string(raw, "name", "site.author.name", email)
    else:
        raise r.error("site.author", "'site.author' must be a name or {name, email, url}")
    name = " ".join(name.split())
    if not name:
        raise r.error(key, f"'{key}' must not be empty")
    try:
        if email is None:
            name, email = split_author(name)
        else:
            check_name(name)
    except ValueError as e:
        raise r.error(key, f"'{key}' {e}") from None
    if email and not EMAIL.fullmatch(email):
        raise r.error(
            "site.author.email", f"'site.author.email' {shown(email)} is not an e-mail address"
        )
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise r.error("site.author.url", "'site.author.url' must be an absolute http(s) URL")
    return Author(name, email or None, url or None)


def parse_interval(text: str) -> int | None:
    """``15m`` → 900; None when the text is not a number with one of s, m, h, d."""
    match = _INTERVAL.match(text)
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def hub_problem(url: str) -> str | None:
    """Why ``url`` cannot be a WebSub hub's address, or None when it can.

    It is written into feeds and into a ``Link`` header, so it must be an absolute http(s)
    URL in plain ASCII (IRIs percent-encoded), without a fragment.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "must be an absolute http(s) URL"
    if not _URL_CHARS.fullmatch(url) or _BAD_PERCENT.search(url):
        return "must be a URL in ASCII (percent-encode spaces, quotes and other characters)"
    if parts.fragment or url.endswith("#"):
        return "must not have a fragment (#…)"
    return None


#: the longest interval between runs, in seconds: a year and a day
MAX_INTERVAL = 366 * 86400


def check_cron(expr: str) -> str | None:
    """Return an error message if ``expr`` is not a five-field crontab line that comes."""
    from feeds.crontab import crontab_trigger

    try:
        crontab_trigger(expr, UTC)
    except ValueError as e:
        return str(e)
    return None


def _folder_name(r: _Reader, data: dict[str, Any], key: str, default: str) -> str:
    """A folder's path as written; one no system can name (a NUL in it) is an error."""
    name = r.string(data, key, key, default)
    if "\x00" in name:
        raise r.error(key, f"'{key}' must name a folder")
    return name


def load_config(path: Path) -> Config:
    """Read and check config.yaml; raise ConfigError naming the key and line on any mistake."""
    path = Path(path)
    try:
        # Not blocking: a FIFO named as the config would hold the command for good.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb", buffering=0) as file:  # noqa: PTH123
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError(str(path), None, "the config is not a regular file")
            raw = file.readall()
    except FileNotFoundError as e:
        raise ConfigError(
            str(path),
            None,
            f"config file not found (looked for {path.absolute()}): run feeds in the site's "
            "folder, or name the config with -c",
        ) from e
    except OSError as e:
        raise ConfigError(str(path), None, f"cannot read config: {e.strerror}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(str(path), line, "config is not UTF-8") from e
    try:
        data, lines = load_mapping(text)
    except YamlError as e:
        raise ConfigError(str(path), e.line, f"invalid YAML: {e.message}") from e
    return config_from_mapping(data, lines, path)


def config_from_mapping(data: dict[str, Any], lines: dict[str, int], path: Path) -> Config:
    """Build a Config from parsed YAML; ``lines`` maps dotted keys to their line numbers."""
    r = _Reader(path, lines)
    top = {
        "site", "content_dir", "output_dir", "state_dir", "feeds",
        "schedule", "server", "websub", "podcast", "max_post_bytes",
    }  # fmt: skip
    r.no_unknown(data, "", top)
    if "site" not in data:
        raise ConfigError(str(path), None, "'site' is required (with title and base_url)")

    s = r.section(
        data,
        "site",
        {"title", "base_url", "description", "language", "timezone", "author", "permalink"},
    )
    title = r.string(s, "title", "site.title", None)
    if not title.strip():
        raise r.error("site.title", "'site.title' must not be empty")
    base_url = r.string(s, "base_url", "site.base_url", None)
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise r.error("site.base_url", "'site.base_url' must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise r.error("site.base_url", "'site.base_url' must not have a query or fragment")
    if not base_url.endswith("/"):
        base_url += "/"
    if not base_url.isascii():
        # As a browser sends it: the host in IDNA, the path percent-encoded. Every link
        # and id is made of it, and a feed may hold URLs only, a tag: URI ASCII only.
        from feeds.render import ascii_url

        try:
            base_url = ascii_url(base_url)
        except ValueError as e:
            raise r.error(
                "site.base_url", f"'site.base_url' has a host IDNA cannot write: {e}"
            ) from e
    timezone = r.string(s, "timezone", "site.timezone", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise r.error("site.timezone", f"unknown time zone '{timezone}' (use an IANA name)") from e
    permalink = r.string(s, "permalink", "site.permalink", "/{slug}/")
    if not permalink.isascii():
        # As a browser sends it: links must be URLs (`/ñ/{slug}/` → `/%C3%B1/{slug}/`).
        permalink = re.sub(r"[^\x00-\x7f]+", lambda m: quote(m[0]), permalink)
    fields = set(re.findall(r"{([^{}]*)}", permalink))
    if "slug" not in fields:
        raise r.error("site.permalink", "'site.permalink' must contain {slug}")
    if fields - PERMALINK_FIELDS:
        bad = ", ".join(sorted(fields - PERMALINK_FIELDS))
        raise r.error("site.permalink", f"unknown field in 'site.permalink': {bad}")
    try:
        sample = permalink.format(**dict.fromkeys(PERMALINK_FIELDS, "x"))
    except (ValueError, IndexError, KeyError) as e:  # a "{" or "}" alone, "{0}"
        raise r.error("site.permalink", f"'site.permalink' is not a template: {e}") from e
    if odd := _NOT_IN_A_PATH.findall(sample):
        raise r.error(
            "site.permalink",
            f"'site.permalink' holds {odd[0]!r}, which a URL's path cannot hold as it is",
        )

    author = _site_author(r, s.get("author"), title)

    language = r.string(s, "language", "site.language", "en")
    if not LANGUAGE_TAG.fullmatch(language):
        raise r.error(
            "site.language",
            f"'site.language' {shown(language)} is not a language tag such as en or en-GB",
        )
    site = SiteConfig(
        title=title,
        base_url=base_url,
        description=r.string(s, "description", "site.description", ""),
        language=language,
        timezone=timezone,
        author=author,
        permalink=permalink,
    )

    f = r.section(
        data,
        "feeds",
        {"formats", "limit", "full_content", "per_tag", "per_author", "archives", "stylesheet"},
    )
    formats_raw = f.get("formats", list(FEED_FILES))
    if not isinstance(formats_raw, list) or not formats_raw:
        raise r.error("feeds.formats", "'feeds.formats' must be a list such as [rss, atom, json]")
    for fmt in formats_raw:
        if not isinstance(fmt, str) or fmt not in FEED_FILES:
            raise r.error("feeds.formats", f"unknown format {shown(fmt)} (known: rss, atom, json)")
    feeds = FeedsConfig(
        formats=tuple(sorted(set(formats_raw), key=list(FEED_FILES).index)),
        limit=r.integer(f, "limit", "feeds.limit", 20, 1, 10_000),
        full_content=r.boolean(f, "full_content", "feeds.full_content", True),
        per_tag=r.boolean(f, "per_tag", "feeds.per_tag", True),
        per_author=r.boolean(f, "per_author", "feeds.per_author", True),
        archives=r.boolean(f, "archives", "feeds.archives", False),
        stylesheet=r.boolean(f, "stylesheet", "feeds.stylesheet", False),
    )

    sc = r.section(data, "schedule", {"interval", "cron"})
    interval_raw = sc.get("interval", "15m")
    if isinstance(interval_raw, str):
        r.not_too_long(interval_raw, "schedule.interval")
    interval = parse_interval(str(interval_raw)) if isinstance(interval_raw, str) else None
    if interval is None or interval <= 0:
        raise r.error("schedule.interval", "'schedule.interval' must look like 30s, 15m, 1h or 1d")
    if interval > MAX_INTERVAL:
        raise r.error("schedule.interval", "'schedule.interval' must be at most 366d")
    cron = r.optional_string(sc, "cron", "schedule.cron")
    if cron is not None and "interval" in sc:
        raise r.error("schedule.cron", "give 'schedule.interval' or 'schedule.cron', not both")
    if cron is not None and (problem := check_cron(cron)):
        raise r.error("schedule.cron", f"'schedule.cron' {problem}")

    sv = r.section(data, "server", {"host", "port"})
    server = ServerConfig(
        host=r.string(sv, "host", "server.host", "127.0.0.1"),
        port=r.integer(sv, "port", "server.port", 8080, 0, 65535),
    )

    podcast = _podcast(r, data, site)

    w = r.section(data, "websub", {"hub"})
    hub = r.optional_string(w, "hub", "websub.hub")
    if "websub" in data and hub is None:
        raise r.error("websub", "'websub.hub' is required in 'websub' (the hub's URL)")
    if hub is not None and (problem := hub_problem(hub)):
        raise r.error("websub.hub", f"'websub.hub' {problem}")

    if feeds.archives and not {"rss", "atom"} & set(feeds.formats):
        raise r.error(
            "feeds.archives",
            "'feeds.archives' needs rss or atom in 'feeds.formats' (pages are RSS "
            "and Atom documents)",
        )

    folder = path.parent
    content_dir = folder / _folder_name(r, data, "content_dir", "content")
    output_dir = folder / _folder_name(r, data, "output_dir", "public")
    state_dir = folder / _folder_name(r, data, "state_dir", ".feeds")
    if _within(output_dir, content_dir):
        raise r.error(
            "output_dir",
            "'output_dir' must not be inside 'content_dir': its index.html would be read as a post",
        )
    if _within(content_dir, output_dir):
        raise r.error(
            "content_dir",
            "'content_dir' must not be inside 'output_dir': feeds serve would serve the "
            "posts, drafts and future posts among them",
        )
    if _within(state_dir, output_dir):
        raise r.error(
            "state_dir",
            "'state_dir' must not be inside 'output_dir': feeds serve would serve the "
            "state, drafts and future posts among it",
        )
    return Config(
        path=path,
        site=site,
        content_dir=content_dir,
        output_dir=output_dir,
        state_dir=state_dir,
        feeds=feeds,
        schedule=ScheduleConfig(interval=interval, cron=cron),
        server=server,
        podcast=podcast,
        max_post_bytes=r.integer(
            data, "max_post_bytes", "max_post_bytes", 10 * 1024 * 1024, 1, 2**40
        ),
        websub=WebSubConfig(hub=hub),
    )


def _within(inner: Path, outer: Path) -> bool:
    """Whether folder ``inner`` is ``outer`` or lies inside it, links and ``..`` resolved."""
    inner, outer = inner.resolve(), outer.resolve()
    return inner == outer or inner.is_relative_to(outer)


#: characters no URL path holds as they are (RFC 3986), and those that would end it
_NOT_IN_A_PATH = re.compile(r'[\x00-\x20"<>\\^`{|}\x7f-\x9f?#]')
#: what cover art's path may end in, in any case (Apple takes JPEG and PNG)
COVER_SUFFIXES = (".jpg", ".jpeg", ".png")


def _podcast(r: _Reader, data: dict[str, Any], site: SiteConfig) -> Podcast | None:
    """The ``podcast:`` section: Apple category (``News > Tech News`` for a subcategory),
    explicit, and cover art (JPEG or PNG, relative to site.base_url or absolute, written as
    a browser sends it: percent-encoded, its host in IDNA)."""
    if data.get("podcast") is None:
        if "podcast" in data:
            raise r.error("podcast", "'podcast' must be a mapping {category, explicit, image}")
        return None
    p = r.section(data, "podcast", {"category", "explicit", "image"})
    if "category" not in p:
        raise r.error("podcast", "'podcast.category' is required (e.g. Technology)")
    try:
        category, subcategory = split_category(r.string(p, "category", "podcast.category", None))
    except ValueError as e:
        raise r.error("podcast.category", f"'podcast.category': {e}") from e
    image = r.optional_string(p, "image", "podcast.image")
    if image is not None:
        # Only a podcast's cover art needs the renderer's URL rules (and lxml's import).
        from feeds.render import absolute_url

        image = absolute_url(image, site.base_url) or ""
        parts = urlsplit(image)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise r.error("podcast.image", "'podcast.image' must be an http(s) URL or a path")
        if not parts.path.lower().endswith(COVER_SUFFIXES):
            raise r.error(
                "podcast.image",
                "'podcast.image' must end in .jpg, .jpeg or .png (podcast apps take JPEG or PNG)",
            )
    if not site.author.email:
        raise r.error(
            "podcast",
            "'podcast' needs an owner e-mail for podcast directories: set site.author.email",
        )
    return Podcast(
        category=category,
        subcategory=subcategory,
        explicit=r.boolean(p, "explicit", "podcast.explicit", False),
        image=image,
        owner=site.author,
    )
