"""Every command and exit status, run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import feeds.cli as cli_module
from feeds.cli import cli
from tests.conftest import Site, lock_held_by_child


def feeds(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args], capture_output=True, text=True, cwd=cwd
    )


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.output


def test_build_prints_a_summary_and_exits_0(site: Site) -> None:
    site.post("a.md", "Alpha", tags="[x]")
    run = feeds("build", "-c", str(site.config_path))
    assert run.returncode == 0, run.stderr
    assert "1 read · 1 live" in run.stdout
    assert "written" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert (site.public / "rss.xml").exists()


def test_build_default_config_is_in_the_current_folder(site: Site) -> None:
    site.post("a.md", "Alpha")
    assert feeds("build", cwd=site.root).returncode == 0


def test_build_exit_1_names_the_skipped_file_and_line(site: Site) -> None:
    site.post("good.md", "Good")
    site.write("bad.md", "---\ntitle: Bad\ndate: 2024-13-45\n---\nx\n")
    code, out = invoke("build", "-c", str(site.config_path))
    assert code == 1
    assert re.search(r"content/bad\.md:3: error: .*date", out), out


def test_build_quiet_prints_only_problems(site: Site) -> None:
    site.post("good.md", "Good")
    code, out = invoke("build", "-q", "-c", str(site.config_path))
    assert (code, out) == (0, "")


def test_a_warning_many_posts_share_is_counted_past_the_first_few(site: Site) -> None:
    """An old site's key in every post: a cron run's mail lists three and counts the
    rest; -v lists them all."""
    for n in range(6):
        site.post(f"p{n}.md", f"Post {n}", layout="post")
    site.post("other.md", "Other", mood="calm")
    code, out = invoke("build", "-q", "-c", str(site.config_path))
    lines = out.splitlines()
    assert code == 0 and lines[0] == "warnings:"
    assert sum("unknown key 'layout'" in line for line in lines) == 4
    assert re.search(
        r"^  … and 3 more post\(s\) with this unknown-key: unknown key 'layout'", out, re.M
    )
    assert sum("unknown key 'mood'" in line for line in lines) == 1
    (site.root / "public" / "rss.xml").unlink()
    code, out = invoke("build", "-v", "-c", str(site.config_path))
    assert sum("unknown key 'layout'" in line for line in out.splitlines()) == 6


def test_config_errors_exit_2_with_key_and_line(site: Site) -> None:
    site.configure("feeds:\n  limit: lots\n")
    run = feeds("build", "-c", str(site.config_path))
    assert run.returncode == 2
    assert f"{site.config_path}:11: 'feeds.limit' must be a whole number" in run.stderr
    assert "Traceback" not in run.stderr
    assert not site.public.exists()


@pytest.mark.parametrize("quiet", [False, True])
def test_build_says_it_waits_for_another_runs_lock(site: Site, quiet: bool) -> None:
    # A minute of silence looked like a hang: the wait is said once, on standard error.
    site.post("a.md", "Alpha")
    with lock_held_by_child(site.root / ".feeds", 1.5):
        run = feeds("build", *(["-q"] if quiet else []), "-c", str(site.config_path))
    assert run.returncode == 0, run.stderr
    said = run.stderr.count("waiting for another run to finish")
    assert said == (0 if quiet else 1), run.stderr
    assert (site.public / "rss.xml").exists()


def test_ctrl_c_ends_a_build_with_status_130(site: Site) -> None:
    # Click's own handling said "Aborted!" with status 1, which means "published, but
    # some posts were skipped".
    site.post("a.md", "Alpha")
    with lock_held_by_child(site.root / ".feeds", 30):
        run = subprocess.Popen(
            [sys.executable, "-m", "feeds", "build", "-c", str(site.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert run.stderr is not None
        assert "waiting for another run to finish" in run.stderr.readline()
        run.send_signal(signal.SIGINT)
        _, said = run.communicate(timeout=30)
    assert run.returncode == 130, said
    assert "interrupted" in said and "Aborted" not in said and "Traceback" not in said
    assert not (site.public / "rss.xml").exists()


def test_missing_config_exits_2(tmp_path: Path) -> None:
    run = feeds("build", "-c", str(tmp_path / "none.yaml"))
    assert run.returncode == 2 and "config file not found" in run.stderr
    # Run from another folder: where it looked, and what to do.
    run = feeds("build", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert f"looked for {tmp_path / 'config.yaml'}" in run.stderr
    assert "or name the config with -c" in run.stderr


def test_unknown_command_is_a_usage_error() -> None:
    assert feeds("publish").returncode == 2


def test_verbose_and_quiet_together_are_a_usage_error(site: Site) -> None:
    site.post("a.md", "Alpha")
    code, out = invoke("build", "-v", "-q", "-c", str(site.config_path))
    assert code == 2 and "-v and -q" in out, out
    assert not site.public.exists()


def test_a_state_dir_that_is_a_file_is_named_as_such(site: Site) -> None:
    site.post("a.md", "Alpha")
    (site.root / ".feeds").write_text("not a folder\n", encoding="utf-8")
    code, out = invoke("build", "-c", str(site.config_path))
    assert code == 2 and ".feeds is a file, not a folder (state_dir)" in out, out


def test_check_reports_problems_and_writes_nothing(site: Site) -> None:
    site.post("good.md", "Good")
    assert invoke("check", "-c", str(site.config_path)) == (
        0,
        "1 post file(s) checked, 0 problem(s)\n",
    )
    site.write("bad.md", "---\ntitle: [unclosed\n---\n")
    code, out = invoke("check", "-c", str(site.config_path))
    assert code == 1
    assert "content/bad.md:2: error:" in out
    assert not site.public.exists()
    assert not (site.root / ".feeds").exists()


def test_new_writes_a_draft_that_goes_out_once_its_draft_line_goes(site: Site) -> None:
    """The path alone on standard output, a word on the draft on standard error; the
    next build publishes none of it (a scheduled run would publish the placeholder
    text), and all of it once the `draft: true` line is deleted."""
    result = CliRunner().invoke(cli, ["new", "-c", str(site.config_path), 'Notes: "from" the road'])
    assert result.exit_code == 0
    path = Path(result.stdout.strip())
    assert path == site.root / "content" / "notes-from-the-road.md"
    assert "draft" in result.stderr
    assert invoke("new", "-c", str(site.config_path), 'Notes: "from" the road')[0] == 0
    second = site.root / "content" / "notes-from-the-road-2.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith('---\ntitle: "Notes: \\"from\\" the road"\ndate: ')
    assert invoke("build", "-c", str(site.config_path))[0] == 0
    assert json.loads((site.public / "feed.json").read_bytes())["items"] == []
    # Its draft line gone, the placeholder body still there: published, with a word.
    second.write_text(second.read_text(encoding="utf-8").replace("draft: true\n", ""))
    status, said = invoke("build", "-c", str(site.config_path))
    assert status == 0
    assert "notes-from-the-road-2.md:8: warning: the body is still the text feeds new wrote" in said
    for post in (path, second):
        post.write_text(post.read_text(encoding="utf-8").replace("draft: true\n", ""))
    assert invoke("build", "-c", str(site.config_path))[0] == 0
    items = json.loads((site.public / "feed.json").read_bytes())["items"]
    assert [i["title"] for i in items] == ['Notes: "from" the road'] * 2


def test_new_refuses_an_empty_title(site: Site) -> None:
    assert invoke("new", "-c", str(site.config_path), "  ") == (2, "error: the title is empty\n")
    assert not (site.root / "content").exists() or not any((site.root / "content").iterdir())


def test_new_refuses_a_title_that_is_not_utf8_and_writes_no_file(site: Site) -> None:
    # `feeds new $'caf\xe9'` under a UTF-8 locale: a traceback, and an empty post left
    # behind that failed every later build.
    run = subprocess.run(
        [sys.executable.encode(), b"-m", b"feeds", b"new", b"-c", bytes(site.config_path),
         b"caf\xe9"],
        capture_output=True, text=True, env={**os.environ, "LC_ALL": "C.UTF-8"},
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr == "error: the title holds bytes that are not UTF-8 text\n"
    assert not (site.root / "content").exists() or not any((site.root / "content").iterdir())


def test_new_escapes_control_characters_in_the_title(site: Site) -> None:
    assert invoke("new", "-c", str(site.config_path), "Bell\x07 and tab\t")[0] == 0
    (path,) = (site.root / "content").iterdir()
    path.write_text(path.read_text(encoding="utf-8").replace("draft: true\n", ""))
    assert invoke("build", "-c", str(site.config_path))[0] == 0
    (item,) = json.loads((site.public / "feed.json").read_bytes())["items"]
    assert item["title"] == "Bell and tab"


def test_validate_our_output_and_a_broken_feed(site: Site, tmp_path: Path) -> None:
    site.post("a.md", "Alpha")
    invoke("build", "-c", str(site.config_path))
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert invoke("validate", str(site.public / name)) == (0, ""), name
    broken = tmp_path / "broken.xml"
    broken.write_text("<rss version='2.0'><channel><title>x</title></channel>", encoding="utf-8")
    code, out = invoke("validate", str(broken))
    assert code == 1
    assert re.match(r"^error \S+ \d+:\d+ .+", out.splitlines()[0]), out


def test_validate_a_missing_file_exits_1(tmp_path: Path) -> None:
    code, out = invoke("validate", str(tmp_path / "nope.xml"))
    assert code == 1 and out.startswith("error unreadable")


def test_module_and_version() -> None:
    run = feeds("--version")
    assert run.returncode == 0 and run.stdout.startswith("feeds, version ")


def test_the_package_names_load_when_used() -> None:
    """``import feeds`` loads none of its modules (the command line imports one first,
    and a Ctrl-C must find its handler there soon); each public name loads its own."""
    code = (
        "import sys, feeds\n"
        "print(sorted(m for m in sys.modules if m.startswith('feeds.')))\n"
        "print(all(getattr(feeds, name) is not None for name in feeds.__all__))\n"
        "from feeds import Config, regenerate\n"
        "print(Config.__module__, regenerate.__module__)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["[]", "True", "feeds.config feeds.pipeline"]


def test_the_process_ends_with_its_output_flushed_and_its_exit_status() -> None:
    """The entry point ends the process without the interpreter's teardown: what is
    still buffered goes out first, and the status is click's."""
    code = (
        "import sys\n"
        "from feeds.cli import main\n"
        "sys.stdout.write('buffered')\n"
        "sys.argv = ['feeds', *sys.argv[1:]]\n"
        "main()\n"
    )
    # Buffered as on a user's machine: standard output to a pipe keeps what it is given.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    for args, status in ((["nonsense"], 2), (["new", "--help"], 0)):
        run = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
        )
        assert run.returncode == status and run.stdout.startswith("buffered"), run


def test_ctrl_c_while_the_command_line_loads_ends_it_without_a_traceback(site: Site) -> None:
    """Loading the command line takes a tenth of a second or more: a Ctrl-C then ends
    the process as it ends a run (status 130, "interrupted"), never with a traceback.
    The interrupt is sent once the config reader's library has loaded, with more of
    the command line still to load (``-X importtime`` reports each module as it is
    done)."""
    site.post("a.md", "Alpha")

    def loaded(line: str, module: str) -> bool:  # "import time: 364 | 12890 |   yaml"
        return line.rpartition("|")[2].strip() == module

    with subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "feeds", "build", "-c", str(site.config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as run:
        assert run.stderr is not None
        lines = []
        for line in run.stderr:
            lines.append(line)
            if loaded(line, "yaml"):
                run.send_signal(signal.SIGINT)
                break
        rest = run.stderr.read()
        status = run.wait(timeout=30)
    assert any(loaded(line, "yaml") for line in lines), lines
    assert status == 130, rest
    assert "Traceback" not in rest
    assert rest.splitlines()[-1] == "interrupted"
    # It came while the command line loaded: nothing published.
    assert not any(loaded(line, "feeds.cli") for line in lines)
    assert not (site.public / "rss.xml").exists()


def test_the_interrupt_that_stops_the_loading_is_reported_as_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wherever in the loading the interrupt lands, the entry point catches it."""
    import feeds.__main__ as entry

    class Interrupting:
        def find_spec(self, name: str, *args: object) -> None:
            if name == "feeds.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "feeds.cli")
    monkeypatch.setattr(sys, "meta_path", [Interrupting(), *sys.meta_path])
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as ended:
            entry.main()
    finally:
        signal.signal(signal.SIGINT, handler)
    assert ended.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_library_that_cannot_be_loaded_while_listing_is_left_to_the_run_that_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``feeds build`` loads the libraries that make feeds while it lists the posts. A
    run that then has nothing to do never needed them: one that fails to load stops the
    loading, quietly, and a run that makes feeds meets the error where it imports it."""
    monkeypatch.setattr(cli_module, "BUILDERS", ("feeds_no_such_module", "feeds.pipeline"))
    monkeypatch.delitem(sys.modules, "feeds.pipeline", raising=False)
    cli_module._import_builders(lambda: False)
    assert "feeds.pipeline" not in sys.modules


def test_build_exit_3_when_nothing_can_be_published(site: Site) -> None:
    site.post("a.md", "Alpha")
    site.configure("")
    site.public.write_bytes(b"a file where the output folder should be")
    run = feeds("build", "-c", str(site.config_path))
    assert run.returncode == 3
    assert "NOT PUBLISHED" in run.stdout and "publish-failed" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert site.public.read_bytes() == b"a file where the output folder should be"


def test_a_site_description_of_20_mb_is_a_config_error(site: Site) -> None:
    """Not a run that builds every feed and publishes none (exit 3): readers' XML parsers
    refuse text over 10 MB, and so did validation."""
    site.post("a.md", "Alpha")
    site.configure("")
    text = site.config_path.read_text(encoding="utf-8")
    long = "  description: " + "word " * 4_000_000 + "\n"
    site.config_path.write_text(text.replace("  description: A site for tests.\n", long))
    run = feeds("build", "-c", str(site.config_path))
    assert run.returncode == 2, run.stdout
    assert "config.yaml:4: 'site.description' is 19,999,999 characters long; at most 10,000" in (
        run.stderr
    )
    assert "Traceback" not in run.stdout + run.stderr
    assert not site.public.exists()


def test_serve_on_a_port_in_use_exits_2_with_a_message_before_it_publishes(site: Site) -> None:
    """A second service started by mistake beside the first leaves the site alone."""
    site.post("a.md", "Alpha")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        site.configure(f"server:\n  port: {taken.getsockname()[1]}\n")
        run = subprocess.run(
            [sys.executable, "-m", "feeds", "serve", "-q", "-c", str(site.config_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 2
    assert "error: cannot serve on 127.0.0.1:" in run.stderr
    assert "Traceback" not in run.stderr
    assert not site.public.exists() and not (site.root / ".feeds").exists()
