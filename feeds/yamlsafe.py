"""YAML loading that keeps line numbers and refuses what a post or config never needs.

Aliases are refused outright (they are how "billion laughs" bombs work) and
timestamps stay strings so every date goes through one parser.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                None, None, "aliases (*name) are not allowed", event.start_mark
            )
        return Composer.compose_node(self, parent, index)


# Keep dates as text: one date parser serves every format.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class YamlError(Exception):
    """YAML that cannot be parsed; ``line`` is 1-based, relative to the text given."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


def load_mapping(text: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse a YAML mapping; return its values and the 1-based line of each top-level key.

    An empty document is an empty mapping. Raises YamlError for bad YAML or a non-mapping.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {}
        if not isinstance(node, MappingNode):
            raise YamlError(node.start_mark.line + 1, "expected a mapping of keys to values")
        values: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise YamlError(key_node.start_mark.line + 1, f"key {key!r} is not text")
            if key in values:
                raise YamlError(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            values[key] = loader.construct_object(value_node, deep=True)
            lines[key] = key_node.start_mark.line + 1
            lines_of_children(value_node, key, lines)
        return values, lines
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(line, str(e.problem or e.context or "invalid YAML")) from e
    except yaml.YAMLError as e:
        raise YamlError(None, str(e)) from e
    except RecursionError as e:
        raise YamlError(None, "YAML nested too deeply") from e
    except (ValueError, TypeError, OverflowError) as e:
        # PyYAML's constructors raise these for values such as `!!float x` or a huge number.
        raise YamlError(None, f"a value cannot be read: {e}") from e
    finally:
        loader.dispose()


def lines_of_children(node: Node, prefix: str, lines: dict[str, int]) -> None:
    """Record ``prefix.key`` → line for nested mappings, so errors can point at them."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node.value, str):
                dotted = f"{prefix}.{key_node.value}"
                lines[dotted] = key_node.start_mark.line + 1
                lines_of_children(value_node, dotted, lines)
