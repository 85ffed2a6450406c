"""feeds: publish validated RSS 2.0, Atom 1.0 and JSON Feed 1.1 from a folder of posts."""

from feeds.config import Config, load_config
from feeds.exceptions import ConfigError, ContentError, FeedsError, ValidationError
from feeds.model import Author, Enclosure, FeedSpec, Post, Problem, Source
from feeds.pipeline import RunResult, regenerate

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
