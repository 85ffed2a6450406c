"""Nothing lost, nothing let in: every failure mode of the machine, through the real CLI.

- a `feeds build` killed with SIGKILL at random moments leaves every published file
  either as it was or as the next good run makes it, and a state the next run reads;
- an unwritable output folder, a full disk, a deleted or damaged `state_dir`, and a
  post deleted or rewritten while a run reads it each give a clear message, no
  traceback, keep the good feeds, and the next healthy run recovers;
- `feeds build` from cron beside `feeds serve`'s own job: nobody ever reads a torn file.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.cache import load_caches
from feeds.cli import cli
from feeds.state import load_state
from tests.conftest import CONFIG, OLD_MTIME, Site
from tests.service import Service, free_port, request, wait_for

#: SIGKILLs the crash test delivers to running builds (at least this many)
KILLS = int(os.environ.get("FEEDS_FAULT_KILLS", "100"))
#: killed runs per round of unchanged content; each round ends with a run left alone
KILLS_PER_ROUND = 6
SIGKILL_STATUS = -signal.SIGKILL

Files = dict[str, bytes]


def feeds(
    *args: str, cwd: Path | None = None, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        preexec_fn=preexec_fn,
        timeout=120,
    )


def published(folder: Path) -> Files:
    """Every file a reader can be handed (hidden files are never served)."""
    if not folder.is_dir():
        return {}
    found: Files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            found[rel] = path.read_bytes()
    return found


def leftovers(folder: Path) -> list[str]:
    """Temporary files of an interrupted atomic write."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(".*.tmp"))


def assert_complete(rel: str, data: bytes) -> None:
    """``data`` is a whole document of its kind: strict XML, JSON, or HTML to its end."""
    if rel.endswith((".xml", ".opml")):
        etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    elif rel.endswith(".json"):
        doc = json.loads(data)
        assert doc["version"] == "https://jsonfeed.org/version/1.1", rel
    elif rel.endswith(".html"):
        assert data.rstrip().endswith(b"</html>"), f"{rel} is cut short"
    else:
        raise AssertionError(f"unexpected file {rel} in the output folder")


def assert_state_readable(state_dir: Path) -> None:
    """What a run leaves in ``state_dir`` parses strictly (corrupt files raise ValueError)."""
    state = state_dir / "state.json"
    if state.exists():
        load_state(state.read_bytes())
    cache = state_dir / "cache.json"
    if cache.exists():
        lines = cache.read_bytes().splitlines(keepends=True)
        load_caches(lines, json.loads(lines[0])["fingerprint"])


def invoke_build(config: Path) -> tuple[int, str]:
    """`feeds build -c config` through click in this process (no interpreter start-up):
    its exit status and everything it printed; nothing but SystemExit may escape it."""
    result = CliRunner().invoke(cli, ["build", "-c", str(config)])
    assert isinstance(result.exception, SystemExit | None), result.output + "".join(
        traceback.format_exception(*result.exc_info or (None, None, None))
    )
    return result.exit_code, result.output


def no_traceback(run: subprocess.CompletedProcess[str]) -> str:
    """The run's whole output, after checking that no Python traceback reached the user."""
    out = run.stdout + run.stderr
    assert "Traceback" not in out, out
    return out


# -- 1. crash safety ------------------------------------------------------------------


class ChangingSite:
    """A site of a few hundred dated posts whose content changes between rounds.

    Every post has a unique title, file name and date, so the newest ``limit`` titles
    are known without building, and ids never depend on what the state remembers. A
    round changes a handful of feeds, as a day of writing does: runs stay short.
    """

    CONFIG = CONFIG + "feeds:\n  per_author: false\n"

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.content = root / "content"
        self.content.mkdir(parents=True)
        (root / "config.yaml").write_text(self.CONFIG, encoding="utf-8")
        #: file name → (title, date, tags)
        self.posts: dict[str, tuple[str, datetime, list[str]]] = {}
        self.versions: dict[str, int] = {}
        self.counter = 0
        self.mtime = OLD_MTIME
        base = datetime(2023, 1, 1, tzinfo=UTC)
        for n in range(240):
            self.add(base + timedelta(hours=7 * n), [f"t{n % 3}"])

    def _write(self, name: str) -> None:
        title, date, tags = self.posts[name]
        words = " ".join(self.rng.choice(("alpha", "beta", "gamma", "delta")) for _ in range(60))
        text = (
            f"---\ntitle: {title}\ndate: {date.isoformat()}\ntags: [{', '.join(tags)}]\n---\n\n"
            f"Version {self.versions[name]} of {title}. {words}\n\nA second, *emphasised*.\n"
        )
        path = self.content / name
        path.write_text(text, encoding="utf-8")
        self.mtime += 10  # every write has its own time: no run can mistake it for the last
        os.utime(path, (self.mtime, self.mtime))

    def add(self, date: datetime, tags: list[str]) -> str:
        name = f"p{self.counter:04d}.md"
        self.posts[name] = (f"Post {self.counter}", date, tags)
        self.versions[name] = 0
        self.counter += 1
        self._write(name)
        return name

    def edit(self, name: str) -> None:
        self.versions[name] += 1
        self._write(name)

    def delete(self, name: str) -> None:
        (self.content / name).unlink()
        del self.posts[name], self.versions[name]

    def change(self, round_no: int) -> None:
        """Add a newest post with a tag of its own, edit a shown post and a hidden one,
        delete an older round's post (its tag's feeds go) and a hidden one."""
        newest = max(date for _, date, _ in self.posts.values())
        self.add(newest + timedelta(hours=1), [f"round{round_no}"])
        by_date = sorted(self.posts, key=lambda n: self.posts[n][1], reverse=True)
        self.edit(self.rng.choice(by_date[1:20]))
        self.edit(self.rng.choice(by_date[100:]))
        gone = [n for n in by_date if f"round{round_no - 2}" in self.posts[n][2]]
        gone.append(self.rng.choice(by_date[100:]))
        for name in set(gone):
            self.delete(name)

    def newest_titles(self, limit: int = 20) -> list[str]:
        order = sorted(self.posts.values(), key=lambda p: p[1], reverse=True)
        return [title for title, _, _ in order[:limit]]


def _start_build(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "feeds", "build", "-q", "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the kill takes its worker processes too
        )


def _changed(folder: Path, since: int, process: subprocess.Popen[bytes]) -> bool:
    """Wait until ``folder`` changes (a file made, replaced or removed in it) or the run ends."""
    while process.poll() is None:
        if folder.stat().st_mtime_ns != since:
            return True
        time.sleep(0.0005)
    return False


def kill_at_random(site: Path, duration: float, rng: random.Random, log: Path) -> int:
    """Start a build and SIGKILL it (and its workers) at a random moment; its exit status.

    Most kills come after a delay drawn over a measured whole run; the others come a
    random instant after the run starts replacing files or writing its state, the
    short stretches a uniform delay rarely hits.
    """
    public, state_dir = site / "public", site / ".feeds"
    marks = {p: p.stat().st_mtime_ns for p in (public, state_dir)}
    process = _start_build(site / "config.yaml", log)
    mode = rng.random()
    if mode < 0.5:
        time.sleep(rng.uniform(0, duration))
    elif mode < 0.85:
        if _changed(public, marks[public], process):
            time.sleep(rng.uniform(0, 0.01))
    elif _changed(state_dir, marks[state_dir], process):
        time.sleep(rng.uniform(0, 0.003))
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait(timeout=60)


def timed_build(site: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    run = feeds("build", "-q", "-c", str(site / "config.yaml"))
    return run, time.monotonic() - started


def crash_chain(root: Path, seed: int, kills: int) -> dict[str, int]:
    """Rounds of: change the content, SIGKILL builds at random moments, check what each
    left, then a build left alone. How many kills found the files untouched, amid being
    written or replaced, and all replaced."""
    rng = random.Random(seed)
    changing = ChangingSite(root, rng)
    log = root.parent / f"{root.name}-killed.log"
    first, duration = timed_build(root)
    assert first.returncode == 0, first.stdout + first.stderr
    before = published(root / "public")
    done_kills = 0
    seen = {"untouched": 0, "amid-files": 0, "all-replaced": 0}
    round_no = 0
    while done_kills < kills:
        round_no += 1
        assert round_no <= 3 * kills // KILLS_PER_ROUND + 5, "runs keep ending before the kill"
        changing.change(round_no)
        snapshots: list[Files] = []
        #: whether the kill found new files being written beside the published ones
        staging: list[bool] = []
        for _ in range(KILLS_PER_ROUND):
            status = kill_at_random(root, duration, rng, log)
            if status == 0:
                break  # it finished first: this round's content is published
            assert status == SIGKILL_STATUS, log.read_text(encoding="utf-8")
            done_kills += 1
            snapshot = published(root / "public")
            for rel, data in snapshot.items():
                assert_complete(rel, data)
            assert_state_readable(root / ".feeds")
            snapshots.append(snapshot)
            staging.append(bool(leftovers(root / "public")))
        recovery, duration = timed_build(root)
        assert (recovery.returncode, recovery.stdout, recovery.stderr) == (0, "", ""), round_no
        after = published(root / "public")
        assert leftovers(root / "public") == [], "temporary files outlive the next good run"
        items = json.loads(after["feed.json"])["items"]
        assert [item["title"] for item in items] == changing.newest_titles(), round_no
        assert f"tags/round{round_no}/rss.xml" in after
        assert f"tags/round{round_no - 2}/rss.xml" not in after
        replaced = {
            rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel)
        }
        for snapshot, amid in zip(snapshots, staging, strict=True):
            for rel in before.keys() | after.keys() | snapshot.keys():
                assert snapshot.get(rel) in (before.get(rel), after.get(rel)), (round_no, rel)
            done = {rel for rel in replaced if snapshot.get(rel) == after.get(rel)}
            if amid or (done and done != replaced):
                seen["amid-files"] += 1
            else:
                seen["untouched" if not done else "all-replaced"] += 1
        before = after
    # Nothing stale survived the crashes: a build from nothing gives the same bytes.
    fresh = root.parent / f"{root.name}-fresh"
    fresh.mkdir()
    shutil.copy2(root / "config.yaml", fresh / "config.yaml")
    shutil.copytree(root / "content", fresh / "content")
    assert feeds("build", "-q", "-c", str(fresh / "config.yaml")).returncode == 0
    assert published(fresh / "public") == published(root / "public")
    return seen


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_old_or_new_files_and_a_usable_state(
    tmp_path: Path,
) -> None:
    """A build killed with SIGKILL anywhere (reading, building, replacing files, writing
    the state) leaves every published file complete and byte-equal to the file before
    the run or to what the next good run makes, and a state_dir that parses strictly;
    the next run left alone exits 0 with every post in place, and in the end the site is
    byte-identical to a from-scratch build of the same content.

    Two sites are crashed side by side (one per core), ``KILLS`` kills in all.
    """
    with ThreadPoolExecutor(2) as pool:
        chains = [
            pool.submit(crash_chain, tmp_path / f"site{n}", 20240505 + n, (KILLS + n) // 2)
            for n in range(2)
        ]
        counts = [chain.result() for chain in chains]
    seen = {kind: sum(c[kind] for c in counts) for kind in counts[0]}
    assert sum(seen.values()) >= KILLS
    # The kills reached every stage: before any file, amid the files, after them.
    assert min(seen.values()) >= 3, seen


# -- 2. faults of the machine ---------------------------------------------------------


def good_site(site: Site) -> Files:
    """A small site built once, cleanly: its published files."""
    site.post("a.md", "Alpha", tags="[one, two]")
    site.post("b.md", "Beta", date="2024-05-02T10:00:00Z", tags="[two]")
    code, out = invoke_build(site.config_path)
    assert code == 0, out
    return site.outputs()


def assert_recovers(site: Site, titles: list[str]) -> None:
    """The next healthy run exits 0 and publishes every post, in every file."""
    code, out = invoke_build(site.config_path)
    assert code == 0, out
    assert "warning" not in out and "error" not in out, out
    outputs = site.outputs()
    for rel, data in outputs.items():
        assert_complete(rel, data)
    items = json.loads(outputs["feed.json"])["items"]
    assert [item["title"] for item in items] == titles
    assert_state_readable(site.root / ".feeds")


def test_an_unwritable_place_in_the_output_folder_replaces_no_feed(site: Site) -> None:
    """A file where the run must make a folder (this stops root too, unlike chmod): exit 3,
    a message naming the path and the reason, not one published file replaced, and the
    run after the obstacle is gone publishes everything."""
    good = good_site(site)
    site.post("c.md", "Gamma", date="2024-05-03T10:00:00Z", tags="[fresh]")
    obstacle = site.public / "tags" / "fresh"
    obstacle.write_bytes(b"in the way")
    run = feeds("build", "-c", str(site.config_path))
    out = no_traceback(run)
    assert run.returncode == 3, out
    assert "NOT PUBLISHED" in out
    assert f"cannot write in {obstacle}: File exists" in out, out
    assert {k: v for k, v in site.outputs().items() if k != "tags/fresh"} == good
    obstacle.unlink()
    assert_recovers(site, ["Gamma", "Beta", "Alpha"])
    assert "tags/fresh/atom.xml" in site.outputs()


def test_a_read_only_output_folder_replaces_no_feed(site: Site) -> None:
    """Output folder without write permission (chmod; not a barrier for root, so skipped
    there: the obstacle test covers root): exit 3, a clear message, good feeds kept."""
    if os.geteuid() == 0:
        pytest.skip("root writes through chmod; see the obstacle test")
    good = good_site(site)
    site.post("c.md", "Gamma", date="2024-05-03T10:00:00Z")
    site.public.chmod(0o555)
    try:
        run = feeds("build", "-c", str(site.config_path))
    finally:
        site.public.chmod(0o755)
    out = no_traceback(run)
    assert run.returncode == 3, out
    assert f"cannot write in {site.public}: Permission denied" in out, out
    assert site.outputs() == good
    assert_recovers(site, ["Gamma", "Beta", "Alpha"])


def _file_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # A file may not grow past ``limit`` bytes: writes fail with EFBIG as on a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("change", ["a post added", "a body edited"])
def test_a_full_disk_replaces_no_feed(site: Site, tmp_path: Path, change: str) -> None:
    """Writes that fail part-way through a publish (RLIMIT_FSIZE in the child: EFBIG, as
    ENOSPC would be): exit 3, the reason printed, not one good feed replaced (not even
    the ones written before the failure), no temporary file left, and the next run with
    room publishes everything. A body edited alone is published through the index, and
    fails the same way."""
    good = good_site(site)
    long_title = "Gamma " + "long " * 200
    if change == "a post added":
        site.post("c.md", long_title, date="2024-05-03T10:00:00Z", tags="[one]")
    else:
        beta = site.root / "content" / "b.md"
        site.write("b.md", beta.read_text(encoding="utf-8") + "Longer. " * 400, OLD_MTIME + 9)
    # What the run will write, from a scratch copy: the limit lets the first changed
    # file through and stops a later, larger one.
    scratch = tmp_path / "scratch"
    shutil.copytree(site.root, scratch)
    assert invoke_build(scratch / "config.yaml")[0] == 0
    new = published(scratch / "public")
    order = sorted(rel for rel in new if new[rel] != good.get(rel))
    limit = len(new[order[0]]) + 1
    assert any(len(new[rel]) > limit for rel in order[1:]), "the sizes make no partial write"
    run = feeds("build", "-c", str(site.config_path), preexec_fn=_file_limit(limit))
    out = no_traceback(run)
    assert run.returncode == 3, out
    assert "NOT PUBLISHED" in out and "File too large" in out, out
    assert site.outputs() == good
    assert leftovers(site.public) == []
    titles = (
        ["Beta", "Alpha"] if change == "a body edited" else [long_title.strip(), "Beta", "Alpha"]
    )
    assert_recovers(site, titles)


def test_a_deleted_state_dir_costs_nothing_published(site: Site) -> None:
    """state_dir removed between runs: the next run exits 0, rewrites no file (bytes and
    times stay, so readers' validators stay), and makes a state the run after trusts."""
    good = good_site(site)
    mtimes = site.mtimes()
    shutil.rmtree(site.root / ".feeds")
    code, out = invoke_build(site.config_path)
    assert code == 0, out
    assert "0 file(s) written" in out, out
    assert (site.outputs(), site.mtimes()) == (good, mtimes)
    assert_recovers(site, ["Beta", "Alpha"])
    assert (site.outputs(), site.mtimes()) == (good, mtimes)


def _state_damage() -> dict[str, Callable[[bytes], bytes]]:
    """Ways state.json can be damaged: cut, garbage, valid JSON of the wrong shapes."""

    def edit(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
        def damaged(data: bytes) -> bytes:
            doc = json.loads(data)
            change(doc)
            return json.dumps(doc).encode()

        return damaged

    def first_post(doc: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = next(iter(doc["posts"].values()))
        return entry

    return {
        "truncated": lambda data: data[: len(data) // 2],
        "empty": lambda data: b"",
        "garbage": lambda data: b"\x00\xff\xfe not json at all \x80",
        "a-list": lambda data: b"[1, 2, 3]",
        "posts-a-list": edit(lambda doc: doc.update(posts=[])),
        "published-a-dict": edit(lambda doc: doc.update(published={})),
        "published-numbers": edit(lambda doc: doc.update(published=[1, 2])),
        "id-a-number": edit(lambda doc: first_post(doc).update(id=7)),
        "date-garbage": edit(lambda doc: first_post(doc).update(first_seen="yesterday")),
        "date-naive": edit(lambda doc: first_post(doc).update(first_seen="2024-01-01T00:00")),
        "outputs-a-list": edit(lambda doc: doc.update(outputs=[1])),
        "output-short": edit(lambda doc: doc.update(outputs={"rss.xml": ["x"]})),
        "output-nulls": edit(lambda doc: doc.update(outputs={"rss.xml": [None, None, None]})),
        "version-2": edit(lambda doc: doc.update(version=2)),
    }


STATE_DAMAGE = _state_damage()


@pytest.mark.parametrize("damage", sorted(STATE_DAMAGE))
def test_a_damaged_state_file_is_reported_and_replaced(
    site: Site, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged state.json is named in a warning, never trusted and never a traceback;
    the feeds keep their bytes (dated posts keep their ids), and the run writes a good
    state that the next run reads without a word."""
    good = good_site(site)
    state = site.root / ".feeds" / "state.json"
    state.write_bytes(STATE_DAMAGE[damage](state.read_bytes()))
    # Run from the site's folder, as a crontab line does (`cd site && feeds build`).
    monkeypatch.chdir(site.root)
    code, out = invoke_build(Path("config.yaml"))
    assert code == 0, out
    # The path is shown relative to the working folder.
    assert "\n  .feeds/state.json: warning: ignored a damaged state file" in out, out
    assert site.outputs() == good
    assert_recovers(site, ["Beta", "Alpha"])
    assert site.outputs() == good


@pytest.mark.parametrize("gone", ["renamed", "mistyped in the config", "a file"])
def test_a_content_folder_that_cannot_be_listed_changes_nothing(site: Site, gone: str) -> None:
    """A content folder gone (renamed, its name mistyped, a file in its place) is a
    usage error: exit 2, the folder named, and nothing published or removed (every post
    would otherwise look deleted, its feeds emptied or removed)."""
    good = good_site(site)
    state = {p.name: p.read_bytes() for p in (site.root / ".feeds").iterdir()}
    content = site.root / "content"
    if gone == "renamed":
        content.rename(site.root / "posts")
    elif gone == "mistyped in the config":
        config = site.config_path.read_text(encoding="utf-8")
        site.config_path.write_text(config.replace("content_dir: content", "content_dir: contnt"))
    else:
        shutil.rmtree(content)
        content.write_text("a file where the folder was\n", encoding="utf-8")
    code, out = invoke_build(site.config_path)
    assert code == 2, out
    assert "error: cannot list the content folder" in out and "(content_dir)" in out, out
    assert site.outputs() == good
    assert {p.name: p.read_bytes() for p in (site.root / ".feeds").iterdir()} == state


def test_a_damaged_state_cannot_remove_files_outside_the_output_folder(site: Site) -> None:
    """Paths in state.json's list of published files are not trusted: a damaged or
    planted entry pointing outside the output folder never makes a run delete there."""
    good_site(site)
    victim = site.root / "precious.txt"
    victim.write_bytes(b"keep me")
    state = site.root / ".feeds" / "state.json"
    doc = json.loads(state.read_bytes())
    doc["published"] += ["../precious.txt", str(victim), "../content/a.md"]
    state.write_bytes(json.dumps(doc).encode())
    code, out = invoke_build(site.config_path)
    assert code == 0, out
    assert victim.read_bytes() == b"keep me"
    assert (site.root / "content" / "a.md").exists()
    assert_recovers(site, ["Beta", "Alpha"])


def _cache_damage() -> dict[str, Callable[[bytes], bytes]]:
    """Ways cache.json can be damaged: cut, garbage, valid JSON of the wrong shapes, a
    letter changed."""

    def lines(change: Callable[[list[Any]], None], which: str) -> Callable[[bytes], bytes]:
        """``change`` each post line (a list of six) or each rendered line (of three)."""

        def damaged(data: bytes) -> bytes:
            out = []
            for line in data.splitlines():
                value = json.loads(line)
                if isinstance(value, list) and len(value) == (6 if which == "post" else 3):
                    change(value)
                    line = json.dumps(value).encode()
                out.append(line + b"\n")
            return b"".join(out)

        return damaged

    def source(index: int, value: Any) -> Callable[[bytes], bytes]:
        return lines(lambda post: post[5].__setitem__(index, value), "post")

    def rendered(value: Any) -> Callable[[bytes], bytes]:
        return lines(lambda entry: entry.__setitem__(slice(1, 3), value), "rendered")

    def cut_at_a_line(data: bytes) -> bytes:
        return b"".join(data.splitlines(keepends=True)[:-2])

    return {
        "truncated": lambda data: data[: len(data) // 2],
        "cut-at-a-line": cut_at_a_line,
        "garbage": lambda data: b"\x00\xff\xfe not json at all \x80",
        "posts-a-dict": lines(lambda post: post.__setitem__(5, {"title": post[5][1]}), "post"),
        "title-a-number": source(1, 42),
        "authors-a-string": source(4, "Desk"),
        "an-author-of-three-letters": source(4, ["Ann"]),
        "duration-a-bool": source(15, True),
        "settled-a-number": lines(lambda post: post.__setitem__(4, 1), "post"),
        "tags-a-number": source(6, 5),
        "warnings-a-string": source(14, "oops"),
        "rendered-numbers": rendered([1, 2]),
        "rendered-short": rendered(["only one"]),
        # Whole and of the right types: only the digest that ends the file tells.
        "a-title-changed": lambda data: data.replace(b'"Alpha"', b'"Alphx"', 1),
        "a-letter-of-html-changed": lambda data: data.replace(b"<p>", b"<b>", 1),
    }


CACHE_DAMAGE = _cache_damage()


@pytest.mark.parametrize("damage", sorted(CACHE_DAMAGE))
def test_a_damaged_cache_file_is_refused_whole(site: Site, damage: str) -> None:
    """Every damage makes the cache unusable (ValueError, never another exception),
    while the cache as written loads."""
    site.post("a.md", "Alpha", tags="[one, two]")
    site.post("b.md", "Beta", date="2024-05-02T10:00:00Z", tags="[two]")
    assert invoke_build(site.config_path)[0] == 0
    data = (site.root / ".feeds" / "cache.json").read_bytes()
    fingerprint = json.loads(data.split(b"\n", 1)[0])["fingerprint"]
    assert len(load_caches(data.splitlines(keepends=True), fingerprint).posts) == 2
    with pytest.raises(ValueError, match="unusable cache"):
        load_caches(CACHE_DAMAGE[damage](data).splitlines(keepends=True), fingerprint)


#: damage that cache.load_caches lets through today (see the docstring below)


@pytest.mark.parametrize(
    "damage",
    [pytest.param(name) for name in sorted(CACHE_DAMAGE)],
)
def test_a_damaged_cache_file_changes_nothing_published(site: Site, damage: str) -> None:
    """A damaged cache.json is ignored or its bad entries rejected: no traceback, exit 0,
    every feed byte-identical to the good build once content changes make a feed be
    made again, and the next run is clean."""
    site.post("a.md", "Alpha", tags="[one, two]")
    site.post("b.md", "Beta", date="2024-05-02T10:00:00Z", tags="[two]")
    assert invoke_build(site.config_path)[0] == 0
    cache = site.root / ".feeds" / "cache.json"
    cache.write_bytes(CACHE_DAMAGE[damage](cache.read_bytes()))
    # A new post at the newest one's instant makes a full run (it is moved a second on),
    # which makes the site feed again from what the cache says of the rest.
    site.post("c.md", "Gamma", date="2024-05-02T10:00:00Z", tags="[two, three]")
    code, out = invoke_build(site.config_path)
    assert code == 0, out
    healthy = site.root / "healthy"
    shutil.copytree(site.root / "content", healthy / "content")
    shutil.copy2(site.config_path, healthy / "config.yaml")
    assert invoke_build(healthy / "config.yaml")[0] == 0
    assert site.outputs() == published(healthy / "public")
    assert_recovers(site, ["Gamma", "Beta", "Alpha"])


def _fill(pipe: int) -> None:
    """Fill a pipe to the brim, so that whoever writes to it next waits for a reader."""
    os.set_blocking(pipe, False)
    for size in (65536, 4096, 1):
        try:
            while True:
                os.write(pipe, b"\n" * size)
        except BlockingIOError:
            pass
    os.set_blocking(pipe, True)


def build_paused_at_first_progress(
    site: Site, meanwhile: Callable[[], None]
) -> subprocess.CompletedProcess[str]:
    """Run `feeds build`, held at its first progress line (before the last posts are
    read) by a full stderr pipe; call ``meanwhile``; let it go on."""
    reading, writing = os.pipe()
    _fill(writing)
    stdout = site.root / "stdout.txt"
    with stdout.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "feeds", "build", "-c", str(site.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=writing,
        )
    os.close(writing)
    try:

        def blocked() -> bool:
            assert process.poll() is None, stdout.read_text(encoding="utf-8")
            wchan = Path(f"/proc/{process.pid}/wchan").read_text(encoding="utf-8")
            return "pipe_write" in wchan

        wait_for(blocked, "the build to wait on its progress line", timeout=30)
        meanwhile()
    finally:
        err = bytearray()
        drain = threading.Thread(target=lambda: _read_all(reading, err), daemon=True)
        drain.start()
        status = process.wait(timeout=60)
        drain.join(timeout=10)
        os.close(reading)
    text = err.lstrip(b"\n").decode("utf-8", errors="replace")
    assert text.startswith("reading: "), text  # it waited where we meant it to
    return subprocess.CompletedProcess(process.args, status, stdout.read_text("utf-8"), text)


def _read_all(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 65536):
        into += chunk


def _read_all_again(site: Site) -> None:
    """Make the next run read every post from disk: new file times, no cached HTML."""
    (site.root / ".feeds" / "cache.json").unlink(missing_ok=True)
    for n, post in enumerate(sorted((site.root / "content").iterdir())):
        os.utime(post, (OLD_MTIME + 100 + n, OLD_MTIME + 100 + n))


@pytest.fixture
def big_site(site: Site) -> Site:
    """1000 posts (enough for progress lines when not on a terminal), p0000 the newest,
    built once with a warm cache."""
    site.configure("feeds:\n  per_tag: false\n  per_author: false\n")
    base = datetime(2024, 5, 1, tzinfo=UTC)
    for n in range(1000):
        date = (base - timedelta(hours=n)).isoformat()
        site.write(f"p{n:04d}.md", f"---\ntitle: Post {n}\ndate: {date}\n---\n\nBody {n}.\n")
    assert invoke_build(site.config_path)[0] == 0
    return site


def test_a_post_deleted_or_rewritten_before_the_run_reads_it_is_skipped_by_name(
    big_site: Site,
) -> None:
    """Between the run listing the folder and reading a post, one post is deleted and
    another is rewritten in place, half-way (an editor saving): each is skipped with an
    error naming its file, the rest are published (exit 1), and once the edit is
    finished the next run publishes it (exit 0)."""
    site = big_site
    _read_all_again(site)
    good = site.outputs()
    half = b"---\ntitle: Post 998\ndate: [2024-"

    def meanwhile() -> None:
        (site.root / "content" / "p0999.md").unlink()
        (site.root / "content" / "p0998.md").write_bytes(half)

    run = build_paused_at_first_progress(site, meanwhile)
    out = no_traceback(run)
    assert run.returncode == 1, out
    assert "content/p0999.md: error: cannot read: No such file or directory" in out, out
    assert "content/p0998.md:1: error: front matter" in out, out
    assert site.outputs() == good  # neither post is among the newest 20
    site.post("p0998.md", "Post 998", date="2023-01-01T00:00:00Z")
    titles = [f"Post {n}" for n in range(20)]
    assert_recovers(site, titles)


def test_a_post_deleted_during_the_run_is_skipped_alone(big_site: Site) -> None:
    """The newest post is deleted while the run is held at its first progress line: the
    run names the file and skips that post alone (exit 1), publishing the others; the
    next run publishes the feeds without it. (Reading happens in worker processes once
    the run goes on; tests/test_pipeline.py deletes a post after it was read.)"""
    site = big_site
    _read_all_again(site)
    site.post("pnew.md", "Newest", date="2024-06-01T00:00:00Z")  # the site feed is made again
    run = build_paused_at_first_progress(
        site, lambda: (site.root / "content" / "p0000.md").unlink()
    )
    out = no_traceback(run)
    assert "content/p0000.md" in out and "cannot read" in out, out
    assert run.returncode == 1, out
    assert_recovers(site, ["Newest", *(f"Post {n}" for n in range(1, 20))])


# -- 3. cron beside the service -------------------------------------------------------


def test_cron_build_beside_a_serving_service_never_tears_a_file(tmp_path: Path) -> None:
    """`feeds serve` rebuilding every second and `feeds build` from cron on the same
    config, with the content changing: the builds wait for the lock and exit 0, and every
    file read meanwhile, from the folder or over HTTP, is complete and valid."""
    rng = random.Random(7)
    changing = ChangingSite(tmp_path / "site", rng)
    root = changing.root
    port = free_port()
    (root / "config.yaml").write_text(
        ChangingSite.CONFIG + f"schedule:\n  interval: 1s\nserver:\n  port: {port}\n",
        encoding="utf-8",
    )
    service = Service(root / "config.yaml", port, tmp_path / "serve.log")
    stop = threading.Event()
    reads = {"files": 0, "http": 0}
    torn: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                paths = sorted((root / "public").rglob("[!.]*.*"))
            except FileNotFoundError:
                continue  # a folder removed while it was listed (an older round's tag)
            for path in paths:
                try:
                    data = path.read_bytes()
                except (FileNotFoundError, IsADirectoryError):
                    continue  # a feed removed meanwhile (an older round's tag)
                try:
                    assert_complete(path.name, data)
                except Exception as e:
                    torn.append(f"{path.name}: {e!r}")
                reads["files"] += 1
            for url_path in ("/rss.xml", "/atom.xml", "/feed.json", "/tags/t0/atom.xml"):
                try:
                    response = request(port, url_path)
                except OSError:
                    continue
                if response.status == 200:
                    try:
                        assert_complete(url_path, response.body)
                    except Exception as e:
                        torn.append(f"http {url_path}: {e!r}")
                    reads["http"] += 1

    try:
        service.wait_until_up()
        watcher = threading.Thread(target=reader, daemon=True)
        watcher.start()
        builds = []
        for round_no in range(1, 5):
            changing.change(round_no)
            builds.append(feeds("build", "-c", str(root / "config.yaml")))
        stop.set()
        watcher.join(timeout=30)
        health = service.health()
    finally:
        stop.set()
        status = service.stop()
    for run in builds:
        assert run.returncode == 0, no_traceback(run)
    assert torn == []
    assert reads["files"] > 100 and reads["http"] > 10, reads
    assert health["result"] == "published", health
    assert status == 0, service.log_text()
    assert "Traceback" not in service.log_text()
    runs = service.log_text().count("run published")
    assert runs >= 2, service.log_text()
    items = json.loads((root / "public" / "feed.json").read_bytes())["items"]
    assert [item["title"] for item in items] == changing.newest_titles()
