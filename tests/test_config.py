"""config.yaml: defaults, relative paths, and errors that name the key and the line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feeds.config import load_config, parse_interval
from feeds.exceptions import ConfigError
from feeds.model import Author

MINIMAL = "site:\n  title: T\n  base_url: https://example.org/blog\n"
PODCAST = MINIMAL + "  author: {name: Desk, email: desk@example.org}\npodcast:\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.site.base_url == "https://example.org/blog/"
    assert config.site.timezone == "UTC"
    assert config.site.permalink == "/{slug}/"
    assert config.site.author == Author(name="T")
    assert config.content_dir == tmp_path / "content"
    assert config.output_dir == tmp_path / "public"
    assert config.state_dir == tmp_path / ".feeds"
    assert config.feeds.formats == ("rss", "atom", "json")
    assert config.feeds.limit == 20
    assert config.schedule.interval == 900
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)


def test_the_repository_sample_config_loads() -> None:
    config = load_config(Path(__file__).parent.parent / "config.yaml")
    assert config.site.title == "Harbour Notes"
    assert config.content_dir.is_dir()


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (MINIMAL + "colour: blue\n", 4, "unknown key 'colour'"),
        (MINIMAL + "feeds:\n  limt: 3\n", 5, "unknown key 'feeds.limt' (did you mean 'limit'?)"),
        (MINIMAL + "feeds:\n  limit: many\n", 5, "'feeds.limit' must be a whole number"),
        (MINIMAL + "feeds:\n  limit: 0\n", 5, "between 1 and"),
        (MINIMAL + "feeds:\n  formats: [rss, rdf]\n", 5, "unknown format 'rdf'"),
        # Both were tracebacks (found by random configs).
        (MINIMAL + "feeds:\n  formats: [[rss]]\n", 5, "unknown format ['rss']"),
        (MINIMAL + 'state_dir: "a\\0b"\n', 4, "'state_dir' must name a folder"),
        (MINIMAL + "feeds:\n  per_tag: sometimes\n", 5, "true or false"),
        (MINIMAL + "schedule:\n  interval: 15 minutes\n", 5, "30s, 15m"),
        (MINIMAL + "schedule:\n  cron: '61 * * * *'\n", 5, "schedule.cron"),
        (MINIMAL + "schedule:\n  cron: '* *'\n", 5, "five fields"),
        (MINIMAL + "schedule:\n  cron: '0 0 31 2 *'\n", 5, "never comes"),
        # numbers Python would not read (over 4,300 digits): a traceback, or its message
        (MINIMAL + "schedule:\n  interval: " + "9" * 5000 + "m\n", 5, "30s, 15m"),
        (MINIMAL + "schedule:\n  cron: '0 0 * * " + "1" * 5000 + "'\n", 5, "too large for any"),
        (MINIMAL + "schedule:\n  interval: 1h\n  cron: '0 9 * * *'\n", 6, "not both"),
        (MINIMAL + "schedule:\n  cron: '0 9 * * 8'\n", 5, "from 0 to 7"),
        (MINIMAL + "schedule:\n  cron: '0 9 * * fri-mon'\n", 5, "runs backwards"),
        (MINIMAL + "schedule:\n  interval: 99999999999d\n", 5, "at most 366d"),
        (MINIMAL + "server:\n  port: 99999\n", 5, "'server.port'"),
        ("site:\n  title: T\n  base_url: example.org\n", 3, "absolute http(s) URL"),
        ("site:\n  title: T\n  base_url: ftp://example.org/\n", 3, "absolute http(s) URL"),
        ("site:\n  base_url: https://example.org/\n", 1, "'site.title' is required"),
        (MINIMAL + "  timezone: Mars/Olympus\n", 4, "unknown time zone"),
        (MINIMAL + "  language: english\n", 4, "'english' is not a language tag"),
        (MINIMAL + "  language: en_GB\n", 4, "'en_GB' is not a language tag"),
        (MINIMAL + "  permalink: /{title}/\n", 4, "{slug}"),
        (MINIMAL + "  permalink: /{slug}/{week}/\n", 4, "unknown field"),
        # a traceback, or every post left out as its link could not be a URL
        (MINIMAL + "  permalink: '/{slug}/{'\n", 4, "is not a template: Single '{'"),
        (MINIMAL + "  permalink: '/{slug}/}'\n", 4, "is not a template: Single '}'"),
        (MINIMAL + "  permalink: '/{slug}/{{'\n", 4, "holds '{', which a URL's path cannot"),
        (MINIMAL + "  permalink: '/{slug} x/'\n", 4, "holds ' ', which a URL's path cannot"),
        (MINIMAL + "  permalink: '/{slug}?p=1'\n", 4, "holds '?', which a URL's path cannot"),
        (MINIMAL + "  author: [a, b]\n", 4, "'site.author'"),
        (MINIMAL + "  author: {name: A, phone: 1}\n", 4, "site.author.phone"),
        # Every feed names the site's author: a value its validation would refuse is
        # refused here, at its line, before anything is built.
        (MINIMAL + "  author: {name: A, email: nope}\n", 4, "'site.author.email' 'nope' is not"),
        (MINIMAL + "  author: {name: A, url: /me}\n", 4, "'site.author.url' must be an absolute"),
        (MINIMAL + "  author: {name: ' ', email: a@b.org}\n", 4, "'site.author.name' must not"),
        (MINIMAL + "  author: Desk desk@example.org\n", 4, "for an e-mail address"),
        (MINIMAL + "content_dir: 3\n", 4, "'content_dir' must be text"),
        (MINIMAL + "output_dir: content/public\n", 4, "'output_dir' must not be inside"),
        (MINIMAL + "output_dir: content\n", 4, "'output_dir' must not be inside"),
        (MINIMAL + "state_dir: public/state\n", 4, "'state_dir' must not be inside"),
        (MINIMAL + "output_dir: www\ncontent_dir: www/posts\n", 5, "'content_dir' must not be"),
        (MINIMAL + "state_dir: public\n", 4, "'state_dir' must not be inside"),
        (MINIMAL + "feeds:\n  archives: yes please\n", 5, "'feeds.archives' must be true or"),
        (MINIMAL + "feeds:\n  formats: [json]\n  archives: true\n", 6, "needs rss or atom"),
        (MINIMAL + "feeds:\n  stylesheet: please\n", 5, "'feeds.stylesheet' must be true or"),
        (PODCAST + "  category: Cooking\n", 6, "unknown category 'Cooking'"),
        (PODCAST + "  category: News > Cooking\n", 6, "unknown subcategory 'Cooking' of 'News'"),
        (PODCAST + "  category: [News]\n", 6, "'podcast.category' must be text"),
        (PODCAST + "  explicit: no\n", 5, "'podcast.category' is required"),
        (PODCAST + "  category: News\n  explicit: maybe\n", 7, "'podcast.explicit' must be"),
        (PODCAST + "  category: News\n  image: /cover.gif\n", 7, "must end in .jpg, .jpeg or .png"),
        (PODCAST + "  category: News\n  image: ftp://e.org/c.png\n", 7, "http(s) URL or a path"),
        (PODCAST + "  category: News\n  owner: me\n", 7, "unknown key 'podcast.owner'"),
        (PODCAST.replace("desk@example.org", "") + "  category: News\n", 5, "site.author.email"),
        (MINIMAL + "podcast:\n", 4, "'podcast' must be a mapping"),
        (MINIMAL + "websub:\n  hub: hub.example.org\n", 5, "'websub.hub' must be an absolute"),
        (MINIMAL + "websub:\n  hub: ftp://hub.example.org/\n", 5, "absolute http(s) URL"),
        (MINIMAL + "websub:\n  hub: [https://a.example/]\n", 5, "'websub.hub' must be text"),
        (MINIMAL + "websub:\n  hub: https://hub.example.org/#x\n", 5, "fragment"),
        (MINIMAL + "websub:\n  hub: https://hub.example.org/a b\n", 5, "in ASCII"),
        (MINIMAL + "websub:\n  hub: https://hüb.example.org/\n", 5, "in ASCII"),
        (MINIMAL + "websub:\n  hub: https://hub.example.org/%zz\n", 5, "in ASCII"),
        (MINIMAL + "websub:\n  hub: 'http://[::1'\n", 5, "is not a URL"),
        (MINIMAL + "websub:\n  hubs: https://hub.example.org/\n", 5, "unknown key 'websub.hubs'"),
        (MINIMAL + "websub:\n  secret: x\n", 5, "unknown key 'websub.secret'"),
        (MINIMAL + "websub:\n", 4, "'websub.hub' is required"),
        (MINIMAL + "websub: https://hub.example.org/\n", 4, "'websub' must be a mapping"),
        (MINIMAL + "site: again\n", 4, "duplicate key"),
        (MINIMAL + "  title: Again\n", 4, "duplicate key 'site.title'"),
        ("feeds:\n  limit: 3\n  limit: 4\n" + MINIMAL, 3, "duplicate key 'feeds.limit'"),
        ("site: [\n", 2, "invalid YAML"),
        ("- a\n- b\n", 1, "mapping"),
        # Text no site's needs: feeds repeat it; readers' parsers refuse over 10 MB.
        (
            "site:\n  base_url: https://e.org/\n  title: " + "T" * 10_001 + "\n",
            3,
            "'site.title' is 10,001 characters long; at most 10,000",
        ),
        (
            MINIMAL + "  description: |\n" + "    words words\n" * 900,
            4,
            "'site.description' is 10,800 characters long; at most 10,000",
        ),
        (MINIMAL + "  author: " + "A" * 10_001 + "\n", 4, "'site.author' is 10,001 characters"),
        (MINIMAL + "  author: {name: " + "A" * 10_001 + "}\n", 4, "'site.author.name' is 10,001"),
        (
            MINIMAL + "schedule:\n  interval: '" + " " * 10_001 + "1d'\n",
            5,
            "'schedule.interval' is",
        ),
    ],
)
def test_errors_name_the_key_and_line(
    tmp_path: Path, text: str, line: int | None, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.line == line
    assert fragment in caught.value.message
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_site_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'site' is required"):
        load_config(write(tmp_path, "feeds:\n  limit: 3\n"))


def test_an_author_written_with_an_address_is_a_name_and_an_address(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "  author: Desk <desk@example.org>\n"))
    assert config.site.author == Author(name="Desk", email="desk@example.org")


@pytest.mark.parametrize("written", ["desk@example.org", "{email: desk@example.org}"])
def test_a_site_author_known_by_an_address_alone_is_shown_by_it(
    tmp_path: Path, written: str
) -> None:
    config = load_config(write(tmp_path, MINIMAL + f"  author: {written}\n"))
    assert config.site.author == Author("desk@example.org", "desk@example.org")


def test_cron_and_string_author(tmp_path: Path) -> None:
    text = MINIMAL + "  author: Desk\nschedule:\n  cron: '*/5 * * * *'\n"
    config = load_config(write(tmp_path, text))
    assert config.site.author == Author(name="Desk")
    assert config.schedule.cron == "*/5 * * * *"


def test_websub_hub(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).websub.hub is None
    text = MINIMAL + "websub:\n  hub: https://hub.example.org/publish?site=1&a=b\n"
    assert (
        load_config(write(tmp_path, text)).websub.hub
        == "https://hub.example.org/publish?site=1&a=b"
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("5", None)]
)
def test_parse_interval(text: str, seconds: int | None) -> None:
    assert parse_interval(text) == seconds


def test_archives_are_off_unless_asked_for(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).feeds.archives is False
    config = load_config(write(tmp_path, MINIMAL + "feeds:\n  archives: true\n"))
    assert config.feeds.archives is True


@pytest.mark.parametrize(
    ("given", "base_url"),
    [
        ("https://ejemplo.example.org/bitácora", "https://ejemplo.example.org/bit%C3%A1cora/"),
        ("https://Bücher.example/a b/", "https://xn--bcher-kva.example/a%20b/"),
        ("https://example.org/%C3%A9/", "https://example.org/%C3%A9/"),
    ],
)
def test_a_base_url_beyond_ascii_is_written_as_a_browser_sends_it(
    tmp_path: Path, given: str, base_url: str
) -> None:
    # Every link and id is made of it: RSS links must be URLs, tag: URIs ASCII.
    text = f"site:\n  title: T\n  base_url: '{given}'\n"
    assert load_config(write(tmp_path, text)).site.base_url == base_url


def test_a_base_url_whose_host_idna_cannot_write_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = "site:\n  title: T\n  base_url: 'https://a..bé/'\n"
    with pytest.raises(ConfigError, match="has a host IDNA cannot write") as e:
        load_config(write(tmp_path, text))
    assert e.value.line == 3


def test_a_permalink_beyond_ascii_is_percent_encoded(tmp_path: Path) -> None:
    text = MINIMAL + "  permalink: /año/{slug}/\n"
    assert load_config(write(tmp_path, text)).site.permalink == "/a%C3%B1o/{slug}/"


def test_podcast_and_stylesheet(tmp_path: Path) -> None:
    text = PODCAST + "  category: News > Tech News\n  explicit: yes\n  image: art/cover.png\n"
    config = load_config(write(tmp_path, text + "feeds:\n  stylesheet: true\n"))
    assert config.feeds.stylesheet
    podcast = config.podcast
    assert podcast is not None
    assert (podcast.category, podcast.subcategory) == ("News", "Tech News")
    assert podcast.explicit
    assert podcast.image == "https://example.org/blog/art/cover.png"
    assert podcast.owner == Author("Desk", "desk@example.org")
    plain = load_config(write(tmp_path, PODCAST + "  category: Technology\n"))
    assert plain.podcast is not None
    assert (plain.podcast.subcategory, plain.podcast.explicit, plain.podcast.image) == (
        None,
        False,
        None,
    )
    assert not plain.feeds.stylesheet
    assert load_config(write(tmp_path, MINIMAL)).podcast is None


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_config_that_is_not_a_regular_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    """A FIFO held the command for good; /dev/zero filled the memory."""
    path = tmp_path / "config.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(path)


def test_a_site_description_of_the_longest_length_is_taken(tmp_path: Path) -> None:
    text = "site:\n  title: " + "T" * 10_000 + "\n  base_url: https://e.org/\n"
    text += "  description: " + "d" * 10_000 + "\n"
    config = load_config(write(tmp_path, text))
    assert len(config.site.title) == len(config.site.description) == 10_000


def test_a_control_character_in_the_config_is_an_error_at_its_line(tmp_path: Path) -> None:
    # It was a traceback: YAML refuses such a character before it reads anything.
    path = tmp_path / "config.yaml"
    path.write_bytes(b"site:\n  title: A\x00B\n  base_url: https://example.org/\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.line == 2
    assert "a character YAML does not allow: U+0000" in str(caught.value)
