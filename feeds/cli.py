"""The command line: parse arguments, call the library, print, exit with SPEC §1's statuses."""

from __future__ import annotations

import importlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import click

from feeds import __version__
from feeds.config import Config, load_config
from feeds.cores import fork_server_used
from feeds.exceptions import FeedsError
from feeds.model import Problem
from feeds.publish import read_state
from feeds.runs import Progress, RunResult, collector_paused, located, shortcut

# The modules that make and check feeds (and the libraries they stand on) are imported
# where they are used: a run with nothing to do, the most common cron run, never loads
# them (see feeds/runs.py).

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INVALID = 0, 1, 2, 3
#: seconds `feeds build` waits for another run's lock before giving up (exit 2)
BUILD_LOCK_WAIT = 60.0
#: the most `feeds validate` downloads from a URL
MAX_FETCH_BYTES = 50 * 1024 * 1024

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("config.yaml"),
    show_default=True,
    help="The site's config file.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
def cli() -> None:
    """Publish validated RSS, Atom and JSON feeds from a folder of posts."""


def main() -> None:
    """Console entry point: no traceback ever reaches the user.

    Once the command is over and its output flushed, the process ends without the
    interpreter's teardown, which frees one by one every module and object the run
    loaded: 10 to 20 ms, a tenth of a run with nothing to do. Nothing is left to do
    then: files are written and closed, worker processes joined. While other threads
    run (they may still have work), the usual exit waits for them; and after a fork
    server has started workers (``feeds serve``), it removes the server's socket and its
    temporary folder, which would otherwise be left behind at each stop.
    """
    status: str | int | None = 0
    try:
        # Not click's standalone mode: it ends a Ctrl-C with "Aborted!" and status 1,
        # which says "published, but posts were skipped" (or "problems found").
        cli.main(standalone_mode=False)
    except (KeyboardInterrupt, click.Abort):
        click.echo("interrupted", err=True)
        status = 130
    except click.ClickException as e:  # a usage error: shown as click shows it
        e.show()
        status = e.exit_code
    except SystemExit as e:
        status = e.code
    if threading.active_count() > 1 or fork_server_used():
        sys.exit(status)
    if status is not None and not isinstance(status, int):
        print(status, file=sys.stderr)  # as sys.exit does with a message
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 1  # output lost (a closed pipe): as the usual exit would
    os._exit(status or 0)


def _load(config_path: Path) -> Config:
    try:
        return load_config(config_path)
    except FeedsError as e:
        click.echo(f"config error: {e}", err=True)
        sys.exit(EXIT_USAGE)


def _progress(quiet: bool) -> Progress:
    """A progress line on a terminal; occasional plain log lines otherwise."""
    if quiet:
        return lambda stage, done, total: None
    tty = sys.stderr.isatty()
    last = {"t": 0.0}

    def show(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if tty:
            if done == total or now - last["t"] > 0.1:
                last["t"] = now
                end = "\n" if done == total else ""
                click.echo(f"\r{stage} {done}/{total}", err=True, nl=False)
                click.echo(end, err=True, nl=False)
        elif total >= 1000 and (done == total or done % max(1, total // 10) == 0):
            click.echo(f"{stage}: {done}/{total}", err=True)

    return show


#: posts with one warning past which the others are counted, not listed (without -v)
LISTED_ALIKE = 3


def _problem_lines(
    config: Config, title: str, problems: Iterable[Problem], *, every: bool = True
) -> list[str]:
    """A titled list of problems, one a line. Without ``every``, a warning that many posts
    share (an old site's ``layout:`` key in each post) is listed for the first few only."""
    items = list(problems)
    if not items:
        return []
    alike: dict[tuple[str, str], int] = {}
    lines = [f"{title}:"]
    for p in items:
        key = (p.code, p.message)
        alike[key] = alike.get(key, 0) + 1
        if every or alike[key] <= LISTED_ALIKE:
            lines.append(f"  {located(config, p)}")
    for (code, message), count in alike.items():
        if not every and count > LISTED_ALIKE:
            lines.append(
                f"  … and {count - LISTED_ALIKE} more post(s) with this {code}: {message} "
                "(-v lists them)"
            )
    return lines


def summary(config: Config, result: RunResult, verbose: bool = False, quiet: bool = False) -> str:
    """The one-screen report of a run; ``quiet`` keeps only the problems."""
    warnings = [p for p in result.problems if p.level == "warning"]
    future = ""
    if result.future:
        future = f" · {len(result.future)} future (next {result.future[0].isoformat()})"
    lines = [
        f"feeds build: {config.site.title}",
        f"  posts  {result.files} read · {result.posts} live · {result.drafts} draft(s)"
        f"{future} · {len(result.skipped)} skipped",
        f"  feeds  {result.feeds} · {result.built} made and validated · "
        f"{len(result.written)} file(s) written · {len(result.unchanged)} unchanged · "
        f"{len(result.removed)} removed",
        f"  time   {result.seconds:.2f} s",
    ]
    if result.published:
        lines.append(f"  output {config.output_dir}")
    if verbose:
        lines += [f"  written  {f}" for f in result.written]
        lines += [f"  removed  {f}" for f in result.removed]
    if quiet:
        lines = []
    if not result.published:
        lines.append("NOT PUBLISHED: nothing of this run was written; the previous feeds stay")
    lines += _problem_lines(config, "skipped", result.skipped)
    lines += _problem_lines(config, "warnings", warnings, every=verbose)
    for level in ("error", "warning"):
        found = [p for p in result.feed_problems if p.level == level]
        if found:
            from feeds.validate import format_problem

            lines.append(f"feed {level}s:")
            lines += [f"  {p.path or 'output'}: {format_problem(p)}" for p in found]
    return "\n".join(lines)


@cli.command()
@config_option
@click.option("-v", "--verbose", is_flag=True, help="List every file written.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
def build(config_path: Path, verbose: bool, quiet: bool) -> None:
    """One regeneration: load, build, validate, publish.

    Exit status: 0 clean, 1 published but some posts were skipped (or the state could
    not be saved), 2 config or usage error, 3 validation or writing failed (the previous
    feeds are kept).

    Example (a crontab line): */15 * * * * cd /srv/site && feeds build -q
    """
    if verbose and quiet:
        raise click.UsageError("-v and -q say opposite things: give one of them")
    config = _load(config_path)
    now = datetime.now(UTC)

    def waiting() -> None:
        if not quiet:
            click.echo(
                f"waiting for another run to finish (it holds the lock in {config.state_dir}; "
                f"up to {BUILD_LOCK_WAIT:g}s)",
                err=True,
            )

    try:
        # Paused from the start: loading the libraries that make feeds, too, makes
        # thousands of objects that outlive the run.
        with collector_paused(ending=True):
            result, listing = shortcut(
                config,
                now,
                lock_wait=BUILD_LOCK_WAIT,
                meanwhile=_import_builders,
                waiting=waiting,
            )
            if result is None:
                from feeds.pipeline import regenerate

                result = regenerate(
                    config,
                    now,
                    progress=_progress(quiet),
                    lock_wait=BUILD_LOCK_WAIT,
                    listing=listing,
                    waiting=waiting,
                )
    except FeedsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_USAGE)
    text = summary(config, result, verbose, quiet)
    if text:
        click.echo(text)
    hub = config.websub.hub
    if hub is not None and result.published and result.written_feeds:
        _ping_hub(hub, [config.site.base_url + path for path in result.written_feeds], quiet)
    sys.exit(result.exit_code)


#: what a run that makes feeds imports (``feeds.pipeline`` and the libraries under it),
#: in pieces of a few milliseconds, the smallest first: a small site is listed soon, and
#: a run with nothing to do waits for the piece under way only (the longest, 10 to 20 ms:
#: feedparser's own modules, which load as one, and feeds.pipeline itself)
BUILDERS = (
    "cmarkgfm",
    "nh3",
    "lxml.etree",
    "lxml.html",
    "dateutil.tz",
    "dateutil.parser",
    "feedgen.feed",
    "email.parser",
    "ssl",
    "http.client",
    "urllib.request",
    "xml.sax",
    "html.entities",
    "feedparser_sgmllib",
    "feedparser.datetimes",
    "feedparser.html",
    "feedparser.mixin",
    "feedparser",
    "ctypes",
    "feeds.writers",
    "feeds.render",
    "feeds.cache",
    "feeds.readings",
    "feeds.validate",
    "feeds.index",
    "feeds.site",
    "feeds.media",
    "feeds.pipeline",
)


def _import_builders(listed: Callable[[], bool]) -> None:
    """Import the modules that make and check feeds, a piece at a time, until the
    content folder is listed: a run that has nothing to do stops there, and one that
    makes feeds finds them loaded. One that cannot be loaded is left to the run that
    needs it: a run with nothing to do never did."""
    for name in BUILDERS:
        if listed():
            return
        try:
            importlib.import_module(name)
        except ImportError:
            return


def _ping_hub(hub: str, urls: list[str], quiet: bool) -> None:
    """Tell the WebSub hub about the feeds this run changed; a hub that fails is reported,
    and changes nothing to the exit status (the feeds are published)."""
    from feeds.websub import Pinger

    report = Pinger(hub).ping(urls)
    if report.pinged and not quiet:
        click.echo(f"  websub  {hub} told of {len(report.pinged)} changed feed(s)")
    for line in report.messages():
        click.echo(f"warning: {line}", err=True)


class _StopRequested(Exception):
    """SIGINT or SIGTERM arrived: stop serving and exit 0."""


def _stop_requested(signum: int, frame: object) -> None:
    raise _StopRequested


def _hang_up(signum: int, frame: object) -> None:
    """SIGHUP (the terminal closed, or a reload asked for): a clean stop, as SIGTERM; the
    config is read when the service starts, so a reload is a restart."""
    import logging

    logging.getLogger("feeds").warning(
        "SIGHUP: stopping (the config is read at start: start feeds serve again to reload "
        "it; under systemd, Restart=always does)"
    )
    os.kill(os.getpid(), signal.SIGTERM)


def _already_stopping(signum: int, frame: object) -> None:
    import logging

    logging.getLogger("feeds").warning("already stopping: a run in progress finishes first")


@cli.command()
@config_option
@click.option("-q", "--quiet", is_flag=True, help="Log only problems.")
def serve(config_path: Path, quiet: bool) -> None:
    """The service: build now and on the schedule, and serve the output folder over HTTP.

    SIGINT or SIGTERM stop it cleanly once a run in progress has published.

    Example: feeds serve -c /srv/site/config.yaml
    """
    import logging

    import uvicorn

    from feeds.protocol import FeedProtocol
    from feeds.schedule import Service, max_age
    from feeds.server import FeedApp

    config = _load(config_path)
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Its INFO lines (each job added, run and done) would be most of the log, and its
    # warning of a run skipped while one is under way is the schedule working as meant.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    app = FeedApp(
        max_age=max_age(config, datetime.now(UTC)),
        prefix=urlsplit(config.site.base_url).path or "/",
    )
    service = Service(config, app)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.server.host,
            port=config.server.port,
            lifespan="off",
            server_header=False,
            access_log=False,
            log_level="warning" if quiet else "info",
            # Its lines go through the root logger, with the time and level of ours.
            log_config=None,
            timeout_keep_alive=30,
            # The app never reads the client's address or scheme: skip the middleware.
            proxy_headers=False,
            http=FeedProtocol,
        )
    )
    # uvicorn stops on SIGINT/SIGTERM, then raises the signal again for whoever is
    # around it: make that a clean exit rather than death by signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_requested)
    signal.signal(signal.SIGHUP, _hang_up)
    where = f"{config.server.host}:{config.server.port}"
    refused = f"error: cannot serve on {where} (see server.host and server.port)"
    # Before the first run: a second service started by mistake publishes nothing. (uvicorn
    # binds again below, when it starts: "Uvicorn running" means it takes requests.)
    problem = _cannot_bind(config.server.host, config.server.port)
    if problem is not None:
        click.echo(f"{refused}: {problem}", err=True)
        sys.exit(EXIT_USAGE)
    listening = True
    try:
        service.start()
        server.run()
    except _StopRequested:
        pass
    except SystemExit:
        listening = False  # uvicorn exits when it cannot listen; it logged why
    finally:
        # A second signal (Ctrl-C twice) must not cut the wait for a run in progress short.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _already_stopping)
        service.stop()
    if not listening:
        click.echo(refused, err=True)
        sys.exit(EXIT_USAGE)


def _cannot_bind(host: str, port: int) -> str | None:
    """Why a server could not listen on ``host``:``port`` now, or None when it could
    (bound as uvicorn binds: IPv6 for a host with a colon, addresses reusable)."""
    import socket  # for `feeds serve` alone: every other command would load it for nothing

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as trial:
        trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            trial.bind((host, port))
        except OSError as e:
            return e.strerror or str(e)
    return None


@cli.command()
@config_option
def check(config_path: Path) -> None:
    """Lint the content folder and the feeds it would make, writing nothing.

    Exit status: 0 clean, 1 problems found.

    Example: feeds check -c site/config.yaml
    """
    from feeds.pipeline import load_content, make_feeds, resolve_posts
    from feeds.validate import format_problem

    config = _load(config_path)
    try:
        state, state_problems = read_state(config.state_dir)
        loading = load_content(config)
        now = datetime.now(UTC)
        resolved = resolve_posts(config, loading, state, now)
        digests = {item.source.path: item.digest for item in loading.loaded}
        # Without the state's outputs every feed is made and validated, in memory only;
        # a post a build would leave out is left out here too, named as a build names it.
        fresh = replace(state, outputs={})
        made = make_feeds(config, loading, resolved, digests, fresh, None, now, dry=True)
        resolved, feed_problems = made.resolved, made.built.problems
    except FeedsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_USAGE)
    problems = [*state_problems, *loading.problems, *resolved.problems]
    for p in problems:
        click.echo(located(config, p))
    for p in feed_problems:
        click.echo(f"{p.path}: {format_problem(p)}")
    count = len(problems) + len(feed_problems)
    click.echo(f"{len(loading.present)} post file(s) checked, {count} problem(s)")
    sys.exit(EXIT_PROBLEMS if count else EXIT_OK)


@cli.command()
@click.argument("targets", nargs=-1, required=True, metavar="FILE_OR_URL...")
def validate(targets: tuple[str, ...]) -> None:
    """Validate any RSS 2.0, Atom 1.0 or JSON Feed 1.1 document, ours or not.

    Checks what the W3C Feed Validation Service checks, and JSON Feed's rules;
    prints one line per problem: LEVEL code line:col message (the codes are listed
    in the docstring of feeds/validate.py). Dates more than a day ahead of now are
    implausible.
    Exit status: 0 valid (warnings allowed), 1 errors found.

    Example: feeds validate public/rss.xml https://example.org/atom.xml
    """
    from feeds.validate import format_problem, validate_feed

    failed = False
    now = datetime.now(UTC)
    for target in targets:
        if len(targets) > 1:
            click.echo(f"{target}:")
        try:
            data, url = _fetch(target)
        except OSError as e:
            click.echo(f"error unreadable 0:0 {e}")
            failed = True
            continue
        problems = validate_feed(data, url, path=target, now=now)
        for p in problems:
            click.echo(format_problem(p))
        failed = failed or any(p.level == "error" for p in problems)
    sys.exit(EXIT_PROBLEMS if failed else EXIT_OK)


def _fetch(target: str) -> tuple[bytes, str | None]:
    """The bytes of a file or http(s) URL, and the URL they are served from (if known)."""
    if target.startswith(("http://", "https://")):
        import urllib.error  # here: http.client and email cost a tenth of a second to load
        import urllib.request

        request = urllib.request.Request(target, headers={"User-Agent": f"feeds/{__version__}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                data: bytes = response.read(MAX_FETCH_BYTES + 1)
        except urllib.error.URLError as e:
            raise OSError(f"cannot fetch {target}: {e.reason}") from e
        if len(data) > MAX_FETCH_BYTES:
            raise OSError(f"{target} is larger than {MAX_FETCH_BYTES:,} bytes")
        return data, target
    try:
        # A device such as /dev/zero never ends: no more than a fetched feed is read.
        with Path(target).open("rb") as file:
            data = file.read(MAX_FETCH_BYTES + 1)
    except OSError as e:
        raise OSError(f"cannot read {target}: {e.strerror}") from e
    if len(data) > MAX_FETCH_BYTES:
        raise OSError(f"{target} is larger than {MAX_FETCH_BYTES:,} bytes")
    return data, None


@cli.command()
@config_option
@click.argument("title")
def new(config_path: Path, title: str) -> None:
    """Write a new Markdown post with its front matter filled in, as a draft: the
    service publishes nothing of it until its `draft: true` line goes. Prints the
    file's path alone on standard output.

    Example: $EDITOR "$(feeds new "Notes from the road")"
    """
    from feeds.content.markdown import NEW_POST_BODY
    from feeds.slugs import slugify

    if not title.strip():
        click.echo("error: the title is empty", err=True)
        sys.exit(EXIT_USAGE)
    config = _load(config_path)
    now = datetime.now(config.site.tz).replace(microsecond=0)
    slug = slugify(title)
    folder = config.content_dir
    path = folder / f"{slug}.md"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{slug}-{n}.md"
    text = (
        "---\n"
        f"title: {_yaml_text(title)}\n"
        f"date: {now.isoformat()}\n"
        f"author: {_yaml_text(config.site.author.name)}\n"
        "tags: []\n"
        "draft: true\n"
        "---\n\n"
        f"{NEW_POST_BODY}\n"
    )
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        # Bytes the locale could not decode (a title typed in Latin-1 under UTF-8): a
        # file with them would not read; none is made.
        click.echo("error: the title holds bytes that are not UTF-8 text", err=True)
        sys.exit(EXIT_USAGE)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as f:
            f.write(data)
    except OSError as e:
        click.echo(f"error: cannot write {path}: {e.strerror}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(str(path))
    click.echo(
        "a draft: remove its 'draft: true' line to publish it (and set its date then, "
        "if that is not today)",
        err=True,
    )


def _yaml_text(text: str) -> str:
    """``text`` as a double-quoted YAML scalar (control characters escaped: YAML refuses
    them written as they are)."""
    return '"' + _YAML_ESCAPES.sub(_yaml_escape, text) + '"'


_YAML_ESCAPES = re.compile(r'[\\"\x00-\x1f\x7f-\x9f]')


def _yaml_escape(match: re.Match[str]) -> str:
    char = match[0]
    return "\\" + char if char in '\\"' else f"\\x{ord(char):02x}"
