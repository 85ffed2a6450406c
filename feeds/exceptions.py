"""The one exception tree of `feeds`: every error the library raises is a FeedsError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feeds.model import Problem


class FeedsError(Exception):
    """Base of every error `feeds` raises on purpose."""


class LocatedError(FeedsError):
    """An error in a file the user edits: names the file and, where there is one, the line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class ConfigError(LocatedError):
    """config.yaml is missing, malformed, or has an unknown key or a wrong type."""


class ContentError(LocatedError):
    """A post cannot be read."""


class ContentFolderError(FeedsError):
    """The content folder itself cannot be listed (missing, not a folder, unreadable):
    a run cannot tell posts deleted from posts unseen, and does nothing."""


class ValidationError(FeedsError):
    """A built feed failed validation; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"{len(self.problems)} validation problem(s)")


class LockError(FeedsError):
    """Another run holds the lock in state_dir."""


class PublishError(FeedsError):
    """The output folder or state_dir could not be written."""
