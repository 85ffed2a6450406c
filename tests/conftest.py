"""Shared fixtures: a small site on disk, written fresh for each test."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from feeds.model import Source

CONFIG = """\
site:
  title: Test Site
  base_url: https://example.org/
  description: A site for tests.
  timezone: Europe/Madrid
  author: {name: Desk, email: desk@example.org}
content_dir: content
output_dir: public
state_dir: .feeds
"""

#: a fixed, old file time so that undated posts get a stable date
OLD_MTIME = 1_700_000_000


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


class Site:
    """A site folder with a config and helpers to write posts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = root / "config.yaml"
        self.config_path.write_text(CONFIG, encoding="utf-8")
        (root / "content").mkdir()

    @property
    def public(self) -> Path:
        return self.root / "public"

    def write(self, rel: str, text: str | bytes, mtime: int = OLD_MTIME) -> Path:
        path = self.root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        os.utime(path, (mtime, mtime))
        return path

    def post(self, rel: str, title: str, date: str = "2024-05-01T10:00:00Z", **extra: str) -> Path:
        lines = [f"title: {title!r}" if title else "", f"date: {date}" if date else ""]
        lines += [f"{k}: {v}" for k, v in extra.items()]
        front = "\n".join(line for line in lines if line)
        return self.write(rel, f"---\n{front}\n---\n\nBody of {title or rel}.\n")

    def configure(self, extra: str) -> None:
        self.config_path.write_text(CONFIG + textwrap.dedent(extra), encoding="utf-8")

    def outputs(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.public).as_posix(): p.read_bytes()
            for p in sorted(self.public.rglob("*"))
            if p.is_file()
        }

    def mtimes(self) -> dict[str, int]:
        return {
            p.relative_to(self.public).as_posix(): p.stat().st_mtime_ns
            for p in sorted(self.public.rglob("*"))
            if p.is_file()
        }


SiteFactory = Callable[[], Site]


def blank_source(path: str = "p.md", **fields: Any) -> Source:
    """A Source as a reader would give for a post with only a title and a body."""
    values: dict[str, Any] = {
        "path": path, "title": "A title", "date": None, "updated": None, "authors": (),
        "summary": None, "tags": (), "slug": None, "draft": False, "id": None, "link": None,
        "image": None, "enclosure": None, "body": "Body text.", "body_format": "markdown",
    }  # fmt: skip
    values.update(fields)
    return Source(**values)


@contextlib.contextmanager
def lock_held_by_child(state_dir: Path, seconds: float = 30) -> Iterator[None]:
    """Another process holds the run lock in ``state_dir`` for ``seconds`` (as a `feeds
    build` would), from when this is entered; killed when it is left."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from feeds.publish import run_lock\n"
        "with run_lock(Path(sys.argv[1]), 5):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(float(sys.argv[2]))\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(state_dir), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


def on_two_cores_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline shares its work as on two cores, every share done in this process
    (where spies see it)."""
    from feeds import pipeline

    def here(work: Callable[[Any], Any], pieces: Any, done: Any = None, **_: Any) -> list[Any]:
        return [work(piece) for piece in pieces]

    class Later:
        """``cores.ahead``'s work, all done when its results are asked for."""

        def __init__(self, work: Callable[[Any], Any], pieces: Any) -> None:
            self.results = lambda: here(work, pieces)

        def stop(self) -> None:
            pass

    monkeypatch.setattr(pipeline, "core_count", lambda: 2)
    monkeypatch.setattr(pipeline, "on_every_core", here)
    monkeypatch.setattr(pipeline, "ahead", Later)
