"""YAML loading that keeps line numbers and refuses what a post or config never needs.

Aliases are refused outright (they are how "billion laughs" bombs work) and
timestamps stay strings so every date goes through one parser.

Most front matter is a few ``key: value`` lines, and PyYAML's pure-Python reader
takes a millisecond for them; so a small reader handles that common subset itself
and gives everything else, and anything it is not sure of, to PyYAML (libyaml's C
parser where it reads the text as the pure-Python one would). Every path returns
the same values, types and lines.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.reader import ReaderError
from yaml.scanner import Scanner


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

_CLoader: type[yaml.CSafeLoader] | None = None
if yaml.__with_libyaml__:

    class _LibyamlLoader(yaml.CSafeLoader):
        # Its composer is C code that cannot refuse aliases: only text without `*` comes here.
        yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

    _CLoader = _LibyamlLoader


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
    simple = _load_simple(text)
    if simple is not None:
        return simple
    if _CLoader is not None and _libyaml_agrees(text):
        try:
            return _load_with(_CLoader, text)
        except YamlError:
            pass  # the pure-Python reader gives the error, in its words
    return _load_with(_Loader, text)


def _load_with(
    loader_class: type[_Loader] | type[yaml.CSafeLoader], text: str
) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        loader = loader_class(text)
    except ReaderError as e:  # a control character: YAML refuses the text before reading it
        line = text.count("\n", 0, e.position) + 1
        raise YamlError(line, f"a character YAML does not allow: U+{e.character:04X}") from e
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
            try:
                values[key] = loader.construct_object(value_node, deep=True)
            except (ValueError, TypeError, OverflowError) as e:
                raise YamlError(
                    value_node.start_mark.line + 1, f"the value of {key!r} {_unread(e)}"
                ) from e
            lines[key] = key_node.start_mark.line + 1
            lines_of_children(value_node, key, lines)
        return values, lines
    except yaml.MarkedYAMLError as e:
        raise _explained(e, text) from e
    except yaml.YAMLError as e:
        raise YamlError(None, str(e)) from e
    except RecursionError as e:
        raise YamlError(None, "YAML nested too deeply") from e
    except (ValueError, TypeError, OverflowError) as e:
        # PyYAML's constructors raise these for values such as `!!float x` or a huge number.
        raise YamlError(None, f"a value {_unread(e)}") from e
    finally:
        loader.dispose()


def _unread(error: Exception) -> str:
    """Why PyYAML could not make a value, from the exception its constructor raised."""
    if "digits" in str(error):  # Python's limit on the digits of a number read from text
        return "is a number too long to read: quote it to keep it as text"
    return f"cannot be read: {error}"


#: what to do about PyYAML's problems a person writing front matter meets most
_HINTS = (("found character '\\t'", "indent with spaces: YAML does not allow tabs"),)
_MAPPING_VALUES = "mapping values are not allowed here"
#: a '#' where a value of a list written [a, b] should start: YAML reads a comment
_COMMENT_IN_FLOW = re.compile(r"[\[,][ \t]*#")
#: a key's line whose value holds ": " itself
_COLON_IN_VALUE = re.compile(r"\s*[^:#]+:\s.*:(?:\s|$)")
#: constructs PyYAML finds unclosed only where the next one starts
_OPENED = {
    "while parsing a flow sequence": "the list opened with '[' on this line is not closed",
    "while parsing a flow mapping": "the mapping opened with '{' on this line is not closed",
    "while scanning a quoted scalar": "the quotes opened on this line are not closed",
}


def _explained(e: yaml.MarkedYAMLError, text: str) -> YamlError:
    """PyYAML's error at the line a person must look at, with what to do where known.

    An unclosed list or quote is found at a later line (the next key), or at the end:
    the error names the line it was opened on."""
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark is not None else None
    message = str(e.problem or e.context or "invalid YAML")
    opened = _OPENED.get(str(e.context))
    if opened is not None and e.context_mark is not None and e.problem_mark is not None:
        start = e.context_mark.line + 1
        if start != line or "<stream end>" in message:
            message, line = f"{opened} ({message})", start
    for problem, hint in _HINTS:
        if message.startswith(problem):
            message = f"{message}: {hint}"
    if "<stream end>" in message and (comment := _COMMENT_IN_FLOW.search(text)):
        # `tags: [#oak, walnut]`: the rest of the line is a comment, the list never closed.
        line = text.count("\n", 0, comment.start()) + 1
        message += ": '#' after '[' or ',' starts a comment in YAML; quote the value ('#oak')"
    if message == _MAPPING_VALUES and line is not None:
        lines = text.split("\n")
        said = lines[line - 1] if line <= len(lines) else ""
        if _COLON_IN_VALUE.match(said):
            message += ": a value holding ': ' must be quoted (title: \"Part 1: the start\")"
        else:
            message += ": is this key indented as the keys around it are?"
    return YamlError(line, message)


def lines_of_children(node: Node, prefix: str, lines: dict[str, int]) -> None:
    """Record ``prefix.key`` → line for nested mappings, so errors can point at them.
    A key a nested mapping repeats is a YamlError, as at the top (the last would win
    without a word)."""
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node.value, str):
                dotted = f"{prefix}.{key_node.value}"
                if key_node.value in seen:
                    raise YamlError(key_node.start_mark.line + 1, f"duplicate key {dotted!r}")
                seen.add(key_node.value)
                lines[dotted] = key_node.start_mark.line + 1
                lines_of_children(value_node, dotted, lines)


# The quick reader's subset: characters with no special meaning to a YAML scanner
# (no tab, CR, NEL, U+2028/9 line breaks, BOM or unprintable ones). Written as the
# characters outside it: a class of the wide ranges inside takes 5 ms to compile.
_UNUSUAL_CHAR = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]"
)
_KEY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]{0,127}):(?: +(.*))?")
# What YAML allows after a quoted scalar or a flow sequence on its line.
_END_OF_LINE = re.compile(r"(?: +(?:#.*)?)?")
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
#: characters that cannot start a plain scalar (YAML indicators), `-` aside
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_DOUBLE = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_SINGLE = r"'([^']*(?:''[^']*)*)'"
# A plain scalar inside [ ]: none of these characters, words apart by spaces, no indicator first.
_NOT_IN_FLOW_PLAIN = r"?:,\[\]{}#'\" "
_FLOW_PLAIN = (
    rf"((?:[^-&*!|>%@`{_NOT_IN_FLOW_PLAIN}]|-[^{_NOT_IN_FLOW_PLAIN}])"
    rf"[^{_NOT_IN_FLOW_PLAIN}]*(?: +[^{_NOT_IN_FLOW_PLAIN}]+)*)"
)
_QUOTED = re.compile(f"{_DOUBLE}|{_SINGLE}")
_FLOW_ITEM = re.compile(f" *(?:{_DOUBLE}|{_SINGLE}|{_FLOW_PLAIN}) *([,\\]])")
_EMPTY_FLOW = re.compile(r"\[ *\]")
_LIBYAML_DIFFERS = re.compile("[*!?|>%`]")
# PyYAML's resolvers by first character, and its constructors for the types they name.
_Resolvers = list[tuple[str, re.Pattern[str]]]
_WILDCARD: _Resolvers = _Loader.yaml_implicit_resolvers.get(None, [])
_RESOLVERS: dict[str, _Resolvers] = {
    first: [*resolvers, *_WILDCARD]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
    if first is not None
}
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float"))
_CONSTRUCTOR = SafeConstructor()


class _Unsure(Exception):
    """The text leaves the quick reader's subset: PyYAML must read it."""


def _load_simple(text: str) -> tuple[dict[str, Any], dict[str, int]] | None:
    """The mapping, when ``text`` is plain ``key: value`` lines the quick reader is sure of.

    Values are scalars, ``[a, "b"]`` lists or ``- item`` lists on the lines below;
    comments and blank lines are skipped. Returns None for anything else.
    """
    if _UNUSUAL_CHAR.search(text):
        return None
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    open_key: str | None = None  # a key with nothing after its colon: `- item` lines may follow
    items: list[Any] | None = None
    items_indent = 0
    try:
        for number, line in enumerate(text.split("\n"), 1):
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue
            if content[0] == "-":
                if open_key is None or content[1:2] != " ":
                    return None
                indent = len(line) - len(content)
                if items is None:
                    items, items_indent = [], indent
                    values[open_key] = items
                elif indent != items_indent:
                    return None
                item = content[2:].lstrip(" ")
                if not item or item[0] == "#":
                    return None  # an empty item may be followed by its content
                items.append(_block_scalar(item))
                continue
            match = _KEY_LINE.fullmatch(line)
            # Repeated keys and keys such as `yes` or `null` are errors: PyYAML reports them.
            if match is None or match[1] in values or not isinstance(_plain(match[1]), str):
                return None
            key, rest = match[1], match[2]
            lines[key] = number
            open_key, items = None, None
            if not rest or rest[0] == "#":
                values[key] = None
                open_key = key
            elif rest[0] == "[":
                values[key] = list(_flow_sequence(rest))
            else:
                values[key] = _block_scalar(rest)
    except _Unsure:
        return None
    return values, lines


def _block_scalar(text: str) -> Any:
    """The scalar that ``text`` (the rest of a line, from the scalar on) holds."""
    first = text[0]
    if first in "\"'":
        match = _QUOTED.match(text)
        if match is None or _END_OF_LINE.fullmatch(text, match.end()) is None:
            raise _Unsure  # it goes on over the next line, or is followed by more
        return _unquote(match[1], match[2])
    if first in _INDICATORS and (first != "-" or text[1:2] in ("", " ")):
        raise _Unsure
    comment = text.find(" #")
    if comment >= 0:
        text = text[:comment]
    text = text.rstrip(" ")
    if ": " in text or text.endswith(":"):
        raise _Unsure  # a mapping where a scalar was expected: an error, or a nested one
    return _plain(text)


@functools.lru_cache(maxsize=4096)  # the same lists of tags and authors, post after post
def _flow_sequence(text: str) -> tuple[Any, ...]:
    """The ``[a, "b", 'c']`` list at the start of ``text``, which must end after it."""
    items: list[Any] = []
    match = _EMPTY_FLOW.match(text)
    end = 1
    while match is None:
        match = _FLOW_ITEM.match(text, end)
        if match is None:
            raise _Unsure  # a trailing comma, an indicator, or the line ends first
        double, single, plain, delimiter = match.groups()
        items.append(_unquote(double, single) if plain is None else _plain(plain))
        if delimiter == ",":
            end, match = match.end(), None
    if _END_OF_LINE.fullmatch(text, match.end()) is None:
        raise _Unsure
    return tuple(items)


def _unquote(double: str | None, single: str | None) -> str:
    """The text of a double- or a single-quoted scalar, from between its quotes."""
    if double is None:
        assert single is not None
        return single.replace("''", "'")
    return _ESCAPE.sub(_unescape, double) if "\\" in double else double


def _unescape(match: re.Match[str]) -> str:
    """One escape of a double-quoted scalar, as PyYAML reads it."""
    escape = match[1]
    if len(escape) == 1:
        if escape not in Scanner.ESCAPE_REPLACEMENTS:
            raise _Unsure
        return str(Scanner.ESCAPE_REPLACEMENTS[escape])
    code = int(escape[1:], 16)
    if code > 0x10FFFF:
        raise _Unsure
    return chr(code)


@functools.lru_cache(maxsize=4096)  # keys and names come again and again; values are immutable
def _plain(text: str) -> Any:
    """A plain scalar as PyYAML resolves it (YAML 1.1 booleans, numbers, nulls), or text."""
    for tag, regexp in _RESOLVERS.get(text[:1], _WILDCARD):
        if regexp.match(text):
            if tag not in _SCALAR_TAGS:
                raise _Unsure
            try:
                return SafeConstructor.yaml_constructors[tag](_CONSTRUCTOR, ScalarNode(tag, text))
            except Exception as e:  # whatever it is, PyYAML reports it
                raise _Unsure from e
    return text


def _libyaml_agrees(text: str) -> bool:
    """Whether libyaml reads ``text`` exactly as PyYAML's pure-Python reader would.

    Without `*` there is no alias to refuse. The two scanners differ on tags, block
    scalar headers, `?` in flow collections, tabs and other line breaks; texts with
    any of those characters go to PyYAML. Each level of nesting needs one of
    ``[{-:`` (``?`` aside), so few of them keep both far from Python's recursion limit.
    """
    return (
        _LIBYAML_DIFFERS.search(text) is None
        and sum(map(text.count, "[{-:")) <= 100
        and _UNUSUAL_CHAR.search(text) is None
    )
