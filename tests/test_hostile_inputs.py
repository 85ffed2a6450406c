"""Hostile files in the content folder, through the real pipeline: each is bounded in time
and memory and either published cleanly or reported as a problem naming it; every good
post is still published and every published feed validates.

Complements test_hostile.py (script vectors), test_discover.py (the walk on its own) and
test_yamlsafe.py (the YAML loader on its own).
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import PurePosixPath

import pytest

from feeds.config import load_config
from feeds.content.markdown import MAX_FRONT_MATTER
from feeds.model import Problem
from feeds.pipeline import regenerate
from feeds.runs import RunResult
from feeds.validate import validate_feed
from feeds.yamlsafe import YamlError, load_mapping
from tests.conftest import Site

NOW = datetime(2030, 1, 1, tzinfo=UTC)
#: what XML 1.0 cannot hold, and what the readers promise to remove (C1, U+FFFD…)
BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
GOOD = ["Good one", "Good two"]


def good_posts(site: Site) -> None:
    site.post("good1.md", GOOD[0], "2024-01-01T10:00:00Z", tags="[ok]")
    site.post("good2.md", GOOD[1], "2024-01-02T10:00:00Z")


def run(site: Site) -> RunResult:
    return regenerate(load_config(site.config_path), NOW, lock_wait=5)


def feeds_of(site: Site) -> dict[str, bytes]:
    return {
        name: data
        for name, data in site.outputs().items()
        if PurePosixPath(name).name in ("rss.xml", "atom.xml", "feed.json")
    }


def assert_published_and_valid(site: Site, result: RunResult) -> None:
    """The run published, each good post is in the site feed, every feed re-validates and
    no output holds a character a feed cannot carry."""
    assert result.published, [str(p) for p in result.feed_problems if p.level == "error"]
    items = json.loads(site.outputs()["feed.json"])["items"]
    titles = {item["title"] for item in items}
    assert set(GOOD) <= titles, titles
    for name, data in feeds_of(site).items():
        problems = validate_feed(data, "https://example.org/" + name, path=name, now=NOW)
        assert not [p for p in problems if p.level == "error"], (name, problems)
        text = json.dumps(json.loads(data), ensure_ascii=False) if name.endswith(".json") else ""
        assert not BAD_CHAR.search(text or data.decode("utf-8")), name


def the_problem(result: RunResult, path: str) -> Problem:
    """The one problem naming ``path``."""
    named = [p for p in result.problems if p.path == path]
    assert len(named) == 1, (path, [str(p) for p in result.problems])
    return named[0]


# --- characters a feed cannot carry -----------------------------------------------------

#: YAML escapes for C0 controls, NUL, DEL, C1, lone surrogates and noncharacters
ESCAPED = "\\0\\x01\\x08\\x0b\\x0c\\x1b\\x7f\\x85\\x9f\\ud800\\udfff\\ufffe\\uffff"


@pytest.mark.parametrize(
    "field",
    [
        "title",
        "author",
        "tags",
        "summary",
        "slug",
        "id",
        "body",
    ],
)
def test_illegal_characters_and_lone_surrogates_in_any_field_are_removed(
    site: Site, field: str
) -> None:
    """NUL, C0/C1 controls, lone surrogates and noncharacters written (as YAML escapes) into
    any front matter field or the body: the post is still published, without them, and
    every feed is valid. An id is the exception: what is left once they are gone (NEL
    reads as a space) is no URI, so the post is skipped with an error at the id's line."""
    values = {
        "title": '"Hostile"',
        "date": "2024-03-01T10:00:00Z",
        "author": '"Ann"',
        "tags": '["x"]',
        "summary": '"A summary"',
        "slug": '"hostile"',
        "id": '"tag:example.org,2024:hostile"',
    }
    body = "Body text."
    if field == "body":
        # Lone surrogates cannot be UTF-8: as their surrogatepass bytes, the file is read
        # as Windows-1252 with a warning. The other characters are raw in the file.
        body = "Body \x01\x0b\x1b\x7f\x85\ufffe\uffff\ud800 text.".encode(
            "utf-8", "surrogatepass"
        ).decode("utf-8", "surrogateescape")
    elif field == "tags":
        values["tags"] = f'["a{ESCAPED}b"]'
    elif field == "id":
        values["id"] = f'"tag:example.org,2024:{ESCAPED}x"'
    else:
        values[field] = f'"{field[0].upper()}{field[1:]}{ESCAPED}x"'
    front = "".join(f"{k}: {v}\n" for k, v in values.items())
    good_posts(site)
    site.write(
        "hostile.md",
        f"---\n{front}---\n\n{body}\n".encode("utf-8", "surrogateescape"),
    )
    result = run(site)
    if field == "id":
        problem = the_problem(result, "hostile.md")
        assert (problem.level, problem.line) == ("error", 8), problem
        assert result.posts == 2
    else:
        assert not result.skipped, [str(p) for p in result.skipped]
        assert result.posts == 3
    assert_published_and_valid(site, result)


@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("nul-title.md", "---\ntitle: Bad\x00Title\ndate: 2024-03-01\n---\n\nBody.\n"),
        ("nul-date.md", "---\ntitle: Bad\ndate: 2024-03-01\x00\n---\n\nBody.\n"),
        ("nul-author.md", "---\ntitle: Bad\nauthor: A\x00B\n---\n\nBody.\n"),
        ("nul-tags.md", "---\ntitle: Bad\ntags: [a\x00b]\n---\n\nBody.\n"),
        ("nul-body.md", "---\ntitle: Bad\n---\n\nBody\x00here.\n"),
        ("nul-header.txt", "Title: Bad\x00\nAuthor: A\n\nBody.\n"),
        ("nul-body.txt", "Title: Bad\n\nBody\x00here.\n"),
        ("nul-title.html", "<title>Bad\x00</title><body><p>Body.</p></body>"),
        ("nul-meta.html", "<title>Bad</title><meta name=author content='A\x00'><body>x</body>"),
    ],
)
def test_a_raw_nul_byte_anywhere_skips_the_file_with_a_message_naming_it(
    site: Site, name: str, template: str
) -> None:
    """A NUL byte in any field of any format marks a binary file: skipped with one error
    naming the file, and every other post is still published in valid feeds."""
    good_posts(site)
    site.write(name, template.encode())
    result = run(site)
    problem = the_problem(result, name)
    assert problem.level == "error" and "binary" in problem.message
    assert result.posts == 2
    assert_published_and_valid(site, result)


def test_an_id_that_is_not_a_uri_does_not_stop_the_run(site: Site) -> None:
    """`id: my-post` (SPEC §3 lets front matter pin the id) is either made a valid id or
    reported as an error on its line; it never keeps the other posts from being published."""
    good_posts(site)
    site.write("pinned.md", "---\ntitle: Pinned\nid: my-post\n---\n\nBody.\n")
    result = run(site)
    assert_published_and_valid(site, result)
    if result.skipped:
        problem = the_problem(result, "pinned.md")
        assert problem.line == 3


def test_an_image_file_name_with_a_space_does_not_stop_the_run(site: Site) -> None:
    """`image: my photo.png` (found by test_fuzz's run property, from a UTF-16 text post): the
    image URL is percent-encoded or the post reported; the other posts are published."""
    good_posts(site)
    site.write("photo.md", "---\ntitle: Photo\nimage: my photo.png\n---\n\nBody.\n")
    assert_published_and_valid(site, run(site))


# --- size -------------------------------------------------------------------------------


def test_a_ten_megabyte_line_under_the_size_limit_never_stops_the_run(site: Site) -> None:
    """A post just under the default max_post_bytes (10 MiB), its body one 10 MB line: the
    run finishes in bounded time and publishes every good post in valid feeds; the big
    post is published or reported, never the cause of no feeds at all."""
    good_posts(site)
    limit = load_config(site.config_path).max_post_bytes
    head = b"---\ntitle: Big\ndate: 2024-03-01\n---\n\n"
    site.write("ten-mb-line.md", head + b"word " * ((limit - len(head) - 10) // 5))
    assert limit - 20 < (site.root / "content" / "ten-mb-line.md").stat().st_size <= limit
    began = time.monotonic()
    result = run(site)
    assert time.monotonic() - began < 60
    assert_published_and_valid(site, result)


def ten_megabytes_of(site: Site, name: str, head: str, line: str) -> None:
    """A post of ``head``, then numbered ``line``s up to just under max_post_bytes."""
    limit = load_config(site.config_path).max_post_bytes
    lines, size, n = [head], len(head), 0
    while size + len(line) + 8 < limit:
        lines.append(line.format(n=n))
        size += len(lines[-1])
        n += 1
    site.write(name, "".join(lines))


#: a wrapper that runs `feeds build` and prints the peak memory (KB) of it and its workers:
#: RUSAGE_CHILDREN in the test's own process would be any earlier test's child's too
PEAK_OF_BUILD = (
    "import resource, subprocess, sys; "
    "done = subprocess.run([sys.executable, '-m', 'feeds', 'build', '-q', '-c', sys.argv[1]]); "
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


@pytest.mark.parametrize(
    ("name", "head", "line"),
    [
        pytest.param(
            "list.md",
            "---\ntitle: Links\ndate: 2024-03-01\n---\n\n",
            "- [item {n}](/p/{n}) *e*\n",
            id="markdown-list",
        ),
        pytest.param(
            "lines.txt", "Title: Lines\nDate: 2024-03-01\n\n", "line {n}\n\n", id="text-lines"
        ),
        pytest.param(
            "words.md", "---\ntitle: One line\ndate: 2024-03-01\n---\n\n", "word ", id="one-line"
        ),
    ],
)
def test_a_ten_megabyte_post_of_short_blocks_is_left_out_in_bounded_memory(
    site: Site, name: str, head: str, line: str
) -> None:
    """Just under max_post_bytes (10 MiB) of list items, of one-line paragraphs, or one
    line: its HTML is over the limit, so only its summary is published, and the run that
    finds it so peaks under 300 MB in any process (a list took 650 MB and 18 s)."""
    good_posts(site)
    ten_megabytes_of(site, name, head, line)
    done = subprocess.run(
        [sys.executable, "-c", PEAK_OF_BUILD, str(site.config_path)],
        cwd=site.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    status, peak = (int(word) for word in done.stdout.split()[-2:])
    assert status == 0, done.stdout
    assert "content-too-long" in done.stdout
    assert peak < 300 * 1024, f"{peak // 1024} MB"
    items = json.loads(site.outputs()["feed.json"])["items"]
    big = next(item for item in items if item["title"] not in GOOD)
    # Its summary stands in for the content (JSON Feed requires one of the two).
    assert big["summary"] and big["summary"] in big["content_html"]
    assert len(big["content_html"]) < 1000


def test_a_file_one_byte_over_the_default_limit_is_skipped_with_a_message(site: Site) -> None:
    """SPEC: max_post_bytes (default 10 MiB) bounds what is read; one byte over it, the file
    is skipped with an error naming it, its size and the setting; the rest is published."""
    good_posts(site)
    limit = load_config(site.config_path).max_post_bytes
    assert limit == 10 * 1024 * 1024
    site.write("huge.md", b"---\ntitle: Huge\n---\n\n" + b"x" * (limit - 20))
    assert (site.root / "content" / "huge.md").stat().st_size == limit + 1
    result = run(site)
    problem = the_problem(result, "huge.md")
    assert problem.level == "error"
    assert f"{limit + 1:,}" in problem.message and "max_post_bytes" in problem.message
    assert result.posts == 2
    assert_published_and_valid(site, result)


# --- deep nesting -----------------------------------------------------------------------

DEPTH = 100_000


def build_in_child(site: Site, timeout: float) -> tuple[int, float, int]:
    """`feeds build` as a child process, killed after ``timeout`` seconds: its exit status,
    wall time and the peak resident memory (MB) of any child so far."""
    began = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "feeds", "build", "-c", str(site.config_path)],
            cwd=site.root,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"feeds build did not finish within {timeout:g}s")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return done.returncode, time.monotonic() - began, peak


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param(
            "deep.md",
            b"---\ntitle: Deep\ndate: 2024-03-01\n---\n\n"
            + b"<div>" * DEPTH
            + b"deep text"
            + b"</div>" * DEPTH,
            id="markdown",
        ),
        pytest.param(
            "deep.html",
            b"<title>Deep</title><body>" + b"<div>" * DEPTH + b"deep text" + b"</div>" * DEPTH,
            id="html",
        ),
        pytest.param(
            "unclosed.html",
            b"<title>Deep</title><body>" + b"<div><span><p><b>" * (DEPTH // 4) + b"deep text",
            id="html-unclosed",
        ),
    ],
)
def test_deeply_nested_html_is_bounded_in_time_and_memory(
    site: Site, name: str, data: bytes
) -> None:
    """100,000 nested elements in a post (Markdown raw HTML or an HTML file): `feeds build`
    finishes in under 15 s and 1 GB, exit 0 or 1, and the feeds it published are valid."""
    good_posts(site)
    site.write(name, data)
    status, _, peak = build_in_child(site, timeout=15)
    assert status in (0, 1), status
    assert peak < 1024, f"{peak} MB"
    items = json.loads(site.outputs()["feed.json"])["items"]
    assert set(GOOD) <= {item["title"] for item in items}
    for feed, body in feeds_of(site).items():
        problems = validate_feed(body, "https://example.org/" + feed, path=feed, now=NOW)
        assert not [p for p in problems if p.level == "error"], (feed, problems)


# --- YAML bombs -------------------------------------------------------------------------

LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("front", "line"),
    [
        pytest.param(f"title: Laughs\n{LAUGHS}", 4, id="billion-laughs"),
        pytest.param(
            "title: Aliases\nbig: &big [" + ",".join(["x" * 100] * 1000) + "]\n"
            "many: [" + ",".join(["*big"] * 10_000) + "]\n",
            4,
            id="huge-aliases",
        ),
        pytest.param("title: Merge\nbase: &b {t: x}\n<<: *b\n", 4, id="merge-key"),
        pytest.param("title: Open\ntags: " + "[" * 100_000 + "\n", None, id="deep-open-flow"),
        pytest.param(
            "title: Closed\ntags: " + "[" * 50_000 + "]" * 50_000 + "\n", None, id="deep-flow"
        ),
        pytest.param("title: Map\nx: " + "{a: " * 50_000 + "\n", None, id="deep-open-map"),
        pytest.param(
            "title: Block\n" + "".join(" " * n + f"k{n}:\n" for n in range(2000)),
            None,
            id="deep-block",
        ),
    ],
)
def test_yaml_bombs_are_located_errors_and_the_run_goes_on(
    site: Site, front: str, line: int | None
) -> None:
    """Billion laughs, ten thousand aliases of a big list, merge keys, and flow or block
    nesting tens of thousands deep: each is skipped in bounded time as one error naming the
    file and a line of its front matter (the alias's own line where there is one)."""
    good_posts(site)
    path = site.write("bomb.md", f"---\n{front}---\n\nBody.\n".encode())
    closing = path.read_text(encoding="utf-8").split("\n").index("---", 1) + 1
    began = time.monotonic()
    result = run(site)
    assert time.monotonic() - began < 30
    problem = the_problem(result, "bomb.md")
    assert problem.level == "error"
    assert problem.line is not None and 1 <= problem.line <= closing, problem
    if len(front) > MAX_FRONT_MATTER:
        # Not even handed to YAML's reader: too long for front matter.
        assert (problem.line, problem.message.startswith("front matter over")) == (1, True)
    else:
        if line is not None:
            assert problem.line == line, problem
        assert "yaml" in problem.message.lower()
    assert result.posts == 2
    assert_published_and_valid(site, result)


@pytest.mark.parametrize(
    "front",
    [
        "big: &big ["
        + ",".join(["x" * 100] * 1000)
        + "]\nmany: ["
        + ",".join(["*big"] * 10_000)
        + "]\n",
        "tags: " + "[" * 100_000 + "\n",
        "tags: " + "[" * 50_000 + "]" * 50_000 + "\n",
        "x: " + "{a: " * 50_000 + "\n",
    ],
    ids=["huge-aliases", "deep-open-flow", "deep-flow", "deep-open-map"],
)
def test_yaml_bombs_past_the_front_matter_limit_are_yaml_errors_to_the_reader(front: str) -> None:
    """The same bombs reach YAML's reader from config.yaml: refused there as YAML, in
    bounded time, never a traceback."""
    with pytest.raises(YamlError):
        load_mapping(front)


# --- links --------------------------------------------------------------------------------

SECRET = "SECRET-3b1f-outside-the-content-folder"


def test_links_out_of_the_content_folder_and_folder_loops_are_not_followed(
    site: Site,
) -> None:
    """A link to a post outside the content folder, a link to a folder outside it and a link
    to the content folder itself (a loop): none is followed, each is named in a message,
    nothing from outside reaches a feed, and the good posts are published."""
    outside = site.root / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"---\ntitle: {SECRET}\n---\n\n{SECRET}\n")
    good_posts(site)
    content = site.root / "content"
    (content / "escape.md").symlink_to(outside / "secret.md")
    (content / "linked").symlink_to(outside, target_is_directory=True)
    (content / "loop").symlink_to(content, target_is_directory=True)
    result = run(site)
    for name in ("escape.md", "linked", "loop"):
        problem = the_problem(result, name)
        assert problem.code == "symlink" and "not followed" in problem.message
    assert result.posts == 2
    assert_published_and_valid(site, result)
    assert not any(SECRET.encode() in data for data in site.outputs().values())


def test_a_loop_of_file_links_is_reported_not_fatal(site: Site) -> None:
    """Two links pointing at each other (a.md → b.md → a.md): the run
    still publishes every good post, and names the links in its problems."""
    good_posts(site)
    content = site.root / "content"
    (content / "a.md").symlink_to(content / "b.md")
    (content / "b.md").symlink_to(content / "a.md")
    result = run(site)
    assert {"a.md", "b.md"} <= {p.path for p in result.problems}
    assert result.posts == 2
    assert_published_and_valid(site, result)
