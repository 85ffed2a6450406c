"""feeds: publish validated RSS 2.0, Atom 1.0 and JSON Feed 1.1 from a folder of posts.

The names below are loaded when first used: importing one module of the package (the
command line does, first thing) must not load the others, nor the libraries behind them.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feeds.config import Config, load_config
    from feeds.exceptions import ConfigError, ContentError, FeedsError, ValidationError
    from feeds.model import Author, Enclosure, FeedSpec, Post, Problem, Source
    from feeds.pipeline import regenerate
    from feeds.runs import RunResult

__version__ = "0.1.0"

#: each public name → the module that defines it
_HOMES = {
    "Author": "feeds.model",
    "Config": "feeds.config",
    "ConfigError": "feeds.exceptions",
    "ContentError": "feeds.exceptions",
    "Enclosure": "feeds.model",
    "FeedSpec": "feeds.model",
    "FeedsError": "feeds.exceptions",
    "Post": "feeds.model",
    "Problem": "feeds.model",
    "RunResult": "feeds.runs",
    "Source": "feeds.model",
    "ValidationError": "feeds.exceptions",
    "load_config": "feeds.config",
    # It loads every library that makes and checks feeds.
    "regenerate": "feeds.pipeline",
}

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
    home = _HOMES.get(name)
    if home is None:
        # Not a name of ours: a submodule (``from feeds import pipeline``) is imported then.
        raise AttributeError(f"module 'feeds' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
