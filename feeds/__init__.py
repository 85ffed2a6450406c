"""feeds: publish validated RSS 2.0, Atom 1.0 and JSON Feed 1.1 from a folder of posts."""

from typing import TYPE_CHECKING, Any

from feeds.config import Config, load_config
from feeds.exceptions import ConfigError, ContentError, FeedsError, ValidationError
from feeds.model import Author, Enclosure, FeedSpec, Post, Problem, Source
from feeds.runs import RunResult

if TYPE_CHECKING:
    from feeds.pipeline import regenerate

__version__ = "0.1.0"

__all__ = [
    "Author",
    "Config",
    "ConfigError",
    "ContentError",
    "Enclosure",
    "FeedSpec",
    "FeedsError",
    "Post",
    "Problem",
    "RunResult",
    "Source",
    "ValidationError",
    "__version__",
    "load_config",
    "regenerate",
]


def __getattr__(name: str) -> Any:
    # regenerate loads every library that makes and checks feeds: only when asked for.
    if name == "regenerate":
        from feeds.pipeline import regenerate

        return regenerate
    raise AttributeError(f"module 'feeds' has no attribute {name!r}")
