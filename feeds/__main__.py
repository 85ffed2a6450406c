"""The ``feeds`` command (``python -m feeds`` too): the command line, loaded where a
Ctrl-C ends it as it ends a run."""

import signal
import sys


def main() -> None:
    """Load the command line and run it. Loading it takes a tenth of a second or more,
    which a Ctrl-C may cut short: that ends the process with status 130 and the word
    ``interrupted``, as an interrupted run does, never a traceback."""
    try:
        from feeds.cli import main as run
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C changes nothing now
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    run()


# Guarded: validation workers import the main module again under another name.
if __name__ == "__main__":
    main()
